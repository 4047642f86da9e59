"""Blob triggers through the Event Grid webhook: handshake, invocation, receipts, poison."""

from __future__ import annotations

import json
import uuid
from typing import Any, cast

import pytest
import requests
from azure.storage.queue import QueueClient, TextBase64EncodePolicy

from devstack.host import RunningHost
from devstack.host.eventgrid import validation_event
from tests.devstack.conftest import AppFiles, start_sample_host, upload
from tests.waiting import wait_for

pytestmark = pytest.mark.integration


def deliver(host: RunningHost, function: str, events: list[dict[str, Any]]) -> requests.Response:
    return requests.post(host.webhook_url(function), json=events, timeout=10,
                         headers={"aeg-event-type": "Notification"})


def settle(host: RunningHost) -> None:
    """Wait until every delivery so far has ended (done, skipped or poisoned)."""
    wait_for(lambda: host.blob_backlog() == 0)


def test_validation_handshake_echoes_the_code(host: RunningHost) -> None:
    answer = requests.post(host.webhook_url("OnDrop"), json=[validation_event("code-123")],
                           headers={"aeg-event-type": "SubscriptionValidation"}, timeout=10)
    assert answer.status_code == 200
    assert answer.json() == {"validationResponse": "code-123"}


def test_webhook_needs_the_blobs_extension_key_and_a_known_function(host: RunningHost) -> None:
    url = f"{host.base_url}/runtime/webhooks/blobs"
    event = [validation_event("x")]
    name = {"functionName": "Host.Functions.OnDrop"}
    assert requests.post(url, params=name, json=event, timeout=10).status_code == 401
    function_key = host.keys.function_keys["OnDrop"]
    assert requests.post(url, params={**name, "code": function_key}, json=event,
                         timeout=10).status_code == 401
    unknown = {"functionName": "Host.Functions.Nope", "code": host.keys.blobs_extension_key}
    assert requests.post(url, params=unknown, json=event, timeout=10).status_code == 404
    not_blob = {"functionName": "Host.Functions.ping", "code": host.keys.blobs_extension_key}
    assert requests.post(url, params=not_blob, json=event, timeout=10).status_code == 404
    bad = requests.post(host.webhook_url("OnDrop"), data=b"{not json", timeout=10)
    assert bad.status_code == 400


def test_blob_created_invokes_the_function_with_a_real_blob_client(
        host: RunningHost, app_files: AppFiles) -> None:
    name = f"{uuid.uuid4().hex}@contoso.com.jpg"
    event = upload(app_files, name, b"\xff\xd8 jpeg", tags={"source": "hr"})

    answer = deliver(host, "OnDrop", [event])

    assert answer.status_code == 202
    [seen] = wait_for(lambda: app_files.records("drop", name))
    assert seen["type"] == "azure.storage.blob._blob_client.BlobClient"
    assert seen["container"] == app_files.drop_container
    assert seen["size"] == 7
    assert seen["tags"] == {"source": "hr"}
    assert seen["etag"] == event["data"]["eTag"]
    tags = app_files.drops().get_blob_client(name).get_blob_tags()
    assert tags == {"source": "hr", "processed": "true"}  # the client could write, too


def test_names_with_folders_and_other_containers(host: RunningHost, app_files: AppFiles) -> None:
    name = f"hr/2026/{uuid.uuid4().hex}.jpg"
    elsewhere = upload(app_files, f"{uuid.uuid4().hex}.jpg", container="not-watched")
    assert deliver(host, "OnDrop", [upload(app_files, name), elsewhere]).status_code == 202
    wait_for(lambda: app_files.records("drop", name))
    settle(host)
    assert app_files.records("drop", elsewhere["subject"].rsplit("/", 1)[1]) == []


def test_input_stream_argument(host: RunningHost, app_files: AppFiles) -> None:
    name = f"{uuid.uuid4().hex}.txt"
    event = upload(app_files, f"in/{name}", b"streamed text", container="sample-streams")
    assert deliver(host, "on_stream", [event]).status_code == 202
    [seen] = wait_for(lambda: app_files.records("stream", f"sample-streams/in/{name}"))
    assert seen["data"] == "streamed text"
    assert seen["length"] == len(b"streamed text")
    assert seen["uri"].endswith(f"/sample-streams/in/{name}")


