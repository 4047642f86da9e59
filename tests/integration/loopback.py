"""Real loopback servers: an HTTP(S) server that answers every request alike and records what it
saw, one that hangs up on every connection, and self-signed certificates to serve TLS with."""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import socket
import ssl
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Generic, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

T = TypeVar("T")


class RecordingServer(Generic[T]):
    """Answers every GET and PATCH with ``status`` (and ``Location``, if given) and ``body``;
    ``seen`` holds ``record(request)`` for each request in the order they came. With
    ``cut_after``, only that many bytes of the body are sent before the connection is closed,
    though ``Content-Length`` announced all of it. With ``tls``, it serves HTTPS with that server
    context (see ``tls_context``); a client that refuses the certificate is never recorded, since
    no request reaches the handler."""

    def __init__(self, status: int, record: Callable[[BaseHTTPRequestHandler], T],
                 location: str | None = None, body: bytes = b"",
                 cut_after: int | None = None, tls: ssl.SSLContext | None = None) -> None:
        seen: list[T] = []
        self.seen = seen

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                seen.append(record(self))
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body if cut_after is None else body[:cut_after])
                if cut_after is not None:
                    self.close_connection = True

            do_PATCH = do_GET  # noqa: N815

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        scheme = "http"
        if tls is not None:
            # The handshake runs in accept(); one that fails there is dropped by the server loop
            # (an OSError), which goes on serving.
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class SilentServer:
    """Accepts connections, reads what each client sends first and never answers: it holds
    each connection open (a hung front end), or with ``hang_up`` closes it (a handshake cut off
    half-way after the TLS ClientHello, as a reset or an overloaded front end leaves it).
    ``accepted`` counts the connections, ``requests`` those that sent something."""

    def __init__(self, *, hang_up: bool = False) -> None:
        self.accepted = self.requests = 0
        self._hang_up = hang_up
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.url = f"https://127.0.0.1:{self.port}"
        self._held: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:  # closed
                return
            self.accepted += 1
            if self._hang_up:
                conn.settimeout(5)
            else:
                self._held.append(conn)
            with contextlib.suppress(OSError):
                if conn.recv(65536):
                    self.requests += 1
            if self._hang_up:
                conn.close()

    def close(self) -> None:
        self._listener.close()
        for conn in self._held:
            conn.close()


def self_signed_certificate(directory: Path, host: str = "127.0.0.1") -> tuple[Path, Path]:
    """A new key and a self-signed certificate for ``host`` (an IP address or a DNS name),
    written as ``<host>.crt`` and ``<host>.key`` PEM files in ``directory``. The certificate is
    its own CA, so a client that trusts its file trusts the server, and any other is refused."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    try:
        san: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        san = x509.DNSName(host)
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectAlternativeName([san]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / f"{host}.crt", directory / f"{host}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


def tls_context(cert_file: Path, key_file: Path) -> ssl.SSLContext:
    """A server context presenting ``cert_file`` (see ``self_signed_certificate``)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return context
