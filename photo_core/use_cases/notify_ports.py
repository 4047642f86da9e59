"""Ports of the notifier: the book of notices it keeps, the webhook it posts to, the poison queue.

The notifier reads what the drop path already wrote (the outcome log, the drop container) and
writes only to these, so a notice that cannot be sent never fails, delays or redelivers a drop.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from photo_core.domain.notices import Notice


class NoticeState(enum.Enum):
    PENDING = "pending"  # claimed by a run that has not said yet how sending went
    SENT = "sent"
    NOT_SENT = "not_sent"


@dataclass(frozen=True)
class NoticeRecord:
    """A notice as the book holds it: when it was claimed, whether it went out, and if not, why
    (a status or ``timed out``: never the webhook's address or its answer's body)."""

    notice: Notice
    state: NoticeState
    noticed: datetime
    problem: str | None = None


@dataclass(frozen=True)
class NoticeCursor:
    """Where the notice runs stand. ``position``: outcomes recorded before it were looked at
    (a run reads again a few minutes before it, for outcomes appended late). ``not_before``:
    a webhook's 429 asked to wait until then. ``not_sent``: notices not sent since the last
    message that went out, which the next one mentions. ``last_not_sent``: for health.
    ``running_since``: a run holds the cursor from then until it has claimed what it read (a
    lease: other runs stand down until it is released, or stale)."""

    position: datetime | None = None
    not_before: datetime | None = None
    waiting_checked: datetime | None = None
    not_sent: int = 0
    last_not_sent: datetime | None = None
    running_since: datetime | None = None


@dataclass(frozen=True)
class DigestMark:
    """The last digest: the UTC day it was for, and whether it went out (for health)."""

    day: str
    sent: bool
    at: datetime
    problem: str | None = None


class NoticeConflict(Exception):
    """Another run wrote the cursor (or the digest mark) since it was read: that run does the
    work, this one stands down, so two instances never send the same batch."""


class NoticeBook(Protocol):
    """Port: what the notifier remembers, with optimistic concurrency on its two marks.

    ``claim`` creates a notice's record only if none exists for its drop version: that is what
    makes one notice per drop version whatever the redeliveries, runs and instances."""

    def cursor(self) -> tuple[NoticeCursor, str | None]: ...

    def move(self, cursor: NoticeCursor, version: str | None) -> str:
        """Write the cursor if it is still at ``version``; raise ``NoticeConflict`` if not."""
        ...

    def known(self, since: datetime) -> set[str]:
        """Keys of the notices claimed since ``since`` (to skip them without a write each)."""
        ...

    def claim(self, notice: Notice, noticed: datetime) -> bool:
        """Record ``notice`` as pending; False when its drop version already has a record."""
        ...

    def settle(self, notices: Sequence[Notice], state: NoticeState, problem: str | None) -> None:
        ...

    def not_sent(self, since: datetime, stale_before: datetime) -> list[NoticeRecord]:
        """Notices claimed since ``since`` that did not go out: not sent, or still pending
        from before ``stale_before`` (their run died before it could say)."""
        ...

    def digest_mark(self) -> tuple[DigestMark | None, str | None]: ...

    def put_digest_mark(self, mark: DigestMark, version: str | None) -> str:
        """Like ``move``, for the digest's mark."""
        ...

    def prune(self, before: datetime) -> int:
        """Forget notices claimed before ``before``; how many were forgotten."""
        ...


@dataclass(frozen=True)
class Delivery:
    """How posting one message went. ``problem`` names the failure in a few words (``http
    500``, ``timed out``); ``retry_after`` is how long the webhook asked to be left alone."""

    sent: bool
    problem: str | None = None
    retry_after: float | None = None
    attempts: int = 1


class Webhook(Protocol):
    """Port: posts one JSON document, within its own small retry budget. Never raises for the
    webhook's failures: it answers with a ``Delivery`` instead."""

    def send(self, document: dict[str, Any]) -> Delivery: ...


class PoisonSource(Protocol):
    """Port: the drops in the blob trigger's poison queue, read without taking them."""

    def peek(self) -> list[tuple[str, str]]:
        """``(blob name, ETag)`` of the drop container's poison messages: all of them, not
        only the front of the queue, and none taken from it."""
        ...
