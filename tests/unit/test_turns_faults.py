"""Taking turns newest first under faults: a claim whose answer was lost, a holder that gives
way late in its wait, a slow download. The newer drop runs inside the older one's waits (the
fake clock's ``on_sleep``), as another thread would."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from photo_core.domain.budget import BUDGET
from photo_core.domain.naming import UserRef
from photo_core.domain.outcomes import Status
from photo_core.use_cases.directory import Resolution
from photo_core.use_cases.ports import UserState
from photo_core.use_cases.sync import sync_drop
from photo_core.use_cases.turns import Turns
from tests.photos import jpeg
from tests.unit.fakes import FakeClock, FakeDrop, FakePhotoApi, FakeStateStore
from tests.unit.test_turns import (
    JANE,
    KEY,
    OLD,
    OPTIONS,
    AnnouncesOnClaim,
    NewerArrives,
    deps,
    newer_drop,
    older_drop,
)


def test_an_older_drop_whose_claim_landed_unanswered_does_not_hold_the_newer_one_off() -> None:
    """A claim write whose answer was lost may have landed: the next read shows it as ours, and
    it is taken again at once. Deferring to a newer drop with it still on the row would have the
    newer drop wait a whole claim lifetime (30 s) for a claim nobody keeps."""
    api, clock = FakePhotoApi(), FakeClock()
    turns = Turns(clock)
    state = AnnouncesOnClaim(lose_answer=True)
    # the older drop's first wait is for the table (renewal_retry); the newer one runs in the
    # next, once the older has looked at the row again
    state.on_claim = NewerArrives(newer_drop(), api, state, clock, turns, skip=1)
    newer = state.on_claim
    outcome = sync_drop(older_drop(), OPTIONS, deps(api, state, clock, turns, "older"))
    assert newer.outcome is Status.UPLOADED
    assert (outcome.status, outcome.reason) == (Status.UNCHANGED, "superseded")
    assert newer.started_at is not None and newer.ended_at is not None
    waited = newer.ended_at - newer.started_at
    assert waited < 5.0, f"the newer drop waited {waited:.1f} s for the older drop's own claim"


class SlowResolver:
    """A user resolution that takes ``seconds`` (a throttled lookup, a slow mapping read)."""

    def __init__(self, clock: FakeClock, seconds: float) -> None:
        self.clock, self.seconds = clock, seconds

    def resolve_for_upload(self, ref: UserRef) -> Resolution:
        self.clock.advance(self.seconds)
        return Resolution(ref)

    def resolve(self, ref: UserRef) -> UserRef:
        return self.resolve_for_upload(ref).user


class HeldElsewhere(FakeStateStore):
    """Jane's claim is held by a drop of another instance until ``free_at`` (monotonic); the
    newer drop of this process turns up just after the older one took the claim."""

    def __init__(self, clock: FakeClock, free_at: float) -> None:
        super().__init__()
        self.clock, self.free_at = clock, free_at
        self.rival: NewerArrives | None = None
        super().put(UserState(user=KEY, lock_owner="elsewhere", lock_drop="c/x.jpg|\"x\"",
                              lock_expires=clock.now() + timedelta(seconds=30)), None)

    def get(self, user: str) -> tuple[UserState, str] | None:
        current = super().get(user)
        if current and current[0].lock_owner == "elsewhere" and \
                self.clock.monotonic() >= self.free_at:
            _, version = current
            super().put(UserState(user=KEY), version)  # the other instance released it
            current = super().get(user)
        return current

    def put(self, state: UserState, version: str | None) -> str:
        written = super().put(state, version)
        if state.lock_owner == "older" and self.rival is not None:
            self.rival.announce()
            self.rival = None
        return written


def test_a_holder_that_gives_way_late_in_its_wait_still_waits_for_the_newer_drop() -> None:
    """A drop that waited 28 s for another instance's claim and spent 18 s resolving its user
    gives the claim way to a newer drop with its patience anew: it waits for the newer drop's
    outcome (here a reject) and uploads, instead of giving up at once and ending this delivery
    without an outcome."""
    api, clock = FakePhotoApi(), FakeClock()
    turns = Turns(clock)
    state = HeldElsewhere(clock, free_at=clock.monotonic() + 28.0)
    newer = NewerArrives(newer_drop(b"not a jpeg"), api, state, clock, turns)
    state.rival = newer
    older = replace(deps(api, state, clock, turns, "older"), resolver=SlowResolver(clock, 18.0))
    outcome = sync_drop(older_drop(), OPTIONS, older)
    assert newer.outcome is Status.REJECTED
    assert outcome.status is Status.UPLOADED


class SlowDownload(FakeDrop):
    """A drop whose download takes ``seconds``."""

    seconds: float = 0.0
    clock: FakeClock | None = None

    def read(self) -> bytes:
        if self.clock is not None:
            self.clock.advance(self.seconds)
        return super().read()


def test_the_download_does_not_count_against_the_claim_wait() -> None:
    """A drop whose download took 20 s still waits the whole 45 s for another drop's claim
    (longer than a claim's 30 s lifetime, so a crashed holder's claim frees first): here the
    other claim frees after 30 s of waiting."""
    api, clock = FakePhotoApi(), FakeClock()
    turns = Turns(clock)
    drop = SlowDownload(f"a/{JANE}.jpg", jpeg("#112233"), etag='"old"', created=OLD,
                        last_modified=OLD)
    drop.seconds, drop.clock = 20.0, clock
    state = HeldElsewhere(clock, free_at=clock.monotonic() + 20.0 + 30.0)
    outcome = sync_drop(drop, OPTIONS, deps(api, state, clock, turns, "older"))
    assert outcome.status is Status.UPLOADED
    assert BUDGET.claim_wait > 30.0
