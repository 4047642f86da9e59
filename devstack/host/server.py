"""The host's HTTP listener: a threading HTTP/1.1 server on loopback.

It only moves bytes: it reads a request (Content-Length or chunked body, with a size limit),
hands a ``Request`` to the front door (``front.py``) and writes the ``Response``. It counts the
requests in progress so that a graceful stop can stop accepting, let them finish (bounded) and
answer 503 on kept-alive connections meanwhile. Its access log goes to DEBUG without the query
string, because ``?code=`` carries a key.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

logger = logging.getLogger(__name__)

#: The Functions host's request size limit (100 MB).
MAX_BODY_BYTES = 100 * 1024 * 1024


@dataclass
class Request:
    method: str
    path: str  # percent-encoded, without the query
    query: dict[str, list[str]]
    headers: dict[str, str]  # names lower-cased, repeated headers joined with ", "
    body: bytes
    url: str

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def json(cls, status: int, document: Any) -> Response:
        return cls(status, json.dumps(document).encode("utf-8"),
                   [("Content-Type", "application/json; charset=utf-8")])

    @classmethod
    def text(cls, status: int, text: str) -> Response:
        return cls(status, text.encode("utf-8"), [("Content-Type", "text/plain; charset=utf-8")])


Handler = Callable[[Request], Response]


class _BodyError(Exception):
    """A request body that cannot be read; ``status`` is the answer."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: HostServer
    timeout = 60  # idle kept-alive connections are closed after a minute
    # Send each response at once: with Nagle on, a kept-alive response waits ~40 ms for the
    # client's delayed ACK, which would dominate every lookup.
    disable_nagle_algorithm = True

    def _serve(self) -> None:
        if not self.server.enter():
            self._write(Response.text(503, "The host is stopping."), close=True)
            return
        try:
            try:
                body = self._read_body()
            except _BodyError as exc:
                self._write(Response.text(exc.status, "Bad request body."), close=True)
                return
            split = urlsplit(self.path)
            headers: dict[str, str] = {}
            for name, value in self.headers.items():
                key = name.lower()
                headers[key] = f"{headers[key]}, {value}" if key in headers else value
            request = Request(
                method=self.command.upper(), path=split.path,
                query=parse_qs(split.query, keep_blank_values=True), headers=headers,
                body=body, url=self.server.base_url + self.path,
            )
            try:
                response = self.server.handler(request)
            except Exception:  # a host bug: answer like any failure, log it (no request data)
                logger.exception("The host failed to answer %s %s", request.method, split.path)
                response = Response.text(500, "Internal Server Error")
            self._write(response)
        finally:
            self.server.leave()

    def _read_body(self) -> bytes:
        try:
            return self._read_body_unchecked()
        except ValueError:  # a length that is not a number
            raise _BodyError(400) from None

    def _read_body_unchecked(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            total = 0
            while True:
                size = int(self.rfile.readline(1024).split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024).strip():
                        pass  # trailers
                    return b"".join(chunks)
                total += size
                if total > MAX_BODY_BYTES:
                    raise _BodyError(413)
                chunks.append(self.rfile.read(size))
                self.rfile.readline(1024)
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0:
            raise _BodyError(400)
        if length > MAX_BODY_BYTES:
            raise _BodyError(413)
        return self.rfile.read(length) if length else b""

    def _write(self, response: Response, close: bool = False) -> None:
        try:
            self.send_response(response.status)
            names = {name.lower() for name, _ in response.headers}
            for name, value in response.headers:
                if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                    self.send_header(name, value)
            if "content-type" not in names and response.body:
                self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(response.body)))
            if close or self.server.stopping:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    # http.server dispatches on these names.
    do_GET = _serve  # noqa: N815
    do_POST = _serve  # noqa: N815
    do_PUT = _serve  # noqa: N815
    do_PATCH = _serve  # noqa: N815
    do_DELETE = _serve  # noqa: N815
    do_HEAD = _serve  # noqa: N815
    do_OPTIONS = _serve  # noqa: N815

    def log_message(self, format: str, *args: Any) -> None:
        """Access log without the query string (it may hold ``code=<key>``)."""
        logger.debug("%s %s -> %s", self.command, urlsplit(self.path).path,
                     args[1] if len(args) > 1 else "-")

    def log_error(self, format: str, *args: Any) -> None:
        """Protocol errors, by status only: the stdlib's message can quote the request line."""
        logger.debug("HTTP protocol error (status %s)", args[0] if args else "?")


class HostServer(ThreadingHTTPServer):
    """The listener; ``handler`` answers each request."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, host: str, port: int, handler: Handler) -> None:
        super().__init__((host, port), _RequestHandler)
        self.handler = handler
        self.base_url = f"http://{host}:{self.server_address[1]}"
        self.stopping = False
        self._active = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="host-http", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def enter(self) -> bool:
        with self._lock:
            if self.stopping:
                return False
            self._active += 1
            return True

    def leave(self) -> None:
        with self._lock:
            self._active -= 1

    def stop_accepting(self) -> None:
        with self._lock:
            self.stopping = True
        self.shutdown()

    def drain(self, timeout: float) -> None:
        """Wait (bounded) for requests in progress, then close the socket."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self._active == 0:
                    break
            time.sleep(0.02)
        else:
            logger.warning("Stopping with HTTP requests still running")
        self.server_close()
