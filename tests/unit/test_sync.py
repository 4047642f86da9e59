"""The sync use case, against in-memory fakes of the storage and photo API ports."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from photo_core.domain.clock import SystemClock
from photo_core.domain.errors import (
    AuthFailure,
    Forbidden,
    MailboxOnPremises,
    NoMailbox,
    PermanentError,
    ServiceUnavailable,
    Throttled,
    TlsUntrusted,
    UserNotFound,
)
from photo_core.domain.naming import NamingRules, UserRef
from photo_core.domain.outcomes import Status
from photo_core.domain.retry import Deadline, current_deadline
from photo_core.photos import ImagePolicy, prepare_photo
from photo_core.use_cases.claims import Superseded
from photo_core.use_cases.directory import MappingUnavailable, NotInMapping
from photo_core.use_cases.lease import ClaimLost
from photo_core.use_cases.ports import (
    DirectoryUser,
    Disposal,
    DropChanged,
    DropRecord,
    UserState,
)
from photo_core.use_cases.sync import SyncDeps, SyncOptions, UserBusy, sync_drop
from tests.photos import jpeg
from tests.unit.fakes import (
    FakeClock,
    FakeDrop,
    FakeOutcomeLog,
    FakePhotoApi,
    FakeStateStore,
    UnavailableOutcomeLog,
)

JANE = "jane.doe@contoso.com"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def api() -> FakePhotoApi:
    return FakePhotoApi()


@pytest.fixture
def state() -> FakeStateStore:
    return FakeStateStore()


def deps(
    api: FakePhotoApi, state: FakeStateStore, clock: FakeClock, owner: str = "inv-1"
) -> SyncDeps:
    return SyncDeps(api=api, state=state, clock=clock, owner=owner)


OPTIONS = SyncOptions(naming=NamingRules(), image=ImagePolicy())


def test_a_valid_drop_is_uploaded_to_the_named_user_and_recorded(
    api: FakePhotoApi, state: FakeStateStore, clock: FakeClock
) -> None:
    drop = FakeDrop(f"{JANE}.jpg", jpeg())
    outcome = sync_drop(drop, OPTIONS, deps(api, state, clock))
    assert outcome.status is Status.UPLOADED
    assert [user for user, _ in api.uploads] == [JANE]
    assert drop.recorded == outcome
    row, _ = state.rows[f"upn:{JANE}"]
    assert row.last_status == "uploaded" and row.content_sha256 == outcome.content_sha256
    assert row.lock_owner is None
    assert drop.disposed == [(Disposal.KEEP, None)]


def test_a_bad_name_is_rejected_without_reading_or_calling_the_api(
    api: FakePhotoApi, state: FakeStateStore, clock: FakeClock
) -> None:
    drop = FakeDrop("jane.doe@contoso.com.png", jpeg())
    outcome = sync_drop(drop, OPTIONS, deps(api, state, clock))
    assert (outcome.status, outcome.reason) == (Status.REJECTED, "wrong_extension")
    assert drop.reads == 0 and not api.uploads and not state.rows
    assert drop.recorded == outcome


def test_a_blob_over_the_size_cap_is_never_downloaded(
    api: FakePhotoApi, state: FakeStateStore, clock: FakeClock
) -> None:
    options = SyncOptions(naming=NamingRules(), image=ImagePolicy(max_input_bytes=1000))
    drop = FakeDrop(f"{JANE}.jpg", b"\xff" * 5000)
    outcome = sync_drop(drop, options, deps(api, state, clock))
    assert (outcome.status, outcome.reason) == (Status.REJECTED, "file_too_large")
    assert drop.reads == 0


def test_a_file_that_is_not_a_jpeg_is_rejected_with_the_photo_reason(
    api: FakePhotoApi, state: FakeStateStore, clock: FakeClock
) -> None:
    drop = FakeDrop(f"{JANE}.jpg", b"\x89PNG\r\n\x1a\n" + b"\0" * 100)
    outcome = sync_drop(drop, OPTIONS, deps(api, state, clock))
    assert (outcome.status, outcome.reason) == (Status.REJECTED, "not_jpeg")
    assert not api.uploads
    assert state.rows[f"upn:{JANE}"][0].last_status == "rejected"


def test_the_same_content_dropped_again_is_unchanged(
    api: FakePhotoApi, state: FakeStateStore, clock: FakeClock
) -> None:
    photo = jpeg()
    sync_drop(FakeDrop(f"{JANE}.jpg", photo), OPTIONS, deps(api, state, clock))
    clock.current += timedelta(minutes=1)
    again = FakeDrop(f"hr/{JANE}.jpeg", photo, etag='"0x2"',
                     last_modified=clock.current - timedelta(seconds=1))
    outcome = sync_drop(again, OPTIONS, deps(api, state, clock))
    assert (outcome.status, outcome.reason) == (Status.UNCHANGED, "same_content")
    assert len(api.uploads) == 1


def recorded(state: FakeStateStore, drop: FakeDrop, status: Status, reason: str | None = None,
             sha256: str | None = "abc") -> None:
    """The state table's record that ``drop``, as it is now, was processed to ``status``."""
    state.put_drop(DropRecord(drop.name, drop.etag, None, drop.created, drop.last_modified,
                              status, reason, "done", drop.last_modified,
                              content_sha256=sha256))


