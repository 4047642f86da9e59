"""The host's front door: which part of the host answers which URL.

* ``/<routePrefix>/...``: HTTP-triggered functions (``http_functions.py``).
* ``POST /runtime/webhooks/blobs?functionName=Host.Functions.<name>&code=<key>``: Event Grid
  deliveries for blob triggers with ``source=EventGrid`` (``blobs_extension`` key): the
  validation handshake is answered, each matching ``BlobCreated`` becomes a durable work item
  (202), and a storage outage is a 503 so that the sender retries.
* ``POST /runtime/webhooks/eventgrid?functionName=<name>&code=<key>``: Event Grid deliveries for
  Event Grid triggers (``eventgrid_extension`` key), as the Event Grid extension serves them:
  the validation handshake is answered; each event of a notification invokes the function
  (one after the other, on the request's thread), and the answer is 202 when every invocation
  succeeded, 500 when one failed (Event Grid then retries the whole delivery).
* ``/admin/host/ping`` (open), ``/admin/host/status`` and ``POST /admin/functions/<name>``
  (master key), as Core Tools offers: the latter runs a timer now, queues a blob trigger
  for the blob named by ``{"input": "<container>/<blob>"}``, or runs an Event Grid trigger with
  the event in ``{"input": {...}}`` (an object or its JSON text).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from azure.core.exceptions import AzureError, ResourceNotFoundError

from devstack.host.bindings import BlobTrigger, EventGridTrigger, FunctionSpec, TimerTrigger
from devstack.host.blob_queue import BlobWorkItem
from devstack.host.eventgrid import (
    VALIDATION_EVENT,
    EventError,
    blob_created,
    read_events,
    validation_code,
)
from devstack.host.http_functions import HttpFunctions, presented_key
from devstack.host.keys import HostKeys
from devstack.host.server import Request, Response
from devstack.host.storage import StorageSettingError, binding_blob_service

logger = logging.getLogger(__name__)

WEBHOOK_PATH = "/runtime/webhooks/blobs"
EVENTGRID_WEBHOOK_PATH = "/runtime/webhooks/eventgrid"


@dataclass
class FrontDoor:
    prefix: str
    http: HttpFunctions
    keys: HostKeys
    host_id: str
    functions: dict[str, FunctionSpec]
    enqueue: Callable[[BlobWorkItem], None]  # durable; raises AzureError when storage is down
    run_timer: Callable[[str], bool]
    run_event: Callable[[FunctionSpec, dict[str, Any]], None]  # raises when the function failed

    def __call__(self, request: Request) -> Response:
        path = request.path
        if path == WEBHOOK_PATH:
            return self._webhook(request)
        if path.lower() == EVENTGRID_WEBHOOK_PATH:  # the host's own docs spell it "EventGrid"
            return self._eventgrid_webhook(request)
        if path.startswith("/admin/"):
            return self._admin(request, path.removeprefix("/admin/"))
        prefix = f"/{self.prefix}/" if self.prefix else "/"
        if path.startswith(prefix) or path == prefix.rstrip("/"):
            return self.http.handle(request, path[len(prefix):])
        return Response(404)

    # -- the blob webhook -----------------------------------------------------------------------

    def _webhook(self, request: Request) -> Response:
        if request.method != "POST":
            return Response(405, headers=[("Allow", "POST")])
        if not self.keys.allows_blobs_extension(presented_key(request)):
            return Response(401)
        function_id = request.param("functionName") or ""
        spec = self.functions.get(function_id.removeprefix("Host.Functions."))
        if spec is None or spec.function_id != function_id or not isinstance(
                spec.trigger, BlobTrigger) or spec.trigger.source != "EventGrid":
            return Response.json(404, {"error": "no blob trigger with source EventGrid named "
                                                f"{function_id!r}"})
        try:
            events = read_events(json.loads(request.body or b"null"))
            code = validation_code(events)
            if code is not None:
                logger.info("Event Grid subscription validated for %s", spec.name)
                return Response.json(200, {"validationResponse": code})
            accepted = 0
            for event in events:
                blob = blob_created(event)
                if blob is None or not spec.trigger.matches(blob.container, blob.blob_name):
                    continue
                etag = blob.etag or self._current_etag(spec.trigger, blob.container,
                                                       blob.blob_name)
                if etag is None:
                    continue
                self.enqueue(BlobWorkItem(spec.function_id, blob.container, blob.blob_name,
                                          etag, blob.blob_type))
                accepted += 1
        except (ValueError, EventError) as exc:
            return Response.json(400, {"error": str(exc)})
        except AzureError as exc:
            logger.warning("Cannot queue blob events for %s (%s); the sender should retry",
                           spec.name, type(exc).__name__)
            return Response.json(503, {"error": "host storage is unavailable"})
        logger.debug("Queued %d blob event(s) for %s", accepted, spec.name)
        return Response(202)

    # -- the Event Grid trigger webhook ------------------------------------------------------------

    def _eventgrid_webhook(self, request: Request) -> Response:
        if request.method != "POST":
            return Response(405, headers=[("Allow", "POST")])
        if not self.keys.allows_eventgrid_extension(presented_key(request)):
            return Response(401)
        name = request.param("functionName") or ""
        spec = self.functions.get(name)
        if spec is None or not isinstance(spec.trigger, EventGridTrigger):
            return Response.text(404, f"cannot find function: '{name}'")
        kind = (request.header("aeg-event-type") or "Notification").lower()
        if kind == "unsubscribe":  # the body does not matter
            return Response(202)
        try:
            events = read_events(json.loads(request.body or b"null"))
            if kind == "subscriptionvalidation" or any(
                    e.get("eventType") == VALIDATION_EVENT for e in events):
                code = validation_code(events)
                if code is None:
                    raise EventError("a SubscriptionValidation delivery without a "
                                     "Microsoft.EventGrid.SubscriptionValidationEvent")
                logger.info("Event Grid subscription validated for %s", spec.name)
                return Response.json(200, {"validationResponse": code})
        except (ValueError, EventError) as exc:
            return Response.json(400, {"error": str(exc)})
        if kind != "notification":
            return Response.json(400, {"error": "aeg-event-type must be SubscriptionValidation, "
                                                "Notification or Unsubscribe"})
        failed = 0
        for event in events:
            try:
                self.run_event(spec, event)
            except Exception:  # logged with its traceback by the invoker; Event Grid retries
                failed += 1
        if failed:
            return Response.text(500, f"{failed} of {len(events)} invocation(s) failed")
        return Response(202)

    @staticmethod
    def _current_etag(trigger: BlobTrigger, container: str, blob_name: str) -> str | None:
        try:
            blob = binding_blob_service(trigger.connection).get_blob_client(container, blob_name)
            return str(blob.get_blob_properties().etag)
        except ResourceNotFoundError:
            return None

    # -- admin ----------------------------------------------------------------------------------

    def _admin(self, request: Request, path: str) -> Response:
        if path == "host/ping":
            return Response(200)
        if not self.keys.is_master(presented_key(request)):
            return Response(401)
        if path == "host/status" and request.method == "GET":
            return Response.json(200, {"id": self.host_id, "state": "Running",
                                       "version": "devstack-local-host"})
        name = path.removeprefix("functions/")
        if path.startswith("functions/") and request.method == "POST":
            spec = self.functions.get(name)
            if spec is None:
                return Response(404)
            if isinstance(spec.trigger, TimerTrigger):
                started = self.run_timer(name)
                return Response(202) if started else Response.json(
                    409, {"error": "the timer is already running"})
            if isinstance(spec.trigger, BlobTrigger):
                return self._queue_blob_from_admin(spec, spec.trigger, request.body)
            if isinstance(spec.trigger, EventGridTrigger):
                return self._run_event_from_admin(spec, request.body)
            return Response.json(400, {"error": "call HTTP functions on their own route"})
        return Response(404)

    def _run_event_from_admin(self, spec: FunctionSpec, body: bytes) -> Response:
        try:
            document = json.loads(body or b"{}")
            event = document.get("input")
            if isinstance(event, str):
                event = json.loads(event)
            if not isinstance(event, dict):
                raise ValueError("not an event")
        except (ValueError, AttributeError):
            return Response.json(400, {"error": 'expected {"input": {<Event Grid event>}}'})
        try:
            self.run_event(spec, event)
        except Exception:  # logged with its traceback by the invoker
            return Response.text(500, "Internal Server Error")
        return Response(202)

    def _queue_blob_from_admin(self, spec: FunctionSpec, trigger: BlobTrigger, body: bytes
                               ) -> Response:
        try:
            document = json.loads(body or b"{}")
            container, _, blob_name = str(document.get("input", "")).partition("/")
        except (ValueError, AttributeError):
            return Response.json(400, {"error": 'expected {"input": "<container>/<blob>"}'})
        if not trigger.matches(container, blob_name):
            return Response.json(400, {"error": f"the input does not match {trigger.path!r}"})
        try:
            etag = self._current_etag(trigger, container, blob_name)
            if etag is None:
                return Response.json(404, {"error": "no such blob"})
            self.enqueue(BlobWorkItem(spec.function_id, container, blob_name, etag))
        except (AzureError, StorageSettingError) as exc:
            return Response.json(503, {"error": type(exc).__name__})
        return Response(202)
