"""Ports: the storage the sync service needs, as small interfaces.

The service depends on these, never on an SDK. The real adapters (``blob_drop``,
``state_table``) implement them over Azure Storage; unit tests implement them in memory.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from photo_core.outcomes import Outcome, Status


class Disposal(enum.Enum):
    """What to do with a drop blob once its outcome is recorded."""

    KEEP = "keep"
    DELETE = "delete"
    MOVE = "move"


@dataclass(frozen=True)
class DropInfo:
    """A drop blob's properties, read before any byte is downloaded. ``last_modified`` is when
    HR's content was written: for a blob with an outcome recorded on it, the time recorded
    with the outcome, since writing the outcome moved the blob's own Last-Modified."""

    name: str
    size: int
    etag: str
    last_modified: datetime
    recorded: RecordedOutcome | None = None


@dataclass(frozen=True)
class RecordedOutcome:
    """The outcome photo-sync wrote on a blob earlier. Writing content replaces a blob's metadata,
    so a marker that is still present means this content was already processed."""

    status: Status
    blob_name: str
    reason: str | None
    content_sha256: str | None
    source_modified: datetime | None = None  # the content's Last-Modified when it was processed
    at: datetime | None = None  # when the outcome was written


class Drop(Protocol):
    """Port: one dropped blob."""

    def info(self) -> DropInfo:
        """Properties and any outcome recorded on the blob; no content is read."""
        ...

    def read(self) -> bytes:
        """The content of exactly the version ``info`` described.

        Raises ``DropChanged`` when the blob was overwritten since: the new version has an event
        of its own, and this one must not be recorded against it."""
        ...

    def record(self, outcome: Outcome) -> None:
        """Write the outcome on the blob (index tags for status, metadata for details), only if
        the blob is still the version that was processed."""
        ...

    def ensure_tags(self, recorded: RecordedOutcome) -> None:
        """Write the status tags of an outcome already in the metadata, if they are missing (an
        invocation that died between the two writes must not leave the drop unqueryable)."""
        ...

    def dispose(
        self, disposal: Disposal, target_container: str | None, content: bytes | None
    ) -> None:
        """Keep, delete, or move the blob (moving needs the content already read)."""
        ...


class DropChanged(Exception):
    """The blob changed while it was being processed; its newer version will be handled."""


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
    pending_op: str | None = None  # "upload" or "delete"
    pending_drop: str | None = None  # the drop (name and ETag) it was for
    pending_sha256: str | None = None  # the photo it was to upload
    pending_id: str | None = None  # tells one such mark from another
    pending_at: datetime | None = None

    @property
    def photo_unknown(self) -> bool:
        """Whether the live photo may not be what this row says (a call that went out without
        an answer, or an upload that may have landed after a newer one)."""
        return self.pending_id is not None

    def with_pending(self, op: str, drop: str | None, sha256: str | None, mark: str,
                     at: datetime) -> UserState:
        return replace(self, pending_op=op, pending_drop=drop, pending_sha256=sha256,
                       pending_id=mark, pending_at=at)

    def without_pending(self) -> UserState:
        return replace(self, pending_op=None, pending_drop=None, pending_sha256=None,
                       pending_id=None, pending_at=None)


class StateStore(Protocol):
    """Port: per-user sync state with optimistic concurrency.

    ``version`` is an opaque token (the table entity's ETag). ``put`` with a version succeeds only
    if nobody wrote since it was read; ``put`` without one creates the row and fails if it exists.
    That is all the service needs to serialise work per user without a lock service.
    """

    def get(self, user: str) -> tuple[UserState, str] | None: ...

    def put(self, state: UserState, version: str | None) -> str:
        """Write and return the new version; raise ``StateConflict`` on a lost race."""
        ...


class StateConflict(Exception):
    """Someone else wrote this user's state since it was read."""


class OutcomeLog(Protocol):
    """Port: an append-only log of drop outcomes, for reports over a time window."""

    def append(self, outcome: Outcome) -> None: ...

    def between(self, since: datetime, until: datetime) -> Iterator[Outcome]:
        """Outcomes with ``since <= at < until``, oldest first."""
        ...
