"""The per-user claim is a lease: renewed while its holder lives, lost when taken over."""

from __future__ import annotations

from datetime import timedelta

from photo_core.domain.outcomes import Outcome, Status
from photo_core.use_cases.lease import Lease
from photo_core.use_cases.ports import DropInfo, StateConflict, UserState
from photo_core.use_cases.release import release
from tests.unit.fakes import FakeClock, FakeStateStore


def test_renewing_pushes_the_expiry_and_keeps_the_version_current() -> None:
    store, clock = FakeStateStore(), FakeClock()
    claim = UserState(user="upn:jane@contoso.com", lock_owner="me",
                      lock_expires=clock.current + timedelta(seconds=30))
    lease = Lease(store, claim, store.put(claim, None), seconds=30, clock=clock)
    clock.current += timedelta(seconds=20)
    lease.renew()
    state, version = lease.stop()
    assert state.lock_expires == clock.current + timedelta(seconds=30)
    assert store.get(claim.user) == (state, version)
    assert not lease.lost


def test_a_claim_taken_over_is_lost_and_not_renewed() -> None:
    store, clock = FakeStateStore(), FakeClock()
    claim = UserState(user="upn:jane@contoso.com", lock_owner="me")
    version = store.put(claim, None)
    lease = Lease(store, claim, version, seconds=30, clock=clock)
    store.put(UserState(user=claim.user, lock_owner="someone else"), version)
    lease.renew()
    assert lease.lost
    assert store.get(claim.user)[0].lock_owner == "someone else"  # type: ignore[index]


class AnswerLost(FakeStateStore):
    """A write the server applied whose answer was lost, once, on write ``at``: it times out,
    or the SDK's retry meets the ETag its own first attempt changed and reports a conflict."""

    def __init__(self, at: int, error: Exception) -> None:
        super().__init__()
        self.at = at
        self.error = error

    def put(self, state: UserState, version: str | None) -> str:
        new_version = super().put(state, version)
        if self.writes == self.at:
            raise self.error
        return new_version


def test_a_renewal_that_was_applied_but_answered_with_a_conflict_keeps_the_claim() -> None:
    store, clock = AnswerLost(2, StateConflict("upn:jane@contoso.com")), FakeClock()
    claim = UserState(user="upn:jane@contoso.com", lock_owner="me", lock_drop="a.jpg|1")
    lease = Lease(store, claim, store.put(claim, None), seconds=30, clock=clock)
    lease.renew()
    assert not lease.lost
    assert lease.stop() == store.get(claim.user)


def test_a_release_after_a_renewal_whose_answer_was_lost_still_records_the_outcome() -> None:
    store, clock = AnswerLost(2, TimeoutError("the answer was lost")), FakeClock()
    claim = UserState(user="upn:jane@contoso.com", lock_owner="me", lock_drop="a.jpg|1")
    lease = Lease(store, claim, store.put(claim, None), seconds=30, clock=clock)
    lease.renew()  # applied, but the lease still holds the version before it
    release(store, *lease.stop(), Outcome(Status.UPLOADED, "a.jpg", "done", clock.current,
                                          content_sha256="ab"),
            DropInfo("a.jpg", 1, "1", clock.current))
    row = store.get(claim.user)
    assert row is not None
    assert (row[0].lock_owner, row[0].last_status, row[0].content_sha256) == \
        (None, "uploaded", "ab")


class Stalled(FakeStateStore):
    """A table that stops answering: every write from ``stall`` on times out."""

    def __init__(self) -> None:
        super().__init__()
        self.stall = False

    def put(self, state: UserState, version: str | None) -> str:
        if self.stall:
            raise TimeoutError("the table did not answer")
        return super().put(state, version)


def test_a_lease_is_lost_once_its_lifetime_passes_without_a_successful_renewal() -> None:
    """By its holder's own monotonic clock: nobody has to take the claim over for it to end."""
    store, clock = Stalled(), FakeClock()
    claim = UserState(user="upn:jane@contoso.com", lock_owner="me", lock_drop="a.jpg|1")
    lease = Lease(store, claim, store.put(claim, None), seconds=30, clock=clock)
    store.stall = True
    clock.advance(20)
    lease.renew()
    assert not lease.lost
    clock.advance(11)
    lease.renew()
    assert lease.lost


def test_a_successful_renewal_extends_the_lease_from_when_it_was_sent() -> None:
    store, clock = Stalled(), FakeClock()
    claim = UserState(user="upn:jane@contoso.com", lock_owner="me", lock_drop="a.jpg|1")
    lease = Lease(store, claim, store.put(claim, None), seconds=30, clock=clock)
    clock.advance(25)
    lease.renew()
    clock.advance(25)
    assert not lease.lost
    clock.advance(6)
    assert lease.lost
