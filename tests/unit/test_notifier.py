"""The notifier's policy with in-memory fakes: what becomes a notice, once per drop version,
coalesced, with a cursor two runs cannot both move, and failures that are recorded, not lost."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from photo_core.domain.notices import NoticeKind
from photo_core.domain.outcomes import Outcome, Status
from photo_core.use_cases.notifier import (
    LATE_MARGIN,
    NotifyDeps,
    notice_health,
    run_digest,
    run_notices,
)
from photo_core.use_cases.notify_ports import Delivery, NoticeState
from photo_core.use_cases.notify_settings import NotifySettings
from tests.unit.fakes import FakeClock, FakeOutcomeLog
from tests.unit.notify_fakes import (
    FakeBlob,
    FakeDropSource,
    FakeNoticeBook,
    FakePoison,
    FakeWebhook,
)

URL = "https://example.invalid/workflows/1/invoke?sig=secret"


class World:
    """A clock, an outcome log and the notifier's fakes, wired as the app wires them."""

    def __init__(self, **settings: Any) -> None:
        self.clock = FakeClock()
        self.log = FakeOutcomeLog()
        self.book = FakeNoticeBook()
        self.webhook = FakeWebhook()
        self.drops = FakeDropSource()
        self.poison = FakePoison()
        self.settings = NotifySettings(webhook_url=URL, **settings)

    def deps(self) -> NotifyDeps:
        return NotifyDeps(log=self.log, book=self.book, webhook=self.webhook,
                          now=self.clock.now, drops=self.drops, poison=self.poison,
                          state=self.drops.state)

    def reject(self, blob: str, etag: str = '"0x1"', reason: str = "not_jpeg",
               user: str | None = "jane@contoso.com", ago: float = 0.0) -> Outcome:
        outcome = Outcome(Status.REJECTED, blob, f"{reason}: fix it like this", reason=reason,
                          at=self.clock.now() - timedelta(seconds=ago), user=user,
                          blob_etag=etag)
        self.log.append(outcome)
        return outcome

    def outcome(self, status: Status, blob: str, user: str, reason: str | None = None) -> None:
        self.log.append(Outcome(status, blob, "done", at=self.clock.now(), reason=reason,
                                user=user, blob_etag='"0x9"'))

    def tick(self, seconds: float = 60.0) -> None:
        self.clock.current += timedelta(seconds=seconds)

    def run(self) -> Any:
        self.tick()
        return run_notices(self.deps(), self.settings)

    def listed(self, document: int = -1) -> list[str]:
        return [d["file"] for d in self.webhook.documents[document]["drops"]]


def json_world(**settings: Any) -> World:
    from photo_core.domain.notices import NoticeFormat

    return World(format=NoticeFormat.JSON, **settings)


def test_a_reject_is_told_with_its_file_user_reason_message_and_when_it_was_dropped() -> None:
    world = json_world()
    world.reject("jane@contoso.com.jpg")
    run = world.run()
    assert (run.new, run.sent) == (1, True)
    [drop] = world.webhook.documents[0]["drops"]
    assert drop["file"] == "jane@contoso.com.jpg"
    assert drop["user"] == "jane@contoso.com"
    assert drop["reason"] == "not_jpeg"
    assert drop["message"] == "not_jpeg: fix it like this"
    assert drop["droppedAt"].startswith("2026-11-28T09:00")


def test_uploads_and_other_outcomes_make_no_notice() -> None:
    world = json_world()
    world.outcome(Status.UPLOADED, "a@contoso.com.jpg", "a@contoso.com")
    world.outcome(Status.UNCHANGED, "b@contoso.com.jpg", "b@contoso.com", "same_content")
    run = world.run()
    assert run.new == 0 and world.webhook.documents == []


def test_redeliveries_of_one_drop_version_make_one_notice_across_runs() -> None:
    world = json_world()
    world.reject("jane@contoso.com.jpg")
    world.reject("jane@contoso.com.jpg")  # a duplicate event, in the same run's window
    world.run()
    world.reject("jane@contoso.com.jpg")  # a redelivery recorded after that run
    world.run()
    world.run()
    assert len(world.webhook.documents) == 1
    assert world.listed(0) == ["jane@contoso.com.jpg"]


def test_a_new_upload_under_the_same_name_is_a_new_drop_version_and_a_new_notice() -> None:
    world = json_world()
    world.reject("jane@contoso.com.jpg", etag='"0x1"')
    world.run()
    world.reject("jane@contoso.com.jpg", etag='"0x2"')
    world.run()
    assert len(world.webhook.documents) == 2


