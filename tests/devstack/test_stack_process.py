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
from tests.photos import jpeg
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
        _the_printed_commands_work_as_printed(seen, tmp_path)
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


def _the_printed_commands_work_as_printed(output: list[str], workdir: Path) -> None:
    """Every command the banner prints runs, pasted into a shell in the folder ``make run`` ran
    in, against the running stack: the export line first, then each curl (its HTTP status
    added to what it prints) and the devstack commands, with the interpreter they name. The
    files they name are put in ``workdir``."""
    lines = [line.strip() for line in output]
    exports = [line for line in lines if line.startswith("export ")]
    assert len(exports) == 1, output
    commands = [line for line in lines if line.startswith(("curl ", "../", "/", ".venv"))]
    curls = [c for c in commands if c.startswith("curl ")]
    assert len(curls) == 4, output
    photo = workdir / "me.jpg"
    photo.write_bytes(jpeg("#336699", (320, 320)))
    for command in commands:
        script = command.replace("~/Pictures/me.jpg", str(photo)).replace(
            "-o adele.jpg", f"-o {workdir / 'adele.jpg'}")
        if script.startswith("curl "):
            script += " -w ' HTTP %{http_code}'"
        ran = subprocess.run(["bash", "-c", f"{exports[0]}\n{script}"], cwd=REPO_ROOT,
                             capture_output=True, text=True, timeout=120, check=False)
        assert ran.returncode == 0, (command, ran.stderr)
        if command.startswith("curl "):
            status = int(ran.stdout.rsplit("HTTP ", 1)[1])
            assert status in (200, 202), (command, ran.stdout)
    assert (workdir / "adele.jpg").read_bytes()[:2] == b"\xff\xd8"
    assert all("python -m devstack" not in line or line.split()[0].endswith("python")
               for line in lines if "-m devstack" in line)
