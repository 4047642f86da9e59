"""Fixtures for the local host's tests: one real Azurite per module, the sample app's files.

Each test gets its own state folder (so its own keys, host id and therefore its own work
queue) and its own drop container, so tests sharing an Azurite never see each other's work.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import BlobServiceClient, ContainerClient
from azure.storage.queue import QueueClient, TextBase64DecodePolicy

from devstack.azurite import Azurite
from devstack.host import RunningHost, start_host
from devstack.host.eventgrid import blob_created_event

SAMPLE_APP = "tests.devstack.sample_app:app"
REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class AppFiles:
    settings: Path
    host_json: Path
    state_dir: Path
    drop_container: str
    connection_string: str

    def blobs(self) -> BlobServiceClient:
        return BlobServiceClient.from_connection_string(self.connection_string)

    def drops(self) -> ContainerClient:
        return self.blobs().get_container_client(self.drop_container)

    def records(self, kind: str, name: str) -> list[dict[str, Any]]:
        """What the sample app recorded for ``kind`` ("drop", "attempt", ...) and blob name."""
        results = self.blobs().get_container_client("sample-results")
        if not results.exists():
            return []
        return [json.loads(results.download_blob(b.name).readall())
                for b in results.list_blobs(name_starts_with=f"{kind}/{name}/")]

    def poison_messages(self) -> list[dict[str, Any]]:
        queue = QueueClient.from_connection_string(
            self.connection_string, "webjobs-blobtrigger-poison",
            message_decode_policy=TextBase64DecodePolicy())
        try:
            texts = [str(m.content) for m in queue.peek_messages(max_messages=32)]
        except ResourceNotFoundError:  # nothing was poisoned yet
            return []
        messages: list[dict[str, Any]] = []
        for text in texts:
            try:
                messages.append(json.loads(text))
            except ValueError:
                messages.append({"raw": text})
        return messages


def upload(files: AppFiles, name: str, data: bytes = b"photo bytes",
           tags: dict[str, str] | None = None, container: str | None = None) -> dict[str, Any]:
    """Upload a blob and return the BlobCreated event Event Grid would publish for it."""
    target = files.blobs().get_container_client(container or files.drop_container)
    if not target.exists():
        target.create_container()
    blob = target.upload_blob(name, data, overwrite=True, tags=tags)
    properties = blob.get_blob_properties()
    return blob_created_event(
        account="devstoreaccount1", container=target.container_name, blob_name=name,
        url=blob.url, etag=str(properties.etag), content_length=properties.size,
        content_type="image/jpeg", blob_type="BlockBlob", event_time=properties.last_modified)


@pytest.fixture(scope="module")
def azurite() -> Iterator[Azurite]:
    with Azurite() as running:
        yield running


def write_app_files(folder: Path, azurite: Azurite, *, values: dict[str, str] | None = None,
                    host: dict[str, Any] | None = None) -> AppFiles:
    """local.settings.json (Azurite connection strings) and a host.json tuned for tests."""
    drop = f"drops-{uuid.uuid4().hex[:10]}"
    folder.mkdir(parents=True, exist_ok=True)
    settings = folder / "local.settings.json"
    settings.write_text(json.dumps({
        "IsEncrypted": False,
        "Values": {
            "FUNCTIONS_WORKER_RUNTIME": "python",
            "AzureWebJobsStorage": azurite.connection_string,
            "PhotoStorage": azurite.connection_string,
            "SAMPLE_DROP_CONTAINER": drop,
            "SAMPLE_FROM_FILE": "file",
            "SAMPLE_BOTH": "file",
            **(values or {}),
        },
    }))
    host_json = folder / "host.json"
    host_json.write_text(json.dumps(host or {
        "version": "2.0",
        "functionTimeout": "00:00:05",
        "extensions": {"blobs": {"maxDegreeOfParallelism": 4, "poisonBlobThreshold": 3}},
    }))
    files = AppFiles(settings, host_json, folder / "state", drop, azurite.connection_string)
    files.drops().create_container()
    return files


@pytest.fixture
def app_files(tmp_path: Path, azurite: Azurite) -> AppFiles:
    return write_app_files(tmp_path / "app", azurite)


def start_sample_host(files: AppFiles, **options: Any) -> RunningHost:
    """The sample app's host on ``files`` (settings, host.json, state folder); ``options`` go to
    ``start_host`` as they are."""
    return start_host(SAMPLE_APP, settings=files.settings, host_json=files.host_json,
                      state_dir=files.state_dir, **options)


@pytest.fixture
def host(app_files: AppFiles) -> Iterator[RunningHost]:
    running = start_sample_host(app_files, watch=False, retry_delay=0.05)
    try:
        yield running
    finally:
        running.stop(timeout=10)
