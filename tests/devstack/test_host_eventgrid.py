"""Event Grid triggers: the webhook (handshake, keys, invocation, 202/500) and the watcher's
``BlobDeleted`` events (exactly once, retried, dead-lettered, delivered after a restart)."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from typing import Any

import pytest
import requests
from azure.storage.blob import ContentSettings

from devstack.host import RunningHost
from devstack.host.event_outbox import deliveries_on_disk
from devstack.host.eventgrid import blob_deleted_event, validation_event
from tests.devstack.conftest import AppFiles, start_sample_host
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

EVENT_TYPE = "azure.functions._eventgrid.EventGridEvent"


def notify(host: RunningHost, function: str, events: list[dict[str, Any]],
           kind: str | None = "Notification") -> requests.Response:
    headers = {"aeg-event-type": kind} if kind else {}
    return requests.post(host.eventgrid_webhook_url(function), json=events, headers=headers,
                         timeout=30)


def deleted(files: AppFiles, name: str, container: str | None = None) -> dict[str, Any]:
    container = container or files.drop_container
    return blob_deleted_event(
        account="devstoreaccount1", container=container, blob_name=name,
        url=f"http://127.0.0.1:10000/devstoreaccount1/{container}/{name}",
        content_type="image/jpeg", blob_type="BlockBlob")


def watching(files: AppFiles, *, retry_delay: float = 0.05, attempts: int = 10,
             host_id: str | None = None) -> RunningHost:
    return start_sample_host(files, watch=True, watch_interval=0.1, retry_delay=retry_delay,
                             eventgrid_max_attempts=attempts, host_id=host_id)


def listed(files: AppFiles, name: str) -> bool:
    """Whether the watcher's remembered listing of the drop container holds ``name``."""
    try:
        state = json.loads((files.state_dir / "watcher.json").read_text())
    except (OSError, ValueError):
        return False
    listing = state.get("listed", {}).get(f"PhotoStorage/{files.drop_container}", {})
    return name in listing.get("blobs", {})


def dropped_and_seen(host: RunningHost, files: AppFiles, name: str,
                     content_type: str = "image/jpeg") -> None:
    """Upload a drop and wait until the watcher has delivered it and remembered it."""
    files.drops().upload_blob(name, b"photo", content_settings=ContentSettings(content_type))
    wait_for(lambda: listed(files, name))
    wait_for(lambda: host.blob_backlog() == 0 and (files.records("drop", name)
                                                  or files.records("attempt", name)))


def settled(host: RunningHost, polls: int = 5) -> None:
    """Every Event Grid delivery raised so far has ended, and a few more polls found nothing."""
    wait_for(lambda: host.eventgrid_backlog() == 0)
    time.sleep(0.1 * polls)
    wait_for(lambda: host.eventgrid_backlog() == 0)


# --- the webhook ---------------------------------------------------------------------------------


def test_validation_handshake_by_event_and_by_header(host: RunningHost) -> None:
    for kind in ("SubscriptionValidation", None, "Notification"):
        answer = notify(host, "OnEvent", [validation_event("code-42")], kind=kind)
        assert answer.status_code == 200, kind
        assert answer.json() == {"validationResponse": "code-42"}
    assert notify(host, "OnEvent", [deleted_event_stub()], kind="SubscriptionValidation"
                  ).status_code == 400


def deleted_event_stub() -> dict[str, Any]:
    return blob_deleted_event(account="a", container="c", blob_name="n.jpg", url="http://x/c/n",
                              content_type=None, blob_type="BlockBlob")


def test_the_webhook_needs_the_eventgrid_extension_key(host: RunningHost) -> None:
    url = f"{host.base_url}/runtime/webhooks/eventgrid"
    event = [validation_event("x")]
    name = {"functionName": "OnEvent"}
    assert requests.post(url, params=name, json=event, timeout=10).status_code == 401
    for wrong in (host.keys.blobs_extension_key, host.keys.function_keys["OnEvent"], "nope"):
        assert requests.post(url, params={**name, "code": wrong}, json=event,
                             timeout=10).status_code == 401
    assert requests.post(url, params=name, json=event, timeout=10,
                         headers={"x-functions-key": host.keys.eventgrid_extension_key}
                         ).status_code == 200
    assert requests.post(url, params={**name, "code": host.keys.master_key}, json=event,
                         timeout=10).status_code == 200
    key = host.keys.eventgrid_extension_key
    for other in ("Nope", "OnDrop", "ping", "Host.Functions.OnEvent"):
        assert requests.post(url, params={"functionName": other, "code": key}, json=event,
                             timeout=10).status_code == 404, other
    assert requests.get(host.eventgrid_webhook_url("OnEvent"), timeout=10).status_code == 405
    bad = requests.post(host.eventgrid_webhook_url("OnEvent"), data=b"{not json", timeout=10)
    assert bad.status_code == 400
    unsubscribe = requests.post(host.eventgrid_webhook_url("OnEvent"), timeout=10,
                                headers={"aeg-event-type": "Unsubscribe"})
    assert unsubscribe.status_code == 202
    assert notify(host, "OnEvent", [], kind="Other").status_code == 400
    with pytest.raises(KeyError):
        host.eventgrid_webhook_url("OnDrop")


