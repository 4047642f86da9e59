"""Calling a user function the way the Python worker does, with the host's log lines.

The trigger argument is built as the worker builds it: for a blob extension SDK type the
extension's own converter is called with a ``model_binding_data`` datum (connection, container,
blob name), so the function receives exactly what it would on Azure; ``func.InputStream``,
``bytes`` and ``str`` get the downloaded content; an Event Grid trigger gets what the library's
own Event Grid converter makes of the event's JSON (``func.EventGridEvent``, or
``func.CloudEvent`` for a CloudEvents-schema event). A parameter named ``context`` gets a
``func.Context``. Coroutine functions run to completion on the calling thread. As in the worker,
at most ``threads`` invocations run at once (the worker's synchronous thread pool,
``PYTHON_THREADPOOL_THREAD_COUNT``, else ``min(32, cpu_count + 4)``): a further one, a lookup
behind eight drops say, waits for a thread. Each run is
logged as "Executing"/"Executed" with an invocation id, like the Functions host; a failure is
logged with its traceback here and re-raised for the caller to answer (500, retry or poison).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import inspect
import json
import logging
import os
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import azure.functions as func
from azure.functions import _abc as func_abc
from azure.functions import meta
from azure.functions.eventgrid import EventGridEventInConverter
from azure.functions.timer import TimerRequest

from devstack.host.bindings import BlobTrigger, FunctionSpec, blob_sdk_converter
from devstack.host.storage import binding_blob_service

logger = logging.getLogger("devstack.host.functions")


@dataclass(frozen=True)
class ModelBindingData:
    """The worker's ``model_binding_data`` message, as the blob extension reads it."""

    version: str
    source: str
    content_type: str
    content: str


class _TraceContext(func_abc.TraceContext):
    @property
    def trace_state(self) -> str:
        return ""

    @property
    def trace_parent(self) -> str:
        return ""

    @property
    def attributes(self) -> dict[str, str]:
        return {}


class _Context(func_abc.Context):
    """What a function sees as ``context``."""

    def __init__(self, invocation_id: str, name: str, directory: str) -> None:
        self._invocation_id, self._name, self._directory = invocation_id, name, directory
        self._local = threading.local()

    @property
    def invocation_id(self) -> str:
        return self._invocation_id

    @property
    def thread_local_storage(self) -> Any:
        return self._local

    @property
    def function_name(self) -> str:
        return self._name

    @property
    def function_directory(self) -> str:
        return self._directory

    @property
    def trace_context(self) -> _TraceContext:
        return _TraceContext()

    @property
    def retry_context(self) -> Any:
        return None


#: The worker's setting for the size of its synchronous thread pool.
THREADS_SETTING = "PYTHON_THREADPOOL_THREAD_COUNT"


def worker_threads(environ: dict[str, str] | None = None) -> int:
    """The thread pool the Python worker would run functions on: ``PYTHON_THREADPOOL_THREAD_COUNT``
    when set (a whole number, at least 1), else ``ThreadPoolExecutor``'s own default,
    ``min(32, os.cpu_count() + 4)``, which the worker leaves in place on Python 3.9 and later."""
    value = (os.environ if environ is None else environ).get(THREADS_SETTING, "").strip()
    if value:
        try:
            threads = int(value)
        except ValueError:
            threads = 0
        if threads < 1:
            raise ValueError(f"app setting {THREADS_SETTING} must be a whole number of at "
                             f"least 1, not {value!r}")
        return threads
    return min(32, (os.cpu_count() or 1) + 4)


class Invoker:
    """Runs functions; ``directory`` is the app folder (``context.function_directory``), and
    at most ``threads`` of them at once."""

    def __init__(self, directory: str, threads: int | None = None) -> None:
        self._directory = directory
        self.threads = threads or worker_threads()
        self._slots = threading.BoundedSemaphore(self.threads)

    def call(self, spec: FunctionSpec, argument: Any, reason: str) -> Any:
        with self._slots:  # a thread of the worker's pool, for the whole invocation
            return self._call(spec, argument, reason)

    def _call(self, spec: FunctionSpec, argument: Any, reason: str) -> Any:
        invocation_id = str(uuid.uuid4())
        logger.info("Executing 'Functions.%s' (Reason='%s', Id=%s)", spec.name, reason,
                    invocation_id)
        started = time.monotonic()
        kwargs: dict[str, Any] = {spec.trigger_arg: argument}
        if spec.wants_context:
            kwargs["context"] = _Context(invocation_id, spec.name, self._directory)
        try:
            result = spec.function(**kwargs)
            if inspect.iscoroutine(result):
                result = asyncio.run(result)
        except Exception:
            logger.exception("Executed 'Functions.%s' (Failed, Id=%s, Duration=%dms)",
                             spec.name, invocation_id, (time.monotonic() - started) * 1000)
            raise
        logger.info("Executed 'Functions.%s' (Succeeded, Id=%s, Duration=%dms)", spec.name,
                    invocation_id, (time.monotonic() - started) * 1000)
        return result


def blob_argument(trigger: BlobTrigger, container: str, blob_name: str) -> Any:
    """The trigger argument for one blob, by the parameter's annotation."""
    if trigger.arg_kind == "sdk":
        base: Any = __import__("azurefunctions.extensions.base", fromlist=["Datum"])
        content = json.dumps({"Connection": trigger.connection, "ContainerName": container,
                              "BlobName": blob_name})
        datum = base.Datum(
            value=ModelBindingData("1.0", "AzureStorageBlobs", "application/json", content),
            type="model_binding_data",
        )
        return blob_sdk_converter().decode(datum, trigger_metadata={}, pytype=trigger.arg_type)
    client = binding_blob_service(trigger.connection).get_blob_client(container, blob_name)
    downloader = client.download_blob()
    data = downloader.readall()
    if trigger.arg_kind == "bytes":
        return data
    if trigger.arg_kind == "str":
        return data.decode("utf-8")
    properties = downloader.properties
    return func.blob.InputStream(
        data=data, name=f"{container}/{blob_name}", uri=client.url, length=properties.size,
        blob_properties={"Length": properties.size, "ETag": properties.etag,
                         "ContentType": properties.content_settings.content_type},
        metadata=dict(properties.metadata or {}),
    )


def timer_argument(last: dt.datetime, following: dt.datetime) -> func.TimerRequest:
    """What a timer function receives (the schedule status shape the worker decodes)."""
    now = dt.datetime.now(dt.UTC).isoformat()
    return TimerRequest(
        past_due=False,
        schedule_status={"Last": last.isoformat(), "Next": following.isoformat(),
                         "LastUpdated": now},
        schedule={"AdjustForDST": True},
    )


def event_grid_argument(event: dict[str, Any]) -> Any:
    """What an Event Grid trigger receives for one event, decoded as the worker decodes it."""
    datum = meta.Datum(value=json.dumps(event), type="json")
    return EventGridEventInConverter.decode(datum, trigger_metadata={})
