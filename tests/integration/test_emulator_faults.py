"""Throttling windows and fault injection (scripted and seeded) of the emulator."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import pytest
import requests

from tests.integration.emulator_fixture import client_token, emulator_session
from tests.photos import jpeg
from tests.waiting import wait_for

pytest_plugins = ["tests.integration.emulator_fixture"]
pytestmark = pytest.mark.integration

ADELE = "adele.vance@contoso.com"
ALEX = "alex.wilber@contoso.com"


def faults(info: dict[str, Any], **settings: Any) -> dict[str, Any]:
    with emulator_session(info) as s:
        r = s.post(f"{info['admin_base']}/faults", json=settings, timeout=10)
    assert r.status_code == 200, r.text
    return dict(r.json())


def stats(info: dict[str, Any]) -> dict[str, Any]:
    with emulator_session(info) as s:
        return dict(s.get(f"{info['admin_base']}/stats", timeout=10).json())


class Graph:
    def __init__(self, info: dict[str, Any], token: str) -> None:
        self.info = info
        self.s = emulator_session(info)
        self.s.headers["Authorization"] = f"Bearer {token}"

    def photo(self, user: str = ADELE) -> requests.Response:
        return self.s.get(f"{self.info['graph_base']}/users/{user}/photo", timeout=30)

    def upload(self, body: bytes, user: str = ALEX) -> requests.Response:
        return self.s.patch(f"{self.info['graph_base']}/users/{user}/photo/$value", data=body,
                            headers={"Content-Type": "image/jpeg"}, timeout=30)


@pytest.fixture
def graph(emu: dict[str, Any]) -> Graph:
    return Graph(emu, client_token(emu))


def small_jpeg() -> bytes:
    return jpeg("green", (64, 64), quality=75)


# --- throttling windows -------------------------------------------------------------------------


def test_concurrency_per_app_per_mailbox(emu: dict[str, Any], graph: Graph) -> None:
    # A long scripted delay holds one request in its slot until POST /admin/release.
    faults(emu, concurrency_limit=1, script=[{"delay_ms": 30_000}])
    slow: list[requests.Response] = []
    holder = threading.Thread(target=lambda: slow.append(Graph(emu, client_token(emu)).photo()))
    holder.start()
    try:
        wait_for(lambda: stats(emu)["delayed"], what="the slow request to hold its slot")
        refused = graph.photo()
        other_mailbox = graph.photo("megan.bowen@contoso.com")
    finally:
        with emulator_session(emu) as s:
            released = s.post(f"{emu['admin_base']}/release", timeout=10).json()["released"]
        holder.join()
    assert released == 1
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "1"
    assert refused.json()["error"]["code"] == "ApplicationThrottled"
    assert other_mailbox.status_code == 200
    assert slow[0].status_code == 200
    assert graph.photo().status_code == 200  # the slot is free again
    assert stats(emu)["throttledByLimit"] == {"concurrency": 1}


def test_request_window_per_app_per_mailbox(emu: dict[str, Any], graph: Graph) -> None:
    faults(emu, mailbox_request_limit=3, mailbox_window_s=600)
    assert [graph.photo().status_code for _ in range(3)] == [200, 200, 200]
    refused = graph.photo()
    assert refused.status_code == 429
    assert 590 <= int(refused.headers["Retry-After"]) <= 600
    assert graph.photo("megan.bowen@contoso.com").status_code == 200
    other_app = Graph(emu, client_token(emu, client_id=emu["full_client_id"],
                                        secret=emu["full_client_secret"]))
    assert other_app.photo().status_code == 200


def test_upload_bytes_window(emu: dict[str, Any], graph: Graph) -> None:
    body = small_jpeg()
    faults(emu, upload_bytes_limit=len(body) * 2 - 1, upload_window_s=300)
    assert graph.upload(body).status_code == 200
    refused = graph.upload(body)
    assert refused.status_code == 429
    assert 290 <= int(refused.headers["Retry-After"]) <= 300
    assert graph.upload(body, user="o'brien@contoso.com").status_code == 200


def test_app_request_rate(emu: dict[str, Any], graph: Graph) -> None:
    faults(emu, app_request_limit=2, app_window_s=30)
    assert graph.photo().status_code == 200
    assert graph.photo("megan.bowen@contoso.com").status_code == 200
    refused = graph.photo("alex.wilber@contoso.com")
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "TooManyRequests"
    assert 1 <= int(refused.headers["Retry-After"]) <= 30


def test_retry_after_as_http_date(emu: dict[str, Any], graph: Graph) -> None:
    faults(emu, retry_after_format="http-date", throttle_rate=1.0, throttle_retry_after=120)
    r = graph.photo()
    assert r.status_code == 429
    when = parsedate_to_datetime(r.headers["Retry-After"])
    assert 100 <= (when - datetime.now(UTC)).total_seconds() <= 121


# --- scripted faults ----------------------------------------------------------------------------


def test_script_applies_exact_outcomes_in_order(emu: dict[str, Any], graph: Graph) -> None:
    faults(emu, script=[{"status": 429, "retry_after": 2}, {"status": 503}, {"reset": True},
                        {"delay_ms": 50}, {"status": 500, "code": "Boom", "message": "scripted"}])
    throttled = graph.photo()
    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"] == "2"
    assert throttled.json()["error"]["code"] == "TooManyRequests"
    unavailable = graph.photo()
    assert unavailable.status_code == 503
    assert unavailable.json()["error"]["code"] == "ServiceUnavailable"
    assert "Retry-After" not in unavailable.headers
    with pytest.raises(requests.ConnectionError):
        graph.photo()
    assert graph.photo().status_code == 200  # the delay step lets it through
    custom = graph.photo()
    assert (custom.status_code, custom.json()["error"]["code"]) == (500, "Boom")
    assert graph.photo().status_code == 200  # script exhausted
    s = stats(emu)
    assert s["faults"]["script"] == 5
    assert s["requests"]["graph.photo.get"]["reset"] == 1
    assert s["pendingScript"] == 0


def test_script_steps_can_match_a_method_or_operation(emu: dict[str, Any], graph: Graph) -> None:
    faults(emu, script=[{"status": 503, "method": "PATCH", "retry_after": 4},
                        {"status": 429, "operation": "graph.photos"}])
    assert graph.photo().status_code == 200
    r = graph.upload(small_jpeg())
    assert (r.status_code, r.headers["Retry-After"]) == (503, "4")
    assert graph.upload(small_jpeg()).status_code == 200
    sizes = graph.s.get(f"{emu['graph_base']}/users/{ADELE}/photos", timeout=10)
    assert sizes.status_code == 429
    with emulator_session(emu) as s:
        assert s.get(f"{emu['admin_base']}/faults", timeout=10).json()["script"] == []


def test_script_for_the_token_endpoints(emu: dict[str, Any]) -> None:
    faults(emu, script=[{"target": "token", "status": 503},
                        {"target": "token", "status": 429, "retry_after": 3},
                        {"target": "token", "status": 503}])
    form = {"grant_type": "client_credentials", "client_id": emu["client_id"],
            "client_secret": emu["client_secret"], "scope": "https://graph.microsoft.com/.default"}
    with emulator_session(emu) as s:
        first = s.post(emu["token_endpoint"], data=form, timeout=10)
        assert first.status_code == 503
        assert first.json()["error"] == "temporarily_unavailable"
        second = s.post(emu["token_endpoint"], data=form, timeout=10)
        assert (second.status_code, second.headers["Retry-After"]) == (429, "3")
        msi = s.get(emu["identity_endpoint"], timeout=10,
                    params={"api-version": "2019-08-01", "resource": "https://graph.microsoft.com"},
                    headers={"X-IDENTITY-HEADER": emu["identity_header"]})
        assert msi.status_code == 503
        assert msi.json()["error"] == "temporarily_unavailable"
        assert s.post(emu["token_endpoint"], data=form, timeout=10).status_code == 200


def test_invalid_fault_settings_are_refused(emu: dict[str, Any]) -> None:
    with emulator_session(emu) as s:
        for bad in ({"throttle_rate": 2}, {"nonsense": 1}, {"script": [{"status": 200}]},
                    {"script": [{"bogus": True}]}, {"retry_after_format": "minutes"}):
            r = s.post(f"{emu['admin_base']}/faults", json=bad, timeout=10)
            assert r.status_code == 400, bad
            assert r.json()["error"]["message"]


# --- random faults --------------------------------------------------------------------------------


def test_rates_of_one_always_fire(emu: dict[str, Any], graph: Graph) -> None:
    faults(emu, throttle_rate=1.0, throttle_retry_after=7)
    r = graph.photo()
    assert (r.status_code, r.headers["Retry-After"]) == (429, "7")
    faults(emu, throttle_rate=0.0, error_rate=1.0, error_retry_after=5)
    r = graph.photo()
    assert (r.status_code, r.headers["Retry-After"]) == (503, "5")
    faults(emu, error_rate=0.0, reset_rate=1.0)
    with pytest.raises(requests.ConnectionError):
        graph.photo()
    faults(emu, reset_rate=0.0, latency_ms=20, spike_rate=1.0, spike_ms=10)
    assert graph.photo().status_code == 200
    injected = stats(emu)["faults"]
    assert injected["throttle"] == injected["error"] == injected["reset"] == 1
    assert injected["latency"] == injected["spike"] == 1


def test_token_error_rate(emu: dict[str, Any], graph: Graph) -> None:
    faults(emu, token_error_rate=1.0)
    with emulator_session(emu) as s:
        r = s.post(emu["token_endpoint"], timeout=10, data={
            "grant_type": "client_credentials", "client_id": emu["client_id"],
            "client_secret": emu["client_secret"], "scope": "https://graph.microsoft.com/.default"})
    assert r.status_code == 503
    assert r.json()["error"] == "temporarily_unavailable"
    assert graph.photo().status_code == 200  # the photo API itself is unaffected


def test_same_seed_same_faults(emu: dict[str, Any], graph: Graph) -> None:
    def run() -> list[int]:
        return [graph.photo().status_code for _ in range(16)]

    faults(emu, seed=7, throttle_rate=0.5)
    first = run()
    faults(emu, seed=7)  # posting the seed reseeds
    assert run() == first
    assert set(first) == {200, 429}


def test_a_lost_answer_applies_the_upload_and_then_drops_the_connection(
        emu: dict[str, Any], graph: Graph) -> None:
    """As a timeout after the service did the work would: the caller cannot tell the upload
    landed, and only a read shows that it did."""
    photo = small_jpeg()
    faults(emu, script=[{"lose_answer": True, "method": "PATCH"}])
    with pytest.raises(requests.ConnectionError):
        graph.upload(photo)
    assert graph.photo(ALEX).status_code == 200  # the upload was applied
    with emulator_session(emu) as s:
        stored = s.get(f"{emu['admin_base']}/users/{ALEX}/photo", timeout=10)
    assert stored.content == photo
    faults(emu, lost_answer_rate=1.0)
    assert graph.photo().status_code == 200  # reads are answered: only writes lose answers
    with pytest.raises(requests.ConnectionError):
        graph.upload(photo)
    assert stats(emu)["faults"]["lost_answer"] == 1


def test_a_script_step_can_match_the_calling_application(emu: dict[str, Any],
                                                         graph: Graph) -> None:
    """Two instances signed in as two applications: a step for one leaves the other alone."""
    faults(emu, script=[{"status": 503, "method": "PATCH", "app": "another-client-id"},
                        {"status": 429, "method": "PATCH", "app": emu["client_id"]}])
    assert graph.upload(small_jpeg()).status_code == 429
    assert graph.upload(small_jpeg()).status_code == 200
    assert [s.get("app") for s in faults(emu)["script"]] == ["another-client-id"]
