"""Against real servers: the bearer token only ever goes to the configured API host (redirects
are not followed), and an answer cut off mid-body is a failed attempt."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from photo_core.adapters.photo_api import HttpPhotoApi
from photo_core.adapters.photo_api_settings import ApiSettings
from photo_core.bootstrap import build_session
from photo_core.domain.clock import SystemClock
from photo_core.domain.errors import RejectedByService, ServiceUnavailable
from photo_core.domain.naming import UserRef, UserRefKind
from photo_core.domain.retry import RetryPolicy
from tests.integration.loopback import RecordingServer

pytestmark = pytest.mark.integration


class StaticToken:
    def get_token(self) -> str:
        return "secret-bearer-token"

    def invalidate(self) -> None:
        pass


Server = RecordingServer[str | None]


def server(status: int, location: str | None = None) -> Server:
    """A real loopback HTTP server that records the Authorization headers it receives."""
    return RecordingServer(status, lambda request: request.headers.get("Authorization"),
                           location=location)


@pytest.fixture
def elsewhere() -> Iterator[Server]:
    running = server(200)
    yield running
    running.close()


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_is_refused_and_the_token_stays_home(elsewhere: Server, status: int) -> None:
    api_host = server(status, location=f"{elsewhere.url}/v1.0/users/x/photo")
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


def test_an_answer_cut_off_mid_body_is_a_failed_attempt_and_retried() -> None:
    cut = RecordingServer(200, lambda request: request.path, body=b'{"width": 240}' * 50,
                          cut_after=13)
    try:
        api = HttpPhotoApi(
            session=build_session(ApiSettings(base_url=cut.url + "/v1.0")),
            tokens=StaticToken(), api=ApiSettings(base_url=cut.url + "/v1.0"),
            retry=RetryPolicy(max_attempts=3, budget_seconds=5), clock=SystemClock(),
            rand=lambda: 0.0,
        )
        with pytest.raises(ServiceUnavailable, match="cut off"):
            api.get_metadata(UserRef(UserRefKind.UPN, "jane@contoso.com"))
        assert len(cut.seen) == 3
    finally:
        cut.close()
