"""``python -m devstack.host`` as a process: the ready line, SIGTERM, and a kill mid-invocation."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest
import requests
from azure.storage.queue import QueueClient

from devstack.host.eventgrid import validation_event
from tests.devstack.conftest import REPO_ROOT, SAMPLE_APP, AppFiles, upload
from tests.waiting import wait_for

pytestmark = pytest.mark.integration


class HostProcess:
    """A host subprocess; ``info`` is its ready line, its stderr goes to a file."""

    def __init__(self, files: AppFiles, log: Path, *extra: str) -> None:
        self.log = log
        env = {k: v for k, v in os.environ.items() if not k.startswith("SAMPLE_")}
        with log.open("ab") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "devstack.host", "--app", SAMPLE_APP,
                 "--settings", str(files.settings), "--host-json", str(files.host_json),
                 "--state-dir", str(files.state_dir), "--port", "0", "--no-watch",
                 "--retry-delay", "0.05", *extra],
                cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True)
        self.info = self._ready_line()

    def _ready_line(self, timeout: float = 90.0) -> dict[str, Any]:
        lines: queue.Queue[str] = queue.Queue()
        stdout: IO[str] | None = self.process.stdout
        assert stdout is not None
        threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
        try:
            line = lines.get(timeout=timeout)
        except queue.Empty:
            line = ""
        if not line:
            self.process.kill()
            raise AssertionError(f"host did not start:\n{self.log.read_text()}")
        return dict(json.loads(line))

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        code = self.process.wait(30)
        if self.process.stdout is not None:
            self.process.stdout.close()
        return code


@pytest.fixture
def hosts(app_files: AppFiles, tmp_path: Path) -> Iterator[list[HostProcess]]:
    started: list[HostProcess] = []
    yield started
    for host in started:
        host.stop(signal.SIGKILL)


def test_ready_line_and_graceful_stop(app_files: AppFiles, tmp_path: Path,
                                      hosts: list[HostProcess]) -> None:
    host = HostProcess(app_files, tmp_path / "host.log")
    hosts.append(host)
    info = host.info
    assert set(info) >= {"base_url", "master_key", "function_keys", "blobs_extension_key",
                         "webhook_url", "host_id", "eventgrid_extension_key",
                         "eventgrid_webhook_url"}
    assert info["base_url"].startswith("http://127.0.0.1:")
    assert set(info["webhook_url"]) == {"OnDrop", "on_stream"}
    assert f"code={info['blobs_extension_key']}" in info["webhook_url"]["OnDrop"]
    assert set(info["eventgrid_webhook_url"]) == {"OnEvent", "on_event_too"}
    assert info["eventgrid_webhook_url"]["OnEvent"] == (
        f"{info['base_url']}/runtime/webhooks/eventgrid?functionName=OnEvent"
        f"&code={info['eventgrid_extension_key']}")
    assert info["functions"]["OnEvent"] == "EventGridTrigger"
    handshake = requests.post(info["eventgrid_webhook_url"]["OnEvent"],
                              json=[validation_event("ready")], timeout=10,
                              headers={"aeg-event-type": "SubscriptionValidation"})
    assert handshake.json() == {"validationResponse": "ready"}
    assert requests.get(info["api_url"] + "ping", timeout=10).text == "pong"
    assert host.stop(signal.SIGTERM) == 0
    log = (tmp_path / "host.log").read_text()
    assert "Host stopped" in log
    assert info["master_key"] not in log
    assert info["eventgrid_extension_key"] not in log


def test_a_killed_host_leaves_its_work_queued_for_the_next_one(
        app_files: AppFiles, tmp_path: Path, hosts: list[HostProcess]) -> None:
    name = f"slow/{uuid.uuid4().hex}.jpg"
    event = upload(app_files, name, b"slow photo")
    first = HostProcess(app_files, tmp_path / "first.log")
    hosts.append(first)
    answer = requests.post(first.info["webhook_url"]["OnDrop"], json=[event], timeout=10)
    assert answer.status_code == 202
    wait_for(lambda: app_files.records("started", name))  # now hanging in its first attempt

    first.stop(signal.SIGKILL)
    assert app_files.records("drop", name) == []

    second = HostProcess(app_files, tmp_path / "second.log")
    hosts.append(second)
    assert second.info["host_id"] == first.info["host_id"]  # same queue
    # the message reappears once its visibility timeout (functionTimeout, 5 s) has passed; the
    # second host's start and the redelivery take far longer than that on a busy machine
    [seen] = wait_for(lambda: app_files.records("drop", name), timeout=120)
    assert seen["name"] == name
    assert second.stop(signal.SIGTERM) == 0


def test_sigterm_stops_within_bounds_and_leaves_unfinished_work_queued(
        app_files: AppFiles, tmp_path: Path, hosts: list[HostProcess]) -> None:
    name = f"slow/{uuid.uuid4().hex}.jpg"
    event = upload(app_files, name, b"slow photo")
    host = HostProcess(app_files, tmp_path / "host.log", "--stop-timeout", "1")
    hosts.append(host)
    requests.post(host.info["webhook_url"]["OnDrop"], json=[event], timeout=10)
    wait_for(lambda: app_files.records("started", name))

    # It exits by itself (stop() gives up after 30 s, long before the invocation's 60 s sleep
    # ends), and without waiting the invocation out: the drop was never finished.
    assert host.stop(signal.SIGTERM) == 0
    assert app_files.records("drop", name) == []

    queue_client = QueueClient.from_connection_string(
        app_files.connection_string, f"azure-webjobs-blobtrigger-{host.info['host_id']}")
    assert queue_client.get_queue_properties().approximate_message_count == 1
    assert "still running" in (tmp_path / "host.log").read_text()
