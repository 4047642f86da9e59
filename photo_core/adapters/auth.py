"""App-only access tokens for the photo API, through MSAL.

Three credentials: a managed identity (the default in Azure: no secret exists anywhere), a client
certificate, or a client secret. The MSAL application is built on first use, never at import, and
kept for the life of the process so its in-memory token cache spans invocations. Errors are
classified for the caller: refused credentials are an ``AuthFailure`` (only configuration can fix
them); an unreachable or failing identity endpoint is ``ServiceUnavailable`` (try again later).
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests

from photo_core.adapters.photo_api_settings import AuthMode, AuthSettings
from photo_core.domain.errors import AuthFailure, ServiceUnavailable

if TYPE_CHECKING:
    from photo_core.adapters.photo_api_settings import ApiSettings

logger = logging.getLogger(__name__)

# OAuth error codes that mean "these credentials or this request will never work".
CONFIGURATION_ERRORS = frozenset(
    {"invalid_client", "unauthorized_client", "invalid_request", "invalid_scope",
     "invalid_grant", "invalid_resource", "unsupported_grant_type"}
)
_STATUS_PREFIX = re.compile(r"^\s*(\d{3})\b")


class MsalTokenProvider:
    """Adapter: MSAL confidential client or managed identity client, built lazily."""

    def __init__(self, auth: AuthSettings, api: ApiSettings, http: requests.Session) -> None:
        self._auth = auth
        self._scope = api.scope
        self._http = TimedHttp(http, (api.connect_timeout, api.read_timeout))
        self._app: Any = None
        self._cache: Any = None  # the MSAL token cache the application was built with
        self._lock = threading.Lock()

    def get_token(self) -> str:
        try:
            result = self._acquire()
        except requests.RequestException as exc:
            raise ServiceUnavailable(
                f"identity platform unreachable ({type(exc).__name__})"
            ) from exc
        except ValueError as exc:  # MSAL: discovery refused, bad credential material
            raise AuthFailure(f"identity platform configuration rejected: {_first_line(exc)}") \
                from exc
        except Exception as exc:
            from msal.exceptions import MsalServiceError

            if not isinstance(exc, MsalServiceError):
                raise
            # MSAL raises this when the token endpoint fails without an OAuth error body.
            raise ServiceUnavailable(f"identity platform failed: {_first_line(exc)}") from exc
        token = result.get("access_token")
        if isinstance(token, str) and token:
            return token
        raise _classify_error(result)

    def invalidate(self) -> None:
        """Forget cached access tokens, for both kinds of MSAL application (the managed
        identity client has no public ``token_cache``, so the cache we built it with is used)."""
        with self._lock:
            cache = self._cache
        if cache is None:
            return
        for entry in list(cache.search("AccessToken")):
            cache.remove_at(entry)

    def _acquire(self) -> dict[str, Any]:
        with self._lock:
            if self._app is None:
                self._app = self._build()
            app = self._app
        if self._auth.mode is AuthMode.MANAGED_IDENTITY:
            resource = self._scope.removesuffix("/.default")
            return dict(app.acquire_token_for_client(resource=resource))
        return dict(app.acquire_token_for_client(scopes=[self._scope]))

    def _build(self) -> Any:
        import msal

        cache = self._cache = msal.TokenCache()
        if self._auth.mode is AuthMode.MANAGED_IDENTITY:
            identity: Any = (
                msal.UserAssignedManagedIdentity(client_id=self._auth.client_id)
                if self._auth.client_id
                else msal.SystemAssignedManagedIdentity()
            )
            return msal.ManagedIdentityClient(identity, http_client=self._http, token_cache=cache)
        credential: Any
        if self._auth.mode is AuthMode.CLIENT_SECRET:
            credential = self._auth.client_secret
        else:
            credential = load_certificate_credential(self._auth)
        return msal.ConfidentialClientApplication(
            self._auth.client_id,
            client_credential=credential,
            authority=self._auth.authority,
            http_client=self._http,
            token_cache=cache,
            instance_discovery=False if self._auth.custom_authority else None,
        )


class TimedHttp:
    """The session MSAL is given, with our timeouts on every request. requests has no
    session-wide timeout, and MSAL sets one only on a session it builds itself: without this a
    token endpoint that never answers holds the invocation until the host kills it."""

    def __init__(self, session: requests.Session, timeout: tuple[float, float]) -> None:
        self._session = session
        self._timeout = timeout

    def get(self, url: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self._timeout)
        return self._session.get(url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self._timeout)
        return self._session.post(url, **kwargs)

    def close(self) -> None:
        """The session is the process's, shared with the photo API client: left open."""


def load_certificate_credential(auth: AuthSettings) -> dict[str, str]:
    """MSAL certificate credential from a PEM file, PEM text, or base64 PFX text (the form a
    Key Vault certificate takes when referenced from an app setting)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import pkcs12

    password = auth.certificate_password.encode() if auth.certificate_password else None
    raw = Path(auth.certificate_path).read_bytes() if auth.certificate_path else \
        (auth.certificate_pem or "").encode()
    try:
        if b"-----BEGIN" in raw:
            key = serialization.load_pem_private_key(raw, password)
            cert = x509.load_pem_x509_certificate(raw[raw.index(b"-----BEGIN CERTIFICATE"):])
        else:
            key_or_none, cert_or_none, _ = pkcs12.load_key_and_certificates(
                base64.b64decode(raw, validate=True), password
            )
            if key_or_none is None or cert_or_none is None:
                raise ValueError("the PFX holds no private key and certificate pair")
            key, cert = key_or_none, cert_or_none
    except (ValueError, TypeError, binascii.Error) as exc:
        raise AuthFailure(
            "client certificate could not be read: it must be a PEM with the private key and "
            "the certificate, or a base64 PFX (check PHOTO_CLIENT_CERTIFICATE_PASSWORD)"
        ) from exc
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    return {"private_key": key_pem.decode(), "public_certificate": cert_pem.decode()}


def _classify_error(result: dict[str, Any]) -> AuthFailure | ServiceUnavailable:
    """Map an MSAL error result to our hierarchy. The description is trimmed to its first line:
    it carries AADSTS codes operators need, and never the credential itself."""
    error = str(result.get("error") or "unknown_error")
    description = _first_line(result.get("error_description") or "")
    status = _STATUS_PREFIX.match(description)  # managed identity: "503, <message>"
    if error in ("temporarily_unavailable", "server_error") or (
        status and (int(status.group(1)) >= 500 or status.group(1) == "429")
    ):
        return ServiceUnavailable(f"identity platform unavailable: {error}: {description}")
    if error in CONFIGURATION_ERRORS:
        return AuthFailure(f"identity platform refused the credentials: {error}: {description}")
    return ServiceUnavailable(f"identity platform error {error}: {description}")


def _first_line(value: object) -> str:
    text = str(value).strip().splitlines()
    return text[0][:300] if text else ""
