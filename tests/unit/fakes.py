"""In-memory fakes of photo-sync's own ports, for unit tests of the services."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from photo_core.domain.clock import Signal
from photo_core.domain.dialects import PhotoMetadata
from photo_core.domain.errors import PhotoSyncError, ServiceUnavailable, UserNotFound
from photo_core.domain.naming import UserRef
from photo_core.domain.outcomes import Outcome, Status
from photo_core.use_cases.ports import (
    DirectoryUser,
    Disposal,
    DropChanged,
    DropGone,
    DropInfo,
    DropRecord,
    PhotoContent,
    Shown,
    StateConflict,
    UserState,
)


class FakeClock:
    """The one fake of the ``Clock`` port: wall time and monotonic time that move only when told
    to (``advance``) or when something sleeps, both by the same amount. ``offset`` is added to
    wall time only, as a machine whose clock is off would read it."""

    def __init__(self, start: datetime | None = None, monotonic: float = 1000.0) -> None:
        self.current = start or datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
        self.seconds = monotonic
        self.slept: list[float] = []
        self.offset = timedelta(0)
        # Called with each sleep's seconds before time moves: what happens meanwhile elsewhere.
        self.on_sleep: Callable[[float], None] | None = None

    def now(self) -> datetime:
        return self.current + self.offset

    def monotonic(self) -> float:
        return self.seconds

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        if self.on_sleep is not None:
            self.on_sleep(seconds)
        self.advance(seconds)

    def wait(self, event: Signal, seconds: float) -> bool:
        """A wait that nothing cuts short unless the event is set already (or set by
        ``on_sleep``): it sleeps, so time moves as in :meth:`sleep`."""
        if not event.is_set():
            self.sleep(seconds)
        return event.is_set()

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)
        self.seconds += seconds


@dataclass
class FakeDrop:
    """A drop blob. ``created`` is its creation time (None: storage gave none, and its
    Last-Modified orders it); ``recorded`` is the outcome last written on it for operators."""

    name: str
    content: bytes
    etag: str = '"0x1"'
    last_modified: datetime = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
    created: datetime | None = None
    changed_before_read: bool = False
    gone: bool = False
    recorded: Outcome | None = None
    reads: int = 0
    disposed: list[tuple[Disposal, str | None]] = field(default_factory=list)
    tags: tuple[Status, str | None] | None = None

    def info(self) -> DropInfo:
        if self.gone:
            raise DropGone(self.name)
        return DropInfo(self.name, len(self.content), self.etag, self.last_modified,
                        self.created)

    def read(self) -> bytes:
        self.reads += 1
        if self.changed_before_read or self.gone:
            raise DropChanged(self.name)
        return self.content

    def record(self, outcome: Outcome) -> Shown:
        if self.gone:
            return Shown(gone=True)
        self.recorded = outcome
        self.tags = (outcome.status, outcome.reason)
        return Shown(etag=self.etag)

    def ensure_tags(self, status: Status, reason: str | None) -> None:
        self.tags = (status, reason)

    def dispose(self, disposal: Disposal, target_container: str | None,
                content: bytes | None) -> None:
        self.disposed.append((disposal, target_container))


class FakeStateStore:
    """Optimistic concurrency like a table: every write gets a new version. Drop records are
    kept by name, last writer wins."""

    def __init__(self) -> None:
        self.rows: dict[str, tuple[UserState, str]] = {}
        self.records: dict[str, DropRecord] = {}
        # storage's own clock, which stamps each row it writes (as a table's Timestamp)
        self.storage_time: Callable[[], datetime] | None = None
        self._versions = itertools.count(1)
        self.writes = 0

    def get_drop(self, name: str) -> DropRecord | None:
        return self.records.get(name)

    def put_drop(self, record: DropRecord) -> None:
        self.records[record.name] = record

    def drops(self, prefix: str | None) -> Iterator[DropRecord]:
        return iter([r for n, r in sorted(self.records.items())
                     if prefix is None or n.startswith(prefix)])

    def get(self, user: str) -> tuple[UserState, str] | None:
        return self.rows.get(user)

    def put(self, state: UserState, version: str | None) -> str:
        current = self.rows.get(state.user)
        if (current is None) != (version is None) or (current and current[1] != version):
            raise StateConflict(state.user)
        new_version = f"v{next(self._versions)}"
        if self.storage_time is not None:
            state = replace(state, written=self.storage_time())
        self.rows[state.user] = (state, new_version)
        self.writes += 1
        return new_version


class FakePhotoApi:
    """Records uploads per user; raise a configured error per user value."""

    def __init__(self) -> None:
        self.photos: dict[str, bytes] = {}
        self.uploads: list[tuple[str, bytes]] = []
        self.errors: dict[str, PhotoSyncError] = {}
        self.employees: dict[str, list[DirectoryUser]] = {}
        self.deletions: list[str] = []

    def get_metadata(self, user: UserRef) -> PhotoMetadata | None:
        self._maybe_raise(user)
        data = self.photos.get(user.value.lower())
        return PhotoMetadata("120x120", 120, 120, "image/jpeg", '"e"') if data else None

    def get_photo(self, user: UserRef, size: str | None = None) -> PhotoContent | None:
        self._maybe_raise(user)
        data = self.photos.get(user.value.lower())
        return PhotoContent(data, "image/jpeg", '"e"') if data else None

    def list_sizes(self, user: UserRef) -> list[PhotoMetadata]:
        meta = self.get_metadata(user)
        return [meta] if meta else []

    def set_photo(self, user: UserRef, jpeg: bytes) -> None:
        self._maybe_raise(user)
        self.photos[user.value.lower()] = jpeg
        self.uploads.append((user.value, jpeg))

    def delete_photo(self, user: UserRef) -> None:
        self._maybe_raise(user)
        self.photos.pop(user.value.lower(), None)
        self.deletions.append(user.value)

    def find_user_by_employee_id(self, employee_id: str) -> DirectoryUser:
        matches = self.employees.get(employee_id, [])
        if len(matches) != 1:
            raise UserNotFound(f"no single user has employeeId {employee_id!r}")
        return matches[0]

    def _maybe_raise(self, user: UserRef) -> None:
        error = self.errors.get(user.value.lower())
        if error is not None:
            raise error


class SlowFirstUpload(FakePhotoApi):
    """The first upload lands only after ``meanwhile`` ran: what other deliveries did while it
    was out (on the fake clock its claim lapses under it meanwhile). ``after`` runs once each
    later upload has landed (its answer, or the lack of one)."""

    def __init__(self, meanwhile: Callable[[FakePhotoApi], None],
                 after: Callable[[], None] = lambda: None) -> None:
        super().__init__()
        self._meanwhile, self._after, self._first = meanwhile, after, True

    def set_photo(self, user: UserRef, jpeg: bytes) -> None:
        first, self._first = self._first, False
        if first:
            self._meanwhile(self)
        super().set_photo(user, jpeg)
        if not first:
            self._after()


class FakeOutcomeLog:
    def __init__(self) -> None:
        self.outcomes: list[Outcome] = []

    def append(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)

    def between(self, since: datetime, until: datetime) -> Iterator[Outcome]:
        """Oldest first, as the port promises (a stable sort keeps equal times in order)."""
        return iter(sorted((o for o in self.outcomes if since <= o.at < until),
                           key=lambda o: o.at))


class UnavailableOutcomeLog(FakeOutcomeLog):
    """An outcome log whose storage is down: every append fails as a transient error."""

    def append(self, outcome: Outcome) -> None:
        self.attempted.append(outcome)
        raise ServiceUnavailable("outcome log storage is unavailable")

    def __init__(self) -> None:
        super().__init__()
        self.attempted: list[Outcome] = []
