"""Through the whole local stack: what an HR uploader writes besides a photo (metadata, tags,
copies of photo-sync's own outcome marker) decides nothing. The newest legitimate photo is the
user's, whatever was forged or rewritten on the blobs before it.

HR can set a blob's metadata and index tags in the same request that uploads it, and edit them
later. photo-sync writes its outcome there too, for operators; these tests forge it, copy it,
date it in the future and rewrite it, and check the drops that follow.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from azure.storage.blob import ContainerClient

from devstack.stack import LocalStack, StackInfo
from photo_core.entrypoints import handlers
from photo_core.use_cases.reconcile import ReconcileOptions
from tests.integration.test_stack_e2e import container, emulator_get
from tests.photos import jpeg
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

SECOND = 1.1  # storage times (Last-Modified, creation time) have one-second resolution
FUTURE = "2099-01-01T00:00:00+00:00"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    state = tmp_path_factory.mktemp("ordering")
    with LocalStack(state, settings_file=state / "local.settings.json") as running:
        yield running


@pytest.fixture
def info(stack: LocalStack) -> StackInfo:
    assert stack.info is not None
    return stack.info


def photo_of(info: StackInfo, upn: str) -> bytes | None:
    answer = emulator_get(info, f"/users/{upn}/photo")
    return answer.content if answer.status_code == 200 else None


def becomes(info: StackInfo, upn: str, photo: bytes, what: str) -> None:
    wait_for(lambda: photo_of(info, upn) == photo, timeout=30, interval=0.2, what=what)


def forged(name: str, status: str = "uploaded", at: str = FUTURE) -> dict[str, str]:
    """photo-sync's outcome metadata as HR could write it: "already uploaded", dated 2099."""
    return {"photosync_status": status, "photosync_blob": name, "photosync_reason": "",
            "photosync_at": at, "photosync_modified": at,
            "photosync_sha256": "0" * 64, "photosync_user": name.removesuffix(".jpg")}


def reconcile() -> dict[str, int]:
    summary = handlers.handle_reconcile(ReconcileOptions(workers=1))
    return dict(summary.rows())


def drop(drops: ContainerClient, name: str, photo: bytes, **kwargs: Any) -> None:
    drops.upload_blob(name, photo, overwrite=True, **kwargs)
    time.sleep(SECOND)  # so the next drop is a second younger, as storage counts


def test_a_forged_outcome_marker_neither_skips_the_drop_nor_locks_the_user(
        info: StackInfo) -> None:
    """The forged drop is processed like any other (HR is trusted with photos); reconcile does
    not take its 2099 for a time; a new name and a plain overwrite that follow both win."""
    upn = "alex.wilber@contoso.com"
    drops = container(info)
    forged_photo, newer, newest = jpeg("#aa1111"), jpeg("#11aa11"), jpeg("#1111aa")
    drop(drops, f"{upn}.jpg", forged_photo, metadata=forged(f"{upn}.jpg"))
    becomes(info, upn, forged_photo, "the forged drop to be processed as the photo it is")
    assert reconcile().get("uploaded", 0) == 0
    drop(drops, f"2026/{upn}.jpg", newer)
    becomes(info, upn, newer, "a newer drop under a new name to win")
    drop(drops, f"{upn}.jpg", newest)
    becomes(info, upn, newest, "a plain overwrite of the forged drop to win")
    reconcile()
    assert photo_of(info, upn) == newest


def test_a_marker_copied_from_a_processed_blob_onto_new_content_counts_for_nothing(
        info: StackInfo) -> None:
    """The marker is a valid one of photo-sync's, copied from a processed blob with its name
    set to the new blob's: the new content is still a drop to process."""
    upn = "lee.gu@contoso.com"
    drops = container(info)
    first, second = jpeg("#22aa22"), jpeg("#aa22aa")
    drop(drops, f"2025/{upn}.jpg", first)
    becomes(info, upn, first, "the first drop")
    marker = dict(drops.get_blob_client(f"2025/{upn}.jpg").get_blob_properties().metadata)
    assert marker.get("photosync_status") == "uploaded"
    marker["photosync_blob"] = f"{upn}.jpg"
    drop(drops, f"{upn}.jpg", second, metadata=marker)
    becomes(info, upn, second, "the drop carrying a copied marker to be processed")


def test_a_marker_replayed_onto_an_overwrite_of_the_same_name_counts_for_nothing(
        info: StackInfo) -> None:
    """HR overwrites a processed blob and sends its old marker along in the same request."""
    upn = "o'brien@contoso.com"
    drops = container(info)
    first, second = jpeg("#3344aa"), jpeg("#aa4433")
    drop(drops, f"{upn}.jpg", first)
    becomes(info, upn, first, "the first drop")
    marker = dict(drops.get_blob_client(f"{upn}.jpg").get_blob_properties().metadata)
    drops.upload_blob(f"{upn}.jpg", second, overwrite=True, metadata=marker)
    becomes(info, upn, second, "the overwrite carrying the old marker to be processed")


def test_outcome_tags_set_by_hr_count_for_nothing(info: StackInfo) -> None:
    upn = "lidia.holloway@contoso.com"
    drops = container(info)
    photo = jpeg("#55aa55")
    drop(drops, f"{upn}.jpg", photo,
         tags={"photosync-status": "uploaded", "photosync-reason": "none"})
    becomes(info, upn, photo, "a drop tagged 'uploaded' by HR to be processed")


def test_a_metadata_rewrite_of_an_old_drop_does_not_make_it_the_newest(
        info: StackInfo) -> None:
    """An HR tool stamps its own metadata on last year's drop (replacing photo-sync's): its
    Last-Modified moves, its content does not. Reconcile must not take it for a new drop."""
    upn = "megan.bowen@contoso.com"
    drops = container(info)
    old, new = jpeg("#777722"), jpeg("#227777")
    drop(drops, f"2025/{upn}.jpg", old)
    becomes(info, upn, old, "last year's drop")
    drop(drops, f"2026/{upn}.jpg", new)
    becomes(info, upn, new, "this year's drop")
    drops.get_blob_client(f"2025/{upn}.jpg").set_blob_metadata({"approved": "yes"})
    time.sleep(SECOND)
    reconcile()
    assert photo_of(info, upn) == new
