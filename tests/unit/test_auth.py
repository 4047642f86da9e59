"""Token errors are classified by what fixes them; certificates load from every supported form."""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from photo_core.adapters.auth import _classify_error, load_certificate_credential
from photo_core.adapters.photo_api_settings import AuthMode, AuthSettings
from photo_core.domain.errors import AuthFailure, ServiceUnavailable


@pytest.mark.parametrize(
    ("result", "kind"),
    [
        ({"error": "invalid_client", "error_description": "AADSTS7000215: Invalid secret"},
         AuthFailure),
        ({"error": "unauthorized_client", "error_description": "AADSTS700016: not found"},
         AuthFailure),
        ({"error": "invalid_scope", "error_description": "AADSTS70011: bad scope"}, AuthFailure),
        ({"error": "temporarily_unavailable"}, ServiceUnavailable),
        ({"error": "server_error"}, ServiceUnavailable),
        # Managed identity on App Service reports every failure as invalid_scope with the status.
        ({"error": "invalid_scope", "error_description": "503, busy"}, ServiceUnavailable),
        ({"error": "invalid_scope", "error_description": "429, slow down"}, ServiceUnavailable),
        ({"error": "invalid_scope", "error_description": "400, unknown identity"}, AuthFailure),
        ({"error": "something_new"}, ServiceUnavailable),
    ],
)
def test_token_errors_are_split_into_configuration_and_outage(
    result: dict[str, str], kind: type[Exception]
) -> None:
    assert isinstance(_classify_error(result), kind)


def test_error_messages_keep_only_the_first_line_of_the_description() -> None:
    error = _classify_error(
        {"error": "invalid_client", "error_description": "AADSTS7000215: bad\nTrace ID: 1"}
    )
    assert "AADSTS7000215" in error.message
    assert "Trace ID" not in error.message


def _key_and_cert() -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "photo-sync test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(1)
        .not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _pem(key: rsa.RSAPrivateKey, cert: x509.Certificate, password: bytes | None = None) -> bytes:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password) if password
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    ) + cert.public_bytes(serialization.Encoding.PEM)


def test_certificate_loads_from_a_pem_file(tmp_path: Path) -> None:
    key, cert = _key_and_cert()
    path = tmp_path / "cert.pem"
    path.write_bytes(_pem(key, cert))
    credential = load_certificate_credential(
        AuthSettings(mode=AuthMode.CERTIFICATE, certificate_path=str(path))
    )
    assert credential["private_key"].startswith("-----BEGIN PRIVATE KEY-----")
    assert credential["public_certificate"].startswith("-----BEGIN CERTIFICATE-----")


def test_certificate_loads_from_encrypted_pem_text() -> None:
    key, cert = _key_and_cert()
    credential = load_certificate_credential(AuthSettings(
        mode=AuthMode.CERTIFICATE,
        certificate_pem=_pem(key, cert, b"pw").decode(),
        certificate_password="pw",
    ))
    assert "BEGIN CERTIFICATE" in credential["public_certificate"]


def test_certificate_loads_from_base64_pfx_as_key_vault_hands_it_over() -> None:
    key, cert = _key_and_cert()
    pfx = pkcs12.serialize_key_and_certificates(
        b"photo-sync", key, cert, None, serialization.NoEncryption()
    )
    credential = load_certificate_credential(AuthSettings(
        mode=AuthMode.CERTIFICATE, certificate_pem=base64.b64encode(pfx).decode()
    ))
    assert "BEGIN PRIVATE KEY" in credential["private_key"]


@pytest.mark.parametrize("text", ["not a certificate", "-----BEGIN CERTIFICATE-----\nxx"])
def test_unreadable_certificate_is_an_auth_failure_without_its_content(text: str) -> None:
    with pytest.raises(AuthFailure) as raised:
        load_certificate_credential(AuthSettings(mode=AuthMode.CERTIFICATE, certificate_pem=text))
    assert text not in raised.value.message
