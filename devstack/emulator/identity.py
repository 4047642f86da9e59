"""Identity-platform endpoints: OpenID discovery, JWKS, the v2.0 token endpoint (client
credentials with a secret or a certificate assertion) and App Service managed identity.

Faithful enough that unmodified MSAL Python runs against it (``instance_discovery=False`` and an
``http_client`` trusting the emulator CA), including the AAD error shapes MSAL surfaces to the
caller, so photo-sync's handling of bad secrets, unknown clients and outages can be tested.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
import uuid
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qs

import jwt
from cryptography.hazmat.primitives import hashes

from devstack.emulator.directory import Application
from devstack.emulator.limits import Fault, retry_after_value
from devstack.emulator.tokens import canonical_resource
from devstack.emulator.web import RESET, Answer, Request, aad_error, json_response

if TYPE_CHECKING:
    from devstack.emulator.state import EmulatorState

log = logging.getLogger(__name__)

JWT_BEARER: Final = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
_RESERVED_SCOPES: Final = {"openid", "profile", "offline_access", "email"}
_NO_STORE: Final = {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"}


def handle_tenant_route(state: EmulatorState, req: Request) -> Answer | None:
    """``/{tenant}/...`` identity routes; None when the path is not one of them."""
    segs = req.segments
    if len(segs) < 2:
        return None
    tenant, rest = segs[0], [s.lower() for s in segs[1:]]
    if rest in (["v2.0", ".well-known", "openid-configuration"],
                [".well-known", "openid-configuration"]):
        req.operation = "identity.discovery"
        return _get_only(req) or _known_tenant(state, req, tenant) or _discovery(state, req)
    if rest in (["discovery", "v2.0", "keys"], ["discovery", "keys"]):
        req.operation = "identity.jwks"
        if tenant.lower() != "common":
            bad = _known_tenant(state, req, tenant)
            if bad:
                return bad
        return _get_only(req) or json_response(200, state.signer.jwks(state.directory.tenant))
    if rest in (["oauth2", "v2.0", "token"], ["oauth2", "token"]):
        req.operation = "identity.token"
        return _token(state, req, tenant)
    if rest in (["oauth2", "v2.0", "authorize"], ["oauth2", "v2.0", "devicecode"]):
        req.operation = "identity.unsupported"
        return aad_error(req, 400, "invalid_request", 900561,
                         "Only the client credentials flow is emulated.")
    return None


def _get_only(req: Request) -> Answer | None:
    if req.method == "GET":
        return None
    return aad_error(req, 405, "invalid_request", 900561,
                     "The endpoint only accepts GET requests.", headers={"Allow": "GET"})


def _known_tenant(state: EmulatorState, req: Request, tenant: str) -> Answer | None:
    if tenant.lower() == state.directory.tenant:
        return None
    return aad_error(req, 400, "invalid_tenant", 90002,
                     f"Tenant '{tenant}' not found. Check to make sure you have the correct "
                     "tenant ID and are signing into the correct cloud.")


def _discovery(state: EmulatorState, req: Request) -> Answer:
    base, tenant = req.base_url, state.directory.tenant
    doc = {
        "token_endpoint": f"{base}/{tenant}/oauth2/v2.0/token",
        "token_endpoint_auth_methods_supported": [
            "client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": f"{base}/{tenant}/discovery/v2.0/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": f"{base}/{tenant}/v2.0",
        "request_uri_parameter_supported": False,
        "userinfo_endpoint": f"{base}/oidc/userinfo",
        "authorization_endpoint": f"{base}/{tenant}/oauth2/v2.0/authorize",
        "device_authorization_endpoint": f"{base}/{tenant}/oauth2/v2.0/devicecode",
        "http_logout_supported": True,
        "frontchannel_logout_supported": True,
        "end_session_endpoint": f"{base}/{tenant}/oauth2/v2.0/logout",
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "tid", "roles"],
        "tenant_region_scope": "NA",
        "cloud_instance_name": "emulator.local",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
        "rbac_url": "https://pas.windows.net",
    }
    return json_response(200, doc)


# --- token endpoint --------------------------------------------------------------------------


def _token(state: EmulatorState, req: Request, tenant: str) -> Answer:
    if req.method != "POST":
        return aad_error(req, 405, "invalid_request", 900561,
                         "The endpoint only accepts POST requests.", headers={"Allow": "POST"})
    bad_tenant = _known_tenant(state, req, tenant)
    if bad_tenant:
        return bad_tenant
    fault = state.faults.decide("token", req.method, req.operation)
    state.record_faults(fault.kinds)
    if fault.reset or fault.status:
        return _token_fault(req, fault)
    form = _form(req)
    if form is None:
        return aad_error(req, 400, "invalid_request", 900144,
                         "The request body must be application/x-www-form-urlencoded.")
    basic_id, basic_secret = _basic_auth(req)
    grant = form.get("grant_type", "")
    client_id = form.get("client_id") or basic_id or ""
    scope = form.get("scope", "")
    for name, value in (("grant_type", grant), ("client_id", client_id), ("scope", scope)):
        if not value:
            return aad_error(req, 400, "invalid_request", 900144,
                             f"The request body must contain the following parameter: '{name}'.")
    if grant != "client_credentials":
        return aad_error(req, 400, "unsupported_grant_type", 70003,
                         f"The app requested an unsupported grant type '{grant}'. Only "
                         "client_credentials is emulated.")
    with state.lock:
        app = state.directory.app(client_id) if _is_guid(client_id) else None
        directory_tenant = state.directory.tenant
    if app is None:
        return aad_error(req, 400, "unauthorized_client", 700016,
                         f"Application with identifier '{client_id}' was not found in the "
                         f"directory '{directory_tenant}'. This can happen if the application "
                         "has not been installed by the administrator of the tenant.")
    secret = form.get("client_secret") or basic_secret
    assertion_type, assertion = form.get("client_assertion_type"), form.get("client_assertion")
    if assertion or assertion_type:
        if assertion_type != JWT_BEARER or not assertion:
            return aad_error(req, 400, "invalid_request", 900144,
                             f"client_assertion_type must be '{JWT_BEARER}' together with a "
                             "client_assertion.")
        problem = _check_assertion(app, assertion, _token_endpoints(state, req, tenant))
        if problem is not None:
            code, text = problem
            return aad_error(req, 401, "invalid_client", code, text)
        acr = "2"
    elif secret:
        if not any(hmac.compare_digest(secret.encode(), s.encode()) for s in app.secrets):
            return aad_error(req, 401, "invalid_client", 7000215,
                             "Invalid client secret provided. Ensure the secret being sent in "
                             f"the request is the client secret value, not the client secret "
                             f"ID, for a secret added to app '{app.client_id}'.")
        acr = "1"
    else:
        return aad_error(req, 401, "invalid_client", 7000218,
                         "The request body must contain the following parameter: "
                         "'client_assertion' or 'client_secret'.")
    resource_or_error = _scope_resource(req, scope)
    if not isinstance(resource_or_error, str):
        return resource_or_error
    issued = state.signer.issue(tenant=directory_tenant, app=app, resource=resource_or_error,
                                lifetime_s=state.config.token_lifetime_s, appidacr=acr)
    state.record_token(issued, "client_assertion" if acr == "2" else "client_secret")
    log.info("issued an app token to %s for %s (%s)", app.client_id, resource_or_error,
             "certificate" if acr == "2" else "secret")
    lifetime = state.config.token_lifetime_s - 1
    return json_response(200, {
        "token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime,
        "access_token": issued.token,
    }, headers=_NO_STORE)


def _token_fault(req: Request, fault: Fault) -> Answer:
    if fault.reset:
        return RESET
    status = fault.status or 503
    headers = {}
    if fault.retry_after is not None:
        headers["Retry-After"] = retry_after_value(fault.retry_after, fault.retry_after_format)
    error = "temporarily_unavailable" if status >= 500 or status == 429 else "invalid_request"
    return aad_error(req, status, fault.code or error, 90033,
                     fault.message or "A transient error has occurred. Please try again.",
                     headers=headers)


def _form(req: Request) -> dict[str, str] | None:
    ctype = (req.header("content-type") or "").split(";")[0].strip().lower()
    if ctype != "application/x-www-form-urlencoded":
        return None
    try:
        parsed = parse_qs(req.body.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        return None
    return {k: v[0] for k, v in parsed.items()}


def _basic_auth(req: Request) -> tuple[str | None, str | None]:
    value = req.header("authorization") or ""
    if not value.lower().startswith("basic "):
        return None, None
    try:
        user, _, password = base64.b64decode(value[6:].strip()).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    return user or None, password or None


def _is_guid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def _scope_resource(req: Request, scope: str) -> str | Answer:
    scopes = [s for s in scope.split() if s.lower() not in _RESERVED_SCOPES]
    if len(scopes) != 1 or not scopes[0].endswith("/.default"):
        return aad_error(req, 400, "invalid_scope", 1002012,
                         f"The provided value for scope {scope} is not valid. Client credential "
                         "flows must have a scope value with /.default suffixed to the resource "
                         "identifier (application ID URI).")
    resource = canonical_resource(scopes[0])
    if resource is None:
        return aad_error(req, 400, "invalid_scope", 500011,
                         f"The resource principal named {scopes[0][: -len('/.default')]} was "
                         "not found in the tenant. This can happen if the application has not "
                         "been installed by the administrator of the tenant.")
    return resource


def _token_endpoints(state: EmulatorState, req: Request, tenant: str) -> list[str]:
    """Audiences a client assertion may carry: the token endpoint as discovery advertised it,
    for the address the client used and for the canonical one."""
    out = []
    for base in {req.base_url, state.public_base}:
        for t in {tenant, state.directory.tenant}:
            out += [f"{base}/{t}/oauth2/v2.0/token", f"{base}/{t}/oauth2/token"]
    return out


def _thumbprint(value: Any) -> bytes | None:
    """Decode an ``x5t``/``x5t#S256`` header: base64url, with or without padding (MSAL pads)."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip().replace("+", "-").replace("/", "_").rstrip("=")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None


