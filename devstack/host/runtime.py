"""Assembling and running the local host: ``start_host(...) -> RunningHost``.

Start order follows the real host: settings into the environment, host.json, import and index
the app, keys, host storage (queues and receipts container) when there are blob triggers,
then the HTTP listener, the blob workers, the timers and finally the watcher (which needs the
webhook up for its handshake). ``stop()`` reverses it: stop watching and scheduling, stop
accepting HTTP, let running invocations finish (bounded), leave queued work in storage for
the next start, and take the settings it added back out of the environment.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote

from azure.core.exceptions import AzureError

from devstack.host.app_loader import app_directory, load_app
from devstack.host.bindings import BlobTrigger, EventGridTrigger, FunctionSpec, TimerTrigger
from devstack.host.blob_queue import BlobTriggerStore, BlobWorkItem
from devstack.host.blob_workers import BlobWorkers, WorkerOptions
from devstack.host.front import EVENTGRID_WEBHOOK_PATH, WEBHOOK_PATH, FrontDoor
from devstack.host.http_functions import HttpFunctions
from devstack.host.invoke import (
    THREADS_SETTING,
    Invoker,
    blob_argument,
    event_grid_argument,
    timer_argument,
    worker_threads,
)
from devstack.host.keys import HostKeys, load_or_create
from devstack.host.server import HostServer
from devstack.host.settings import (
    HostConfig,
    apply_values,
    read_host_json,
    read_local_settings,
    unapply_values,
)
from devstack.host.storage import HOST_STORAGE, connection_string
from devstack.host.timers import TimerJob, TimerScheduler
from devstack.host.watcher import EventGridTarget, Watcher, WatchTarget

logger = logging.getLogger(__name__)


class HostStartError(RuntimeError):
    """The host cannot start; the message says why and what to check."""


DEFAULT_STATE_DIR = Path(".devstack/host")


@dataclass
class _Parts:
    server: HostServer
    timers: TimerScheduler
    workers: BlobWorkers | None
    store: BlobTriggerStore | None
    watcher: Watcher | None = None


@dataclass
class RunningHost:
    """A started host. ``info`` is what ``python -m devstack.host`` prints when ready."""

    base_url: str
    keys: HostKeys
    host_id: str
    config: HostConfig
    functions: dict[str, FunctionSpec]
    disabled: dict[str, str]
    _parts: _Parts = field(repr=False)
    _applied_settings: dict[str, str] = field(repr=False)
    _stopped: bool = field(default=False, repr=False)

    def url(self, route: str) -> str:
        """The URL of an HTTP route (``users/jane/photo`` → ``<base>/api/users/jane/photo``)."""
        prefix = f"/{self.config.route_prefix}" if self.config.route_prefix else ""
        return f"{self.base_url}{prefix}/{route.lstrip('/')}"

    def webhook_url(self, function: str) -> str:
        """The Event Grid subscription endpoint of a blob trigger, key included."""
        return (f"{self.base_url}{WEBHOOK_PATH}?functionName="
                f"{quote(self.functions[function].function_id)}"
                f"&code={quote(self.keys.blobs_extension_key)}")

    def eventgrid_webhook_url(self, function: str) -> str:
        """The Event Grid subscription endpoint of an Event Grid trigger, key included."""
        if not isinstance(self.functions[function].trigger, EventGridTrigger):
            raise KeyError(f"{function} is not an Event Grid trigger")
        return (f"{self.base_url}{EVENTGRID_WEBHOOK_PATH}?functionName={quote(function)}"
                f"&code={quote(self.keys.eventgrid_extension_key)}")

    @property
    def info(self) -> dict[str, Any]:
        blob_functions = [n for n, f in self.functions.items()
                          if isinstance(f.trigger, BlobTrigger) and f.trigger.source == "EventGrid"]
        eventgrid_functions = [n for n, f in self.functions.items()
                               if isinstance(f.trigger, EventGridTrigger)]
        return {
            "base_url": self.base_url,
            "api_url": self.url(""),
            "host_id": self.host_id,
            "master_key": self.keys.master_key,
            "host_key": self.keys.host_key,
            "function_keys": dict(self.keys.function_keys),
            "blobs_extension_key": self.keys.blobs_extension_key,
            "eventgrid_extension_key": self.keys.eventgrid_extension_key,
            "webhook_url": {name: self.webhook_url(name) for name in blob_functions},
            "eventgrid_webhook_url": {name: self.eventgrid_webhook_url(name)
                                      for name in eventgrid_functions},
            "functions": {name: type(f.trigger).__name__ for name, f in self.functions.items()},
            "disabled": dict(self.disabled),
        }

    def blob_backlog(self) -> int:
        """Blob work not finished yet: queued messages (including retries waiting for their
        backoff) plus running invocations. Zero means every delivery so far has ended."""
        parts = self._parts
        if parts.store is None or parts.workers is None:
            return 0
        return parts.store.queued() + parts.workers.busy()

    def eventgrid_backlog(self) -> int:
        """Event Grid deliveries the watcher has raised and not delivered yet (including those
        waiting for a retry). Zero means every deletion seen so far was delivered or
        dead-lettered."""
        watcher = self._parts.watcher
        return watcher.pending_events() if watcher is not None else 0

    def stop(self, timeout: float = 30.0) -> None:
        """Graceful stop; queued blob work stays in storage for the next start."""
        if self._stopped:
            return
        self._stopped = True
        parts = self._parts
        if parts.watcher is not None:
            parts.watcher.stop(timeout)
        parts.server.stop_accepting()
        if parts.workers is not None:
            parts.workers.stop(timeout)
        parts.timers.stop(timeout)
        parts.server.drain(timeout)
        unapply_values(self._applied_settings)
        logger.info("Host stopped")

    def __enter__(self) -> RunningHost:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def start_host(
    app: str = "function_app:app",
    *,
    settings: Path | None = None,
    host_json: Path | None = None,
    port: int = 0,
    bind: str = "127.0.0.1",
    state_dir: Path = DEFAULT_STATE_DIR,
    watch: bool = True,
    watch_interval: float = 0.5,
    host_id: str | None = None,
    retry_delay: float = 1.0,
    eventgrid_max_attempts: int = 10,
) -> RunningHost:
    """Start the host for ``app`` (``module:attribute``) and return once it serves.

    ``settings`` and ``host_json`` default to the files next to the app's module; ``port`` 0
    picks a free port. ``retry_delay`` is the first backoff after a failed blob invocation, and
    after a failed delivery of a watcher's Event Grid event; such an event is dead-lettered after
    ``eventgrid_max_attempts`` attempts.
    """
    if eventgrid_max_attempts < 1:
        raise ValueError("eventgrid_max_attempts must be at least 1")
    directory = app_directory(app)
    local = read_local_settings(settings or directory / "local.settings.json")
    applied = apply_values(local.values)
    try:
        return _start(app, directory, applied, host_json or directory / "host.json", port, bind,
                      state_dir, watch, watch_interval, host_id, retry_delay,
                      eventgrid_max_attempts)
    except BaseException:
        unapply_values(applied)
        raise


def _start(app: str, directory: Path, applied: dict[str, str], host_json: Path, port: int,
           bind: str, state_dir: Path, watch: bool, watch_interval: float,
           host_id: str | None, retry_delay: float, eventgrid_max_attempts: int) -> RunningHost:
    config = read_host_json(host_json)
    loaded = load_app(app)
    functions = {f.name: f for f in loaded.functions}
    keys, chosen_id = load_or_create(state_dir, [*functions, *loaded.disabled], host_id)
    invoker = Invoker(str(directory), worker_threads())
    if invoker.threads < config.max_degree_of_parallelism and any(
            isinstance(f.trigger, BlobTrigger) for f in functions.values()):
        logger.warning("The worker runs %d function(s) at once (%s) but host.json dispatches "
                       "%d blob invocations at once: the rest wait for a thread while their "
                       "functionTimeout runs (see docs/performance.md)", invoker.threads,
                       THREADS_SETTING, config.max_degree_of_parallelism)
    blob_specs = [f for f in functions.values() if isinstance(f.trigger, BlobTrigger)]
    store: BlobTriggerStore | None = None
    workers: BlobWorkers | None = None
    if blob_specs:
        store = BlobTriggerStore(connection_string(HOST_STORAGE), chosen_id)
        try:
            store.ensure()
        except AzureError as exc:
            raise HostStartError(
                f"the host's storage ({HOST_STORAGE}) cannot be reached ({type(exc).__name__}); "
                "blob triggers keep their queue and receipts there: is Azurite running?"
            ) from exc
        by_id = {f.function_id: f for f in blob_specs}

        def run_blob(item: BlobWorkItem, attempt: int) -> None:
            spec = by_id[item.function_id]
            assert isinstance(spec.trigger, BlobTrigger)
            argument = blob_argument(spec.trigger, item.container, item.blob_name)
            invoker.call(spec, argument, reason=f"New blob detected({spec.trigger.source}): "
                         f"{item.container}/{item.blob_name} (attempt {attempt})")

        timeout = config.function_timeout
        workers = BlobWorkers(store, set(by_id), run_blob, WorkerOptions(
            parallelism=config.max_degree_of_parallelism,
            poison_threshold=config.poison_blob_threshold,
            visibility_timeout=math.ceil(timeout) if timeout is not None else 600,
            function_timeout=timeout, retry_delay=retry_delay))

    def enqueue(item: BlobWorkItem) -> None:
        if store is None or workers is None:
            raise RuntimeError("this app has no blob triggers")
        store.enqueue(item)
        workers.wake()

    def run_event(spec: FunctionSpec, event: dict[str, Any]) -> None:
        started = time.monotonic()
        invoker.call(spec, event_grid_argument(event),
                     reason=f"EventGrid trigger fired at {dt.datetime.now(dt.UTC).isoformat()}")
        elapsed, limit = time.monotonic() - started, config.function_timeout
        if limit is not None and elapsed > limit:  # Azure would have stopped it: a failure
            logger.error("Event Grid function %s ran %.1fs, longer than functionTimeout %gs",
                         spec.name, elapsed, limit)
            raise TimeoutError(f"ran longer than functionTimeout {limit:g}s")

    timers = TimerScheduler([_timer_job(invoker, f) for f in functions.values()
                             if isinstance(f.trigger, TimerTrigger)])
    front = FrontDoor(prefix=config.route_prefix,
                      http=HttpFunctions(list(functions.values()), keys, invoker), keys=keys,
                      host_id=chosen_id, functions=functions, enqueue=enqueue,
                      run_timer=timers.trigger, run_event=run_event)
    server = HostServer(bind, port, front)
    server.start()
    if workers is not None:
        workers.start()
    timers.start()
    host = RunningHost(server.base_url, keys, chosen_id, config, functions, loaded.disabled,
                       _Parts(server, timers, workers, store), applied)
    if watch and store is not None:
        targets = [WatchTarget(f, f.trigger, host.webhook_url(f.name)
                               if f.trigger.source == "EventGrid" else None)
                   for f in blob_specs if isinstance(f.trigger, BlobTrigger)]
        subscribers = [EventGridTarget(name, host.eventgrid_webhook_url(name))
                       for name, f in functions.items() if isinstance(f.trigger, EventGridTrigger)]
        watcher = Watcher(targets, enqueue=enqueue, has_receipt=store.has_receipt,
                          state_path=state_dir / "watcher.json", interval=watch_interval,
                          eventgrid_targets=subscribers, retry_delay=retry_delay,
                          max_delivery_attempts=eventgrid_max_attempts)
        watcher.start()
        host._parts.watcher = watcher
    logger.info("Host %s listening on %s with %d function(s)", chosen_id, server.base_url,
                len(functions))
    return host


def _timer_job(invoker: Invoker, spec: FunctionSpec) -> TimerJob:
    assert isinstance(spec.trigger, TimerTrigger)

    def run(last: dt.datetime, following: dt.datetime) -> None:
        try:
            invoker.call(spec, timer_argument(last, following), reason="Timer fired")
        except Exception:  # logged by the invoker; a timer just waits for its next occurrence
            return

    return TimerJob(spec.name, spec.trigger.schedule, spec.trigger.run_on_startup, run)
