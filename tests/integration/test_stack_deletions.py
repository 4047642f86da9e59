"""Deletion sync end to end: HR deletes a drop in Azurite, the host's watcher delivers
BlobDeleted to photo_deleted, and the emulator's photo goes."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest

from devstack.stack import LocalStack, StackInfo
from tests.integration.emulator_fixture import emulator_session
from tests.integration.test_stack_e2e import container, emulator_get, wait_for_tag
from tests.photos import jpeg
from tests.waiting import wait_for

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    state = tmp_path_factory.mktemp("deletions")
    with LocalStack(state, settings_file=state / "local.settings.json",
                    extra_settings={"PHOTO_DELETE_ON_BLOB_DELETE": "true"}) as running:
        yield running


def test_deleting_the_current_drop_deletes_the_photo(stack: LocalStack) -> None:
    info: StackInfo = stack.info  # type: ignore[assignment]
    name = "alex.wilber@contoso.com.jpg"
    container(info).upload_blob(name, jpeg("#123123"), overwrite=True)
    assert wait_for_tag(info, name)["photosync-status"] == "uploaded"
    assert emulator_get(info, "/users/alex.wilber@contoso.com/photo").status_code == 200
    container(info).delete_blob(name)
    wait_for(lambda: emulator_get(info, "/users/alex.wilber@contoso.com/photo").status_code
             == 404, timeout=90, interval=0.2, what="the photo to go")
    assert emulator_get(info, "/users/alex.wilber@contoso.com/photo").status_code == 404


def test_deleting_an_older_drop_keeps_the_photo(stack: LocalStack,
                                               caplog: pytest.LogCaptureFixture) -> None:
    info: StackInfo = stack.info  # type: ignore[assignment]
    drops = container(info)
    drops.upload_blob("old/lee.gu@contoso.com.jpg", jpeg("#456456"), overwrite=True)
    wait_for_tag(info, "old/lee.gu@contoso.com.jpg")
    time.sleep(1.1)  # Last-Modified has one-second resolution
    drops.upload_blob("new/lee.gu@contoso.com.jpg", jpeg("#789789"), overwrite=True)
    wait_for_tag(info, "new/lee.gu@contoso.com.jpg")
    caplog.set_level(logging.INFO, logger="photo_core.use_cases.deletions")
    drops.delete_blob("old/lee.gu@contoso.com.jpg")
    wait_for(lambda: "not the source" in caplog.text, timeout=90, interval=0.2,
             what="the deletion to be delivered")
    assert "old/lee.gu@contoso.com.jpg is not the source" in caplog.text  # it was delivered
    assert emulator_get(info, "/users/lee.gu@contoso.com/photo").status_code == 200


def emulator_post(info: StackInfo, path: str, body: dict[str, object]) -> None:
    with emulator_session(info.emulator) as session:
        session.post(f"{info.emulator['admin_base']}{path}", json=body,
                     timeout=10).raise_for_status()


def test_a_drop_deleted_while_its_photo_is_being_uploaded_leaves_no_photo(
        stack: LocalStack) -> None:
    """The upload is held at the photo API while HR deletes the file: the deletion's event
    comes while the drop still holds the user's claim. Whichever way they interleave, the
    photo that file gave must not stay."""
    info: StackInfo = stack.info  # type: ignore[assignment]
    name, upn = "adele.vance@contoso.com.jpg", "adele.vance@contoso.com"
    emulator_post(info, "/faults", {"script": [{"delay_ms": 4000, "method": "PATCH"}]})
    container(info).upload_blob(name, jpeg("#abcdef"), overwrite=True)
    wait_for(lambda: emulator_get(info, "/stats").json()["delayed"] > 0, timeout=30,
             interval=0.05, what="the upload to be held at the photo API")
    container(info).delete_blob(name)
    wait_for(lambda: emulator_get(info, f"/users/{upn}/photo").status_code == 404, timeout=45,
             interval=0.2, what="the photo of the deleted drop to go")
