"""Ports: the storage and the photo service the use cases need, as small interfaces.

The use cases depend on these, never on an SDK or an HTTP library. The real adapters
(``adapters.blob_drop``, ``adapters.state_table``, ``adapters.outcome_log``,
``adapters.photo_api``) implement them over Azure Storage and HTTP; unit tests implement them in
memory (tests/unit/fakes.py). Two ports live beside the one use case that needs them:
``directory.UserResolver`` and ``reconcile.DropSource``.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Protocol

from photo_core.domain.dialects import PhotoMetadata
from photo_core.domain.errors import TransientError
from photo_core.domain.naming import UserRef
from photo_core.domain.outcomes import Outcome, Status


class Disposal(enum.Enum):
    """What to do with a drop blob once its outcome is recorded."""

    KEEP = "keep"
    DELETE = "delete"
    MOVE = "move"


@dataclass(frozen=True)
class DropInfo:
    """A drop blob's properties, read before any byte is downloaded: all of them set by storage
    (HR can write a blob's content, metadata and tags, never these)."""

    name: str
    size: int
    etag: str
    last_modified: datetime  # moves with every write, metadata and properties included
    created: datetime | None = None  # the blob's creation time: kept by metadata edits


@dataclass(frozen=True)
class DropRecord:
    """What photo-sync decided for one drop, kept in the state table (which HR cannot write).

    It is the only record of "already processed": a blob's own metadata and tags are copies for
    operators and never read back. ``made`` orders the drop among its user's drops: when its
    content was written, by storage's clock, and kept when only the blob's metadata or
    properties change afterwards (the same raw content, the same creation time)."""

    name: str
    etag: str  # the version processed
    raw_sha256: str | None  # its bytes as dropped (None: decided without reading them)
    created: datetime | None
    made: datetime
    status: Status
    reason: str | None
    message: str
    at: datetime
    user: str | None = None  # the reference's key (upn:..., hr_id:...)
    content_sha256: str | None = None  # the photo as uploaded (normalised)
    target: str | None = None  # whom the photo went to (UserRef.stored)
    mapping_version: str | None = None  # the mapping file's version that resolved an HR id
    shown_etag: str | None = None  # the same version after its outcome was written on it

    def describes(self, etag: str) -> bool:
        """Whether the blob version ``etag`` is the one this record is about."""
        return etag in (self.etag, self.shown_etag)


@dataclass(frozen=True)
class Shown:
    """What writing an outcome on a blob found: the blob's ETag afterwards, or that the version
    had changed (HR uploaded again) or the blob was gone (HR deleted it)."""

    etag: str | None = None
    changed: bool = False
    gone: bool = False


class Drop(Protocol):
    """Port: one dropped blob."""

    @property
    def name(self) -> str:
        """The blob's name, known before anything is read."""
        ...

    def info(self) -> DropInfo:
        """Properties set by storage; no content is read."""
        ...

    def read(self) -> bytes:
        """The content of exactly the version ``info`` described.

        Raises ``DropChanged`` when the blob was overwritten since: the new version has an event
        of its own, and this one must not be recorded against it."""
        ...

    def record(self, outcome: Outcome) -> Shown:
        """Write the outcome on the blob for operators (index tags for status, metadata for
        details), only if the blob is still the version that was processed."""
        ...

    def ensure_tags(self, status: Status, reason: str | None) -> None:
        """Set the status tags to the recorded outcome if they say anything else (an invocation
        that died before writing them, or tags someone else set)."""
        ...

    def dispose(
        self, disposal: Disposal, target_container: str | None, content: bytes | None
    ) -> None:
        """Keep, delete, or move the blob (moving needs the content already read)."""
        ...


class DropChanged(Exception):
    """The blob changed while it was being processed; its newer version will be handled."""


#: ``UserState.pending_op``: which call went out without a known answer, and so which drop's
#: photo may be live. An upload sent under the claim: its drop's. A removal sent under the
#: claim: still its drop's, if the removal did not land, so only that drop's deletion finishes
#: it. A call that outlived its claim (a newer holder came after it): an upload's drop or the
#: newer holder's, a removal's none or the newer holder's; no deletion acts on either, and the
#: next drop or reconcile puts the photo back (when the newer holder was another delivery of
#: the same drop, a late upload can say more: ``release._late_upload_kind``). Marks also name
#: whom the call was for. Rows written before these kinds were told apart say "upload" for both
#: uploads, with no target (read as possibly late), and "delete" for both removals (read as
#: the late kind).
PENDING_UPLOAD = "upload"
PENDING_LATE_UPLOAD = "late-upload"
PENDING_REMOVAL = "remove"
PENDING_LATE_REMOVAL = "delete"


class DropGone(Exception):
    """The blob no longer exists (HR deleted it, or a duplicate delivery already moved or deleted
    it): there is nothing left to process, and retrying would only end in the poison queue."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


@dataclass(frozen=True)
class UserState:
    """What photo-sync last did for one user (the state table's row)."""

    user: str
    last_status: str | None = None
    last_reason: str | None = None
    last_message: str | None = None
    last_blob_name: str | None = None
    last_blob_etag: str | None = None
    content_sha256: str | None = None
    source_modified: datetime | None = None
    uploaded_at: datetime | None = None
    updated_at: datetime | None = None
    service_etag: str | None = None
    attempts: int = 0
    lock_owner: str | None = None
    lock_expires: datetime | None = None
    lock_drop: str | None = None  # which drop version the claim is for (name and ETag)
    photo_target: str | None = None  # who the current photo went to (UserRef.stored)
    # The drop the current photo came from (name and ETag as processed). A duplicate ending
    # ``same_content`` does not move it: the photo still comes from the original.
    photo_blob: str | None = None
    photo_etag: str | None = None
    # An operation on the live photo that was started and whose result is not known (written
    # before the call, cleared once it is answered): while set, the live photo is unknown.
    pending_op: str | None = None  # one of the PENDING_* kinds above
    pending_drop: str | None = None  # the drop (name and ETag) it was for
    pending_sha256: str | None = None  # the photo it was to upload
    pending_id: str | None = None  # tells one such mark from another
    pending_target: str | None = None  # whom the call was for (UserRef.stored)
    pending_at: datetime | None = None
    # When storage last wrote the row (the table's own timestamp; never written by photo-sync):
    # a time storage vouches has passed, whatever this instance's clock says.
    written: datetime | None = field(default=None, compare=False)

    def now(self, now: datetime) -> datetime:
        """The later of ``now`` and when the row was last written: times in the row up to it
        are not in the future, even for an instance whose clock is behind storage's."""
        return max(now, self.written) if self.written else now

    @property
    def photo_unknown(self) -> bool:
        """Whether the live photo may not be what this row says (a call that went out without
        an answer, or an upload that may have landed after a newer one)."""
        return self.pending_id is not None

    @property
    def open_call(self) -> tuple[str, str] | None:
        """The drop key and the target of an upload or removal sent under the claim whose
        answer never came: that drop's photo may be live, for that target. ``None`` for any
        other mark, or none, and for an earlier version's mark (it names no target, and its
        "upload" may be a late one)."""
        if self.pending_op in (PENDING_UPLOAD, PENDING_REMOVAL) and self.pending_drop and \
                self.pending_target:
            return self.pending_drop, self.pending_target
        return None

    def with_pending(self, op: str, drop: str | None, sha256: str | None, mark: str,
                     at: datetime, target: str | None = None) -> UserState:
        return replace(self, pending_op=op, pending_drop=drop, pending_sha256=sha256,
                       pending_id=mark, pending_at=at, pending_target=target)

    def without_pending(self) -> UserState:
        return replace(self, pending_op=None, pending_drop=None, pending_sha256=None,
                       pending_id=None, pending_at=None, pending_target=None)


class StateStore(Protocol):
    """Port: per-user sync state with optimistic concurrency, and a record per drop.

    ``version`` is an opaque token (the table entity's ETag). ``put`` with a version succeeds only
    if nobody wrote since it was read; ``put`` without one creates the row and fails if it exists.
    That is all the service needs to serialise work per user without a lock service. Drop
    records are written by the claim's holder (or by a drop no user claim covers: a bad name),
    last writer wins.
    """

    def get(self, user: str) -> tuple[UserState, str] | None: ...

    def put(self, state: UserState, version: str | None) -> str:
        """Write and return the new version; raise ``StateConflict`` on a lost race."""
        ...

    def get_drop(self, name: str) -> DropRecord | None: ...

    def put_drop(self, record: DropRecord) -> None: ...

    def drops(self, prefix: str | None) -> Iterator[DropRecord]:
        """Every drop record whose name starts with ``prefix``, in one paged query."""
        ...


class StateConflict(Exception):
    """Someone else wrote this user's state since it was read."""


class StateUnavailable(TransientError):
    """The state table did not answer (a connection refused, stalled or dropped): the same
    read or write may well succeed a moment later."""

    code = "state_unavailable"


class OutcomeLog(Protocol):
    """Port: an append-only log of drop outcomes, for reports over a time window."""

    def append(self, outcome: Outcome) -> None: ...

    def between(self, since: datetime, until: datetime) -> Iterator[Outcome]:
        """Outcomes with ``since <= at < until``, oldest first."""
        ...


@dataclass(frozen=True)
class PhotoContent:
    """A photo as the service serves it (its bytes, type and ETag)."""

    data: bytes
    content_type: str
    etag: str | None


@dataclass(frozen=True)
class DirectoryUser:
    """The one directory user an employee id names."""

    id: str
    user_principal_name: str


class PhotoApi(Protocol):
    """Port: what photo-sync needs from a user-photo service.

    "No photo" is an answer (``None``), not an error. Every failure is a ``PhotoSyncError``:
    permanent ones say what to fix, transient ones carry what the platform needs to retry.
    """

    def get_metadata(self, user: UserRef) -> PhotoMetadata | None: ...

    def get_photo(self, user: UserRef, size: str | None = None) -> PhotoContent | None: ...

    def list_sizes(self, user: UserRef) -> list[PhotoMetadata]: ...

    def set_photo(self, user: UserRef, jpeg: bytes) -> None: ...

    def delete_photo(self, user: UserRef) -> None:
        """Remove the user's photo; a user without one is not an error."""
        ...

    def find_user_by_employee_id(self, employee_id: str) -> DirectoryUser: ...
