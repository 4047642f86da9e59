"""The docs hold up: every link, anchor, make target and python -m command they print exists.

README.md is the front door: at most 300 lines, and it links every page under docs/.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.docs.doccheck import check_file, links_of, makefile_targets, markdown_files

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
MAX_README_LINES = 300


@pytest.fixture(scope="module")
def targets() -> set[str]:
    return makefile_targets(ROOT / "Makefile")


@pytest.mark.parametrize("path", markdown_files(ROOT), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_link_anchor_make_target_and_python_command_in_the_file_exists(
    path: Path, targets: set[str]
) -> None:
    problems = check_file(path, ROOT, targets)
    assert not problems, "\n".join(map(str, problems))


def test_the_readme_is_a_front_door_of_at_most_300_lines() -> None:
    lines = len(README.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_README_LINES, f"README.md has {lines} lines (at most {MAX_README_LINES})"


def test_the_readme_links_every_page_under_docs() -> None:
    linked = {(README.parent / target.partition("#")[0]).resolve()
              for _, target in links_of(README.read_text(encoding="utf-8"))}
    pages = sorted((ROOT / "docs").glob("*.md"))
    missing = [p.relative_to(ROOT).as_posix() for p in pages if p.resolve() not in linked]
    assert pages and not missing, f"README.md does not link: {', '.join(missing)}"
