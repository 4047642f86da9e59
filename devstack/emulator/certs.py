"""The emulator's own small PKI, generated once into the state directory and reused.

MSAL insists on ``https`` authorities, so the emulator needs a server certificate that clients
can trust without touching the system store: a private CA (``ca.pem``) that tests pass as
``verify=``. The same CA signs a client certificate for the demo app's certificate credential
(``client-cert.pem``: private key PEM, then certificate PEM, the layout MSAL and ``curl --cert``
both read) and the key that signs access tokens. Reusing the files across starts keeps thumbprints
and trust stable for people who configured them once.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import logging
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

log = logging.getLogger(__name__)

SERVER_DNS_NAMES = ("localhost",)
SERVER_IPS = ("127.0.0.1", "::1")
_RENEW_MARGIN = dt.timedelta(days=30)


@dataclass(frozen=True)
class CertBundle:
    """Paths and parsed material the server needs. Private keys never leave this object except
    into ``ssl`` and the token signer."""

    ca_cert_path: Path
    server_cert_path: Path
    server_key_path: Path
    client_cert_path: Path
    client_cert: x509.Certificate
    signing_key: rsa.RSAPrivateKey
    signing_cert: x509.Certificate

    @property
    def client_thumbprint_sha1(self) -> str:
        return thumbprint_sha1(self.client_cert)

    @property
    def client_thumbprint_sha256(self) -> str:
        return self.client_cert.fingerprint(hashes.SHA256()).hex().upper()


def thumbprint_sha1(cert: x509.Certificate) -> str:
    """Upper-case SHA-1 hex, the form Azure's portal shows and MSAL's ``thumbprint`` takes."""
    return cert.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303 - a thumbprint, not security


def ensure_certs(state_dir: Path) -> CertBundle:
    """Load the PKI from ``state_dir``, (re)generating only what is missing, broken or near
    expiry. A lock file serialises concurrent first starts sharing one state directory."""
    state_dir.mkdir(parents=True, exist_ok=True)
    with _locked(state_dir / ".certs.lock"):
        ca_key, ca_cert = _ensure_ca(state_dir)
        _ensure_leaf(
            state_dir / "server.pem", state_dir / "server-key.pem", ca_key, ca_cert, "server"
        )
        client_cert, _ = _ensure_leaf(
            state_dir / "client-cert.pem", None, ca_key, ca_cert, "client"
        )
        signing_cert, signing_key = _ensure_leaf(
            state_dir / "token-signing.pem", None, ca_key, ca_cert, "signing"
        )
    return CertBundle(
        ca_cert_path=(state_dir / "ca.pem").resolve(),
        server_cert_path=(state_dir / "server.pem").resolve(),
        server_key_path=(state_dir / "server-key.pem").resolve(),
        client_cert_path=(state_dir / "client-cert.pem").resolve(),
        client_cert=client_cert,
        signing_key=signing_key,
        signing_cert=signing_cert,
    )


def load_pem_certificates(pem: str) -> list[x509.Certificate]:
    """Every certificate in a PEM text (keys and other blocks are ignored)."""
    return list(x509.load_pem_x509_certificates(pem.encode("ascii")))


# --- generation ---------------------------------------------------------------------------


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    if sys.platform == "win32":  # no fcntl; a single developer rarely races two first starts
        yield
        return
    import fcntl

    with open(path, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _ensure_ca(state_dir: Path) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    cert_path, key_path = state_dir / "ca.pem", state_dir / "ca-key.pem"
    loaded = _load(cert_path, key_path)
    if loaded is not None and _fresh(loaded[1]):
        return loaded
    log.info("generating a new emulator CA in %s", state_dir)
    key = _new_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "photo-sync devstack emulator CA")])
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write(key_path, _key_pem(key), private=True)
    _write(cert_path, cert.public_bytes(serialization.Encoding.PEM), private=False)
    # Everything signed by an older CA is now untrusted: force the leaves to be redone.
    for leaf in ("server.pem", "client-cert.pem", "token-signing.pem"):
        (state_dir / leaf).unlink(missing_ok=True)
    return key, cert


def _ensure_leaf(
    cert_path: Path,
    key_path: Path | None,
    ca_key: rsa.RSAPrivateKey,
    ca_cert: x509.Certificate,
    kind: str,
) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    """Load or create a CA-signed leaf. ``key_path`` None means the key is stored in the same
    file ahead of the certificate."""
    loaded = _load(cert_path, key_path or cert_path)
    if loaded is not None:
        key, cert = loaded
        if _fresh(cert) and cert.issuer == ca_cert.subject and _has_names(cert, kind):
            return cert, key
    log.info("generating the emulator %s certificate", kind)
    key = _new_key()
    cert = _issue(key, ca_key, ca_cert, kind)
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    if key_path is None:
        _write(cert_path, _key_pem(key) + cert_pem, private=True)
    else:
        _write(key_path, _key_pem(key), private=True)
        _write(cert_path, cert_pem, private=False)
    return cert, key


def _issue(
    key: rsa.RSAPrivateKey, ca_key: rsa.RSAPrivateKey, ca_cert: x509.Certificate, kind: str
) -> x509.Certificate:
    common_names = {
        "server": "photo-sync emulator (localhost)",
        "client": "photo-sync demo app certificate credential",
        "signing": "photo-sync emulator token signing",
    }
    now = _now()
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_names[kind])]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=825))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False,
                key_encipherment=kind == "server", data_encipherment=False, key_agreement=False,
                key_cert_sign=False, crl_sign=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
    )
    if kind == "server":
        names: list[x509.GeneralName] = [x509.DNSName(n) for n in SERVER_DNS_NAMES]
        names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in SERVER_IPS]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
    elif kind == "client":
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
    return builder.sign(ca_key, hashes.SHA256())


def _has_names(cert: x509.Certificate, kind: str) -> bool:
    if kind != "server":
        return True
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    ips = {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}
    dns = set(san.get_values_for_type(x509.DNSName))
    return set(SERVER_IPS) <= ips and set(SERVER_DNS_NAMES) <= dns


def _load(cert_path: Path, key_path: Path) -> tuple[rsa.RSAPrivateKey, x509.Certificate] | None:
    """Parse a key and certificate, or None when absent or unreadable (then we regenerate)."""
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        if cert_path.exists():
            log.warning("ignoring unusable %s (%s); regenerating", cert_path.name,
                        type(exc).__name__)
        return None
    if not isinstance(key, rsa.RSAPrivateKey):
        return None
    return key, cert


def _fresh(cert: x509.Certificate) -> bool:
    return cert.not_valid_after_utc - _RENEW_MARGIN > _now()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write(path: Path, data: bytes, *, private: bool) -> None:
    """Write via a temporary file and rename, so a crash never leaves half a PEM behind."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)