def _check_assertion(
    app: Application, assertion: str, audiences: list[str]
) -> tuple[int, str] | None:
    """None when the JWT is signed by one of the app's registered certificates and its claims
    are right; otherwise (AADSTS code, description)."""
    try:
        header = jwt.get_unverified_header(assertion)
    except jwt.DecodeError:
        return 50027, "JWT token is invalid or is malformed."
    x5t, x5t256 = _thumbprint(header.get("x5t")), _thumbprint(header.get("x5t#S256"))
    cert = next((c for c in app.certificates
                 if x5t == c.fingerprint(hashes.SHA1())  # noqa: S303 - x5t is SHA-1 by spec
                 or x5t256 == c.fingerprint(hashes.SHA256())), None)
    if cert is None:
        return 700027, (
            "The certificate with identifier used to sign the client assertion is not "
            f"registered on application. [Reason - The key was not found., Thumbprint of key "
            f"used by client: '{header.get('x5t') or header.get('x5t#S256')}']"
        )
    try:
        claims: dict[str, Any] = jwt.decode(
            assertion, cert.public_key(), algorithms=["RS256", "PS256"],  # type: ignore[arg-type]
            audience=audiences, options={"require": ["exp", "aud", "iss", "sub"]},
        )
    except jwt.ExpiredSignatureError:
        return 700024, "Client assertion is not within its valid time range."
    except jwt.ImmatureSignatureError:
        return 700024, "Client assertion is not within its valid time range."
    except jwt.InvalidAudienceError:
        return 700212, "The audience of the client assertion must be the token endpoint."
    except jwt.InvalidSignatureError:
        return 700027, "Client assertion failed signature validation."
    except jwt.InvalidTokenError as exc:
        return 50027, f"JWT token is invalid or is malformed ({type(exc).__name__})."
    if {str(claims.get("iss")).lower(), str(claims.get("sub")).lower()} != {app.client_id}:
        return 700021, "Client assertion iss and sub must both be the application's client id."
    return None


