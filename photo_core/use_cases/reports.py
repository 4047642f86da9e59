"""Reports: what happened to the drops of a time window, for the admins who run photo-sync.

JSON gives the summary (counts by status and by reason, the latest rejects with their reasons
and blob names); CSV gives one row per outcome, newest first, for a spreadsheet.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from photo_core.domain.outcomes import Outcome, Status
from photo_core.use_cases.ports import OutcomeLog

LATEST_REJECTS = 20
MAX_WINDOW = timedelta(days=92)
_RELATIVE = re.compile(r"(\d+)([mhd])")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}
CSV_FIELDS = ("at", "status", "reason", "user", "blob", "message", "actions")
# A spreadsheet runs a cell that starts with one of these as a formula (OWASP, CSV injection).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
# No outcome is older than the epoch, and keeping clear of year 1 and 9999 keeps the date
# arithmetic of a window and of the log's per-day reads from overflowing.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)


# A dry run's would-reject is listed with the rejects, by its own status: its message is what
# HR or an admin must fix before the real run.
_REJECTS = (Status.REJECTED, Status.WOULD_REJECT)


class ReportWindowError(ValueError):
    """The requested window cannot be read (bad format, reversed, or too long)."""


@dataclass(frozen=True)
class Report:
    since: datetime
    until: datetime
    outcomes: tuple[Outcome, ...]  # newest first

    def summary(self) -> dict[str, Any]:
        rejects = [o for o in self.outcomes if o.status in _REJECTS][:LATEST_REJECTS]
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "total": len(self.outcomes),
            "byStatus": dict(Counter(o.status.value for o in self.outcomes).most_common()),
            "byReason": dict(Counter(o.reason for o in self.outcomes if o.reason).most_common()),
            "latestRejects": [
                {"at": o.at.isoformat(), "status": o.status.value, "blob": o.blob_name,
                 "user": o.user, "reason": o.reason, "message": o.message}
                for o in rejects
            ],
        }

    def csv(self) -> str:
        """One row per outcome. Blob names are HR's (folder prefixes included) and messages quote
        them, so every text cell is made inert before a spreadsheet can run it as a formula."""
        records = [_csv_record(CSV_FIELDS)]
        for o in self.outcomes:
            text = (o.status.value, o.reason or "", o.user or "", o.blob_name, o.message,
                    " ".join(o.actions))
            records.append(_csv_record([o.at.isoformat(), *map(inert_cell, text)]))
        return "".join(records)


def inert_cell(text: str) -> str:
    """``text`` as a spreadsheet shows it instead of evaluating it: OWASP's advice for CSV
    injection, a leading ``'`` before a formula trigger. Quoting is left to the csv module."""
    return f"'{text}" if text.startswith(FORMULA_TRIGGERS) else text


def _csv_record(cells: Sequence[str]) -> str:
    """One CSV record ending in ``\\n``. The writer is handed ``\\r\\n`` as its terminator only so
    that it quotes a cell holding a lone ``\\r``: before Python 3.11.9 (CPython gh-67044) it
    quoted only the terminator's characters, and a spreadsheet starts a new row at a bare
    ``\\r``, a row whose first cell could then be a formula."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(cells)
    return buffer.getvalue().removesuffix("\r\n") + "\n"


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
    """One end of a window, refused unless it lies between ``EARLIEST`` and ``LATEST``: a
    duration such as ``1000000d`` or a time near year 1 would otherwise overflow later."""
    text = text.strip()
    parsed = _read_time(text, now)
    try:
        in_range = EARLIEST <= parsed.astimezone(UTC) < LATEST
    except OverflowError:  # e.g. 0001-01-01T00:00+01:00 is in year 0 in UTC
        in_range = False
    if not in_range:
        raise _out_of_range(text)
    return parsed


def _read_time(text: str, now: datetime) -> datetime:
    relative = _RELATIVE.fullmatch(text)
    if relative:
        try:
            return now - timedelta(**{_UNITS[relative.group(2)]: int(relative.group(1))})
        except (OverflowError, ValueError):  # ValueError: past Python's 4300-digit int limit
            raise _out_of_range(text) from None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ReportWindowError(
            f"{text!r} is neither an ISO 8601 time nor a duration such as 24h or 7d") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _out_of_range(text: str) -> ReportWindowError:
    return ReportWindowError(f"{text!r} is out of range: a report covers times from "
                             f"{EARLIEST:%Y-%m-%d} to {LATEST:%Y-%m-%d}")
