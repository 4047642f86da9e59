"""Running one soak: start the stack, drop, disrupt, settle, observe, stop.

Azurite runs with a persistent location in the state folder; the emulator and two functions
hosts are subprocesses (logs: ``emulator.log``, ``host.log``, ``host2.log``). The second host
is another instance of the first (the same host id, so the same work queue); photo-sync in the
first reads a wall clock that is off. Both reach the state table through a proxy the soak can
stall, and each signs in as an app registration of its own (same roles), so the emulator can
tell their requests apart.

At a third of the drops Azurite is restarted (``Azurite.restart()``: same ports, same data).
Halfway the first host is killed with SIGKILL while one of its uploads is in flight, HR re-drops
the blobs it was working on, and the host is started again with the same state folder. At two
thirds an upload is held at the photo API while the state table stops answering for longer than
a claim lives (every renewal fails, and the upload is answered after its caller gave up), and
then the first host is frozen (SIGSTOP) with one of its uploads out, for longer than a claim
lives: its upload is answered after its claim lapsed. HR's uploads pause while a disruption
gets ready, so each finds work in flight. Once the HR id drops of the first phase have their
outcomes, the mapping file is edited (ids re-pointed, one added).
Everything is bounded by the overall deadline; processes are stopped in ``finally``.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import requests
from azure.core.exceptions import AzureError, ResourceExistsError
from azure.storage.blob import ContainerClient
from azure.storage.queue import QueueClient

from devstack.azurite import Azurite
from devstack.host.bindings import function_id
from devstack.host.blob_queue import QUEUE_PREFIX, BlobTriggerStore, BlobWorkItem
from devstack.host.event_outbox import deliveries_on_disk
from devstack.soak import procs as procs
from devstack.soak.checks import Observed
from devstack.soak.config import MAPPING_BLOB, SoakConfig
from devstack.soak.drops import DropRecord, Uploaders
from devstack.soak.logs import in_flight
from devstack.soak.plan import Plan
from devstack.soak.proxy import StallableProxy
from devstack.stack import DROP_CONTAINER
from photo_core.adapters.blob_drop import TAG_STATUS

logger = logging.getLogger("devstack.soak")
SYNC_FUNCTION = "sync_photo"  # the blob-trigger function of function_app.py
KILL_HOLDS = 4  # uploads held in turn until one in flight at the kill can be re-dropped
_OWNED = ("azurite", "azurite.log", "host", "host2", "emulator.log", "host.log", "host2.log",
          "soak.log", "directory.json", "local.settings.json", "local.settings.host2.json",
          "host.json", "fault-script.json")


@dataclass
class Events:
    azurite_down: datetime | None = None
    azurite_up: datetime | None = None
    host_killed: datetime | None = None
    host_up: datetime | None = None
    killed_in_flight: int = 0
    script_done_before_kill: bool = False
    redropped: list[str] = field(default_factory=list)
    table_stalled: datetime | None = None
    table_back: datetime | None = None
    stalled_upload_held: bool = False
    host_frozen: bool = False
    frozen: datetime | None = None
    thawed: datetime | None = None
    mapping_edited: datetime | None = None
    errors: list[str] = field(default_factory=list)

    def freezes(self) -> list[tuple[str, datetime, datetime]]:
        """(log source, from, to) of each host process the soak froze."""
        if self.frozen is None:
            return []
        return [("host", self.frozen, self.thawed or datetime.now())]

    def outages(self) -> list[tuple[datetime, datetime]]:
        """Storage outages: Azurite's restart, and the state table's stall."""
        windows = []
        if self.azurite_down is not None:
            windows.append((self.azurite_down, self.azurite_up or datetime.now()))
        if self.table_stalled is not None:
            windows.append((self.table_stalled, self.table_back or datetime.now()))
        return windows


@dataclass
class RunOutput:
    records: list[DropRecord]
    observed: Observed | None
    events: Events
    stats: dict[str, Any]
    tokens: list[str]
    emulator_info: dict[str, Any]
    drop_seconds: float


def prepare_state_dir(state: Path) -> None:
    """Remove only what an earlier soak left here; never a folder's other content."""
    state.mkdir(parents=True, exist_ok=True)
    for name in _OWNED:
        path = state / name
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


