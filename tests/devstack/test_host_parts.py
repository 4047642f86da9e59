"""The local host's pure parts: route templates, schedules, settings files, keys, bindings."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import azure.functions as func
import pytest

from devstack.host.bindings import BindingError, BlobTrigger, EventGridTrigger, read_function
from devstack.host.eventgrid import blob_deleted_event
from devstack.host.invoke import event_grid_argument
from devstack.host.keys import load_or_create
from devstack.host.routes import RouteError, compile_route
from devstack.host.settings import (
    HostConfig,
    SettingsError,
    parse_timespan,
    read_host_json,
    read_local_settings,
)
from devstack.host.timers import ScheduleError, parse_schedule
from devstack.host.watcher import EventGridTarget, Watcher


@pytest.mark.parametrize(
    ("template", "path", "expected"),
    [
        ("users/{user}/photo", "users/jane%40contoso.com/photo", {"user": "jane@contoso.com"}),
        ("users/{user}/photo", "USERS/jane/PHOTO", {"user": "jane"}),
        ("users/{user}/photo", "users/jane/photo/extra", None),
        ("users/{user}/photo/$value", "users/j/photo/$value", {"user": "j"}),
        ("items/{id:int}", "items/42", {"id": "42"}),
        ("items/{id:int}", "items/forty", None),
        ("items/{id:int:min(10)}", "items/9", None),
        ("items/{id:guid}", "items/6f9619ff-8b86-d011-b42d-00c04fc964ff",
         {"id": "6f9619ff-8b86-d011-b42d-00c04fc964ff"}),
        ("files/{*rest}", "files/a/b/c.jpg", {"rest": "a/b/c.jpg"}),
        ("files/{*rest}", "files", {}),
        ("report/{year?}", "report", {}),
        ("report/{year?}", "report/2026", {"year": "2026"}),
        ("photos/{name}.{ext}", "photos/jane.jpg", {"name": "jane", "ext": "jpg"}),
    ],
)
def test_route_templates(template: str, path: str, expected: dict[str, str] | None) -> None:
    assert compile_route(template).match(path) == expected


def test_route_precedence_prefers_literals_then_constraints() -> None:
    routes = [compile_route(t) for t in ("items/{name}", "items/{id:int}", "items/new",
                                         "items/{*rest}")]
    ordered = sorted(routes, key=lambda r: r.precedence)
    assert [r.template for r in ordered] == ["items/new", "items/{id:int}", "items/{name}",
                                             "items/{*rest}"]


@pytest.mark.parametrize("template", ["a/{x:regexish}", "a/{*rest}/b", "a/{x}/{x}"])
def test_unsupported_routes_are_refused(template: str) -> None:
    with pytest.raises(RouteError):
        compile_route(template)


def test_schedules() -> None:
    moment = dt.datetime(2026, 3, 4, 12, 3, 10, tzinfo=dt.UTC)  # a Wednesday
    every_five = parse_schedule("0 */5 * * * *")
    assert every_five.next_after(moment) == moment.replace(minute=5, second=0)
    weekdays = parse_schedule("0 30 9 * * MON-FRI")
    assert weekdays.next_after(moment) == dt.datetime(2026, 3, 5, 9, 30, tzinfo=dt.UTC)
    yearly = parse_schedule("0 0 0 1 1 *")
    assert yearly.next_after(moment) == dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
    leap = parse_schedule("0 0 0 29 2 *")
    assert leap.next_after(moment) == dt.datetime(2028, 2, 29, tzinfo=dt.UTC)
    assert parse_schedule("00:00:10").next_after(moment) == moment + dt.timedelta(seconds=10)
    assert parse_schedule("*/5 * * * *").next_after(moment) == moment.replace(minute=5, second=0)


@pytest.mark.parametrize("text", ["", "* * *", "61 * * * * *", "0 0 0 31 2 *", "x * * * * *"])
def test_bad_schedules_are_refused(text: str) -> None:
    with pytest.raises(ScheduleError):
        parse_schedule(text).next_after(dt.datetime(2026, 1, 1, tzinfo=dt.UTC))


def test_host_json_defaults_and_values(tmp_path: Path) -> None:
    assert read_host_json(tmp_path / "missing.json") == HostConfig()
    path = tmp_path / "host.json"
    path.write_text(json.dumps({
        "functionTimeout": "1.00:00:30",
        "extensions": {"http": {"routePrefix": "/"},
                       "blobs": {"maxDegreeOfParallelism": 2, "poisonBlobThreshold": 1}}}))
    assert read_host_json(path) == HostConfig(route_prefix="", max_degree_of_parallelism=2,
                                              poison_blob_threshold=1, function_timeout=86430)
    path.write_text(json.dumps({"extensions": {"blobs": {"poisonBlobThreshold": 0}}}))
    with pytest.raises(SettingsError, match="poisonBlobThreshold"):
        read_host_json(path)


def test_timespans() -> None:
    assert parse_timespan("00:05:00", "x") == 300
    assert parse_timespan("-1", "x") is None
    with pytest.raises(SettingsError):
        parse_timespan("5 minutes", "x")


def test_local_settings(tmp_path: Path) -> None:
    path = tmp_path / "local.settings.json"
    assert read_local_settings(path).values == {}
    path.write_text(json.dumps({"IsEncrypted": False, "Host": {"LocalHttpPort": 7072},
                                "Values": {"A": "x", "B": 3, "C": True}}))
    settings = read_local_settings(path)
    assert settings.values == {"A": "x", "B": "3", "C": "true"}
    assert settings.http_port == 7072


def test_keys_check_levels(tmp_path: Path) -> None:
    keys, host_id = load_or_create(tmp_path, ["f", "g"], None)
    assert host_id.startswith("local-")
    assert keys.allows_function("f", keys.function_keys["f"])
    assert not keys.allows_function("f", keys.function_keys["g"])
    assert keys.allows_function("f", keys.master_key)
    assert keys.allows_function("f", keys.host_key) and keys.allows_function("g", keys.host_key)
    assert not keys.allows_function("f", None)
    assert not keys.is_master(keys.host_key)  # a host key is not admin level
    assert not keys.allows_blobs_extension(keys.host_key)
    assert keys.allows_blobs_extension(keys.blobs_extension_key)
    assert not keys.allows_blobs_extension(keys.function_keys["f"])
    assert not keys.allows_blobs_extension(keys.eventgrid_extension_key)
    assert keys.allows_eventgrid_extension(keys.eventgrid_extension_key)
    assert keys.allows_eventgrid_extension(keys.master_key)
    assert not keys.allows_eventgrid_extension(keys.blobs_extension_key)
    assert not keys.allows_eventgrid_extension(None)
    with pytest.raises(ValueError, match="host id"):
        load_or_create(tmp_path, [], "Not_Valid")


def test_keys_are_kept_and_a_missing_system_key_is_added(tmp_path: Path) -> None:
    keys, host_id = load_or_create(tmp_path, ["f"], None)
    stored = json.loads((tmp_path / "keys.json").read_text())
    assert stored["systemKeys"] == {"blobs_extension": keys.blobs_extension_key,
                                    "eventgrid_extension": keys.eventgrid_extension_key}
    del stored["systemKeys"]["eventgrid_extension"]  # a state folder from before the key
    (tmp_path / "keys.json").write_text(json.dumps(stored))
    again, same_id = load_or_create(tmp_path, ["f"], None)
    assert (again.master_key, again.blobs_extension_key, again.function_keys, same_id) == (
        keys.master_key, keys.blobs_extension_key, keys.function_keys, host_id)
    assert again.eventgrid_extension_key not in (keys.eventgrid_extension_key, "")
    assert load_or_create(tmp_path, ["f"], None)[0] == again


def test_a_state_folder_from_before_host_keys_gets_one_and_keeps_the_rest(
        tmp_path: Path) -> None:
    keys, _ = load_or_create(tmp_path, ["f"], None)
    stored = json.loads((tmp_path / "keys.json").read_text())
    assert stored["hostKeys"] == {"default": keys.host_key} and len(keys.host_key) > 40
    del stored["hostKeys"]
    (tmp_path / "keys.json").write_text(json.dumps(stored))
    again, _ = load_or_create(tmp_path, ["f"], None)
    assert again.host_key not in (keys.host_key, "")
    assert (again.master_key, again.function_keys) == (keys.master_key, keys.function_keys)


def test_blob_paths_resolve_settings_and_match_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DROP", "hr-drop")
    app = func.FunctionApp()

    @app.blob_trigger(arg_name="blob", path="%DROP%/in/{name}.jpg", connection="PhotoStorage")
    def on_blob(blob: bytes) -> None: ...

    @app.blob_trigger(arg_name="blob", path="other/{name}", connection="PhotoStorage")
    @app.queue_output(arg_name="out", queue_name="q", connection="PhotoStorage")
    def with_output(blob: bytes, out: func.Out[str]) -> None: ...

    first, second = app.get_functions()
    spec = read_function(first)
    assert isinstance(spec.trigger, BlobTrigger)
    assert spec.trigger.container == "hr-drop"
    assert spec.trigger.arg_kind == "bytes"
    assert spec.trigger.matches("hr-drop", "in/a/b.jpg")
    assert not spec.trigger.matches("hr-drop", "in/a.png")
    assert not spec.trigger.matches("other", "in/a.jpg")
    with pytest.raises(BindingError, match="queue"):
        read_function(second)


def test_event_grid_triggers_take_the_types_the_worker_accepts() -> None:
    app = func.FunctionApp()

    @app.event_grid_trigger(arg_name="event")
    def typed(event: func.EventGridEvent) -> None: ...

    @app.event_grid_trigger(arg_name="event")
    def cloud(event: func.CloudEvent) -> None: ...

    @app.event_grid_trigger(arg_name="event")
    def untyped(event) -> None: ...  # type: ignore[no-untyped-def]

    @app.event_grid_trigger(arg_name="event")
    def as_text(event: str) -> None: ...

    specs = {}
    for function in app.get_functions():
        try:
            specs[function.get_function_name()] = read_function(function)
        except BindingError as exc:
            specs[function.get_function_name()] = exc  # type: ignore[assignment]
    assert isinstance(specs["typed"].trigger, EventGridTrigger)
    assert specs["typed"].trigger.arg_type is func.EventGridEvent
    assert isinstance(specs["cloud"].trigger, EventGridTrigger)
    assert specs["untyped"].trigger == EventGridTrigger(None)
    assert isinstance(specs["as_text"], BindingError)
    assert "func.EventGridEvent" in str(specs["as_text"])


def test_event_grid_argument_is_the_workers_event() -> None:
    event = blob_deleted_event(account="acct", container="drops", blob_name="a/b.jpg",
                               url="http://h/acct/drops/a/b.jpg", content_type="image/jpeg",
                               blob_type="BlockBlob",
                               event_time=dt.datetime(2026, 3, 4, 5, 6, 7, 890, tzinfo=dt.UTC))
    decoded = event_grid_argument(event)
    assert isinstance(decoded, func.EventGridEvent)
    assert (decoded.id, decoded.topic, decoded.subject, decoded.event_type,
            decoded.data_version) == (event["id"], event["topic"], event["subject"],
                                      "Microsoft.Storage.BlobDeleted", "")
    assert decoded.event_time == dt.datetime(2026, 3, 4, 5, 6, 7, 890, tzinfo=dt.UTC)
    assert decoded.get_json() == event["data"]
    later = blob_deleted_event(account="acct", container="drops", blob_name="c.jpg", url="u",
                               content_type=None, blob_type="BlockBlob")
    assert later["data"]["sequencer"] > event["data"]["sequencer"]
    assert later["data"]["contentType"] == "application/octet-stream"


def test_a_watcher_state_file_of_the_first_layout_is_read(tmp_path: Path) -> None:
    state = tmp_path / "watcher.json"
    state.write_text(json.dumps({"OnDrop": {"a.jpg": "0x1"}}))
    watcher = Watcher([], enqueue=lambda item: None, has_receipt=lambda item: False,
                      state_path=state, eventgrid_targets=[EventGridTarget("OnEvent", "http://x")])
    watcher._save()
    assert json.loads(state.read_text()) == {
        "version": 2, "delivered": {"OnDrop": {"a.jpg": "0x1"}}, "listed": {}, "outbox": []}