# --- managed identity (App Service protocol, api-version 2019-08-01) ---------------------------


def handle_msi(state: EmulatorState, req: Request) -> Answer:
    req.operation = "identity.msi"
    if req.method != "GET":
        return _msi_error(req, 405, "Only GET is supported.", headers={"Allow": "GET"})
    presented = req.header("x-identity-header") or ""
    if not hmac.compare_digest(presented.encode(), state.identity_header.encode()):
        return _msi_error(req, 401, "The X-IDENTITY-HEADER header is missing or wrong.")
    fault = state.faults.decide("token", req.method, req.operation)
    state.record_faults(fault.kinds)
    if fault.reset:
        return RESET
    if fault.status:
        headers = {}
        if fault.retry_after is not None:
            headers["Retry-After"] = retry_after_value(fault.retry_after, fault.retry_after_format)
        return _msi_error(req, fault.status,
                          fault.message or "temporarily_unavailable: the managed identity "
                          "endpoint is temporarily unavailable.",
                          error=fault.code or "temporarily_unavailable", headers=headers)
    if req.param("api-version") != "2019-08-01":
        return _msi_error(req, 400, "api-version must be 2019-08-01.")
    raw_resource = req.param("resource")
    if not raw_resource:
        return _msi_error(req, 400, "The 'resource' query parameter is required.")
    with state.lock:
        identities = state.directory.managed_identities()
        tenant = state.directory.tenant
    chosen = _choose_identity(req, identities)
    if chosen is None:
        return _msi_error(req, 400, "No Managed Identity found for specified "
                          "ClientId/ResourceId/PrincipalId.")
    resource = canonical_resource(raw_resource)
    if resource is None:
        return _msi_error(req, 400, f"AADSTS500011: The resource principal named {raw_resource} "
                          "was not found in the tenant.")
    issued = state.signer.issue(tenant=tenant, app=chosen, resource=resource,
                                lifetime_s=state.config.token_lifetime_s, appidacr="2")
    state.record_token(issued, "managed_identity")
    log.info("issued a managed-identity token to %s for %s", chosen.client_id, resource)
    return json_response(200, {
        "access_token": issued.token,
        "expires_on": str(issued.claims["exp"]),
        "resource": raw_resource,
        "token_type": "Bearer",
        "client_id": chosen.client_id,
    }, headers=_NO_STORE)


def _choose_identity(req: Request, identities: list[Application]) -> Application | None:
    client_id, object_id = req.param("client_id"), req.param("object_id") or req.param(
        "principal_id")
    if req.param("mi_res_id"):
        return None  # resource ids are not modelled
    if client_id:
        return next((a for a in identities if a.client_id == client_id.lower()), None)
    if object_id:
        return next((a for a in identities if a.object_id == object_id.lower()), None)
    return identities[0] if identities else None  # the system-assigned identity


def _msi_error(
    req: Request, status: int, message: str, *, error: str | None = None,
    headers: dict[str, str] | None = None,
) -> Answer:
    body: dict[str, Any] = {"statusCode": status, "message": message,
                            "correlationId": req.client_request_id}
    if error:
        body.update({"error": error, "error_description": message})
    return json_response(status, body, headers=headers)
