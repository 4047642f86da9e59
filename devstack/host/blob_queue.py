"""The blob trigger's durable work queue, poison queue and blob receipts, kept in storage.

This mirrors the blob extension: an accepted ``BlobCreated`` becomes a message in the queue
``azure-webjobs-blobtrigger-<hostId>`` in the host's storage (``AzureWebJobsStorage``, Azurite
locally), so a host that is killed and restarted still processes it. A message that failed
``poisonBlobThreshold`` times goes to ``webjobs-blobtrigger-poison`` with the extension's shape
(``FunctionId``, ``BlobType``, ``ContainerName``, ``BlobName``, ``ETag``). A blob receipt
``azure-webjobs-hosts/blobreceipts/<hostId>/<functionId>/<etag>/<container>/<blob>`` is written
after a success, so later deliveries of the same blob version are skipped, as on Azure.
Messages are Base64 text, the encoding the Functions queue trigger expects by default, so a
queue-triggered function can consume the poison queue.
"""

from __future__ import annotations

import base64
import contextlib
import json
from dataclasses import dataclass
from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import BlobServiceClient
from azure.storage.queue import (
    QueueClient,
    QueueMessage,
    TextBase64DecodePolicy,
    TextBase64EncodePolicy,
)

from devstack.host.storage import blob_retry, queue_retry
from photo_core.adapters.http_env import sdk_options

QUEUE_PREFIX = "azure-webjobs-blobtrigger-"
POISON_QUEUE = "webjobs-blobtrigger-poison"
RECEIPTS_CONTAINER = "azure-webjobs-hosts"


def _decode(text: str) -> str:
    """Base64 text as the extension writes it; anything else is passed on as it is."""
    try:
        return base64.b64decode(text, validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return text


def normalize_etag(etag: str) -> str:
    """ETags without quotes: the SDK quotes them, Event Grid does not."""
    return etag.strip().strip('"')


@dataclass(frozen=True)
class BlobWorkItem:
    """One blob version for one function."""

    function_id: str
    container: str
    blob_name: str
    etag: str
    blob_type: str = "BlockBlob"

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.function_id, self.container, self.blob_name, normalize_etag(self.etag))

    def to_message(self) -> str:
        return json.dumps({
            "Type": "BlobTrigger",
            "FunctionId": self.function_id,
            "BlobType": self.blob_type,
            "ContainerName": self.container,
            "BlobName": self.blob_name,
            "ETag": normalize_etag(self.etag),
        })

    @classmethod
    def from_message(cls, text: str) -> BlobWorkItem:
        """Parse a queue message; raises ValueError for anything else."""
        document: Any = json.loads(text)
        try:
            return cls(
                function_id=str(document["FunctionId"]),
                container=str(document["ContainerName"]),
                blob_name=str(document["BlobName"]),
                etag=str(document["ETag"]),
                blob_type=str(document.get("BlobType") or "BlockBlob"),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a blob trigger message: missing {exc}") from None


class BlobTriggerStore:
    """The host's queues and receipts in one storage account."""

    def __init__(self, connection_string: str, host_id: str) -> None:
        self.host_id = host_id
        self.queue_name = QUEUE_PREFIX + host_id
        self._queue = self._queue_client(connection_string, self.queue_name)
        # Received raw and decoded here: one message that is not Base64 must not make every
        # receive fail (the SDK's decode policy would raise for the whole batch).
        self._queue_raw = QueueClient.from_connection_string(
            connection_string, self.queue_name, retry_policy=queue_retry(), **sdk_options())
        self._poison = self._queue_client(connection_string, POISON_QUEUE)
        self._receipts = BlobServiceClient.from_connection_string(
            connection_string, retry_policy=blob_retry(), **sdk_options()
        ).get_container_client(RECEIPTS_CONTAINER)

    @staticmethod
    def _queue_client(connection_string: str, name: str) -> QueueClient:
        return QueueClient.from_connection_string(
            connection_string, name, retry_policy=queue_retry(),
            message_encode_policy=TextBase64EncodePolicy(),
            message_decode_policy=TextBase64DecodePolicy(), **sdk_options(),
        )

    def ensure(self) -> None:
        """Create the work queue and the receipts container (idempotent)."""
        for create in (self._queue.create_queue, self._receipts.create_container):
            with contextlib.suppress(ResourceExistsError):
                create()

    # -- the work queue -------------------------------------------------------------------------

    def enqueue(self, item: BlobWorkItem) -> None:
        try:
            self._queue.send_message(item.to_message())
        except ResourceNotFoundError:  # the queue went away (a wiped Azurite): recreate
            self.ensure()
            self._queue.send_message(item.to_message())

    def queued(self) -> int:
        """Messages in the work queue, visible or not (Storage's approximate count)."""
        return int(self._queue.get_queue_properties().approximate_message_count or 0)

    def receive(self, count: int, visibility_timeout: int) -> list[QueueMessage]:
        messages = list(self._queue_raw.receive_messages(
            max_messages=count, messages_per_page=count, visibility_timeout=visibility_timeout))
        for message in messages:
            message.content = _decode(str(message.content))
        return messages

    def delete(self, message_id: str, pop_receipt: str) -> None:
        self._queue.delete_message(message_id, pop_receipt)

    def extend(self, message_id: str, pop_receipt: str, visibility_timeout: int) -> str:
        """Keep a message invisible for longer (or make it visible later); new pop receipt."""
        updated = self._queue.update_message(
            message_id, pop_receipt, visibility_timeout=visibility_timeout)
        return str(updated.pop_receipt)

    def poison(self, item: BlobWorkItem | None, raw: str) -> None:
        """Put a message into the poison queue (the raw text when it could not be parsed)."""
        with contextlib.suppress(ResourceExistsError):
            self._poison.create_queue()
        self._poison.send_message(item.to_message() if item else raw)

    # -- receipts -------------------------------------------------------------------------------

    def receipt_name(self, item: BlobWorkItem) -> str:
        function_id, container, blob_name, etag = item.key
        return f"blobreceipts/{self.host_id}/{function_id}/{etag}/{container}/{blob_name}"

    def has_receipt(self, item: BlobWorkItem) -> bool:
        return bool(self._receipts.get_blob_client(self.receipt_name(item)).exists())

    def write_receipt(self, item: BlobWorkItem) -> None:
        blob = self._receipts.get_blob_client(self.receipt_name(item))
        try:
            blob.upload_blob(b"", overwrite=True, metadata={"IsCompleted": "true"})
        except ResourceNotFoundError:  # the container went away (a wiped Azurite): recreate
            self.ensure()
            blob.upload_blob(b"", overwrite=True, metadata={"IsCompleted": "true"})
