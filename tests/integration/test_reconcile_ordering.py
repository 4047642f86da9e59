"""Reconcile keeps the newest drop's photo, though writing an outcome moves a blob's Last-Modified.

Against real Azurite: Set Blob Metadata (how an outcome is recorded) moves Last-Modified, as it
does in Azure. An older drop recorded after a newer one must still count as older.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import pytest

from devstack.azurite import Azurite
from photo_core.adapters.blob_drop import AzureDropSource
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


def test_a_listing_reports_when_the_content_was_written_not_when_the_outcome_was(
    azurite: Azurite, settings_file: Path
) -> None:
    container = drops(azurite, settings_file)
    container.upload_blob(f"{ALEX}.jpg", jpeg())
    written = container.get_blob_client(f"{ALEX}.jpg").get_blob_properties().last_modified
    time.sleep(SECOND)
    code, _, err = cli("reconcile", "--settings", str(settings_file))
    assert code == 0, err
    (listing,) = AzureDropSource(container).list(None)
    assert listing.recorded is not None
    assert listing.last_modified == written
    assert AzureDropSource(container).open(f"{ALEX}.jpg").info().last_modified == written
