"""What a call whose answer came late, or never, leaves in the user's row, and what deletions
make of it: a deleted drop's photo goes, and never a newer drop's or another person's."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from photo_core.domain.errors import ServiceUnavailable, Throttled
from photo_core.domain.naming import NamingRules, UserRef
from photo_core.photos import ImagePolicy
from photo_core.use_cases.deletions import BLOB_DELETED, DeletionOptions, blob_deleted
from photo_core.use_cases.lease import ClaimLost
from photo_core.use_cases.ports import PENDING_LATE_UPLOAD, PENDING_UPLOAD, UserState
from photo_core.use_cases.release import mark_unknown
from photo_core.use_cases.sync import SyncDeps, SyncOptions, sync_drop
from tests.photos import jpeg
from tests.unit.fakes import (
    FakeClock,
    FakeDrop,
    FakeOutcomeLog,
    FakePhotoApi,
    FakeStateStore,
    SlowFirstUpload,
)

JANE = "jane@contoso.com"
SYNC = SyncOptions(naming=NamingRules(), image=ImagePolicy(), delete_on_blob_delete=True)
ON = DeletionOptions(enabled=True, drop_container="hr-photos", sync=SYNC)
LATER = datetime(2026, 11, 28, 8, 30, tzinfo=UTC)


def subject(name: str) -> str:
    return f"/blobServices/default/containers/hr-photos/blobs/{name}"


def gone(_: str) -> bool:
    return False


@pytest.fixture
def deps() -> SyncDeps:
    return SyncDeps(api=FakePhotoApi(), state=FakeStateStore(), clock=FakeClock(), owner="a",
                    log=FakeOutcomeLog())


def row(deps: SyncDeps) -> UserState:
    return deps.state.get(f"upn:{JANE}")[0]  # type: ignore[index]


def test_an_earlier_versions_upload_mark_makes_no_deletion_remove_what_may_be_newer(
    deps: SyncDeps,
) -> None:
    """An earlier version wrote "upload", without a target, for an upload sent under the claim
    and for one that outlived it alike. Here a newer drop was recorded since, so it may be a
    late one: deleting the old drop removes nothing."""
    sync_drop(FakeDrop(f"2026/{JANE}.jpg", jpeg("#0000ff")), SYNC, deps)
    state, version = deps.state.get(f"upn:{JANE}")  # type: ignore[misc]
    deps.state.put(state.with_pending("upload", f'{JANE}.jpg|"old"', "o" * 64, "m1",
                                      deps.clock.now()), version)
    assert blob_deleted(BLOB_DELETED, subject(f"{JANE}.jpg"), ON, replace(deps, owner="d"),
                        gone) is None
    assert deps.api.deletions == []  # type: ignore[attr-defined]


@pytest.mark.parametrize("meanwhile", ["its_answer_lost", "its_deletion_throttled",
                                       "still_held"])
def test_a_late_upload_keeps_the_open_mark_of_another_delivery_of_the_same_drop(
    deps: SyncDeps, meanwhile: str,
) -> None:
    """Two deliveries A and B of one drop. A's upload is slow and its claim lapses; B takes the
    claim over. B's upload then goes unanswered, or B records the drop and HR's deletion of it
    is throttled, or A's answer comes while B still holds the claim. A's late answer leaves a
    mark of its own beside that one (which B's or the deletion's release would clear), so the
    drop's deletion, or its redelivery, removes the photo."""
    drop = FakeDrop(f"{JANE}.jpg", jpeg())
    run: SyncDeps

    def while_a_is_out(api: FakePhotoApi) -> None:
        if meanwhile == "its_answer_lost":
            with pytest.raises(ServiceUnavailable):
                sync_drop(drop, SYNC, replace(run, owner="b"))
        else:
            sync_drop(drop, SYNC, replace(run, owner="b"))
        if meanwhile == "its_deletion_throttled":
            drop.gone = True
            api.errors[JANE] = Throttled("throttled", retry_after=None)
            with pytest.raises(Throttled):
                blob_deleted(BLOB_DELETED, subject(drop.name), ON, replace(run, owner="x"),
                             gone)
            del api.errors[JANE]

    def after_bs_upload() -> None:
        if meanwhile == "its_answer_lost":
            raise ServiceUnavailable("the connection was reset")
        if meanwhile == "still_held":  # A's answer comes now
            mark_unknown(run.state, f"upn:{JANE}", row(run).pending_drop or "",
                         row(run).pending_sha256, run.clock, op=PENDING_LATE_UPLOAD,
                         target=f"upn:{JANE}")

    run = replace(deps, api=SlowFirstUpload(while_a_is_out, after_bs_upload))
    with pytest.raises(ClaimLost):
        sync_drop(drop, SYNC, run)
    drop.gone = True
    blob_deleted(BLOB_DELETED, subject(drop.name), ON, replace(run, owner="d"), gone)
    sync_drop(drop, SYNC, replace(run, owner="a2"))  # a redelivery: the blob is gone
    assert JANE not in run.api.photos  # type: ignore[attr-defined]