def test_a_bad_batch_of_200_files_is_one_message_listing_n_and_counting_the_rest() -> None:
    world = json_world(max_items=10)
    for n in range(200):
        world.reject(f"user{n:03}@contoso.com.jpg", ago=200 - n)
    run = world.run()
    assert run.new == 200 and len(world.webhook.documents) == 1
    document = world.webhook.documents[0]
    assert world.listed() == [f"user{n:03}@contoso.com.jpg" for n in range(10)]
    assert document["more"] == 190
    assert document["title"] == "200 photo drops need attention"
    assert document["report"]["command"].startswith("python -m photo_core report --since ")
    assert world.run().new == 0  # all 200 are told: none comes back next minute


def test_two_runs_at_once_send_the_batch_once() -> None:
    world = json_world()
    world.reject("jane@contoso.com.jpg")
    world.tick()
    other = NotifyDeps(log=world.log, book=world.book, webhook=world.webhook,
                       now=world.clock.now)
    results = []
    # Run A has read the cursor and the log; run B does all its work before A writes.
    world.book.before_move = lambda: results.append(run_notices(other, world.settings))
    first = run_notices(world.deps(), world.settings)
    assert results[0].sent and results[0].new == 1
    assert first.skipped == "another run moved the cursor first" and first.new == 0
    assert len(world.webhook.documents) == 1


def test_an_outcome_appended_after_the_cursor_passed_its_time_is_still_told() -> None:
    world = json_world()
    world.run()  # the cursor is now here
    late = world.reject("late@contoso.com.jpg", ago=LATE_MARGIN.total_seconds() / 2)
    assert late.at < world.book.cursor()[0].position  # type: ignore[operator]
    run = world.run()
    assert run.new == 1 and world.listed() == ["late@contoso.com.jpg"]


def test_a_first_run_tells_of_the_last_hour_but_not_of_older_rejects() -> None:
    world = json_world()
    world.reject("old@contoso.com.jpg", ago=2 * 3600)
    world.reject("recent@contoso.com.jpg", ago=30 * 60)
    world.run()
    assert world.listed() == ["recent@contoso.com.jpg"]


def test_without_a_webhook_nothing_is_read_or_sent() -> None:
    world = World()
    world.reject("jane@contoso.com.jpg")
    run = run_notices(world.deps(), NotifySettings())
    assert run.skipped == "no webhook is configured"
    assert world.book.cursor_row is None and world.book.claims == 0


def test_a_message_that_cannot_be_sent_is_recorded_and_the_next_one_mentions_it() -> None:
    world = json_world()
    world.webhook.answers = [Delivery(False, "http 500", attempts=3)]
    world.reject("jane@contoso.com.jpg")
    failed = world.run()
    assert (failed.sent, failed.problem) == (False, "http 500")
    assert world.book.states() == [NoticeState.NOT_SENT]
    assert notice_health(world.book, world.settings, world.clock.now()) == "not_sent"
    world.run()
    assert len(world.webhook.documents) == 1  # not sent again as a notice...
    world.reject("adele@contoso.com.jpg", user="adele@contoso.com")
    world.run()
    assert world.webhook.documents[-1]["earlierNotSent"] == 1  # ...but mentioned
    world.clock.current += timedelta(hours=1)
    digest = run_digest(world.deps(), world.settings).digest
    assert digest is not None
    assert [r.notice.blob for r in digest.not_sent] == ["jane@contoso.com.jpg"]  # and carried


def test_a_429_asking_for_longer_than_the_budget_holds_every_run_until_then() -> None:
    world = json_world()
    world.webhook.answers = [Delivery(False, "http 429", retry_after=300.0)]
    world.reject("jane@contoso.com.jpg")
    world.run()
    world.reject("adele@contoso.com.jpg", user="adele@contoso.com")
    held = world.run()
    assert held.skipped is not None and held.skipped.startswith("the webhook asked to wait")
    assert len(world.webhook.documents) == 1
    world.tick(300)
    resumed = world.run()
    assert resumed.sent and world.listed() == ["adele@contoso.com.jpg"]


def test_a_poison_message_is_told_once_while_its_drop_is_still_without_an_outcome() -> None:
    world = json_world(kinds=frozenset({NoticeKind.REJECTED, NoticeKind.POISON}))
    now = world.clock.now()
    world.drops.add(FakeBlob("stuck@contoso.com.jpg", '"0x5"', now))
    world.drops.add(FakeBlob("done@contoso.com.jpg", '"0x6"', now, Status.UPLOADED))
    world.drops.add(FakeBlob("newer@contoso.com.jpg", '"0x8"', now))
    world.poison.messages = [("stuck@contoso.com.jpg", "0x5"), ("done@contoso.com.jpg", "0x6"),
                             ("gone@contoso.com.jpg", "0x7"), ("newer@contoso.com.jpg", "0x7")]
    world.run()
    world.run()
    assert len(world.webhook.documents) == 1
    [drop] = world.webhook.documents[0]["drops"]
    assert (drop["file"], drop["kind"], drop["reason"]) == \
        ("stuck@contoso.com.jpg", "poison", "retries_exhausted")


