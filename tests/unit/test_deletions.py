"""Deleting a drop removes the profile photo only when asked, and only the photo it gave."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from photo_core.domain.errors import ServiceUnavailable, Throttled, UserNotFound
from photo_core.domain.naming import NamingRules, UserRef, UserRefKind
from photo_core.domain.outcomes import Status
from photo_core.photos import ImagePolicy
from photo_core.use_cases.deletions import BLOB_DELETED, DeletionOptions, blob_deleted
from photo_core.use_cases.directory import Resolution
from photo_core.use_cases.lease import ClaimLost
from photo_core.use_cases.ports import StateUnavailable, UserState
from photo_core.use_cases.sync import SyncDeps, SyncOptions, sync_drop
from tests.photos import jpeg
from tests.unit.fakes import (
    FakeClock,
    FakeDrop,
    FakeOutcomeLog,
    FakePhotoApi,
    FakeStateStore,
    SlowFirstUpload,
    UnavailableOutcomeLog,
)

JANE = "jane@contoso.com"
ON = DeletionOptions(enabled=True, drop_container="hr-photos",
                     sync=SyncOptions(naming=NamingRules(), image=ImagePolicy()))


def subject(name: str, container: str = "hr-photos") -> str:
    return f"/blobServices/default/containers/{container}/blobs/{name}"


@pytest.fixture
def deps() -> SyncDeps:
    clock = FakeClock()
    return SyncDeps(api=FakePhotoApi(), state=FakeStateStore(), clock=clock, owner="t",
                    log=FakeOutcomeLog())


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
    off = replace(ON, enabled=False)
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


HR_MAPPING = NamingRules(mapping_mode=True)
HR_ON = replace(ON, sync=replace(ON.sync, naming=HR_MAPPING))


class FakeMapping:
    """The HR id mapping as a resolver: HR can correct a row at any time."""

    def __init__(self, rows: dict[str, str]) -> None:
        self.rows = rows

    def resolve(self, ref: UserRef) -> UserRef:
        if ref.kind is UserRefKind.HR_ID:
            return UserRef(UserRefKind.UPN, self.rows[ref.value])
        return ref

    def resolve_for_upload(self, ref: UserRef) -> Resolution:
        return Resolution(self.resolve(ref))


def test_the_photo_is_removed_from_whom_it_went_to_even_after_the_mapping_was_corrected(
    deps: SyncDeps,
) -> None:
    mapping = FakeMapping({"HR-0042": "bob@contoso.com"})
    run = replace(deps, resolver=mapping)
    sync_drop(FakeDrop("HR-0042.jpg", jpeg()), SyncOptions(naming=HR_MAPPING, image=ImagePolicy()),
              run)
    mapping.rows["HR-0042"] = "alice@contoso.com"  # HR fixes the wrong row, then deletes
    options = HR_ON
    outcome = blob_deleted(BLOB_DELETED, subject("HR-0042.jpg"), options, run, gone)
    assert outcome is not None and outcome.status is Status.PHOTO_DELETED
    assert deps.api.deletions == ["bob@contoso.com"]  # type: ignore[attr-defined]


def test_an_hr_id_photo_recorded_without_its_target_is_not_removed_by_guessing(
    deps: SyncDeps,
) -> None:
    deps.state.put(UserState(user="hr_id:hr-0042", last_status="uploaded",
                             last_blob_name="HR-0042.jpg"), None)
    options = HR_ON
    run = replace(deps, resolver=FakeMapping({"HR-0042": "alice@contoso.com"}))
    assert blob_deleted(BLOB_DELETED, subject("HR-0042.jpg"), options, run, gone) is None
    assert deps.api.deletions == []  # type: ignore[attr-defined]


def test_a_deletion_waits_for_a_drop_in_progress_and_then_leaves_its_newer_photo(
    deps: SyncDeps,
) -> None:
    synced(deps, f"{JANE}.jpg")
    row, version = deps.state.get(f"upn:{JANE}")  # type: ignore[misc]
    newer = f"2026/{JANE}.jpg"
    expires = deps.clock.now() + timedelta(seconds=30)
    version = deps.state.put(replace(row, lock_owner="sync-of-a-newer-drop",
                                     lock_drop=f"{newer}|x", lock_expires=expires), version)
    waited: list[float] = []

    def newer_drop_finishes(seconds: float) -> None:
        waited.append(seconds)
        current, at = deps.state.get(f"upn:{JANE}")  # type: ignore[misc]
        if current.lock_owner == "sync-of-a-newer-drop":
            deps.state.put(replace(current, lock_owner=None, lock_drop=None, lock_expires=None,
                                   last_blob_name=newer, last_status="uploaded",
                                   photo_blob=newer, photo_etag="x"), at)

    deps.clock.on_sleep = newer_drop_finishes  # type: ignore[attr-defined]
    outcome = blob_deleted(BLOB_DELETED, subject(f"{JANE}.jpg"), ON, deps, gone)
    assert outcome is None and waited
    assert deps.api.deletions == []  # type: ignore[attr-defined]
    assert deps.state.get(f"upn:{JANE}")[0].last_blob_name == newer  # type: ignore[index]


def test_a_dry_run_removes_and_writes_nothing(deps: SyncDeps) -> None:
    synced(deps, f"{JANE}.jpg")
    before = deps.state.get(f"upn:{JANE}")
    dry = replace(ON, sync=replace(ON.sync, dry_run=True))
    outcome = blob_deleted(BLOB_DELETED, subject(f"{JANE}.jpg"), dry, deps, gone)
    assert outcome is None
    assert deps.api.deletions == []  # type: ignore[attr-defined]
    assert deps.state.get(f"upn:{JANE}") == before


def test_a_dry_run_of_a_deletion_whose_blob_is_back_says_the_photo_stays(
    deps: SyncDeps, caplog: pytest.LogCaptureFixture,
) -> None:
    synced(deps, f"{JANE}.jpg")
    caplog.set_level("INFO")
    dry = replace(ON, sync=replace(ON.sync, dry_run=True))
    assert blob_deleted(BLOB_DELETED, subject(f"{JANE}.jpg"), dry, deps, lambda n: True) is None
    assert "uploaded again after its deletion; photo kept" in caplog.text
    assert "would be removed" not in caplog.text


def test_the_same_photo_dropped_again_for_an_id_that_now_names_someone_else_goes_to_them(
    deps: SyncDeps,
) -> None:
    mapping = FakeMapping({"HR-0042": "bob@contoso.com"})
    run = replace(deps, resolver=mapping)
    options = SyncOptions(naming=HR_MAPPING, image=ImagePolicy())
    photo = jpeg()
    sync_drop(FakeDrop("HR-0042.jpg", photo), options, run)
    mapping.rows["HR-0042"] = "alice@contoso.com"  # the row was wrong; HR drops the file again
    again = sync_drop(FakeDrop("2026/HR-0042.jpg", photo), options, run)
    assert again.status is Status.UPLOADED
    assert [user for user, _ in deps.api.uploads] == [  # type: ignore[attr-defined]
        "bob@contoso.com", "alice@contoso.com"]
    outcome = blob_deleted(BLOB_DELETED, subject("2026/HR-0042.jpg"),
                           HR_ON, run, gone)
    assert outcome is not None
    assert deps.api.deletions == ["alice@contoso.com"]  # type: ignore[attr-defined]


def test_a_deletion_leaves_the_photo_of_the_same_name_uploaded_again_meanwhile(
    deps: SyncDeps,
) -> None:
    synced(deps, f"{JANE}.jpg")
    row, version = deps.state.get(f"upn:{JANE}")  # type: ignore[misc]
    deps.state.put(replace(row, lock_owner="sync-of-the-re-upload", lock_drop=f"{JANE}.jpg|new",
                           lock_expires=deps.clock.now() + timedelta(seconds=30)), version)

    def re_upload_finishes(seconds: float) -> None:
        current, at = deps.state.get(f"upn:{JANE}")  # type: ignore[misc]
        if current.lock_owner == "sync-of-the-re-upload":
            deps.state.put(replace(current, lock_owner=None, lock_drop=None, lock_expires=None,
                                   last_blob_etag='"new"', last_status="uploaded",
                                   photo_etag='"new"'), at)

    deps.clock.on_sleep = re_upload_finishes  # type: ignore[attr-defined]
    outcome = blob_deleted(BLOB_DELETED, subject(f"{JANE}.jpg"), ON, deps, gone)
    assert outcome is None
    assert deps.api.deletions == []  # type: ignore[attr-defined]


def test_a_deletion_during_the_upload_of_that_very_drop_waits_for_it_and_removes_its_photo(
    deps: SyncDeps,
) -> None:
    """The event comes while the drop's claim is held: the row still names the previous drop
    as the photo's source, but the drop in flight is about to become it."""
    synced(deps, f"2025/{JANE}.jpg")
    row, version = deps.state.get(f"upn:{JANE}")  # type: ignore[misc]
    expires = deps.clock.now() + timedelta(seconds=30)
    deps.state.put(replace(row, lock_owner="sync-of-the-deleted-drop", lock_expires=expires,
                           lock_drop=f"{JANE}.jpg|new"), version)

    def upload_finishes(seconds: float) -> None:
        current, at = deps.state.get(f"upn:{JANE}")  # type: ignore[misc]
        if current.lock_owner == "sync-of-the-deleted-drop":
            deps.api.photos[JANE] = b"the new photo"  # type: ignore[attr-defined]
            deps.state.put(replace(current, lock_owner=None, lock_drop=None, lock_expires=None,
                                   last_blob_name=f"{JANE}.jpg", last_blob_etag="new",
                                   photo_blob=f"{JANE}.jpg", photo_etag="new",
                                   last_status="uploaded"), at)

    deps.clock.on_sleep = upload_finishes  # type: ignore[attr-defined]
    outcome = blob_deleted(BLOB_DELETED, subject(f"{JANE}.jpg"), ON, deps, gone)
    assert outcome is not None and outcome.status is Status.PHOTO_DELETED
    assert deps.api.deletions == [JANE]  # type: ignore[attr-defined]


