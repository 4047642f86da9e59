"""Adapter: the blob trigger's poison queue, read without taking anything from it.

After ``poisonBlobThreshold`` failed deliveries (5 by default) the blob extension puts a message
in ``webjobs-blobtrigger-poison`` of the host's storage account: ``{"FunctionId", "BlobType",
"ContainerName", "BlobName", "ETag"}``, as Base64 text. The queue stays the admins' to see,
drain or feed a function: nothing here deletes a message. A peek shows at most the front 32, so
when 32 or more wait, the messages are read 32 at a time, each hidden for ``HIDE_SECONDS`` to
reach the ones behind it (a peek in the portal shows fewer meanwhile; each read adds one to a
message's dequeue count); the notifier skips those it has noticed already by their drop version.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from typing import TYPE_CHECKING, Any

from azure.core.exceptions import ResourceNotFoundError

if TYPE_CHECKING:
    from azure.storage.queue import QueueClient, QueueMessage

logger = logging.getLogger(__name__)

POISON_QUEUE = "webjobs-blobtrigger-poison"
PEEK_MAX = 32  # the most Storage returns to one peek or one read
HIDE_SECONDS = 5  # how long a read hides a message: enough to page past it, and short
MAX_READ = 64 * PEEK_MAX  # messages one run reads; a queue this long needs an admin anyway


def poison_message(text: str) -> dict[str, Any] | None:
    """A poison message's fields, from Base64 or plain JSON; ``None`` for anything else."""
    for candidate in (text, _unbase64(text)):
        if candidate is None:
            continue
        try:
            document = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(document, dict) and "BlobName" in document:
            return document
    return None


def _unbase64(text: str) -> str | None:
    try:
        return base64.b64decode(text, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None


class QueuePoisonSource:
    def __init__(self, queue: QueueClient, container: str) -> None:
        self._queue = queue
        self._container = container

    def peek(self) -> list[tuple[str, str]]:
        try:
            messages = self._queue.peek_messages(max_messages=PEEK_MAX)
            if len(messages) == PEEK_MAX:  # there may be more behind them
                messages = self._read_all()
        except ResourceNotFoundError:  # no poison queue yet: nothing has failed that way
            return []
        found = []
        for message in messages:
            document = poison_message(str(message.content))
            if document is None:
                logger.warning("poison queue: a message that is not a blob trigger's; skipped")
                continue
            if str(document.get("ContainerName", "")) == self._container:
                found.append((str(document["BlobName"]), str(document.get("ETag", ""))))
        return found

    def _read_all(self) -> list[QueueMessage]:
        """Every message (up to ``MAX_READ``), received a page at a time and left in the queue:
        each becomes visible again ``HIDE_SECONDS`` after it was read."""
        read: dict[str, QueueMessage] = {}
        for message in self._queue.receive_messages(messages_per_page=PEEK_MAX,
                                                    visibility_timeout=HIDE_SECONDS,
                                                    max_messages=MAX_READ):
            read.setdefault(str(message.id), message)
        if len(read) >= MAX_READ:
            logger.warning("poison queue: read the first %d messages only; drain the queue",
                           MAX_READ)
        return list(read.values())
