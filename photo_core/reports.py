"""Reports: what happened to the drops of a time window, for the admins who run photo-sync.

JSON gives the summary (counts by status and by reason, the latest rejects with their reasons
and blob names); CSV gives one row per outcome, newest first, for a spreadsheet.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from photo_core.outcomes import Outcome, Status
from photo_core.ports import OutcomeLog

LATEST_REJECTS = 20
MAX_WINDOW = timedelta(days=92)
_RELATIVE = re.compile(r"(\d+)([mhd])")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}
CSV_FIELDS = ("at", "status", "reason", "user", "blob", "message", "actions")


class ReportWindowError(ValueError):
    """The requested window cannot be read (bad format, reversed, or too long)."""


@dataclass(frozen=True)
class Report:
    since: datetime
    until: datetime
    outcomes: tuple[Outcome, ...]  # newest first

    def summary(self) -> dict[str, Any]:
        rejects = [o for o in self.outcomes if o.status is Status.REJECTED][:LATEST_REJECTS]
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "total": len(self.outcomes),
            "byStatus": dict(Counter(o.status.value for o in self.outcomes).most_common()),
            "byReason": dict(Counter(o.reason for o in self.outcomes if o.reason).most_common()),
            "latestRejects": [
                {"at": o.at.isoformat(), "blob": o.blob_name, "user": o.user,
                 "reason": o.reason, "message": o.message}
                for o in rejects
            ],
        }

    def csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(CSV_FIELDS)
        for o in self.outcomes:
            writer.writerow([o.at.isoformat(), o.status.value, o.reason or "", o.user or "",
                             o.blob_name, o.message, " ".join(o.actions)])
        return out.getvalue()


def parse_window(since: str | None, until: str | None, now: datetime) -> tuple[datetime, datetime]:
    """``since``/``until`` as ISO 8601 times or durations back from now (``30m``, ``24h``,
    ``7d``). Defaults: the last 24 hours."""
    end = _parse_time(until, now) if until else now
    start = _parse_time(since, now) if since else end - timedelta(hours=24)
    if start >= end:
        raise ReportWindowError("since must be before until")
    if end - start > MAX_WINDOW:
        raise ReportWindowError(f"a report covers at most {MAX_WINDOW.days} days")
    return start, end


def build_report(log: OutcomeLog, since: datetime, until: datetime) -> Report:
    outcomes = sorted(log.between(since, until), key=lambda o: o.at, reverse=True)
    return Report(since, until, tuple(outcomes))


def _parse_time(text: str, now: datetime) -> datetime:
    relative = _RELATIVE.fullmatch(text.strip())
    if relative:
        return now - timedelta(**{_UNITS[relative.group(2)]: int(relative.group(1))})
    try:
        parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise ReportWindowError(
            f"{text!r} is neither an ISO 8601 time nor a duration such as 24h or 7d") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
