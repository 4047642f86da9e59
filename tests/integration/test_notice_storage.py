"""The notifier's storage on Azurite: the book in the state table (one record per drop version,
marks written with optimistic concurrency) and the poison queue read without taking."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from azure.data.tables import TableClient
from azure.storage.queue import QueueClient

from devstack.azurite import Azurite
from photo_core.adapters.notice_table import TableNoticeBook
from photo_core.adapters.outcome_log import TableOutcomeLog
from photo_core.adapters.poison_queue import QueuePoisonSource
from photo_core.domain.notices import Notice, NoticeKind, poison_notice
from photo_core.domain.outcomes import Outcome, Status
from photo_core.use_cases.notify_ports import DigestMark, NoticeConflict, NoticeCursor, NoticeState
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


@pytest.fixture
def table(azurite: Azurite) -> TableClient:
    """A fresh name, and no table yet: a new deployment's first write creates it."""
    return TableClient.from_connection_string(azurite.connection_string,
                                              f"state{uuid.uuid4().hex[:10]}")


def notice(blob: str, etag: str = '"0x1"', minutes: int = 0) -> Notice:
    return Notice(NoticeKind.REJECTED, blob, etag, "export it as JPEG",
                  NOW + timedelta(minutes=minutes), user="jane@contoso.com", reason="not_jpeg",
                  dropped_at=NOW)


def test_a_drop_version_is_claimed_once_even_with_a_hostile_name(table: TableClient) -> None:
    book = TableNoticeBook(table)
    name = "x/../#?\\%'\"\u202e.jpg"  # not a table key: the key is the version's hash
    assert book.claim(notice(name), NOW)
    assert not book.claim(notice(name), NOW + timedelta(minutes=1))
    assert book.claim(notice(name, etag='"0x2"'), NOW)
    assert book.known(NOW) == {notice(name).key, notice(name, etag='"0x2"').key}


def test_records_say_what_was_not_sent_and_a_dead_runs_pending_ones(table: TableClient) -> None:
    book = TableNoticeBook(table)
    sent, failed, stuck, fresh = (notice(f"{n}@contoso.com.jpg") for n in "abcd")
    for item, minutes in ((sent, 0), (failed, 0), (stuck, 0), (fresh, 30)):
        book.claim(item, NOW + timedelta(minutes=minutes))
    book.settle([sent], NoticeState.SENT, None)
    book.settle([failed], NoticeState.NOT_SENT, "http 500")
    records = book.not_sent(NOW - timedelta(days=1), stale_before=NOW + timedelta(minutes=20))
    assert {(r.notice.blob, r.state, r.problem) for r in records} == {
        ("b@contoso.com.jpg", NoticeState.NOT_SENT, "http 500"),
        ("c@contoso.com.jpg", NoticeState.PENDING, None)}  # d is pending in a live run
    record = next(r for r in records if r.notice.blob == "b@contoso.com.jpg")
    assert record.notice == failed and record.noticed == NOW


def test_the_cursor_cannot_be_moved_by_two_runs_from_one_read(table: TableClient) -> None:
    book = TableNoticeBook(table)
    assert book.cursor() == (NoticeCursor(), None)
    version = book.move(NoticeCursor(position=NOW), None)
    with pytest.raises(NoticeConflict):
        book.move(NoticeCursor(position=NOW), None)
    cursor, read = book.cursor()
    assert (cursor.position, read) == (NOW, version)
    leased = NoticeCursor(position=NOW, not_sent=2, last_not_sent=NOW, running_since=NOW)
    book.move(leased, read)
    with pytest.raises(NoticeConflict):
        book.move(NoticeCursor(position=NOW + timedelta(minutes=1)), read)
    assert book.cursor()[0] == leased


def test_the_digest_mark_is_written_with_the_same_care(table: TableClient) -> None:
    book = TableNoticeBook(table)
    version = book.put_digest_mark(DigestMark("2026-11-28", False, NOW, "sending"), None)
    with pytest.raises(NoticeConflict):
        book.put_digest_mark(DigestMark("2026-11-28", True, NOW), None)
    book.put_digest_mark(DigestMark("2026-11-28", True, NOW), version)
    assert book.digest_mark()[0] == DigestMark("2026-11-28", True, NOW)


def test_old_notices_are_forgotten(table: TableClient) -> None:
    book = TableNoticeBook(table)
    book.claim(notice("old@contoso.com.jpg"), NOW - timedelta(days=40))
    book.claim(notice("new@contoso.com.jpg"), NOW)
    assert book.prune(NOW - timedelta(days=36)) == 1
    assert book.known(NOW - timedelta(days=100)) == {notice("new@contoso.com.jpg").key}


def test_a_book_without_a_table_yet_reads_as_empty(table: TableClient) -> None:
    book = TableNoticeBook(table)
    assert book.known(NOW) == set() and book.not_sent(NOW, NOW) == []
    assert book.digest_mark() == (None, None) and book.prune(NOW) == 0


def test_the_outcome_log_keeps_when_hrs_content_was_written(table: TableClient) -> None:
    log = TableOutcomeLog(table)
    log.append(Outcome(Status.REJECTED, "a.jpg", "m", NOW, reason="not_jpeg",
                       source_modified=NOW - timedelta(minutes=3)))
    [read] = log.between(NOW - timedelta(hours=1), NOW + timedelta(hours=1))
    assert read.source_modified == NOW - timedelta(minutes=3)


def test_the_poison_queue_is_peeked_for_the_drop_containers_messages(azurite: Azurite) -> None:
    queue = QueueClient.from_connection_string(azurite.connection_string,
                                               f"poison{uuid.uuid4().hex[:10]}")
    source = QueuePoisonSource(queue, "hr-photos")
    assert source.peek() == []  # no queue yet: nothing failed that way
    queue.create_queue()

    def message(container: str, blob: str, etag: str) -> str:
        return json.dumps({"FunctionId": "Host.Functions.sync_photo", "BlobType": "BlockBlob",
                           "ContainerName": container, "BlobName": blob, "ETag": etag})

    queue.send_message(base64.b64encode(message("hr-photos", "a.jpg", "0x1").encode()).decode())
    queue.send_message(message("hr-photos", "b.jpg", "0x2"))  # plain JSON is read too
    queue.send_message(message("other", "c.jpg", "0x3"))
    queue.send_message("not a poison message")
    assert source.peek() == [("a.jpg", "0x1"), ("b.jpg", "0x2")]
    assert source.peek() == [("a.jpg", "0x1"), ("b.jpg", "0x2")]  # peeking takes nothing
    assert poison_notice("a.jpg", "0x1", NOW).key == poison_notice("a.jpg", '"0x1"', NOW).key


def test_the_poison_queue_is_read_whole_past_the_32_a_peek_sees(azurite: Azurite) -> None:
    """A month of undrained failures must not hide today's: Storage peeks at most 32."""
    queue = QueueClient.from_connection_string(azurite.connection_string,
                                               f"poison{uuid.uuid4().hex[:10]}")
    queue.create_queue()
    names = [f"u{i:02}@contoso.com.jpg" for i in range(40)]
    for i, name in enumerate(names):
        queue.send_message(json.dumps({"ContainerName": "hr-photos", "BlobName": name,
                                       "ETag": f"0x{i}"}))
    source = QueuePoisonSource(queue, "hr-photos")
    assert sorted(name for name, _ in source.peek()) == names
    assert queue.get_queue_properties().approximate_message_count == 40  # none taken
    again = wait_for(lambda: sorted(n for n, _ in source.peek()) == names and "read",
                     what="the messages to be visible again, all of them")
    assert again == "read"
