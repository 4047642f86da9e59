"""Notices: which drops HR must hear about, one notice per drop version, and how they coalesce.

A reject's reason sits in blob tags, the state table and the reports, which HR does not read.
A notice brings it to them. Three kinds of drop need someone's action:

* ``rejected``: the drop ended with a reason code and a message that says how to fix it (the
  default, and the one HR can act on themselves);
* ``poison``: the drop failed transiently on every delivery and the platform put it in the poison
  queue; the nightly reconcile tries it again, but an admin should look;
* ``waiting``: the drop is over a day old and still has no outcome, nightly reconciles included.

A drop version is its blob name and ETag (for a waiting drop, which has only been listed, its
content time), so redeliveries and duplicate events of one upload make one notice, while HR's
next upload of the same name, a new version, makes its own. Pure: no I/O.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from photo_core.domain.outcomes import Outcome, Status

POISON_REASON = "retries_exhausted"
POISON_MESSAGE = ("photo-sync could not process this drop on any of its deliveries (the photo "
                  "service or storage kept failing); the nightly reconcile tries it again. If "
                  "this notice repeats, ask the photo-sync admins to check the function app")
WAITING_REASON = "no_outcome"
WAITING_MESSAGE = ("dropped over a day ago and still not processed, nightly reconcile "
                   "included; ask the photo-sync admins to check the function app")


class NoticeKind(enum.Enum):
    REJECTED = "rejected"
    POISON = "poison"
    WAITING = "waiting"


class NoticeFormat(enum.Enum):
    """How a notice is put on the wire: an Adaptive Card in the envelope Teams workflow webhooks
    take, or the plain JSON document (``photo-sync.notice/1``) for anything else."""

    TEAMS = "teams"
    JSON = "json"


@dataclass(frozen=True)
class Notice:
    """One drop HR (or an admin) should hear about. ``message`` says what to do; ``at`` is when
    photo-sync recorded or found it, ``dropped_at`` when HR's content was written, if known."""

    kind: NoticeKind
    blob: str
    version: str  # the blob's ETag, or for a listed drop its content time
    message: str
    at: datetime
    user: str | None = None
    reason: str | None = None
    dropped_at: datetime | None = None

    @property
    def key(self) -> str:
        """The drop version's identity, safe as a table row key (a blob name is not)."""
        text = "\n".join((self.kind.value, self.blob, self.version.strip('"')))
        return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:40]


def notice_for(outcome: Outcome, *, dry_run: bool = False) -> Notice | None:
    """The notice an outcome calls for: a reject does, anything else does not. With
    ``dry_run``, a dry run's would-reject instead (the digest lists them apart; they are never
    sent as notices)."""
    if outcome.status is not (Status.WOULD_REJECT if dry_run else Status.REJECTED):
        return None
    version = outcome.blob_etag or outcome.at.isoformat()
    return Notice(NoticeKind.REJECTED, outcome.blob_name, version, outcome.message, outcome.at,
                  user=outcome.user, reason=outcome.reason,
                  dropped_at=outcome.source_modified or outcome.at)


def poison_notice(blob: str, etag: str, found: datetime) -> Notice:
    return Notice(NoticeKind.POISON, blob, etag, POISON_MESSAGE, found, reason=POISON_REASON)


def waiting_notice(blob: str, written: datetime, found: datetime) -> Notice:
    return Notice(NoticeKind.WAITING, blob, written.isoformat(), WAITING_MESSAGE, found,
                  reason=WAITING_REASON, dropped_at=written)


def select(outcomes: Iterable[Outcome], kinds: frozenset[NoticeKind]) -> list[Notice]:
    """The notices of ``outcomes``, oldest first, one per drop version."""
    if NoticeKind.REJECTED not in kinds:
        return []
    found = (notice_for(o) for o in sorted(outcomes, key=lambda o: o.at))
    return unique(n for n in found if n is not None)


def unique(notices: Iterable[Notice]) -> list[Notice]:
    """First notice of each drop version, in order; a blob with a poison notice needs no
    waiting notice as well (it is the same drop, and the poison one says more)."""
    seen: set[str] = set()
    poisoned: set[str] = set()
    ordered = list(notices)
    for notice in ordered:
        if notice.kind is NoticeKind.POISON:
            poisoned.add(notice.blob)
    kept = []
    for notice in ordered:
        if notice.key in seen or (notice.kind is NoticeKind.WAITING and notice.blob in poisoned):
            continue
        seen.add(notice.key)
        kept.append(notice)
    return kept


@dataclass(frozen=True)
class Batch:
    """One message's worth: the notices it lists, how many more it only counts, and how many
    earlier notices could not be sent (they are in the daily digest)."""

    listed: tuple[Notice, ...]
    more: int
    earlier_not_sent: int = 0
    since: datetime | None = None  # where the report command for the rest should start

    @property
    def total(self) -> int:
        return len(self.listed) + self.more


def coalesce(notices: Sequence[Notice], max_items: int, earlier_not_sent: int = 0) -> Batch:
    """One message listing the first ``max_items`` and counting the rest: a bad batch of 200
    files is one notice a run, not 200."""
    since = min((n.at for n in notices), default=None)
    return Batch(tuple(notices[:max_items]), max(0, len(notices) - max_items),
                 earlier_not_sent, since)
