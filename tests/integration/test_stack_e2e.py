"""End to end through the local stack over sockets: drop -> Event Grid delivery -> host ->
function -> emulator, and lookups through the host with function keys."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from azure.storage.blob import ContainerClient

from devstack.stack import LocalStack, StackInfo
from tests.integration.emulator_fixture import emulator_session
from tests.photos import jpeg
from tests.waiting import wait_for

pytestmark = pytest.mark.integration


class Recorder(logging.Handler):
    """Keeps every formatted log line (all loggers, DEBUG and up) for the leak check."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


RECORDER = Recorder()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    state = tmp_path_factory.mktemp("stack")
    root = logging.getLogger()
    previous = root.level
    root.addHandler(RECORDER)
    root.setLevel(logging.DEBUG)
    try:
        with LocalStack(state, settings_file=state / "local.settings.json") as running:
            yield running
    finally:
        root.removeHandler(RECORDER)
        root.setLevel(previous)


@pytest.fixture
def info(stack: LocalStack) -> StackInfo:
    assert stack.info is not None
    return stack.info


def container(info: StackInfo) -> ContainerClient:
    return ContainerClient.from_connection_string(info.connection_string, info.drop_container)


def emulator_get(info: StackInfo, path: str) -> requests.Response:
    with emulator_session(info.emulator) as session:
        return session.get(f"{info.emulator['admin_base']}{path}", timeout=10)


def wait_for_tag(info: StackInfo, name: str, timeout: float = 90.0) -> dict[str, str]:
    client = container(info).get_blob_client(name)

    def outcome() -> dict[str, str] | None:
        tags = client.get_blob_tags()
        return dict(tags) if "photosync-status" in tags else None

    return wait_for(outcome, timeout=timeout, interval=0.2, what=f"an outcome for {name}")


def uploads_for(info: StackInfo, upn: str) -> list[dict[str, Any]]:
    body = emulator_get(info, "/uploads").json()
    entries = body["value"] if isinstance(body, dict) else body
    return [u for u in entries if u["userPrincipalName"] == upn]


def http(stack: LocalStack, route: str, **kwargs: Any) -> requests.Response:
    session = requests.Session()
    session.trust_env = False
    return session.get(stack.host.url(route), timeout=30, **kwargs)


def test_a_drop_reaches_the_right_user(stack: LocalStack, info: StackInfo) -> None:
    photo = jpeg("#204080")
    container(info).upload_blob("alex.wilber@contoso.com.jpg", photo, overwrite=True)
    assert wait_for_tag(info, "alex.wilber@contoso.com.jpg")["photosync-status"] == "uploaded"
    stored = emulator_get(info, "/users/alex.wilber@contoso.com/photo")
    assert stored.content == photo


def test_duplicate_deliveries_upload_once(stack: LocalStack, info: StackInfo) -> None:
    name = "o'brien@contoso.com.jpg"
    blob = container(info).upload_blob(name, jpeg("#408020"), overwrite=True)
    wait_for_tag(info, name)
    props = blob.get_blob_properties()
    event = {
        "id": "dup-1", "eventType": "Microsoft.Storage.BlobCreated",
        "subject": f"/blobServices/default/containers/{info.drop_container}/blobs/{name}",
        "eventTime": "2026-11-28T10:00:00Z", "dataVersion": "", "metadataVersion": "1",
        "topic": "/subscriptions/local/resourceGroups/local/providers/Microsoft.Storage/"
                 "storageAccounts/devstoreaccount1",
        "data": {"api": "PutBlob", "eTag": props.etag, "contentLength": props.size,
                 "url": blob.url, "blobType": "BlockBlob", "contentType": "image/jpeg"},
    }
    session = requests.Session()
    session.trust_env = False
    for _ in range(3):
        response = session.post(stack.host.webhook_url("sync_photo"), json=[event], timeout=10)
        assert response.status_code in (200, 202)
    time.sleep(2.0)
    assert len(uploads_for(info, "o'brien@contoso.com")) == 1


def test_the_newest_of_quick_overwrites_wins(stack: LocalStack, info: StackInfo) -> None:
    name = "adele.vance@contoso.com.jpg"
    drops = container(info)
    for color in ("#ff0000", "#00ff00", "#0000ff"):
        drops.upload_blob(name, jpeg(color), overwrite=True)
        time.sleep(0.05)
    newest = jpeg("#0000ff")
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        tags = drops.get_blob_client(name).get_blob_tags()
        stored = emulator_get(info, "/users/adele.vance@contoso.com/photo").content
        if tags.get("photosync-status") and stored == newest:
            break
        time.sleep(0.2)
    assert emulator_get(info, "/users/adele.vance@contoso.com/photo").content == newest


