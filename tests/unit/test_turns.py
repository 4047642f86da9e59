"""Drops for one user in one process take turns newest first: the newest uploads, the older
ones end superseded, and an older one still uploads when the newer one is rejected."""

from __future__ import annotations

import threading
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta

import pytest

from photo_core.domain.budget import BUDGET
from photo_core.domain.clock import Clock, Signal, SystemClock
from photo_core.domain.naming import NamingRules, UserRef
from photo_core.domain.outcomes import Status
from photo_core.domain.retry import Deadline
from photo_core.photos import ImagePolicy
from photo_core.use_cases.ports import DropInfo, DropRecord, StateUnavailable, UserState
from photo_core.use_cases.sync import SyncDeps, SyncOptions, UserBusy, sync_drop
from photo_core.use_cases.turns import Ticket, Turns
from tests.photos import jpeg
from tests.unit.fakes import FakeClock, FakeDrop, FakePhotoApi, FakeStateStore

JANE = "jane.doe@contoso.com"
KEY = f"upn:{JANE}"
OPTIONS = SyncOptions(naming=NamingRules(), image=ImagePolicy())
OLD = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
NEW = OLD + timedelta(minutes=1)
FUTURE = NEW + timedelta(days=3650)


def older_drop() -> FakeDrop:
    return FakeDrop(f"a/{JANE}.jpg", jpeg("#112233"), etag='"old"', created=OLD,
                    last_modified=OLD)


def newer_drop(content: bytes | None = None) -> FakeDrop:
    return FakeDrop(f"b/{JANE}.jpg", jpeg("#445566") if content is None else content,
                    etag='"new"', created=NEW, last_modified=NEW)


def deps(api: FakePhotoApi, state: FakeStateStore, clock: Clock, turns: Turns,
         owner: str) -> SyncDeps:
    return SyncDeps(api=api, state=state, clock=clock, owner=owner, turns=turns)


class NewerArrives:
    """A newer drop for Jane in this process: announced in flight by :meth:`announce` (with its
    time, or, unless ``known``, before its properties are read), then run to its outcome in the
    older drop's next wait after ``skip`` more (once; its own waits do not run it again), as
    another thread would."""

    def __init__(self, drop: FakeDrop, api: FakePhotoApi, state: FakeStateStore,
                 clock: FakeClock, turns: Turns, skip: int = 0, *, known: bool = True) -> None:
        self.skip, self.known = skip, known
        self.drop, self.api, self.state, self.clock, self.turns = drop, api, state, clock, turns
        self.outcome: Status | None = None
        self.started_at: float | None = None
        self.ended_at: float | None = None
        self._announced = ExitStack()
        self._ticket: Ticket | None = None
        self._armed = False
        self._running = False
        clock.on_sleep = self._run

    def announce(self) -> None:
        self._ticket = self._announced.enter_context(
            self.turns.in_flight(KEY, NEW if self.known else None))
        self._armed = True

    def _run(self, seconds: float) -> None:
        if not self._armed or self._running or self.outcome is not None:
            return
        if self._ticket is not None and self._ticket.made is None:  # its properties are read
            self.turns.retime(self._ticket, NEW)
            return
        if self.skip > 0:
            self.skip -= 1
            return
        self._running = True
        self.started_at = self.clock.monotonic()
        self._announced.close()  # its delivery goes on: counted in flight by sync_drop itself
        try:
            self.outcome = sync_drop(self.drop, OPTIONS, deps(
                self.api, self.state, self.clock, self.turns, "newer")).status
        finally:
            self.ended_at = self.clock.monotonic()
            self._running = False


class AnnouncesOnClaim(FakeStateStore):
    """The newer drop turns up just after the older one took Jane's claim; with
    ``lose_answer``, the claim write lands but its answer is lost (the table's client times out
    after the server applied it)."""

    def __init__(self, *, lose_answer: bool = False) -> None:
        super().__init__()
        self.on_claim: NewerArrives | None = None
        self.lose_answer = lose_answer

    def put(self, state: UserState, version: str | None) -> str:
        written = super().put(state, version)
        if state.lock_owner == "older" and self.on_claim is not None:
            self.on_claim.announce()
            self.on_claim = None
            if self.lose_answer:
                raise StateUnavailable("the claim's answer was lost; the write landed")
        return written


