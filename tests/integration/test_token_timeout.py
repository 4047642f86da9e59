"""A token endpoint that never answers costs a timeout, not the invocation (real MSAL, real
sockets): MSAL sets no timeout on a session it is given, so photo-sync sets its own."""

from __future__ import annotations

import threading
from urllib.parse import urlsplit

import pytest

from photo_core.adapters.auth import MsalTokenProvider
from photo_core.bootstrap import build_session
from photo_core.domain.errors import ServiceUnavailable
from photo_core.settings import Settings
from tests.integration.loopback import SilentServer

pytestmark = pytest.mark.integration


def test_a_silent_identity_platform_is_service_unavailable_within_the_timeouts() -> None:
    silent = SilentServer()
    try:
        settings = Settings.from_env({
            "PHOTO_AUTHORITY": silent.url + "/tenant", "PHOTO_AUTH_MODE": "client_secret",
            "PHOTO_AUTHORITY_HOST_OVERRIDE": urlsplit(silent.url).hostname or "",
            "PHOTO_TENANT_ID": "tenant", "PHOTO_CLIENT_ID": "client",
            "PHOTO_CLIENT_SECRET": "s3cr3t", "PHOTO_HTTP_CONNECT_TIMEOUT_SECONDS": "0.5",
            "PHOTO_HTTP_READ_TIMEOUT_SECONDS": "0.5",
        })
        tokens = MsalTokenProvider(settings.auth, settings.api, build_session(settings.api))
        outcome: list[BaseException] = []

        def fetch() -> None:
            try:
                tokens.get_token()
            except BaseException as exc:  # handed to the test thread
                outcome.append(exc)

        worker = threading.Thread(target=fetch, daemon=True)
        worker.start()
        worker.join(timeout=60)  # 0.5 s timeouts: only a request left waiting takes this long
        assert not worker.is_alive(), "the token request is still waiting"
        assert len(outcome) == 1 and isinstance(outcome[0], ServiceUnavailable)
    finally:
        silent.close()
