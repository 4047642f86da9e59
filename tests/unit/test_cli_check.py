"""`python -m photo_core check`: one JSON line per file, exit 0/1/2, optional --out folder."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from photo_core.domain.naming import NameRejection, parse_blob_name
from photo_core.entrypoints.cli import main
from photo_core.photos import ImagePolicy
from tests.unit import jpeg_corpus as corpus

FIELDS = ["file", "verdict", "reason", "actions", "size", "width", "height", "sha256"]
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def service_defaults() -> Iterator[None]:
    """The naming and photo rules come from the environment, as in the app: start from the
    defaults (no PHOTO_* setting), and take out what a test (or its --settings file) put in."""
    saved = {k: v for k, v in os.environ.items() if k.startswith("PHOTO_")}
    for name in saved:
        del os.environ[name]
    yield
    for name in [k for k in os.environ if k.startswith("PHOTO_")]:
        del os.environ[name]
    os.environ.update(saved)


def run(*argv: str, policy: ImagePolicy | None = None) -> tuple[int, list[dict[str, Any]], str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), policy=policy, stdout=out, stderr=err)
    return status, [json.loads(line) for line in out.getvalue().splitlines()], err.getvalue()


@pytest.fixture
def drop(tmp_path: Path) -> Path:
    folder = tmp_path / "drop"
    folder.mkdir()
    (folder / "jane.doe@contoso.com.jpg").write_bytes(corpus.with_everything())
    (folder / "john.roe@contoso.com.jpg").write_bytes(corpus.other_format("PNG"))
    (folder / "ann.lee@contoso.com.jpg").write_bytes(corpus.oriented(6))
    return folder


def test_accepted_photo_prints_one_json_line_with_every_field_and_exits_0(drop: Path) -> None:
    path = drop / "jane.doe@contoso.com.jpg"
    status, lines, err = run("check", str(path))
    assert status == 0
    [line] = lines
    assert list(line) == FIELDS
    assert line["file"] == str(path)
    assert (line["verdict"], line["reason"]) == ("accept", None)
    assert line["actions"] == [
        {
            "code": "metadata_stripped",
            "reason": "removed EXIF (with GPS), XMP, IPTC, comment, APP12",
        }
    ]
    assert (line["width"], line["height"]) == (320, 240)
    assert isinstance(line["size"], int) and len(line["sha256"]) == 64
    assert "1 accepted, 0 rejected" in err


def test_png_renamed_jpg_is_a_reject_line_with_code_and_message_and_exit_1(drop: Path) -> None:
    status, [line], _ = run("check", str(drop / "john.roe@contoso.com.jpg"))
    assert status == 1
    assert line["verdict"] == "reject"
    assert line["reason"]["code"] == "not_jpeg"
    assert line["reason"]["message"].startswith("this is a PNG image, not a JPEG")
    assert (line["actions"], line["size"], line["width"], line["height"], line["sha256"]) == (
        [],
        None,
        None,
        None,
        None,
    )


def test_batch_reports_every_file_in_order_and_exits_1_if_any_is_rejected(drop: Path) -> None:
    names = sorted(str(p) for p in drop.iterdir())
    status, lines, err = run("check", *names)
    assert status == 1
    assert [line["file"] for line in lines] == names
    assert [line["verdict"] for line in lines] == ["accept", "accept", "reject"]
    assert "2 accepted, 1 rejected" in err


def _folder(path: Path) -> Path:
    path.mkdir()
    return path


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (lambda p: p / "missing@contoso.com.jpg", "unreadable"),
        (lambda p: _folder(p / "folder@contoso.com.jpg"), "unreadable"),
        (lambda p: _write(p / "empty@contoso.com.jpg", b""), "empty_file"),
        (lambda p: _write(p / "cut@contoso.com.jpg", corpus.baseline()[:-200]), "truncated"),
    ],
    ids=["missing_file", "directory", "empty_file", "truncated_file"],
)
def test_bad_inputs_are_reject_lines_not_tracebacks(
    tmp_path: Path, make: Callable[[Path], Path], code: str
) -> None:
    status, [line], err = run("check", str(make(tmp_path)))
    assert status == 1
    assert line["reason"]["code"] == code
    assert "Traceback" not in err


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("file_name", "code"),
    [
        ("jane doe.png", "wrong_extension"),
        ("jane doe@contoso.com.jpg", "invalid_characters"),
        ("jane.doe.jpg", "not_a_user_reference"),
        ("jane.doe@contoso.com.gif", "wrong_extension"),
        (".jpg", "empty_name"),
    ],
)
def test_a_name_the_service_would_reject_is_a_reject_line_with_its_naming_reason_and_exit_1(
    tmp_path: Path, file_name: str, code: str
) -> None:
    path = _write(tmp_path / file_name, corpus.baseline())  # a sound photo: only the name fails
    status, [line], err = run("check", str(path))
    assert status == 1
    rejection = parse_blob_name(file_name)
    assert isinstance(rejection, NameRejection)
    assert line == {
        "file": str(path),
        "verdict": "reject",
        "reason": {"code": code, "message": rejection.message},
        "actions": [],
        "size": None,
        "width": None,
        "height": None,
        "sha256": None,
    }
    assert "0 accepted, 1 rejected" in err


def test_only_the_file_name_is_read_by_the_naming_rules_not_the_folders_it_is_in(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "HR photos" / "2026"
    folder.mkdir(parents=True)
    status, [line], _ = run("check", str(_write(folder / "jane@contoso.com.jpg",
                                                corpus.baseline())))
    assert (status, line["verdict"]) == (0, "accept")


def test_a_bare_alias_is_accepted_when_the_settings_give_a_default_domain(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path / "jane.doe.jpg", corpus.baseline())
    monkeypatch.setenv("PHOTO_DEFAULT_DOMAIN", "contoso.com")
    status, [line], _ = run("check", str(path))
    assert (status, line["verdict"]) == (0, "accept")


def test_the_naming_rules_can_come_from_a_settings_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "123456.jpg", corpus.baseline())
    assert run("check", str(path))[1][0]["reason"]["code"] == "not_a_user_reference"
    settings = tmp_path / "local.settings.json"
    settings.write_text(json.dumps({"Values": {"PHOTO_EMPLOYEE_ID_MODE": "true"}}))
    status, [line], _ = run("check", str(path), "--settings", str(settings))
    assert (status, line["verdict"]) == (0, "accept")


def test_naming_settings_the_app_would_refuse_are_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PHOTO_DEFAULT_DOMAIN", "contoso.com")
    monkeypatch.setenv("PHOTO_EMPLOYEE_ID_MODE", "true")
    status, lines, err = run("check", str(_write(tmp_path / "jane.doe.jpg", corpus.baseline())))
    assert (status, lines) == (2, [])
    assert "cannot be set together" in err


def test_a_file_rejected_for_its_name_is_not_written_to_out(tmp_path: Path) -> None:
    path = _write(tmp_path / "jane doe.jpg", corpus.baseline())
    status, [line], _ = run("check", str(path), "--out", str(tmp_path / "ready"))
    assert (status, line["reason"]["code"]) == (1, "invalid_characters")
    assert list((tmp_path / "ready").iterdir()) == []


def test_out_writes_accepted_upload_ready_jpegs_under_the_same_name(
    drop: Path, tmp_path: Path
) -> None:
    out = tmp_path / "ready" / "nested"
    status, lines, _ = run("check", *sorted(str(p) for p in drop.iterdir()), "--out", str(out))
    assert status == 1
    assert sorted(p.name for p in out.iterdir()) == [
        "ann.lee@contoso.com.jpg",
        "jane.doe@contoso.com.jpg",
    ]
    for line in lines:
        written = out / Path(line["file"]).name
        if line["verdict"] == "accept":
            assert hashlib.sha256(written.read_bytes()).hexdigest() == line["sha256"]
            assert written.stat().st_size == line["size"]
        else:
            assert not written.exists()


def test_out_into_an_input_folder_is_refused_and_nothing_is_overwritten(drop: Path) -> None:
    before = {p: p.read_bytes() for p in drop.iterdir()}
    status, lines, err = run("check", *map(str, before), "--out", str(drop))
    assert (status, lines) == (2, [])
    assert "would overwrite the original" in err
    assert {p: p.read_bytes() for p in drop.iterdir()} == before


def test_out_reached_through_a_relative_path_is_still_recognised_as_the_input_folder(
    drop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(drop)
    status, _, _ = run("check", "jane.doe@contoso.com.jpg", "--out", "../drop")
    assert status == 2


def test_inputs_sharing_a_file_name_with_out_are_refused(tmp_path: Path) -> None:
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "x@contoso.com.jpg").write_bytes(corpus.baseline())
    status, _, err = run(
        "check",
        str(tmp_path / "a" / "x@contoso.com.jpg"),
        str(tmp_path / "b" / "x@contoso.com.jpg"),
        "--out",
        str(tmp_path / "o"),
    )
    assert status == 2
    assert "same file name" in err


def test_out_that_is_a_file_is_a_usage_error(drop: Path, tmp_path: Path) -> None:
    blocker = _write(tmp_path / "blocker", b"")
    status, _, err = run("check", str(drop / "jane.doe@contoso.com.jpg"), "--out", str(blocker))
    assert status == 2
    assert "not a folder" in err


def test_max_side_flag_overrides_the_policy(drop: Path) -> None:
    _, [line], _ = run("check", str(drop / "jane.doe@contoso.com.jpg"), "--max-side", "100")
    assert (line["width"], line["height"]) == (100, 75)


def test_min_side_flag_overrides_the_policy(drop: Path) -> None:
    _, [line], _ = run("check", str(drop / "jane.doe@contoso.com.jpg"), "--min-side", "300")
    assert line["reason"]["code"] == "too_small"


def test_policy_parameter_is_the_seam_for_settings(drop: Path) -> None:
    _, [line], _ = run(
        "check", str(drop / "jane.doe@contoso.com.jpg"), policy=ImagePolicy(max_side=64)
    )
    assert max(line["width"], line["height"]) == 64


def test_oversized_file_is_rejected_without_reading_it_all(drop: Path) -> None:
    _, [line], _ = run(
        "check", str(drop / "jane.doe@contoso.com.jpg"), policy=ImagePolicy(max_input_bytes=1024)
    )
    assert line["reason"]["code"] == "file_too_large"


CAMERA_FILE_BYTES = 31_579_923  # a 31.6 MB (decimal) camera original, over the 25 MB cap


def test_a_file_over_the_cap_is_reported_at_its_true_size_unread(tmp_path: Path) -> None:
    path = tmp_path / "jane.doe@contoso.com.jpg"
    with open(path, "wb") as handle:
        handle.truncate(CAMERA_FILE_BYTES)  # sparse: its size without its bytes
    _, [line], _ = run("check", str(path))
    assert line["reason"]["code"] == "file_too_large"
    message = line["reason"]["message"]
    assert "the file is 30.1 MB (31,579,923 bytes)" in message
    assert "over the 25.0 MB (26,214,400 bytes) limit" in message


def test_check_and_the_drop_path_state_an_oversized_file_in_the_same_words(
        tmp_path: Path) -> None:
    from dataclasses import replace

    from photo_core.domain.naming import NamingRules
    from photo_core.use_cases.ports import DropInfo
    from photo_core.use_cases.sync import SyncDeps, SyncOptions, sync_drop
    from tests.unit.fakes import FakeClock, FakeDrop, FakePhotoApi, FakeStateStore

    class CameraBlob(FakeDrop):
        def info(self) -> DropInfo:
            return replace(super().info(), size=CAMERA_FILE_BYTES)

    path = tmp_path / "jane.doe@contoso.com.jpg"
    with open(path, "wb") as handle:
        handle.truncate(CAMERA_FILE_BYTES)
    _, [line], _ = run("check", str(path))
    blob = CameraBlob("jane.doe@contoso.com.jpg", b"")
    deps = SyncDeps(api=FakePhotoApi(), state=FakeStateStore(), owner="t", clock=FakeClock())
    outcome = sync_drop(blob, SyncOptions(naming=NamingRules(), image=ImagePolicy()), deps)
    assert blob.reads == 0  # refused from its size alone
    assert (outcome.reason, outcome.message) == (line["reason"]["code"],
                                                 line["reason"]["message"])


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["check"],
        ["frobnicate", "x.jpg"],
        ["check", "x.jpg", "--max-side", "abc"],
        ["check", "x.jpg", "--max-side", "0"],
        ["check", "x.jpg", "--min-side", "900", "--max-side", "800"],
    ],
    ids=[
        "no_command",
        "no_files",
        "unknown_command",
        "non_numeric_flag",
        "zero_flag",
        "min_side_over_max_side",
    ],
)
def test_usage_errors_exit_2(argv: list[str]) -> None:
    status, lines, err = run(*argv)
    assert (status, lines) == (2, [])
    assert "error" in err


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--help"]) == 0
    assert "--out" in capsys.readouterr().out


def test_python_dash_m_photo_core_check_runs_as_a_program(drop: Path) -> None:
    good, bad = drop / "ann.lee@contoso.com.jpg", drop / "john.roe@contoso.com.jpg"
    result = subprocess.run(
        [sys.executable, "-m", "photo_core", "check", str(good), str(bad)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(line["verdict"], line["width"], line["height"]) for line in lines] == [
        ("accept", 240, 160),
        ("reject", None, None),
    ]
    assert [a["code"] for a in lines[0]["actions"]] == ["rotated", "reencoded", "metadata_stripped"]
    assert "Traceback" not in result.stderr


def test_the_photo_rules_are_the_services_own_settings_too(tmp_path: Path) -> None:
    path = _write(tmp_path / "jane@contoso.com.jpg", corpus.baseline((320, 240)))
    assert run("check", str(path))[0] == 0
    settings = tmp_path / "local.settings.json"
    settings.write_text(json.dumps({"Values": {"PHOTO_MIN_SIDE": "400"}}))
    status, [line], _ = run("check", str(path), "--settings", str(settings))
    assert (status, line["reason"]["code"]) == (1, "too_small")


def test_usage_errors_escape_control_characters_from_file_names(tmp_path: Path) -> None:
    """Two inputs with the same name quote both; an escape sequence in a name must reach the
    terminal as text, not act on it."""
    first = tmp_path / "a" / "x\x1b[2J\x07.jpg"
    second = tmp_path / "b" / "x\x1b[2J\x07.jpg"
    code, _, err = run("check", str(first), str(second), "--out", str(tmp_path / "out"))
    assert code == 2
    assert "\x1b" not in err and "\x07" not in err
    assert "x\\x1b[2J\\x07.jpg" in err


def test_argparse_errors_escape_control_characters_too() -> None:
    code, _, err = run("check", "x.jpg", "--colour\x1b]0;pwned\x07")
    assert code == 2
    assert "\x1b" not in err and "\x07" not in err and "--colour\\x1b]0;pwned\\x07" in err