class Stack:
    def __init__(self, state: Path, plan: Plan, settings: dict[str, str], faults: dict[str, Any],
                 script: list[dict[str, Any]], token_lifetime: int, function_timeout: int,
                 clock_offset: float | None = None,
                 second_app: tuple[str, str] | None = None) -> None:
        self.state, self.plan, self.settings = state, plan, settings
        self.faults, self.script, self.token_lifetime = faults, script, token_lifetime
        self.function_timeout = function_timeout
        self.clock_offset = clock_offset  # the first host's photo-sync clock is this far off
        self.second_app = second_app  # (client id, secret) the second host signs in with
        self.apps: dict[str, str] = {}  # host -> the client id it signs in with
        self.azurite = Azurite(location=state / "azurite")
        self.emulator: procs.Child | None = None
        self.host: procs.Child | None = None
        self.host2: procs.Child | None = None
        self.proxy: StallableProxy | None = None
        self.host_log_offset = 0
        self.events = Events()
        self.settings_file = self.host_json = Path()
        # HR's uploads pause while a disruption gets ready, and go on while it waits for one
        self.pause: Callable[[], None] = lambda: None
        self.resume: Callable[[], None] = lambda: None

    def start(self) -> None:
        self.azurite.start()
        self.emulator = procs.emulator(self.state, self.state / "directory.json", self.faults,
                                       self.plan.seed, self.token_lifetime, self.script)
        info = self.emulator.start()
        self.proxy = StallableProxy(self.azurite.ports["Table"])
        table = self.azurite.endpoint("Table")
        proxied = self.azurite.connection_string.replace(
            table, table.replace(f":{self.azurite.ports['Table']}/", f":{self.proxy.port}/"))
        self.settings_file, self.host_json = procs.write_app_files(
            self.state, self.azurite.connection_string, info,
            {**self.settings, "PhotoStorage": proxied}, self.function_timeout)
        with contextlib.suppress(ResourceExistsError):
            self.container().create_container()
        self.put_mapping(self.plan.mapping[0])
        self.start_host()
        self.apps["host"] = str(info["client_id"])
        if self.second_app is not None:
            assert self.host is not None
            client, secret = self.second_app
            settings2, _ = procs.write_app_files(
                self.state, self.azurite.connection_string, info,
                {**self.settings, "PhotoStorage": proxied, "PHOTO_CLIENT_ID": client,
                 "PHOTO_CLIENT_SECRET": secret}, self.function_timeout,
                name="local.settings.host2.json")
            self.apps["host2"] = client
            self.host2 = procs.host(self.state, settings2, self.host_json,
                                    name="host2", host_id=self.host.info["host_id"])
            self.host2.start()

    def put_mapping(self, text: str) -> None:
        container, _, path = MAPPING_BLOB.partition("/")
        client = ContainerClient.from_connection_string(self.azurite.connection_string,
                                                        container)
        with contextlib.suppress(ResourceExistsError):
            client.create_container()
        client.upload_blob(path, text.encode(), overwrite=True)

    def start_host(self) -> None:
        log = self.state / "host.log"
        self.host_log_offset = log.stat().st_size if log.exists() else 0
        self.host = procs.host(self.state, self.settings_file, self.host_json,
                               clock_offset_s=self.clock_offset)
        self.host.start()

    def stop(self) -> None:
        for child in (self.host, self.host2, self.emulator):
            if child is not None:
                child.stop(45.0)
        if self.proxy is not None:
            self.proxy.close()
        if not self.azurite.running:
            self.events.errors.append("Azurite died during the run; see azurite.log")
        (self.state / "azurite.log").write_text(self.azurite.output() + "\n", encoding="utf-8")
        self.azurite.stop()

    def container(self) -> ContainerClient:
        return ContainerClient.from_connection_string(
            self.azurite.connection_string, DROP_CONTAINER, connection_timeout=5,
            read_timeout=30)

    def admin(self, path: str, post: Any = None) -> Any:
        assert self.emulator is not None
        info = self.emulator.info
        with requests.Session() as session:
            session.trust_env = False
            session.verify = info["ca_cert"]
            url = f"{info['admin_base']}{path}"
            answer = session.get(url, timeout=30) if post is None else \
                session.post(url, json=post, timeout=30)
            answer.raise_for_status()
            return answer.json()

    def eventgrid_deliveries(self) -> tuple[list[str], list[str]]:
        """The first host's ``BlobDeleted`` deliveries not made yet and those dead-lettered, by
        subject (the second host watches nothing)."""
        return deliveries_on_disk(self.state / "host" / "watcher.json")

    def work_queue(self) -> QueueClient:
        assert self.host is not None
        return QueueClient.from_connection_string(
            self.azurite.connection_string, QUEUE_PREFIX + self.host.info["host_id"])

    # -- disruptions ------------------------------------------------------------------------

    def restart_azurite(self) -> None:
        logger.info("disruption: stopping Azurite (persistent location)")
        self.events.azurite_down = datetime.now()
        self.azurite.restart()
        self.events.azurite_up = datetime.now()
        logger.info("disruption: Azurite is back on the same ports")

    def stall_table(self, seconds: float, held_ms: int) -> None:
        """Hold the next upload at the photo API for ``held_ms``, and once it is held (its
        invocation has claimed the user and written its intent), stop the state table from
        answering for ``seconds``: every renewal fails, and the held upload lands after its
        caller stopped waiting for the answer (its time budget is shorter)."""
        assert self.proxy is not None
        held = self.hold({"delay_ms": held_ms, "method": "PATCH", "target": "api"})
        self.events.stalled_upload_held = held
        if not held:
            self.events.errors.append("no upload was in flight when the state table stalled")
        self.events.table_stalled = datetime.now()
        self.proxy.stall(seconds)
        self.events.table_back = datetime.now()
        # the held upload is answered now (too late for its caller): before anything else
        procs.wait_until(lambda: self.admin("/stats")["delayed"] == 0,
                         held_ms / 1000 + 15.0, 0.2)

    def hold(self, step: dict[str, Any]) -> bool:
        """Put ``step`` (as the emulator spells it back) first in the emulator's fault script
        (the next matching upload is held, whatever scripted faults remain) and let HR's uploads
        go on; whether an upload took it within a minute. (The emulator's "delayed" count is no
        sign: latency spikes count too.)"""
        pending = self.admin("/faults")["script"]
        self.admin("/faults", {"script": [step, *pending]})
        self.resume()
        try:
            return procs.wait_until(lambda: step not in self.admin("/faults")["script"], 60.0,
                                    0.05)
        finally:
            self.pause()  # what is left is for the next disruption

    def hold_upload_in(self, host: str, owner: Callable[[str], str | None],
                       held_ms: int) -> list[str]:
        """Hold the next upload of ``host`` (``host`` or ``host2``: each signs in as its own
        app registration) at the photo API for ``held_ms``. The blobs ``host`` has in flight,
        the held one first; empty when none of its uploads came within a minute."""
        if not self.hold({"delay_ms": held_ms, "method": "PATCH", "target": "api",
                          "app": self.apps[host]}):
            return []
        held = {key.split("/", 1)[1] for key in self.admin("/stats")["inFlight"]}
        upns = {str(u["userPrincipalName"]).lower() for u in self.admin("/users")["value"]
                if u["id"] in held}
        log = self.state / f"{host}.log"
        offset = self.host_log_offset if host == "host" else 0
        procs.wait_until(lambda: bool(in_flight(log, offset)), 20.0, 0.05)
        return sorted(in_flight(log, offset), key=lambda n: owner(n) not in upns)

    def freeze_host(self, seconds: float, owner: Callable[[str], str | None]) -> None:
        """Freeze the first host (SIGSTOP) for ``seconds`` while one of its uploads is out:
        nothing of it runs, its claims go unrenewed and lapse, and when it runs again it finds
        its upload answered after its claim ended (the photo is marked unknown, the drop
        decided again). Meanwhile the second host goes on, and takes the lapsed claims: at
        least the frozen upload's, whose blob is delivered again (``deliver_again``)."""
        assert self.host is not None
        running = self.hold_upload_in("host", owner, 3000)
        self.events.host_frozen = bool(running)
        if not running:
            self.events.errors.append("the host had no upload out to freeze it with")
            return
        logger.info("disruption: the host is frozen for %.0f s (uploading %s)", seconds,
                    running[0])
        self.events.frozen = datetime.now()
        self.host.freeze()
        self.deliver_again(running[0])
        time.sleep(max(0.0, seconds - (datetime.now() - self.events.frozen).total_seconds()))
        self.host.thaw()
        self.events.thawed = datetime.now()
        logger.info("disruption: the host runs again")

    def deliver_again(self, name: str) -> None:
        """Event Grid delivers at least once: a second delivery of the blob ``name`` goes into
        the hosts' shared work queue. Sent only while the first host is frozen (a host drops a
        duplicate of what it is running itself), so the second host takes it, waits out the
        frozen holder's claim and takes it over: the frozen upload surely outlives its claim,
        whatever other drops happen to be queued for that user."""
        assert self.host is not None
        try:
            etag = str(self.container().get_blob_client(name).get_blob_properties().etag)
            store = BlobTriggerStore(self.azurite.connection_string, self.host.info["host_id"])
            store.enqueue(BlobWorkItem(function_id(SYNC_FUNCTION), DROP_CONTAINER, name, etag))
        except AzureError as exc:
            self.events.errors.append(f"the frozen upload's blob could not be delivered again: "
                                      f"{type(exc).__name__}")

    def edit_mapping(self, hr: Uploaders, deadline: float) -> None:
        """Once every HR id drop of the first phase has an outcome, give the ids to others
        and add a new hire; the second phase's drops wait for it."""
        first = [r for r in hr.records if r.drop.phase == 0]
        names = {r.drop.name for r in first}

        def first_phase_done() -> bool:
            if not all(r.uploaded for r in first):
                return False
            try:
                tagged = {b.name for b in self.container().list_blobs(include=["tags"])
                          if TAG_STATUS in (b.tags or {})}
            except AzureError:
                return False
            return names <= tagged

        if not procs.wait_until(first_phase_done, max(0.0, deadline - time.monotonic()), 1.0):
            self.events.errors.append("the HR id drops before the mapping edit never all had "
                                      "an outcome")
        self.put_mapping(self.plan.mapping[1])
        self.events.mapping_edited = datetime.now()
        logger.info("the mapping file was edited: HR ids re-pointed, one added")
        time.sleep(1.1)  # the next drops are a storage second younger than the edit
        hr.mapping_edited.set()

    def kill_host(self, downtime: float, hr: Uploaders) -> None:
        """Kill the host while one of its uploads is in flight (held for 10 s at the photo
        API, so its invocation surely holds a user's claim); while it is down, HR re-uploads
        (same bytes, new version) two of the blobs that were in flight, that one first (none
        by HR id: ``Uploaders.redrop``), so their redeliveries find the blob changed and the
        dead claims in their way. With only HR ids' blobs in flight, the held upload is let go
        and the next one held instead (a few times at most)."""
        assert self.host is not None
        self.events.script_done_before_kill = not self.admin("/faults")["script"]
        running: list[str] = []
        for _ in range(KILL_HOLDS):
            running = self.hold_upload_in("host", hr.owner, 10000)
            if not running or any(hr.redroppable(name) for name in running):
                break
            self.admin("/release", {})
        if not running:
            self.events.errors.append("the host had nothing in flight when it was killed")
        self.events.killed_in_flight = len(running)
        logger.info("disruption: SIGKILL to the host (pid %d, %d invocation(s) in flight)",
                    self.host.pid, len(running))
        self.host.kill()
        self.events.host_killed = down = datetime.now()
        self.admin("/release", {})
        for name in running:
            if len(self.events.redropped) < 2 and hr.redrop(name) is not None:
                self.events.redropped.append(name)
        # drops made while it is down are found by the watcher's re-scan at start
        time.sleep(max(0.0, downtime - (datetime.now() - down).total_seconds()))
        self.start_host()
        self.events.host_up = datetime.now()
        logger.info("disruption: the host is running again (same state folder, same host id)")