def test_an_older_drop_does_not_take_the_claim_while_a_newer_one_is_in_flight_here() -> None:
    api, state, clock = FakePhotoApi(), FakeStateStore(), FakeClock()
    turns = Turns(clock)
    newer = NewerArrives(newer_drop(), api, state, clock, turns)
    newer.announce()
    outcome = sync_drop(older_drop(), OPTIONS, deps(api, state, clock, turns, "older"))
    assert newer.outcome is Status.UPLOADED
    assert (outcome.status, outcome.reason) == (Status.UNCHANGED, "superseded")
    assert api.uploads == [(JANE, api.photos[JANE])] and len(api.uploads) == 1


def test_a_holder_gives_its_claim_to_a_newer_drop_that_turns_up_before_its_upload() -> None:
    api, clock = FakePhotoApi(), FakeClock()
    turns = Turns(clock)
    state = AnnouncesOnClaim()
    state.on_claim = NewerArrives(newer_drop(), api, state, clock, turns)
    newer = state.on_claim
    outcome = sync_drop(older_drop(), OPTIONS, deps(api, state, clock, turns, "older"))
    assert newer.outcome is Status.UPLOADED
    assert (outcome.status, outcome.reason) == (Status.UNCHANGED, "superseded")
    assert len(api.uploads) == 1
    row, _ = state.rows[KEY]
    assert row.lock_owner is None and row.source_modified == NEW


def test_a_holder_gives_way_to_a_drop_for_its_user_whose_properties_are_not_read_yet() -> None:
    """An export that delivers a user's drops oldest first hands the newest one over last: it
    counts from the start of its delivery, as possibly the newest, so the holder's upload does
    not go out just before it is known (one upload for the user, not two)."""
    api, clock = FakePhotoApi(), FakeClock()
    turns = Turns(clock)
    state = AnnouncesOnClaim()
    state.on_claim = NewerArrives(newer_drop(), api, state, clock, turns, known=False)
    newer = state.on_claim
    outcome = sync_drop(older_drop(), OPTIONS, deps(api, state, clock, turns, "older"))
    assert newer.outcome is Status.UPLOADED
    assert (outcome.status, outcome.reason) == (Status.UNCHANGED, "superseded")
    assert len(api.uploads) == 1


class LooksAtTurns(FakeDrop):
    """A drop whose properties, when read, note whether it already counts as in flight for its
    user ahead of any other drop."""

    turns: Turns | None = None
    counted_before_its_properties: bool | None = None

    def info(self) -> DropInfo:
        if self.counted_before_its_properties is None and self.turns is not None:
            self.counted_before_its_properties = self.turns.newer_waiting(KEY, FUTURE)
        return super().info()


def test_a_drop_counts_in_flight_for_its_user_before_its_properties_are_read() -> None:
    clock = FakeClock()
    turns = Turns(clock)
    drop = LooksAtTurns(f"b/{JANE}.jpg", jpeg("#445566"), created=NEW, last_modified=NEW)
    drop.turns = turns
    outcome = sync_drop(drop, OPTIONS, deps(FakePhotoApi(), FakeStateStore(), clock, turns,
                                            "newer"))
    assert outcome.status is Status.UPLOADED
    assert drop.counted_before_its_properties is True
    assert not turns.newer_waiting(KEY, OLD)  # and no longer once it ended


