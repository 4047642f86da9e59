"""Retry policy: table-driven, with a frozen clock and fixed jitter."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from photo_core.domain.retry import (
    Deadline,
    RetryPolicy,
    current_deadline,
    is_retryable_status,
    parse_retry_after,
    within,
)
from tests.unit.fakes import FakeClock

NOW = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        (None, None),
        ("", None),
        ("0", 0.0),
        ("7", 7.0),
        (" 12 ", 12.0),
        ("Sat, 28 Nov 2026 12:00:30 GMT", 30.0),
        ("Sat, 28 Nov 2026 11:59:00 GMT", 0.0),  # in the past: retry now
        ("-5", None),
        ("1.5", None),
        ("soon", None),
        ("\u00b2", None),  # a stray latin-1 byte that str.isdigit() takes for a digit
        ("\u0663", None),  # Arabic-Indic three
        ("Sat, 99 Nov 2026 12:00:30 GMT", None),
    ],
)
def test_retry_after_is_read_in_both_forms(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header, NOW) == seconds


@pytest.mark.parametrize(
    ("status", "retryable"),
    [(200, False), (400, False), (401, False), (403, False), (404, False), (408, True),
     (413, False), (429, True), (500, True), (502, True), (503, True), (504, True)],
)
def test_only_5xx_408_and_429_are_retried(status: int, retryable: bool) -> None:
    assert is_retryable_status(status) is retryable


def _half() -> float:
    return 0.5


def _one() -> float:
    return 1.0


@pytest.mark.parametrize(
    ("attempts_made", "expected_ceiling"),
    [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 8.0)],
)
def test_backoff_doubles_up_to_its_ceiling(attempts_made: int, expected_ceiling: float) -> None:
    policy = RetryPolicy(max_attempts=10, backoff_base=0.5, backoff_max=5.0)
    assert policy.backoff(attempts_made, _one) == min(expected_ceiling, 5.0)
    assert policy.backoff(attempts_made, _half) == min(expected_ceiling, 5.0) / 2


def test_retry_after_wins_over_backoff() -> None:
    policy = RetryPolicy()
    assert policy.next_delay(attempts_made=1, elapsed=0, retry_after=3.0, rand=_one) == 3.0


def test_retry_after_is_clamped() -> None:
    policy = RetryPolicy(budget_seconds=10_000, retry_after_max=60)
    assert policy.next_delay(attempts_made=1, elapsed=0, retry_after=86_400, rand=_one) == 60


def test_gives_up_when_attempts_are_used() -> None:
    policy = RetryPolicy(max_attempts=3)
    assert policy.next_delay(attempts_made=2, elapsed=0, retry_after=None, rand=_one) is not None
    assert policy.next_delay(attempts_made=3, elapsed=0, retry_after=None, rand=_one) is None


def test_gives_up_rather_than_wait_past_the_budget() -> None:
    policy = RetryPolicy(budget_seconds=10)
    assert policy.next_delay(attempts_made=1, elapsed=4, retry_after=6, rand=_one) == 6
    assert policy.next_delay(attempts_made=1, elapsed=4, retry_after=7, rand=_one) is None


def test_policy_is_immutable_and_validated() -> None:
    policy = RetryPolicy()
    with pytest.raises(AttributeError):
        policy.max_attempts = 3  # type: ignore[misc]
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)


def test_an_outer_deadline_stops_a_wait_the_budget_would_allow() -> None:
    policy = RetryPolicy(budget_seconds=120)
    assert policy.next_delay(attempts_made=1, elapsed=0, retry_after=115, rand=_one) == 115
    assert policy.next_delay(attempts_made=1, elapsed=0, retry_after=115, rand=_one,
                             remaining=10) is None
    assert policy.next_delay(attempts_made=1, elapsed=0, retry_after=3, rand=_one,
                             remaining=10) == 3


def test_a_wait_that_ends_exactly_at_the_deadline_leaves_no_time_to_retry() -> None:
    policy = RetryPolicy()
    assert policy.next_delay(attempts_made=1, elapsed=0, retry_after=4, rand=_one,
                             remaining=4) is None


def test_a_deadline_counts_down_on_its_clock_and_never_below_zero() -> None:
    clock = FakeClock(NOW)
    deadline = Deadline.after(10, clock)
    assert (deadline.seconds, deadline.remaining()) == (10, 10)
    clock.sleep(7)
    assert deadline.remaining() == 3
    clock.sleep(5)
    assert deadline.remaining() == 0


def test_within_sets_the_deadline_for_the_block_only() -> None:
    deadline = Deadline.after(10, FakeClock(NOW))
    assert current_deadline() is None
    with within(deadline):
        assert current_deadline() is deadline
    assert current_deadline() is None


def test_a_nested_deadline_cannot_outlast_the_enclosing_one() -> None:
    clock = FakeClock(NOW)
    outer, later, sooner = (Deadline.after(s, clock) for s in (10, 60, 2))
    with within(outer):
        with within(later) as effective:
            assert effective is outer and current_deadline() is outer
        with within(sooner) as effective:
            assert effective is sooner
        assert current_deadline() is outer