def test_a_redelivered_drop_with_its_outcome_recorded_does_nothing(
    api: FakePhotoApi, state: FakeStateStore, clock: FakeClock
) -> None:
    drop = FakeDrop(f"{JANE}.jpg", jpeg())
    recorded(state, drop, Status.UPLOADED)
    outcome = sync_drop(drop, OPTIONS, deps(api, state, clock))
    assert outcome.status is Status.UPLOADED
    assert drop.reads == 0 and drop.recorded is None and state.writes == 0


def test_an_older_drop_arriving_late_never_overwrites_a_newer_photo(
    api: FakePhotoApi, state: FakeStateStore, clock: FakeClock
) -> None:
    newer = FakeDrop(f"{JANE}.jpg", jpeg(color=(1, 2, 3)), etag='"new"',
                     last_modified=clock.current)
    sync_drop(newer, OPTIONS, deps(api, state, clock))
    older = FakeDrop(f"old/{JANE}.jpg", jpeg(color=(250, 0, 0)), etag='"old"',
                     last_modified=clock.current - timedelta(minutes=5))
    outcome = sync_drop(older, OPTIONS, deps(api, state, clock))
    assert (outcome.status, outcome.reason) == (Status.UNCHANGED, "superseded")
    assert api.photos[JANE] == api.uploads[0][1]
    assert len(api.uploads) == 1
    assert state.rows[f"upn:{JANE}"][0].last_blob_etag == '"new"'


def test_employee_ids_are_resolved_before_upload(
    api: FakePhotoApi, state: FakeStateStore, clock: FakeClock
) -> None:
    api.employees["123456"] = [DirectoryUser("0b5c-id", "jane@contoso.com")]
    options = SyncOptions(naming=NamingRules(employee_id_mode=True), image=ImagePolicy())
    outcome = sync_drop(FakeDrop("123456.jpg", jpeg()), options, deps(api, state, clock))
    assert outcome.status is Status.UPLOADED
    assert [user for user, _ in api.uploads] == ["0b5c-id"]


@pytest.mark.parametrize(
    ("error", "reason"),
    [(UserNotFound("no such user"), "user_not_found"),
     (Forbidden("lacks ProfilePhoto.ReadWrite.All", permission="ProfilePhoto.ReadWrite.All"),
      "forbidden")],
)
def test_permanent_api_failures_are_rejections_not_retries(
    api: FakePhotoApi, state: FakeStateStore, clock: FakeClock, error: PermanentError, reason: str
) -> None:
    api.errors[JANE] = error
    outcome = sync_drop(FakeDrop(f"{JANE}.jpg", jpeg()), OPTIONS, deps(api, state, clock))
    assert (outcome.status, outcome.reason) == (Status.REJECTED, reason)
    assert state.rows[f"upn:{JANE}"][0].lock_owner is None


def test_transient_failures_raise_and_release_the_claim(
    api: FakePhotoApi, state: FakeStateStore, clock: FakeClock
) -> None:
    api.errors[JANE] = Throttled("slow down", retry_after=30)
    drop = FakeDrop(f"{JANE}.jpg", jpeg())
    with pytest.raises(Throttled):
        sync_drop(drop, OPTIONS, deps(api, state, clock))
    assert drop.recorded is None
    row, _ = state.rows[f"upn:{JANE}"]
    assert row.lock_owner is None and row.last_status is None


def test_a_drop_waits_for_another_in_flight_for_the_same_user(
    api: FakePhotoApi, state: FakeStateStore, clock: FakeClock
) -> None:
    busy = UserState(user=f"upn:{JANE}", lock_owner="other",
                     lock_expires=clock.current + timedelta(seconds=30))
    state.rows[busy.user] = (busy, "v0")
    keeps_renewing(state, clock, busy.user)
    with pytest.raises(UserBusy):
        sync_drop(FakeDrop(f"{JANE}.jpg", jpeg()), OPTIONS, deps(api, state, clock))
    assert sum(clock.slept) >= OPTIONS.lock_wait_seconds
    assert not api.uploads


def test_an_expired_claim_is_taken_over(
    api: FakePhotoApi, state: FakeStateStore, clock: FakeClock
) -> None:
    stale = UserState(user=f"upn:{JANE}", lock_owner="crashed",
                      lock_expires=clock.current - timedelta(seconds=1))
    state.rows[stale.user] = (stale, "v0")
    outcome = sync_drop(FakeDrop(f"{JANE}.jpg", jpeg()), OPTIONS, deps(api, state, clock))
    assert outcome.status is Status.UPLOADED


def test_a_blob_overwritten_mid_flight_is_left_to_its_new_version(
    api: FakePhotoApi, state: FakeStateStore, clock: FakeClock
) -> None:
    drop = FakeDrop(f"{JANE}.jpg", jpeg(), changed_before_read=True)
    outcome = sync_drop(drop, OPTIONS, deps(api, state, clock))
    assert outcome.reason == "overwritten"
    assert drop.recorded is None and not api.uploads
    assert all(row.lock_owner is None for row, _ in state.rows.values())


def test_dry_run_checks_everything_but_uploads_nothing(
    api: FakePhotoApi, state: FakeStateStore, clock: FakeClock
) -> None:
    options = SyncOptions(naming=NamingRules(), image=ImagePolicy(), dry_run=True)
    drop = FakeDrop(f"{JANE}.jpg", jpeg())
    outcome = sync_drop(drop, options, deps(api, state, clock))
    assert outcome.status is Status.WOULD_UPLOAD
    assert not api.uploads and drop.recorded is None
    assert state.rows == {} and state.writes == 0  # not even a claim


