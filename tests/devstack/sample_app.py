"""A tiny function app (v2 model) that exercises the local host in tests.

Every trigger kind photo-sync uses is here. Blob and timer functions record what they saw as
JSON blobs in the ``sample-results`` container (``<kind>/<blob name>/<random>.json``) of the
``PhotoStorage`` account, so tests can assert on invocations from outside the host, even when
the host runs in another process. Blob names steer the blob function: ``fail/...`` always
raises (retries, poison), ``slow/...`` hangs on its first attempt (a host killed mid-run). The
two Event Grid functions record each event under the blob name of its subject; for ``OnEvent``,
``fail/...`` always raises and ``flaky/...`` raises on its first two attempts.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import time
import uuid
from typing import Any

import azure.functions as func
from azure.core.exceptions import ResourceExistsError
from azure.storage.blob import BlobServiceClient
from azurefunctions.extensions.bindings.blob import BlobClient

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
logger = logging.getLogger("sample_app")

RESULTS = "sample-results"
CONNECTION = "PhotoStorage"  # the binding's setting name (a Functions convention, not upper case)


def _results() -> Any:
    service = BlobServiceClient.from_connection_string(os.environ[CONNECTION])
    container = service.get_container_client(RESULTS)
    with contextlib.suppress(ResourceExistsError):
        container.create_container()
    return container


def record(kind: str, name: str, payload: dict[str, Any]) -> None:
    _results().upload_blob(f"{kind}/{name}/{uuid.uuid4()}.json", json.dumps(payload))


def _json(payload: Any, status: int = 200) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(payload), status_code=status, mimetype="application/json")


@app.route(route="users/{user}/photo", methods=["GET"])
def user_photo(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"function": "user_photo", "route": dict(req.route_params),
                  "params": dict(req.params), "method": req.method, "url": req.url,
                  "header": req.headers.get("x-sample")})


@app.route(route="users/{user}/photo/$value", methods=["GET", "PUT", "PATCH"])
def user_photo_value(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(
        req.get_body()[::-1], status_code=201, headers={"X-Route-User": req.route_params["user"]},
        mimetype="image/jpeg")


@app.route(route="items/{id:int}", auth_level=func.AuthLevel.ANONYMOUS)
def item_by_id(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"function": "item_by_id", "id": req.route_params["id"]})


@app.route(route="items/{name}", auth_level=func.AuthLevel.ANONYMOUS)
def item_by_name(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"function": "item_by_name", "name": req.route_params["name"]})


@app.route(route="ping", auth_level=func.AuthLevel.ANONYMOUS)
def ping(req: func.HttpRequest) -> str:
    return "pong"


@app.route(route="boom", auth_level=func.AuthLevel.ANONYMOUS)
def boom(req: func.HttpRequest) -> func.HttpResponse:
    raise RuntimeError("sensitive detail s3cr3t-in-exception")


@app.route(route="ops/stats", auth_level=func.AuthLevel.ADMIN)
def ops_stats(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"function": "ops_stats"})


@app.route(route="env/{name}", auth_level=func.AuthLevel.ANONYMOUS)
def env(req: func.HttpRequest) -> func.HttpResponse:
    name = req.route_params["name"]
    if not name.startswith("SAMPLE_"):
        return func.HttpResponse(status_code=403)
    return _json({"name": name, "value": os.environ.get(name)})


@app.function_name("OnDrop")
@app.blob_trigger(arg_name="blob", path="%SAMPLE_DROP_CONTAINER%/{name}",
                  connection="PhotoStorage", source=func.BlobSource.EVENT_GRID)
def on_drop(blob: BlobClient) -> None:
    name = blob.blob_name
    properties = blob.get_blob_properties()
    tags = blob.get_blob_tags()
    seen = {"name": name, "container": blob.container_name, "size": properties.size,
            "etag": properties.etag.strip('"'), "tags": tags,
            "type": f"{type(blob).__module__}.{type(blob).__qualname__}"}
    if name.startswith("fail/"):
        record("attempt", name, seen)
        raise RuntimeError(f"sample failure for {name}")
    if name.startswith("slow/"):
        record("started", name, seen)
        marker = _results().get_blob_client(f"slow-marker/{name}")
        if not marker.exists():
            marker.upload_blob(b"")
            time.sleep(60)  # the test kills the host meanwhile
    content = blob.download_blob().readall()
    seen["sha256"] = hashlib.sha256(content).hexdigest()
    blob.set_blob_tags({**tags, "processed": "true"})
    logger.info("Sample processed %s (%d bytes)", name, len(content))
    record("drop", name, seen)


@app.blob_trigger(arg_name="stream", path="sample-streams/in/{name}", connection="PhotoStorage",
                  source=func.BlobSource.EVENT_GRID)
def on_stream(stream: func.InputStream) -> None:
    data = stream.read()
    record("stream", stream.name or "?", {"name": stream.name, "length": stream.length,
                                          "uri": stream.uri, "data": data.decode("utf-8")})


@app.timer_trigger(arg_name="timer", schedule="0 0 0 1 1 *", run_on_startup=False)
def yearly(timer: func.TimerRequest) -> None:
    record("timer", "yearly", {"past_due": timer.past_due})


def _event_record(event: func.EventGridEvent) -> tuple[str, dict[str, Any]]:
    subject = event.subject or ""
    name = subject.split("/blobs/", 1)[1] if "/blobs/" in subject else event.id
    return name, {
        "type": f"{type(event).__module__}.{type(event).__qualname__}",
        "id": event.id, "topic": event.topic, "subject": subject,
        "event_type": event.event_type, "data_version": event.data_version,
        "event_time": event.event_time.isoformat() if event.event_time else None,
        "data": event.get_json(),
    }


@app.function_name("OnEvent")
@app.event_grid_trigger(arg_name="event")
def on_event(event: func.EventGridEvent) -> None:
    name, seen = _event_record(event)
    record("event-attempt", name, seen)
    if name.startswith("fail/"):
        raise RuntimeError(f"sample event failure for {name}")
    if name.startswith("flaky/") and len(list(_results().list_blobs(
            name_starts_with=f"event-attempt/{name}/"))) < 3:
        raise RuntimeError(f"sample flaky failure for {name}")
    record("event", name, seen)


@app.event_grid_trigger(arg_name="event")
def on_event_too(event: func.EventGridEvent) -> None:
    name, seen = _event_record(event)
    record("event-too", name, seen)
