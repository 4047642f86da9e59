"""The webhook client against the local receiver over a real socket: it retries 500s and
timeouts within its small budget, honours 429's Retry-After, gives up cleanly on a hang, and
never lets the address into a log line or a failure."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import requests

from devstack.webhook_receiver import WebhookReceiver
from photo_core.adapters.webhook import HttpWebhook, redact_in_http_logs
from photo_core.domain.clock import Signal
from photo_core.domain.retry import RetryPolicy
from photo_core.use_cases.notify_settings import NOTICE_RETRY
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

CARD = {"type": "message", "attachments": [{
    "contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None,
    "content": {"type": "AdaptiveCard", "version": "1.4", "body": []}}]}


class SleeplessClock:
    """Real time, except that sleeping only moves this clock's monotonic time forward (and
    is recorded), so a test of a 2-second Retry-After does not wait two seconds."""

    def __init__(self) -> None:
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return time.monotonic() + sum(self.slept)

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)

    def wait(self, event: Signal, seconds: float) -> bool:
        if not event.is_set():
            self.sleep(seconds)
        return event.is_set()

    def now(self) -> datetime:
        return datetime.now(UTC)


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver(hang_seconds=10.0) as running:
        yield running


def client(url: str, clock: SleeplessClock, policy: RetryPolicy = NOTICE_RETRY,
           read_timeout: float = 5.0, connect_timeout: float = 2.0) -> HttpWebhook:
    session = requests.Session()
    session.trust_env = False
    return HttpWebhook(session, url, policy, (connect_timeout, read_timeout), clock,
                       lambda: 0.5)


def test_a_card_is_delivered_once_as_sent(receiver: WebhookReceiver) -> None:
    delivery = client(receiver.url, SleeplessClock()).send(CARD)
    assert (delivery.sent, delivery.attempts) == (True, 1)
    assert [m["body"] for m in receiver.messages()] == [CARD]


def test_500s_are_tried_again_within_the_budget(receiver: WebhookReceiver) -> None:
    receiver.fault("500", count=2)
    clock = SleeplessClock()
    delivery = client(receiver.url, clock).send(CARD)
    assert (delivery.sent, delivery.attempts, receiver.attempts) == (True, 3, 3)
    assert len(clock.slept) == 2 and len(receiver.messages()) == 1


def test_a_webhook_that_keeps_failing_ends_as_not_sent(receiver: WebhookReceiver) -> None:
    receiver.fault("500", count=10)
    delivery = client(receiver.url, SleeplessClock()).send(CARD)
    assert (delivery.sent, delivery.problem) == (False, "http 500")
    assert delivery.attempts == NOTICE_RETRY.max_attempts == receiver.attempts
    assert receiver.messages() == []


def test_a_429s_retry_after_is_waited_out_when_it_fits_the_budget(
        receiver: WebhookReceiver) -> None:
    receiver.fault("429", retry_after=2)
    clock = SleeplessClock()
    delivery = client(receiver.url, clock).send(CARD)
    assert delivery.sent and clock.slept == [2.0]


def test_a_429_asking_for_longer_than_the_budget_is_not_tried_again_now(
        receiver: WebhookReceiver) -> None:
    receiver.fault("429", retry_after=120)
    clock = SleeplessClock()
    delivery = client(receiver.url, clock).send(CARD)
    assert (delivery.sent, delivery.problem, delivery.retry_after) == (False, "http 429", 120.0)
    assert clock.slept == [] and receiver.attempts == 1


def test_a_webhook_that_hangs_times_out_and_is_not_waited_for_again_and_again(
        receiver: WebhookReceiver) -> None:
    receiver.fault("hang", count=10)
    delivery = client(receiver.url, SleeplessClock(), read_timeout=0.5).send(CARD)
    assert (delivery.sent, delivery.problem) == (False, "timed out")
    assert delivery.attempts == NOTICE_RETRY.max_attempts


def test_an_answer_trickled_byte_by_byte_is_cut_off_at_each_attempts_time_limit(
        receiver: WebhookReceiver) -> None:
    """A byte every 0.25 s never lets the 1 s read timeout expire; each attempt still ends at
    its connect plus read timeout, and the trickle (10 s of it) never finishes."""
    receiver.fault("trickle", count=10)
    delivery = client(receiver.url, SleeplessClock(), read_timeout=1.0,
                      connect_timeout=0.5).send(CARD)
    assert (delivery.sent, delivery.problem) == (False, "timed out")
    assert delivery.attempts == NOTICE_RETRY.max_attempts == receiver.attempts
    wait_for(lambda: receiver.trickles["cut"] == NOTICE_RETRY.max_attempts,
             what="the receiver to see each attempt hang up")
    assert receiver.trickles["finished"] == 0


def test_a_send_ends_within_its_budget_whatever_its_attempts_timeouts_allow(
        receiver: WebhookReceiver) -> None:
    receiver.fault("trickle", count=10)
    policy = RetryPolicy(max_attempts=3, budget_seconds=1.5, backoff_base=0.1, backoff_max=0.1)
    delivery = client(receiver.url, SleeplessClock(), policy, read_timeout=5.0).send(CARD)
    assert (delivery.sent, delivery.problem, delivery.attempts) == (False, "timed out", 1)
    wait_for(lambda: receiver.trickles["cut"] == 1, what="the receiver to see the hang-up")


def test_a_refusal_is_final(receiver: WebhookReceiver) -> None:
    wrong = receiver.url.replace("/invoke?", "/other?")
    delivery = client(wrong, SleeplessClock()).send(CARD)
    assert (delivery.sent, delivery.problem, delivery.attempts) == (False, "http 404", 1)


def test_the_receiver_refuses_what_teams_would(receiver: WebhookReceiver) -> None:
    webhook = client(receiver.url, SleeplessClock())
    not_a_card = {"type": "message", "attachments": [{"contentType": "text/plain"}]}
    assert webhook.send(not_a_card).problem == "http 400"
    too_big = {**CARD, "padding": "x" * (29 * 1024)}
    assert webhook.send(too_big).problem == "http 413"
    assert webhook.send({"schema": "photo-sync.notice/1"}).sent  # the json format


def test_no_log_line_and_no_failure_shows_the_address(
        receiver: WebhookReceiver, caplog: pytest.LogCaptureFixture) -> None:
    secret = receiver.url.rsplit("sig=", 1)[1]
    workflow = receiver.path.split("/")[2]
    redact_in_http_logs(receiver.url)
    with caplog.at_level(logging.DEBUG):
        client(receiver.url, SleeplessClock()).send(CARD)  # urllib3 logs the request line
        receiver.fault("500", count=10)
        failed = client(receiver.url, SleeplessClock()).send(CARD)
        receiver.stop()
        gone = client(receiver.url, SleeplessClock()).send(CARD)  # connection refused
    assert "POST [webhook address] HTTP/1.1" in caplog.text  # the line is there, blanked
    for text in (caplog.text, str(failed), str(gone)):
        assert secret not in text and workflow not in text
    assert gone.problem == "connection failed (ConnectionError)"