@pytest.mark.parametrize(("name", "content", "status"), [
    (f"{JANE}.jpg", b"not a photo at all", Status.WOULD_REJECT),
    ("jane doe.jpg", jpeg(), Status.WOULD_REJECT),  # a name rejection, before any claim
    (f"copy/{JANE}.jpg", jpeg(), Status.UNCHANGED),  # same content as the upload before
])
def test_a_dry_run_writes_moves_and_deletes_nothing_whatever_the_outcome(
    api: FakePhotoApi, state: FakeStateStore, clock: FakeClock, name: str, content: bytes,
    status: Status
) -> None:
    sync_drop(FakeDrop(f"{JANE}.jpg", jpeg()), OPTIONS, deps(api, state, clock))
    before = dict(state.rows)
    options = SyncOptions(naming=NamingRules(), image=ImagePolicy(), dry_run=True,
                          processed=Disposal.DELETE, rejected=Disposal.MOVE,
                          rejected_container="rejected")
    log = FakeOutcomeLog()
    run = SyncDeps(api=api, state=state, clock=clock, owner="dry", log=log)
    drop = FakeDrop(name, content, etag='"dry"')
    outcome = sync_drop(drop, options, run)
    assert outcome.status is status
    assert drop.recorded is None and drop.disposed == []
    assert {k: v[0].last_status for k, v in state.rows.items()} == \
        {k: v[0].last_status for k, v in before.items()}
    assert [o.status for o in log.outcomes] == [status]  # the report still shows it
    assert len(api.uploads) == 1


@pytest.mark.parametrize(("user", "error"), [
    ("nobody@contoso.com", UserNotFound("404 Request_ResourceNotFound")),
    ("diego@contoso.com", NoMailbox("404 ErrorNonExistentMailbox")),
    ("nestor@contoso.com", MailboxOnPremises("404 MailboxNotHostedInExchangeOnline")),
    ("lee@contoso.com", Forbidden("403 ErrorAccessDenied", permission="ProfilePhoto.Read.All")),
])
def test_a_dry_run_resolves_the_user_and_gives_the_reason_a_real_run_would(
    clock: FakeClock, user: str, error: PermanentError
) -> None:
    dry_api, real_api = FakePhotoApi(), FakePhotoApi()
    dry_api.errors[user] = real_api.errors[user] = error
    dry_options = SyncOptions(naming=NamingRules(), image=ImagePolicy(), dry_run=True)
    log = FakeOutcomeLog()
    dry_state = FakeStateStore()
    dry = sync_drop(FakeDrop(f"{user}.jpg", jpeg()), dry_options,
                    SyncDeps(api=dry_api, state=dry_state, clock=clock, owner="dry", log=log))
    real = sync_drop(FakeDrop(f"{user}.jpg", jpeg()), OPTIONS,
                     deps(real_api, FakeStateStore(), clock))
    assert (real.status, real.reason) == (Status.REJECTED, error.code)
    assert (dry.status, dry.reason, dry.message) == (Status.WOULD_REJECT, error.code,
                                                     error.message)
    assert [(o.status, o.reason) for o in log.outcomes] == [(Status.WOULD_REJECT, error.code)]
    assert dry_api.uploads == [] and dry_state.writes == 0


def test_a_dry_run_would_upload_for_a_user_who_exists_with_or_without_a_photo(
    api: FakePhotoApi, state: FakeStateStore, clock: FakeClock
) -> None:
    api.photos["adele@contoso.com"] = jpeg("#123456")
    dry = SyncOptions(naming=NamingRules(), image=ImagePolicy(), dry_run=True)
    for user in ("adele@contoso.com", "alex@contoso.com"):
        outcome = sync_drop(FakeDrop(f"{user}.jpg", jpeg()), dry, deps(api, state, clock))
        assert (outcome.status, outcome.reason) == (Status.WOULD_UPLOAD, None)
    assert api.uploads == [] and state.writes == 0


@pytest.mark.parametrize(("status", "reason", "expected"), [
    (Status.REJECTED, "not_jpeg", [(Disposal.MOVE, "rejected")]),
    (Status.UPLOADED, None, [(Disposal.DELETE, None)]),
    (Status.UNCHANGED, "superseded", []),  # never disposed of
])
def test_a_redelivery_finishes_a_disposal_its_first_attempt_did_not(
    api: FakePhotoApi, state: FakeStateStore, clock: FakeClock, status: Status,
    reason: str | None, expected: list[tuple[Disposal, str | None]]
) -> None:
    options = SyncOptions(naming=NamingRules(), image=ImagePolicy(), processed=Disposal.DELETE,
                          rejected=Disposal.MOVE, rejected_container="rejected")
    drop = FakeDrop(f"{JANE}.jpg", jpeg())
    recorded(state, drop, status, reason, None)
    sync_drop(drop, options, deps(api, state, clock))
    assert drop.disposed == expected
    assert not api.uploads


def test_a_drop_that_uploaded_but_died_before_recording_is_recorded_as_uploaded(
    api: FakePhotoApi, state: FakeStateStore, clock: FakeClock
) -> None:
    drop = FakeDrop(f"{JANE}.jpg", jpeg())
    sync_drop(drop, OPTIONS, deps(api, state, clock))
    del state.records[drop.name]  # the first attempt released its claim, then died
    again = sync_drop(drop, OPTIONS, deps(api, state, clock))
    assert (again.status, again.reason) == (Status.UPLOADED, None)
    assert len(api.uploads) == 1


