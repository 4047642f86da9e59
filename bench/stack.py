"""The local stack for benchmarks, each part in its own process, as in production.

``devstack.stack.LocalStack`` runs the emulator and the functions host as threads of the calling
process; for throughput that would put the load generator, the emulator and the app under one
GIL. Here Azurite (node), the emulator and the host are separate processes, so on 2 cores the
measurement is of photo-sync, not of the harness. The emulator gets a directory of its own
(``users`` mailboxes) and the requested latency and limits; the host runs ``function_app.py``
with the repository's ``host.json`` (so ``extensions.blobs.maxDegreeOfParallelism`` is the
product's) and without the watcher: the benchmark delivers Event Grid events itself, in batches
of 100, as Event Grid does.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests

from bench.common import PYTHON, REPO

if TYPE_CHECKING:
    from devstack.azurite import Azurite

DROP_CONTAINER = "hr-photos"
TENANT = "d0d0cafe-0000-4000-8000-000000000000"
APP_ID = "d0d0cafe-00a0-4000-8000-000000000001"
APP_SECRET = "demo~secret~photo-sync-app"  # noqa: S105 - the emulator's published demo value


def upn(index: int) -> str:
    return f"user{index:04d}@contoso.com"


def user_id(index: int) -> str:
    return f"d0d0cafe-0b00-4000-8000-{index:012d}"


def directory(users: int, photos: bool = False) -> dict[str, Any]:
    """A tenant with ``users`` mailboxes and the demo app (client secret + certificate); user 0
    has a photo, every user does with ``photos``."""
    return {
        "tenant": TENANT,
        "users": [
            {"id": user_id(i), "userPrincipalName": upn(i), "mail": upn(i),
             "displayName": f"User {i}", "employeeId": None, "hasMailbox": True,
             "photo": {"width": 240, "height": 240, "color": "#2f6fb0"}
             if i == 0 or photos else None}
            for i in range(users)
        ],
        "applications": [
            {"clientId": APP_ID, "displayName": "photo-sync (bench)", "secrets": [APP_SECRET],
             "certificates": ["demo"], "managedIdentity": False,
             "roles": ["ProfilePhoto.ReadWrite.All", "User.ReadBasic.All"]},
        ],
    }


def _read_json_line(proc: subprocess.Popen[str], what: str, timeout: float = 60.0
                    ) -> dict[str, Any]:
    assert proc.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} before it was ready")
        if selector.select(timeout=0.2):
            line = proc.stdout.readline()
            if line.strip().startswith("{"):
                selector.close()
                return dict(json.loads(line))
    raise RuntimeError(f"{what} did not start within {timeout:.0f} s")


def _stop(proc: subprocess.Popen[str] | None, timeout: float = 20.0) -> None:
    from devstack.procs import terminate

    terminate(proc, timeout, kill_wait=5)


@dataclass
class BenchStack:
    """Azurite + emulator + functions host, each a process of its own."""

    users: int = 8
    photos: bool = False
    latency_ms: int = 0
    concurrency_limit: int = 4
    extra_settings: dict[str, str] = field(default_factory=dict)
    host: bool = True
    azurite_debug: bool = False  # Azurite logs every request to ``azurite_log`` (and runs slower)
    traced: bool = False  # the host runs under bench.hosted, timing each drop's steps
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="photo-bench-")))

    def __post_init__(self) -> None:
        self.azurite: Azurite | None = None
        self.emulator_proc: subprocess.Popen[str] | None = None
        self.host_proc: subprocess.Popen[str] | None = None
        self.emulator: dict[str, Any] = {}
        self.host_info: dict[str, Any] = {}
        self.connection_string = ""
        self._logs: list[IO[str]] = []

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> BenchStack:
        """Start every part; if one fails, stop the ones already running before raising."""
        from devstack.azurite import Azurite

        try:
            self.azurite = Azurite(location=self.workdir / "azurite",
                                   debug_log=self.azurite_log if self.azurite_debug else None)
            self.azurite.start()
            self.connection_string = self.azurite.connection_string
            self.start_emulator()
            _create_container(self.connection_string, DROP_CONTAINER)
            if self.host:
                self.start_host()
        except BaseException:
            self.stop()
            raise
        return self

    def start_emulator(self) -> None:
        dir_file = self.workdir / "directory.json"
        dir_file.write_text(json.dumps(directory(self.users, self.photos)))
        log = open(self.workdir / "emulator.log", "w")  # noqa: SIM115 - closed in stop()
        self._logs.append(log)
        self.emulator_proc = subprocess.Popen(
            [str(PYTHON), "-m", "devstack.emulator", "--state-dir",
             str(REPO / ".devstack" / "bench-emulator"), "--directory", str(dir_file),
             "--latency-ms", str(self.latency_ms),
             "--concurrency-limit", str(self.concurrency_limit), "--log-level", "WARNING"],
            cwd=REPO, stdout=subprocess.PIPE, stderr=log, text=True)
        self.emulator = _read_json_line(self.emulator_proc, "the emulator")

    def settings(self) -> dict[str, str]:
        from devstack.stack import local_settings_values

        values = local_settings_values(self.connection_string, self.emulator)
        values.update(self.extra_settings)
        return values

    def start_host(self) -> None:
        settings = self.workdir / "local.settings.json"
        settings.write_text(json.dumps({"IsEncrypted": False, "Values": self.settings()}))
        log = open(self.workdir / "host.log", "w")  # noqa: SIM115 - closed in stop()
        self._logs.append(log)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PHOTO_")}
        module = "devstack.host"
        if self.traced:
            module = "bench.hosted"
            env["BENCH_TRACE"] = str(self.trace_file)
            env["BENCH_API_PORTS"] = str(urlsplit(self.emulator["graph_base"]).port)
        self.host_proc = subprocess.Popen(
            [str(PYTHON), "-m", module, "--settings", str(settings),
             "--host-json", str(REPO / "host.json"), "--port", "0",
             "--state-dir", str(self.workdir / "host"), "--no-watch"],
            cwd=REPO, stdout=subprocess.PIPE, stderr=log, text=True, env=env)
        self.host_info = _read_json_line(self.host_proc, "the functions host", timeout=90)

    def stop(self) -> None:
        _stop(self.host_proc)
        _stop(self.emulator_proc)
        if self.azurite is not None:
            self.azurite.stop()
        for log in self._logs:
            log.close()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> BenchStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def trace_file(self) -> Path:
        """Where a traced host writes its steps (``bench.hosted``)."""
        return self.workdir / "host-trace.jsonl"

    @property
    def azurite_log(self) -> Path:
        return self.workdir / "azurite-debug.log"

    def cpu(self) -> dict[str, float]:
        """CPU seconds used so far by each part of the stack."""
        from bench.common import cpu_seconds, tree_pids

        parts: dict[str, float] = {}
        azurite_proc = getattr(self.azurite, "_process", None)
        for name, proc in (("host", self.host_proc), ("emulator", self.emulator_proc),
                           ("azurite", azurite_proc)):
            if proc is not None:
                parts[name] = round(sum(cpu_seconds(p) for p in tree_pids(proc.pid)), 3)
        return parts

    # -- helpers ----------------------------------------------------------------------------

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        with self.emulator_session() as session:
            resp = session.request(method, self.emulator["admin_base"] + path, json=body,
                                   timeout=30)
            resp.raise_for_status()
            return resp.json() if resp.content else None

    def emulator_session(self) -> requests.Session:
        session = requests.Session()
        session.trust_env = False
        session.verify = self.emulator["ca_cert"]
        return session

    def host_session(self) -> requests.Session:
        session = requests.Session()
        session.trust_env = False
        return session

    def lookup_url(self, user: str) -> str:
        return f"{self.host_info['api_url']}users/{user}/photo"

    @property
    def lookup_key(self) -> str:
        return str(self.host_info["function_keys"]["photo_lookup"])

    def webhook(self) -> str:
        return str(self.host_info["webhook_url"]["sync_photo"])


def _create_container(connection_string: str, name: str) -> None:
    from azure.core.exceptions import ResourceExistsError
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient.from_connection_string(connection_string)
    with contextlib.suppress(ResourceExistsError):
        service.create_container(name)
