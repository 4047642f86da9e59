"""The HTTPS server: stdlib ``ThreadingHTTPServer`` + ``ssl``, routing, and in-process start.

One thread per connection (keep-alive, as MSAL and requests pool connections), TLS handshakes
done on that thread rather than in the accept loop so a slow client cannot stall the others.
``start(config)`` returns a ``RunningEmulator`` so tests and other devstack code can embed the
emulator in a thread; ``python -m devstack.emulator`` wraps the same function.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import socketserver
import ssl
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, unquote

from devstack.emulator import admin, identity, photos
from devstack.emulator.certs import CertBundle, ensure_certs
from devstack.emulator.config import EmulatorConfig
from devstack.emulator.state import EmulatorState
from devstack.emulator.web import (
    Answer,
    Request,
    ResetConnection,
    Response,
    graph_error,
    json_response,
)

log = logging.getLogger(__name__)
access_log = logging.getLogger("devstack.emulator.access")


def dispatch(state: EmulatorState, req: Request) -> Answer:
    """Pick the handler by the first path segment(s)."""
    segs = req.segments
    first = segs[0].lower() if segs else ""
    if first == "admin":
        return admin.handle(state, req)
    if first == "msi" and len(segs) == 2 and segs[1].lower() == "token":
        return identity.handle_msi(state, req)
    if first == "v1.0":
        return photos.handle_graph(state, req)
    if first == "api" and len(segs) >= 2 and segs[1].lower() == "v2.0":
        return photos.handle_outlook(state, req)
    answer = identity.handle_tenant_route(state, req)
    if answer is not None:
        return answer
    req.operation = "unknown"
    return graph_error(req, 404, "NotFound", "No emulated endpoint at this path.")


class _BodyTooLarge(Exception):
    pass


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "photo-sync-emulator/1"
    sys_version = ""
    timeout = 30  # seconds an idle keep-alive connection may sit
    # Headers and body go out in separate writes; with Nagle on, each response would wait
    # for the client's delayed ACK (~40 ms on Linux).
    disable_nagle_algorithm = True

    def version_string(self) -> str:
        return self.server_version

    def setup(self) -> None:
        super().setup()
        conn = self.connection
        if isinstance(conn, ssl.SSLSocket):
            conn.do_handshake()

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    def do_OPTIONS(self) -> None:
        self._handle()

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("http.server: " + format, *args)  # noqa: G003 - stdlib hands us a %-format

    def _handle(self) -> None:
        started = time.monotonic()
        state = self.server.state
        raw_path, _, raw_query = self.path.partition("?")
        try:
            body = self._read_body(state.config.body_read_cap)
            segments = _segments(raw_path)
        except (_BodyTooLarge, ValueError) as exc:
            # The body was not (fully) read, so this connection cannot carry another request.
            self.close_connection = True
            if isinstance(exc, _BodyTooLarge):
                refusal = json_response(413, {"error": {
                    "code": "RequestEntityTooLarge", "message": "The request body is too large."}})
            else:
                refusal = json_response(400, {"error": {"code": "BadRequest",
                                                        "message": str(exc)}})
            self._send(refusal, None, close=True)
            access_log.info("%s %.300s -> %d [refused before routing]", self.command, raw_path,
                            refusal.status)
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        req = Request(
            method=self.command, raw_path=raw_path, segments=segments,
            query=parse_qs(raw_query, keep_blank_values=True), headers=headers, body=body,
            client_host=str(self.client_address[0]), base_url=self._base_url(headers),
        )
        try:
            answer = dispatch(state, req)
        except Exception:
            log.exception("unhandled error in %s (%s %s)", req.operation, req.method, raw_path)
            answer = graph_error(req, 500, "InternalServerError", "Emulator bug; see its log.")
        elapsed_ms = (time.monotonic() - started) * 1000
        if isinstance(answer, ResetConnection):
            self._reset()
            outcome = "reset"
        else:
            self._send(answer, req)
            outcome = str(answer.status)
        if req.operation != "admin":
            state.record_request(req.operation, outcome)
        access_log.info("%s %.300s -> %s [%s] %.0f ms", req.method, raw_path, outcome,
                        req.operation, elapsed_ms)

    def _base_url(self, headers: dict[str, str]) -> str:
        """Echo the address the client used when it is one of ours (so discovery documents
        point back where MSAL came from); otherwise the canonical one."""
        host = headers.get("host", "")
        if host in self.server.host_aliases:
            return f"https://{host}"
        return self.server.state.public_base

    def _read_body(self, cap: int) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked(cap)
        length_text = self.headers.get("Content-Length")
        if not length_text:
            return b""
        if not length_text.strip().isdigit():
            raise ValueError("invalid Content-Length")
        length = int(length_text)
        if length > cap:
            raise _BodyTooLarge
        return self.rfile.read(length)

    def _read_chunked(self, cap: int) -> bytes:
        parts: list[bytes] = []
        total = 0
        while True:
            size_line = self.rfile.readline(1024).split(b";")[0].strip()
            size = int(size_line, 16)
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(parts)
            total += size
            if total > cap:
                raise _BodyTooLarge
            parts.append(self.rfile.read(size))
            self.rfile.readline(1024)

    def _send(self, resp: Response, req: Request | None, *, close: bool = False) -> None:
        self.send_response(resp.status)
        if resp.content_type:
            self.send_header("Content-Type", resp.content_type)
        self.send_header("Content-Length", str(len(resp.body)))
        if req is not None:
            self.send_header("request-id", req.request_id)
            self.send_header("client-request-id", req.client_request_id)
        for name, value in resp.headers.items():
            self.send_header(name, value)
        if close:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and resp.body:
            self.wfile.write(resp.body)

    def _reset(self) -> None:
        """Abort: SO_LINGER 0 makes close() send a TCP RST; no TLS close_notify, no response.
        The read buffer holds a reference to the socket, so it is closed first."""
        self.close_connection = True
        conn = self.connection
        with contextlib.suppress(OSError):
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.rfile.close()
        conn.close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], state: EmulatorState,
                 tls: ssl.SSLContext) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)
        self.socket = tls.wrap_socket(self.socket, server_side=True,
                                      do_handshake_on_connect=False)
        self.state = state
        self.host_aliases: set[str] = set()
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves an FQDN for the host, which can stall offline.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), int(
            self.server_address[1])

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_open_connections(self) -> None:
        with self._open_lock:
            open_now = list(self._open)
        for sock in open_now:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Client hang-ups and failed handshakes are routine; only real bugs get a trace."""
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, ssl.SSLError, TimeoutError, OSError)):
            log.debug("connection from %s ended: %s", client_address[0], type(exc).__name__)
        else:
            log.error("error while serving %s", client_address[0], exc_info=exc)