def test_a_drop_whose_metadata_was_edited_while_it_was_processed_is_processed_as_it_is_now(
    api: FakePhotoApi, state: FakeStateStore, clock: FakeClock
) -> None:
    """Setting metadata or properties changes the ETag but raises no new BlobCreated event."""

    class EditedOnce(FakeDrop):
        def read(self) -> bytes:
            if self.reads == 0:
                self.reads += 1
                self.etag = '"0x2"'
                raise DropChanged(self.name)
            return super().read()

    drop = EditedOnce(f"{JANE}.jpg", jpeg())
    outcome = sync_drop(drop, OPTIONS, deps(api, state, clock))
    assert outcome.status is Status.UPLOADED
    assert drop.recorded is not None and len(api.uploads) == 1


class DeadlineSeeingApi(FakePhotoApi):
    """Notes the deadline each upload runs under."""

    def __init__(self) -> None:
        super().__init__()
        self.deadlines: list[Deadline | None] = []

    def set_photo(self, user: UserRef, jpeg: bytes) -> None:
        self.deadlines.append(current_deadline())
        super().set_photo(user, jpeg)


def test_a_drops_api_deadline_starts_at_its_first_api_call_not_before_the_claim_wait(
    state: FakeStateStore, clock: FakeClock
) -> None:
    api = DeadlineSeeingApi()
    busy = UserState(user=f"upn:{JANE}", lock_owner="another-drop", lock_drop="x|1",
                     lock_expires=clock.current + timedelta(seconds=20))
    state.rows[busy.user] = (busy, "v0")
    made: list[datetime] = []
    deadline = Deadline.after(120, SystemClock())

    def api_deadline() -> Deadline:
        made.append(clock.current)
        return deadline

    run = replace(deps(api, state, clock), api_deadline=api_deadline)
    started = clock.current
    assert sync_drop(FakeDrop(f"{JANE}.jpg", jpeg()), OPTIONS, run).status is Status.UPLOADED
    assert made and made[0] - started >= timedelta(seconds=20)  # after the claim wait
    assert api.deadlines == [deadline]


def test_the_same_photo_for_the_same_user_in_another_case_is_unchanged(
    api: FakePhotoApi, state: FakeStateStore, clock: FakeClock
) -> None:
    photo = jpeg()
    sync_drop(FakeDrop("Jane.Doe@contoso.com.jpg", photo), OPTIONS, deps(api, state, clock))
    again = sync_drop(FakeDrop(f"2026/{JANE}.jpg", photo), OPTIONS, deps(api, state, clock))
    assert (again.status, again.reason) == (Status.UNCHANGED, "same_content")
    assert len(api.uploads) == 1


def test_rejected_drops_can_be_moved_aside(
    api: FakePhotoApi, state: FakeStateStore, clock: FakeClock
) -> None:
    options = SyncOptions(naming=NamingRules(), image=ImagePolicy(),
                          rejected=Disposal.MOVE, rejected_container="rejected")
    drop = FakeDrop(f"{JANE}.jpg", b"not a photo at all")
    sync_drop(drop, options, deps(api, state, clock))
    assert drop.disposed == [(Disposal.MOVE, "rejected")]


def keeps_renewing(state: FakeStateStore, clock: FakeClock, user: str) -> None:
    """The holder of ``user``'s claim is alive: it renews its claim (writes the row) three
    times per lifetime, whatever the others' clocks say."""
    since = [0.0]

    def renew(seconds: float) -> None:
        since[0] += seconds
        if since[0] >= OPTIONS.lock_seconds / 3:
            since[0] = 0.0
            row, version = state.rows[user]
            state.put(replace(row, lock_expires=clock.current + timedelta(seconds=30)), version)

    clock.on_sleep = renew


def first_delivery_holds(state: FakeStateStore, drop: FakeDrop, expires: datetime) -> None:
    """The user's claim is held, until ``expires``, by another delivery of ``drop``."""
    first = UserState(user=f"upn:{JANE}", lock_owner="first-delivery",
                      lock_drop=f"{drop.name}|{drop.etag}", lock_expires=expires)
    state.rows[first.user] = (first, "v0")


def test_a_second_delivery_of_the_same_drop_waits_for_the_live_claim_of_the_first(
    api: FakePhotoApi, state: FakeStateStore, clock: FakeClock
) -> None:
    """Taking it over would let the first delivery's upload land after a newer drop's."""
    drop = FakeDrop(f"{JANE}.jpg", jpeg())
    first_delivery_holds(state, drop, clock.current + timedelta(seconds=OPTIONS.lock_seconds))
    outcome = sync_drop(drop, OPTIONS, deps(api, state, clock))
    assert outcome.status is Status.UPLOADED  # once the first's claim had expired
    assert OPTIONS.lock_seconds <= sum(clock.slept) < OPTIONS.lock_wait_seconds


def test_a_second_delivery_gives_up_while_the_first_keeps_its_claim_alive(
    api: FakePhotoApi, state: FakeStateStore, clock: FakeClock
) -> None:
    drop = FakeDrop(f"{JANE}.jpg", jpeg())
    first_delivery_holds(state, drop, clock.current + timedelta(seconds=30))
    keeps_renewing(state, clock, f"upn:{JANE}")
    with pytest.raises(UserBusy):
        sync_drop(drop, OPTIONS, deps(api, state, clock))
    assert not api.uploads


