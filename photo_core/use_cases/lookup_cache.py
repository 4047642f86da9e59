"""A small per-process cache of lookup answers, so repeated lookups cost no upstream call.

A lookup costs two photo API calls (metadata and sizes) and a state-table read; an answer is the
same for every caller until a photo changes. Answers are kept for ``ttl_seconds`` (the
``PHOTO_LOOKUP_CACHE_SECONDS`` setting; 0 turns the cache off) with their strong ETag, so a
conditional request whose ``If-None-Match`` names a current answer is a 304 from memory.

What it trades: an answer can be up to ``ttl_seconds`` old. ``forget`` drops a user's answers at
once, for the drop path to call after it changed that user's photo in this process; a change
made elsewhere (another instance, or someone editing the photo in Microsoft 365) shows within
the TTL. Only successful answers are
kept (a user without a photo is an answer; errors and throttling are not), the entry count is
bounded (least recently used go first), and the cache is thread-safe: the functions host serves
HTTP requests on several threads.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from photo_core.domain.clock import SYSTEM_CLOCK, Clock

__all__ = ["DEFAULT_MAX_ENTRIES", "DEFAULT_TTL_SECONDS", "Answer", "CachedLookup", "LookupCache"]

DEFAULT_TTL_SECONDS = 30.0
DEFAULT_MAX_ENTRIES = 10_000
# A lookup takes at most PHOTO_LOOKUP_BUDGET_SECONDS (60 at most) plus a table read: a forget
# older than this cannot be newer than any lookup still running.
FORGET_HORIZON_SECONDS = 300.0


class Answer(Protocol):
    """What the cache keeps: an answer with a strong validator (``lookup.LookupResult``). The
    cache needs nothing else of it, so it does not depend on the lookup that fills it."""

    @property
    def etag(self) -> str: ...


A = TypeVar("A", bound=Answer)


@dataclass(frozen=True, slots=True)
class CachedLookup(Generic[A]):
    result: A
    etag: str
    expires: float  # on the cache's monotonic clock


class LookupCache(Generic[A]):
    """Lookup answers by user reference (as typed, after validation), each for ``ttl_seconds``."""

    def __init__(self, ttl_seconds: float = DEFAULT_TTL_SECONDS,
                 max_entries: int = DEFAULT_MAX_ENTRIES,
                 clock: Clock = SYSTEM_CLOCK) -> None:
        if ttl_seconds < 0 or max_entries < 1:
            raise ValueError("ttl_seconds must be >= 0 and max_entries >= 1")
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, CachedLookup[A]] = OrderedDict()
        # user (lower-cased reference value) -> the keys about them, so ``forget``, which the
        # drop path calls after every upload, costs the same with 10 entries or 10,000.
        self._by_user: dict[str, set[str]] = {}
        # user -> when they were last forgotten: an answer fetched before that is not kept (a
        # lookup that began before an upload and ended after its ``forget`` holds the old photo)
        self._forgotten: dict[str, float] = {}
        self._cleared = float("-inf")  # when everything was last forgotten
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.ttl_seconds > 0

    def get(self, key: str) -> CachedLookup[A] | None:
        """The current answer for ``key``, or None (never cached, expired or forgotten)."""
        if not self.enabled:
            return None
        now = self._clock.monotonic()
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry.expires <= now:
                self._drop(key)
                return None
            self._entries.move_to_end(key)
            return entry

    def started(self) -> float:
        """A mark to take before fetching an answer, and to give to :meth:`put` with it."""
        return self._clock.monotonic()

    def put(self, key: str, result: A, started: float | None = None) -> CachedLookup[A]:
        """Keep ``result`` for ``key``; returns the entry (with the answer's ETag). With
        ``started``, an answer whose user was forgotten since is returned but not kept."""
        entry = CachedLookup(result, result.etag, self._clock.monotonic() + self.ttl_seconds)
        if not self.enabled:
            return entry
        with self._lock:
            forgotten = max(self._forgotten.get(_user_of(key), self._cleared), self._cleared)
            if started is not None and forgotten >= started:
                return entry
            self._entries[key] = entry
            self._entries.move_to_end(key)
            self._by_user.setdefault(_user_of(key), set()).add(key)
            while len(self._entries) > self.max_entries:
                self._drop(next(iter(self._entries)))
        return entry

    def forget(self, user: str) -> None:
        """Drop every answer about ``user`` (any reference kind whose value matches,
        case-insensitively), e.g. after this process uploaded a new photo for them."""
        with self._lock:
            now = self._clock.monotonic()  # under the lock: marks only ever move forward
            for key in list(self._by_user.get(user.lower(), ())):
                self._drop(key)
            self._forgotten[user.lower()] = now
            if len(self._forgotten) > self.max_entries:  # only recent marks matter
                horizon = now - FORGET_HORIZON_SECONDS
                self._forgotten = {u: t for u, t in self._forgotten.items() if t > horizon}

    def forget_all(self) -> None:
        """Drop every answer: after a change whose user cannot be told by the references
        answers are kept under (a photo dropped by employee id went to an object id, while
        lookups may name the same user by UPN)."""
        with self._lock:
            now = self._clock.monotonic()
            self._entries.clear()
            self._by_user.clear()
            self._forgotten.clear()
            self._cleared = now

    def _drop(self, key: str) -> None:
        """Remove ``key`` and its index entry (the lock is held)."""
        del self._entries[key]
        user = _user_of(key)
        keys = self._by_user.get(user)
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._by_user[user]

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


def _user_of(key: str) -> str:
    """Keys are ``kind:value`` (see ``lookup.py``); answers about a user share the value."""
    return key.partition(":")[2].lower()
