"""Reconcile: which drops it picks, resumability, limits, and throttling."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from photo_core.domain.clock import SystemClock
from photo_core.domain.errors import AuthFailure, NoMailbox, Throttled, UserNotFound
from photo_core.domain.naming import NamingRules, UserRef
from photo_core.domain.outcomes import Status
from photo_core.domain.retry import Deadline, current_deadline
from photo_core.photos import ImagePolicy
from photo_core.use_cases.ports import UserState
from photo_core.use_cases.reconcile import Listing, ReconcileOptions, reconcile
from photo_core.use_cases.sync import SyncDeps, SyncOptions
from tests.photos import jpeg
from tests.unit.fakes import FakeClock, FakeDrop, FakePhotoApi, FakeStateStore

SYNC = SyncOptions(naming=NamingRules(), image=ImagePolicy())
World = tuple[FakePhotoApi, FakeStateStore, FakeClock]


class FakeDropSource:
    def __init__(self, drops: list[FakeDrop]) -> None:
        self.drops = {d.name: d for d in drops}

    def list(self, prefix: str | None) -> Iterator[Listing]:
        for drop in self.drops.values():
            if prefix is None or drop.name.startswith(prefix):
                yield Listing(drop.name, drop.etag, drop.last_modified, drop.created)

    def open(self, name: str) -> FakeDrop:
        return self.drops[name]


@pytest.fixture
def world() -> tuple[FakePhotoApi, FakeStateStore, FakeClock]:
    return FakePhotoApi(), FakeStateStore(), FakeClock()


def run(source: FakeDropSource, world: tuple[FakePhotoApi, FakeStateStore, FakeClock],
        **options: object) -> dict[str, int]:
    api, state, clock = world

    def deps() -> SyncDeps:
        return SyncDeps(api=api, state=state, clock=clock, owner="r")

    summary = reconcile(source, SYNC, deps, ReconcileOptions(workers=1, **options))  # type: ignore[arg-type]
    return dict(summary.outcomes) | {"selected": summary.selected, "deferred": summary.deferred}


def test_drops_without_an_outcome_are_processed_and_a_second_run_skips_them(world: World) -> None:
    source = FakeDropSource([FakeDrop("a@contoso.com.jpg", jpeg()),
                             FakeDrop("b@contoso.com.jpg", b"not a jpeg")])
    assert run(source, world) == {"uploaded": 1, "rejected (not_jpeg)": 1, "selected": 2,
                                  "deferred": 0}
    assert run(source, world) == {"selected": 0, "deferred": 0}


def test_rejects_are_retried_only_when_asked(world: World) -> None:
    bad = FakeDrop("b@contoso.com.jpg", b"not a jpeg")
    source = FakeDropSource([bad])
    run(source, world)
    bad.content = jpeg()  # HR fixed the file's content behind the same outcome
    assert run(source, world)["selected"] == 0
    assert run(source, world, retry_rejected=True)["uploaded"] == 1


def test_a_recorded_upload_the_state_does_not_know_is_repaired(world: World) -> None:
    api, state, _ = world
    drop = FakeDrop("a@contoso.com.jpg", jpeg())
    source = FakeDropSource([drop])
    run(source, world)
    state.rows.clear()  # the state table was lost
    api.photos.clear()
    assert run(source, world)["uploaded"] == 1
    assert "a@contoso.com" in api.photos


def test_an_older_recorded_drop_is_left_alone_when_a_newer_one_won(world: World) -> None:
    _, state, clock = world
    old = FakeDrop("old/a@contoso.com.jpg", jpeg(color=(1, 1, 1)),
                   last_modified=clock.current - timedelta(hours=1))
    source = FakeDropSource([old])
    run(source, world)
    state.rows["upn:a@contoso.com"] = (UserState(user="upn:a@contoso.com",
                                                 content_sha256="other",
                                                 source_modified=clock.current), "v9")
    assert run(source, world)["selected"] == 0


def test_limit_and_prefix_bound_the_walk(world: World) -> None:
    drops = [FakeDrop(f"{p}/u{i}@contoso.com.jpg", jpeg()) for p in ("x", "y") for i in range(3)]
    source = FakeDropSource(drops)
    assert run(source, world, prefix="y/", limit=2)["selected"] == 2
    assert sum(1 for d in drops if d.recorded) == 2
    assert all(d.name.startswith("y/") for d in drops if d.recorded)
    assert sorted(world[1].records) == sorted(d.name for d in drops if d.recorded)


def test_throttling_defers_the_drop_and_pauses_new_work(world: World) -> None:
    api, _, _ = world
    api.errors["a@contoso.com"] = Throttled("slow down", retry_after=0.01)
    source = FakeDropSource([FakeDrop("a@contoso.com.jpg", jpeg()),
                             FakeDrop("b@contoso.com.jpg", jpeg())])
    result = run(source, world)
    assert (result["deferred"], result["uploaded"]) == (1, 1)
    assert source.drops["a@contoso.com.jpg"].recorded is None


def test_dry_run_reports_would_upload_and_changes_nothing(world: World) -> None:
    api, _, clock = world
    source = FakeDropSource([FakeDrop("a@contoso.com.jpg", jpeg())])
    dry = SyncOptions(naming=NamingRules(), image=ImagePolicy(), dry_run=True)
    summary = reconcile(source, dry, lambda: SyncDeps(api=api, state=world[1], clock=clock,
                                                      owner="r"),
                        ReconcileOptions(workers=1))
    assert dict(summary.outcomes) == {Status.WOULD_UPLOAD.value: 1}
    assert api.uploads == []


def test_a_dry_run_of_rejected_drops_counts_would_upload_and_would_reject_by_reason(
        world: World) -> None:
    api, state, clock = world
    names = ("ghost1@contoso.com", "ghost2@contoso.com", "diego@contoso.com",
             "alex@contoso.com")
    for name in names[:2]:
        api.errors[name] = UserNotFound("404 Request_ResourceNotFound")
    api.errors["diego@contoso.com"] = NoMailbox("404 ErrorNonExistentMailbox")
    api.errors["alex@contoso.com"] = NoMailbox("404 ErrorNonExistentMailbox")
    source = FakeDropSource([FakeDrop(f"{name}.jpg", jpeg()) for name in names])
    assert run(source, world)["rejected (no_mailbox)"] == 2
    del api.errors["alex@contoso.com"]  # an admin gave Alex a mailbox: a retry would upload
    dry = SyncOptions(naming=NamingRules(), image=ImagePolicy(), dry_run=True)
    summary = reconcile(source, dry, lambda: SyncDeps(api=api, state=state, clock=clock,
                                                      owner="r"),
                        ReconcileOptions(workers=1, retry_rejected=True))
    assert dict(summary.outcomes) == {"would-upload": 1, "would-reject (user_not_found)": 2,
                                      "would-reject (no_mailbox)": 1}
    assert api.uploads == []
    assert all(d.recorded is not None and d.recorded.status is Status.REJECTED
               for d in source.drops.values())  # the real run's outcomes stay as they were


class SlowPhotoApi(FakePhotoApi):
    """Each upload takes ``seconds`` on ``clock`` (the deadline is on its monotonic time)."""

    def __init__(self, clock: FakeClock, seconds: float) -> None:
        super().__init__()
        self.clock, self.seconds = clock, seconds

    def set_photo(self, user: UserRef, jpeg: bytes) -> None:
        self.clock.advance(self.seconds)
        super().set_photo(user, jpeg)


def test_the_deadline_also_stops_drops_listed_but_not_started(world: World) -> None:
    _, state, clock = world
    api = SlowPhotoApi(clock, 0.1)
    source = FakeDropSource([FakeDrop(f"u{i:02d}@contoso.com.jpg", jpeg()) for i in range(20)])

    def deps() -> SyncDeps:
        return SyncDeps(api=api, state=state, clock=clock, owner="r")

    summary = reconcile(source, SYNC, deps, ReconcileOptions(workers=2, deadline_seconds=0.3))
    assert summary.stopped_early
    assert len(api.uploads) < 20
    assert summary.outcomes["uploaded"] + summary.deferred == summary.selected
    assert ("stopped early", 1) in summary.rows()


def test_a_limit_counts_only_what_was_examined(world: World) -> None:
    api, state, clock = world
    source = FakeDropSource([FakeDrop(f"u{i}@contoso.com.jpg", jpeg()) for i in range(5)])

    def deps() -> SyncDeps:
        return SyncDeps(api=api, state=state, clock=clock, owner="r")

    summary = reconcile(source, SYNC, deps, ReconcileOptions(workers=1, limit=2))
    assert (summary.scanned, summary.selected) == (2, 2)


def test_a_resumed_walk_carries_on_where_the_last_run_stopped_and_starts_over_when_done(
    world: World,
) -> None:
    api, state, clock = world
    names = [f"u{i}@contoso.com.jpg" for i in range(7)]
    source = FakeDropSource([FakeDrop(name, jpeg()) for name in names])

    def deps() -> SyncDeps:
        return SyncDeps(api=api, state=state, clock=clock, owner="r")

    def night() -> list[str]:
        before = len(api.uploads)
        reconcile(source, SYNC, deps, ReconcileOptions(workers=1, limit=3, resume=True))
        return [user for user, _ in api.uploads[before:]]

    assert night() == ["u0@contoso.com", "u1@contoso.com", "u2@contoso.com"]
    assert night() == ["u3@contoso.com", "u4@contoso.com", "u5@contoso.com"]
    assert night() == ["u6@contoso.com"]
    assert state.get("reconcile:")[0].last_blob_name is None  # type: ignore[index]
    del state.records[names[1]]  # its record was lost: the next walk starts over
    again = reconcile(source, SYNC, deps, ReconcileOptions(workers=1, limit=3, resume=True))
    assert (again.scanned, again.selected) == (7, 1)  # from the start: u1 found again


def test_each_drop_in_a_worker_thread_runs_under_its_api_deadline(world: World) -> None:
    _, state, clock = world
    seen: list[Deadline | None] = []

    class Seeing(FakePhotoApi):
        def set_photo(self, user: UserRef, jpeg: bytes) -> None:
            seen.append(current_deadline())
            super().set_photo(user, jpeg)

    api = Seeing()
    source = FakeDropSource([FakeDrop(f"u{i}@contoso.com.jpg", jpeg()) for i in range(4)])

    def deps() -> SyncDeps:
        return SyncDeps(api=api, state=state, clock=clock, owner="r",
                        api_deadline=lambda: Deadline.after(60, SystemClock()))

    reconcile(source, SYNC, deps, ReconcileOptions(workers=2))
    assert len(seen) == 4 and all(d is not None for d in seen)


def test_a_resumed_walk_starts_again_at_a_drop_its_last_run_deferred(world: World) -> None:
    api, state, clock = world
    source = FakeDropSource([FakeDrop(f"u{i}@contoso.com.jpg", jpeg()) for i in range(5)])

    def deps() -> SyncDeps:
        return SyncDeps(api=api, state=state, clock=clock, owner="r")

    api.errors["u1@contoso.com"] = Throttled("slow down", retry_after=0.01)
    first = reconcile(source, SYNC, deps, ReconcileOptions(workers=1, limit=3, resume=True))
    assert first.deferred == 1
    del api.errors["u1@contoso.com"]
    reconcile(source, SYNC, deps, ReconcileOptions(workers=1, limit=3, resume=True))
    assert sorted(user for user, _ in api.uploads) == [f"u{i}@contoso.com" for i in range(5)]
    assert state.get("reconcile:")[0].last_blob_name is None  # type: ignore[index]


def test_a_drop_that_fails_every_night_does_not_hold_the_walk_at_itself(world: World) -> None:
    api, state, clock = world
    source = FakeDropSource([FakeDrop("a-broken@contoso.com.jpg", jpeg())]
                            + [FakeDrop(f"u{i}@contoso.com.jpg", jpeg()) for i in range(4)])

    class Broken(FakePhotoApi):
        def set_photo(self, user: UserRef, jpeg: bytes) -> None:
            if user.value.startswith("a-broken"):
                raise RuntimeError("a bug, not a transient failure")
            api.set_photo(user, jpeg)

    def deps() -> SyncDeps:
        return SyncDeps(api=Broken(), state=state, clock=clock, owner="r")

    for _ in range(3):
        reconcile(source, SYNC, deps, ReconcileOptions(workers=1, limit=2, resume=True))
    assert sorted(user for user, _ in api.uploads) == [f"u{i}@contoso.com" for i in range(4)]


def test_a_deferred_drop_is_retried_by_every_run_until_it_ends(world: World) -> None:
    api = world[0]
    api.errors["a@contoso.com"] = AuthFailure("the client secret expired (invalid_client)")
    source = FakeDropSource([FakeDrop("a@contoso.com.jpg", jpeg())])
    assert run(source, world) == {"deferred (auth_failed)": 1, "selected": 1, "deferred": 0}
    assert run(source, world)["selected"] == 1  # still deferred: selected again
    del api.errors["a@contoso.com"]  # the secret was rotated
    assert run(source, world)["uploaded"] == 1
    assert run(source, world)["selected"] == 0


def test_a_user_whose_photo_is_unknown_has_it_put_back_from_its_drop(world: World) -> None:
    """A call went out for the user and its answer never came (the invocation died): the row
    says the live photo is unknown. Reconcile uploads the photo's own drop again."""
    api, state, clock = world
    drop = FakeDrop("a@contoso.com.jpg", jpeg())
    source = FakeDropSource([drop])
    run(source, world)
    row, version = state.rows["upn:a@contoso.com"]
    state.put(row.with_pending("upload", "b@contoso.com.jpg|x", "f" * 64, "lost", clock.now()),
              version)
    api.photos["a@contoso.com"] = b"whatever landed"
    assert run(source, world)["uploaded"] == 1
    assert api.photos["a@contoso.com"] == api.uploads[0][1]
    assert not state.rows["upn:a@contoso.com"][0].photo_unknown
    assert run(source, world)["selected"] == 0
