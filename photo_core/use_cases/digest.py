"""The daily digest: one summary HR and the admins can act on, built from what is recorded.

It carries the counts by outcome for the last day, the rejects still unresolved (no later
successful drop for the same user, over a longer look back, so a reject from Monday is still on
Thursday's list until it is fixed), the drops over a day old still without an outcome, the
notices that could not be sent, and on a day a dry run ran, the drops it would reject. Pure: the
caller reads the log, the container and the book.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from photo_core.domain.notices import Notice, notice_for
from photo_core.domain.outcomes import Outcome, Status
from photo_core.use_cases.notify_ports import NoticeRecord

DAY = timedelta(days=1)
# What gives a user the photo HR meant: an upload, or the same photo already there. A dry run's
# would-upload does not: it uploaded nothing, so a real reject stays HR's to fix. It does take
# an earlier would-reject for the same user off the dry run's list.
RESOLVING = (Status.UPLOADED,)


@dataclass(frozen=True)
class Digest:
    since: datetime  # the day the counts cover: since..until
    until: datetime
    lookback_days: int  # how far back unresolved rejects and unsent notices are looked for
    by_status: dict[str, int] = field(default_factory=dict)
    by_reason: dict[str, int] = field(default_factory=dict)
    unresolved: tuple[Notice, ...] = ()  # newest first
    waiting: tuple[Notice, ...] = ()  # oldest first
    not_sent: tuple[NoticeRecord, ...] = ()  # newest first
    would_reject: tuple[Notice, ...] = ()  # a dry run's of the last day, newest first

    @property
    def total(self) -> int:
        return sum(self.by_status.values())

    @property
    def empty(self) -> bool:
        """No drop in the last day and nothing left to act on."""
        return not (self.total or self.unresolved or self.waiting or self.not_sent or
                    self.would_reject)

    @property
    def day(self) -> str:
        return f"{self.until:%Y-%m-%d}"


def resolves(outcome: Outcome) -> bool:
    """Whether an outcome gives its user the photo, so an earlier reject for them is done."""
    return outcome.status in RESOLVING or (
        outcome.status is Status.UNCHANGED and outcome.reason == "same_content")


def _subject(outcome: Outcome) -> str:
    """Whom a reject is about: its user, or for a name no user could be read from, the name."""
    return (outcome.user or f"blob:{outcome.blob_name}").lower()


@dataclass
class _Fold:
    since: datetime
    by_status: Counter[str] = field(default_factory=Counter)
    by_reason: Counter[str] = field(default_factory=Counter)
    open_rejects: dict[str, Outcome] = field(default_factory=dict)
    would_reject: dict[str, Outcome] = field(default_factory=dict)  # the last day's dry runs

    def add(self, outcome: Outcome) -> None:
        if outcome.at >= self.since:
            self.by_status[outcome.status.value] += 1
            if outcome.reason:
                self.by_reason[outcome.reason] += 1
        subject = _subject(outcome)
        if outcome.status is Status.REJECTED:
            self.open_rejects[subject] = outcome  # the latest reject stands for the user
        elif resolves(outcome):
            self.open_rejects.pop(subject, None)
            self.would_reject.pop(subject, None)
        if outcome.status is Status.WOULD_REJECT and outcome.at >= self.since:
            self.would_reject[subject] = outcome
        elif outcome.status is Status.WOULD_UPLOAD:
            self.would_reject.pop(subject, None)


def build_digest(outcomes: Iterable[Outcome], until: datetime, lookback_days: int,
                 waiting: Iterable[Notice] = (),
                 not_sent: Iterable[NoticeRecord] = ()) -> Digest:
    """The digest for the day before ``until``. ``outcomes`` cover the look back, oldest first
    (as the log gives them); they are folded as they come, so a long look back over a large
    log holds one reject per user, not every outcome."""
    fold = _Fold(until - DAY)
    for outcome in outcomes:
        fold.add(outcome)
    unresolved = [n for n in (notice_for(o) for o in fold.open_rejects.values()) if n]
    dry = [n for n in (notice_for(o, dry_run=True) for o in fold.would_reject.values()) if n]
    return Digest(
        since=until - DAY, until=until, lookback_days=lookback_days,
        by_status=dict(fold.by_status.most_common()),
        by_reason=dict(fold.by_reason.most_common()),
        unresolved=tuple(sorted(unresolved, key=lambda n: n.at, reverse=True)),
        waiting=tuple(sorted(waiting, key=lambda n: n.dropped_at or n.at)),
        not_sent=tuple(sorted(not_sent, key=lambda r: r.noticed, reverse=True)),
        would_reject=tuple(sorted(dry, key=lambda n: n.at, reverse=True)),
    )