def test_a_late_upload_after_its_drops_deletion_is_removed_by_the_drops_redelivery(
    deps: SyncDeps,
) -> None:
    """Two deliveries of one drop: B records it, HR deletes it and the deletion removes the
    photo, and only then does A's slow upload of the same drop land. The only photo that can be
    live is the deleted drop's, so A's mark says so, and A's redelivery removes it."""
    drop = FakeDrop(f"{JANE}.jpg", jpeg())
    run: SyncDeps

    def while_a_is_out(_: FakePhotoApi) -> None:
        sync_drop(drop, SYNC, replace(run, owner="b"))
        drop.gone = True
        assert blob_deleted(BLOB_DELETED, subject(drop.name), ON, replace(run, owner="x"),
                            gone) is not None

    run = replace(deps, api=SlowFirstUpload(while_a_is_out))
    with pytest.raises(ClaimLost):
        sync_drop(drop, SYNC, run)
    assert row(run).pending_op == PENDING_UPLOAD
    sync_drop(drop, SYNC, replace(run, owner="a2"))
    assert JANE not in run.api.photos  # type: ignore[attr-defined]
    assert not row(run).photo_unknown


def test_an_upload_whose_answer_is_lost_after_its_claim_lapsed_marks_the_photo_unknown(
    deps: SyncDeps,
) -> None:
    """An older drop's upload is out when its claim lapses; a newer drop takes over, uploads
    and records itself. The older upload then lands and its answer is lost: it may have landed
    after the newer one, so the photo is unknown, not the newer drop's as recorded."""
    sync_options = replace(SYNC, delete_on_blob_delete=False)
    run: SyncDeps

    class Api(FakePhotoApi):
        calls = 0

        def set_photo(self, user: UserRef, data: bytes) -> None:
            self.calls += 1
            if self.calls == 1:
                sync_drop(FakeDrop(f"2026/{JANE}.jpg", jpeg("#0000ff"), etag='"n"',
                                   created=LATER, last_modified=LATER), sync_options,
                          replace(run, owner="n"))
                super().set_photo(user, data)
                raise ServiceUnavailable("the connection was reset")
            super().set_photo(user, data)

    run = replace(deps, api=Api())
    with pytest.raises(ServiceUnavailable):
        sync_drop(FakeDrop(f"{JANE}.jpg", jpeg()), sync_options, run)
    assert row(run).photo_blob == f"2026/{JANE}.jpg" and row(run).photo_unknown


def test_a_dry_run_of_a_deletion_says_what_the_real_run_does(
    deps: SyncDeps, caplog: pytest.LogCaptureFixture,
) -> None:
    """An HR id's first photo, its upload unanswered: the mark names whom it went to, and both
    the dry run and the real run remove it from them."""
    deps.state.put(UserState(user="hr_id:hr-0042").with_pending(
        PENDING_UPLOAD, 'HR-0042.jpg|"x"', "n" * 64, "m1", deps.clock.now(),
        "upn:alice@contoso.com"), None)
    hr_on = replace(ON, sync=replace(SYNC, naming=NamingRules(mapping_mode=True)))
    caplog.set_level("INFO")
    dry = replace(hr_on, sync=replace(hr_on.sync, dry_run=True))
    assert blob_deleted(BLOB_DELETED, subject("HR-0042.jpg"), dry, deps, gone) is None
    assert "would be removed" in caplog.text
    assert blob_deleted(BLOB_DELETED, subject("HR-0042.jpg"), hr_on, deps, gone) is not None
    assert deps.api.deletions == ["alice@contoso.com"]  # type: ignore[attr-defined]


