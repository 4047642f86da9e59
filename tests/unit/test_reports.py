"""Reports: a time window's outcomes as a JSON summary or CSV rows."""

from __future__ import annotations

import base64
import csv
import io
import json
import weakref
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from photo_core.domain.inert_text import printable
from photo_core.domain.outcomes import Outcome, Status
from photo_core.use_cases.reports import (
    Cursor,
    ReportWindowError,
    build_report,
    parse_window,
    read_token,
)
from tests.unit.fakes import FakeOutcomeLog

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def outcome(minutes_ago: int, status: Status, reason: str | None = None,
            blob: str = "jane@contoso.com.jpg") -> Outcome:
    return Outcome(status=status, blob_name=blob, message=f"{status.value} {reason or ''}",
                   at=NOW - timedelta(minutes=minutes_ago), reason=reason, user="jane@contoso.com")


@pytest.mark.parametrize(
    ("since", "until", "start", "end"),
    [
        (None, None, NOW - timedelta(hours=24), NOW),
        ("30m", None, NOW - timedelta(minutes=30), NOW),
        ("7d", "1d", NOW - timedelta(days=7), NOW - timedelta(days=1)),
        ("2026-11-28T10:00:00Z", "2026-11-28T11:00:00", datetime(2026, 11, 28, 10, tzinfo=UTC),
         datetime(2026, 11, 28, 11, tzinfo=UTC)),
    ],
)
def test_windows_are_iso_times_or_durations_back_from_now(
        since: str | None, until: str | None, start: datetime, end: datetime) -> None:
    assert parse_window(since, until, NOW) == (start, end)


@pytest.mark.parametrize(("since", "until"), [("yesterday", None), ("1h", "2h"), ("200d", None)])
def test_unreadable_windows_are_refused_with_a_reason(since: str, until: str | None) -> None:
    with pytest.raises(ReportWindowError):
        parse_window(since, until, NOW)


@pytest.mark.parametrize(
    ("since", "until"),
    [
        ("1000000d", None),
        (None, "1000000d"),
        ("1000000000d", None),  # past what a timedelta holds
        ("99999999999999999999m", None),
        ("9" * 5000 + "h", None),  # past Python's digit limit for int()
        ("0001-01-01T00:00:00+01:00", "0001-01-02T00:00:00Z"),  # year 0 in UTC
        (None, "0001-01-01T12:00:00Z"),  # the default since would be before year 1
        ("9999-12-31T00:00:00Z", "9999-12-31T23:59:59Z"),  # the log's day walk would pass 9999
        ("9999-12-31T23:00:00-05:00", None),
        ("1969-12-31T00:00:00Z", "1970-01-01T01:00:00Z"),
    ],
)
def test_windows_beyond_the_dates_a_report_can_cover_are_refused_as_out_of_range(
        since: str | None, until: str | None) -> None:
    with pytest.raises(ReportWindowError, match="out of range"):
        parse_window(since, until, NOW)


def test_the_summary_counts_by_status_and_reason_and_lists_latest_rejects() -> None:
    log = FakeOutcomeLog()
    log.outcomes += [
        outcome(5, Status.UPLOADED),
        outcome(4, Status.REJECTED, "not_jpeg", "lee@contoso.com.jpg"),
        outcome(3, Status.REJECTED, "user_not_found", "nobody@contoso.com.jpg"),
        outcome(2, Status.UNCHANGED, "same_content"),
        outcome(60 * 30, Status.REJECTED, "too_small"),  # outside the window
    ]
    summary = build_report(log, NOW - timedelta(hours=1), NOW).summary()
    assert summary["total"] == 4
    assert summary["byStatus"] == {"rejected": 2, "uploaded": 1, "unchanged": 1}
    assert summary["byReason"] == {"not_jpeg": 1, "user_not_found": 1, "same_content": 1}
    assert [r["blob"] for r in summary["latestRejects"]] == [
        "nobody@contoso.com.jpg", "lee@contoso.com.jpg"]


def test_a_dry_runs_would_rejects_are_listed_with_the_rejects_by_their_own_status() -> None:
    log = FakeOutcomeLog()
    log.outcomes += [outcome(3, Status.REJECTED, "not_jpeg", "lee@contoso.com.jpg"),
                     outcome(2, Status.WOULD_UPLOAD),
                     outcome(1, Status.WOULD_REJECT, "no_mailbox", "diego@contoso.com.jpg")]
    summary = build_report(log, NOW - timedelta(hours=1), NOW).summary()
    assert summary["byStatus"] == {"rejected": 1, "would-upload": 1, "would-reject": 1}
    assert [(r["status"], r["reason"]) for r in summary["latestRejects"]] == [
        ("would-reject", "no_mailbox"), ("rejected", "not_jpeg")]


