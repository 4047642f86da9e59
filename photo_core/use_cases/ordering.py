"""When a drop's content was written: the time that decides which of a user's drops is newest.

Only what storage sets and what photo-sync recorded is used, never anything HR can write
(metadata and tags can say anything, dates in 2099 included). Storage gives two times: a blob's
creation time, which metadata and property edits keep and a new upload resets (a Put Blob over an
existing blob replaces it: Azurite resets it, and so does Azure for block blobs, though its
documentation does not spell this out), and Last-Modified, which every write moves, an edit of
the metadata included. So:

* content already processed under this name (the same raw bytes, the blob not re-created since)
  keeps the time recorded when it was first seen: an edit of its metadata is not a new drop;
* new content in a blob created for it has the blob's creation time;
* new content in a blob that kept its creation time across the upload (a storage that keeps it)
  has the version's Last-Modified, the nearest storage time after the write.
"""

from __future__ import annotations

from datetime import datetime

from photo_core.use_cases.ports import DropInfo, DropRecord


def recreated(info: DropInfo, record: DropRecord) -> bool:
    """Whether the blob was created again since the record's version (a new upload)."""
    return info.created is not None and record.created is not None and \
        info.created > record.created


def same_drop(info: DropInfo, record: DropRecord | None, raw_sha256: str) -> bool:
    """Whether this version is the drop ``record`` describes with only its metadata or
    properties edited: the same bytes, and the blob not created again."""
    return record is not None and record.raw_sha256 == raw_sha256 and \
        not recreated(info, record)


def content_time(info: DropInfo, record: DropRecord | None, raw_sha256: str) -> datetime:
    """The time that orders this version among its user's drops (see the module's docstring).
    It is never later than the version's Last-Modified: storage's own latest word."""
    if record is not None and same_drop(info, record, raw_sha256):
        return min(record.made, info.last_modified)
    if info.created is None or (record is not None and not recreated(info, record)):
        return info.last_modified
    return info.created


def reference_now(now: datetime, info: DropInfo) -> datetime:
    """The latest time known to have passed: this instance's clock, or storage's Last-Modified
    of the drop at hand if that is later (an instance whose clock is behind storage's must
    not take storage's fresh times for the future). A time recorded beyond it (and the
    tolerance) is not trusted (``clock.not_after``)."""
    return max(now, info.last_modified)