class SlowDelivery:
    """A delivery of a drop in a thread of its own: its upload is sent, then held until
    ``land()``, which lets it land and its own code take the late answer to the end."""

    def __init__(self, drop: FakeDrop, run: SyncDeps) -> None:
        self.sent, self.go, self.done = threading.Event(), threading.Event(), threading.Event()
        self.error: BaseException | None = None

        def body() -> None:
            try:
                sync_drop(drop, SYNC, run)
            except BaseException as exc:  # its outcome, looked at by the test
                self.error = exc
            finally:
                self.done.set()

        self.thread = threading.Thread(target=body, name="slow-delivery")

    def start(self) -> None:
        self.thread.start()
        assert self.sent.wait(30)

    def holds(self, api: FakePhotoApi, user: UserRef, data: bytes) -> bool:
        """Called from the API's upload: True when this is the slow delivery's call."""
        if threading.current_thread() is not self.thread:
            return False
        self.sent.set()
        assert self.go.wait(30)
        FakePhotoApi.set_photo(api, user, data)
        return True

    def land(self) -> None:
        self.go.set()
        assert self.done.wait(30)


@pytest.mark.parametrize("remover", ["its_deletion", "the_other_delivery"])
def test_a_late_upload_landing_after_its_drops_removal_is_removed_again(
    deps: SyncDeps, remover: str,
) -> None:
    """Two deliveries of one drop: the slow one's claim lapses and the other uploads the drop.
    HR deletes it; the removal (by the deletion, or by that delivery finding its blob gone)
    lands, then the slow upload lands and its answer comes while the removal's claim is still
    held. The row must not say "removed, nothing unknown": the slow delivery's mark outlives
    the removal's release, and its redelivery, finding the blob gone, removes the photo."""
    drop = FakeDrop(f"{JANE}.jpg", jpeg())
    slow: SlowDelivery

    class Api(FakePhotoApi):
        def set_photo(self, user: UserRef, data: bytes) -> None:
            if slow.holds(self, user, data):
                return
            super().set_photo(user, data)
            if remover == "the_other_delivery":
                drop.gone = True

        def delete_photo(self, user: UserRef) -> None:
            super().delete_photo(user)
            slow.land()

    run = replace(deps, api=Api())
    slow = SlowDelivery(drop, run)
    slow.start()
    sync_drop(drop, SYNC, replace(run, owner="b"))
    if remover == "its_deletion":
        drop.gone = True
        assert blob_deleted(BLOB_DELETED, subject(drop.name), ON, replace(run, owner="x"),
                            gone) is not None
    assert isinstance(slow.error, ClaimLost)
    assert JANE in run.api.photos and row(run).photo_unknown  # type: ignore[attr-defined]
    sync_drop(drop, SYNC, replace(run, owner="a2"))  # the slow delivery's redelivery
    assert JANE not in run.api.photos and not row(run).photo_unknown  # type: ignore[attr-defined]


class LateMarksDuringRelease(FakeStateStore):
    """Late answers of other calls for the user land just before each of the holder's first
    ``count`` attempts to release its claim: each writes its mark into the row first."""

    def __init__(self, count: int) -> None:
        super().__init__()
        self.count = count

    def put(self, state: UserState, version: str | None) -> str:
        current = self.rows.get(state.user)
        if self.count and state.lock_owner is None and current and current[0].lock_owner:
            self.count -= 1
            mark_unknown(self, state.user, f'{JANE}.jpg|"late{self.count}"', None,
                         FakeClock(), op=PENDING_LATE_UPLOAD, target=f"upn:{JANE}")
        return super().put(state, version)


def test_a_release_that_meets_late_marks_again_and_again_still_releases_and_keeps_the_last(
    deps: SyncDeps,
) -> None:
    store = LateMarksDuringRelease(count=3)
    run = replace(deps, state=store)
    sync_drop(FakeDrop(f"2026/{JANE}.jpg", jpeg()), SYNC, run)
    state = row(run)
    assert (state.lock_owner, state.last_status) == (None, "uploaded")
    assert state.photo_unknown and state.pending_drop == f'{JANE}.jpg|"late0"'
