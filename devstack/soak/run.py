"""Running one soak: start the stack, drop, disrupt, settle, observe, stop.

Azurite runs with a persistent location in the state folder; the emulator and the functions
host are subprocesses (logs: ``emulator.log``, ``host.log``). At a third of the drops Azurite
is restarted (``Azurite.restart()``: same ports, same data); at two thirds the host is killed
with SIGKILL while an upload is in flight, HR re-drops the blobs it was working on, and the
host is started again with the same state folder, so the same host id and the same durable
work queue in Azurite. Everything is bounded by the overall deadline; processes are stopped in
``finally``.
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
from azure.core.exceptions import ResourceExistsError
from azure.storage.blob import ContainerClient
from azure.storage.queue import QueueClient

from devstack.azurite import Azurite
from devstack.host.blob_queue import QUEUE_PREFIX
from devstack.soak import procs as procs
from devstack.soak.checks import Observed
from devstack.soak.drops import DropRecord, Uploaders
from devstack.soak.logs import in_flight
from devstack.soak.plan import Plan
from devstack.stack import DROP_CONTAINER

logger = logging.getLogger("devstack.soak")
_OWNED = ("azurite", "azurite.log", "host", "emulator.log", "host.log", "soak.log",
          "directory.json", "local.settings.json", "host.json", "fault-script.json")


@dataclass
class Events:
    azurite_down: datetime | None = None
    azurite_up: datetime | None = None
    host_killed: datetime | None = None
    host_up: datetime | None = None
    killed_in_flight: int = 0
    script_done_before_kill: bool = False
    redropped: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def outages(self) -> list[tuple[datetime, datetime]]:
        if self.azurite_down is None:
            return []
        return [(self.azurite_down, self.azurite_up or datetime.now())]


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
                 script: list[dict[str, Any]], token_lifetime: int, function_timeout: int) -> None:
        self.state, self.plan, self.settings = state, plan, settings
        self.faults, self.script, self.token_lifetime = faults, script, token_lifetime
        self.function_timeout = function_timeout
        self.azurite = Azurite(location=state / "azurite")
        self.emulator: procs.Child | None = None
        self.host: procs.Child | None = None
        self.host_log_offset = 0
        self.events = Events()
        self.settings_file = self.host_json = Path()

    def start(self) -> None:
        self.azurite.start()
        self.emulator = procs.emulator(self.state, self.state / "directory.json", self.faults,
                                       self.plan.seed, self.token_lifetime, self.script)
        info = self.emulator.start()
        self.settings_file, self.host_json = procs.write_app_files(
            self.state, self.azurite.connection_string, info, self.settings,
            self.function_timeout)
        with contextlib.suppress(ResourceExistsError):
            self.container().create_container()
        self.start_host()

    def start_host(self) -> None:
        log = self.state / "host.log"
        self.host_log_offset = log.stat().st_size if log.exists() else 0
        self.host = procs.host(self.state, self.settings_file, self.host_json)
        self.host.start()

    def stop(self) -> None:
        for child in (self.host, self.emulator):
            if child is not None:
                child.stop(45.0)
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

    def kill_host(self, downtime: float, redrop: Callable[[str], object],
                  owner: Callable[[str], str | None]) -> None:
        """Kill the host while an upload is in flight (the next PATCH is held for 10 s by a
        script step, so some invocation surely holds a user's claim); while it is down, HR
        re-uploads (same bytes, new version) that blob and at most one other that was in
        flight, so their redeliveries find the blob changed and the dead claims in their way."""
        assert self.host is not None
        log = self.state / "host.log"
        pending = self.admin("/faults")["script"]
        self.events.script_done_before_kill = not pending
        self.admin("/faults", {"script": [*pending, {"delay_ms": 10000, "method": "PATCH"}]})
        procs.wait_until(lambda: self.admin("/stats")["delayed"] > 0, 20.0, 0.1)
        held = {key.split("/", 1)[1] for key in self.admin("/stats")["inFlight"]}
        upns = {str(u["userPrincipalName"]).lower() for u in self.admin("/users")["value"]
                if u["id"] in held}
        busy = procs.wait_until(lambda: bool(in_flight(log, self.host_log_offset)), 20.0, 0.05)
        running = sorted(in_flight(log, self.host_log_offset), key=lambda n: owner(n) not in upns)
        self.events.killed_in_flight = len(running)
        if not busy:
            self.events.errors.append("the host had nothing in flight when it was killed")
        logger.info("disruption: SIGKILL to the host (pid %d, %d invocation(s) in flight)",
                    self.host.pid, len(running))
        self.host.kill()
        self.events.host_killed = down = datetime.now()
        self.admin("/release", {})
        for name in running[:2]:
            if redrop(name) is not None:
                self.events.redropped.append(name)
        # drops made while it is down are found by the watcher's re-scan at start
        time.sleep(max(0.0, downtime - (datetime.now() - down).total_seconds()))
        self.start_host()
        self.events.host_up = datetime.now()
        logger.info("disruption: the host is running again (same state folder, same host id)")


def disrupt(stack: Stack, hr: Uploaders, first: threading.Event, second: threading.Event,
            deadline: float, azurite: bool, host: bool) -> None:
    try:
        if azurite and first.wait(max(0.0, deadline - time.monotonic())):
            stack.restart_azurite()
        if host and second.wait(max(0.0, deadline - time.monotonic())):
            stack.kill_host(downtime=2.0, redrop=hr.redrop, owner=hr.owner)
    except Exception as exc:  # reported as a failed check, never swallowed
        logger.exception("disruption failed")
        stack.events.errors.append(f"disruption failed: {type(exc).__name__}: {exc}")


def drop_all(stack: Stack, plan: Plan, *, uploaders: int, rate: float, deadline: float,
             azurite: bool, host: bool) -> Uploaders:
    total = len(plan.drops)
    first, second = threading.Event(), threading.Event()

    def on_upload(count: int) -> None:
        if count >= total / 3:
            first.set()
        if count >= 2 * total / 3:
            second.set()

    hr = Uploaders(plan, stack.azurite.connection_string, DROP_CONTAINER, threads=uploaders,
                   rate=rate, deadline=deadline, on_upload=on_upload)
    disruptor = threading.Thread(target=disrupt, name="disruptor", daemon=True,
                                 args=(stack, hr, first, second, deadline, azurite, host))
    disruptor.start()
    hr.run()
    first.set()
    second.set()  # a short run still gets both disruptions, after its last drop
    disruptor.join(max(0.0, deadline - time.monotonic()) + 60.0)
    return hr
