"""The bearer token only ever goes to the configured API host: redirects are not followed."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from photo_core.bootstrap import build_session
from photo_core.errors import RejectedByService
from photo_core.naming import UserRef, UserRefKind
from photo_core.photo_api import HttpPhotoApi
from photo_core.retry import RetryPolicy, SystemClock
from photo_core.settings import ApiSettings

pytestmark = pytest.mark.integration


class StaticToken:
    def get_token(self) -> str:
        return "secret-bearer-token"

    def invalidate(self) -> None:
        pass


class Server:
    """A real loopback HTTP server that records the Authorization headers it receives."""

    def __init__(self, status: int, location: str | None = None) -> None:
        self.seen: list[str | None] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.seen.append(self.headers.get("Authorization"))
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_PATCH = do_GET  # noqa: N815

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def elsewhere() -> Iterator[Server]:
    server = Server(200)
    yield server
    server.close()


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_is_refused_and_the_token_stays_home(elsewhere: Server, status: int) -> None:
    api_host = Server(status, location=f"{elsewhere.url}/v1.0/users/x/photo")
    try:
        api = HttpPhotoApi(
            session=build_session(ApiSettings(base_url=api_host.url + "/v1.0")),
            tokens=StaticToken(), api=ApiSettings(base_url=api_host.url + "/v1.0"),
            retry=RetryPolicy(), clock=SystemClock(), rand=lambda: 0.0,
        )
        with pytest.raises(RejectedByService) as raised:
            api.get_metadata(UserRef(UserRefKind.UPN, "jane@contoso.com"))
        assert raised.value.code == "unexpected_redirect"
        assert api_host.seen == ["Bearer secret-bearer-token"]
        assert elsewhere.seen == []
    finally:
        api_host.close()
