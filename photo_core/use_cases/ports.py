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
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from photo_core.domain.dialects import PhotoMetadata
from photo_core.domain.naming import UserRef
from photo_core.domain.outcomes import Outcome, Status


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