def test_a_rejected_newer_drop_does_not_block_an_older_valid_one(
    api: FakePhotoApi, state: FakeStateStore, clock: FakeClock
) -> None:
    bad = FakeDrop(f"new/{JANE}.jpg", b"not a jpeg", etag='"bad"', last_modified=clock.current)
    assert sync_drop(bad, OPTIONS, deps(api, state, clock)).status is Status.REJECTED
    good = FakeDrop(f"old/{JANE}.jpg", jpeg(), etag='"good"',
                    last_modified=clock.current - timedelta(minutes=1))
    assert sync_drop(good, OPTIONS, deps(api, state, clock)).status is Status.UPLOADED


def test_every_new_outcome_is_logged_once_for_reports(
    api: FakePhotoApi, state: FakeStateStore, clock: FakeClock
) -> None:
    log = FakeOutcomeLog()
    run = SyncDeps(api=api, state=state, clock=clock, owner="x", log=log)
    drop = FakeDrop(f"{JANE}.jpg", jpeg())
    sync_drop(drop, OPTIONS, run)
    sync_drop(FakeDrop("bad name.jpg", jpeg()), OPTIONS, run)
    sync_drop(drop, OPTIONS, run)  # a redelivery: already recorded, not logged again
    assert [(o.status, o.reason) for o in log.outcomes] == [
        (Status.UPLOADED, None), (Status.REJECTED, "invalid_characters")]