def test_a_drop_deleted_while_its_photo_was_uploaded_has_the_photo_removed_with_it(
    deps: SyncDeps,
) -> None:
    """Writing the outcome on the blob, under the claim, finds it gone: with deletion sync on,
    the photo it just gave goes too, under the same claim."""
    drop = FakeDrop(f"{JANE}.jpg", jpeg())

    class DeletedMeanwhile(FakePhotoApi):
        def set_photo(self, user: UserRef, data: bytes) -> None:
            super().set_photo(user, data)
            drop.gone = True  # HR deletes the file; its event finds nothing to do yet

    api = DeletedMeanwhile()
    options = replace(ON.sync, delete_on_blob_delete=True)
    outcome = sync_drop(drop, options, replace(deps, api=api))
    assert outcome.status is Status.PHOTO_DELETED
    assert api.uploads and api.deletions == [JANE] and JANE not in api.photos
    row = deps.state.get(f"upn:{JANE}")[0]  # type: ignore[index]
    assert (row.last_status, row.photo_blob, row.lock_owner) == ("photo-deleted", None, None)


def test_a_drop_whose_own_removal_went_unanswered_sends_it_again_on_its_redelivery(
    deps: SyncDeps,
) -> None:
    """HR deleted the drop during its upload, and its deletion's event found nothing to do yet.
    The drop's own removal of the photo is throttled past its budget: the drop fails, and its
    redelivery, finding the blob gone, sends the removal again (nobody else would)."""
    drop = FakeDrop(f"{JANE}.jpg", jpeg())

    class DeletedMeanwhile(FakePhotoApi):
        def set_photo(self, user: UserRef, data: bytes) -> None:
            super().set_photo(user, data)
            drop.gone = True
            self.errors[JANE] = Throttled("photo API throttled the request", retry_after=None)

    api = DeletedMeanwhile()
    options = replace(ON.sync, delete_on_blob_delete=True)
    with pytest.raises(Throttled):
        sync_drop(drop, options, replace(deps, api=api))
    assert JANE in api.photos
    del api.errors[JANE]
    again = sync_drop(drop, options, replace(deps, api=api, owner="t2"))
    assert again.status is Status.PHOTO_DELETED and JANE not in api.photos
    row = deps.state.get(f"upn:{JANE}")[0]  # type: ignore[index]
    assert (row.photo_unknown, row.photo_blob, row.lock_owner) == (False, None, None)


