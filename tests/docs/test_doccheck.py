"""The docs check finds each kind of broken pointer, names its file and line, and lets the
correct ones pass (a small repository is written for each test)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.docs.doccheck import Problem, check_file, makefile_targets, slug

MAKEFILE = """\
PYTHON ?= python3
.PHONY: run test

run: $(STAMP)
\t$(PYTHON) -m docsprobe run

test lint: $(STAMP)
\t$(PYTHON) -m pytest
"""

PROBE_MAIN = '''\
import argparse

def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m docsprobe")
    parser.add_argument("--state-dir")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run")
    run.add_argument("--seed")
    sub.add_parser("status")
    parser.parse_args()

if __name__ == "__main__":
    main()
'''


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "Makefile").write_text(MAKEFILE, encoding="utf-8")
    probe = tmp_path / "docsprobe"
    probe.mkdir()
    (probe / "__init__.py").write_text("", encoding="utf-8")
    (probe / "__main__.py").write_text(PROBE_MAIN, encoding="utf-8")
    (tmp_path / "docsprobe_lib").mkdir()  # a package that cannot be run
    (tmp_path / "docsprobe_lib" / "__init__.py").write_text("", encoding="utf-8")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "topic.md").write_text("# Topic\n\n## Settings: `PHOTO_X`, and why\n\n## Settings: "
                                   "`PHOTO_X`, and why\n", encoding="utf-8")
    return tmp_path


def check(repo: Path, markdown: str) -> list[str]:
    page = repo / "README.md"
    page.write_text(textwrap.dedent(markdown), encoding="utf-8")
    return [str(p) for p in check_file(page, repo, makefile_targets(repo / "Makefile"))]


def test_correct_links_anchors_targets_and_commands_pass(repo: Path) -> None:
    assert check(repo, """\
        # Front door

        See [the topic](docs/topic.md#settings-photo_x-and-why), its
        [twin](docs/topic.md#settings-photo_x-and-why-1), [this page](#front-door),
        [the folder](docs/) and [the web](https://example.com/missing.md).

        Run `make run`, or `make test N=3`, then `python -m docsprobe status`:

        ```sh
        make lint && .venv/bin/python -m docsprobe --state-dir x run --seed 4 \\
            --help
        python3 -m json.tool data.json   # make believe, not a command
        ```

        A diagram may say (python -m docsprobe: run, status) or `python -m docsprobe:` in passing.
        Prose may say make sure, or python -m without code around it.
        A link in code is not a link: `[x](missing.md)`.
        """) == []


def test_a_link_to_a_missing_file_is_named_with_its_file_and_line(repo: Path) -> None:
    assert check(repo, "# A\n\nsome text\nsee [gone](docs/gone.md) now\n") == [
        "README.md:4: link to a missing file: docs/gone.md"]


def test_a_link_leaving_the_repository_is_refused(repo: Path) -> None:
    assert check(repo, "[up](../outside.md)\n") == [
        "README.md:1: link ../outside.md leaves the repository"]


def test_a_missing_anchor_is_found_in_this_page_and_in_another(repo: Path) -> None:
    assert check(repo, "# A\n\n[x](#b)\n[y](docs/topic.md#settings)\n") == [
        "README.md:3: no heading for #b in this file",
        "README.md:4: no heading for #settings in docs/topic.md"]


def test_a_repository_path_named_in_code_must_exist(repo: Path) -> None:
    assert check(repo, "Read `docsprobe/__main__.py`, not `docsprobe/cli.py`; HR drops "
                       "`photos/jane.jpg` and `hr/2026/x.jpg` into `<state-dir>/keys.json`.\n") == [
        "README.md:1: no file or folder docsprobe/cli.py in the repository"]


def test_an_unknown_make_target_is_named(repo: Path) -> None:
    assert check(repo, "# A\n\n```sh\nmake run\nmake soak N=3\n```\n") == [
        "README.md:5: `make soak`: no target 'soak' in the Makefile"]


def test_a_module_that_does_not_exist_or_cannot_run_is_named(repo: Path) -> None:
    assert check(repo, "Try `.venv/bin/python -m docsprobe_gone check`\n"
                       "or `python -m docsprobe_lib`.\n") == [
        "README.md:1: no module named docsprobe_gone",
        "README.md:2: package docsprobe_lib has no __main__: `python -m` cannot run it"]


def test_an_unknown_subcommand_is_named_with_the_ones_that_exist(repo: Path) -> None:
    assert check(repo, "```sh\npython -m docsprobe drop photo.jpg\n```\n") == [
        "README.md:2: `python -m docsprobe` has no subcommand 'drop' (it has run, status)"]


def test_an_unknown_option_is_named_with_its_subcommand(repo: Path) -> None:
    assert check(repo, "```sh\npython -m docsprobe run --seed 1 --speed 2\n```\n") == [
        "README.md:2: `python -m docsprobe run` has no option --speed"]


@pytest.mark.parametrize(("heading", "anchor"), [
    ("Soak under faults: `make soak`", "soak-under-faults-make-soak"),
    ("Optional: Entra ID in front of the lookup endpoint",
     "optional-entra-id-in-front-of-the-lookup-endpoint"),
    ("`PHOTO_API_BASE_URL` and [links](x.md)", "photo_api_base_url-and-links"),
    ("What limits bulk sync, 2 cores (shared)", "what-limits-bulk-sync-2-cores-shared"),
])
def test_anchors_follow_githubs_slug_rules(heading: str, anchor: str) -> None:
    assert slug(heading) == anchor


def test_a_problem_reads_as_file_line_and_message() -> None:
    assert str(Problem("docs/x.md", 7, "link to a missing file: y.md")) == (
        "docs/x.md:7: link to a missing file: y.md")
