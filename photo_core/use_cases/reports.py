"""Reports: what happened to the drops of a time window, for the admins who run photo-sync.

JSON gives the summary (counts by status and by reason, the latest rejects with their reasons
and blob names); CSV gives one row per outcome, oldest first, for a spreadsheet. Neither holds
the window's outcomes in memory: a 92-day window of a big tenant is millions of rows.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
import re
from collections import Counter, deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from photo_core.domain.inert_text import printable
from photo_core.domain.outcomes import Outcome, Status
from photo_core.use_cases.notify_ports import NoticeRecord
from photo_core.use_cases.ports import OutcomeLog

LATEST_REJECTS = 20
CSV_PAGE_ROWS = 5000  # rows in one HTTP answer; the next page is asked for with its token
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
    """The outcomes of ``since``..``until``, read from the log as they are needed and never
    held: the summary is counted as the log streams by, the CSV written a row at a time (and
    over HTTP a page at a time), so memory stays bounded whatever the window holds."""

    log: OutcomeLog
    since: datetime
    until: datetime
    not_sent: tuple[NoticeRecord, ...] = ()  # notices of the window that did not go out

    def summary(self) -> dict[str, Any]:
        by_status: Counter[str] = Counter()
        by_reason: Counter[str] = Counter()
        latest: deque[Outcome] = deque(maxlen=LATEST_REJECTS)  # the log runs oldest first
        for o in self.log.between(self.since, self.until):
            by_status[o.status.value] += 1
            if o.reason:
                by_reason[o.reason] += 1
            if o.status in _REJECTS:
                latest.append(o)
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "total": by_status.total(),
            "byStatus": dict(by_status.most_common()),
            "byReason": dict(by_reason.most_common()),
            "latestRejects": [
                {"at": o.at.isoformat(), "status": o.status.value, "blob": o.blob_name,
                 "user": o.user, "reason": o.reason, "message": o.message}
                for o in reversed(latest)
            ],
            "noticesNotSent": [
                {"noticed": r.noticed.isoformat(), "kind": r.notice.kind.value,
                 "blob": r.notice.blob, "user": r.notice.user, "reason": r.notice.reason,
                 "problem": r.problem}
                for r in self.not_sent[:LATEST_REJECTS]
            ],
        }

    def csv_lines(self, after: Cursor | None = None) -> Iterator[tuple[str, Cursor]]:
        """The header, then one CSV record per outcome, oldest first, each with the cursor a
        next page starts after. Blob names are HR's (folder prefixes included) and messages
        quote them, so every text cell is made inert before a spreadsheet can run it as a
        formula, and its control characters are escaped before a terminal can act on them."""
        cursor = after or Cursor(self.since, 0)
        yield _csv_record(CSV_FIELDS), cursor
        skip = cursor.skip
        for o in self.log.between(cursor.at, self.until):
            if o.at == cursor.at:
                if skip:
                    skip -= 1
                    continue
                cursor = Cursor(o.at, cursor.skip + 1)
            else:
                cursor = Cursor(o.at, 1)
            text = (o.status.value, o.reason or "", o.user or "", o.blob_name, o.message,
                    " ".join(o.actions))
            yield _csv_record([o.at.isoformat(), *(printable(inert_cell(t)) for t in text)]), (
                cursor)

    def csv(self) -> str:
        """The whole CSV at once (small windows and tests; the CLI and HTTP stream or page)."""
        return "".join(line for line, _ in self.csv_lines())

    def csv_page(self, after: Cursor | None, rows: int) -> tuple[str, Cursor | None]:
        """At most ``rows`` records after ``after`` (the header first), and the cursor of the
        next page, None when this one reaches the end of the window."""
        lines: list[str] = []
        last = after
        for line, cursor in self.csv_lines(after):
            if len(lines) > rows:  # header + rows already: there is more
                return "".join(lines), last
            lines.append(line)
            last = cursor
        return "".join(lines), None


@dataclass(frozen=True)
class Cursor:
    """Where a CSV page ends: the time of its last outcome and how many outcomes at exactly
    that time it has sent. As a token (:meth:`token`) it also carries the window's start and
    end, so a window given as "24h" does not move between pages."""

    at: datetime
    skip: int

    def token(self, since: datetime, until: datetime) -> str:
        raw = json.dumps([self.at.isoformat(), self.skip, until.isoformat(), since.isoformat()])
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def read_token(token: str) -> tuple[Cursor, datetime, datetime]:
    """The cursor and the window's start and end a :meth:`Cursor.token` carries;
    ``ReportWindowError`` if it is not one. A token is the client's to send back, so it is
    held to the rules of any window (within ``EARLIEST``..``LATEST``, at most ``MAX_WINDOW``)
    and its cursor to its window. (A token without a start, from before tokens carried one,
    is read as starting at its cursor.)"""
    not_one = "after is not a page token from a previous answer"
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        at, skip, until, *since = json.loads(raw)
        cursor = Cursor(datetime.fromisoformat(at), int(skip))
        end = datetime.fromisoformat(until)
        start = datetime.fromisoformat(since[0]) if since else cursor.at
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise ReportWindowError(not_one) from exc
    if len(since) > 1 or None in (cursor.at.tzinfo, end.tzinfo, start.tzinfo) or \
            cursor.skip < 0 or not start <= cursor.at <= end:
        raise ReportWindowError(not_one)
    if not (_in_range(start) and _in_range(end)) or end - start > MAX_WINDOW:
        raise ReportWindowError(f"{not_one}: its window is not one a report covers (at most "
                                f"{MAX_WINDOW.days} days, from {EARLIEST:%Y-%m-%d} to "
                                f"{LATEST:%Y-%m-%d})")
    return cursor, start, end


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


def build_report(log: OutcomeLog, since: datetime, until: datetime,
                 not_sent: Sequence[NoticeRecord] = ()) -> Report:
    unsent = sorted(not_sent, key=lambda r: r.noticed, reverse=True)
    return Report(log, since, until, tuple(unsent))


def _parse_time(text: str, now: datetime) -> datetime:
    """One end of a window, refused unless it lies between ``EARLIEST`` and ``LATEST``: a
    duration such as ``1000000d`` or a time near year 1 would otherwise overflow later."""
    text = text.strip()
    parsed = _read_time(text, now)
    if not _in_range(parsed):
        raise _out_of_range(text)
    return parsed


def _in_range(when: datetime) -> bool:
    try:
        return EARLIEST <= when.astimezone(UTC) < LATEST
    except OverflowError:  # e.g. 0001-01-01T00:00+01:00 is in year 0 in UTC
        return False


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
