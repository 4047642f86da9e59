"""The daily digest's arithmetic: the last day's counts, and rejects still unresolved."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from photo_core.domain.outcomes import Outcome, Status
from photo_core.use_cases.digest import build_digest

NOW = datetime(2026, 11, 28, 7, 0, tzinfo=UTC)


def outcome(status: Status, blob: str, hours_ago: float, user: str | None = None,
            reason: str | None = None) -> Outcome:
    return Outcome(status, blob, f"{reason or status.value}: message", NOW -
                   timedelta(hours=hours_ago), reason=reason, user=user, blob_etag='"e"')


def test_counts_cover_the_last_day_only() -> None:
    digest = build_digest([
        outcome(Status.UPLOADED, "a.jpg", 30, "a@x.com"),
        outcome(Status.UPLOADED, "b.jpg", 5, "b@x.com"),
        outcome(Status.REJECTED, "c.jpg", 4, "c@x.com", "not_jpeg"),
        outcome(Status.REJECTED, "d.jpg", 3, "d@x.com", "not_jpeg"),
        outcome(Status.UNCHANGED, "e.jpg", 2, "e@x.com", "same_content"),
    ], NOW, 7)
    assert digest.by_status == {"rejected": 2, "uploaded": 1, "unchanged": 1}
    assert digest.by_reason == {"not_jpeg": 2, "same_content": 1}
    assert digest.total == 4 and digest.day == "2026-11-28"


def test_a_reject_is_resolved_by_a_later_upload_for_the_same_user_in_any_case() -> None:
    digest = build_digest([
        outcome(Status.REJECTED, "jane.jpg", 50, "Jane@Contoso.com", "not_jpeg"),
        outcome(Status.UPLOADED, "jane.jpg", 40, "jane@contoso.com"),
        outcome(Status.REJECTED, "lee.jpg", 30, "lee@contoso.com", "too_small"),
        outcome(Status.UNCHANGED, "lee2.jpg", 20, "lee@contoso.com", "superseded"),
    ], NOW, 7)
    assert [n.blob for n in digest.unresolved] == ["lee.jpg"]  # superseded gave no photo


def test_a_user_rejected_twice_is_listed_once_with_the_latest_reason() -> None:
    digest = build_digest([
        outcome(Status.REJECTED, "jane.jpg", 50, "jane@contoso.com", "not_jpeg"),
        outcome(Status.REJECTED, "jane.jpeg", 10, "jane@contoso.com", "too_small"),
    ], NOW, 7)
    assert [(n.blob, n.reason) for n in digest.unresolved] == [("jane.jpeg", "too_small")]


def test_a_name_no_user_could_be_read_from_stays_unresolved_by_its_blob_name() -> None:
    digest = build_digest([
        outcome(Status.REJECTED, "jane doe.png", 10, None, "wrong_extension"),
        outcome(Status.UPLOADED, "jane@contoso.com.jpg", 5, "jane@contoso.com"),
    ], NOW, 7)
    assert [n.blob for n in digest.unresolved] == ["jane doe.png"]


def test_a_reject_after_the_upload_is_unresolved_again() -> None:
    digest = build_digest([
        outcome(Status.UPLOADED, "jane.jpg", 50, "jane@contoso.com"),
        outcome(Status.REJECTED, "jane.jpg", 10, "jane@contoso.com", "not_jpeg"),
    ], NOW, 7)
    assert [n.reason for n in digest.unresolved] == ["not_jpeg"]


def test_a_dry_runs_would_upload_does_not_resolve_a_real_reject() -> None:
    digest = build_digest([
        outcome(Status.REJECTED, "jane.jpg", 3, "jane@contoso.com", "not_jpeg"),
        outcome(Status.WOULD_UPLOAD, "jane.jpg", 2, "jane@contoso.com"),  # nothing uploaded
    ], NOW, 7)
    assert [n.blob for n in digest.unresolved] == ["jane.jpg"]


def test_a_dry_runs_would_rejects_of_the_day_are_listed_apart_from_the_rejects() -> None:
    digest = build_digest([
        outcome(Status.WOULD_REJECT, "old.jpg", 30, "old@contoso.com", "not_jpeg"),  # a day ago
        outcome(Status.WOULD_REJECT, "jane.jpg", 5, "jane@contoso.com", "not_jpeg"),
        outcome(Status.WOULD_REJECT, "lee.jpg", 4, "lee@contoso.com", "too_small"),
        outcome(Status.WOULD_UPLOAD, "lee2.jpg", 3, "lee@contoso.com"),  # fixed, dry run again
    ], NOW, 7)
    assert [(n.blob, n.reason) for n in digest.would_reject] == [("jane.jpg", "not_jpeg")]
    assert digest.unresolved == () and not digest.empty
