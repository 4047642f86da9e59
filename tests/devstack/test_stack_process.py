"""``python -m devstack run`` as a process: SIGTERM stops the whole stack, Azurite included."""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.devstack.conftest import REPO_ROOT
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

READY = "the stack keeps running"


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_sigterm_stops_the_stack_and_azurite_with_it(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PHOTO_", "PhotoStorage", "AzureWebJobs"))}
    process = subprocess.Popen(
        [sys.executable, "-m", "devstack", "--state-dir", str(tmp_path), "run"],
        cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue[str] = queue.Queue()
    assert process.stdout is not None
    stdout = process.stdout

    def pump() -> None:
        for line in stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    seen: list[str] = []
    try:
        while not any(READY in line for line in seen):
            seen.append(lines.get(timeout=180))
        stack = json.loads((tmp_path / "stack.json").read_text())
        blob_endpoint = next(part.split("=", 1)[1]
                             for part in stack["connection_string"].split(";")
                             if part.startswith("BlobEndpoint="))
        port = urlsplit(blob_endpoint).port
        assert port is not None and _listening(port)

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=120) == 0, "".join(seen)
        wait_for(lambda: not _listening(port), what="Azurite to stop with the stack")
        assert not (tmp_path / "stack.json").exists()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
