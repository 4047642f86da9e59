"""Outbound HTTP with and without a proxy in the environment, against real loopback servers.

Clients skip requests' per-request environment walk only when no proxy is configured; a proxy
set in the environment (``HTTP_PROXY``, with ``NO_PROXY`` exceptions) must still be used by the
photo API session and by the storage clients."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from azure.core.exceptions import ResourceNotFoundError

from devstack.azurite import DEV_ACCOUNT, DEV_KEY
from photo_core.adapters.http_env import CA_BUNDLE_VARIABLES, PROXY_VARIABLES
from photo_core.adapters.photo_api_settings import ApiSettings
from photo_core.bootstrap import build_container_client, build_session
from photo_core.settings import StorageSettings
from tests.integration.loopback import RecordingServer

pytestmark = pytest.mark.integration


Recorder = RecordingServer[str]


def recorder(status: int) -> Recorder:
    """A loopback HTTP server that answers every GET with ``status`` and records the request
    line it saw (a forward proxy sees absolute URLs, a server only paths)."""
    return RecordingServer(status, lambda request: request.path)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in PROXY_VARIABLES + CA_BUNDLE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    return monkeypatch


@pytest.fixture
def servers() -> Iterator[tuple[Recorder, Recorder]]:
    proxy, target = recorder(200), recorder(200)
    yield proxy, target
    proxy.close()
    target.close()


def test_the_photo_api_session_uses_a_proxy_from_the_environment(
        clean_env: pytest.MonkeyPatch, servers: tuple[Recorder, Recorder]) -> None:
    proxy, target = servers
    clean_env.setenv("HTTP_PROXY", proxy.url)
    session = build_session(ApiSettings(base_url=target.url + "/v1.0"))
    assert session.get(target.url + "/v1.0/me", timeout=10).status_code == 200
    assert proxy.seen == [target.url + "/v1.0/me"]
    assert target.seen == []


def test_no_proxy_exceptions_still_apply(clean_env: pytest.MonkeyPatch,
                                         servers: tuple[Recorder, Recorder]) -> None:
    proxy, target = servers
    clean_env.setenv("HTTP_PROXY", proxy.url)
    clean_env.setenv("NO_PROXY", "127.0.0.1")
    session = build_session(ApiSettings(base_url=target.url + "/v1.0"))
    assert session.get(target.url + "/v1.0/me", timeout=10).status_code == 200
    assert proxy.seen == []
    assert target.seen == ["/v1.0/me"]


def test_without_a_proxy_the_session_goes_direct_and_keeps_the_environment_ca_bundle(
        clean_env: pytest.MonkeyPatch, servers: tuple[Recorder, Recorder]) -> None:
    _, target = servers
    clean_env.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/corporate.pem")
    session = build_session(ApiSettings(base_url=target.url + "/v1.0"))
    assert session.trust_env is False
    assert session.verify == "/etc/ssl/certs/corporate.pem"
    assert session.get(target.url + "/v1.0/me", timeout=10).status_code == 200
    assert target.seen == ["/v1.0/me"]


def test_storage_clients_use_a_proxy_from_the_environment(
        clean_env: pytest.MonkeyPatch) -> None:
    proxy, target = recorder(404), recorder(404)
    try:
        clean_env.setenv("HTTP_PROXY", proxy.url)
        connection = (f"DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT};"
                      f"AccountKey={DEV_KEY};BlobEndpoint={target.url}/{DEV_ACCOUNT};")
        container = build_container_client(StorageSettings(connection_string=connection),
                                           "hr-photos")
        with pytest.raises(ResourceNotFoundError):
            container.get_container_properties()
        assert [path.split("?")[0] for path in proxy.seen] == [
            f"{target.url}/{DEV_ACCOUNT}/hr-photos"]
        assert target.seen == []
    finally:
        proxy.close()
        target.close()


def test_without_a_proxy_storage_clients_read_the_environment_once(
        clean_env: pytest.MonkeyPatch) -> None:
    """Built with no proxy configured, a client does not look at the environment per request:
    a proxy variable set afterwards takes effect at the next start, not mid-flight."""
    proxy, target = recorder(404), recorder(404)
    try:
        connection = (f"DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT};"
                      f"AccountKey={DEV_KEY};BlobEndpoint={target.url}/{DEV_ACCOUNT};")
        container = build_container_client(StorageSettings(connection_string=connection),
                                           "hr-photos")
        clean_env.setenv("HTTP_PROXY", proxy.url)
        with pytest.raises(ResourceNotFoundError):
            container.get_container_properties()
        assert proxy.seen == []
        assert [path.split("?")[0] for path in target.seen] == [f"/{DEV_ACCOUNT}/hr-photos"]
    finally:
        proxy.close()
        target.close()
