"""HR's notices through the whole local stack: drops into Azurite, the functions host, the
emulator, and the local webhook receiver over a socket. A bad batch is one coalesced notice,
and a webhook that answers 500, 429 or nothing at all changes no drop's outcome: its notices
are recorded as not sent, show in health and the report, and are mentioned by the next notice
and listed by the digest."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from azure.storage.blob import ContainerClient

from devstack import notices
from devstack.stack import LocalStack, StackInfo
from devstack.webhook_receiver import WebhookReceiver
from photo_core.bootstrap import app_services
from photo_core.entrypoints.notify_handlers import handle_notices
from tests.photos import jpeg
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

NEVER = "0 0 0 1 1 *"  # the tests run the timers themselves, when they mean to


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    state = tmp_path_factory.mktemp("notify-stack")
    settings = {"PHOTO_NOTIFY_SCHEDULE": NEVER, "PHOTO_NOTIFY_DIGEST_SCHEDULE": NEVER,
                "PHOTO_NOTIFY_TIMEOUT_SECONDS": "1", "PHOTO_NOTIFY_MAX_ITEMS": "2"}
    with LocalStack(state, settings_file=state / "local.settings.json",
                    extra_settings=settings) as running:
        yield running


@pytest.fixture
def info(stack: LocalStack) -> StackInfo:
    assert stack.info is not None
    return stack.info


@pytest.fixture
def receiver(stack: LocalStack) -> WebhookReceiver:
    assert stack.receiver is not None
    handle_notices()  # whatever earlier tests left is told now, not in this test's messages
    stack.receiver.clear()
    return stack.receiver


def drop(info: StackInfo, name: str, data: bytes) -> None:
    ContainerClient.from_connection_string(info.connection_string, info.drop_container) \
        .upload_blob(name, data, overwrite=True)


def outcome(info: StackInfo, name: str) -> tuple[str, str]:
    """The drop's outcome, once it is in the outcome log the notifier reads too (the blob's
    tags are written first: a notifier run between the two would not see it yet)."""
    blob = ContainerClient.from_connection_string(
        info.connection_string, info.drop_container).get_blob_client(name)

    def tags() -> dict[str, str] | None:
        found = blob.get_blob_tags()
        return dict(found) if "photosync-status" in found else None

    def logged() -> bool:
        now = datetime.now(UTC)
        return any(o.blob_name == name
                   for o in app_services().log.between(now - timedelta(hours=1), now))

    found = wait_for(tags, timeout=60, interval=0.2, what=f"an outcome for {name}")
    wait_for(logged, timeout=60, interval=0.2, what=f"the outcome of {name} in the log")
    return found["photosync-status"], found.get("photosync-reason", "none")


def png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (100, 100), (0, 128, 0)).save(out, "PNG")
    return out.getvalue()


def api(stack: LocalStack, route: str, **params: str) -> Any:
    session = requests.Session()
    session.trust_env = False
    return session.get(stack.host.url(route), params=params, timeout=30).json()


def texts(found: list[dict[str, Any]], kind: str) -> list[list[str]]:
    return [notices.lines(m["body"]) for m in found if notices.kind(m["body"]) == kind]


def test_a_bad_batch_is_one_coalesced_notice_from_the_timer(
        stack: LocalStack, info: StackInfo, receiver: WebhookReceiver) -> None:
    bad = [f"batch{n}@contoso.com.jpg" for n in range(4)]
    for name in bad:
        drop(info, name, png())
    drop(info, "adele.vance@contoso.com.jpg", jpeg("#123456"))
    assert [outcome(info, name) for name in bad] == [("rejected", "not_jpeg")] * 4
    notices.run_timer(info, "notify")  # the timer function, through the host
    found = notices.wait_for(info, lambda m: bool(m))
    [notice] = texts(found, "notice")
    assert notice[0] == "4 photo drops need attention"
    assert sum(1 for name in bad if name in notice) == 2  # PHOTO_NOTIFY_MAX_ITEMS
    assert "…and 2 more: the full list is in the report." in notice
    assert handle_notices().new == 0  # told once, however often the timer runs
    assert len(receiver.messages()) == 1


@pytest.mark.parametrize(("mode", "problem"), [("500", "http 500"), ("429", "http 429"),
                                               ("hang", "timed out")])
def test_a_failing_webhook_changes_no_drop_outcome_and_its_notice_is_not_lost(
        stack: LocalStack, info: StackInfo, receiver: WebhookReceiver, mode: str,
        problem: str) -> None:
    first, later = f"fail-{mode}@contoso.com.jpg", f"after-{mode}@contoso.com.jpg"
    good = "megan.bowen@contoso.com.jpg"
    receiver.fault(mode, count=100, retry_after=1)
    drop(info, first, png())
    assert outcome(info, first) == ("rejected", "not_jpeg")
    run = handle_notices()
    drop(info, good, jpeg({"500": "#aa0000", "429": "#00aa00", "hang": "#0000aa"}[mode]))
    drop(info, later, b"not a photo")
    assert (run.new, run.sent, run.problem, run.skipped) == (1, False, problem, None)
    assert receiver.attempts >= 1 and receiver.messages() == []
    # The drops around the failure ended as they would have anyway.
    assert outcome(info, good) == ("uploaded", "none")
    assert outcome(info, later)[0] == "rejected"
    # The notice that did not go out is visible to the admins...
    health = api(stack, "health")  # informational: a webhook down is not the app down
    assert (health["status"], health["checks"]["notices"]) == ("ok", "not_sent")
    report = api(stack, "reports/outcomes", since="1h", code=info.function_keys["outcome_report"])
    assert {(n["blob"], n["problem"]) for n in report["noticesNotSent"]} >= {(first, problem)}
    # ...and once the webhook answers again, the next notice says so.
    receiver.clear()
    if mode == "429":  # it asked to be left alone for a second: the next run waits that out
        wait_for(lambda: handle_notices().skipped is None, timeout=30, interval=0.5,
                 what="the end of the webhook's Retry-After")
    else:
        assert handle_notices().sent
    [notice] = texts(receiver.messages(), "notice")
    assert later in notice
    assert any(line.endswith("earlier notice(s) could not be sent; they are in the daily "
                             "digest.") for line in notice)


def test_the_digest_on_demand_lists_the_notices_not_sent(
        stack: LocalStack, info: StackInfo, receiver: WebhookReceiver) -> None:
    from photo_core.entrypoints.cli import main

    receiver.fault("500", count=100)
    drop(info, "digest-me@contoso.com.jpg", png())
    outcome(info, "digest-me@contoso.com.jpg")
    assert not handle_notices().sent
    out, err = io.StringIO(), io.StringIO()
    assert main(["report", "--digest", "--format", "json"], stdout=out, stderr=err) == 0, \
        err.getvalue()
    digest = json.loads(out.getvalue())
    assert digest["schema"] == "photo-sync.digest/1"
    assert "digest-me@contoso.com.jpg" in {d["file"] for d in digest["noticesNotSent"]["drops"]}
    assert "digest-me@contoso.com.jpg" in {d["file"] for d in digest["unresolvedRejects"]["drops"]}
    assert digest["byStatus"]["rejected"] >= 1
    receiver.clear()
    notices.run_timer(info, "notify_digest")
    found = notices.wait_for(info, lambda m: bool(m))
    [sent] = texts(found, "digest")
    assert "digest-me@contoso.com.jpg" in sent
    assert "not sent: http 500" in sent


def test_the_keyboard_cli_lists_what_hr_was_told(
        stack: LocalStack, info: StackInfo, receiver: WebhookReceiver,
        capsys: pytest.CaptureFixture[str]) -> None:
    from devstack.__main__ import main

    drop(info, "cli\u202egpj.exe@contoso.com.jpg", png())  # a name that would fool a terminal
    outcome(info, "cli\u202egpj.exe@contoso.com.jpg")
    assert handle_notices().sent
    state = ["--state-dir", str(stack.state_dir)]
    assert main([*state, "notices"]) == 0
    shown = capsys.readouterr().out
    assert "1 photo drop needs attention" in shown
    assert "cli\\u202egpj.exe@contoso.com.jpg" in shown and "\u202e" not in shown
    assert main([*state, "notices", "--json"]) == 0
    [message] = json.loads(capsys.readouterr().out)
    assert message["body"]["type"] == "message"