def test_a_redelivered_drop_that_finds_its_blob_gone_removes_nothing_without_its_removal_mark(
    deps: SyncDeps,
) -> None:
    synced(deps, f"{JANE}.jpg")
    drop = FakeDrop(f"{JANE}.jpg", jpeg())
    drop.gone = True
    options = replace(ON.sync, delete_on_blob_delete=True)
    assert sync_drop(drop, options, replace(deps, owner="t2")).reason == "gone"
    assert deps.api.deletions == []  # type: ignore[attr-defined]


def test_deleting_a_duplicate_of_the_photo_keeps_the_photo_whose_drop_still_exists(
    deps: SyncDeps,
) -> None:
    photo = jpeg()
    sync_drop(FakeDrop(f"{JANE}.jpg", photo), ON.sync, deps)
    duplicate = sync_drop(FakeDrop(f"copy/{JANE}.jpg", photo, etag='"copy"'), ON.sync, deps)
    assert duplicate.reason == "same_content"
    assert blob_deleted(BLOB_DELETED, subject(f"copy/{JANE}.jpg"), ON, deps, gone) is None
    assert deps.api.deletions == []  # type: ignore[attr-defined]


def test_a_deletion_seconds_after_an_upload_is_not_taken_for_an_older_event(
    deps: SyncDeps,
) -> None:
    """Storage dated the upload; this instance's clock is behind it. A deletion is not
    ordered against drops by time at all."""
    deps.clock.offset = -timedelta(seconds=20)  # type: ignore[attr-defined]
    now = deps.clock.current  # type: ignore[attr-defined]
    sync_drop(FakeDrop(f"{JANE}.jpg", jpeg(), created=now, last_modified=now), ON.sync, deps)
    outcome = blob_deleted(BLOB_DELETED, subject(f"{JANE}.jpg"), ON, deps, gone)
    assert outcome is not None and outcome.status is Status.PHOTO_DELETED


