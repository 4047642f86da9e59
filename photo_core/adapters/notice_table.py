"""Adapter: the notifier's book in the state table, implementing the ``NoticeBook`` port.

Three kinds of row share the state table with the users' rows and the outcome log (one table,
one role assignment): the cursor (``notify``/``cursor``) and the digest's mark
(``notify``/``digest``), written with the entity ETag as their version, and one row per notice
(``notice``/<the drop version's key>), created only if absent, which is the one-notice-per-drop-
version guarantee. No user row can collide: theirs all have the row key ``state``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from azure.core import MatchConditions
from azure.core.exceptions import (
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)

from photo_core.adapters.outcome_log import table_time
from photo_core.adapters.state_table import create_table_if_missing
from photo_core.domain.notices import Notice, NoticeKind
from photo_core.use_cases.notify_ports import (
    DigestMark,
    NoticeConflict,
    NoticeCursor,
    NoticeRecord,
    NoticeState,
)

if TYPE_CHECKING:
    from azure.data.tables import TableClient

MARKS = "notify"
NOTICES = "notice"
BATCH = 100  # operations in one table transaction


def _present(entity: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in entity.items() if v is not None}


class TableNoticeBook:
    def __init__(self, table: TableClient) -> None:
        self._table = table

    # -- the two marks --------------------------------------------------------------------------

    def cursor(self) -> tuple[NoticeCursor, str | None]:
        row, version = self._mark("cursor")
        if row is None:
            return NoticeCursor(), None
        times = {name: table_time(row.get(name))
                 for name in ("position", "not_before", "waiting_checked", "last_not_sent",
                              "running_since")}
        return NoticeCursor(not_sent=int(row.get("not_sent", 0)), **times), version

    def move(self, cursor: NoticeCursor, version: str | None) -> str:
        return self._put_mark("cursor", {
            "position": cursor.position, "not_before": cursor.not_before,
            "waiting_checked": cursor.waiting_checked, "not_sent": cursor.not_sent,
            "last_not_sent": cursor.last_not_sent, "running_since": cursor.running_since},
            version)

    def digest_mark(self) -> tuple[DigestMark | None, str | None]:
        row, version = self._mark("digest")
        if row is None:
            return None, None
        at = table_time(row.get("at")) or datetime.fromtimestamp(0, UTC)
        return DigestMark(str(row.get("day", "")), bool(row.get("sent")), at,
                          row.get("problem")), version

    def put_digest_mark(self, mark: DigestMark, version: str | None) -> str:
        return self._put_mark("digest", {"day": mark.day, "sent": mark.sent, "at": mark.at,
                                         "problem": mark.problem}, version)

    def _mark(self, name: str) -> tuple[dict[str, Any] | None, str | None]:
        try:
            entity = self._table.get_entity(MARKS, name)
        except ResourceNotFoundError:  # no row yet, or no table yet
            return None, None
        return dict(entity), str(entity.metadata["etag"])

    def _put_mark(self, name: str, values: dict[str, Any], version: str | None) -> str:
        from azure.data.tables import UpdateMode

        entity = _present({"PartitionKey": MARKS, "RowKey": name, **values})
        try:
            if version is None:
                result = self._create(entity)
            else:
                result = self._table.update_entity(
                    entity, mode=UpdateMode.REPLACE, etag=version,
                    match_condition=MatchConditions.IfNotModified)
        except (ResourceExistsError, ResourceModifiedError) as exc:
            raise NoticeConflict(name) from exc
        return str(result["etag"])

    def _create(self, entity: dict[str, Any]) -> dict[str, Any]:
        try:
            return dict(self._table.create_entity(entity))
        except ResourceNotFoundError:  # a new deployment: the table comes with the first write
            create_table_if_missing(self._table)
            return dict(self._table.create_entity(entity))

    # -- the notices ----------------------------------------------------------------------------

    def claim(self, notice: Notice, noticed: datetime) -> bool:
        entity = _present({
            "PartitionKey": NOTICES, "RowKey": notice.key, "kind": notice.kind.value,
            "blob": notice.blob, "version": notice.version, "message": notice.message[:1024],
            "at": notice.at, "user": notice.user, "reason": notice.reason,
            "dropped_at": notice.dropped_at, "noticed": noticed,
            "state": NoticeState.PENDING.value})
        try:
            self._create(entity)
        except ResourceExistsError:
            return False
        return True

    def settle(self, notices: Sequence[Notice], state: NoticeState, problem: str | None) -> None:
        operations = [("upsert", _present({"PartitionKey": NOTICES, "RowKey": n.key,
                                           "state": state.value, "problem": problem}),
                       {"mode": "merge"}) for n in notices]
        for start in range(0, len(operations), BATCH):
            self._table.submit_transaction(operations[start:start + BATCH])

    def known(self, since: datetime) -> set[str]:
        return {str(row["RowKey"]) for row in self._notices("noticed ge @since", since=since)}

    def not_sent(self, since: datetime, stale_before: datetime) -> list[NoticeRecord]:
        records = [_record(row) for row in self._notices(
            "noticed ge @since and state ne @sent", since=since, sent=NoticeState.SENT.value)]
        return [r for r in records if r.state is NoticeState.NOT_SENT or r.noticed < stale_before]

    def prune(self, before: datetime) -> int:
        gone = 0
        for row in self._notices("noticed lt @before", before=before):
            self._table.delete_entity(NOTICES, str(row["RowKey"]))
            gone += 1
        return gone

    def _notices(self, condition: str, **parameters: Any) -> Iterator[dict[str, Any]]:
        rows = self._table.query_entities(f"PartitionKey eq '{NOTICES}' and {condition}",
                                          parameters=parameters)
        try:
            yield from rows
        except ResourceNotFoundError:  # no table yet: no notices
            return


def _record(row: dict[str, Any]) -> NoticeRecord:
    at = table_time(row.get("at")) or datetime.fromtimestamp(0, UTC)
    notice = Notice(NoticeKind(row["kind"]), str(row["blob"]), str(row.get("version", "")),
                    str(row.get("message", "")), at, user=row.get("user"),
                    reason=row.get("reason"), dropped_at=table_time(row.get("dropped_at")))
    return NoticeRecord(notice, NoticeState(row.get("state", NoticeState.PENDING.value)),
                        table_time(row.get("noticed")) or at, row.get("problem"))