def test_one_host_key_opens_every_photo_api_route(stack: LocalStack, info: StackInfo) -> None:
    key = {"code": info.host_key}
    assert http(stack, "users/adele.vance@contoso.com/photo", params=key).status_code == 200
    assert http(stack, "users/adele.vance@contoso.com/photo/$value", params=key).status_code \
        == 200
    assert http(stack, "reports/outcomes", params=key).status_code == 200
    assert info.function_keys["photo_lookup"] != info.host_key


def test_lookups_need_a_function_key(stack: LocalStack, info: StackInfo) -> None:
    assert http(stack, "users/adele.vance@contoso.com/photo").status_code == 401
    key = info.function_keys["photo_lookup"]
    response = http(stack, "users/adele.vance@contoso.com/photo", params={"code": key})
    assert response.status_code == 200
    assert json.loads(response.content)["hasPhoto"] is True
    cached = http(stack, "users/adele.vance@contoso.com/photo", params={"code": key},
                  headers={"If-None-Match": response.headers["ETag"]})
    assert cached.status_code == 304


def test_health_is_anonymous_and_says_nothing_more(stack: LocalStack) -> None:
    response = http(stack, "health")
    assert response.status_code == 200
    assert set(response.json()) == {"status", "checks"}


def test_local_settings_are_written_the_core_tools_way(stack: LocalStack) -> None:
    document = json.loads(Path(stack.settings_file).read_text())
    assert document["IsEncrypted"] is False
    values = document["Values"]
    assert values["FUNCTIONS_WORKER_RUNTIME"] == "python"
    assert values["PhotoStorage"].startswith("DefaultEndpointsProtocol=http")


def test_no_secret_token_or_photo_bytes_reach_any_log_line(stack: LocalStack,
                                                            info: StackInfo) -> None:
    from devstack import notices

    container(info).upload_blob("megan.bowen@contoso.com.jpg", jpeg("#777777"), overwrite=True)
    wait_for_tag(info, "megan.bowen@contoso.com.jpg")
    container(info).upload_blob("leak.check@contoso.com.jpg", b"not a photo", overwrite=True)
    wait_for_tag(info, "leak.check@contoso.com.jpg")
    notices.run_timer(info, "notify")  # a notice goes to the webhook, whose URL is a secret
    receiver = stack.receiver
    assert receiver is not None
    wait_for(lambda: any("leak.check@contoso.com.jpg" in json.dumps(m)
                         for m in receiver.messages()), timeout=60, what="the notice")
    tokens = emulator_get(info, "/tokens").json()
    issued = [t["access_token"] if isinstance(t, dict) else t
              for t in (tokens["value"] if isinstance(tokens, dict) else tokens)]
    assert issued, "the emulator issued tokens during these tests"
    text = "\n".join(RECORDER.lines)
    assert len(RECORDER.lines) > 10
    assert info.emulator["client_secret"] not in text
    webhook = receiver.url
    assert "[webhook address]" in text  # urllib3 logged the request, blanked
    for part in (webhook, webhook.rsplit("sig=", 1)[1], receiver.path.split("/")[2]):
        assert part not in text
    for token in issued:
        assert token not in text
        assert token.split(".")[2] not in text  # not even the signature part
    assert "\\xff\\xd8" not in text and "\xff\xd8" not in text
    assert "JFIF" not in text


def test_the_keyboard_cli_drops_looks_up_and_lists(stack: LocalStack, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from devstack.__main__ import main

    photo = tmp_path / "me.JPG"
    photo.write_bytes(jpeg("#336699", (320, 320)))
    state = ["--state-dir", str(stack.state_dir)]
    assert main([*state, "drop", str(photo), "--as", "lee.gu@contoso.com"]) == 0
    dropped = json.loads(capsys.readouterr().out)
    assert dropped["blob"] == "lee.gu@contoso.com.jpg"
    assert dropped["photosync-status"] == "uploaded"
    assert dropped["message"].startswith("320x320, ")
    gif = tmp_path / "nestor.jpg"
    gif.write_bytes(b"GIF89a not a photo")
    assert main([*state, "drop", str(gif), "--as", "nestor.wilke@contoso.com"]) == 0
    rejected = json.loads(capsys.readouterr().out)
    assert (rejected["photosync-status"], rejected["photosync-reason"]) == ("rejected",
                                                                            "not_jpeg")
    assert "GIF" in rejected["message"]
    assert main([*state, "lookup", "lee.gu@contoso.com"]) == 0
    looked_up = json.loads(capsys.readouterr().out)
    assert (looked_up["width"], looked_up["lastSync"]["status"]) == (320, "uploaded")
    assert main([*state, "status", "-n", "50"]) == 0
    assert "lee.gu@contoso.com.jpg" in capsys.readouterr().out