def disrupt(stack: Stack, hr: Uploaders, marks: list[threading.Event], deadline: float,
            config: SoakConfig) -> None:
    first, middle, second = marks
    try:
        if config.restart_azurite and first.wait(max(0.0, deadline - time.monotonic())):
            stack.restart_azurite()
        if config.kill_host and middle.wait(max(0.0, deadline - time.monotonic())):
            stack.kill_host(downtime=2.0, hr=hr)
            hr.resume()
        if config.stall_table_s and second.wait(max(0.0, deadline - time.monotonic())):
            stack.stall_table(config.stall_table_s, config.stalled_upload_ms)
        if config.freeze_s and second.wait(max(0.0, deadline - time.monotonic())):
            stack.freeze_host(config.freeze_s, hr.owner)
    except Exception as exc:  # reported as a failed check, never swallowed
        logger.exception("disruption failed")
        stack.events.errors.append(f"disruption failed: {type(exc).__name__}: {exc}")
    finally:
        hr.resume()


def drop_all(stack: Stack, plan: Plan, config: SoakConfig, deadline: float) -> Uploaders:
    total = sum(1 for d in plan.drops if not d.deletion)
    marks = [threading.Event() for _ in range(3)]  # a third, half, two thirds of the drops
    # Before a disruption that needs an upload in flight, HR pauses until it is ready.
    paused = (False, config.kill_host, bool(config.stall_table_s or config.freeze_s))

    def on_upload(count: int) -> None:
        for mark, share, pause in zip(marks, (1 / 3, 1 / 2, 2 / 3), paused, strict=True):
            if count >= share * total and not mark.is_set():
                if pause:
                    hr.pause()
                mark.set()

    hr = Uploaders(plan, stack.azurite.connection_string, DROP_CONTAINER,
                   threads=config.uploaders, rate=config.rate, deadline=deadline,
                   on_upload=on_upload)
    stack.pause, stack.resume = hr.pause, hr.resume
    disruptor = threading.Thread(target=disrupt, name="disruptor", daemon=True,
                                 args=(stack, hr, marks, deadline, config))
    editor = threading.Thread(target=guarded_edit, name="mapping-editor", daemon=True,
                              args=(stack, hr, deadline))
    disruptor.start()
    editor.start()
    try:
        hr.run()
    finally:
        hr.resume()
    for mark in marks:
        mark.set()  # a short run still gets every disruption, after its last drop
    disruptor.join(max(0.0, deadline - time.monotonic()) + 60.0)
    editor.join(max(0.0, deadline - time.monotonic()) + 5.0)
    return hr


def guarded_edit(stack: Stack, hr: Uploaders, deadline: float) -> None:
    try:
        stack.edit_mapping(hr, deadline)
    except Exception as exc:  # reported as a failed check, never swallowed
        logger.exception("the mapping edit failed")
        stack.events.errors.append(f"mapping edit failed: {type(exc).__name__}: {exc}")
        hr.mapping_edited.set()