class LateDelivery(FakeStateStore):
    """Another delivery for Jane turns up as the holder takes her claim; its properties are
    read during the holder's next wait, and show it was made at ``made``."""

    def __init__(self, turns: Turns, clock: FakeClock, made: datetime) -> None:
        super().__init__()
        self.turns, self.made = turns, made
        self.late = ExitStack()
        self.ticket: Ticket | None = None
        clock.on_sleep = self._read_its_properties

    def put(self, state: UserState, version: str | None) -> str:
        written = super().put(state, version)
        if state.lock_owner == "holder" and self.ticket is None:
            self.ticket = self.late.enter_context(self.turns.in_flight(KEY, None))
        return written

    def _read_its_properties(self, seconds: float) -> None:
        if self.ticket is not None and self.ticket.made is None:
            self.turns.retime(self.ticket, self.made)


@pytest.mark.parametrize("made", [OLD, NEW], ids=["older", "the same drop again"])
def test_a_holder_keeps_its_claim_when_a_late_delivery_turns_out_not_newer(
        made: datetime) -> None:
    """It waits the few milliseconds the other delivery's properties take, rather than giving
    its claim up and taking it again."""
    api, clock = FakePhotoApi(), FakeClock()
    turns = Turns(clock)
    state = LateDelivery(turns, clock, made)
    outcome = sync_drop(newer_drop(), OPTIONS, deps(api, state, clock, turns, "holder"))
    state.late.close()
    assert outcome.status is Status.UPLOADED and len(api.uploads) == 1
    row, _ = state.rows[KEY]
    assert row.attempts == 1  # claimed once


def test_a_drop_whose_properties_read_stalls_holds_its_users_drops_back_only_briefly() -> None:
    """A drop counts as possibly the newest for ``BUDGET.unknown_turn`` at most: a read that
    stalls (the blob service's client waits minutes) does not make the user's newest drop
    wait out its whole claim patience and fail."""
    api, state, clock = FakePhotoApi(), FakeStateStore(), FakeClock()
    turns = Turns(clock)
    began = clock.monotonic()
    with turns.in_flight(KEY, None):  # never read
        outcome = sync_drop(newer_drop(), OPTIONS, deps(api, state, clock, turns, "newer"))
    assert outcome.status is Status.UPLOADED
    assert clock.monotonic() - began <= BUDGET.unknown_turn + BUDGET.claim_poll


class LooksAtTurnsOnItsRecord(FakeStateStore):
    """Notes, when a drop's record is read, whether a drop made before NEW would defer."""

    def __init__(self, turns: Turns) -> None:
        super().__init__()
        self.turns = turns
        self.older_defers: bool | None = None
        self.newer_defers: bool | None = None

    def get_drop(self, name: str) -> DropRecord | None:
        self.older_defers = self.turns.newer_waiting(KEY, OLD)
        self.newer_defers = self.turns.newer_waiting(KEY, FUTURE)
        return super().get_drop(name)


def test_a_drop_counts_with_storages_time_for_it_from_when_its_properties_are_read() -> None:
    """Not from after its drop record is read too: a table that stalls then must not make it
    count as possibly the newest."""
    clock = FakeClock()
    turns = Turns(clock)
    state = LooksAtTurnsOnItsRecord(turns)
    sync_drop(newer_drop(), OPTIONS, deps(FakePhotoApi(), state, clock, turns, "newer"))
    assert (state.older_defers, state.newer_defers) == (True, False)


def test_an_older_drop_uploads_after_a_newer_one_that_is_rejected() -> None:
    api, state, clock = FakePhotoApi(), FakeStateStore(), FakeClock()
    turns = Turns(clock)
    newer = NewerArrives(newer_drop(b"not a jpeg"), api, state, clock, turns)
    newer.announce()
    older = older_drop()
    outcome = sync_drop(older, OPTIONS, deps(api, state, clock, turns, "older"))
    assert newer.outcome is Status.REJECTED
    assert outcome.status is Status.UPLOADED
    assert [user for user, _ in api.uploads] == [JANE]


