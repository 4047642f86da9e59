"""The notifier use case: tell HR about drops that need them, apart from the drop path.

Every drop's outcome is already in the outcome log. A timer run reads the outcomes recorded
since the cursor (and a function timeout before it: an outcome is appended at the end of its
invocation, so it can land behind a cursor that moved meanwhile), picks the ones worth a notice,
claims each drop version once in the book, and posts one coalesced message. A run takes the
cursor with optimistic concurrency first, so of two runs at once one stands down, and moves it
past what it read only once all of it is claimed, so a run that dies loses nothing.
A message that cannot be sent is recorded as not sent, mentioned by the next message, carried by
the digest, and shown by health: it never touches a drop.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from photo_core.domain.notices import (
    Notice,
    NoticeKind,
    coalesce,
    poison_notice,
    select,
    unique,
    waiting_notice,
)
from photo_core.use_cases.digest import DAY, Digest, build_digest
from photo_core.use_cases.notice_format import digest_document, notice_document
from photo_core.use_cases.notify_ports import (
    DigestMark,
    NoticeBook,
    NoticeConflict,
    NoticeCursor,
    NoticeState,
    PoisonSource,
    Webhook,
)
from photo_core.use_cases.notify_settings import MAX_LOOKBACK_DAYS, NotifySettings
from photo_core.use_cases.ports import DropGone, OutcomeLog, StateStore
from photo_core.use_cases.reconcile import DropSource, without_outcome

logger = logging.getLogger(__name__)

LATE_MARGIN = timedelta(minutes=5)  # the function timeout: no invocation appends later
FIRST_LOOKBACK = timedelta(hours=1)  # the first run also tells of the last hour's drops
MAX_CATCH_UP = DAY  # after a longer pause (notices off, storage down) the digest has the rest
WAITING_AGE = DAY  # a drop this old without an outcome has been through a nightly reconcile
WAITING_EVERY = timedelta(hours=1)  # how often the drop container is listed for them
# A run that claimed a notice and said nothing since died (a run ends within the 5-minute
# function timeout); also how long a run's lease on the cursor holds others off.
STALE_PENDING = timedelta(minutes=10)
SENDING = "sending"
RETENTION = timedelta(days=MAX_LOOKBACK_DAYS + 5)


@dataclass(frozen=True)
class NotifyDeps:
    log: OutcomeLog
    book: NoticeBook
    webhook: Webhook | None  # None: no webhook configured, nothing is sent
    now: Callable[[], datetime]
    drops: DropSource | None = None  # for drops without an outcome, and poison ones' state
    poison: PoisonSource | None = None
    state: StateStore | None = None  # the drop records that say which drops have an outcome


@dataclass(frozen=True)
class NoticeRun:
    found: int = 0  # notices among what this run read (known ones included)
    new: int = 0  # notices this run claimed and put in its message
    sent: bool = False
    skipped: str | None = None
    problem: str | None = None
    resent: int = 0  # claims of runs that died before sending them, sent by this run


def run_notices(deps: NotifyDeps, settings: NotifySettings) -> NoticeRun:
    """One timer run: at most one message, listing up to ``max_items`` notices.

    The run first takes the cursor (a lease, written with optimistic concurrency, so of two
    runs at once one stands down), then claims the new notices, and only then moves the cursor's
    position past what it read. A run that dies before that leaves the position where it was:
    the next run reads the same outcomes again and claims what is still unclaimed. A claim whose
    run died before saying how sending went (older than ``STALE_PENDING``) is sent again."""
    if deps.webhook is None or not settings.enabled:
        return NoticeRun(skipped="no webhook is configured")
    now = deps.now()
    cursor, version = deps.book.cursor()
    held = held_until(cursor, settings)
    if held is not None and now < held:
        return NoticeRun(skipped=f"the webhook asked to wait until {stamp(held)}")
    if cursor.running_since is not None and now - cursor.running_since < STALE_PENDING:
        return NoticeRun(skipped="another run is under way")
    try:
        version = deps.book.move(replace(cursor, running_since=now), version)
    except NoticeConflict:
        return NoticeRun(skipped="another run moved the cursor first")
    try:
        found, fresh, checked = _find(deps, settings, cursor, now)
        resend = [r.notice for r in deps.book.not_sent(now - MAX_CATCH_UP, now - STALE_PENDING)
                  if r.state is NoticeState.PENDING]
        claimed = [n for n in fresh if deps.book.claim(n, now)]
    except Exception:
        _release(deps.book, cursor, version)
        raise
    moved = replace(cursor, position=now, waiting_checked=checked, not_before=None,
                    running_since=None)
    owned: str | None = version
    try:
        owned = deps.book.move(moved, version)
    except NoticeConflict:  # its lease was taken as stale; the claims are still this run's
        logger.warning("notify: another run took the cursor while this one was claiming")
        owned = None
    batch = resend + claimed
    if not batch:
        return NoticeRun(found=len(found))
    delivery = deps.webhook.send(notice_document(
        coalesce(batch, settings.max_items, cursor.not_sent), settings.format, now))
    deps.book.settle(batch, NoticeState.SENT if delivery.sent else NoticeState.NOT_SENT,
                     delivery.problem)
    if owned is not None:
        wait = settings.retry.honoured(delivery.retry_after) if delivery.retry_after else None
        _after_send(deps.book, moved, owned, delivery.sent, len(batch), now, wait)
    return NoticeRun(len(found), len(claimed), delivery.sent, problem=delivery.problem,
                     resent=len(resend))


def _find(deps: NotifyDeps, settings: NotifySettings, cursor: NoticeCursor,
          now: datetime) -> tuple[list[Notice], list[Notice], datetime | None]:
    """(the notices among what the run read, those not claimed yet, when the drop container
    was last listed for waiting drops)."""
    since = max(cursor.position or now - FIRST_LOOKBACK, now - MAX_CATCH_UP) - LATE_MARGIN
    known = deps.book.known(since)
    found = select(deps.log.between(since, now), settings.kinds)
    found += _poisoned(deps, known, now) if NoticeKind.POISON in settings.kinds else []
    checked = cursor.waiting_checked
    if NoticeKind.WAITING in settings.kinds and deps.drops is not None and \
            (checked is None or now - checked >= WAITING_EVERY):
        found += waiting_drops(deps.drops, deps.state, now)
        checked = now
    return found, [n for n in unique(found) if n.key not in known], checked


def _release(book: NoticeBook, cursor: NoticeCursor, version: str) -> None:
    """Give the cursor back unmoved after a failed run, so the next run need not wait for the
    lease to go stale; if even that fails, the lease goes stale on its own."""
    try:
        book.move(replace(cursor, running_since=None), version)
    except Exception:
        logger.warning("notify: could not release the cursor; the next runs wait %d minutes",
                       STALE_PENDING.total_seconds() // 60)


def held_until(cursor: NoticeCursor, settings: NotifySettings) -> datetime | None:
    """Until when a webhook's 429 holds the runs: what it asked, capped by the retry policy
    from when it asked (a cursor written before the cap existed may hold a longer wait)."""
    if cursor.not_before is None:
        return None
    if cursor.last_not_sent is None:
        return cursor.not_before
    return min(cursor.not_before,
               cursor.last_not_sent + timedelta(seconds=settings.retry.retry_after_max))


def stamp(when: datetime) -> str:
    """A full UTC timestamp for messages: a wait can end on another day."""
    return f"{when:%Y-%m-%dT%H:%M:%SZ}"


def _after_send(book: NoticeBook, cursor: NoticeCursor, version: str, sent: bool, count: int,
                now: datetime, retry_after: float | None) -> None:
    """Remember what the next message must mention, and a 429's wait for the next runs."""
    if sent:
        after = replace(cursor, not_sent=0)
    else:
        wait = now + timedelta(seconds=retry_after) if retry_after else None
        after = replace(cursor, not_sent=cursor.not_sent + count, last_not_sent=now,
                        not_before=wait)
    try:
        book.move(after, version)
    except NoticeConflict:  # the notices are settled: only the counter is lost
        logger.warning("notify: another run moved the cursor while this one was sending")


