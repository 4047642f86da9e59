"""What each function of the app needs from the host, read from its decorators.

``app.get_functions()`` yields the same binding JSON that the Python worker reports to the real
host at indexing time; this module turns it into small specs: the trigger (HTTP route, methods
and auth level; blob path, connection and source; timer schedule; Event Grid, which has no
settings of its own: ``{"type": "eventGridTrigger", "name": ..., "direction": "IN"}``) and how
to build the trigger argument from the parameter's annotation (``func.HttpRequest``,
``func.InputStream``, ``bytes``, ``str``, an SDK type of the blob extension such as its
``BlobClient``, or ``func.EventGridEvent``/``func.CloudEvent``). A function whose
bindings the local host cannot serve is reported as disabled, with the reason, instead of
breaking the whole app.
"""

from __future__ import annotations

import importlib
import inspect
import json
import re
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import azure.functions as func
from azure.functions.decorators.function_app import Function
from azure.functions.eventgrid import EventGridEventInConverter

from devstack.host.routes import RouteTemplate, compile_route
from devstack.host.settings import resolve_setting_references
from devstack.host.timers import Schedule, parse_schedule

#: How a blob trigger argument is built.
BlobArgKind = typing.Literal["sdk", "stream", "bytes", "str"]


class BindingError(ValueError):
    """A function uses a binding or annotation the local host does not support."""


@dataclass(frozen=True)
class HttpTrigger:
    route: RouteTemplate
    methods: frozenset[str] | None  # None: every method
    auth_level: str  # "anonymous", "function" or "admin"


@dataclass(frozen=True)
class BlobTrigger:
    path: str  # with %SETTING% resolved
    container: str
    name_pattern: re.Pattern[str]  # the blob name below the container
    connection: str
    source: str  # "EventGrid" or "LogsAndContainerScan"
    arg_kind: BlobArgKind
    arg_type: type | None  # the SDK type, for the extension's converter

    def matches(self, container: str, blob_name: str) -> bool:
        return container == self.container and self.name_pattern.fullmatch(blob_name) is not None


@dataclass(frozen=True)
class TimerTrigger:
    schedule: Schedule
    run_on_startup: bool


@dataclass(frozen=True)
class EventGridTrigger:
    """An Event Grid trigger: served on ``/runtime/webhooks/eventgrid?functionName=<name>``."""

    arg_type: type | None  # func.EventGridEvent or func.CloudEvent; None: not annotated


Trigger = HttpTrigger | BlobTrigger | TimerTrigger | EventGridTrigger


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    function: Callable[..., Any]
    trigger_arg: str
    trigger: Trigger
    wants_context: bool  # a parameter named ``context`` gets a func.Context

    @property
    def function_id(self) -> str:
        return function_id(self.name)


def function_id(name: str) -> str:
    """The id the host uses for the function ``name`` in webhook URLs, queue messages and blob
    receipts."""
    return f"Host.Functions.{name}"


def blob_sdk_converter() -> Any:
    """The blob extension's converter class, or None when the extension is not installed.

    Imported by name because the extension ships without type information.
    """
    try:
        module = importlib.import_module("azurefunctions.extensions.bindings.blob")
    except ImportError:
        return None
    return module.BlobClientConverter


