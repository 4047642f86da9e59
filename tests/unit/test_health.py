"""The anonymous health route answers from a result a few seconds old, shared by concurrent
callers: requests cannot be turned into storage reads and token requests."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import pytest

from photo_core.entrypoints import handlers
from photo_core.entrypoints.shared_result import SharedResult
from tests.unit.fakes import FakeClock


def test_a_result_is_kept_for_its_ttl_then_computed_again() -> None:
    clock = FakeClock()
    shared = SharedResult[int](5.0, clock.monotonic)
    computed: list[int] = []

    def compute() -> int:
        computed.append(len(computed))
        return len(computed)

    assert [shared.get(compute) for _ in range(100)] == [1] * 100
    clock.advance(4.9)
    assert shared.get(compute) == 1
    clock.advance(0.2)
    assert shared.get(compute) == 2
    assert len(computed) == 2


def test_a_failure_is_not_kept() -> None:
    shared = SharedResult[int](5.0, FakeClock().monotonic)
    calls: list[int] = []

    def failing() -> int:
        calls.append(1)
        raise RuntimeError("down")

    for _ in range(3):
        with pytest.raises(RuntimeError):
            shared.get(failing)
    assert len(calls) == 3
    assert shared.get(lambda: 7) == 7


def test_concurrent_callers_share_one_computation() -> None:
    shared = SharedResult[str](5.0, FakeClock().monotonic)
    started, release = threading.Event(), threading.Event()
    computed: list[int] = []

    def slow() -> str:
        computed.append(1)
        started.set()
        release.wait(timeout=30)
        return "ok"

    answers: list[str] = []
    first = threading.Thread(target=lambda: answers.append(shared.get(slow)))
    first.start()
    assert started.wait(timeout=30)
    others = [threading.Thread(target=lambda: answers.append(shared.get(slow)))
              for _ in range(7)]
    for thread in others:
        thread.start()
    release.set()
    for thread in (first, *others):
        thread.join(timeout=30)
    assert answers == ["ok"] * 8 and computed == [1]


@dataclass
class CountingState:
    reads: int = 0

    def get(self, key: str) -> None:
        self.reads += 1


@dataclass
class CountingTokens:
    fetched: int = 0

    def get_token(self) -> str:
        self.fetched += 1
        return "t"


@dataclass
class Services:
    state: CountingState = field(default_factory=CountingState)
    tokens: CountingTokens = field(default_factory=CountingTokens)


def test_many_health_requests_make_one_table_read_and_one_token_request(
        monkeypatch: pytest.MonkeyPatch) -> None:
    services, clock = Services(), FakeClock()
    monkeypatch.setattr(handlers, "app_services", lambda: services)
    monkeypatch.setattr(handlers, "_health", [])
    results = [handlers.handle_health(clock.monotonic) for _ in range(50)]
    assert all(r.ok for r in results)
    assert (services.state.reads, services.tokens.fetched) == (1, 1)
    clock.advance(handlers.HEALTH_CACHE_SECONDS)
    handlers.handle_health(clock.monotonic)
    assert (services.state.reads, services.tokens.fetched) == (2, 2)
    fresh = Services()  # the app reloaded its settings: probe those, not the old answer
    monkeypatch.setattr(handlers, "app_services", lambda: fresh)
    handlers.handle_health(clock.monotonic)
    assert (fresh.state.reads, fresh.tokens.fetched) == (1, 1)