def test_duplicate_deliveries_of_one_version_run_once(host: RunningHost,
                                                       app_files: AppFiles) -> None:
    name = f"{uuid.uuid4().hex}.jpg"
    event = upload(app_files, name)

    for _ in range(3):  # Event Grid may deliver one upload more than once, even in one batch
        assert deliver(host, "OnDrop", [event, dict(event, id=str(uuid.uuid4()))]
                       ).status_code == 202
    wait_for(lambda: app_files.records("drop", name))
    settle(host)
    assert deliver(host, "OnDrop", [event]).status_code == 202  # after completion: receipt
    settle(host)

    assert len(app_files.records("drop", name)) == 1
    receipts = app_files.blobs().get_container_client("azure-webjobs-hosts")
    expected = (f"blobreceipts/{host.host_id}/Host.Functions.OnDrop/{event['data']['eTag']}/"
                f"{app_files.drop_container}/{name}")
    assert receipts.get_blob_client(expected).exists()


def test_a_new_version_of_the_same_blob_runs_again(host: RunningHost,
                                                    app_files: AppFiles) -> None:
    name = f"{uuid.uuid4().hex}.jpg"
    deliver(host, "OnDrop", [upload(app_files, name, b"first")])
    wait_for(lambda: app_files.records("drop", name))
    deliver(host, "OnDrop", [upload(app_files, name, b"second version")])
    records = cast(list[dict[str, Any]],  # a truthy result is the list, never False
                   wait_for(lambda: len(app_files.records("drop", name)) == 2
                            and app_files.records("drop", name)))
    assert sorted(r["size"] for r in records) == [5, 14]


def test_failures_are_retried_then_poisoned(host: RunningHost, app_files: AppFiles) -> None:
    name = f"fail/{uuid.uuid4().hex}.jpg"
    event = upload(app_files, name)

    assert deliver(host, "OnDrop", [event]).status_code == 202

    [poisoned] = wait_for(lambda: [m for m in app_files.poison_messages()
                                   if m["BlobName"] == name])
    assert poisoned == {
        "Type": "BlobTrigger",
        "FunctionId": "Host.Functions.OnDrop",
        "BlobType": "BlockBlob",
        "ContainerName": app_files.drop_container,
        "BlobName": name,
        "ETag": event["data"]["eTag"],
    }
    settle(host)
    assert len(app_files.records("attempt", name)) == 3  # poisonBlobThreshold in host.json


def test_admin_route_queues_a_blob_trigger(host: RunningHost, app_files: AppFiles) -> None:
    name = f"{uuid.uuid4().hex}.jpg"
    upload(app_files, name)
    answer = requests.post(f"{host.base_url}/admin/functions/OnDrop",
                           json={"input": f"{app_files.drop_container}/{name}"},
                           headers={"x-functions-key": host.keys.master_key}, timeout=10)
    assert answer.status_code == 202
    wait_for(lambda: app_files.records("drop", name))


def test_work_queued_before_start_is_processed_and_garbage_is_poisoned(
        app_files: AppFiles) -> None:
    host_id = f"queued-{uuid.uuid4().hex[:8]}"
    queue_name = f"azure-webjobs-blobtrigger-{host_id}"
    encoded = QueueClient.from_connection_string(
        app_files.connection_string, queue_name, message_encode_policy=TextBase64EncodePolicy())
    encoded.create_queue()
    name = f"{uuid.uuid4().hex}.jpg"
    event = upload(app_files, name)
    encoded.send_message(json.dumps({
        "Type": "BlobTrigger", "FunctionId": "Host.Functions.OnDrop", "BlobType": "BlockBlob",
        "ContainerName": app_files.drop_container, "BlobName": name,
        "ETag": event["data"]["eTag"]}))
    garbage = f"not a message {uuid.uuid4().hex}!"
    QueueClient.from_connection_string(app_files.connection_string, queue_name).send_message(
        garbage)

    with start_sample_host(app_files, watch=False, host_id=host_id):
        wait_for(lambda: app_files.records("drop", name))
        wait_for(lambda: {"raw": garbage} in app_files.poison_messages())