def test_deleting_a_drop_whose_upload_went_out_unanswered_removes_the_photo_it_may_have_given(
    deps: SyncDeps,
) -> None:
    """Its upload landed, but the table never heard (the release failed): the row still names
    the previous drop and marks the photo unknown, with the deleted drop as the pending one."""
    synced(deps, f"2025/{JANE}.jpg")
    row, version = deps.state.get(f"upn:{JANE}")  # type: ignore[misc]
    deps.state.put(row.with_pending("upload", f'{JANE}.jpg|"new"', "n" * 64, "m1",
                                    deps.clock.now(), f"upn:{JANE}"), version)
    deps.api.photos[JANE] = b"the new photo"  # type: ignore[attr-defined]
    outcome = blob_deleted(BLOB_DELETED, subject(f"{JANE}.jpg"), ON, deps, gone)
    assert outcome is not None and outcome.status is Status.PHOTO_DELETED
    assert JANE not in deps.api.photos  # type: ignore[attr-defined]
    assert not deps.state.get(f"upn:{JANE}")[0].photo_unknown  # type: ignore[index]


@pytest.mark.parametrize("source", [None, f"2025/{JANE}.jpg"])
def test_a_removal_left_unanswered_is_sent_again_by_the_deletions_redelivery(
    deps: SyncDeps, source: str | None,
) -> None:
    """The deleted drop's upload went out unanswered (the row marks it pending, and names an
    older drop as the source, or none). The removal is throttled past its budget: its intent
    replaced the upload's mark. The deleted drop's photo may still be live, so the redelivery
    sends the removal again."""
    if source is not None:
        synced(deps, source)
    else:
        deps.state.put(UserState(user=f"upn:{JANE}"), None)
    row, version = deps.state.get(f"upn:{JANE}")  # type: ignore[misc]
    deps.state.put(row.with_pending("upload", f'{JANE}.jpg|"new"', "n" * 64, "m1",
                                    deps.clock.now(), f"upn:{JANE}"), version)
    deps.api.photos[JANE] = b"the deleted drop's photo, landed"  # type: ignore[attr-defined]
    deps.api.errors[JANE] = Throttled("photo API throttled the request",  # type: ignore[attr-defined]
                                    retry_after=None)
    with pytest.raises(Throttled):
        blob_deleted(BLOB_DELETED, subject(f"{JANE}.jpg"), ON, deps, gone)
    del deps.api.errors[JANE]  # type: ignore[attr-defined]
    again = blob_deleted(BLOB_DELETED, subject(f"{JANE}.jpg"), ON, replace(deps, owner="t2"),
                         gone)
    assert again is not None and again.status is Status.PHOTO_DELETED
    assert JANE not in deps.api.photos  # type: ignore[attr-defined]
    row = deps.state.get(f"upn:{JANE}")[0]  # type: ignore[index]
    assert (row.lock_owner, row.photo_unknown) == (None, False)


