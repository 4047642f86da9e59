"""The per-user claim is a lease: renewed while its holder lives, lost when taken over."""

from __future__ import annotations

from datetime import timedelta

from photo_core.lease import Lease
from photo_core.ports import UserState
from tests.unit.fakes import FakeClock, FakeStateStore


def test_renewing_pushes_the_expiry_and_keeps_the_version_current() -> None:
    store, clock = FakeStateStore(), FakeClock()
    claim = UserState(user="upn:jane@contoso.com", lock_owner="me",
                      lock_expires=clock.current + timedelta(seconds=30))
    lease = Lease(store, claim, store.put(claim, None), seconds=30, now=clock.now)
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
    lease = Lease(store, claim, version, seconds=30, now=clock.now)
    store.put(UserState(user=claim.user, lock_owner="someone else"), version)
    lease.renew()
    assert lease.lost
    assert store.get(claim.user)[0].lock_owner == "someone else"  # type: ignore[index]