def test_csv_has_one_row_per_outcome_oldest_first() -> None:
    log = FakeOutcomeLog()
    log.outcomes += [outcome(1, Status.REJECTED, "not_jpeg"), outcome(5, Status.UPLOADED)]
    rows = list(csv.DictReader(io.StringIO(build_report(log, NOW - timedelta(hours=1),
                                                       NOW).csv())))
    assert [(r["status"], r["reason"]) for r in rows] == [("uploaded", ""),
                                                         ("rejected", "not_jpeg")]


def csv_rows(*outcomes: Outcome) -> list[dict[str, str]]:
    log = FakeOutcomeLog()
    log.outcomes += outcomes
    text = build_report(log, NOW - timedelta(hours=1), NOW).csv()
    return list(csv.DictReader(io.StringIO(text)))


@pytest.mark.parametrize("trigger", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_cells_that_a_spreadsheet_would_run_as_a_formula_start_with_a_quote(
        trigger: str) -> None:
    [row] = csv_rows(Outcome(
        status=Status.REJECTED, blob_name=f"{trigger}1+2/jane@contoso.com.jpg",
        message=f"{trigger}HYPERLINK(\"https://evil.example\")", at=NOW - timedelta(minutes=1),
        reason=f"{trigger}reason", user=f"{trigger}jane@contoso.com",
        actions=(f"{trigger}action", "rotated")))
    shown = printable(trigger)  # a tab or carriage return is also escaped for the terminal
    assert row["blob"] == f"'{shown}1+2/jane@contoso.com.jpg"
    assert row["message"] == f"'{shown}HYPERLINK(\"https://evil.example\")"
    assert (row["reason"], row["user"], row["actions"]) == (
        f"'{shown}reason", f"'{shown}jane@contoso.com", f"'{shown}action rotated")


def test_csv_cells_keep_their_text_and_quoting_when_nothing_needs_neutralising() -> None:
    message = 'HR said "use this one", then =SUM(A1) later'
    [row] = csv_rows(Outcome(
        status=Status.UPLOADED, blob_name="2026/jane@contoso.com.jpg", message=message,
        at=NOW - timedelta(minutes=1), user="jane@contoso.com", actions=("rotated",)))
    assert (row["status"], row["reason"], row["user"], row["blob"], row["message"],
            row["actions"]) == ("uploaded", "", "jane@contoso.com", "2026/jane@contoso.com.jpg",
                                message, "rotated")
    assert row["at"] == (NOW - timedelta(minutes=1)).isoformat()


def test_a_formula_cell_that_also_needs_quoting_is_neutralised_and_quoted() -> None:
    log = FakeOutcomeLog()
    log.outcomes.append(Outcome(status=Status.REJECTED, blob_name='=1+2,"x"/j@contoso.com.jpg',
                                message="m", at=NOW - timedelta(minutes=1)))
    line = build_report(log, NOW - timedelta(hours=1), NOW).csv().splitlines()[1]
    assert '"\'=1+2,""x""/j@contoso.com.jpg"' in line


def test_a_carriage_return_inside_a_cell_is_quoted_so_no_row_starts_mid_cell() -> None:
    log = FakeOutcomeLog()
    log.outcomes.append(Outcome(status=Status.REJECTED, blob_name="jane\r=1+2.jpg", message="m",
                                at=NOW - timedelta(minutes=1)))
    text = build_report(log, NOW - timedelta(hours=1), NOW).csv()
    assert "\r" not in text
    assert [row["blob"] for row in csv.DictReader(io.StringIO(text))] == ["jane\\x0d=1+2.jpg"]


@pytest.mark.parametrize(("blob", "shown"), [
    ("jane\x1b[2J\x1b]0;owned\x07@contoso.com.jpg",
     "jane\\x1b[2J\\x1b]0;owned\\x07@contoso.com.jpg"),
    ("jane\u2028\u202e@contoso.com.jpg", "jane\\u2028\\u202e@contoso.com.jpg"),
    ("line\nbreak.jpg", "line\\x0abreak.jpg"),
])
def test_csv_cells_reach_a_terminal_with_their_control_characters_escaped(
        blob: str, shown: str) -> None:
    [row] = csv_rows(Outcome(status=Status.REJECTED, blob_name=blob, message=f"bad {blob}",
                             at=NOW - timedelta(minutes=1)))
    assert (row["blob"], row["message"]) == (shown, f"bad {shown}")


class StreamingLog(FakeOutcomeLog):
    """A log of ``count`` outcomes made as they are read (``per_time`` at each time), counting
    how many are alive at once: a report that held the window would keep them all."""

    def __init__(self, count: int, per_time: int = 1) -> None:
        super().__init__()
        self.count, self.per_time = count, per_time
        self.alive = self.most_alive = self.made = 0

    def between(self, since: datetime, until: datetime) -> Iterator[Outcome]:
        start = NOW - timedelta(days=90)
        for i in range(self.count):
            at = start + timedelta(seconds=i // self.per_time)
            if not since <= at < until:
                continue
            status = Status.REJECTED if i % 3 else Status.UPLOADED
            made = Outcome(status=status, blob_name=f"u{i}@contoso.com.jpg", message="m",
                           at=at, reason="not_jpeg" if i % 3 else None)
            self.alive += 1
            self.made += 1
            self.most_alive = max(self.most_alive, self.alive)
            weakref.finalize(made, self._gone)
            yield made
            del made

    def _gone(self) -> None:
        self.alive -= 1


def test_a_summary_of_a_long_window_never_holds_its_outcomes() -> None:
    log = StreamingLog(30_000)
    summary = build_report(log, NOW - timedelta(days=92), NOW).summary()
    assert summary["total"] == log.made == 30_000
    assert summary["byStatus"] == {"rejected": 20_000, "uploaded": 10_000}
    assert len(summary["latestRejects"]) == 20
    assert summary["latestRejects"][0]["blob"] == "u29999@contoso.com.jpg"  # newest first
    assert log.most_alive <= 22  # the 20 latest rejects kept, and the one being read


def test_the_csv_streams_and_pages_chain_without_losing_or_repeating_a_row() -> None:
    """Pages of 1,000 rows over 10,000 outcomes, seven at each time, so page ends fall inside
    a run of equal times: the cursor counts how many of that time were sent."""
    log = StreamingLog(10_000, per_time=7)
    report = build_report(log, NOW - timedelta(days=92), NOW)
    blobs: list[str] = []
    after = None
    pages = 0
    while True:
        text, cursor = report.csv_page(after, 1000)
        rows = list(csv.DictReader(io.StringIO(text)))
        assert len(rows) <= 1000
        blobs += [row["blob"] for row in rows]
        pages += 1
        if cursor is None:
            break
        token = cursor.token(report.since, report.until)
        after, since, until = read_token(token)
        assert (since, until) == (report.since, report.until)
    assert blobs == [f"u{i}@contoso.com.jpg" for i in range(10_000)]
    assert pages == 10 or pages == 11
    assert log.most_alive <= 2


@pytest.mark.parametrize("token", ["", "not base64!", "W10", "WyJ4IiwgMCwgIngiXQ"])
def test_a_page_token_that_is_not_one_is_a_window_error(token: str) -> None:
    with pytest.raises(ReportWindowError, match="page token"):
        read_token(token)


def crafted(*values: object) -> str:
    """A page token written by hand, as an attacker or a stale bookmark would."""
    raw = json.dumps([v.isoformat() if isinstance(v, datetime) else v for v in values])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@pytest.mark.parametrize("token", [
    crafted("1970-01-01T00:00:00+00:00", 0, "2100-01-01T00:00:00+00:00"),  # 130 years
    crafted("0001-01-01T00:00:00+00:00", 0, "9999-12-31T23:59:59+00:00"),  # would overflow
    crafted("0001-01-01T00:00:00+00:00", 0, "0001-01-02T00:00:00+00:00"),
    crafted("9999-12-30T00:00:00+00:00", 0, "9999-12-31T00:00:00+00:00"),
    crafted(NOW - timedelta(days=1), 0, NOW, NOW - timedelta(days=200)),  # its window > 92 d
    crafted(NOW - timedelta(days=3), 0, NOW, NOW - timedelta(days=1)),  # before its window
])
def test_a_page_token_cannot_widen_the_window_or_leave_its_range(token: str) -> None:
    with pytest.raises(ReportWindowError):
        read_token(token)


def test_a_page_token_keeps_its_windows_start() -> None:
    since, until = NOW - timedelta(days=92), NOW
    cursor, start, end = read_token(Cursor(NOW - timedelta(days=1), 3).token(since, until))
    assert (cursor, start, end) == (Cursor(NOW - timedelta(days=1), 3), since, until)
