"""Taking turns newest first under faults: a claim whose answer was lost, a holder that gives
way late in its wait, a slow download. The newer drop runs inside the older one's waits (the
fake clock's ``on_sleep``), as another thread would."""

from __future__ import annotations

from contextlib import ExitStack
from datetime import UTC, datetime, timedelta

from photo_core.domain.budget import BUDGET
from photo_core.domain.naming import NamingRules, UserRef
from photo_core.domain.outcomes import Status
from photo_core.photos import ImagePolicy
from photo_core.use_cases.directory import Resolution
from photo_core.use_cases.ports import StateUnavailable, UserState
from photo_core.use_cases.sync import SyncDeps, SyncOptions, sync_drop
from photo_core.use_cases.turns import Turns
from tests.photos import jpeg
from tests.unit.fakes import FakeClock, FakeDrop, FakePhotoApi, FakeStateStore

JANE = "jane.doe@contoso.com"
KEY = f"upn:{JANE}"
OPTIONS = SyncOptions(naming=NamingRules(), image=ImagePolicy())
OLD = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
NEW = OLD + timedelta(minutes=1)


def older_drop() -> FakeDrop:
    return FakeDrop(f"a/{JANE}.jpg", jpeg("#112233"), etag='"old"', created=OLD,
                    last_modified=OLD)


def newer_drop(content: bytes | None = None) -> FakeDrop:
    return FakeDrop(f"b/{JANE}.jpg", jpeg("#445566") if content is None else content,
                    etag='"new"', created=NEW, last_modified=NEW)


class Rival:
    """A newer drop for Jane in this process: announced in flight by :meth:`announce`, then run
    to its outcome in the older drop's next wait after ``skip`` more (once; its own waits do not
    run it again)."""

    def __init__(self, drop: FakeDrop, api: FakePhotoApi, state: FakeStateStore,
                 clock: FakeClock, turns: Turns, skip: int = 0) -> None:
        self.skip = skip
        self.drop, self.api, self.state, self.clock, self.turns = drop, api, state, clock, turns
        self.outcome: Status | None = None
        self.started_at: float | None = None
        self.ended_at: float | None = None
        self._announced = ExitStack()
        self._armed = False
        self._running = False
        clock.on_sleep = self._run

    def announce(self) -> None:
        self._announced.enter_context(self.turns.in_flight(KEY, NEW))
        self._armed = True

    def _run(self, seconds: float) -> None:
        if not self._armed or self._running or self.outcome is not None:
            return
        if self.skip > 0:
            self.skip -= 1
            return
        self._running = True
        self.started_at = self.clock.monotonic()
        try:
            self.outcome = sync_drop(self.drop, OPTIONS, SyncDeps(
                api=self.api, state=self.state, clock=self.clock, owner="newer",
                turns=self.turns)).status
        finally:
            self.ended_at = self.clock.monotonic()
            self._running = False
            self._announced.close()


class ClaimAnswerLost(FakeStateStore):
    """The older drop's claim write lands, but its answer is lost (the table's client times out
    after the server applied it), and just then the newer drop turns up."""

    def __init__(self) -> None:
        super().__init__()
        self.rival: Rival | None = None

    def put(self, state: UserState, version: str | None) -> str:
        written = super().put(state, version)
        if state.lock_owner == "older" and self.rival is not None:
            self.rival.announce()
            self.rival = None
            raise StateUnavailable("the claim's answer was lost; the write landed")
        return written


def test_an_older_drop_whose_claim_landed_unanswered_does_not_hold_the_newer_one_off() -> None:
    """A claim write whose answer was lost may have landed: the next read shows it as ours, and
    it is taken again at once. Deferring to a newer drop with it still on the row would have the
    newer drop wait a whole claim lifetime (30 s) for a claim nobody keeps."""
    api, clock, turns = FakePhotoApi(), FakeClock(), Turns()
    state = ClaimAnswerLost()
    # the older drop's first wait is for the table (renewal_retry); the newer one runs in the
    # next, once the older has looked at the row again
    newer = Rival(newer_drop(), api, state, clock, turns, skip=1)
    state.rival = newer
    outcome = sync_drop(older_drop(), OPTIONS, SyncDeps(api=api, state=state, clock=clock,
                                                       owner="older", turns=turns))
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
        self.rival: Rival | None = None
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
    api, clock, turns = FakePhotoApi(), FakeClock(), Turns()
    state = HeldElsewhere(clock, free_at=clock.monotonic() + 28.0)
    newer = Rival(newer_drop(b"not a jpeg"), api, state, clock, turns)
    state.rival = newer
    deps = SyncDeps(api=api, state=state, clock=clock, owner="older", turns=turns,
                    resolver=SlowResolver(clock, 18.0))
    outcome = sync_drop(older_drop(), OPTIONS, deps)
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
    api, clock, turns = FakePhotoApi(), FakeClock(), Turns()
    drop = SlowDownload(f"a/{JANE}.jpg", jpeg("#112233"), etag='"old"', created=OLD,
                        last_modified=OLD)
    drop.seconds, drop.clock = 20.0, clock
    state = HeldElsewhere(clock, free_at=clock.monotonic() + 20.0 + 30.0)
    deps = SyncDeps(api=api, state=state, clock=clock, owner="older", turns=turns)
    outcome = sync_drop(drop, OPTIONS, deps)
    assert outcome.status is Status.UPLOADED
    assert BUDGET.claim_wait > 30.0
