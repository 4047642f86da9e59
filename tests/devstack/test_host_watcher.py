"""The watcher: new Azurite blobs become webhook deliveries; drops made while down are not lost."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from devstack.azurite import Azurite
from devstack.host import RunningHost
from tests.devstack.conftest import AppFiles, start_sample_host, write_app_files
from tests.waiting import wait_for

pytestmark = pytest.mark.integration


def _start(files: AppFiles, host_id: str | None = None) -> RunningHost:
    return start_sample_host(files, watch=True, watch_interval=0.1, host_id=host_id)


def test_an_upload_becomes_an_invocation(app_files: AppFiles) -> None:
    with _start(app_files):
        name = f"{uuid.uuid4().hex}@contoso.com.jpg"
        app_files.drops().upload_blob(name, b"watched", tags={"k": "v"})
        [seen] = wait_for(lambda: app_files.records("drop", name))
        assert seen["tags"] == {"k": "v"}
        stream = f"in/{uuid.uuid4().hex}.txt"
        streams = app_files.blobs().get_container_client("sample-streams")
        if not streams.exists():
            streams.create_container()
        streams.upload_blob(stream, b"via watcher")
        wait_for(lambda: app_files.records("stream", f"sample-streams/{stream}"))


def test_drops_made_while_the_host_was_down_are_delivered_once(app_files: AppFiles) -> None:
    before = f"{uuid.uuid4().hex}.jpg"
    with _start(app_files) as host:
        app_files.drops().upload_blob(before, b"while up")
        wait_for(lambda: app_files.records("drop", before))
        wait_for(lambda: host.blob_backlog() == 0)
    remembered = json.loads((app_files.state_dir / "watcher.json").read_text())
    assert remembered["version"] == 2
    assert before in remembered["delivered"]["OnDrop"]

    during = f"{uuid.uuid4().hex}.jpg"
    app_files.drops().upload_blob(during, b"while down")
    with _start(app_files) as host:
        wait_for(lambda: app_files.records("drop", during))
        wait_for(lambda: host.blob_backlog() == 0)
    assert len(app_files.records("drop", before)) == 1
    assert len(app_files.records("drop", during)) == 1


def test_a_fresh_state_folder_relies_on_receipts(app_files: AppFiles) -> None:
    """Without the watcher's memory, blob receipts still keep processed blobs from rerunning."""
    name = f"{uuid.uuid4().hex}.jpg"
    with _start(app_files, "receipts-test") as host:
        app_files.drops().upload_blob(name, b"x")
        wait_for(lambda: app_files.records("drop", name))
        wait_for(lambda: host.blob_backlog() == 0)
    (app_files.state_dir / "watcher.json").unlink()
    with _start(app_files, "receipts-test") as host:
        wait_for(lambda: (app_files.state_dir / "watcher.json").exists())
        wait_for(lambda: host.blob_backlog() == 0)
    assert len(app_files.records("drop", name)) == 1


def test_the_host_survives_an_azurite_restart(tmp_path: Path) -> None:
    with Azurite(tmp_path / "azurite") as azurite:
        files = write_app_files(tmp_path / "app", azurite)
        with _start(files) as host:
            first = f"{uuid.uuid4().hex}.jpg"
            files.drops().upload_blob(first, b"before")
            wait_for(lambda: files.records("drop", first))

            azurite.restart()

            second = f"{uuid.uuid4().hex}.jpg"
            files.drops().upload_blob(second, b"after")
            wait_for(lambda: files.records("drop", second), timeout=90)
            wait_for(lambda: host.blob_backlog() == 0)
            assert len(files.records("drop", first)) == 1
