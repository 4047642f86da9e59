"""Reconcile: process every drop that Event Grid never delivered, or whose photo is not the user's.

Event Grid only fires for new blobs, so the first bulk load, dead-lettered events and outages
leave drops without an outcome. Reconcile walks the drop container and runs the same sync on:

* every blob without a drop record in the state table, or whose version is not the one recorded
  (new content, or an edit of its metadata: the sync tells them apart);
* every blob recorded as uploaded or unchanged whose content is not what the user's state says
  was last uploaded, when the blob is not older than that upload (the state was lost, or the
  photo went missing), and the drop a user's photo came from when the live photo is unknown;
* with ``retry_rejected``, every rejected blob (after HR or an admin fixed the cause).

The drop records of the walk's prefix are read with one paged query, then joined with the
listing by name: deciding what needs work reads neither content nor one row per blob. It is
resumable by construction: finished blobs have their record, so a second run after an
interruption skips them. Concurrency is bounded, and a throttled drop pauses new work for the
service's ``Retry-After`` instead of piling on.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from photo_core.domain.budget import BUDGET
from photo_core.domain.clock import not_after
from photo_core.domain.errors import Throttled, TransientError
from photo_core.domain.naming import UserRef, parse_blob_name
from photo_core.domain.outcomes import Outcome, Status
from photo_core.use_cases.ports import (
    Drop,
    DropRecord,
    StateConflict,
    StateStore,
    UserState,
)
from photo_core.use_cases.repair import photo_source
from photo_core.use_cases.sync import SyncDeps, SyncOptions, sync_drop

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Listing:
    """A blob as listed: storage's properties only."""

    name: str
    etag: str
    last_modified: datetime
    created: datetime | None = None


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


def without_outcome(etag: str, record: DropRecord | None) -> bool:
    """No outcome is recorded for this blob version: no drop record, or one about another
    version of the blob (HR uploaded again since)."""
    return record is None or not record.describes(etag)


def needs_work(listing: Listing, record: DropRecord | None, options: ReconcileOptions,
               sync: SyncOptions, state: StateStore, now: datetime) -> bool:
    if record is None or without_outcome(listing.etag, record):
        return True
    if record.status is Status.REJECTED:
        return options.retry_rejected
    if record.status is Status.DEFERRED:
        return True  # stopped by configuration: tried again until it ends
    ref = parse_blob_name(listing.name, sync.naming)
    if not isinstance(ref, UserRef) or record.status is Status.WOULD_UPLOAD:
        return False
    if record.reason in ("superseded", "overwritten"):
        return False  # it never gave the user a photo, so there is nothing of it to repair
    current = state.get(ref.key)
    if current is None:
        return True
    user = current[0]
    if user.photo_unknown and photo_source(user) == listing.name:
        return True
    newest = not_after(user.source_modified, user.now(max(now, listing.last_modified)))
    newer_elsewhere = newest is not None and record.made < newest
    return not newer_elsewhere and user.content_sha256 != record.content_sha256


def reconcile(source: DropSource, sync: SyncOptions, deps_for: Callable[[], SyncDeps],
              options: ReconcileOptions,
              progress: Callable[[ReconcileSummary], None] | None = None,
              on_outcome: Callable[[Outcome], None] | None = None) -> ReconcileSummary:
    """Process what needs it; ``deps_for`` makes the per-drop deps (one claim owner each), and
    ``on_outcome`` hears of each drop's outcome (the handler forgets cached lookups with it)."""
    return Reconciler(source, sync, deps_for, options, progress, on_outcome).run()