def test_drops_a_day_old_without_an_outcome_are_told_and_the_container_listed_hourly() -> None:
    world = json_world(kinds=frozenset({NoticeKind.WAITING}))
    now = world.clock.now()
    world.drops.add(FakeBlob("stuck@contoso.com.jpg", '"0x5"', now - timedelta(days=2)))
    world.drops.add(FakeBlob("fresh@contoso.com.jpg", '"0x6"', now - timedelta(hours=1)))
    world.drops.add(FakeBlob("done@contoso.com.jpg", '"0x7"', now - timedelta(days=2),
                             Status.REJECTED))
    for _ in range(5):
        world.run()
    assert world.drops.listings == 1
    assert [world.listed(i) for i in range(len(world.webhook.documents))] == \
        [["stuck@contoso.com.jpg"]]


@pytest.mark.parametrize("kinds", [frozenset({NoticeKind.POISON}),
                                   frozenset({NoticeKind.WAITING})])
def test_rejects_are_not_told_when_only_other_kinds_are_chosen(
        kinds: frozenset[NoticeKind]) -> None:
    world = json_world(kinds=kinds)
    world.reject("jane@contoso.com.jpg")
    assert world.run().new == 0


def test_the_digest_goes_once_a_day_whichever_run_comes_first() -> None:
    world = json_world()
    world.reject("jane@contoso.com.jpg", ago=60)
    first = run_digest(world.deps(), world.settings)
    second = run_digest(world.deps(), world.settings)
    assert first.sent and second.skipped is not None
    world.clock.current += timedelta(days=1)
    assert run_digest(world.deps(), world.settings).sent
    assert len(world.webhook.documents) == 2


def test_a_digest_that_cannot_be_sent_shows_in_health_and_can_be_sent_again() -> None:
    world = json_world()
    world.reject("jane@contoso.com.jpg", ago=60)
    world.webhook.answers = [Delivery(False, "timed out")]
    assert not run_digest(world.deps(), world.settings).sent
    assert notice_health(world.book, world.settings, world.clock.now()) == "not_sent"
    assert run_digest(world.deps(), world.settings).sent
    world.clock.current += timedelta(days=1, minutes=1)
    assert notice_health(world.book, world.settings, world.clock.now()) == "ok"


def test_health_says_off_without_a_webhook() -> None:
    world = World()
    assert notice_health(world.book, NotifySettings(), world.clock.now()) == "off"


def test_a_day_with_no_drops_and_nothing_to_act_on_sends_no_digest() -> None:
    world = json_world()
    quiet = run_digest(world.deps(), world.settings)
    assert quiet.skipped == "nothing to report" and world.webhook.documents == []
    assert run_digest(world.deps(), world.settings).skipped is not None  # done for the day
    assert notice_health(world.book, world.settings, world.clock.now()) == "ok"


def test_a_429s_wait_is_capped_by_the_retry_policy_and_the_skip_names_the_full_time() -> None:
    world = json_world()
    world.webhook.answers = [Delivery(False, "http 429", retry_after=30 * 86400.0)]
    world.reject("jane@contoso.com.jpg")
    world.run()
    until = world.book.cursor()[0].not_before
    assert until == world.clock.now() + timedelta(seconds=world.settings.retry.retry_after_max)
    world.reject("adele@contoso.com.jpg", user="adele@contoso.com")
    held = world.run()
    assert held.skipped == f"the webhook asked to wait until {until:%Y-%m-%dT%H:%M:%SZ}"
    assert notice_health(world.book, world.settings, world.clock.now()) == "not_sent"
    world.tick(world.settings.retry.retry_after_max)
    resumed = world.run()
    assert resumed.sent and world.listed() == ["adele@contoso.com.jpg"]


def test_a_longer_wait_stored_by_an_earlier_version_is_capped_too() -> None:
    world = json_world()
    world.run()
    asked = world.clock.now() - timedelta(days=2)  # a month's wait asked for two days ago
    world.book.cursor_row = (replace(world.book.cursor()[0], not_before=asked + timedelta(days=30),
                                     last_not_sent=asked), "c0")
    world.reject("jane@contoso.com.jpg")
    resumed = world.run()
    assert resumed.sent and world.listed() == ["jane@contoso.com.jpg"]
    assert notice_health(world.book, world.settings, world.clock.now()) == "ok"


def test_a_dry_runs_would_reject_is_no_notice() -> None:
    """A dry run rehearses a whole export: its would-rejects go to the digest, not to HR."""
    world = json_world()
    world.run()
    world.log.append(Outcome(Status.WOULD_REJECT, "bad.jpg", "not_jpeg: export as JPEG",
                             reason="not_jpeg", at=world.clock.now(), user="jane@contoso.com",
                             blob_etag='"0x1"'))
    assert world.run().found == 0 and world.webhook.documents == []
