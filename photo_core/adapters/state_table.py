"""Adapter: per-user sync state in an Azure Table, implementing the ``StateStore`` port.

One row per user (PartitionKey = the user key, RowKey = ``state``). The entity ETag is the
version the port speaks of, so claims and releases are optimistic-concurrency writes. Table keys
cannot hold ``/ \\ # ?``, and guest UPNs contain ``#``: keys are percent-encoded.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import fields
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from azure.core import MatchConditions
from azure.core.exceptions import (
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)

from photo_core.use_cases.ports import StateConflict, UserState

if TYPE_CHECKING:
    from azure.data.tables import TableClient

ROW_KEY = "state"
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
        self._ensure_table()
        try:
            entity = self._table.get_entity(partition_key(user), ROW_KEY)
        except ResourceNotFoundError:
            return None
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
        return str(result["etag"])

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


_FIELDS = [f.name for f in fields(UserState) if f.name != "user"]


def _to_entity(state: UserState) -> dict[str, Any]:
    entity: dict[str, Any] = {"PartitionKey": partition_key(state.user), "RowKey": ROW_KEY,
                              "user": state.user}
    for name in _FIELDS:
        value = getattr(state, name)
        if value is not None:
            entity[name] = value
    return entity


def _from_entity(user: str, entity: dict[str, Any]) -> UserState:
    values: dict[str, Any] = {}
    for name in _FIELDS:
        value = entity.get(name)
        if isinstance(value, datetime):
            value = datetime.fromtimestamp(value.timestamp(), tz=value.tzinfo)
        if value is not None:
            values[name] = value
    return UserState(user=user, **values)
