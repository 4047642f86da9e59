"""A real loopback HTTP server that answers every request alike and records what it saw."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Generic, TypeVar

T = TypeVar("T")


class RecordingServer(Generic[T]):
    """Answers every GET and PATCH with ``status`` (and ``Location``, if given) and ``body``;
    ``seen`` holds ``record(request)`` for each request in the order they came. With
    ``cut_after``, only that many bytes of the body are sent before the connection is closed,
    though ``Content-Length`` announced all of it."""

    def __init__(self, status: int, record: Callable[[BaseHTTPRequestHandler], T],
                 location: str | None = None, body: bytes = b"",
                 cut_after: int | None = None) -> None:
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
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