class ReleaseLost(FakeStateStore):
    """The table stops answering right after a claim is written: the next write fails."""

    def __init__(self) -> None:
        super().__init__()
        self.fail_after_claim = False

    def put(self, state: UserState, version: str | None) -> str:
        if self.fail_after_claim and state.lock_owner is None:
            raise StateUnavailable("the table does not answer")
        return super().put(state, version)


def test_a_deletion_whose_release_failed_is_finished_by_its_redelivery_though_the_blob_is_back(
    deps: SyncDeps,
) -> None:
    """HR uploads the file again while its deletion runs, and the table stops answering before
    the claim is released. The redelivery finds the blob back, so there is nothing to remove,
    but the claim its first attempt left is still its to release: nobody else would."""
    store = ReleaseLost()
    run = replace(deps, state=store)
    synced(run, f"{JANE}.jpg")
    store.fail_after_claim = True
    looks: list[str] = []

    def uploaded_again_under_the_claim(name: str) -> bool:
        looks.append(name)
        return len(looks) > 1

    with pytest.raises(StateUnavailable):
        blob_deleted(BLOB_DELETED, subject(f"{JANE}.jpg"), ON, run, uploaded_again_under_the_claim)
    assert store.get(f"upn:{JANE}")[0].lock_drop == f"{JANE}.jpg|deleted"  # type: ignore[index]
    store.fail_after_claim = False
    again = blob_deleted(BLOB_DELETED, subject(f"{JANE}.jpg"), ON, replace(run, owner="t2"),
                         lambda n: True)
    assert again is None and deps.api.deletions == []  # type: ignore[attr-defined]
    row = store.get(f"upn:{JANE}")[0]  # type: ignore[index]
    assert (row.lock_owner, row.lock_drop) == (None, None)


def test_a_deletion_redelivered_after_its_first_attempt_died_under_the_claim_removes_the_photo(
    deps: SyncDeps,
) -> None:
    """The first attempt claimed the user and died before the removal: the claim it left names
    the deletion, not a drop version, and the photo it was to remove is still the drop's."""
    synced(deps, f"{JANE}.jpg")
    row, version = deps.state.get(f"upn:{JANE}")  # type: ignore[misc]
    deps.state.put(replace(row, lock_owner="a-deletion-that-died", lock_drop=f"{JANE}.jpg|deleted",
                           lock_expires=deps.clock.now() + timedelta(seconds=30)), version)
    outcome = blob_deleted(BLOB_DELETED, subject(f"{JANE}.jpg"), ON, deps, gone)
    assert outcome is not None and outcome.status is Status.PHOTO_DELETED
    assert deps.api.deletions == [JANE]  # type: ignore[attr-defined]
    row = deps.state.get(f"upn:{JANE}")[0]  # type: ignore[index]
    assert (row.lock_owner, row.photo_blob) == (None, None)


