"""The emulator's identity platform, exercised with real MSAL and raw HTTPS over loopback."""

from __future__ import annotations

import time
import uuid
from typing import Any, cast

import jwt
import msal
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.integration.emulator_fixture import emulator_session

pytest_plugins = ["tests.integration.emulator_fixture"]
pytestmark = pytest.mark.integration

GRAPH = "https://graph.microsoft.com"
OUTLOOK = "https://outlook.office.com"


def _cca(info: dict[str, Any], credential: Any, client_id: str | None = None) -> Any:
    return msal.ConfidentialClientApplication(
        client_id or info["client_id"], client_credential=credential,
        authority=info["authority"], instance_discovery=False,
        http_client=emulator_session(info),
    )


def _verify(info: dict[str, Any], token: str, audience: str) -> dict[str, Any]:
    """Check a token's signature against the published JWKS, like a resource would."""
    with emulator_session(info) as s:
        jwks = s.get(info["jwks_uri"], timeout=10).json()
    kid = jwt.get_unverified_header(token)["kid"]
    key = jwt.PyJWKSet.from_dict(jwks)[kid].key
    claims: dict[str, Any] = jwt.decode(
        token, key, algorithms=["RS256"], audience=audience,
        issuer=f"https://sts.windows.net/{info['tenant']}/",
    )
    return claims


def _token_request(info: dict[str, Any], **form: str) -> requests.Response:
    with emulator_session(info) as s:
        return s.post(info["token_endpoint"], data=form, timeout=10)


def _assert_aad_error(r: requests.Response, status: int, error: str, code: int) -> None:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["error"] == error
    assert body["error_description"].startswith(f"AADSTS{code}:")
    assert body["error_codes"] == [code]
    for field in ("timestamp", "trace_id", "correlation_id"):
        assert body[field]


# --- discovery and keys -------------------------------------------------------------------------


def test_discovery_document_points_back_at_the_emulator(emu: dict[str, Any]) -> None:
    with emulator_session(emu) as s:
        r = s.get(f"{emu['authority']}/v2.0/.well-known/openid-configuration", timeout=10)
    assert r.status_code == 200
    doc = r.json()
    assert doc["token_endpoint"] == emu["token_endpoint"]
    assert doc["jwks_uri"] == emu["jwks_uri"]
    assert doc["authorization_endpoint"].startswith(emu["authority"])
    assert doc["issuer"] == f"{emu['authority']}/v2.0"


def test_unknown_tenant_is_refused_in_aad_shape(emu: dict[str, Any]) -> None:
    base = emu["authority"].rsplit("/", 1)[0]
    with emulator_session(emu) as s:
        r = s.get(f"{base}/{uuid.uuid4()}/v2.0/.well-known/openid-configuration", timeout=10)
    _assert_aad_error(r, 400, "invalid_tenant", 90002)


def test_jwks_publishes_the_signing_key(emu: dict[str, Any]) -> None:
    with emulator_session(emu) as s:
        jwks = s.get(emu["jwks_uri"], timeout=10).json()
    (key,) = jwks["keys"]
    assert key["kty"] == "RSA"
    assert key["use"] == "sig"
    assert key["kid"] == key["x5t"]


# --- client credentials through MSAL ------------------------------------------------------------


def test_msal_with_client_secret_gets_a_verifiable_graph_token(emu: dict[str, Any]) -> None:
    result = _cca(emu, emu["client_secret"]).acquire_token_for_client([f"{GRAPH}/.default"])
    assert result["token_type"] == "Bearer"
    assert 3500 < result["expires_in"] <= 3599
    claims = _verify(emu, result["access_token"], GRAPH)
    assert claims["appid"] == claims["azp"] == emu["client_id"]
    assert claims["tid"] == emu["tenant"]
    assert claims["idtyp"] == "app"
    assert claims["appidacr"] == "1"
    assert sorted(claims["roles"]) == ["ProfilePhoto.ReadWrite.All", "User.ReadBasic.All"]
    assert claims["exp"] - claims["iat"] >= 3600
    assert claims["oid"]


def test_msal_with_certificate_thumbprint(emu: dict[str, Any]) -> None:
    with open(emu["client_cert"], encoding="ascii") as f:
        pem = f.read()
    credential = {"private_key": pem, "thumbprint": emu["client_cert_thumbprint"]}
    result = _cca(emu, credential).acquire_token_for_client([f"{OUTLOOK}/.default"])
    assert "access_token" in result, result
    claims = _verify(emu, result["access_token"], OUTLOOK)
    assert claims["appidacr"] == "2"


