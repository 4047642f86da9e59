"""The soak's processes: the emulator and the functions host as subprocesses (stdout: their one
JSON line; stderr: a log file in the state folder), and the files they are started with.

Every wait is bounded; a process that does not stop on SIGTERM in time is killed. Processes
are only ever signalled by their own pid.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

from devstack.procs import terminate
from devstack.stack import REPO_ROOT, local_settings_values, write_local_settings


class SoakError(RuntimeError):
    """The soak could not set up or drive the stack (not a product failure)."""


class Child:
    """One subprocess that prints one JSON line when ready and logs to ``log_path``."""

    def __init__(self, name: str, argv: list[str], log_path: Path, env: dict[str, str]) -> None:
        self.name, self.argv, self.log_path, self.env = name, argv, log_path, env
        self.process: subprocess.Popen[str] | None = None
        self.info: dict[str, Any] = {}
        self._log: IO[str] | None = None

    def start(self, timeout: float = 60.0) -> dict[str, Any]:
        self._log = self.log_path.open("a", encoding="utf-8")
        self.process = subprocess.Popen(
            self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._log,
            cwd=REPO_ROOT, env=self.env, text=True, start_new_session=True)
        line: list[str] = []
        out = self.process.stdout
        assert out is not None
        reader = threading.Thread(target=lambda: line.append(out.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        if not line or not line[0].strip():
            self.stop(5.0)
            raise SoakError(f"{self.name} did not start within {timeout:.0f}s; see "
                            f"{self.log_path}")
        self.info = json.loads(line[0])
        return self.info

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def kill(self) -> None:
        """SIGKILL: no graceful stop, running work is abandoned mid-flight."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(10.0)
        self._close()

    def freeze(self) -> None:
        """SIGSTOP: the process stops mid-flight (its claims go unrenewed) until ``thaw``."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGCONT)

    def stop(self, timeout: float = 30.0) -> None:
        self.thaw()  # a stopped process cannot act on SIGTERM
        terminate(self.process, timeout)
        self._close()

    def _close(self) -> None:
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()
        if self._log is not None:
            self._log.close()
            self._log = None


def child_env(drop: set[str]) -> dict[str, str]:
    """Our environment minus the app settings (the host lets the environment win over
    local.settings.json, so a stray PHOTO_* here would silently change the product)."""
    return {k: v for k, v in os.environ.items()
            if k not in drop and not k.startswith(("PHOTO_", "PhotoStorage", "AzureWebJobs"))}


def emulator(state: Path, directory: Path, faults: dict[str, Any], seed: int,
             token_lifetime: int, script: list[dict[str, Any]]) -> Child:
    argv = [sys.executable, "-m", "devstack.emulator", "--port", "0",
            "--state-dir", str(state / "emulator"), "--directory", str(directory),
            "--seed", str(seed), "--token-lifetime", str(token_lifetime)]
    for key, value in faults.items():
        argv += ["--" + key.replace("_", "-"), str(value)]
    if script:
        (state / "fault-script.json").write_text(json.dumps(script), encoding="utf-8")
        argv += ["--script", "@" + str(state / "fault-script.json")]
    return Child("emulator", argv, state / "emulator.log", child_env(set()))


def host(state: Path, settings: Path, host_json: Path, *, name: str = "host",
         host_id: str | None = None, clock_offset_s: float | None = None) -> Child:
    """A functions host; ``host_id`` makes it another instance of that host (the same work
    queue; it does not watch the container, the first one delivers the events), and
    ``clock_offset_s`` shifts the wall clock photo-sync reads in it."""
    module = ["-m", "devstack.host"] if clock_offset_s is None else \
        ["-m", "devstack.soak.host", "--clock-offset-s", str(clock_offset_s)]
    argv = [sys.executable, *module, "--app", "function_app:app",
            "--settings", str(settings), "--host-json", str(host_json), "--port", "0",
            "--state-dir", str(state / name)]
    if host_id is not None:
        argv += ["--host-id", host_id, "--no-watch"]
    return Child(name, argv, state / f"{name}.log", child_env(set()))


def write_app_files(state: Path, connection_string: str, emulator_info: dict[str, Any],
                    overrides: dict[str, str], function_timeout_s: int,
                    name: str = "local.settings.json") -> tuple[Path, Path]:
    """local.settings.json (the stack's values plus the soak's overrides; ``name`` for another
    host's) and host.json (the product's, with ``functionTimeout`` scaled down to the soak's
    retry budget)."""
    settings = state / name
    values = {**local_settings_values(connection_string, emulator_info), **overrides}
    write_local_settings(settings, values)
    os.chmod(settings, 0o600)  # it holds the client secret
    document = json.loads((REPO_ROOT / "host.json").read_text(encoding="utf-8"))
    minutes, seconds = divmod(function_timeout_s, 60)
    document["functionTimeout"] = f"00:{minutes:02d}:{seconds:02d}"
    host_json = state / "host.json"
    host_json.write_text(json.dumps(document, indent=2), encoding="utf-8")
    return settings, host_json


def wait_until(probe: Any, timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probe():
            return True
        time.sleep(interval)
    return bool(probe())
