"""Reports: a time window's outcomes as a JSON summary or CSV rows."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from photo_core.outcomes import Outcome, Status
from photo_core.reports import ReportWindowError, build_report, parse_window
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


def test_csv_has_one_row_per_outcome_newest_first() -> None:
    log = FakeOutcomeLog()
    log.outcomes += [outcome(5, Status.UPLOADED), outcome(1, Status.REJECTED, "not_jpeg")]
    rows = list(csv.DictReader(io.StringIO(build_report(log, NOW - timedelta(hours=1),
                                                       NOW).csv())))
    assert [(r["status"], r["reason"]) for r in rows] == [("rejected", "not_jpeg"),
                                                         ("uploaded", "")]
