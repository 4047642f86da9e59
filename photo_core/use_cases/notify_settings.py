"""Notification settings: where notices go, in which format, about what, and when.

All optional: without ``PHOTO_NOTIFY_WEBHOOK_URL`` nothing is sent. The URL is a secret (a Teams
workflow URL carries its signature in the query): it is kept out of ``repr``, and no message
names its value, only the setting.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar
from urllib.parse import urlsplit

from photo_core.domain.notices import NoticeFormat, NoticeKind
from photo_core.domain.retry import RetryPolicy

DEFAULT_SCHEDULE = "0 * * * * *"  # every minute
DEFAULT_DIGEST_SCHEDULE = "0 0 7 * * *"  # 07:00 UTC
MAX_ITEMS = 25
MAX_LOOKBACK_DAYS = 31
# Sending has a small budget of its own: a run posts one message, every minute at most, and a
# webhook that is down or slow must not hold it for long. A 429 asking for longer than this
# budget is honoured across runs instead (no run sends before the time it gave).
NOTICE_RETRY = RetryPolicy(max_attempts=3, budget_seconds=20.0, backoff_base=1.0,
                           backoff_max=5.0)

N = TypeVar("N", int, float)


@dataclass(frozen=True)
class NotifySettings:
    webhook_url: str | None = field(default=None, repr=False)
    format: NoticeFormat = NoticeFormat.TEAMS
    kinds: frozenset[NoticeKind] = frozenset({NoticeKind.REJECTED})
    max_items: int = 10
    schedule: str = DEFAULT_SCHEDULE
    digest_schedule: str = DEFAULT_DIGEST_SCHEDULE
    lookback_days: int = 7
    retry: RetryPolicy = NOTICE_RETRY
    connect_timeout: float = 5.0
    read_timeout: float = 10.0

    @property
    def enabled(self) -> bool:
        return self.webhook_url is not None


class SettingsReader(Protocol):
    """What the settings reader offers (``photo_core.settings``): values and a problem list."""

    problems: list[str]

    def text(self, name: str) -> str | None: ...

    def number(self, name: str, default: N, convert: Callable[[str], N], low: float,
               high: float, why: str | None = None) -> N: ...

    def schedule(self, name: str, default: str) -> str: ...


def read_notify(reader: SettingsReader) -> NotifySettings:
    d = NotifySettings()
    url = reader.text("PHOTO_NOTIFY_WEBHOOK_URL")
    if url is not None and not webhook_url_ok(url):
        reader.problems.append(
            "PHOTO_NOTIFY_WEBHOOK_URL must be an https URL (http only to this machine, for the "
            "local stack's receiver); its value is not shown")
        url = None
    fmt = reader.text("PHOTO_NOTIFY_FORMAT") or d.format.value
    try:
        chosen = NoticeFormat(fmt.lower())
    except ValueError:
        reader.problems.append(f"PHOTO_NOTIFY_FORMAT={fmt!r} is not one of: teams, json")
        chosen = d.format
    return NotifySettings(
        webhook_url=url, format=chosen, kinds=_kinds(reader, d.kinds),
        max_items=reader.number("PHOTO_NOTIFY_MAX_ITEMS", d.max_items, int, 1, MAX_ITEMS,
                                "a Teams message holds at most 28 KB"),
        schedule=reader.schedule("PHOTO_NOTIFY_SCHEDULE", d.schedule),
        digest_schedule=reader.schedule("PHOTO_NOTIFY_DIGEST_SCHEDULE", d.digest_schedule),
        lookback_days=reader.number("PHOTO_NOTIFY_LOOKBACK_DAYS", d.lookback_days, int, 1,
                                    MAX_LOOKBACK_DAYS),
        read_timeout=reader.number("PHOTO_NOTIFY_TIMEOUT_SECONDS", d.read_timeout, float, 1,
                                   20, "a notice run must end within a minute"),
    )


def _kinds(reader: SettingsReader, default: frozenset[NoticeKind]) -> frozenset[NoticeKind]:
    text = reader.text("PHOTO_NOTIFY_ON")
    if text is None:
        return default
    kinds = set()
    unknown = []
    for word in (w.strip().lower() for w in text.split(",") if w.strip()):
        try:
            kinds.add(NoticeKind(word))
        except ValueError:
            unknown.append(word)
    if unknown or not kinds:
        reader.problems.append(f"PHOTO_NOTIFY_ON={text!r} is not a comma-separated list of: "
                               "rejected, poison, waiting")
        return default
    return frozenset(kinds)


def webhook_url_ok(url: str) -> bool:
    """An https URL with a host, or http to a loopback address (the local receiver): a notice
    carries names of people, and must not cross a network in the clear."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return False
    if not host or parts.username or parts.password:
        return False
    if parts.scheme == "https":
        return True
    return parts.scheme == "http" and _loopback(host)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