def test_msal_with_certificate_and_sha256_thumbprint(emu: dict[str, Any]) -> None:
    with open(emu["client_cert"], encoding="ascii") as f:
        pem = f.read()
    credential = {"private_key": pem, "public_certificate": pem}  # PS256 + x5t#S256 + x5c
    result = _cca(emu, credential).acquire_token_for_client([f"{GRAPH}/.default"])
    assert "access_token" in result, result


def test_msal_reports_a_wrong_secret(emu: dict[str, Any]) -> None:
    result = _cca(emu, "not-the-secret").acquire_token_for_client([f"{GRAPH}/.default"])
    assert result["error"] == "invalid_client"
    assert "AADSTS7000215" in result["error_description"]


def test_national_cloud_resources_are_accepted(emu: dict[str, Any]) -> None:
    for resource in ("https://graph.microsoft.us", "https://microsoftgraph.chinacloudapi.cn"):
        r = _token_request(emu, grant_type="client_credentials", client_id=emu["client_id"],
                           client_secret=emu["client_secret"], scope=f"{resource}/.default")
        assert r.status_code == 200, r.text
        assert _verify(emu, r.json()["access_token"], resource)["aud"] == resource


def test_tokens_are_recorded_for_the_admin_api(emu: dict[str, Any]) -> None:
    result = _cca(emu, emu["client_secret"]).acquire_token_for_client([f"{GRAPH}/.default"])
    with emulator_session(emu) as s:
        listed = s.get(f"{emu['admin_base']}/tokens", timeout=10).json()["value"]
    assert [t["access_token"] for t in listed] == [result["access_token"]]
    assert listed[0]["clientId"] == emu["client_id"]
    assert listed[0]["grant"] == "client_secret"


# --- token endpoint errors ---------------------------------------------------------------------


def test_unknown_client_id(emu: dict[str, Any]) -> None:
    r = _token_request(emu, grant_type="client_credentials", client_id=str(uuid.uuid4()),
                       client_secret="x", scope=f"{GRAPH}/.default")
    _assert_aad_error(r, 400, "unauthorized_client", 700016)


def test_bad_scope_and_unknown_resource(emu: dict[str, Any]) -> None:
    base = {"grant_type": "client_credentials", "client_id": emu["client_id"],
            "client_secret": emu["client_secret"]}
    _assert_aad_error(_token_request(emu, **base, scope="User.Read"), 400, "invalid_scope",
                      1002012)
    _assert_aad_error(_token_request(emu, **base, scope="https://example.com/.default"), 400,
                      "invalid_scope", 500011)


def test_missing_parameters_and_wrong_grant(emu: dict[str, Any]) -> None:
    r = _token_request(emu, client_id=emu["client_id"], scope=f"{GRAPH}/.default")
    _assert_aad_error(r, 400, "invalid_request", 900144)
    r = _token_request(emu, grant_type="password", client_id=emu["client_id"],
                       scope=f"{GRAPH}/.default")
    _assert_aad_error(r, 400, "unsupported_grant_type", 70003)
    r = _token_request(emu, grant_type="client_credentials", client_id=emu["client_id"],
                       scope=f"{GRAPH}/.default")
    _assert_aad_error(r, 401, "invalid_client", 7000218)
    with emulator_session(emu) as s:
        r = s.get(emu["token_endpoint"], timeout=10)
    assert r.status_code == 405


def _assertion(info: dict[str, Any], *, key: Any = None, **overrides: Any) -> str:
    with open(info["client_cert"], "rb") as f:
        pem = f.read()
    cert = x509.load_pem_x509_certificate(pem)
    signing_key = key or cast(
        rsa.RSAPrivateKey, serialization.load_pem_private_key(pem, password=None)
    )
    now = int(time.time())
    claims = {"aud": info["token_endpoint"], "iss": info["client_id"], "sub": info["client_id"],
              "exp": now + 600, "iat": now, "jti": str(uuid.uuid4())}
    claims.update(overrides)
    x5t = jwt.utils.base64url_encode(cert.fingerprint(hashes.SHA1())).decode()  # noqa: S303
    return jwt.encode(claims, signing_key, algorithm="RS256", headers={"x5t": x5t})


