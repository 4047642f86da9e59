"""Waiting for the stack to settle, then reading what it did: blobs with their tags and
metadata, the state table (state rows and the outcome log), the emulator's users and upload
history, the poison queue and the host's work queue."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from azure.core.exceptions import AzureError, ResourceNotFoundError
from azure.data.tables import TableClient
from azure.storage.queue import QueueClient, TextBase64DecodePolicy

from devstack.host.blob_queue import POISON_QUEUE
from devstack.soak.checks import Observed, final_versions
from devstack.soak.drops import DropRecord
from devstack.soak.run import Stack
from photo_core.adapters.blob_drop import TAG_STATUS

logger = logging.getLogger("devstack.soak")
STATE_TABLE = "photosyncstate"


def settle(stack: Stack, records: list[DropRecord], until: float, quiet_s: float) -> bool:
    """Wait until every final version has an outcome, the work queue is empty and every
    deletion's Event Grid delivery was made; or until the queue has been empty, with no
    delivery pending and nothing changing, for ``quiet_s`` (what is missing then will not
    come: ``quiet_s`` exceeds the visibility timeout of a message whose invocation died); or
    until ``until``. While messages are queued or deliveries wait for a retry the host is
    still working (retrying, or on its way to the poison queue or the dead letters), so the
    soak waits for it: a deletion whose delivery is still being retried holds its claim."""
    names = set(final_versions(records))
    last_change, last_state = time.monotonic(), (-1, -1, -1)
    while time.monotonic() < until:
        try:
            tagged = sum(1 for b in stack.container().list_blobs(include=["tags"])
                         if b.name in names and TAG_STATUS in (b.tags or {}))
            queued = int(stack.work_queue().get_queue_properties().approximate_message_count
                         or 0)
        except AzureError as exc:
            logger.warning("settle: storage not answering (%s)", type(exc).__name__)
            time.sleep(2.0)
            continue
        pending = len(stack.eventgrid_deliveries()[0])
        if (tagged, queued, pending) != last_state:
            logger.info("settle: %d/%d drops have an outcome, %d queued, %d deletion "
                        "deliveries pending", tagged, len(names), queued, pending)
            last_state, last_change = (tagged, queued, pending), time.monotonic()
        if tagged == len(names) and queued == 0 and pending == 0:
            return True
        if queued == 0 and pending == 0 and time.monotonic() - last_change > quiet_s:
            logger.warning("settle: no progress for %.0fs; checking what there is", quiet_s)
            return False
        time.sleep(2.0)
    logger.warning("settle: deadline reached")
    return False


def observe(stack: Stack) -> Observed:
    blobs: dict[str, dict[str, Any]] = {}
    for blob in stack.container().list_blobs(include=["tags", "metadata"]):
        settings = blob.content_settings
        blobs[blob.name] = {
            "tags": dict(blob.tags or {}),
            "metadata": {k: unquote(v) for k, v in (blob.metadata or {}).items()},
            "md5": bytes(settings.content_md5) if settings and settings.content_md5 else None}
    table = TableClient.from_connection_string(stack.azurite.connection_string, STATE_TABLE)
    rows: dict[str, dict[str, Any]] = {}
    log: dict[tuple[str, str], tuple[str, str | None]] = {}
    try:
        for entity in sorted(table.list_entities(), key=lambda e: str(e.get("RowKey"))):
            if entity.get("RowKey") == "state":  # one per user; the key is "upn:<upn>"
                rows[str(entity.get("user", "")).removeprefix("upn:")] = dict(entity)
            elif str(entity.get("PartitionKey")).startswith("log-") and entity.get("etag"):
                key = (str(entity.get("blob")), str(entity["etag"]).strip('"'))
                log[key] = (str(entity.get("status")), entity.get("reason"))
    except ResourceNotFoundError:
        pass
    users = {str(u["userPrincipalName"]).lower(): u.get("photo")
             for u in stack.admin("/users")["value"]}
    poison_queue = QueueClient.from_connection_string(
        stack.azurite.connection_string, POISON_QUEUE,
        message_decode_policy=TextBase64DecodePolicy())
    try:
        poison = [json.loads(str(m.content)) for m in poison_queue.peek_messages(32)]
    except ResourceNotFoundError:
        poison = []
    queued = stack.work_queue().get_queue_properties().approximate_message_count
    pending, dead = stack.eventgrid_deliveries()
    return Observed(blobs, rows, users, stack.admin("/uploads")["value"], poison,
                    int(queued or 0), log, pending, dead)


def guarded(step: Callable[[], Any], errors: list[str], what: str) -> Any:
    try:
        return step()
    except Exception as exc:
        logger.exception("%s failed", what)
        errors.append(f"{what} failed: {type(exc).__name__}: {exc}")
        return None
