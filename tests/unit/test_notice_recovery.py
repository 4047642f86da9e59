"""A notice run that dies or fails half-way loses no notice: the cursor moves only past what
was claimed, a claim whose run died is sent by a later run, and health shows it meanwhile."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from photo_core.domain.notices import Notice, notice_for
from photo_core.use_cases.notifier import (
    STALE_PENDING,
    NoticeRun,
    notice_health,
    retry_digest,
    run_digest,
    run_notices,
)
from photo_core.use_cases.notify_ports import Delivery, NoticeState
from tests.unit.test_notifier import World, json_world


class Killed(BaseException):
    """The host ending an invocation (function timeout, instance lost): nothing after it runs."""


def told(world: World) -> list[str]:
    """Every file any message listed."""
    return [d["file"] for document in world.webhook.documents for d in document["drops"]]


def failing_claims(world: World, after: int, error: BaseException) -> Callable[[], None]:
    """Make claims after the first ``after`` raise ``error``; returns the undo."""
    real = world.book.claim
    calls = [0]

    def claim(notice: Notice, noticed: Any) -> bool:
        calls[0] += 1
        if calls[0] > after:
            raise error
        return real(notice, noticed)

    world.book.claim = claim  # type: ignore[method-assign]
    return lambda: setattr(world.book, "claim", real)


@pytest.mark.parametrize("error", [Killed(), OSError("table 503")])
def test_a_run_that_fails_while_claiming_loses_none_of_the_rest(error: BaseException) -> None:
    world = json_world(max_items=25)
    world.run()
    for i in range(5):
        world.reject(f"bad{i}.jpg", etag=f'"0x{i}"')
    restore = failing_claims(world, 1, error)
    with pytest.raises(type(error)):
        world.run()
    restore()
    for _ in range(30):
        world.run()
    assert sorted(told(world)) == [f"bad{i}.jpg" for i in range(5)]
    assert set(world.book.states()) == {NoticeState.SENT}


def test_a_run_killed_while_claiming_an_hour_of_rejects_loses_none_of_them() -> None:
    world = json_world(max_items=25)
    world.run()
    for i in range(360):  # an hour of rejects, one every 10 s
        world.tick(10)
        world.reject(f"bad{i:03}.jpg", etag=f'"0x{i}"')
    restore = failing_claims(world, 100, Killed())
    world.clock.current -= timedelta(seconds=60)  # the next run starts at the hour's end
    with pytest.raises(Killed):
        world.run()
    restore()
    for _ in range(30):
        world.run()
    assert len(world.book.records) == 360
    assert set(world.book.states()) == {NoticeState.SENT}
    told_count = sum(len(d["drops"]) + d["more"] for d in world.webhook.documents)
    assert told_count == 360  # each once: one notice per drop version


def test_a_run_that_dies_while_sending_is_told_by_a_later_run_and_health_shows_it() -> None:
    world = json_world()
    world.run()
    world.reject("bad0.jpg")

    def crash(document: dict[str, Any]) -> Any:
        raise Killed

    world.webhook.send = crash  # type: ignore[method-assign]
    with pytest.raises(Killed):
        world.run()
    del world.webhook.send
    assert world.book.states() == [NoticeState.PENDING]
    assert notice_health(world.book, world.settings, world.clock.now()) == "ok"  # still posting?
    world.tick(STALE_PENDING.total_seconds() + 1)
    assert notice_health(world.book, world.settings, world.clock.now()) == "not_sent"
    resent = world.run()
    assert (resent.resent, resent.sent) == (1, True)
    assert told(world) == ["bad0.jpg"] and world.book.states() == [NoticeState.SENT]
    assert notice_health(world.book, world.settings, world.clock.now()) == "ok"
    for _ in range(20):
        world.run()
    assert told(world) == ["bad0.jpg"]  # once


def test_a_claim_is_not_sent_again_before_its_run_could_still_be_sending() -> None:
    world = json_world()
    world.run()
    notice = notice_for(world.reject("bad0.jpg"))
    assert notice is not None
    world.book.claim(notice, world.clock.now())  # another run's claim, being posted
    world.run()
    assert told(world) == []  # that run may still be posting it


def test_a_run_that_starts_while_another_is_claiming_stands_down() -> None:
    world = json_world()
    world.run()
    world.reject("a.jpg", etag='"0x1"')
    world.reject("b.jpg", etag='"0x2"')
    world.tick()
    results: list[NoticeRun] = []
    real = world.book.claim

    def claim(notice: Notice, noticed: Any) -> bool:
        if not results:
            results.append(run_notices(world.deps(), world.settings))
        return real(notice, noticed)

    world.book.claim = claim  # type: ignore[method-assign]
    first = run_notices(world.deps(), world.settings)
    assert results[0].skipped == "another run is under way"
    assert first.new == 2 and len(world.webhook.documents) == 1


def test_a_run_lease_left_by_a_killed_run_expires() -> None:
    world = json_world()
    world.run()
    world.reject("a.jpg")
    restore = failing_claims(world, 0, Killed())
    with pytest.raises(Killed):
        world.run()
    restore()
    assert world.run().skipped == "another run is under way"
    world.tick(STALE_PENDING.total_seconds())
    assert world.run().sent and told(world) == ["a.jpg"]


def test_a_digest_lost_to_a_storage_blip_is_sent_the_same_day_by_the_minute_timer() -> None:
    world = json_world()
    world.reject("jane@contoso.com.jpg", ago=60)
    real = world.log.between
    calls = [0]

    def flaky(since: Any, until: Any) -> Any:
        calls[0] += 1
        if calls[0] == 1:
            raise OSError("table 503")
        return real(since, until)

    world.log.between = flaky  # type: ignore[method-assign]
    with pytest.raises(OSError, match="table 503"):
        run_digest(world.deps(), world.settings)
    assert notice_health(world.book, world.settings, world.clock.now()) == "not_sent"
    world.tick()
    assert retry_digest(world.deps(), world.settings) is None  # not again at once
    world.tick(STALE_PENDING.total_seconds())
    retried = retry_digest(world.deps(), world.settings)
    assert retried is not None and retried.sent
    assert [d["type"] for d in world.webhook.documents] == ["digest"]
    world.tick(STALE_PENDING.total_seconds())
    assert retry_digest(world.deps(), world.settings) is None  # sent: done for the day


def test_a_digest_the_webhook_refused_is_tried_again_later_that_day_only() -> None:
    world = json_world()
    world.reject("jane@contoso.com.jpg", ago=60)
    world.webhook.answers = [Delivery(False, "http 500")] * 2
    assert not run_digest(world.deps(), world.settings).sent
    world.tick(STALE_PENDING.total_seconds())
    assert retry_digest(world.deps(), world.settings) is not None  # refused again
    world.tick(STALE_PENDING.total_seconds())
    again = retry_digest(world.deps(), world.settings)
    assert again is not None and again.sent
    assert run_digest(world.deps(), world.settings).skipped is not None
    assert retry_digest(world.deps(), world.settings) is None


def test_no_digest_run_today_is_no_digest_to_retry() -> None:
    world = json_world()
    world.reject("jane@contoso.com.jpg", ago=60)
    assert retry_digest(world.deps(), world.settings) is None
    assert world.webhook.documents == []