def test_a_removal_that_outlived_its_claim_never_makes_its_redelivery_remove_a_newer_photo(
    deps: SyncDeps,
) -> None:
    """The removal lands, but its answer comes only after the claim lapsed and a newer drop
    took it over and uploaded. The photo is marked unknown; the deleted drop is not made a
    possible source of it, so the redelivery leaves the newer drop's photo alone."""
    newer = f"2026/{JANE}.jpg"
    later = datetime(2026, 11, 28, 8, 30, tzinfo=UTC)

    class AnsweredLate(FakePhotoApi):
        def delete_photo(self, user: UserRef) -> None:
            super().delete_photo(user)
            sync_drop(FakeDrop(newer, jpeg("#0000ff"), etag='"n"', created=later,
                               last_modified=later), ON.sync, replace(run, owner="newer"))

    run = replace(deps, api=AnsweredLate())
    synced(run, f"{JANE}.jpg")
    with pytest.raises(ClaimLost):
        blob_deleted(BLOB_DELETED, subject(f"{JANE}.jpg"), ON, run, gone)
    row = deps.state.get(f"upn:{JANE}")[0]  # type: ignore[index]
    assert row.photo_blob == newer and row.photo_unknown
    again = blob_deleted(BLOB_DELETED, subject(f"{JANE}.jpg"), ON, replace(run, owner="t2"),
                         gone)
    assert again is None and JANE in run.api.photos  # type: ignore[attr-defined]
    assert deps.state.get(f"upn:{JANE}")[0].photo_unknown  # type: ignore[index]


def test_a_dry_run_of_a_deletion_says_a_photo_without_its_recorded_target_stays(
    deps: SyncDeps, caplog: pytest.LogCaptureFixture,
) -> None:
    deps.state.put(UserState(user="hr_id:hr-0042", last_status="uploaded",
                             last_blob_name="HR-0042.jpg"), None)
    run = replace(deps, resolver=FakeMapping({"HR-0042": "alice@contoso.com"}))
    caplog.set_level("INFO")
    dry = replace(HR_ON, sync=replace(HR_ON.sync, dry_run=True))
    assert blob_deleted(BLOB_DELETED, subject("HR-0042.jpg"), dry, run, gone) is None
    assert "not removed" in caplog.text and "would be removed" not in caplog.text


def test_deleting_the_recorded_source_keeps_a_photo_a_newer_drops_unanswered_upload_may_have_given(
    deps: SyncDeps,
) -> None:
    """The row names the deleted drop as the photo's source, but a newer drop's upload went
    out since and its answer was lost: the live photo may be the newer drop's. A missing photo
    is worse than a stale one, so it stays (the newer drop's redelivery uploads it again)."""
    synced(deps, f"{JANE}.jpg")
    row, version = deps.state.get(f"upn:{JANE}")  # type: ignore[misc]
    deps.state.put(row.with_pending("upload", f'2026/{JANE}.jpg|"n"', "n" * 64, "m1",
                                    deps.clock.now(), f"upn:{JANE}"), version)
    deps.api.photos[JANE] = b"the newer drop's photo, landed"  # type: ignore[attr-defined]
    assert blob_deleted(BLOB_DELETED, subject(f"{JANE}.jpg"), ON, deps, gone) is None
    assert JANE in deps.api.photos  # type: ignore[attr-defined]
    assert deps.state.get(f"upn:{JANE}")[0].photo_unknown  # type: ignore[index]


BOB, ALICE = "bob@contoso.com", "alice@contoso.com"
HR_SYNC = SyncOptions(naming=NamingRules(mapping_mode=True), image=ImagePolicy(),
                      delete_on_blob_delete=True)


def hr_drop_deleted_during_its_upload(to: str, drop: FakeDrop) -> FakePhotoApi:
    """HR deletes ``drop`` while its photo goes to ``to``; the removal that follows is
    throttled past its budget until the test lifts it."""

    class DeletedMeanwhile(FakePhotoApi):
        def set_photo(self, user: UserRef, data: bytes) -> None:
            super().set_photo(user, data)
            if user.value == to and not drop.gone:
                drop.gone = True
                self.errors[to] = Throttled("photo API throttled the request", retry_after=None)

    return DeletedMeanwhile()


