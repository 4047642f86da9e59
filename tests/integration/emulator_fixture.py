"""Start the devstack emulator as a real subprocess for integration tests.

``start_emulator(tmp_path, *extra_args)`` is a context manager yielding the emulator's start-up
JSON (plus ``log_file``, the path of its stderr log, so tests can search logs for leaked
secrets). The session-scoped ``emulator`` fixture shares one instance; tests that change its
state should call ``reset(info)`` first (the function-scoped ``emu`` fixture does that).

Use from a test module with ``pytest_plugins = ["tests.integration.emulator_fixture"]`` (or
import the names you need). Remember that ``REQUESTS_CA_BUNDLE`` overrides ``Session.verify``
unless ``trust_env`` is off: ``emulator_session(info)`` builds a session that trusts the
emulator's CA and nothing from the environment.

PYTEST_DONT_REWRITE: test modules import helpers from here before pytest loads it as a plugin.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.waiting import wait_for

REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 90.0  # it makes a CA and signing keys first: slow on a busy machine


class EmulatorInfo(dict[str, Any]):
    """The start-up JSON as a plain dict (JSON-serialisable), plus the ``process`` handle."""

    process: subprocess.Popen[str]


def _read_first_line(proc: subprocess.Popen[str], log_file: Path, timeout: float) -> str:
    assert proc.stdout is not None
    lines: queue.Queue[str] = queue.Queue()
    stdout = proc.stdout
    threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()

    def probe() -> str | None:
        try:
            line = lines.get_nowait()
        except queue.Empty:
            line = None
        if line:
            return line
        if proc.poll() is not None or line == "":
            raise RuntimeError(
                f"emulator exited with {proc.poll()} before it was ready; its stderr:\n"
                + log_file.read_text(encoding="utf-8", errors="replace")
            )
        return None

    try:
        return wait_for(probe, timeout=timeout, interval=0.01,
                        what="the emulator's start-up line")
    except TimeoutError:
        proc.kill()
        raise RuntimeError(
            "emulator printed no start-up line in time; its stderr:\n"
            + log_file.read_text(encoding="utf-8", errors="replace")
        ) from None


@contextlib.contextmanager
def start_emulator(tmp_path: Path, *extra_args: str) -> Iterator[EmulatorInfo]:
    """Run ``python -m devstack.emulator --port 0 --state-dir <tmp_path>/emulator`` (extra
    arguments come last, so they can override both) and yield its start-up JSON."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    log_file = tmp_path / f"emulator-{time.monotonic_ns()}.log"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
    args = [sys.executable, "-m", "devstack.emulator", "--port", "0",
            "--state-dir", str(tmp_path / "emulator"), *extra_args]
    with open(log_file, "w", encoding="utf-8") as stderr:
        proc = subprocess.Popen(
            args, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True,
        )
    try:
        info = EmulatorInfo(json.loads(_read_first_line(proc, log_file, START_TIMEOUT_S)))
        info["log_file"] = str(log_file)
        info.process = proc
        yield info
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def emulator_session(info: dict[str, Any]) -> requests.Session:
    """A session that trusts exactly the emulator's CA (ignoring REQUESTS_CA_BUNDLE)."""
    session = requests.Session()
    session.trust_env = False
    session.verify = info["ca_cert"]
    return session


def reset(info: dict[str, Any]) -> None:
    """Restore the emulator's start-up directory and faults; clear uploads, tokens, stats."""
    with emulator_session(info) as s:
        s.post(f"{info['admin_base']}/reset", timeout=10).raise_for_status()


def client_token(
    info: dict[str, Any], *, client_id: str | None = None, secret: str | None = None,
    resource: str = "https://graph.microsoft.com",
) -> str:
    """An app token by plain client credentials (no MSAL), for tests of the photo APIs."""
    with emulator_session(info) as s:
        r = s.post(info["token_endpoint"], data={
            "grant_type": "client_credentials",
            "client_id": client_id or info["client_id"],
            "client_secret": secret or info["client_secret"],
            "scope": f"{resource}/.default",
        }, timeout=10)
    r.raise_for_status()
    return str(r.json()["access_token"])


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorInfo]:
    """One emulator subprocess (demo directory) shared by the whole test session."""
    with start_emulator(tmp_path_factory.mktemp("emulator")) as info:
        yield info


@pytest.fixture
def emu(emulator: dict[str, Any]) -> dict[str, Any]:
    """The shared emulator, reset to its start-up state for this test."""
    reset(emulator)
    return emulator
