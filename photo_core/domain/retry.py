"""Retry policy: when to try a request again and how long to wait first.

The policy never sleeps. It returns a delay, and the caller decides whether to wait or to raise a
retryable error so the platform redelivers later. The budget is the function timeout: a policy
that slept for an hour on a ``Retry-After`` would be killed by the host half-way through, and the
drop would be retried anyway, later and with less information.

A ``Deadline`` bounds a whole piece of work made of several calls (a lookup: resolve, metadata,
sizes), where the per-call budget alone would let each call wait its full budget in turn.
"""

from __future__ import annotations

import email.utils
import random
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime

from photo_core.domain.clock import Clock

DEFAULT_MAX_ATTEMPTS = 6
DEFAULT_BUDGET_SECONDS = 120.0
DEFAULT_BACKOFF_BASE_SECONDS = 0.5
DEFAULT_BACKOFF_MAX_SECONDS = 30.0
MAX_RETRY_AFTER_SECONDS = 600.0

# 408 and 429 are the only client errors worth repeating: the request was fine, the timing was
# not. Every other 4xx will get the same answer next time.
RETRYABLE_CLIENT_STATUSES = frozenset({408, 429})


def is_retryable_status(status: int) -> bool:
    """Server errors and request-timeout/throttling statuses may succeed when repeated."""
    return status >= 500 or status in RETRYABLE_CLIENT_STATUSES


_DELTA_SECONDS = re.compile(r"[0-9]+")


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header in either form (delta-seconds or HTTP-date).

    Returns ``None`` when the header is missing or malformed; never a negative number, since a
    date in the past means "now".
    """
    if value is None:
        return None
    text = value.strip()
    if _DELTA_SECONDS.fullmatch(text):  # ASCII digits only: str.isdigit() also takes "²"
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded attempts within a time budget, exponential backoff with full jitter, and
    ``Retry-After`` honoured (clamped, so a hostile or buggy header cannot park us for days)."""

    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    budget_seconds: float = DEFAULT_BUDGET_SECONDS
    backoff_base: float = DEFAULT_BACKOFF_BASE_SECONDS
    backoff_max: float = DEFAULT_BACKOFF_MAX_SECONDS
    retry_after_max: float = MAX_RETRY_AFTER_SECONDS

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.budget_seconds < 0 or self.backoff_base < 0 or self.backoff_max < 0:
            raise ValueError("budget and backoff must not be negative")

    def backoff(self, attempts_made: int, rand: Callable[[], float]) -> float:
        """Full-jitter exponential backoff: uniform in [0, min(max, base * 2**(n-1))].

        Full jitter spreads retries of many concurrent drops apart instead of having them
        return in lock step and trip the same throttle again.
        """
        ceiling = min(self.backoff_max, self.backoff_base * 2.0 ** max(0, attempts_made - 1))
        return ceiling * rand()

    def honoured(self, retry_after: float) -> float:
        """The part of a ``Retry-After`` photo-sync waits: never negative, at most
        ``retry_after_max`` (a hostile or buggy header must not park it for days)."""
        return min(max(0.0, retry_after), self.retry_after_max)

    def next_delay(
        self,
        *,
        attempts_made: int,
        elapsed: float,
        retry_after: float | None,
        rand: Callable[[], float],
        remaining: float | None = None,
    ) -> float | None:
        """How long to wait before the next attempt, or ``None`` to stop retrying.

        Stops when the attempts are used up or when waiting would overrun the budget; the caller
        then raises a retryable error and the platform redelivers the work later. ``remaining``
        is the time left before an outer deadline (a whole lookup's), if there is one: a wait
        that would not end before it is pointless, since no attempt could follow it.
        """
        if attempts_made >= self.max_attempts:
            return None
        if retry_after is not None:
            delay = self.honoured(retry_after)
        else:
            delay = self.backoff(attempts_made, rand)
        if elapsed + delay > self.budget_seconds:
            return None
        if remaining is not None and delay >= remaining:
            return None
        return delay


@dataclass(frozen=True)
class Deadline:
    """The moment by which a whole piece of work must be done, on ``clock``'s monotonic scale.

    A lookup answers an HTTP caller: Azure's front end cuts a response off at 230 s, and a caller
    is better served by a prompt 503 with ``Retry-After`` than by a request that waits out the
    service's throttle one call after another. ``seconds`` is the budget it was made from, for
    messages."""

    expires: float
    seconds: float
    clock: Clock

    @classmethod
    def after(cls, seconds: float, clock: Clock) -> Deadline:
        return cls(clock.monotonic() + seconds, seconds, clock)

    def remaining(self) -> float:
        """Seconds left, never negative."""
        return max(0.0, self.expires - self.clock.monotonic())

    def sooner(self, other: Deadline | None) -> Deadline:
        """Whichever of the two ends first (both on the same clock)."""
        return self if other is None or self.expires <= other.expires else other


# The deadline of the work this thread (or task) is doing. It travels with the work rather than
# through every signature because the calls it bounds are made by objects shared with the drop
# path (the photo API client, and the resolver that holds it and its caches).
_current_deadline: ContextVar[Deadline | None] = ContextVar("photo_sync_deadline", default=None)


@contextmanager
def within(deadline: Deadline | None) -> Iterator[Deadline | None]:
    """Run the block under ``deadline`` (or under an enclosing one, if that ends sooner);
    ``None`` adds no bound of its own."""
    outer = _current_deadline.get()
    bound = deadline.sooner(outer) if deadline is not None else outer
    token = _current_deadline.set(bound)
    try:
        yield bound
    finally:
        _current_deadline.reset(token)


def current_deadline() -> Deadline | None:
    """The deadline of the enclosing ``within`` block, or ``None`` outside one."""
    return _current_deadline.get()


def system_random() -> float:
    """Jitter source; not for security."""
    return random.random()  # noqa: S311 - jitter, not cryptography