def test_an_unavailable_outcome_log_costs_a_report_line_not_the_drop(
    api: FakePhotoApi, state: FakeStateStore, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    log = UnavailableOutcomeLog()
    run = SyncDeps(api=api, state=state, clock=clock, owner="x", log=log)
    drop = FakeDrop(f"{JANE}.jpg", jpeg())
    outcome = sync_drop(drop, OPTIONS, run)
    assert outcome.status is Status.UPLOADED
    assert drop.recorded is not None and drop.recorded.status is Status.UPLOADED
    assert api.uploads and api.uploads[0][0] == JANE
    assert [o.status for o in log.attempted] == [Status.UPLOADED]
    assert "could not append the outcome" in caplog.text


def test_a_broken_older_drop_is_still_rejected_not_superseded(
    api: FakePhotoApi, state: FakeStateStore, clock: FakeClock
) -> None:
    sync_drop(FakeDrop(f"new/{JANE}.jpg", jpeg(), last_modified=clock.current), OPTIONS,
              deps(api, state, clock))
    broken = FakeDrop(f"old/{JANE}.jpg", b"", etag='"old"',
                      last_modified=clock.current - timedelta(minutes=1))
    outcome = sync_drop(broken, OPTIONS, deps(api, state, clock))
    assert (outcome.status, outcome.reason) == (Status.REJECTED, "empty_file")


def test_a_crashed_holders_claim_frees_before_waiting_drops_give_up(
    api: FakePhotoApi, state: FakeStateStore, clock: FakeClock
) -> None:
    crashed = UserState(user=f"upn:{JANE}", lock_owner="dead", lock_drop="other|etag",
                        lock_expires=clock.current + timedelta(seconds=OPTIONS.lock_seconds))
    state.rows[crashed.user] = (crashed, "v0")
    outcome = sync_drop(FakeDrop(f"{JANE}.jpg", jpeg()), OPTIONS, deps(api, state, clock))
    assert outcome.status is Status.UPLOADED
    assert OPTIONS.lock_seconds <= sum(clock.slept) < OPTIONS.lock_wait_seconds


def test_a_redelivery_sets_the_outcome_tags_to_the_recorded_outcome(
    api: FakePhotoApi, state: FakeStateStore, clock: FakeClock
) -> None:
    """Missing (an invocation died before writing them), or set by someone else."""
    drop = FakeDrop(f"{JANE}.jpg", jpeg())
    recorded(state, drop, Status.REJECTED, "not_jpeg")
    forged: tuple[Status, str | None] = (Status.UPLOADED, None)
    drop.tags = forged
    sync_drop(drop, OPTIONS, deps(api, state, clock))
    assert drop.tags == (Status.REJECTED, "not_jpeg")


class AnswerLostApi(FakePhotoApi):
    """Applies the next upload (or removal) and then loses its answer, as a timeout after the
    service had done the work would: the caller sees a transient error."""

    def __init__(self) -> None:
        super().__init__()
        self.lose_next = False

    def set_photo(self, user: UserRef, jpeg: bytes) -> None:
        super().set_photo(user, jpeg)
        self._lose()

    def delete_photo(self, user: UserRef) -> None:
        super().delete_photo(user)
        self._lose()

    def _lose(self) -> None:
        if self.lose_next:
            self.lose_next = False
            raise ServiceUnavailable("the upload timed out waiting for its answer")


def normalised(photo: bytes) -> bytes:
    return prepare_photo(photo, ImagePolicy()).data


def test_a_revert_after_an_upload_whose_answer_was_lost_puts_the_older_photo_back(
    state: FakeStateStore, clock: FakeClock
) -> None:
    """Photo P1 is live; drop A (P2) is applied but its answer is lost; HR reverts with drop B
    (P1 again, newer). B must upload: the state still says P1, but the live photo is P2."""
    api = AnswerLostApi()
    p1, p2 = jpeg("#112233"), jpeg("#aa4400")
    sync_drop(FakeDrop(f"{JANE}.jpg", p1, etag='"p1"', last_modified=clock.current),
              OPTIONS, deps(api, state, clock))
    api.lose_next = True
    clock.advance(60)
    a = FakeDrop(f"a/{JANE}.jpg", p2, etag='"a"', last_modified=clock.current)
    with pytest.raises(ServiceUnavailable):
        sync_drop(a, OPTIONS, deps(api, state, clock, owner="a"))
    assert api.photos[JANE] == normalised(p2)  # applied, though nobody heard so
    clock.advance(60)
    b = FakeDrop(f"b/{JANE}.jpg", p1, etag='"b"', last_modified=clock.current)
    outcome = sync_drop(b, OPTIONS, deps(api, state, clock, owner="b"))
    assert (outcome.status, outcome.reason) == (Status.UPLOADED, None)
    redelivered = sync_drop(a, OPTIONS, deps(api, state, clock, owner="a-again"))
    assert redelivered.reason == "superseded"
    assert api.photos[JANE] == normalised(p1)


def test_a_redelivery_of_an_upload_whose_answer_was_lost_uploads_it_again(
    state: FakeStateStore, clock: FakeClock
) -> None:
    api = AnswerLostApi()
    photo = jpeg("#553311")
    drop = FakeDrop(f"{JANE}.jpg", photo)
    api.lose_next = True
    with pytest.raises(ServiceUnavailable):
        sync_drop(drop, OPTIONS, deps(api, state, clock))
    row = state.rows[f"upn:{JANE}"][0]
    assert row.lock_owner is None and row.pending_op == "upload"  # the intent stays
    assert sync_drop(drop, OPTIONS, deps(api, state, clock)).status is Status.UPLOADED
    row = state.rows[f"upn:{JANE}"][0]
    assert row.pending_op is None and row.last_status == "uploaded"


def test_the_same_photo_dropped_after_a_removal_whose_answer_was_lost_is_uploaded(
    state: FakeStateStore, clock: FakeClock
) -> None:
    from photo_core.use_cases.deletions import BLOB_DELETED, DeletionOptions, blob_deleted

    api = AnswerLostApi()
    photo = jpeg("#225588")
    run = deps(api, state, clock)
    sync_drop(FakeDrop(f"{JANE}.jpg", photo), OPTIONS, run)
    api.lose_next = True
    options = DeletionOptions(enabled=True, drop_container="hr-photos", sync=OPTIONS)
    with pytest.raises(ServiceUnavailable):
        blob_deleted(BLOB_DELETED, f"/blobServices/default/containers/hr-photos/blobs/{JANE}.jpg",
                     options, run, lambda name: False)
    assert JANE not in api.photos  # removed, though nobody heard so
    clock.advance(60)
    again = FakeDrop(f"2026/{JANE}.jpg", photo, etag='"again"', last_modified=clock.current)
    outcome = sync_drop(again, OPTIONS, deps(api, state, clock, owner="again"))
    assert outcome.status is Status.UPLOADED
    assert api.photos[JANE] == normalised(photo)


class Opened:
    """Opens drops by name, as the drop container would (for re-applying a user's photo)."""

    def __init__(self, *drops: FakeDrop) -> None:
        self.drops = {d.name: d for d in drops}

    def __call__(self, name: str) -> FakeDrop:
        return self.drops[name]


def test_an_upload_that_outlives_its_claim_is_never_recorded_and_the_winner_is_put_back(
    state: FakeStateStore, clock: FakeClock
) -> None:
    """Drop A's upload stalls past its claim's lifetime; newer drop B takes the lapsed claim,
    uploads and releases; then A's upload lands. Graph's PATCH cannot be fenced, so A must
    not record ``uploaded``: the user's photo is marked unknown, and A's redelivery (now
    superseded) puts B's photo back."""
    old, new = jpeg("#aa0000"), jpeg("#0000aa")
    api = FakePhotoApi()
    made = clock.current

    class StalledUpload(FakePhotoApi):
        def set_photo(self, user: UserRef, data: bytes) -> None:
            clock.advance(40)  # no renewal meanwhile: the claim lapses
            b.last_modified = clock.current  # HR drops B meanwhile
            sync_drop(b, OPTIONS, deps(api, state, clock, owner="b"))
            api.set_photo(user, data)  # A's upload lands after B's

    a = FakeDrop(f"a/{JANE}.jpg", old, etag='"a"', last_modified=made)
    b = FakeDrop(f"b/{JANE}.jpg", new, etag='"b"')
    stalled = SyncDeps(api=StalledUpload(), state=state, clock=clock, owner="a")
    with pytest.raises(ClaimLost):
        sync_drop(a, OPTIONS, stalled)
    assert api.photos[JANE] == normalised(old)  # live: the older photo
    row = state.rows[f"upn:{JANE}"][0]
    assert a.recorded is None and row.last_blob_name == b.name and row.photo_unknown
    again = sync_drop(a, OPTIONS, replace(deps(api, state, clock, owner="a-again"),
                                          drops=Opened(a, b)))
    assert again.reason == "superseded"
    assert api.photos[JANE] == normalised(new)
    assert not state.rows[f"upn:{JANE}"][0].photo_unknown


def test_a_claim_kept_alive_is_not_taken_over_by_an_instance_whose_clock_runs_ahead(
    state: FakeStateStore, clock: FakeClock
) -> None:
    """Instance clocks can disagree: a claim is judged by whether its holder keeps renewing it,
    not by comparing the expiry another clock wrote with this one."""
    from photo_core.use_cases.claims import Claimant, claim
    from photo_core.use_cases.lease import Lease

    holder = Claimant(state, "holder", clock, OPTIONS.lock_seconds, OPTIONS.lock_wait_seconds)
    held = claim(holder, f"upn:{JANE}", f"{JANE}.jpg|1", clock.current)
    assert not isinstance(held, Superseded)
    lease = Lease(state, held.state, held.version, seconds=OPTIONS.lock_seconds, clock=clock)
    ahead = FakeClock(clock.current + timedelta(seconds=25))
    since_renewal = [0.0]

    def holder_keeps_renewing(seconds: float) -> None:
        since_renewal[0] += seconds
        if since_renewal[0] >= OPTIONS.lock_seconds / 3:
            clock.advance(since_renewal[0])
            since_renewal[0] = 0.0
            lease.renew()

    ahead.on_sleep = holder_keeps_renewing
    waiter = Claimant(state, "waiter", ahead, OPTIONS.lock_seconds, OPTIONS.lock_wait_seconds)
    with pytest.raises(UserBusy):
        claim(waiter, f"upn:{JANE}", f"2026/{JANE}.jpg|2", ahead.current)
    assert not lease.lost


def test_a_user_row_dated_in_the_future_does_not_hold_back_newer_drops(
    api: FakePhotoApi, state: FakeStateStore, clock: FakeClock
) -> None:
    """A row written by an earlier version from a forged marker says the user's photo is from
    2099: a time beyond now is no evidence, and the next legitimate drop is applied."""
    forged = UserState(user=f"upn:{JANE}", last_status="uploaded", content_sha256="f" * 64,
                       source_modified=datetime(2099, 1, 1, tzinfo=UTC))
    state.rows[forged.user] = (forged, "v0")
    photo = jpeg("#336699")
    outcome = sync_drop(FakeDrop(f"{JANE}.jpg", photo, last_modified=clock.current), OPTIONS,
                        deps(api, state, clock))
    assert outcome.status is Status.UPLOADED
    assert state.rows[forged.user][0].source_modified == clock.current
    older = FakeDrop(f"old/{JANE}.jpg", jpeg("#993366"), etag='"old"',
                     last_modified=clock.current - timedelta(days=1))
    assert sync_drop(older, OPTIONS, deps(api, state, clock)).reason == "superseded"
    assert api.photos[JANE] == normalised(photo)


def edited(drop: FakeDrop, clock: FakeClock) -> None:
    """Someone set the blob's metadata (or properties): a new ETag and Last-Modified, the same
    content and creation time."""
    clock.advance(3600)
    drop.etag = f'"{drop.etag.strip(chr(34))}-edited"'
    drop.last_modified = clock.current


def test_an_edit_of_a_processed_drops_metadata_is_the_same_drop(
    api: FakePhotoApi, state: FakeStateStore, clock: FakeClock
) -> None:
    drop = FakeDrop(f"{JANE}.jpg", jpeg(), created=clock.current, last_modified=clock.current)
    first = sync_drop(drop, OPTIONS, deps(api, state, clock))
    edited(drop, clock)
    again = sync_drop(drop, OPTIONS, deps(api, state, clock))
    assert (again.status, again.message) == (first.status, again.message)
    assert again.message.startswith("already processed") and len(api.uploads) == 1
    assert state.records[drop.name].describes(drop.etag)  # the edited version is known now


def test_an_edit_of_an_old_drops_metadata_does_not_make_it_the_newest(
    api: FakePhotoApi, state: FakeStateStore, clock: FakeClock
) -> None:
    old = FakeDrop(f"2025/{JANE}.jpg", jpeg("#aa5500"), etag='"old"', created=clock.current,
                   last_modified=clock.current)
    sync_drop(old, OPTIONS, deps(api, state, clock))
    clock.advance(86400)
    new = FakeDrop(f"2026/{JANE}.jpg", jpeg("#0055aa"), etag='"new"', created=clock.current,
                   last_modified=clock.current)
    sync_drop(new, OPTIONS, deps(api, state, clock))
    edited(old, clock)
    for force in (False, True):  # an event for it, or reconcile repairing it
        sync_drop(old, OPTIONS, deps(api, state, clock), force=force)
    assert len(api.uploads) == 2
    assert api.photos[JANE] == normalised(jpeg("#0055aa"))


def test_new_content_under_a_processed_name_is_a_new_drop_dated_by_its_blob(
    api: FakePhotoApi, state: FakeStateStore, clock: FakeClock
) -> None:
    """An upload over a blob re-creates it: its creation time is the new content's time."""
    drop = FakeDrop(f"{JANE}.jpg", jpeg("#101010"), created=clock.current,
                    last_modified=clock.current)
    sync_drop(drop, OPTIONS, deps(api, state, clock))
    clock.advance(60)
    other = FakeDrop(f"2026/{JANE}.jpg", jpeg("#202020"), etag='"other"',
                     created=clock.current, last_modified=clock.current)
    sync_drop(other, OPTIONS, deps(api, state, clock))
    clock.advance(60)
    drop.content, drop.etag = jpeg("#101010"), '"again"'  # the same bytes, uploaded again
    drop.created = drop.last_modified = clock.current
    outcome = sync_drop(drop, OPTIONS, deps(api, state, clock))
    assert outcome.status is Status.UPLOADED
    assert api.photos[JANE] == normalised(jpeg("#101010"))


def test_a_storage_that_keeps_creation_times_across_uploads_orders_by_last_modified(
    api: FakePhotoApi, state: FakeStateStore, clock: FakeClock
) -> None:
    created = clock.current
    drop = FakeDrop(f"{JANE}.jpg", jpeg("#303030"), created=created, last_modified=created)
    sync_drop(drop, OPTIONS, deps(api, state, clock))
    clock.advance(60)
    other = FakeDrop(f"2026/{JANE}.jpg", jpeg("#404040"), etag='"other"',
                     created=clock.current, last_modified=clock.current)
    sync_drop(other, OPTIONS, deps(api, state, clock))
    clock.advance(60)
    drop.content, drop.etag, drop.last_modified = jpeg("#505050"), '"v2"', clock.current
    assert sync_drop(drop, OPTIONS, deps(api, state, clock)).status is Status.UPLOADED
    assert api.photos[JANE] == normalised(jpeg("#505050"))


def test_an_instance_whose_clock_is_behind_storage_still_orders_and_recognises_drops(
    api: FakePhotoApi, state: FakeStateStore, clock: FakeClock
) -> None:
    """Storage dates the drops and its table's rows; this instance reads a clock a minute
    behind it."""
    clock.offset = -timedelta(minutes=1)
    state.storage_time = lambda: clock.current
    new = FakeDrop(f"{JANE}.jpg", jpeg("#606060"), created=clock.current,
                   last_modified=clock.current)
    assert sync_drop(new, OPTIONS, deps(api, state, clock)).status is Status.UPLOADED
    assert sync_drop(new, OPTIONS, deps(api, state, clock)).message.startswith(
        "already processed")
    older = FakeDrop(f"old/{JANE}.jpg", jpeg("#707070"), etag='"old"',
                     created=clock.current - timedelta(seconds=30),
                     last_modified=clock.current - timedelta(seconds=30))
    assert sync_drop(older, OPTIONS, deps(api, state, clock)).reason == "superseded"
    assert api.photos[JANE] == normalised(jpeg("#606060"))


HR_NAMING = SyncOptions(naming=NamingRules(mapping_mode=True), image=ImagePolicy())


def test_a_drop_made_before_its_hr_id_was_given_to_someone_else_is_held(
    api: FakePhotoApi, state: FakeStateStore, clock: FakeClock
) -> None:
    """HR-7 meant Alice when the file was dropped; by the time it is processed the mapping
    gives HR-7 to Bob. Alice's photo must not go on Bob: the drop is held with its own reason,
    and a file dropped after the change goes to Bob."""
    from photo_core.use_cases.directory import Resolver
    from tests.unit.test_directory import MappingFile

    mapping = MappingFile("id,upn\nHR-7,alice@contoso.com\n", clock.current)
    run = replace(deps(api, state, clock), resolver=Resolver(api, employee_ttl=0,
                                                             mapping=mapping, clock=clock))
    sync_drop(FakeDrop("HR-7.jpg", jpeg("#aa0000"), last_modified=clock.current), HR_NAMING,
              run)
    clock.advance(60)
    for_alice = FakeDrop("2026/HR-7.jpg", jpeg("#00aa00"), etag='"alice"',
                         last_modified=clock.current)
    clock.advance(3600)
    mapping.change("id,upn\nHR-7,bob@contoso.com\n", clock.current)
    clock.advance(60)
    held = sync_drop(for_alice, HR_NAMING, run)
    assert (held.status, held.reason) == (Status.REJECTED, "mapping_changed")
    assert "alice@contoso.com" in held.message and "bob@contoso.com" in held.message
    for_bob = FakeDrop("2027/HR-7.jpg", jpeg("#0000aa"), etag='"bob"',
                       last_modified=clock.current)
    assert sync_drop(for_bob, HR_NAMING, run).status is Status.UPLOADED
    assert [user for user, _ in api.uploads] == ["alice@contoso.com", "bob@contoso.com"]
    record = state.records["2027/HR-7.jpg"]
    assert (record.target, record.mapping_version) == ("upn:bob@contoso.com", '"v2"')


@pytest.mark.parametrize("error", [
    AuthFailure("the identity platform refused the client secret (invalid_client)"),
    TlsUntrusted("the photo API's certificate did not verify (PHOTO_CA_BUNDLE)"),
    MappingUnavailable("the mapping file is being replaced"),
    NotInMapping("HR id 'HR-9' is not in the mapping file"),
])
def test_a_configuration_failure_defers_the_drop_instead_of_rejecting_it(
    api: FakePhotoApi, state: FakeStateStore, clock: FakeClock, error: PermanentError
) -> None:
    """Fixing the configuration is what helps, not a new file: the drop is kept for reconcile
    to retry, and HR is told so."""
    api.errors[JANE] = error
    drop = FakeDrop(f"{JANE}.jpg", jpeg())
    outcome = sync_drop(drop, OPTIONS, deps(api, state, clock))
    assert (outcome.status, outcome.reason) == (Status.DEFERRED, error.code)
    assert drop.disposed == [] and not api.uploads
    assert "retried" in outcome.message


def test_a_drop_waits_out_a_state_table_that_stops_answering_for_a_moment(
    api: FakePhotoApi, clock: FakeClock
) -> None:
    """Failing at once would spend the drop's few deliveries on a short stall."""
    from photo_core.use_cases.ports import StateUnavailable

    class Stalling(FakeStateStore):
        def __init__(self) -> None:
            super().__init__()
            self.failures = 10

        def get(self, user: str) -> tuple[UserState, str] | None:
            if self.failures:
                self.failures -= 1
                raise StateUnavailable("the table did not answer")
            return super().get(user)

    outcome = sync_drop(FakeDrop(f"{JANE}.jpg", jpeg()), OPTIONS, deps(api, Stalling(), clock))
    assert outcome.status is Status.UPLOADED
    assert 10 <= sum(clock.slept) < OPTIONS.lock_wait_seconds
