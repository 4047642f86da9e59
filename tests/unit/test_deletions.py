"""Deleting a drop removes the profile photo only when asked, and only the photo it gave."""

from __future__ import annotations

from dataclasses import replace

import pytest

from photo_core.deletions import BLOB_DELETED, DeletionOptions, blob_deleted
from photo_core.errors import UserNotFound
from photo_core.imaging import ImagePolicy
from photo_core.naming import NamingRules
from photo_core.outcomes import Status
from photo_core.sync import SyncDeps, SyncOptions, sync_drop
from tests.photos import jpeg
from tests.unit.fakes import (
    FakeClock,
    FakeDrop,
    FakeOutcomeLog,
    FakePhotoApi,
    FakeStateStore,
    UnavailableOutcomeLog,
)

JANE = "jane@contoso.com"
ON = DeletionOptions(enabled=True, drop_container="hr-photos", naming=NamingRules())


def subject(name: str, container: str = "hr-photos") -> str:
    return f"/blobServices/default/containers/{container}/blobs/{name}"


@pytest.fixture
def deps() -> SyncDeps:
    clock = FakeClock()
    return SyncDeps(api=FakePhotoApi(), state=FakeStateStore(), now=clock.now, sleep=clock.sleep,
                    owner="t", log=FakeOutcomeLog())


def synced(deps: SyncDeps, name: str) -> None:
    sync_drop(FakeDrop(name, jpeg()), SyncOptions(naming=NamingRules(), image=ImagePolicy()), deps)


def gone(_: str) -> bool:
    return False


def test_deleting_the_current_drop_removes_the_photo_and_records_it(deps: SyncDeps) -> None:
    synced(deps, f"{JANE}.jpg")
    outcome = blob_deleted(BLOB_DELETED, subject(f"{JANE}.jpg"), ON, deps, gone)
    assert outcome is not None and outcome.status is Status.PHOTO_DELETED
    assert deps.api.deletions == [JANE]  # type: ignore[attr-defined]
    assert deps.state.get(f"upn:{JANE}")[0].last_status == "photo-deleted"  # type: ignore[index]
    assert deps.log.outcomes[-1].status is Status.PHOTO_DELETED  # type: ignore[union-attr]


def test_an_unavailable_outcome_log_costs_a_report_line_not_a_redelivered_deletion(
    deps: SyncDeps, caplog: pytest.LogCaptureFixture
) -> None:
    synced(deps, f"{JANE}.jpg")
    log = UnavailableOutcomeLog()
    outcome = blob_deleted(BLOB_DELETED, subject(f"{JANE}.jpg"), ON, replace(deps, log=log), gone)
    assert outcome is not None and outcome.status is Status.PHOTO_DELETED
    assert [o.status for o in log.attempted] == [Status.PHOTO_DELETED]
    assert deps.state.get(f"upn:{JANE}")[0].last_status == "photo-deleted"  # type: ignore[index]
    assert "could not append the outcome" in caplog.text


def test_off_by_default_nothing_happens(deps: SyncDeps) -> None:
    synced(deps, f"{JANE}.jpg")
    off = DeletionOptions(enabled=False, drop_container="hr-photos", naming=NamingRules())
    assert blob_deleted(BLOB_DELETED, subject(f"{JANE}.jpg"), off, deps, gone) is None
    assert deps.api.deletions == []  # type: ignore[attr-defined]


@pytest.mark.parametrize(("event_type", "name", "container"), [
    ("Microsoft.Storage.BlobCreated", f"{JANE}.jpg", "hr-photos"),
    (BLOB_DELETED, f"old/{JANE}.jpg", "hr-photos"),  # not the source of the current photo
    (BLOB_DELETED, f"{JANE}.jpg", "elsewhere"),
    (BLOB_DELETED, "not a name.png", "hr-photos"),
])
def test_other_events_and_other_blobs_remove_nothing(deps: SyncDeps, event_type: str, name: str,
                                                     container: str) -> None:
    synced(deps, f"{JANE}.jpg")
    assert blob_deleted(event_type, subject(name, container), ON, deps, gone) is None
    assert deps.api.deletions == []  # type: ignore[attr-defined]


def test_a_blob_deleted_and_uploaded_again_keeps_its_photo(deps: SyncDeps) -> None:
    synced(deps, f"{JANE}.jpg")
    assert blob_deleted(BLOB_DELETED, subject(f"{JANE}.jpg"), ON, deps, lambda n: True) is None
    assert deps.api.deletions == []  # type: ignore[attr-defined]


def test_a_permanent_failure_is_recorded_not_raised(deps: SyncDeps) -> None:
    synced(deps, f"{JANE}.jpg")
    deps.api.errors[JANE] = UserNotFound("gone from the directory")  # type: ignore[attr-defined]
    outcome = blob_deleted(BLOB_DELETED, subject(f"{JANE}.jpg"), ON, deps, gone)
    assert outcome is not None and (outcome.status, outcome.reason) == (Status.REJECTED,
                                                                         "user_not_found")
