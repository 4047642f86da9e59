"""Outcomes: how every drop ends, as plain data.

A drop ends as exactly one of ``uploaded``, ``unchanged`` or ``rejected`` (with a reason code and
a message), or the invocation raises a ``TransientError`` and the platform delivers it again.
``deferred`` is a drop that photo-sync's own configuration stopped (credentials, the CA, the
mapping file): it is kept, and every reconcile tries it again until it ends as one of the three.
``would-upload`` and ``would-reject`` are the dry run's stand-ins for ``uploaded`` and
``rejected`` (nothing is recorded on the blob); ``photo-deleted`` records that HR
deleted a user's current drop and, with deletion sync on, the profile photo went with it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from photo_core.domain.naming import UserRef


class Status(enum.Enum):
    UPLOADED = "uploaded"
    UNCHANGED = "unchanged"
    REJECTED = "rejected"
    DEFERRED = "deferred"  # a configuration failure: retried by reconcile
    WOULD_UPLOAD = "would-upload"
    WOULD_REJECT = "would-reject"
    PHOTO_DELETED = "photo-deleted"  # HR deleted the drop and deletions are synced


@dataclass(frozen=True)
class Outcome:
    """The recorded end of one drop. ``reason`` is a stable code (``None`` for a plain upload);
    ``message`` says what happened in words an HR engineer can act on."""

    status: Status
    blob_name: str
    message: str
    at: datetime
    reason: str | None = None
    user: str | None = None
    blob_etag: str | None = None
    content_sha256: str | None = None
    actions: tuple[str, ...] = field(default_factory=tuple)
    # When HR's content was written (the drop's Last-Modified as first read). Recorded with the
    # outcome because writing the outcome on the blob moves the blob's own Last-Modified.
    source_modified: datetime | None = None
    # The directory user the photo went to (an employee or HR id resolved), for the user's
    # state: deleting the drop later removes the photo from this user, not from whoever the id
    # resolves to by then.
    target: UserRef | None = None
    # The mapping file's version that resolved an HR id to ``target`` (None for other names).
    mapping_version: str | None = None

    @property
    def is_final(self) -> bool:
        return self.status not in (Status.WOULD_UPLOAD, Status.WOULD_REJECT)