def read_function(function: Function) -> FunctionSpec:
    """Build the spec of one ``azure.functions`` Function object (raises BindingError)."""
    name = function.get_function_name() or function.get_user_function().__name__
    user_function = function.get_user_function()
    raw = [json.loads(text) for text in function.get_raw_bindings()]
    trigger = next((b for b in raw if str(b.get("type", "")).endswith("Trigger")), None)
    if trigger is None:
        raise BindingError(f"{name}: has no trigger")
    others = [b for b in raw if b is not trigger and not (b["type"] == "http"
                                                          and b.get("name") == "$return")]
    if others:
        kinds = ", ".join(sorted({f"{b['type']} ({b.get('direction')})" for b in others}))
        raise BindingError(f"{name}: the local host does not support these bindings: {kinds}")
    hints = _annotations(user_function)
    parameters = list(inspect.signature(user_function).parameters)
    arg = trigger["name"]
    unknown = [p for p in parameters if p not in (arg, "context")]
    if arg not in parameters or unknown:
        raise BindingError(f"{name}: parameters {unknown or parameters} do not match the "
                           f"trigger argument '{arg}'")
    kind = trigger["type"]
    spec: Trigger
    if kind == "httpTrigger":
        methods = trigger.get("methods")
        spec = HttpTrigger(
            route=compile_route(trigger.get("route") or name),
            methods=frozenset(m.upper() for m in methods) if methods else None,
            auth_level=str(trigger.get("authLevel") or "function").lower(),
        )
    elif kind == "blobTrigger":
        spec = _blob_trigger(name, trigger, hints.get(arg))
    elif kind == "timerTrigger":
        schedule = resolve_setting_references(str(trigger["schedule"]), f"{name}: schedule")
        spec = TimerTrigger(parse_schedule(schedule),
                            bool(trigger.get("runOnStartup")))
    elif kind == "eventGridTrigger":
        spec = _event_grid_trigger(name, hints.get(arg))
    else:
        raise BindingError(f"{name}: trigger type '{kind}' is not supported by the local host")
    return FunctionSpec(name, user_function, arg, spec, "context" in parameters)


def _blob_trigger(name: str, trigger: dict[str, Any], annotation: Any) -> BlobTrigger:
    path = resolve_setting_references(str(trigger["path"]), f"{name}: blob path")
    container, _, pattern = path.partition("/")
    if not container or "{" in container:
        raise BindingError(f"{name}: blob path {path!r} must start with a container name")
    regex = ""
    position = 0
    for found in re.finditer(r"\{([^{}]+)\}", pattern):
        regex += re.escape(pattern[position:found.start()]) + f"(?P<{found.group(1)}>.+)"
        position = found.end()
    regex += re.escape(pattern[position:]) if pattern else ".+"
    converter = blob_sdk_converter()
    kind: BlobArgKind
    if annotation is None or annotation is inspect.Parameter.empty or (
            isinstance(annotation, type) and issubclass(annotation, func.InputStream)):
        kind = "stream"
    elif annotation is bytes:
        kind = "bytes"
    elif annotation is str:
        kind = "str"
    elif (converter is not None and isinstance(annotation, type)
          and converter.check_input_type_annotation(annotation)):
        kind = "sdk"
    else:
        raise BindingError(f"{name}: blob trigger argument type {annotation!r} is not supported")
    connection = str(trigger.get("connection") or "AzureWebJobsStorage")
    return BlobTrigger(
        path=path, container=container, name_pattern=re.compile(regex, re.DOTALL),
        connection=connection, source=str(trigger.get("source") or "LogsAndContainerScan"),
        arg_kind=kind, arg_type=annotation if kind == "sdk" else None,
    )


def _event_grid_trigger(name: str, annotation: Any) -> EventGridTrigger:
    """What the worker accepts: ``func.EventGridEvent`` or ``func.CloudEvent`` (or nothing)."""
    if annotation is None or annotation is inspect.Parameter.empty:
        return EventGridTrigger(None)
    if not EventGridEventInConverter.check_input_type_annotation(annotation):
        raise BindingError(f"{name}: Event Grid trigger argument type {annotation!r} is not "
                           "supported (use func.EventGridEvent or func.CloudEvent)")
    return EventGridTrigger(annotation)


def _annotations(function: Callable[..., Any]) -> dict[str, Any]:
    """Resolved annotations; falls back to the raw ones when a forward reference fails."""
    try:
        return typing.get_type_hints(function)
    except Exception:  # unresolved forward references are the app's business, not the host's
        return dict(getattr(function, "__annotations__", {}))