def _poisoned(deps: NotifyDeps, known: set[str], now: datetime) -> list[Notice]:
    """Poison messages for drop versions that are still there and still without an outcome
    (reconcile may have processed one since, or HR replaced or deleted it)."""
    if deps.poison is None or deps.drops is None:
        return []
    found = []
    for name, etag in deps.poison.peek():
        notice = poison_notice(name, etag, now)
        if notice.key in known:
            continue
        try:
            info = deps.drops.open(name).info()
        except DropGone:
            continue
        record = deps.state.get_drop(name) if deps.state is not None else None
        if without_outcome(info.etag, record) and info.etag.strip('"') == etag.strip('"'):
            found.append(notice)
    return found


def waiting_drops(drops: DropSource, state: StateStore | None, now: datetime) -> list[Notice]:
    """Drops over a day old without an outcome (reconcile's own test for one)."""
    records = {r.name: r for r in state.drops(None)} if state is not None else {}
    return [waiting_notice(listing.name, listing.last_modified, now)
            for listing in drops.list(None)
            if without_outcome(listing.etag, records.get(listing.name))
            and listing.last_modified < now - WAITING_AGE]


# -- the daily digest ----------------------------------------------------------------------------

@dataclass(frozen=True)
class DigestRun:
    digest: Digest | None = None
    sent: bool = False
    skipped: str | None = None
    problem: str | None = None


