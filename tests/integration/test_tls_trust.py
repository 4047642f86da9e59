"""Against real loopback HTTPS servers with self-signed certificates: a certificate that does not
verify is a configuration problem (``tls_untrusted``, permanent, never retried), whether the
photo API or the identity platform presents it; a handshake cut off half-way stays transient."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from photo_core.adapters.auth import MsalTokenProvider
from photo_core.adapters.photo_api import HttpPhotoApi
from photo_core.adapters.photo_api_settings import ApiSettings
from photo_core.bootstrap import build_session
from photo_core.domain.errors import PermanentError, ServiceUnavailable, TlsUntrusted
from photo_core.domain.naming import UserRef, UserRefKind
from photo_core.domain.retry import RetryPolicy
from photo_core.settings import Settings
from tests.integration.loopback import (
    RecordingServer,
    SilentServer,
    self_signed_certificate,
    tls_context,
)
from tests.integration.test_photo_api import RecordingClock

pytestmark = pytest.mark.integration

JANE = UserRef(UserRefKind.UPN, "jane@contoso.com")
METADATA = b'{"id": "96x96", "width": 96, "height": 96}'
Server = RecordingServer[str]


class StaticToken:
    def get_token(self) -> str:
        return "bearer-token"

    def invalidate(self) -> None:
        pass


def https_server(tmp_path: Path, host: str) -> tuple[Server, Path]:
    """A photo API on 127.0.0.1 presenting a self-signed certificate for ``host``, and that
    certificate (the one CA that verifies it)."""
    cert, key = self_signed_certificate(tmp_path, host)
    server = RecordingServer(200, lambda request: request.path, body=METADATA,
                             tls=tls_context(cert, key))
    return server, cert


@pytest.fixture
def api_server(tmp_path: Path) -> Iterator[tuple[Server, Path]]:
    server, cert = https_server(tmp_path, "127.0.0.1")
    yield server, cert
    server.close()


def client(base_url: str, ca_bundle: Path, clock: RecordingClock) -> HttpPhotoApi:
    api = ApiSettings(base_url=base_url + "/v1.0", ca_bundle=str(ca_bundle))
    return HttpPhotoApi(session=build_session(api), tokens=StaticToken(), api=api,
                        retry=RetryPolicy(max_attempts=3), clock=clock, rand=lambda: 0.5)


def test_the_server_answers_a_client_that_trusts_its_ca(api_server: tuple[Server, Path]) -> None:
    server, cert = api_server
    metadata = client(server.url, cert, RecordingClock()).get_metadata(JANE)
    assert metadata is not None and metadata.width == 96
    assert server.seen == ["/v1.0/users/jane@contoso.com/photo"]


def test_a_certificate_from_another_ca_is_tls_untrusted_and_not_retried(
        api_server: tuple[Server, Path], tmp_path: Path) -> None:
    server, _ = api_server
    stranger, _ = self_signed_certificate(tmp_path, "ca.example")
    clock = RecordingClock()
    with pytest.raises(TlsUntrusted) as raised:
        client(server.url, stranger, clock).get_metadata(JANE)
    assert isinstance(raised.value, PermanentError) and raised.value.code == "tls_untrusted"
    assert "PHOTO_CA_BUNDLE" in raised.value.message
    assert "self-signed certificate" in raised.value.message
    assert f"the photo API ({server.url.removeprefix('https://')})" in raised.value.message
    assert clock.slept == [] and server.seen == []


def test_a_certificate_for_another_host_is_tls_untrusted(tmp_path: Path) -> None:
    server, cert = https_server(tmp_path, "photos.example")  # served at 127.0.0.1
    try:
        clock = RecordingClock()
        with pytest.raises(TlsUntrusted, match="mismatch"):
            client(server.url, cert, clock).get_metadata(JANE)
        assert clock.slept == [] and server.seen == []
    finally:
        server.close()


def test_a_handshake_cut_off_half_way_is_transient_and_retried(api_server: tuple[Server, Path],
                                                               ) -> None:
    _, cert = api_server
    hang_up = SilentServer(hang_up=True)
    try:
        clock = RecordingClock()
        with pytest.raises(ServiceUnavailable) as raised:
            client(hang_up.url, cert, clock).get_metadata(JANE)
        assert isinstance(raised.value.__cause__, requests.exceptions.SSLError)
        assert len(clock.slept) == 2 and hang_up.accepted == 3
    finally:
        hang_up.close()


def test_an_identity_platform_certificate_that_does_not_verify_is_tls_untrusted(
        api_server: tuple[Server, Path], tmp_path: Path) -> None:
    """With a secret or a certificate, the token comes first, from the authority, through the
    same session and CA bundle: real MSAL meets the untrusted certificate there."""
    server, _ = api_server
    stranger, _ = self_signed_certificate(tmp_path, "ca.example")
    settings = Settings.from_env({
        "PHOTO_API_BASE_URL": server.url + "/v1.0", "PHOTO_AUTHORITY": server.url + "/tenant",
        "PHOTO_API_HOST_OVERRIDE": urlsplit(server.url).hostname or "",
        "PHOTO_AUTHORITY_HOST_OVERRIDE": urlsplit(server.url).hostname or "",
        "PHOTO_CA_BUNDLE": str(stranger), "PHOTO_AUTH_MODE": "client_secret",
        "PHOTO_TENANT_ID": "tenant", "PHOTO_CLIENT_ID": "client", "PHOTO_CLIENT_SECRET": "s3cr3t",
    })
    session = build_session(settings.api)
    clock = RecordingClock()
    api = HttpPhotoApi(session=session,
                       tokens=MsalTokenProvider(settings.auth, settings.api, session),
                       api=settings.api, retry=RetryPolicy(max_attempts=3), clock=clock,
                       rand=lambda: 0.5)
    with pytest.raises(TlsUntrusted, match="the identity platform") as raised:
        api.get_metadata(JANE)
    assert "PHOTO_CA_BUNDLE" in raised.value.message and "s3cr3t" not in raised.value.message
    assert clock.slept == [] and server.seen == []
