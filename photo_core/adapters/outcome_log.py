"""Adapter: the outcome log in the state table, implementing the ``OutcomeLog`` port.

One partition per UTC day (``log-YYYYMMDD``), row keys that sort by time, so a report over a
window reads only the days it covers, in order. It shares the state table: one table, one role
assignment, nothing else to deploy.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from azure.core.exceptions import ResourceNotFoundError

from photo_core.adapters.state_table import create_table_if_missing
from photo_core.domain.naming import UserRef
from photo_core.domain.outcomes import Outcome, Status

if TYPE_CHECKING:
    from azure.data.tables import TableClient

PARTITION_PREFIX = "log-"
_KEY_TIME = "%Y%m%dT%H%M%S.%f"


def _partition(at: datetime) -> str:
    return f"{PARTITION_PREFIX}{at.astimezone(UTC):%Y%m%d}"


def _row_key(at: datetime) -> str:
    return at.astimezone(UTC).strftime(_KEY_TIME)


class TableOutcomeLog:
    def __init__(self, table: TableClient) -> None:
        self._table = table

    def append(self, outcome: Outcome) -> None:
        entity: dict[str, Any] = {
            "PartitionKey": _partition(outcome.at),
            "RowKey": f"{_row_key(outcome.at)}-{uuid.uuid4().hex[:12]}",
            "status": outcome.status.value,
            "message": outcome.message[:1024],
            "blob": outcome.blob_name,
            "at": outcome.at,
        }
        optional = {"reason": outcome.reason, "user": outcome.user, "etag": outcome.blob_etag,
                    "sha256": outcome.content_sha256, "actions": ",".join(outcome.actions),
                    "source": outcome.source_modified,
                    # whom an employee or HR id resolved to, and by which mapping version
                    "target": outcome.target.stored if outcome.target else None,
                    "mapping": outcome.mapping_version}
        entity.update({k: v for k, v in optional.items() if v})
        try:
            self._table.create_entity(entity)
        except ResourceNotFoundError:
            # A new deployment's first outcome can come before any state row (a bad name is
            # rejected before a claim), so before the table exists.
            create_table_if_missing(self._table)
            self._table.create_entity(entity)

    def between(self, since: datetime, until: datetime) -> Iterator[Outcome]:
        """The outcomes of ``since``..``until``; none before the table exists (a new deployment
        has an empty report, not an error)."""
        day = since.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        while day < until:
            query = ("PartitionKey eq @pk and RowKey ge @low and RowKey lt @high")
            rows = self._table.query_entities(query, parameters={
                "pk": _partition(day), "low": _row_key(since), "high": _row_key(until)})
            try:
                for row in rows:
                    yield _outcome(row)
            except ResourceNotFoundError:
                return
            day += timedelta(days=1)


def _outcome(row: dict[str, Any]) -> Outcome:
    at = row["at"]
    return Outcome(
        status=Status(row["status"]),
        blob_name=str(row["blob"]),
        message=str(row.get("message", "")),
        at=datetime.fromtimestamp(at.timestamp(), tz=UTC),
        reason=row.get("reason") or None,
        user=row.get("user") or None,
        blob_etag=row.get("etag") or None,
        content_sha256=row.get("sha256") or None,
        actions=tuple(a for a in str(row.get("actions", "")).split(",") if a),
        source_modified=table_time(row.get("source")),
        target=UserRef.parse(str(row["target"])) if row.get("target") else None,
        mapping_version=row.get("mapping") or None,
    )


def table_time(value: Any) -> datetime | None:
    """A datetime read back from a table (the SDK's own subclass) as a plain aware UTC one."""
    return datetime.fromtimestamp(value.timestamp(), tz=UTC) if value is not None else None
