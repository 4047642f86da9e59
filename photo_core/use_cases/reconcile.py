"""Reconcile: process every drop that Event Grid never delivered, or whose photo is not the user's.

Event Grid only fires for new blobs, so the first bulk load, dead-lettered events and outages
leave drops without an outcome. Reconcile walks the drop container and runs the same sync on:

* every blob without a recorded outcome;
* every blob recorded as uploaded or unchanged whose content is not what the user's state says
  was last uploaded, when the blob is not older than that upload (the state was lost, or the
  photo went missing);
* with ``retry_rejected``, every rejected blob (after HR or an admin fixed the cause).

It is resumable by construction: finished blobs carry their outcome, so a second run after an
interruption skips them. Concurrency is bounded, and a throttled drop pauses new work for the
service's ``Retry-After`` instead of piling on.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from photo_core.domain.errors import Throttled, TransientError
from photo_core.domain.naming import UserRef, parse_blob_name
from photo_core.domain.outcomes import Outcome, Status
from photo_core.use_cases.ports import (
    Drop,
    DropInfo,
    RecordedOutcome,
    StateConflict,
    StateStore,
    UserState,
)
from photo_core.use_cases.sync import SyncDeps, SyncOptions, sync_drop

logger = logging.getLogger(__name__)

MAX_PAUSE_SECONDS = 120.0


@dataclass(frozen=True)
class Listing:
    name: str
    last_modified: datetime
    recorded: RecordedOutcome | None


class DropSource(Protocol):
    """Port: the drop container, listed without reading content."""

    def list(self, prefix: str | None) -> Iterator[Listing]: ...

    def open(self, name: str) -> Drop: ...


@dataclass(frozen=True)
class ReconcileOptions:
    prefix: str | None = None
    limit: int | None = None
    workers: int = 4
    retry_rejected: bool = False
    deadline_seconds: float | None = None  # start no drop after this long (the timer's budget)
    # Carry on from where the last run stopped (the nightly timer: a container too large to
    # walk within one run's deadline is walked over several nights, not its start over and over).
    resume: bool = False


@dataclass
class ReconcileSummary:
    scanned: int = 0
    selected: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    deferred: int = 0  # transient failures: left for the next run or the platform
    failed: int = 0  # unexpected errors (logged)
    stopped_early: bool = False

    def rows(self) -> list[tuple[str, int]]:
        rows = [("scanned", self.scanned), ("selected", self.selected)]
        rows += sorted(self.outcomes.items())
        rows += [("deferred", self.deferred), ("failed", self.failed)]
        if self.stopped_early:  # out of time: the rest is for the next run
            rows.append(("stopped early", 1))
        return rows


def without_outcome(drop: Listing | DropInfo) -> bool:
    """No outcome is recorded on this blob: none at all, or only a marker that came with a copy
    of another blob."""
    return drop.recorded is None or drop.recorded.blob_name != drop.name


def needs_work(listing: Listing, options: ReconcileOptions, sync: SyncOptions,
               state: StateStore) -> bool:
    recorded = listing.recorded
    if recorded is None or without_outcome(listing):
        return True
    if recorded.status is Status.REJECTED:
        return options.retry_rejected
    ref = parse_blob_name(listing.name, sync.naming)
    if not isinstance(ref, UserRef) or recorded.status is Status.WOULD_UPLOAD:
        return False
    if recorded.reason in ("superseded", "overwritten"):
        return False  # it never gave the user a photo, so there is nothing of it to repair
    current = state.get(ref.key)
    if current is None:
        return True
    user = current[0]
    newer_elsewhere = user.source_modified is not None and \
        listing.last_modified < user.source_modified
    return not newer_elsewhere and user.content_sha256 != recorded.content_sha256


def reconcile(source: DropSource, sync: SyncOptions, deps_for: Callable[[], SyncDeps],
              options: ReconcileOptions,
              progress: Callable[[ReconcileSummary], None] | None = None,
              on_outcome: Callable[[Outcome], None] | None = None) -> ReconcileSummary:
    """Process what needs it; ``deps_for`` makes the per-drop deps (one claim owner each), and
    ``on_outcome`` hears of each drop's outcome (the handler forgets cached lookups with it)."""
    summary = ReconcileSummary()
    lock = threading.Lock()
    pause_until = [0.0]
    started = time.monotonic()
    state = deps_for().state

    def out_of_time() -> bool:
        return options.deadline_seconds is not None and \
            time.monotonic() - started > options.deadline_seconds

    def defer(name: str) -> None:
        """Left for the next run, which starts no later than here (the lock is held)."""
        summary.deferred += 1
        left.append(name)

    def run(listing: Listing) -> None:
        wait = pause_until[0] - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        if out_of_time():  # queued before the deadline, not started: the next run does it
            with lock:
                defer(listing.name)
                summary.stopped_early = True
            return
        deps = deps_for()
        try:
            drop = source.open(listing.name)
            outcome = sync_drop(drop, sync, deps, force=listing.recorded is not None)
            if on_outcome:
                on_outcome(outcome)
            key = outcome.status.value + (f" ({outcome.reason})" if outcome.reason else "")
            with lock:
                summary.outcomes[key] += 1
        except Throttled as exc:
            with lock:
                defer(listing.name)
                pause = min(exc.retry_after or 5.0, MAX_PAUSE_SECONDS)
                pause_until[0] = max(pause_until[0], time.monotonic() + pause)
        except TransientError as exc:
            logger.warning("reconcile: %s deferred: %s", listing.name, exc.message)
            with lock:
                defer(listing.name)
        except Exception:
            logger.exception("reconcile: %s failed", listing.name)
            with lock:
                summary.failed += 1  # not kept in ``left``: a blob that fails every time
                # would hold the walk at itself every night
        if progress:
            progress(summary)

    workers = max(1, options.workers)
    slots = threading.BoundedSemaphore(workers)  # queue no more than the workers can start

    def run_in_slot(listing: Listing) -> None:
        try:
            run(listing)
        finally:
            slots.release()

    cursor = WalkCursor(state, options.prefix) if options.resume else None
    start = cursor.position() if cursor else None
    left: list[str] = []  # deferred or not reached: the next run must not start after them
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for listing in source.list(options.prefix):
            if start is not None and listing.name < start:
                continue  # done by an earlier run (listings come in name order)
            if (options.limit is not None and summary.selected >= options.limit) or \
                    out_of_time():
                summary.stopped_early = out_of_time()
                left.append(listing.name)  # the first one not examined
                break
            summary.scanned += 1
            if needs_work(listing, options, sync, state):
                summary.selected += 1
                slots.acquire()
                pool.submit(run_in_slot, listing)
    if cursor:
        cursor.move(min(left, default=None))
    return summary


class WalkCursor:
    """Where the next walk starts: the first blob name a run left undone (not examined before
    its deadline, or deferred; a failure is logged and passed), kept in the state table as a row
    of its own (``reconcile:<prefix>``, a key no user reference can have). A walk that leaves
    nothing undone clears it, so the next run starts from the beginning again."""

    def __init__(self, state: StateStore, prefix: str | None) -> None:
        self._state = state
        self._key = f"reconcile:{prefix or ''}"
        self._version: str | None = None

    def position(self) -> str | None:
        current = self._state.get(self._key)
        if current is None:
            return None
        row, self._version = current
        return row.last_blob_name

    def move(self, name: str | None) -> None:
        if name is None and self._version is None:
            return
        try:
            self._version = self._state.put(UserState(user=self._key, last_blob_name=name),
                                            self._version)
        except StateConflict:
            logger.warning("reconcile: another run moved the walk's position; keeping theirs")