@pytest.mark.parametrize(("overrides", "code"), [
    ({}, None),
    ({"aud": "https://example.com/token"}, 700212),
    ({"exp": int(time.time()) - 3600, "iat": int(time.time()) - 4000}, 700024),
    ({"iss": str(uuid.uuid4())}, 700021),
])
def test_client_assertions_are_checked(
    emu: dict[str, Any], overrides: dict[str, Any], code: int | None
) -> None:
    r = _token_request(
        emu, grant_type="client_credentials", client_id=emu["client_id"],
        scope=f"{GRAPH}/.default",
        client_assertion_type="urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        client_assertion=_assertion(emu, **overrides),
    )
    if code is None:
        assert r.status_code == 200, r.text
    else:
        _assert_aad_error(r, 401, "invalid_client", code)


def test_assertion_signed_by_another_key_fails_signature_validation(emu: dict[str, Any]) -> None:
    impostor = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    r = _token_request(
        emu, grant_type="client_credentials", client_id=emu["client_id"],
        scope=f"{GRAPH}/.default",
        client_assertion_type="urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        client_assertion=_assertion(emu, key=impostor),
    )
    _assert_aad_error(r, 401, "invalid_client", 700027)


def test_certificate_not_registered_on_the_app(emu: dict[str, Any]) -> None:
    with open(emu["client_cert"], encoding="ascii") as f:
        pem = f.read()
    credential = {"private_key": pem, "thumbprint": emu["client_cert_thumbprint"]}
    result = _cca(emu, credential, client_id=emu["full_client_id"]).acquire_token_for_client(
        [f"{GRAPH}/.default"])
    assert result["error"] == "invalid_client"
    assert "AADSTS700027" in result["error_description"]


# --- managed identity (App Service protocol) -----------------------------------------------------


@pytest.fixture
def msi_env(emu: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("IDENTITY_ENDPOINT", emu["identity_endpoint"])
    monkeypatch.setenv("IDENTITY_HEADER", emu["identity_header"])
    for name in ("IDENTITY_SERVER_THUMBPRINT", "MSI_ENDPOINT", "MSI_SECRET", "IMDS_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    return emu


def test_managed_identity_system_assigned(msi_env: dict[str, Any]) -> None:
    client = msal.ManagedIdentityClient(msal.SystemAssignedManagedIdentity(),
                                        http_client=emulator_session(msi_env))
    result = client.acquire_token_for_client(resource=GRAPH)
    assert "access_token" in result, result
    claims = _verify(msi_env, result["access_token"], GRAPH)
    assert claims["appid"] == msi_env["mi_client_id"]
    assert "User.Read.All" in claims["roles"]


def test_managed_identity_user_assigned_and_unknown(msi_env: dict[str, Any]) -> None:
    ok = msal.ManagedIdentityClient(
        msal.UserAssignedManagedIdentity(client_id=msi_env["mi_client_id"]),
        http_client=emulator_session(msi_env)).acquire_token_for_client(resource=OUTLOOK)
    assert _verify(msi_env, ok["access_token"], OUTLOOK)["appid"] == msi_env["mi_client_id"]
    bad = msal.ManagedIdentityClient(
        msal.UserAssignedManagedIdentity(client_id=str(uuid.uuid4())),
        http_client=emulator_session(msi_env)).acquire_token_for_client(resource=GRAPH)
    assert "access_token" not in bad
    assert "No Managed Identity found" in bad["error_description"]


def test_msi_raw_protocol(emu: dict[str, Any]) -> None:
    params = {"api-version": "2019-08-01", "resource": GRAPH}
    with emulator_session(emu) as s:
        r = s.get(emu["identity_endpoint"], params=params,
                  headers={"X-IDENTITY-HEADER": emu["identity_header"]}, timeout=10)
        assert r.status_code == 200
        body = r.json()
        assert body["token_type"] == "Bearer"
        assert body["resource"] == GRAPH
        assert body["client_id"] == emu["mi_client_id"]
        assert int(body["expires_on"]) > time.time() + 3000
        wrong = s.get(emu["identity_endpoint"], params=params,
                      headers={"X-IDENTITY-HEADER": "guess"}, timeout=10)
        assert wrong.status_code == 401
        unknown = s.get(emu["identity_endpoint"], params={**params, "client_id": str(uuid.uuid4())},
                        headers={"X-IDENTITY-HEADER": emu["identity_header"]}, timeout=10)
        assert unknown.status_code == 400
        assert unknown.json()["statusCode"] == 400