def _segments(raw_path: str) -> tuple[str, ...]:
    """Split on ``/`` first, then percent-decode each segment exactly once: ``%2F`` stays
    inside its segment and dot segments are never resolved."""
    if not raw_path.startswith("/"):
        raise ValueError("the request target must be an absolute path")
    parts = raw_path.split("/")[1:]
    if len(parts) > 1 and parts[-1] == "":
        parts = parts[:-1]
    try:
        return tuple(unquote(p, errors="strict") for p in parts)
    except UnicodeDecodeError:
        raise ValueError("the path is not valid percent-encoded UTF-8") from None


def _tls_context(certs: CertBundle) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(certs.server_cert_path, certs.server_key_path)
    return ctx


class RunningEmulator:
    """A started emulator. ``info`` is the start-up JSON document; ``stop()`` shuts it down."""

    def __init__(self, state: EmulatorState, server: _Server, thread: threading.Thread,
                 info: dict[str, Any]) -> None:
        self.state, self.info = state, info
        self._server, self._thread = server, thread
        self._stopped = False

    @property
    def port(self) -> int:
        return int(self.info["port"])

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self.state.release_delays()
        self._server.shutdown()
        self._server.close_open_connections()
        self._server.server_close()
        self._thread.join(timeout=5)
        log.info("emulator on port %d stopped", self.port)

    def __enter__(self) -> RunningEmulator:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def start(config: EmulatorConfig) -> RunningEmulator:
    """Generate/reuse certificates, bind, and serve on a background thread."""
    certs = ensure_certs(config.state_dir)
    state = EmulatorState(config, certs)
    server = _Server((config.host, config.port), state, _tls_context(certs))
    port = int(server.server_address[1])
    url_host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "[::1]"}.get(
        config.host, f"[{config.host}]" if ":" in config.host else config.host)
    state.public_base = f"https://{url_host}:{port}"
    server.host_aliases = {f"{h}:{port}" for h in ("127.0.0.1", "localhost", "[::1]", url_host)}
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name=f"emulator-{port}", daemon=True)
    thread.start()
    info = {**state.info(), "port": port, "pid": os.getpid()}
    log.info("emulator serving on %s (tenant %s); a local stand-in, not Microsoft's service",
             state.public_base, state.directory.tenant)
    return RunningEmulator(state, server, thread, info)
