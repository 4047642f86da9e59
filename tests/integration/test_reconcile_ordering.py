"""Reconcile keeps the newest drop's photo, though writing an outcome moves a blob's Last-Modified.

Against real Azurite: Set Blob Metadata (how an outcome is recorded) moves Last-Modified, as it
does in Azure. An older drop recorded after a newer one must still count as older.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import pytest
from azure.data.tables import TableClient

from devstack.azurite import Azurite
from photo_core.adapters.blob_drop import AzureDropSource
from photo_core.adapters.state_table import TableStateStore
from photo_core.photos import ImagePolicy, prepare_photo
from tests.integration import test_operations
from tests.integration.test_operations import cli, counts, drops
from tests.integration.test_photo_api import uploads
from tests.photos import jpeg

pytestmark = pytest.mark.integration

settings_file = test_operations.settings_file  # the fixture: a fresh container and table

ALEX = "alex.wilber@contoso.com"
SECOND = 1.1  # Last-Modified has one-second resolution


def test_an_older_drop_recorded_after_a_newer_one_is_never_uploaded_over_it(
    azurite: Azurite, settings_file: Path, emu: dict[str, Any]
) -> None:
    container = drops(azurite, settings_file)
    old, new = jpeg("#aa0000"), jpeg("#0000aa")
    container.upload_blob(f"zz-old/{ALEX}.jpg", old)
    time.sleep(SECOND)
    container.upload_blob(f"aa-new/{ALEX}.jpg", new)  # listed first, so processed first
    old_written = container.get_blob_client(f"zz-old/{ALEX}.jpg").get_blob_properties()
    time.sleep(SECOND)

    code, out, err = cli("reconcile", "--settings", str(settings_file), "--workers", "1")
    assert code == 0, err
    assert counts(out)["unchanged (superseded)"] == 1
    moved = container.get_blob_client(f"zz-old/{ALEX}.jpg").get_blob_properties()
    assert moved.last_modified > old_written.last_modified  # the outcome moved it

    for _ in range(2):  # nightly runs afterwards
        time.sleep(SECOND)
        code, out, err = cli("reconcile", "--settings", str(settings_file), "--workers", "1")
        assert code == 0, err
        assert counts(out)["selected"] == 0

    sent = [item["sha256"] for item in uploads(emu)]
    assert sent == [hashlib.sha256(new).hexdigest()]


def test_a_drops_record_keeps_when_the_content_was_written_not_when_the_outcome_was(
    azurite: Azurite, settings_file: Path
) -> None:
    container = drops(azurite, settings_file)
    container.upload_blob(f"{ALEX}.jpg", jpeg())
    written = container.get_blob_client(f"{ALEX}.jpg").get_blob_properties()
    time.sleep(SECOND)
    code, _, err = cli("reconcile", "--settings", str(settings_file))
    assert code == 0, err
    now = container.get_blob_client(f"{ALEX}.jpg").get_blob_properties()
    assert now.last_modified > written.last_modified  # the outcome moved it
    values = json.loads(settings_file.read_text())["Values"]
    store = TableStateStore(TableClient.from_connection_string(
        azurite.connection_string, values["PHOTO_STATE_TABLE"]))
    record = store.get_drop(f"{ALEX}.jpg")
    assert record is not None and record.made == written.creation_time
    assert record.describes(now.etag)
    (listing,) = AzureDropSource(container).list(None)
    assert (listing.etag, listing.created) == (now.etag, written.creation_time)


def test_rows_and_blobs_left_by_the_previous_version_are_read_and_no_photo_is_sent_again(
    azurite: Azurite, settings_file: Path, emu: dict[str, Any]
) -> None:
    """An existing deployment: its user rows have none of the new columns, its blobs carry the
    old outcome metadata and have no drop record. The first reconcile after the upgrade reads
    each drop once and records it, uploads nothing, and a later edit of an old drop's metadata
    still does not make it the newest."""
    container = drops(azurite, settings_file)
    old, new = jpeg("#aa0000"), jpeg("#0000aa")
    older, newer = f"2025/{ALEX}.jpg", f"2026/{ALEX}.jpg"
    container.upload_blob(older, old)
    time.sleep(SECOND)
    current = container.upload_blob(newer, new).get_blob_properties()
    for name, status, reason in ((older, "unchanged", "superseded"), (newer, "uploaded", "")):
        container.get_blob_client(name).set_blob_metadata({  # as the previous version wrote it
            "photosync_status": status, "photosync_reason": reason, "photosync_blob": name,
            "photosync_at": current.last_modified.isoformat(),
            "photosync_modified": current.last_modified.isoformat()})
    values = json.loads(settings_file.read_text())["Values"]
    table = TableClient.from_connection_string(azurite.connection_string,
                                               values["PHOTO_STATE_TABLE"])
    table.create_table()
    sha = prepare_photo(new, ImagePolicy()).sha256
    table.create_entity({  # the previous version's row: no drop source, no pending operation
        "PartitionKey": f"upn:{ALEX}", "RowKey": "state", "user": f"upn:{ALEX}",
        "last_status": "uploaded", "last_message": "200x200", "last_blob_name": newer,
        "last_blob_etag": current.etag, "content_sha256": sha,
        "source_modified": current.last_modified, "uploaded_at": current.last_modified,
        "updated_at": current.last_modified, "attempts": 1, "photo_target": f"upn:{ALEX}"})
    store = TableStateStore(table)
    row = store.get(f"upn:{ALEX}")
    assert row is not None and (row[0].last_blob_name, row[0].photo_blob) == (newer, None)
    assert not row[0].photo_unknown

    code, out, err = cli("reconcile", "--settings", str(settings_file), "--workers", "1")
    assert code == 0, err
    assert counts(out)["unchanged (superseded)"] == 1
    assert counts(out)["unchanged (same_content)"] == 1
    assert uploads(emu) == []
    row = store.get(f"upn:{ALEX}")
    assert row is not None and row[0].photo_blob == newer  # the photo's drop, learnt

    container.get_blob_client(older).set_blob_metadata({"approved": "yes"})
    time.sleep(SECOND)
    code, out, err = cli("reconcile", "--settings", str(settings_file), "--workers", "1")
    assert code == 0, err
    assert uploads(emu) == []
