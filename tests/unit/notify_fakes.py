"""In-memory fakes of the notifier's ports (the book, the webhook, the poison queue, the drop
container), for unit tests of the notifier's policy."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from photo_core.domain.notices import Notice
from photo_core.domain.outcomes import Status
from photo_core.use_cases.notify_ports import (
    Delivery,
    DigestMark,
    NoticeConflict,
    NoticeCursor,
    NoticeRecord,
    NoticeState,
)
from photo_core.use_cases.ports import DropGone, DropInfo, DropRecord
from photo_core.use_cases.reconcile import Listing
from tests.unit.fakes import FakeDrop, FakeStateStore


class FakeNoticeBook:
    """Versions like a table's ETags; ``before_move`` runs just before a cursor write, to let a
    test put another run in between a run's read and its write."""

    def __init__(self) -> None:
        self._versions = itertools.count(1)
        self.cursor_row: tuple[NoticeCursor, str] | None = None
        self.digest_row: tuple[DigestMark, str] | None = None
        self.records: dict[str, NoticeRecord] = {}
        self.claims = 0
        self.before_move: Callable[[], None] | None = None

    def cursor(self) -> tuple[NoticeCursor, str | None]:
        if self.cursor_row is None:
            return NoticeCursor(), None
        return self.cursor_row

    def move(self, cursor: NoticeCursor, version: str | None) -> str:
        if self.before_move is not None:
            hook, self.before_move = self.before_move, None
            hook()
        current = self.cursor_row[1] if self.cursor_row else None
        if current != version:
            raise NoticeConflict("cursor")
        new = f"c{next(self._versions)}"
        self.cursor_row = (cursor, new)
        return new

    def known(self, since: datetime) -> set[str]:
        return {k for k, r in self.records.items() if r.noticed >= since}

    def claim(self, notice: Notice, noticed: datetime) -> bool:
        self.claims += 1
        if notice.key in self.records:
            return False
        self.records[notice.key] = NoticeRecord(notice, NoticeState.PENDING, noticed)
        return True

    def settle(self, notices: Sequence[Notice], state: NoticeState, problem: str | None) -> None:
        for notice in notices:
            self.records[notice.key] = replace(self.records[notice.key], state=state,
                                               problem=problem)

    def not_sent(self, since: datetime, stale_before: datetime) -> list[NoticeRecord]:
        return [r for r in self.records.values() if r.noticed >= since and (
            r.state is NoticeState.NOT_SENT or
            (r.state is NoticeState.PENDING and r.noticed < stale_before))]

    def digest_mark(self) -> tuple[DigestMark | None, str | None]:
        return self.digest_row if self.digest_row else (None, None)

    def put_digest_mark(self, mark: DigestMark, version: str | None) -> str:
        current = self.digest_row[1] if self.digest_row else None
        if current != version:
            raise NoticeConflict("digest")
        new = f"d{next(self._versions)}"
        self.digest_row = (mark, new)
        return new

    def prune(self, before: datetime) -> int:
        old = [k for k, r in self.records.items() if r.noticed < before]
        for key in old:
            del self.records[key]
        return len(old)

    def states(self) -> list[NoticeState]:
        return [r.state for r in self.records.values()]


@dataclass
class FakeWebhook:
    """Answers with the scripted deliveries in turn (then successes); keeps every document."""

    answers: list[Delivery] = field(default_factory=list)
    documents: list[dict[str, Any]] = field(default_factory=list)

    def send(self, document: dict[str, Any]) -> Delivery:
        self.documents.append(document)
        return self.answers.pop(0) if self.answers else Delivery(True)


@dataclass
class FakePoison:
    messages: list[tuple[str, str]] = field(default_factory=list)

    def peek(self) -> list[tuple[str, str]]:
        return list(self.messages)


@dataclass
class FakeBlob:
    name: str
    etag: str
    written: datetime
    status: Status | None = None  # the outcome recorded on it, if any


class FakeDropSource:
    """The drop container, listed without content; ``listings`` counts the walks. A blob with a
    ``status`` has a drop record for its version in ``state``, as photo-sync keeps them."""

    def __init__(self, blobs: Sequence[FakeBlob] = (),
                 state: FakeStateStore | None = None) -> None:
        self.blobs = {b.name: b for b in blobs}
        self.state = state or FakeStateStore()
        self.listings = 0
        for blob in blobs:
            self.record(blob)

    def add(self, blob: FakeBlob) -> None:
        self.blobs[blob.name] = blob
        self.record(blob)

    def record(self, blob: FakeBlob) -> None:
        if blob.status is not None:
            self.state.put_drop(DropRecord(
                name=blob.name, etag=blob.etag, raw_sha256=None, created=blob.written,
                made=blob.written, status=blob.status, reason=None, message="",
                at=blob.written))

    def list(self, prefix: str | None) -> Iterator[Listing]:
        self.listings += 1
        for blob in sorted(self.blobs.values(), key=lambda b: b.name):
            yield Listing(blob.name, blob.etag, blob.written, blob.written)

    def open(self, name: str) -> FakeDrop:
        blob = self.blobs.get(name)
        if blob is None:
            return GoneDrop(name, b"")
        return FakeDrop(blob.name, b"x" * 100, blob.etag, blob.written, blob.written)


class GoneDrop(FakeDrop):
    """A blob deleted since it was listed."""

    def info(self) -> DropInfo:
        raise DropGone(self.name)