class Reconciler:
    """One walk over the drop container: a listing thread that selects drops, and at most
    ``workers`` drops in flight. A throttled drop pauses the start of new ones until its
    ``Retry-After``; a deadline stops new starts. Every drop left undone is remembered, so a
    resumed walk starts again no later than the first of them."""

    def __init__(self, source: DropSource, sync: SyncOptions, deps_for: Callable[[], SyncDeps],
                 options: ReconcileOptions,
                 progress: Callable[[ReconcileSummary], None] | None = None,
                 on_outcome: Callable[[Outcome], None] | None = None) -> None:
        self._source, self._sync, self._deps_for = source, sync, deps_for
        self._options, self._progress, self._on_outcome = options, progress, on_outcome
        deps = deps_for()
        self._state, self._clock = deps.state, deps.clock
        self.summary = ReconcileSummary()
        self._lock = threading.Lock()  # guards the summary, ``_left`` and ``_pause_until``
        self._left: list[str] = []  # deferred or not reached: the next run starts no later
        self._pause_until = 0.0  # monotonic: no drop starts before it (throttling)
        self._started = self._clock.monotonic()
        self._slots = threading.BoundedSemaphore(max(1, options.workers))

    def run(self) -> ReconcileSummary:
        options = self._options
        cursor = WalkCursor(self._state, options.prefix) if options.resume else None
        start = cursor.position() if cursor else None
        records: dict[str, DropRecord] | None = None  # read once the container answers
        with ThreadPoolExecutor(max_workers=max(1, options.workers)) as pool:
            for listing in self._source.list(options.prefix):
                if start is not None and listing.name < start:
                    continue  # done by an earlier run (listings come in name order)
                if self._stop_listing():
                    self._left.append(listing.name)  # the first one not examined
                    break
                self.summary.scanned += 1
                if records is None:
                    records = {r.name: r for r in self._state.drops(options.prefix)}
                record = records.get(listing.name)
                if needs_work(listing, record, options, self._sync, self._state,
                              self._clock.now()):
                    self.summary.selected += 1
                    self._slots.acquire()  # queue no more than the workers can start
                    # forced only when its record is of this very version (a reject retried,
                    # a photo repaired); a changed blob is for the sync to tell apart
                    pool.submit(self._in_slot, listing,
                                record is not None and record.describes(listing.etag))
        if cursor:
            cursor.move(min(self._left, default=None))
        return self.summary

    def _stop_listing(self) -> bool:
        limit = self._options.limit
        if limit is not None and self.summary.selected >= limit:
            return True
        if self._out_of_time():
            self.summary.stopped_early = True
            return True
        return False

    def _out_of_time(self) -> bool:
        deadline = self._options.deadline_seconds
        return deadline is not None and self._clock.monotonic() - self._started > deadline

    def _in_slot(self, listing: Listing, force: bool) -> None:
        try:
            self._run(listing, force)
        finally:
            self._slots.release()

    def _run(self, listing: Listing, force: bool) -> None:
        wait = self._pause_until - self._clock.monotonic()
        if wait > 0:
            self._clock.sleep(wait)
        if self._out_of_time():  # queued before the deadline, not started: the next run does it
            with self._lock:
                self._defer(listing.name)
                self.summary.stopped_early = True
            return
        try:
            drop = self._source.open(listing.name)
            outcome = sync_drop(drop, self._sync, self._deps_for(), force=force)
            if self._on_outcome:
                self._on_outcome(outcome)
            key = outcome.status.value + (f" ({outcome.reason})" if outcome.reason else "")
            with self._lock:
                self.summary.outcomes[key] += 1
        except Throttled as exc:
            pause = min(exc.retry_after or 5.0, BUDGET.max_throttle_pause)
            with self._lock:
                self._defer(listing.name)
                self._pause_until = max(self._pause_until, self._clock.monotonic() + pause)
        except TransientError as exc:
            logger.warning("reconcile: %s deferred: %s", listing.name, exc.message)
            with self._lock:
                self._defer(listing.name)
        except Exception:
            logger.exception("reconcile: %s failed", listing.name)
            with self._lock:
                # not kept in ``_left``: a blob that fails every time would hold the walk at
                # itself every night
                self.summary.failed += 1
        if self._progress:
            self._progress(self.summary)

    def _defer(self, name: str) -> None:
        """Left for the next run, which starts no later than here (the lock is held)."""
        self.summary.deferred += 1
        self._left.append(name)


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
