"""local.settings.json is read one way for the local host and for ``--settings`` commands."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from photo_core.adapters.local_settings import SettingsFileError, read_local_settings
from photo_core.domain.errors import SettingsError
from photo_core.entrypoints.cli_ops import load_settings_file

NAME = "LOCAL_SETTINGS_TEST_VALUE"


@pytest.fixture(autouse=True)
def clean() -> Iterator[None]:
    """What the code under test puts into os.environ is taken out again afterwards."""
    names = (NAME, NAME + "_FLAG")
    for name in names:
        os.environ.pop(name, None)
    yield
    for name in names:
        os.environ.pop(name, None)


def write(path: Path, document: object, bom: bool = False) -> Path:
    text = json.dumps(document)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())
    return path


def test_a_file_saved_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    path = write(tmp_path / "local.settings.json", {"Values": {NAME: "from-file"}}, bom=True)
    load_settings_file(path)
    assert os.environ[NAME] == "from-file"


def test_the_environment_wins_over_the_file(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(NAME, "from-shell")
    load_settings_file(write(tmp_path / "s.json", {"Values": {NAME: "from-file"}}))
    assert os.environ[NAME] == "from-shell"


def test_booleans_and_numbers_read_as_core_tools_reads_them(tmp_path: Path) -> None:
    path = write(tmp_path / "s.json", {"Values": {NAME + "_FLAG": True, NAME: 30}})
    assert read_local_settings(path).values == {NAME + "_FLAG": "true", NAME: "30"}


def test_an_encrypted_file_is_refused_with_what_to_do(tmp_path: Path) -> None:
    path = write(tmp_path / "s.json", {"IsEncrypted": True, "Values": {NAME: "x"}})
    with pytest.raises(SettingsError, match=r"IsEncrypted is true.*func settings decrypt"):
        load_settings_file(path)
    assert NAME not in os.environ


def test_a_missing_settings_file_given_on_the_command_line_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="no such file"):
        load_settings_file(tmp_path / "nope.json")
    assert read_local_settings(tmp_path / "nope.json").values == {}  # the host's default


@pytest.mark.parametrize(("content", "reason"), [
    ("{not json", "cannot be read as JSON"),
    ("[1, 2]", "must hold a JSON object"),
    ('{"Values": [1]}', "Values must be an object"),
    ('{"Values": {"A": {"nested": 1}}}', "Values.A must be a string"),
])
def test_unusable_files_are_refused_with_the_reason(tmp_path: Path, content: str,
                                                    reason: str) -> None:
    path = tmp_path / "s.json"
    path.write_text(content)
    with pytest.raises(SettingsFileError, match=reason):
        read_local_settings(path)
    with pytest.raises(SettingsError, match=reason):
        load_settings_file(path)