def test_a_removal_sent_again_goes_to_whom_the_deleted_drop_gave_its_photo_not_the_last_target(
    deps: SyncDeps,
) -> None:
    """An older drop gave bob the photo while HR-0042 named him; HR corrected the row to alice
    and dropped again, then deleted that drop during its upload. The row still names bob as
    the photo's target (the new drop's outcome never reached it): the removal goes to alice,
    as recorded in its own mark, and bob keeps the photo of a drop that still exists."""
    later = datetime(2026, 11, 28, 8, 30, tzinfo=UTC)
    drop = FakeDrop("HR-0042.jpg", jpeg("#0000ff"), etag='"x"', created=later,
                    last_modified=later)
    api = hr_drop_deleted_during_its_upload(ALICE, drop)
    mapping = FakeMapping({"HR-0042": BOB})
    run = replace(deps, api=api, resolver=mapping)
    sync_drop(FakeDrop("2025/HR-0042.jpg", jpeg()), HR_SYNC, run)
    mapping.rows["HR-0042"] = ALICE
    with pytest.raises(Throttled):
        sync_drop(drop, HR_SYNC, run)
    del api.errors[ALICE]
    again = sync_drop(drop, HR_SYNC, replace(run, owner="t2"))
    assert again.status is Status.PHOTO_DELETED
    assert api.deletions == [ALICE] and BOB in api.photos and ALICE not in api.photos


def test_a_removal_sent_again_reaches_an_hr_ids_first_photo(deps: SyncDeps) -> None:
    """No earlier photo, so the row names no target, and an HR id is never resolved again:
    the target comes from the removal's own mark."""
    drop = FakeDrop("HR-0042.jpg", jpeg())
    api = hr_drop_deleted_during_its_upload(ALICE, drop)
    run = replace(deps, api=api, resolver=FakeMapping({"HR-0042": ALICE}))
    with pytest.raises(Throttled):
        sync_drop(drop, HR_SYNC, run)
    del api.errors[ALICE]
    again = sync_drop(drop, HR_SYNC, replace(run, owner="t2"))
    assert again.status is Status.PHOTO_DELETED and ALICE not in api.photos


def test_a_drops_own_removal_answered_after_its_claim_lapsed_marks_the_photo_unknown(
    deps: SyncDeps,
) -> None:
    """HR deleted the drop during its upload; its removal is answered only after its claim
    lapsed and a newer drop uploaded, so it may have removed the newer photo. It is not
    recorded as done: the photo is marked unknown, for the next drop or reconcile to put back."""
    drop = FakeDrop(f"{JANE}.jpg", jpeg())
    newer = f"2026/{JANE}.jpg"
    later = datetime(2026, 11, 28, 8, 30, tzinfo=UTC)
    options = replace(ON.sync, delete_on_blob_delete=True)

    class AnsweredLate(FakePhotoApi):
        def set_photo(self, user: UserRef, data: bytes) -> None:
            super().set_photo(user, data)
            drop.gone = True

        def delete_photo(self, user: UserRef) -> None:
            sync_drop(FakeDrop(newer, jpeg("#0000ff"), etag='"n"', created=later,
                               last_modified=later), options, replace(run, owner="newer"))
            super().delete_photo(user)

    run = replace(deps, api=AnsweredLate())
    with pytest.raises(ClaimLost):
        sync_drop(drop, options, run)
    row = deps.state.get(f"upn:{JANE}")[0]  # type: ignore[index]
    assert row.photo_blob == newer and row.photo_unknown and row.lock_owner is None


def test_an_upload_that_outlived_its_claim_makes_no_deletion_remove_what_may_be_newer(
    deps: SyncDeps,
) -> None:
    """The drop's upload lands only after its claim lapsed and a newer drop uploaded: the live
    photo may be either. Deleting the older drop removes nothing (a missing photo is worse
    than a stale one); the photo stays unknown, for the next drop or reconcile to put back."""
    newer = f"2026/{JANE}.jpg"
    later = datetime(2026, 11, 28, 8, 30, tzinfo=UTC)

    def newer_meanwhile(_: FakePhotoApi) -> None:
        sync_drop(FakeDrop(newer, jpeg("#0000ff"), etag='"n"', created=later,
                           last_modified=later), ON.sync, replace(run, owner="newer"))

    run = replace(deps, api=SlowFirstUpload(newer_meanwhile))
    with pytest.raises(ClaimLost):
        sync_drop(FakeDrop(f"{JANE}.jpg", jpeg()), ON.sync, run)
    assert deps.state.get(f"upn:{JANE}")[0].photo_unknown  # type: ignore[index]
    assert blob_deleted(BLOB_DELETED, subject(f"{JANE}.jpg"), ON, run, gone) is None
    assert run.api.deletions == [] and JANE in run.api.photos  # type: ignore[attr-defined]


