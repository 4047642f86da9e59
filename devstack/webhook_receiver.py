"""A local stand-in for a Teams workflow webhook: it stores what it receives and can misbehave.

The stack starts it like the emulator, on a free loopback port, and gives the app its address
as ``PHOTO_NOTIFY_WEBHOOK_URL``. The address has the shape of a Teams workflow URL, signature
in the query (``/workflows/<id>/triggers/manual/paths/invoke?...&sig=<random>``), so the leak
tests have a real secret to look for; POSTs anywhere else are 404, as at Microsoft.

Like the workflow it answers ``202 Accepted`` with no body, and refuses what Teams would: a
body over 28 KB (413), and for a Teams envelope, one that is not ``{"type": "message",
"attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "content":
{"type": "AdaptiveCard", "version": ...}}]}`` (400). On demand (``fault()`` or ``POST
/_receiver/faults``) it answers the next requests with 500, with 429 and ``Retry-After``,
hangs without answering, or trickles a 500 one byte at a time (``trickle``: never idle long
enough for a read timeout), for the tests that show a failing webhook changes no drop and that a
send ends within its time limit.

Control routes, for ``python -m devstack notices`` and tests in other processes:
``GET /_receiver/messages``, ``DELETE /_receiver/messages``, ``POST /_receiver/faults``
(``{"mode": "500" | "429" | "hang" | "trickle", "count": N, "retryAfter": seconds}``). It
never logs a
request's path or body.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

MAX_BODY = 28 * 1024
CARD_TYPE = "application/vnd.microsoft.card.adaptive"
CONTROL = "/_receiver"
FAULT_MODES = ("500", "429", "hang", "trickle")
TRICKLED = b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nX-Pad: "


@dataclass(frozen=True)
class Fault:
    mode: str
    retry_after: float | None = None


def envelope_problem(document: Any) -> str | None:
    """Why a Teams workflow would refuse this body, or ``None`` when it would take it (a
    document that is not a Teams envelope is taken as it is: the ``json`` format)."""
    if not isinstance(document, dict):
        return "the body is not a JSON object"
    if document.get("type") != "message":
        return None
    attachments = document.get("attachments")
    if not isinstance(attachments, list) or not attachments:
        return "a message needs attachments"
    for attachment in attachments:
        content = attachment.get("content") if isinstance(attachment, dict) else None
        if not isinstance(content, dict) or attachment.get("contentType") != CARD_TYPE:
            return f"an attachment is not an {CARD_TYPE}"
        if content.get("type") != "AdaptiveCard" or not content.get("version"):
            return "an attachment's content is not an AdaptiveCard with a version"
        if not isinstance(content.get("body"), list):
            return "an Adaptive Card needs a body"
    return None


class WebhookReceiver:
    """Start with ``start()`` (or as a context manager); ``url`` is the secret address."""

    def __init__(self, bind: str = "127.0.0.1", port: int = 0, hang_seconds: float = 60.0,
                 trickle_every: float = 0.25) -> None:
        self._bind, self._port, self.hang_seconds = bind, port, hang_seconds
        self.trickle_every = trickle_every  # seconds between two bytes of a trickled answer
        self.path = f"/workflows/{secrets.token_hex(16)}/triggers/manual/paths/invoke"
        self._query = f"api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sig=" \
                      f"{secrets.token_urlsafe(32)}"
        self._lock = threading.Lock()
        self._messages: list[dict[str, Any]] = []
        self._faults: deque[Fault] = deque()
        self.attempts = 0
        self.trickles = {"cut": 0, "finished": 0}  # trickled answers the client hung up on
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None, "not started"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def url(self) -> str:
        return f"{self.base_url}{self.path}?{self._query}"

    @property
    def control_url(self) -> str:
        return f"{self.base_url}{CONTROL}"

    def start(self) -> WebhookReceiver:
        self._server = ThreadingHTTPServer((self._bind, self._port), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="webhook",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # ends any hang at once
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(10.0)

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what tests and the CLI use -------------------------------------------------------------

    def messages(self) -> list[dict[str, Any]]:
        """What was accepted, oldest first: ``{"at", "body"}``."""
        with self._lock:
            return list(self._messages)

    def clear(self) -> None:
        """Forget what was received and any fault still waiting: a fresh receiver."""
        with self._lock:
            self._messages.clear()
            self._faults.clear()
            self.attempts = 0
            self.trickles = {"cut": 0, "finished": 0}

    def fault(self, mode: str, count: int = 1, retry_after: float | None = None) -> None:
        """Answer the next ``count`` POSTs with ``mode`` instead of taking them."""
        if mode not in FAULT_MODES:
            raise ValueError(f"fault mode must be one of {FAULT_MODES}")
        with self._lock:
            self._faults.extend(Fault(mode, retry_after) for _ in range(count))

    # -- the server side ------------------------------------------------------------------------

    def _next_fault(self) -> Fault | None:
        with self._lock:
            self.attempts += 1
            return self._faults.popleft() if self._faults else None

    def _take(self, document: Any) -> None:
        with self._lock:
            self._messages.append({"at": datetime.now(UTC).isoformat(), "body": document})

    def _control(self, method: str, body: bytes) -> tuple[int, Any]:
        if method == "GET":
            with self._lock:
                return 200, {"messages": list(self._messages), "attempts": self.attempts}
        if method == "DELETE":
            self.clear()
            return 204, None
        try:
            spec = json.loads(body or b"{}")
            self.fault(str(spec.get("mode")), int(spec.get("count", 1)),
                       float(spec["retryAfter"]) if spec.get("retryAfter") is not None else None)
        except (ValueError, TypeError, AttributeError) as exc:
            return 400, {"error": str(exc)}
        return 204, None


def _handler(receiver: WebhookReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            """Silent: a request line holds the secret address."""

        def do_GET(self) -> None:
            self._route("GET")

        def do_DELETE(self) -> None:
            self._route("DELETE")

        def do_POST(self) -> None:
            self._route("POST")

        def _route(self, method: str) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if (parts.path == CONTROL + "/messages" and method in ("GET", "DELETE")) or \
                    (parts.path == CONTROL + "/faults" and method == "POST"):
                status, answer = receiver._control(method, body)
                self._answer(status, answer)
            elif parts.path == receiver.path and method == "POST":
                self._webhook(body)
            else:
                self._answer(404, {"error": "no such workflow"})

        def _webhook(self, body: bytes) -> None:
            fault = receiver._next_fault()
            if fault is not None and fault.mode == "hang":
                receiver._stopping.wait(receiver.hang_seconds)
                self.close_connection = True
                return
            if fault is not None and fault.mode == "trickle":
                self._trickle()
                return
            if fault is not None:
                headers = {"Retry-After": f"{fault.retry_after:g}"} \
                    if fault.mode == "429" and fault.retry_after is not None else {}
                self._answer(int(fault.mode), {"error": f"fault {fault.mode}"}, headers)
                return
            if len(body) > MAX_BODY:
                self._answer(413, {"error": "the message is over 28 KB"})
                return
            try:
                document = json.loads(body)
            except ValueError:
                self._answer(400, {"error": "the body is not JSON"})
                return
            problem = envelope_problem(document)
            if problem is not None:
                self._answer(400, {"error": problem})
                return
            receiver._take(document)
            self._answer(202, None)

        def _trickle(self) -> None:
            """A 500 one byte every ``trickle_every`` seconds, for hang_seconds in all."""
            self.close_connection = True
            count = max(1, int(receiver.hang_seconds / receiver.trickle_every))
            data = TRICKLED + b"a" * max(0, count - len(TRICKLED)) + b"\r\n\r\n"
            try:
                for byte in data:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    if receiver._stopping.wait(receiver.trickle_every):
                        return
            except OSError:  # the client hung up: what a time limit does
                with receiver._lock:
                    receiver.trickles["cut"] += 1
                return
            with receiver._lock:
                receiver.trickles["finished"] += 1

        def _answer(self, status: int, document: Any,
                    headers: dict[str, str] | None = None) -> None:
            data = json.dumps(document).encode() if document is not None else b""
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            if data:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler
