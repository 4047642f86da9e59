"""Node and Azurite agree: the Azurite pinned in package.json runs on the Node the Makefile and
README require, and make names that version when node is missing or too old."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def node_min() -> int:
    found = re.search(r"^NODE_MIN := (\d+)$", (REPO / "Makefile").read_text(), re.MULTILINE)
    assert found, "the Makefile names the Node version it needs"
    return int(found.group(1))


def test_the_pinned_azurite_declares_it_runs_on_the_required_node() -> None:
    pinned = json.loads((REPO / "package.json").read_text())["devDependencies"]["azurite"]
    lock = json.loads((REPO / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/azurite"]["version"] == pinned
    engines = lock["packages"]["node_modules/azurite"]["engines"]["node"]
    least = re.fullmatch(r">=\s*(\d+)(?:\.\d+){0,2}", engines)
    assert least, f"azurite {pinned} declares node {engines!r}"
    assert int(least.group(1)) <= node_min(), f"azurite {pinned} needs node {engines}"


def test_the_readme_asks_for_the_node_the_makefile_checks() -> None:
    asked = re.findall(r"Node(?:\.js)? (\d+)\+", (REPO / "README.md").read_text())
    assert asked and {int(n) for n in asked} == {node_min()}


def make(path: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("make")
    assert binary is not None
    return subprocess.run([binary, "-s", "--no-print-directory", "node-version"], cwd=REPO,
                          env={"PATH": path}, capture_output=True, text=True, timeout=60,
                          check=False)


@pytest.mark.parametrize(("version", "ok"), [("18.19.1", False), ("20.20.2", True),
                                             ("22.1.0", True)])
def test_make_checks_the_node_version_and_names_the_one_it_needs(
        tmp_path: Path, version: str, ok: bool) -> None:
    fake = tmp_path / "node"
    fake.write_text(f"#!/bin/sh\necho {version}\n")
    fake.chmod(0o755)
    result = make(str(tmp_path))
    assert (result.returncode == 0) is ok, result.stderr
    if not ok:
        assert f"needs Node.js {node_min()} or newer" in result.stderr
        assert f"this 'node' is {version}" in result.stderr


def test_make_says_which_node_it_needs_when_there_is_none(tmp_path: Path) -> None:
    result = make(str(tmp_path))
    assert result.returncode != 0
    assert f"needs Node.js {node_min()} or newer" in result.stderr
    assert "no 'node' is on PATH" in result.stderr
