"""``python -m devstack``'s keyboard commands: errors an operator can act on, and a demo that
prints no command for a stack it has already stopped."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

import devstack.__main__ as cli
from devstack.samples import Sample
from devstack.stack import StackInfo


def test_dropping_a_missing_file_is_one_line_and_exit_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nobody.jpg"
    status = cli.main(["--state-dir", str(tmp_path), "drop", str(missing),
                       "--as", "alex.wilber@contoso.com"])
    out, err = capsys.readouterr()
    assert status == 2 and out == ""
    assert err.splitlines() == [f"python -m devstack drop: cannot read {missing}: "
                                "No such file or directory"]


INFO = StackInfo(connection_string="UseDevelopmentStorage=true",
                 api_url="http://127.0.0.1:7071/api/", base_url="http://127.0.0.1:7071",
                 master_key="master", function_keys={"photo_lookup": "own"},
                 drop_container="hr-photos", emulator={}, host_key="host")


class StoppedStack:
    """A stack that starts without starting anything: the demo's printing is under test."""

    def __init__(self, state_dir: Path) -> None:
        self.stopped = False

    def start(self) -> StackInfo:
        return INFO

    def stop(self) -> None:
        self.stopped = True


def test_the_demo_prints_no_command_for_the_stack_it_stopped(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    samples = [Sample("adele.vance@contoso.com.jpg", b"", "uploaded", None, "a photo")]
    monkeypatch.setattr(cli, "LocalStack", StoppedStack)
    monkeypatch.setattr(cli, "sample_batch", lambda: samples)
    monkeypatch.setattr(cli, "_upload_all", lambda info, batch: None)
    monkeypatch.setattr(cli, "_print_notices", lambda info, batch: True)  # not under test

    def outcomes(info: Any, names: list[str]) -> dict[str, dict[str, str]]:
        return {name: {"photosync-status": "uploaded", "photosync-reason": "none"}
                for name in names}

    monkeypatch.setattr(cli, "_wait_for_outcomes", outcomes)
    assert cli.main(["--state-dir", str(tmp_path), "demo"]) == 0
    out = capsys.readouterr().out
    assert "curl" not in out and "export" not in out
    assert "the stack has stopped; `make run` starts it" in out


def test_the_commands_name_the_venvs_interpreter_the_host_key_and_every_variable(
        tmp_path: Path) -> None:
    text = cli.commands(INFO, tmp_path)
    export = next(line for line in text.splitlines() if "export " in line)
    for variable in ("API=http://127.0.0.1:7071/api ", "KEY=host ", "BASE=", "MASTER_KEY="):
        assert variable in export + " "
    used = {word for line in text.splitlines() if "curl" in line
            for word in ("$API", "$KEY", "$BASE", "$MASTER_KEY") if word in line}
    assert used == {"$API", "$KEY", "$BASE", "$MASTER_KEY"}
    devstack_lines = [line.split() for line in text.splitlines() if "-m devstack" in line]
    assert devstack_lines and all(Path(words[0]).name.startswith("python") and
                                  Path(words[0]).resolve() == Path(sys.executable).resolve()
                                  for words in devstack_lines)
    assert all(f"--state-dir {tmp_path}" in " ".join(words) for words in devstack_lines)