def test_without_turns_both_drops_upload_oldest_first() -> None:
    """What the turns save: the same interleaving with no preference uploads twice."""
    api, clock = FakePhotoApi(), FakeClock()
    state = AnnouncesOnClaim()
    outcome = sync_drop(older_drop(), OPTIONS, SyncDeps(api=api, state=state, clock=clock,
                                                       owner="older"))
    later = sync_drop(newer_drop(), OPTIONS, SyncDeps(api=api, state=state, clock=clock,
                                                     owner="newer"))
    assert (outcome.status, later.status) == (Status.UPLOADED, Status.UPLOADED)
    assert len(api.uploads) == 2


def test_a_released_claim_wakes_the_drops_waiting_for_it_at_once() -> None:
    turns, woken = Turns(SystemClock()), threading.Event()

    def wait_a_long_poll() -> None:
        with turns.in_flight(KEY, OLD) as ticket:
            ticket.pause(3600.0, SystemClock())
            woken.set()

    waiter = threading.Thread(target=wait_a_long_poll, daemon=True)
    waiter.start()
    for _ in range(6000):  # until the waiter is in line
        if turns.newer_waiting(KEY, OLD - timedelta(seconds=1)):
            break
        threading.Event().wait(0.01)
    turns.changed(KEY)
    assert woken.wait(60.0), "the waiter slept on through the release"


def test_only_a_strictly_newer_drop_goes_first() -> None:
    turns = Turns(FakeClock())
    with turns.in_flight(KEY, NEW):
        assert turns.newer_waiting(KEY, OLD)
        assert not turns.newer_waiting(KEY, NEW)  # the same time: the table's order decides
        assert not turns.newer_waiting("upn:someone.else@contoso.com", OLD)
    assert not turns.newer_waiting(KEY, OLD)


def test_a_drop_whose_time_is_not_known_yet_goes_first_until_it_is() -> None:
    turns = Turns(FakeClock())
    with turns.in_flight(KEY, NEW) as holder, turns.in_flight(KEY, None) as unknown:
        assert turns.newer_waiting(KEY, FUTURE)
        holder.woken.clear()
        turns.retime(unknown, OLD)  # it turned out older: the holder goes on, told at once
        assert not turns.newer_waiting(KEY, NEW)
        assert holder.woken.is_set()


def test_a_drop_whose_time_becomes_known_wakes_only_the_drops_it_no_longer_holds_back() -> None:
    """A re-export's drops for one user each read their properties at about the same time;
    a drop still older than the one that became known stays asleep (it still defers to it)."""
    turns = Turns(FakeClock())
    with turns.in_flight(KEY, OLD) as older, turns.in_flight(KEY, NEW) as newer, \
            turns.in_flight(KEY, None) as unknown:
        older.woken.clear()
        newer.woken.clear()
        turns.retime(unknown, OLD + timedelta(seconds=30))
        assert not older.woken.is_set()
        assert newer.woken.is_set()


def test_a_drop_whose_content_turns_out_older_wakes_the_drops_deferring_to_it() -> None:
    """Until its content is read, a drop counts with storage's time for it; once read, an
    edited copy of content seen before takes the older time it was first seen at. A drop that
    deferred to it is next, and is told so at once rather than at its next look at the table."""
    turns = Turns(FakeClock())
    with turns.in_flight(KEY, NEW) as edited, turns.in_flight(KEY, OLD) as waiting:
        waiting.woken.clear()
        turns.retime(edited, NEW)  # the usual case: the time it had; nobody looks again
        assert not waiting.woken.is_set()
        assert turns.newer_waiting(KEY, OLD)
        turns.retime(edited, OLD - timedelta(minutes=1))
        assert not turns.newer_waiting(KEY, OLD)
        assert waiting.woken.is_set()
        assert not edited.woken.is_set()  # its own next look is not cut short


def test_a_drop_that_gave_way_keeps_the_api_deadline_it_started() -> None:
    """Its photo API calls share one budget however often it waits, so they still end inside
    the function timeout."""
    api, clock = FakePhotoApi(), FakeClock()
    turns = Turns(clock)
    state = AnnouncesOnClaim()
    state.on_claim = NewerArrives(newer_drop(b"not a jpeg"), api, state, clock, turns)
    newer = state.on_claim
    made: list[Deadline] = []

    def deadline() -> Deadline:
        made.append(Deadline.after(240.0, clock))
        return made[-1]

    older = SyncDeps(api=api, state=state, clock=clock, owner="older", turns=turns,
                     api_deadline=deadline)
    outcome = sync_drop(older_drop(), OPTIONS, older)
    assert newer.outcome is Status.REJECTED and outcome.status is Status.UPLOADED
    assert len(made) == 1


