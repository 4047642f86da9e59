"""Adapter: the blob trigger's poison queue, read without taking anything from it.

After ``poisonBlobThreshold`` failed deliveries (5 by default) the blob extension puts a message
in ``webjobs-blobtrigger-poison`` of the host's storage account: ``{"FunctionId", "BlobType",
"ContainerName", "BlobName", "ETag"}``, as Base64 text. The notifier only peeks (the queue
stays the admins' to drain or to feed a function), so it sees the 32 oldest messages; older
ones it has noticed already are skipped by their drop version.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from typing import TYPE_CHECKING, Any

from azure.core.exceptions import ResourceNotFoundError

if TYPE_CHECKING:
    from azure.storage.queue import QueueClient

logger = logging.getLogger(__name__)

POISON_QUEUE = "webjobs-blobtrigger-poison"
PEEK_MAX = 32  # the most Storage returns to one peek


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