def collect_digest(deps: NotifyDeps, settings: NotifySettings) -> Digest:
    """The digest as of now, from the log, the drop container and the book."""
    now = deps.now()
    start = now - timedelta(days=settings.lookback_days)
    waiting = waiting_drops(deps.drops, deps.state, now) if deps.drops is not None else []
    return build_digest(deps.log.between(start, now), now, settings.lookback_days, waiting,
                        deps.book.not_sent(start, now - STALE_PENDING))


def run_digest(deps: NotifyDeps, settings: NotifySettings) -> DigestRun:
    """The daily timer: one digest a UTC day, whichever instance runs first."""
    if deps.webhook is None or not settings.enabled:
        return DigestRun(skipped="no webhook is configured")
    now = deps.now()
    day = f"{now:%Y-%m-%d}"
    mark, version = deps.book.digest_mark()
    if mark is not None and mark.day == day and (
            mark.sent or (mark.problem == SENDING and now - mark.at < STALE_PENDING)):
        return DigestRun(skipped=f"the digest for {day} is sent or being sent")
    try:
        version = deps.book.put_digest_mark(DigestMark(day, False, now, SENDING), version)
    except NoticeConflict:
        return DigestRun(skipped="another run is sending the digest")
    try:
        return _send_digest(deps, deps.webhook, settings, day, now, version)
    except Exception as exc:  # a storage blip: marked failed, so a later run sends it today
        try:
            deps.book.put_digest_mark(
                DigestMark(day, False, now, f"failed ({type(exc).__name__})"), version)
        except Exception:
            logger.warning("notify: could not mark the digest failed; it is retried once its "
                           "mark is %d minutes old", STALE_PENDING.total_seconds() // 60)
        raise


def retry_digest(deps: NotifyDeps, settings: NotifySettings) -> DigestRun | None:
    """The minute timer's second chance for today's digest: the daily timer runs once, so a
    digest that failed (storage, the webhook) or whose run died is sent again, at most every
    ``STALE_PENDING``, until the day is over. ``None`` when there is nothing to retry (no
    digest was begun today, or it went out)."""
    if deps.webhook is None or not settings.enabled:
        return None
    now = deps.now()
    mark, _ = deps.book.digest_mark()
    if mark is None or mark.sent or mark.day != f"{now:%Y-%m-%d}" or \
            now - mark.at < STALE_PENDING:
        return None
    return run_digest(deps, settings)


def _send_digest(deps: NotifyDeps, webhook: Webhook, settings: NotifySettings, day: str,
                 now: datetime, version: str) -> DigestRun:
    digest = collect_digest(deps, settings)
    if digest.empty:  # a day without drops or loose ends is no news: nothing is sent
        deps.book.put_digest_mark(DigestMark(day, True, now, "nothing to report"), version)
        return DigestRun(digest, skipped="nothing to report")
    delivery = webhook.send(digest_document(digest, settings.format, now, settings.max_items))
    try:
        deps.book.put_digest_mark(DigestMark(day, delivery.sent, now, delivery.problem),
                                  version)
    except NoticeConflict:
        logger.warning("notify: another run wrote the digest mark while this one was sending")
    pruned = deps.book.prune(now - RETENTION)
    if pruned:
        logger.info("notify: forgot %d notices older than %d days", pruned, RETENTION.days)
    return DigestRun(digest, delivery.sent, problem=delivery.problem)


def notice_health(book: NoticeBook, settings: NotifySettings, now: datetime) -> str:
    """``off`` (no webhook), ``ok``, or ``not_sent`` when a notice or digest of the last day
    did not go out, or a notice claimed by a run that died is still waiting to be sent again.
    Health reports it without failing: a webhook down is not the app down."""
    if not settings.enabled:
        return "off"
    cursor, _ = book.cursor()
    mark, _ = book.digest_mark()
    failed = [cursor.last_not_sent]
    if mark is not None and not mark.sent and (
            mark.problem != SENDING or now - mark.at >= STALE_PENDING):  # failed, or its run died
        failed.append(mark.at)
    held = held_until(cursor, settings)
    if any(t is not None and t > now - DAY for t in failed) or (held is not None and held > now):
        return "not_sent"
    stale = book.not_sent(now - DAY, now - STALE_PENDING)
    return "not_sent" if any(r.state is NoticeState.PENDING for r in stale) else "ok"