class WokenOnlyClock(SystemClock):
    """Real time, except that a wait on a drop's turn lasts until it is woken (at most a
    minute) and records whether it was: a drop that is never woken shows as not woken."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[bool] = []
        self.waiting = threading.Event()

    def wait(self, event: Signal, seconds: float) -> bool:
        self.waiting.set()
        woken = event.wait(60.0)
        self.waits.append(woken)
        return woken


class UploadHeld(FakePhotoApi):
    """Uploads wait for ``go``; ``uploading`` says one has started."""

    def __init__(self) -> None:
        super().__init__()
        self.uploading, self.go = threading.Event(), threading.Event()

    def set_photo(self, user: UserRef, jpeg: bytes) -> None:
        self.uploading.set()
        assert self.go.wait(60.0)
        super().set_photo(user, jpeg)


def test_a_drop_waiting_for_the_claim_is_woken_when_its_holder_releases_it() -> None:
    """Not at its next look at the table: the holder's release wakes it, and it finds itself
    superseded by the photo just uploaded."""
    api, state, clock = UploadHeld(), FakeStateStore(), WokenOnlyClock()
    turns = Turns(clock)
    outcomes: dict[str, Status] = {}

    def run(drop: FakeDrop, owner: str) -> None:
        outcomes[owner] = sync_drop(drop, OPTIONS, deps(api, state, clock, turns, owner)).status

    holder = threading.Thread(target=run, args=(newer_drop(), "newer"), daemon=True)
    holder.start()
    assert api.uploading.wait(60.0)
    waiter = threading.Thread(target=run, args=(older_drop(), "older"), daemon=True)
    waiter.start()
    assert clock.waiting.wait(60.0)  # the older drop waits for the claim
    api.go.set()
    holder.join(60.0)
    waiter.join(60.0)
    assert outcomes == {"newer": Status.UPLOADED, "older": Status.UNCHANGED}
    assert clock.waits and all(clock.waits), "a waiting drop was not woken by the release"


def test_a_holder_with_its_api_deadline_nearly_spent_uploads_instead_of_giving_way() -> None:
    api, clock = FakePhotoApi(), FakeClock()
    turns = Turns(clock)
    state = AnnouncesOnClaim()
    state.on_claim = NewerArrives(newer_drop(), api, state, clock, turns)
    older = SyncDeps(api=api, state=state, clock=clock, owner="older", turns=turns,
                     api_deadline=lambda: Deadline.after(2.0, clock))
    outcome = sync_drop(older_drop(), OPTIONS, older)
    assert outcome.status is Status.UPLOADED and len(api.uploads) == 1


class NeverFinishes(NewerArrives):
    """A newer drop that stays in flight (a long download, say) and never claims."""

    def _run(self, seconds: float) -> None:
        return None


def test_a_drop_that_gave_way_waits_no_longer_than_its_api_deadline() -> None:
    """Its next claim gives up when the deadline passes (it could not upload after it); the
    platform delivers it again."""
    api, clock = FakePhotoApi(), FakeClock()
    turns = Turns(clock)
    state = AnnouncesOnClaim()
    state.on_claim = NeverFinishes(newer_drop(), api, state, clock, turns)
    began = clock.monotonic()
    older = SyncDeps(api=api, state=state, clock=clock, owner="older", turns=turns,
                     api_deadline=lambda: Deadline.after(20.0, clock))
    with pytest.raises(UserBusy):
        sync_drop(older_drop(), OPTIONS, older)
    assert 20.0 <= clock.monotonic() - began < OPTIONS.lock_wait_seconds
    assert not api.uploads
