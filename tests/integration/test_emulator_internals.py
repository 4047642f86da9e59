"""Pure parts of the emulator (no sockets): OData parsing, windows with a fake clock, the fault
RNG, directory validation. Fast, so the edge cases live here rather than in HTTP tests."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devstack.emulator import odata
from devstack.emulator.limits import (
    FaultConfigError,
    FaultInjector,
    FaultSettings,
    Limiter,
)
from tests.unit.fakes import FakeClock


@given(st.text(min_size=0, max_size=40))
def test_key_quoting_round_trips(key: str) -> None:
    parsed = odata.parse_key_segment(f"users({odata.quote_key(key)})")
    assert parsed is not None
    assert (parsed.collection, parsed.key) == ("users", key)


@pytest.mark.parametrize("segment", ["users('a'b')", "users(a)", "users('x''')x')", "users(''')"])
def test_badly_quoted_keys_are_syntax_errors(segment: str) -> None:
    with pytest.raises(odata.ODataSyntaxError):
        odata.parse_key_segment(segment)


def test_non_key_segments_and_guid_keys() -> None:
    assert odata.parse_key_segment("users") is None
    guid = "d0d0cafe-0001-4000-8000-000000000001"
    assert odata.parse_key_segment(f"Users({guid})") == odata.KeySegment("Users", guid)


@pytest.mark.parametrize(("text", "expected"), [
    ("employeeId eq '123'", ("employeeId", "123")),
    ("  EMPLOYEEID   EQ   'a''b'  ", ("employeeId", "a'b")),
    ("userPrincipalName eq 'o''brien@contoso.com'", ("userPrincipalName", "o'brien@contoso.com")),
])
def test_filters(text: str, expected: tuple[str, str]) -> None:
    assert odata.parse_filter(text) == expected


@pytest.mark.parametrize("text", ["employeeId eq 'a'b'", "employeeId eq '1' or id eq '2'",
                                  "startswith(mail,'a')", "city eq 'x'", ""])
def test_unsupported_filters(text: str) -> None:
    with pytest.raises(odata.UnsupportedQuery):
        odata.parse_filter(text)


def test_request_window_slides_and_reports_the_wait() -> None:
    clock = FakeClock()
    limiter = Limiter(clock.monotonic)
    s = FaultSettings(mailbox_request_limit=2, mailbox_window_s=10)
    for _ in range(2):
        assert limiter.acquire(s, "app", "mbx", 0) is None
        limiter.release("app", "mbx")
    clock.advance(4)
    refused = limiter.acquire(s, "app", "mbx", 0)
    assert refused is not None
    assert (refused.limit, refused.retry_after) == ("mailbox_requests", 6)
    clock.advance(6)
    assert limiter.acquire(s, "app", "mbx", 0) is None


def test_upload_window_frees_bytes_as_entries_expire() -> None:
    clock = FakeClock()
    limiter = Limiter(clock.monotonic)
    s = FaultSettings(upload_bytes_limit=100, upload_window_s=60)
    assert limiter.acquire(s, "app", "mbx", 60) is None
    limiter.release("app", "mbx")
    clock.advance(30)
    assert limiter.acquire(s, "app", "mbx", 30) is None
    limiter.release("app", "mbx")
    refused = limiter.acquire(s, "app", "mbx", 50)
    assert refused is not None
    assert (refused.limit, refused.retry_after) == ("upload_bytes", 30)
    too_big = limiter.acquire(s, "app", "other", 101)
    assert too_big is not None
    assert too_big.retry_after == 60


def test_concurrency_counts_in_flight_requests() -> None:
    limiter = Limiter(FakeClock().monotonic)
    s = FaultSettings(concurrency_limit=2)
    assert limiter.acquire(s, "app", "mbx", 0) is None
    assert limiter.acquire(s, "app", "mbx", 0) is None
    refused = limiter.acquire(s, "app", "mbx", 0)
    assert refused is not None
    assert refused.limit == "concurrency"
    assert limiter.acquire(s, "other-app", "mbx", 0) is None
    assert limiter.in_flight() == {"app/mbx": 2, "other-app/mbx": 1}
    limiter.release("app", "mbx")
    assert limiter.acquire(s, "app", "mbx", 0) is None


def _kinds(injector: FaultInjector, n: int) -> list[tuple[str, ...]]:
    return [injector.decide("api", "GET", "graph.photo.get").kinds for _ in range(n)]


def test_fault_rng_is_reproducible_and_independent_of_outcomes() -> None:
    s = FaultSettings(seed=3, throttle_rate=0.3, error_rate=0.3, reset_rate=0.1, spike_rate=0.5)
    a, b = FaultInjector(s), FaultInjector(s)
    assert _kinds(a, 50) == _kinds(b, 50)
    # A different mix of rates draws the same numbers, so the reset decisions line up.
    c = FaultInjector(FaultSettings(seed=3, reset_rate=0.1))
    resets_a = ["reset" in k for k in _kinds(FaultInjector(s), 50)]
    resets_c = ["reset" in k for k in _kinds(c, 50)]
    assert resets_a == resets_c


def test_script_steps_are_consumed_by_matching_requests_only() -> None:
    s = FaultSettings().updated({"script": [{"status": 503, "method": "PATCH"},
                                            {"status": 429, "target": "token"}]})
    injector = FaultInjector(s)
    assert injector.decide("api", "GET", "graph.photo.get").status is None
    assert injector.decide("token", "POST", "identity.token").status == 429
    assert injector.decide("api", "PATCH", "graph.photo.set").status == 503
    assert injector.pending_script() == []


@pytest.mark.parametrize("patch", [
    {"throttle_rate": -0.1}, {"latency_ms": 1.5}, {"concurrency_limit": 0},
    {"error_status": 404}, {"mailbox_window_s": 0}, {"script": {"status": 429}},
    {"script": [{"status": "429"}]}, {"script": [{"target": "admin"}]}, {"seed": "x"},
])
def test_bad_settings_name_the_problem(patch: dict[str, Any]) -> None:
    with pytest.raises(FaultConfigError) as excinfo:
        FaultSettings().updated(patch)
    assert next(iter(patch)) in str(excinfo.value) or "script" in str(excinfo.value)