def test_a_blob_deleted_event_invokes_the_function_with_its_fields(
        host: RunningHost, app_files: AppFiles) -> None:
    name = f"{uuid.uuid4().hex}@contoso.com.jpg"
    event = deleted(app_files, name)

    answer = notify(host, "OnEvent", [event])

    assert answer.status_code == 202
    [seen] = app_files.records("event", name)  # invoked before the answer
    assert seen == {
        "type": EVENT_TYPE,
        "id": event["id"],
        "topic": event["topic"],
        "subject": f"/blobServices/default/containers/{app_files.drop_container}/blobs/{name}",
        "event_type": "Microsoft.Storage.BlobDeleted",
        "data_version": "",
        "event_time": dt.datetime.fromisoformat(event["eventTime"]).isoformat(),
        "data": event["data"],
    }
    assert seen["data"]["api"] == "DeleteBlob"
    assert app_files.records("event-too", name) == []  # a delivery is for one function
    assert notify(host, "on_event_too", [event]).status_code == 202
    assert len(app_files.records("event-too", name)) == 1


def test_every_event_of_a_delivery_runs_and_one_failure_is_a_500(
        host: RunningHost, app_files: AppFiles) -> None:
    good, bad = f"{uuid.uuid4().hex}.jpg", f"fail/{uuid.uuid4().hex}.jpg"

    answer = notify(host, "OnEvent", [deleted(app_files, bad), deleted(app_files, good)])

    assert answer.status_code == 500
    assert "RuntimeError" not in answer.text and "sample event failure" not in answer.text
    assert len(app_files.records("event-attempt", bad)) == 1
    assert len(app_files.records("event", good)) == 1  # ran anyway, as the extension does


def test_the_admin_route_runs_an_event_grid_function(host: RunningHost,
                                                      app_files: AppFiles) -> None:
    name = f"{uuid.uuid4().hex}.jpg"
    url = f"{host.base_url}/admin/functions/OnEvent"
    event = deleted(app_files, name)
    assert requests.post(url, json={"input": event}, timeout=10).status_code == 401
    master = {"code": host.keys.master_key}
    assert requests.post(url, json={"input": json.dumps(event)}, params=master,
                         timeout=10).status_code == 202
    assert len(app_files.records("event", name)) == 1
    assert requests.post(url, json={"input": 3}, params=master, timeout=10).status_code == 400


# --- the watcher ---------------------------------------------------------------------------------


def test_a_deletion_in_azurite_becomes_exactly_one_delivery_per_function(
        app_files: AppFiles) -> None:
    name = f"hr/{uuid.uuid4().hex}@contoso.com.jpg"
    kept = f"{uuid.uuid4().hex}.jpg"
    with watching(app_files) as host:
        dropped_and_seen(host, app_files, name, content_type="image/jpeg")
        dropped_and_seen(host, app_files, kept)
        app_files.drops().delete_blob(name)

        [seen] = wait_for(lambda: app_files.records("event", name))
        wait_for(lambda: app_files.records("event-too", name))
        settled(host)
    assert len(app_files.records("event", name)) == 1
    assert len(app_files.records("event-too", name)) == 1
    assert app_files.records("event-attempt", kept) == []  # still there: no event
    assert seen["type"] == EVENT_TYPE
    assert seen["event_type"] == "Microsoft.Storage.BlobDeleted"
    assert seen["subject"] == (
        f"/blobServices/default/containers/{app_files.drop_container}/blobs/{name}")
    assert seen["topic"].endswith("/providers/Microsoft.Storage/storageAccounts/devstoreaccount1")
    data = seen["data"]
    assert data["api"] == "DeleteBlob"
    assert data["url"].endswith(f"/devstoreaccount1/{app_files.drop_container}/hr/"
                                f"{name.removeprefix('hr/').replace('@', '%40')}")
    assert data["blobType"] == "BlockBlob"
    assert data["contentType"] == "image/jpeg"
    assert len(data["sequencer"]) == 32
    assert "eTag" not in data and "contentLength" not in data


