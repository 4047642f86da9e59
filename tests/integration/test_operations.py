"""Operator commands against real storage and the emulator: reconcile and report."""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import re
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.storage.blob import BlobServiceClient, ContainerClient

from devstack.azurite import DEV_ACCOUNT, DEV_KEY, Azurite
from devstack.stack import local_settings_values, write_local_settings
from photo_core.bootstrap import reset_app_services
from photo_core.entrypoints.cli import main
from tests.integration.test_photo_api import admin, uploads
from tests.photos import jpeg

pytestmark = pytest.mark.integration


@pytest.fixture
def settings_file(tmp_path: Path, emu: dict[str, Any], azurite: Azurite,
                  monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A local.settings.json for a fresh container and table; the environment is left to the
    file, and what the commands copy from it is removed afterwards."""
    container = f"bulk-{uuid.uuid4().hex[:10]}"
    BlobServiceClient.from_connection_string(azurite.connection_string).create_container(
        container)
    values = local_settings_values(azurite.connection_string, emu)
    values.update(PHOTO_DROP_CONTAINER=container, PHOTO_STATE_TABLE=f"ops{uuid.uuid4().hex[:10]}")
    for name in [*values, "PHOTO_DRY_RUN"]:
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "local.settings.json"
    write_local_settings(path, values)
    reset_app_services()
    yield path
    reset_app_services()
    for name in [*values, "PHOTO_DRY_RUN"]:  # what the commands copied in from the file
        os.environ.pop(name, None)


def drops(azurite: Azurite, settings_file: Path) -> ContainerClient:
    name = json.loads(settings_file.read_text())["Values"]["PHOTO_DROP_CONTAINER"]
    return ContainerClient.from_connection_string(azurite.connection_string, name)


def counts(table: str) -> dict[str, int]:
    """The summary table printed by reconcile, as {result: count}."""
    rows = [re.split(r"\s{2,}", line.strip()) for line in table.splitlines()[2:] if line.strip()]
    return {row[0]: int(row[1]) for row in rows}


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


class Terminal(io.StringIO):
    """stderr as a terminal: where the progress bar is drawn."""

    def isatty(self) -> bool:
        return True


def test_a_bulk_load_is_reconciled_once_and_resumes(azurite: Azurite, settings_file: Path,
                                                    emu: dict[str, Any]) -> None:
    container = drops(azurite, settings_file)
    for user, color in (("alex.wilber", "#102030"), ("lee.gu", "#203040"),
                        ("megan.bowen", "#304050")):
        container.upload_blob(f"bulk/{user}@contoso.com.jpg", jpeg(color))
    container.upload_blob("bulk/nobody@contoso.com.jpg", jpeg("#000000"))
    out_io, err_io = io.StringIO(), Terminal()
    code = main(["reconcile", "--settings", str(settings_file), "--limit", "2"], stdout=out_io,
                stderr=err_io)
    out, err = out_io.getvalue(), err_io.getvalue()
    assert code == 0, err
    assert counts(out)["selected"] == 2
    assert len(uploads(emu)) == 2
    assert "[" in err and "2/2" in err  # on a terminal, the progress bar goes to stderr
    code, out, err = cli("reconcile", "--settings", str(settings_file), "--prefix", "bulk/")
    assert code == 0
    assert err == ""  # not a terminal (a log, a pipe): no bar, no carriage returns
    assert counts(out)["selected"] == 2
    assert counts(out)["rejected (user_not_found)"] == 1
    assert len(uploads(emu)) == 3
    code, out, _ = cli("reconcile", "--settings", str(settings_file))
    assert counts(out)["selected"] == 0


def test_a_dry_run_shows_what_would_happen_and_uploads_nothing(
        azurite: Azurite, settings_file: Path, emu: dict[str, Any]) -> None:
    drops(azurite, settings_file).upload_blob("alex.wilber@contoso.com.jpg", jpeg("#405060"))
    code, out, _ = cli("reconcile", "--settings", str(settings_file), "--dry-run")
    assert code == 0
    assert "would-upload" in out
    assert uploads(emu) == []
    code, out, _ = cli("report", "--settings", str(settings_file), "--format", "json")
    assert json.loads(out)["byStatus"] == {"would-upload": 1}


def test_a_dry_run_of_the_rejects_resolves_each_user_as_a_real_run_would(
        azurite: Azurite, settings_file: Path, emu: dict[str, Any]) -> None:
    container = drops(azurite, settings_file)
    for user in ("ghost1", "ghost2", "diego.siciliani", "alex.wilber"):
        container.upload_blob(f"{user}@contoso.com.jpg", jpeg("#102030"))
    doc = admin(emu, "GET", "/directory").json()
    doc.pop("applicationSummaries")
    alex = next(u for u in doc["users"] if u["userPrincipalName"] == "alex.wilber@contoso.com")
    alex["mailbox"] = "none"  # no licence yet: rejected, then given one before the retry
    admin(emu, "POST", "/directory", json=doc)
    code, out, _ = cli("reconcile", "--settings", str(settings_file))
    assert counts(out)["rejected (no_mailbox)"] == 2
    assert counts(out)["rejected (user_not_found)"] == 2
    alex["mailbox"] = "exchangeOnline"
    admin(emu, "POST", "/directory", json=doc)
    reset_app_services()  # a new command, as from the shell: it reads --dry-run afresh
    code, out, err = cli("reconcile", "--settings", str(settings_file), "--retry-rejected",
                         "--dry-run")
    assert code == 0, err
    assert {k: v for k, v in counts(out).items() if k.startswith("would")} == {
        "would-upload": 1, "would-reject (user_not_found)": 2, "would-reject (no_mailbox)": 1}
    assert uploads(emu) == []
    statuses = {b.name: (b.tags or {}).get("photosync-status")
                for b in container.list_blobs(include=["tags"])}
    assert set(statuses.values()) == {"rejected"}  # the dry run recorded nothing
    code, out, _ = cli("report", "--settings", str(settings_file), "--since", "1h",
                       "--format", "json")
    assert json.loads(out)["byStatus"]["would-reject"] == 3


def test_reports_show_counts_and_the_latest_rejects(azurite: Azurite,
                                                    settings_file: Path) -> None:
    container = drops(azurite, settings_file)
    container.upload_blob("alex.wilber@contoso.com.jpg", jpeg("#506070"))
    container.upload_blob("lee.gu@contoso.com.jpg", b"GIF89a not really")
    container.upload_blob("jane doe@contoso.com.jpg", jpeg("#607080"))
    assert cli("reconcile", "--settings", str(settings_file))[0] == 0
    code, out, _ = cli("report", "--settings", str(settings_file), "--since", "1h")
    assert code == 0
    assert "uploaded" in out and "not_jpeg" in out and "invalid_characters" in out
    assert "lee.gu@contoso.com.jpg" in out
    code, out, _ = cli("report", "--settings", str(settings_file), "--format", "csv")
    assert out.splitlines()[0] == "at,status,reason,user,blob,message,actions"
    assert len(out.splitlines()) == 4
    code, _, err = cli("report", "--settings", str(settings_file), "--since", "soon")
    assert code == 2 and "duration" in err


def test_a_csv_report_shows_blob_names_that_look_like_formulas_as_text(
        azurite: Azurite, settings_file: Path) -> None:
    container = drops(azurite, settings_file)
    container.upload_blob("=1+2/alex.wilber@contoso.com.jpg", jpeg("#708090"))
    container.upload_blob("@SUM(A1)/jane doe@contoso.com.jpg", jpeg("#8090a0"))
    assert cli("reconcile", "--settings", str(settings_file))[0] == 0
    code, out, _ = cli("report", "--settings", str(settings_file), "--format", "csv")
    assert code == 0
    rows = {row["status"]: row for row in csv.DictReader(io.StringIO(out))}
    assert rows["uploaded"]["blob"] == "'=1+2/alex.wilber@contoso.com.jpg"
    assert rows["rejected"]["blob"] == "'@SUM(A1)/jane doe@contoso.com.jpg"
    assert all(not cell.startswith(("=", "+", "-", "@"))
               for row in rows.values() for cell in row.values())

@pytest.mark.parametrize("flag", ["--since", "--until"])
def test_a_window_beyond_the_dates_a_report_covers_is_a_usage_error_not_a_traceback(
        settings_file: Path, flag: str) -> None:
    code, out, err = cli("report", "--settings", str(settings_file), flag, "1000000d")
    assert (code, out) == (2, "")
    assert err == ("report: '1000000d' is out of range: a report covers times from 1970-01-01 "
                   "to 9999-01-01\n")


def with_storage(settings_file: Path, connection_string: str) -> None:
    """Point the settings file's PhotoStorage somewhere else."""
    document = json.loads(settings_file.read_text())
    document["Values"]["PhotoStorage"] = connection_string
    settings_file.write_text(json.dumps(document))


WRONG_KEY = base64.b64encode(b"not the account key, but valid base64 " * 2).decode()


@pytest.mark.parametrize(
    ("command", "endpoint"),
    [("report", "TableEndpoint"), ("reconcile", "BlobEndpoint")],
)
def test_a_wrong_account_key_is_one_line_naming_the_endpoint_and_exit_2(
        azurite: Azurite, settings_file: Path, command: str, endpoint: str) -> None:
    wrong = azurite.connection_string.replace(DEV_KEY, WRONG_KEY)
    assert wrong != azurite.connection_string
    with_storage(settings_file, wrong)
    code, out, err = cli(command, "--settings", str(settings_file))
    assert (code, out) == (2, "")
    [line] = err.strip().splitlines()
    assert line.startswith(f"{command}: storage at {endpoint_url(wrong, endpoint)}")
    assert "did not accept the credentials (403 AuthorizationFailure)" in line
    assert WRONG_KEY not in err and DEV_KEY not in err and "AccountKey" not in err


def test_unreachable_storage_is_one_line_naming_the_endpoint_and_exit_2(
        azurite: Azurite, settings_file: Path) -> None:
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    closed = re.sub(r"127\.0\.0\.1:\d+", f"127.0.0.1:{port}", azurite.connection_string)
    with_storage(settings_file, closed)
    code, out, err = cli("report", "--settings", str(settings_file))  # after the SDK's retries
    assert (code, out) == (2, "")
    assert err == (f"report: cannot reach storage at http://127.0.0.1:{port}/{DEV_ACCOUNT} "
                   "(Connection refused); check that it is running and the endpoint in the "
                   "PhotoStorage settings\n")


def endpoint_url(connection_string: str, name: str) -> str:
    return dict(part.split("=", 1) for part in connection_string.split(";") if part)[name]
