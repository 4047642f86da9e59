"""Adapter: per-user sync state in an Azure Table, implementing the ``StateStore`` port.

One row per user (PartitionKey = the user key, RowKey = ``state``). The entity ETag is the
version the port speaks of, so claims and releases are optimistic-concurrency writes. Table keys
cannot hold ``/ \\ # ?``, and guest UPNs contain ``#``: keys are percent-encoded.

One row per drop name in the partition ``drops`` (RowKey = the SHA-256 of the name, which fits
any blob name into a key; the name itself is a column): what was decided for it. Reconcile
reads them with one paged query of that partition, not one read per blob.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections.abc import Iterator
from dataclasses import fields
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from azure.core import MatchConditions
from azure.core.exceptions import (
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)

from photo_core.domain.outcomes import Status
from photo_core.use_cases.ports import DropRecord, StateConflict, StateUnavailable, UserState

if TYPE_CHECKING:
    from azure.data.tables import TableClient

ROW_KEY = "state"
DROPS = "drops"  # the drop records' partition: no user key can be this (they have a colon)
_KEY_SAFE = "@.-_!^~'$:"


def partition_key(user: str) -> str:
    return quote(user, safe=_KEY_SAFE)


class TableStateStore:
    """The table is created on first use, not at import or construction."""

    def __init__(self, table: TableClient) -> None:
        self._table = table
        self._ready = False
        self._lock = threading.Lock()

    def get(self, user: str) -> tuple[UserState, str] | None:
        try:
            self._ensure_table()
            entity = self._table.get_entity(partition_key(user), ROW_KEY)
        except ResourceNotFoundError:
            return None
        except (ServiceRequestError, ServiceResponseError) as exc:
            raise StateUnavailable(f"the state table did not answer ({type(exc).__name__})") \
                from exc
        return _from_entity(user, entity), str(entity.metadata["etag"])

    def put(self, state: UserState, version: str | None) -> str:
        self._ensure_table()
        entity = _to_entity(state)
        try:
            if version is None:
                result = self._table.create_entity(entity)
            else:
                from azure.data.tables import UpdateMode

                result = self._table.update_entity(
                    entity, mode=UpdateMode.REPLACE, etag=version,
                    match_condition=MatchConditions.IfNotModified,
                )
        except (ResourceExistsError, ResourceModifiedError) as exc:
            raise StateConflict(state.user) from exc
        except (ServiceRequestError, ServiceResponseError) as exc:
            raise StateUnavailable(f"the state table did not answer ({type(exc).__name__})") \
                from exc
        return str(result["etag"])

    def get_drop(self, name: str) -> DropRecord | None:
        try:
            self._ensure_table()
            entity = self._table.get_entity(DROPS, _drop_key(name))
        except ResourceNotFoundError:
            return None
        except (ServiceRequestError, ServiceResponseError) as exc:
            raise StateUnavailable(f"the state table did not answer ({type(exc).__name__})") \
                from exc
        return _drop_from_entity(entity)

    def put_drop(self, record: DropRecord) -> None:
        from azure.data.tables import UpdateMode

        self._ensure_table()
        entity: dict[str, Any] = {"PartitionKey": DROPS, "RowKey": _drop_key(record.name)}
        for name in _DROP_FIELDS:
            value = getattr(record, name)
            if isinstance(value, Status):
                value = value.value
            if value is not None:
                entity[name] = value
        self._table.upsert_entity(entity, mode=UpdateMode.REPLACE)

    def drops(self, prefix: str | None) -> Iterator[DropRecord]:
        self._ensure_table()
        query, parameters = "PartitionKey eq @pk", {"pk": DROPS}
        if prefix:
            query += " and name ge @low and name lt @high"
            parameters.update(low=prefix, high=prefix[:-1] + chr(ord(prefix[-1]) + 1))
        for entity in self._table.query_entities(query, parameters=parameters):
            yield _drop_from_entity(entity)

    def _ensure_table(self) -> None:
        if self._ready:
            return
        with self._lock:
            if not self._ready:
                create_table_if_missing(self._table)
                self._ready = True


def create_table_if_missing(table: TableClient) -> None:
    """Create the table unless it exists (the state store and the outcome log share it, and
    either may write first on a new deployment)."""
    with contextlib.suppress(ResourceExistsError):
        table.create_table()


_FIELDS = [f.name for f in fields(UserState) if f.name not in ("user", "written")]


def _to_entity(state: UserState) -> dict[str, Any]:
    entity: dict[str, Any] = {"PartitionKey": partition_key(state.user), "RowKey": ROW_KEY,
                              "user": state.user}
    for name in _FIELDS:
        value = getattr(state, name)
        if value is not None:
            entity[name] = value
    return entity


def _from_entity(user: str, entity: dict[str, Any]) -> UserState:
    """A row as any version of photo-sync wrote it: columns it does not know are ignored, and
    the ones it lacks keep their defaults."""
    written = getattr(entity, "metadata", {}).get("timestamp")
    return UserState(user=user, **_values(entity, _FIELDS),
                     written=written if isinstance(written, datetime) else None)


def _values(entity: dict[str, Any], names: list[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in names:
        value = entity.get(name)
        if isinstance(value, datetime):
            value = datetime.fromtimestamp(value.timestamp(), tz=value.tzinfo)
        if value is not None:
            values[name] = value
    return values


_DROP_FIELDS = [f.name for f in fields(DropRecord)]


def _drop_key(name: str) -> str:
    return hashlib.sha256(name.encode("utf-8")).hexdigest()


def _drop_from_entity(entity: dict[str, Any]) -> DropRecord:
    values: dict[str, Any] = dict.fromkeys(_DROP_FIELDS) | _values(entity, _DROP_FIELDS)
    values["status"] = Status(values["status"])
    return DropRecord(**values)