def test_the_watcher_retries_a_failed_delivery_then_dead_letters(app_files: AppFiles) -> None:
    flaky, failing = f"flaky/{uuid.uuid4().hex}.jpg", f"fail/{uuid.uuid4().hex}.jpg"
    with watching(app_files, attempts=4) as host:
        dropped_and_seen(host, app_files, flaky)
        dropped_and_seen(host, app_files, failing)
        app_files.drops().delete_blob(flaky)
        app_files.drops().delete_blob(failing)

        wait_for(lambda: app_files.records("event", flaky))
        wait_for(lambda: len(app_files.records("event-attempt", failing)) == 4)
        settled(host)
    assert len(app_files.records("event-attempt", flaky)) == 3  # failed twice, then delivered
    assert len(app_files.records("event", flaky)) == 1
    assert len(app_files.records("event-attempt", failing)) == 4  # eventgrid_max_attempts
    assert len(app_files.records("event-too", failing)) == 1  # its own subscription succeeded
    ids = {r["id"] for r in app_files.records("event-attempt", flaky)}
    assert len(ids) == 1  # a retry is the same event
    lines = (app_files.state_dir / "eventgrid-deadletter.jsonl").read_text().splitlines()
    [dead] = [json.loads(line) for line in lines]
    assert dead["subject"].endswith(f"/blobs/{failing}")
    assert dead["function"] == "OnEvent"
    assert dead["deadLetterReason"] == "MaxDeliveryAttemptsExceeded"
    assert dead["deliveryAttempts"] == 4
    assert dead["lastHttpStatusCode"] == 500
    pending, dead_subjects = deliveries_on_disk(app_files.state_dir / "watcher.json")
    assert pending == [] and dead_subjects == [dead["subject"]]


def test_a_deletion_while_the_host_was_down_is_delivered_after_restart(
        app_files: AppFiles) -> None:
    name = f"{uuid.uuid4().hex}.jpg"
    with watching(app_files) as host:
        dropped_and_seen(host, app_files, name)

    app_files.drops().delete_blob(name)
    assert app_files.records("event-attempt", name) == []

    with watching(app_files) as host:
        wait_for(lambda: app_files.records("event", name))
        wait_for(lambda: app_files.records("event-too", name))
        settled(host)
    with watching(app_files) as host:  # once delivered, never again
        marker = f"{uuid.uuid4().hex}.jpg"
        app_files.drops().upload_blob(marker, b"polled since the restart")
        wait_for(lambda: listed(app_files, marker))
        settled(host)
    assert len(app_files.records("event", name)) == 1
    assert len(app_files.records("event-too", name)) == 1


def test_a_pending_retry_survives_a_restart(app_files: AppFiles) -> None:
    name = f"flaky/{uuid.uuid4().hex}.jpg"
    with watching(app_files, retry_delay=1.0) as host:  # the first retry waits a second
        dropped_and_seen(host, app_files, name)
        app_files.drops().delete_blob(name)
        wait_for(lambda: app_files.records("event-attempt", name))
        wait_for(lambda: app_files.records("event-too", name))
    state = json.loads((app_files.state_dir / "watcher.json").read_text())
    [pending] = state["outbox"]
    assert pending["function"] == "OnEvent" and pending["attempts"] == 1
    assert deliveries_on_disk(app_files.state_dir / "watcher.json") == (
        [pending["event"]["subject"]], [])

    with watching(app_files) as host:
        wait_for(lambda: app_files.records("event", name))
        settled(host)
    assert deliveries_on_disk(app_files.state_dir / "watcher.json") == ([], [])
    assert len(app_files.records("event-attempt", name)) == 3
    assert len(app_files.records("event", name)) == 1
    assert len(app_files.records("event-too", name)) == 1


def test_a_deleted_or_recreated_container_raises_no_deletions(app_files: AppFiles) -> None:
    """Storage raises no BlobDeleted for the blobs of a deleted container; a wiped Azurite (as
    `make run` starts afresh, the host's state folder kept) is not a mass deletion either."""
    first, second = f"{uuid.uuid4().hex}.jpg", f"{uuid.uuid4().hex}.jpg"
    app_files.drops().upload_blob(first, b"before the first start")
    with watching(app_files) as host:
        wait_for(lambda: listed(app_files, first))
        app_files.drops().delete_container()
        wait_for(lambda: not listed(app_files, first))
        app_files.drops().create_container()
        app_files.drops().upload_blob(second, b"in the new container")
        wait_for(lambda: listed(app_files, second))
        settled(host)

    app_files.drops().delete_container()  # while the host is down: gone and back, emptied
    app_files.drops().create_container()
    marker = f"{uuid.uuid4().hex}.jpg"
    app_files.drops().upload_blob(marker, b"a blob of the new container")
    with watching(app_files) as host:
        wait_for(lambda: listed(app_files, marker))
        settled(host)
    assert not listed(app_files, second)
    for name in (first, second):
        assert app_files.records("event-attempt", name) == []
        assert app_files.records("event-too", name) == []
