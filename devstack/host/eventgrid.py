"""Event Grid (EventGridSchema) events for the two webhooks: building them and reading them.

The blob webhook ``/runtime/webhooks/blobs?functionName=Host.Functions.<name>&code=<key>``
receives what an Event Grid subscription on the storage account delivers: first a
``Microsoft.EventGrid.SubscriptionValidationEvent`` (answered with ``validationResponse``), then
arrays of ``Microsoft.Storage.BlobCreated`` events whose subject is
``/blobServices/default/containers/<container>/blobs/<name>``. The Event Grid trigger's webhook
``/runtime/webhooks/eventgrid?functionName=<name>&code=<key>`` receives the same handshake and
then any events (here: ``Microsoft.Storage.BlobDeleted``). The watcher builds these events from
Azurite listings, since Azurite emits none.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import uuid
from dataclasses import dataclass
from typing import Any

VALIDATION_EVENT = "Microsoft.EventGrid.SubscriptionValidationEvent"
BLOB_CREATED = "Microsoft.Storage.BlobCreated"
BLOB_DELETED = "Microsoft.Storage.BlobDeleted"
_SUBJECT = re.compile(r"^/blobServices/default/containers/([^/]+)/blobs/(.+)$", re.DOTALL)
_TOPIC = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/devstack/"
          "providers/Microsoft.Storage/storageAccounts/")


class EventError(ValueError):
    """The request body is not an Event Grid event array."""


@dataclass(frozen=True)
class BlobCreated:
    container: str
    blob_name: str
    etag: str
    blob_type: str


def validation_event(code: str | None = None) -> dict[str, Any]:
    """The handshake Event Grid sends when a WebHook subscription is created."""
    return {
        "id": str(uuid.uuid4()),
        "topic": _TOPIC + "devstoreaccount1",
        "subject": "",
        "eventType": VALIDATION_EVENT,
        "eventTime": _now(),
        "data": {"validationCode": code or str(uuid.uuid4())},
        "dataVersion": "1",
        "metadataVersion": "1",
    }


def blob_created_event(*, account: str, container: str, blob_name: str, url: str, etag: str,
                       content_length: int, content_type: str | None, blob_type: str,
                       event_time: dt.datetime | None) -> dict[str, Any]:
    """A ``BlobCreated`` event as the storage account's system topic publishes it."""
    return _storage_event(BLOB_CREATED, account, container, blob_name, event_time, {
        "api": "PutBlob", "eTag": etag.strip('"'), "contentLength": content_length,
        "contentType": content_type, "blobType": blob_type, "url": url,
    })


def blob_deleted_event(*, account: str, container: str, blob_name: str, url: str,
                       content_type: str | None, blob_type: str,
                       event_time: dt.datetime | None = None) -> dict[str, Any]:
    """A ``BlobDeleted`` event as the storage account's system topic publishes it (no eTag or
    contentLength: the blob is gone)."""
    return _storage_event(BLOB_DELETED, account, container, blob_name, event_time, {
        "api": "DeleteBlob", "contentType": content_type, "blobType": blob_type, "url": url,
    })


def _storage_event(event_type: str, account: str, container: str, blob_name: str,
                   event_time: dt.datetime | None, data: dict[str, Any]) -> dict[str, Any]:
    """The envelope and the request ids every storage event carries around its ``data``."""
    return {
        "id": str(uuid.uuid4()),
        "topic": _TOPIC + account,
        "subject": f"/blobServices/default/containers/{container}/blobs/{blob_name}",
        "eventType": event_type,
        "eventTime": (event_time or dt.datetime.now(dt.UTC)).isoformat(),
        "data": {
            "clientRequestId": str(uuid.uuid4()),
            "requestId": str(uuid.uuid4()),
            **data,
            "contentType": data.get("contentType") or "application/octet-stream",
            "sequencer": _sequencer(),
            "storageDiagnostics": {"batchId": str(uuid.uuid4())},
        },
        "dataVersion": "",
        "metadataVersion": "1",
    }


def read_events(document: Any) -> list[dict[str, Any]]:
    """Check the body's shape: an array of event objects (a single object is accepted too)."""
    events = [document] if isinstance(document, dict) else document
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        raise EventError("expected an array of Event Grid events")
    return events


def validation_code(events: list[dict[str, Any]]) -> str | None:
    """The validation code when the delivery is the subscription handshake."""
    for event in events:
        if event.get("eventType") == VALIDATION_EVENT:
            data = event.get("data")
            code = data.get("validationCode") if isinstance(data, dict) else None
            if not isinstance(code, str):
                raise EventError("validation event without data.validationCode")
            return code
    return None


def blob_created(event: dict[str, Any]) -> BlobCreated | None:
    """The blob of a ``BlobCreated`` event; None for other event types."""
    if event.get("eventType") != BLOB_CREATED:
        return None
    match = _SUBJECT.match(str(event.get("subject", "")))
    data = event.get("data")
    if match is None or not isinstance(data, dict):
        raise EventError("BlobCreated event without a blob subject or data")
    etag = data.get("eTag")
    return BlobCreated(
        container=match.group(1),
        blob_name=match.group(2),
        etag=str(etag) if etag else "",
        blob_type=str(data.get("blobType") or "BlockBlob"),
    )


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


_last_sequencer = 0
_sequencer_lock = threading.Lock()


def _sequencer() -> str:
    """Storage's ``sequencer``: 32 hex digits that grow with every change (microseconds here,
    bumped so two events never share one)."""
    global _last_sequencer
    with _sequencer_lock:
        _last_sequencer = max(_last_sequencer + 1, int(dt.datetime.now(dt.UTC).timestamp() * 1e6))
        return f"{_last_sequencer:032X}"