def test_a_drop_deleted_while_its_upload_went_unanswered_has_its_photo_removed_on_redelivery(
    deps: SyncDeps,
) -> None:
    """HR deleted the drop during its upload, whose answer was lost: the drop fails before it
    can see the blob gone, and the deletion's event had found nothing to do yet. The
    redelivery finds the blob gone and the upload's intent in the row: the photo may be the
    deleted drop's, so it is removed."""
    drop = FakeDrop(f"{JANE}.jpg", jpeg())

    class AnswerLost(FakePhotoApi):
        def set_photo(self, user: UserRef, data: bytes) -> None:
            super().set_photo(user, data)
            if not drop.gone:
                drop.gone = True
                raise ServiceUnavailable("the connection was reset")

    api = AnswerLost()
    options = replace(ON.sync, delete_on_blob_delete=True)
    with pytest.raises(ServiceUnavailable):
        sync_drop(drop, options, replace(deps, api=api))
    again = sync_drop(drop, options, replace(deps, api=api, owner="t2"))
    assert again.status is Status.PHOTO_DELETED and JANE not in api.photos
    row = deps.state.get(f"upn:{JANE}")[0]  # type: ignore[index]
    assert (row.photo_unknown, row.lock_owner) == (False, None)


def test_a_duplicate_deliverys_late_upload_of_the_recorded_photo_leaves_it_known(
    deps: SyncDeps,
) -> None:
    """Two deliveries of one drop: the first one's upload is slow and its claim lapses; the
    second uploads the same photo and records it. The first one's late upload changed nothing,
    so the photo is not marked unknown, and HR's deletion of the drop removes it."""
    drop = FakeDrop(f"{JANE}.jpg", jpeg())

    def second_delivery_meanwhile(_: FakePhotoApi) -> None:
        sync_drop(drop, ON.sync, replace(run, owner="b"))

    run = replace(deps, api=SlowFirstUpload(second_delivery_meanwhile))
    with pytest.raises(ClaimLost):
        sync_drop(drop, ON.sync, run)
    row = deps.state.get(f"upn:{JANE}")[0]  # type: ignore[index]
    assert row.photo_blob == drop.name and not row.photo_unknown and row.lock_owner is None
    outcome = blob_deleted(BLOB_DELETED, subject(drop.name), ON, replace(run, owner="d"), gone)
    assert outcome is not None and outcome.status is Status.PHOTO_DELETED
    assert JANE not in run.api.photos  # type: ignore[attr-defined]


def test_a_gone_drops_redelivery_leaves_an_upload_mark_an_earlier_version_wrote_alone(
    deps: SyncDeps,
) -> None:
    """An earlier version wrote "upload" both for an upload sent under the claim and for one
    that outlived it, and no target. Here it was a late one: a newer drop uploaded since, and
    HR then deleted the old drop. Its redelivery, finding the blob gone, removes nothing: the
    live photo is the newer drop's."""
    synced(deps, f"2026/{JANE}.jpg")
    row, version = deps.state.get(f"upn:{JANE}")  # type: ignore[misc]
    deps.state.put(row.with_pending("upload", f'{JANE}.jpg|"old"', "o" * 64, "m1",
                                    deps.clock.now()), version)
    drop = FakeDrop(f"{JANE}.jpg", jpeg())
    drop.gone = True
    options = replace(ON.sync, delete_on_blob_delete=True)
    assert sync_drop(drop, options, replace(deps, owner="t2")).reason == "gone"
    assert deps.api.deletions == [] and JANE in deps.api.photos  # type: ignore[attr-defined]
