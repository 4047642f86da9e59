"""One result, computed at most once per few seconds however many callers ask at once.

Why: the anonymous ``/api/health`` route reads the state table and fetches a token. Answered
afresh per request, anyone on the internet could turn requests into storage reads and
identity-platform calls. Kept for a few seconds and shared by concurrent callers (one probes,
the others wait for its answer), the probe's cost no longer grows with the request rate.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class SharedResult(Generic[T]):
    """``get(compute)`` returns the last result while it is younger than ``ttl_seconds`` (on
    ``clock``, a monotonic clock in seconds); otherwise one caller computes a new one while the
    others wait and share it. An exception is not kept: the next caller computes again."""

    def __init__(self, ttl_seconds: float, clock: Callable[[], float]) -> None:
        self._ttl = ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._value: T | None = None
        self._at: float | None = None

    def get(self, compute: Callable[[], T]) -> T:
        with self._lock:  # held while computing: concurrent callers wait and then share
            if self._at is not None and self._clock() - self._at < self._ttl:
                assert self._value is not None
                return self._value
            value = compute()
            self._value, self._at = value, self._clock()
            return value
