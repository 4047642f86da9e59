"""The local host's HTTP side: routes, keys, errors, admin routes, settings and logging."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from devstack.azurite import DEV_KEY, Azurite
from devstack.host import RunningHost, start_host
from devstack.host.settings import SettingsError
from tests.devstack.conftest import SAMPLE_APP, AppFiles, start_sample_host, write_app_files
from tests.waiting import wait_for

pytestmark = pytest.mark.integration


def test_route_parameters_query_and_headers_reach_the_function(host: RunningHost) -> None:
    key = host.keys.function_keys["user_photo"]
    answer = requests.get(host.url("users/jane%40contoso.com/photo"),
                          params={"code": key, "size": "48x48"},
                          headers={"x-sample": "hello"}, timeout=10)
    assert answer.status_code == 200
    body = answer.json()
    assert body["function"] == "user_photo"
    assert body["route"] == {"user": "jane@contoso.com"}
    assert body["params"]["size"] == "48x48"
    assert body["header"] == "hello"
    assert body["method"] == "GET"
    assert body["url"].startswith(host.url("users/"))


def test_literal_dollar_segment_body_status_headers_and_mimetype(host: RunningHost) -> None:
    answer = requests.put(host.url("users/o'brien@contoso.com/photo/$value"), data=b"\x01\x02\x03",
                          headers={"x-functions-key": host.keys.master_key}, timeout=10)
    assert answer.status_code == 201
    assert answer.content == b"\x03\x02\x01"
    assert answer.headers["Content-Type"] == "image/jpeg"
    assert answer.headers["X-Route-User"] == "o'brien@contoso.com"


def test_constraints_and_precedence_pick_the_right_function(host: RunningHost) -> None:
    by_id = requests.get(host.url("items/42"), timeout=10).json()
    by_name = requests.get(host.url("items/blue"), timeout=10).json()
    assert by_id == {"function": "item_by_id", "id": "42"}
    assert by_name == {"function": "item_by_name", "name": "blue"}


def test_unknown_routes_and_methods_are_404(host: RunningHost) -> None:
    key = {"code": host.keys.master_key}
    assert requests.get(host.url("nowhere"), params=key, timeout=10).status_code == 404
    assert requests.delete(host.url("users/jane/photo"), params=key,
                           timeout=10).status_code == 404
    assert requests.get(f"{host.base_url}/ping", timeout=10).status_code == 404  # no prefix


def test_function_level_needs_its_own_key_or_the_master_key(host: RunningHost) -> None:
    url = host.url("users/jane/photo")
    own = host.keys.function_keys["user_photo"]
    other = host.keys.function_keys["user_photo_value"]
    assert requests.get(url, timeout=10).status_code == 401
    assert requests.get(url, params={"code": "wrong"}, timeout=10).status_code == 401
    assert requests.get(url, params={"code": other}, timeout=10).status_code == 401
    assert requests.get(url, params={"code": own}, timeout=10).status_code == 200
    assert requests.get(url, headers={"x-functions-key": own}, timeout=10).status_code == 200
    assert requests.get(url, params={"code": host.keys.master_key},
                        timeout=10).status_code == 200


def test_one_host_key_opens_every_function_level_route_and_no_admin_one(
        host: RunningHost) -> None:
    key = {"code": host.keys.host_key}
    for route in ("users/jane/photo", "users/jane/photo/$value"):
        assert requests.get(host.url(route), params=key, timeout=10).ok
        assert requests.get(host.url(route), headers={"x-functions-key": host.keys.host_key},
                            timeout=10).ok
    assert requests.get(host.url("ops/stats"), params=key, timeout=10).status_code == 401


def test_admin_level_needs_the_master_key(host: RunningHost) -> None:
    url = host.url("ops/stats")
    function_key = host.keys.function_keys["ops_stats"]
    assert requests.get(url, params={"code": function_key}, timeout=10).status_code == 401
    answer = requests.get(url, headers={"x-functions-key": host.keys.master_key}, timeout=10)
    assert answer.status_code == 200
    assert answer.json() == {"function": "ops_stats"}


def test_anonymous_string_return_is_plain_text(host: RunningHost) -> None:
    answer = requests.get(host.url("ping"), timeout=10)
    assert answer.status_code == 200
    assert answer.text == "pong"
    assert answer.headers["Content-Type"].startswith("text/plain")


def test_an_exception_is_a_bare_500_and_is_logged_with_its_traceback(
        host: RunningHost, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        answer = requests.get(host.url("boom"), timeout=10)
    assert answer.status_code == 500
    assert "s3cr3t" not in answer.text
    assert "RuntimeError" not in answer.text
    failures = [r for r in caplog.records if r.levelno == logging.ERROR and r.exc_info]
    assert failures
    assert "s3cr3t" in str(failures[0].exc_info[1])  # type: ignore[index]


def test_the_host_logs_no_keys_and_no_account_key(
        host: RunningHost, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        key = host.keys.function_keys["user_photo"]
        requests.get(host.url("users/jane/photo"), params={"code": key}, timeout=10)
        requests.get(host.url("users/jane/photo"), params={"code": "bad"}, timeout=10)
        requests.post(host.webhook_url("OnDrop"), json=[], timeout=10)
        requests.post(host.eventgrid_webhook_url("OnEvent"), json=[], timeout=10)
    secrets = [key, host.keys.master_key, host.keys.blobs_extension_key,
               host.keys.eventgrid_extension_key, DEV_KEY]
    # urllib3 logs this test's own requests (URLs with ?code=); the host's records are the rest
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name != "urllib3."
                       "connectionpool")
    assert "GET /api/users/jane/photo -> 401" in logged
    assert all(secret not in logged for secret in secrets)


def test_host_admin_routes(host: RunningHost) -> None:
    assert requests.get(f"{host.base_url}/admin/host/ping", timeout=10).status_code == 200
    status = f"{host.base_url}/admin/host/status"
    assert requests.get(status, timeout=10).status_code == 401
    answer = requests.get(status, params={"code": host.keys.master_key}, timeout=10)
    assert answer.json()["id"] == host.host_id


def test_a_timer_runs_on_demand_through_the_admin_route(host: RunningHost,
                                                         app_files: AppFiles) -> None:
    url = f"{host.base_url}/admin/functions/yearly"
    before = len(app_files.records("timer", "yearly"))
    assert requests.post(url, json={"input": ""}, timeout=10).status_code == 401
    answer = requests.post(url, json={"input": ""}, params={"code": host.keys.master_key},
                           timeout=10)
    assert answer.status_code == 202
    wait_for(lambda: len(app_files.records("timer", "yearly")) > before)


def test_keys_are_generated_once_and_reused(app_files: AppFiles) -> None:
    first = start_sample_host(app_files, watch=False)
    first.stop()
    with start_sample_host(app_files, watch=False) as second:
        assert second.keys == first.keys
        assert second.host_id == first.host_id
        assert (app_files.state_dir / "keys.json").stat().st_mode & 0o077 == 0


def test_environment_beats_local_settings_and_stop_removes_what_the_host_added(
        app_files: AppFiles, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAMPLE_BOTH", "from-environment")
    monkeypatch.delenv("SAMPLE_FROM_FILE", raising=False)
    with start_sample_host(app_files, watch=False) as running:
        both = requests.get(running.url("env/SAMPLE_BOTH"), timeout=10).json()
        from_file = requests.get(running.url("env/SAMPLE_FROM_FILE"), timeout=10).json()
    assert both["value"] == "from-environment"
    assert from_file["value"] == "file"
    assert "SAMPLE_FROM_FILE" not in os.environ
    assert os.environ["SAMPLE_BOTH"] == "from-environment"


def test_route_prefix_from_host_json(tmp_path: Path, azurite: Azurite) -> None:
    files = write_app_files(tmp_path, azurite, host={
        "version": "2.0", "extensions": {"http": {"routePrefix": "v2/fn"}}})
    with start_sample_host(files, watch=False) as running:
        assert requests.get(f"{running.base_url}/v2/fn/ping", timeout=10).text == "pong"
        assert requests.get(f"{running.base_url}/api/ping", timeout=10).status_code == 404


def test_encrypted_local_settings_are_refused(tmp_path: Path) -> None:
    settings = tmp_path / "local.settings.json"
    settings.write_text('{"IsEncrypted": true, "Values": {"X": "enc"}}')
    with pytest.raises(SettingsError, match="IsEncrypted"):
        start_host(SAMPLE_APP, settings=settings, state_dir=tmp_path / "state")


def test_chunked_bodies_and_bad_lengths(host: RunningHost) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"ab"
        yield b"cd"

    answer = requests.put(host.url("users/jane/photo/$value"), data=chunks(),
                          params={"code": host.keys.master_key}, timeout=10)
    assert answer.status_code == 201
    assert answer.content == b"dcba"
    port = int(host.base_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        raw.sendall(b"POST /api/ping HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n")
        assert raw.recv(100).startswith(b"HTTP/1.1 400")
