"""What the notification timers and commands do, in product terms (see
``photo_core.use_cases.notifier``).

Kept apart from ``photo_core.entrypoints.handlers``: nothing here is on a drop's path, and nothing
on a drop's path waits for anything here.
"""

from __future__ import annotations

import logging
from datetime import datetime

from photo_core.bootstrap import app_services, notify_services
from photo_core.use_cases.digest import Digest
from photo_core.use_cases.notifier import (
    STALE_PENDING,
    DigestRun,
    NoticeRun,
    collect_digest,
    notice_health,
    retry_digest,
    run_digest,
    run_notices,
)
from photo_core.use_cases.notify_ports import NoticeRecord

logger = logging.getLogger(__name__)


def handle_notices() -> NoticeRun:
    """The notice timer: at most one coalesced message about new drops that need HR."""
    run = run_notices(notify_services(), app_services().settings.notify)
    if run.new or run.resent:
        logger.info("notify: %d new notice(s), %d of runs that died, %s", run.new, run.resent,
                    "sent" if run.sent else f"not sent ({run.problem})")
    elif run.skipped and run.skipped != "no webhook is configured":
        logger.info("notify: skipped: %s", run.skipped)
    return run


def handle_notice_timer() -> NoticeRun:
    """The notice timer: the notices, then today's digest again if it failed (the digest's own
    timer runs once a day)."""
    run = handle_notices()
    retried = retry_digest(notify_services(), app_services().settings.notify)
    if retried is not None:
        logger.info("notify: digest retried, %s",
                    "sent" if retried.sent else f"not sent ({retried.problem})")
    return run


def handle_digest() -> DigestRun:
    """The digest timer: the daily digest, once a UTC day."""
    run = run_digest(notify_services(), app_services().settings.notify)
    if run.skipped:
        logger.info("notify: digest skipped: %s", run.skipped)
    else:
        logger.info("notify: digest %s", "sent" if run.sent else f"not sent ({run.problem})")
    return run


def digest_now() -> Digest:
    """The digest as of now, sent nowhere (``python -m photo_core report --digest``)."""
    return collect_digest(notify_services(), app_services().settings.notify)


def not_sent_between(since: datetime, until: datetime) -> list[NoticeRecord]:
    """Notices of the window that did not go out, for the outcome report."""
    deps = notify_services()
    records = deps.book.not_sent(since, deps.now() - STALE_PENDING)
    return [r for r in records if r.noticed < until]


def notice_check() -> str:
    """Health's ``notices`` entry: ``off``, ``ok`` or ``not_sent``."""
    deps = notify_services()
    return notice_health(deps.book, app_services().settings.notify, deps.now())
