"""What the markdown docs point at must exist: files, anchors, make targets, python -m commands,
and the repository paths they name in code (``devstack/soak/logs.py``).

Docs rot silently: a section moves, a target is renamed, a module becomes a package, and the
README keeps sending newcomers to something that is not there. Every check here reads files
only: modules are found with ``importlib.util.find_spec`` (never imported for their side
effects), subcommands are read from the ``add_parser`` calls in the module's source, and the
options of the project's own argparse entry points from their ``--help`` (which argparse
answers before the program does anything).

What counts as a command: ``make ...`` at the start of a code span or line (or after ``;``,
``&&``, ``|``, ``(``), and ``[path/]python[3] -m module ...`` anywhere in code. Prose is never
read as a command.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import importlib.util
import re
import shlex
import subprocess
import sys
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

HELP_TIMEOUT_S = 120  # a cold interpreter importing the CLI on a machine with both cores busy


@dataclass(frozen=True)
class Problem:
    """One thing a markdown file points at that is not there, with where it is written."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


@dataclass(frozen=True)
class Code:
    """A piece of code in a markdown file: a fenced block's line or an inline code span."""

    line: int
    text: str
    starts_command: bool  # a fenced line or a whole span: a command may start at its beginning


# --- reading markdown ------------------------------------------------------------------------

_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
_INLINE_CODE = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)", re.DOTALL)
_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$", re.MULTILINE)
_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_HTML_ANCHOR = re.compile(r"<a\s+(?:[^>]*\s)?(?:id|name)=\"([^\"]+)\"", re.IGNORECASE)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def split_fences(text: str) -> tuple[str, list[Code]]:
    """The text with fenced blocks blanked (line numbers kept), and the blocks' lines.

    Lines ending in a backslash are joined with the next, as the shell reads them.
    """
    prose: list[str] = []
    code: list[Code] = []
    fence: str | None = None
    pending: tuple[int, str] | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        opening = _FENCE.match(line)
        if fence is None and opening:
            fence = opening.group(1)[0] * len(opening.group(1))
            prose.append("")
            continue
        if fence is not None:
            prose.append("")
            if line.strip().startswith(fence) and not line.strip().strip(fence[0]):
                fence = None
                continue
            start, joined = pending if pending else (number, "")
            joined += line
            if line.endswith("\\"):
                pending = (start, joined[:-1] + " ")
                continue
            pending = None
            code.append(Code(start, joined, starts_command=True))
            continue
        prose.append(line)
    return "\n".join(prose), code


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def inline_code(prose: str) -> tuple[str, list[Code]]:
    """The prose with code spans blanked (offsets kept), and the spans."""
    spans: list[Code] = []

    def blank(match: re.Match[str]) -> str:
        spans.append(Code(_line_of(prose, match.start()), " ".join(match.group(2).split()),
                          starts_command=True))
        return re.sub(r"[^\n]", " ", match.group(0))

    return _INLINE_CODE.sub(blank, prose), spans


def code_of(text: str) -> list[Code]:
    """Every fenced line and inline code span of a markdown text."""
    prose, fenced = split_fences(text)
    _, spans = inline_code(prose)
    return fenced + spans


def links_of(text: str) -> list[tuple[int, str]]:
    """(line, target) of every inline link, image and reference definition outside code."""
    prose, _ = split_fences(text)
    plain, _ = inline_code(prose)
    found = [(_line_of(plain, m.start()), m.group(1)) for m in _LINK.finditer(plain)]
    found += [(_line_of(plain, m.start()), m.group(1)) for m in _REFERENCE.finditer(plain)]
    return sorted(found)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: the rendered text lowercased, punctuation dropped
    (``-`` and ``_`` kept), each space a ``-``."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link reads as its text
    text = re.sub(r"<[^>]+>", "", text).replace("`", "")
    kept = (c for c in text.lower()
            if c in " -_" or unicodedata.category(c)[0] in "LMN")
    return "".join(kept).replace(" ", "-")


def anchors_of(text: str) -> set[str]:
    """Every anchor a page offers: its headings' slugs (repeats get -1, -2, ...) and HTML ids."""
    prose, _ = split_fences(text)
    anchors: set[str] = set()
    seen: dict[str, int] = {}
    for line in prose.splitlines():
        heading = _HEADING.match(line)
        if heading:
            base = slug(heading.group(2))
            count = seen.get(base, 0)
            seen[base] = count + 1
            anchors.add(base if count == 0 else f"{base}-{count}")
    anchors.update(_HTML_ANCHOR.findall(prose))
    return anchors


# --- reading commands ------------------------------------------------------------------------

_COMMAND_START = r"(?:^|(?<=[;&|(])|(?<=\$\())\s*"
_MAKE = re.compile(_COMMAND_START + r"make(?=\s|$)([^;&|)`#\n]*)")
# the module ends at a space or the end: `python -m photo_core: check, ...` in a diagram is prose
_PYTHON = re.compile(r"(?<![\w.-])(?:[\w.~$-]*/)*python(?:3(?:\.\d+)?)?\s+-m\s+([A-Za-z_][\w.]*)"
                     r"(?=\s|$)([^;&|)`<>#\n]*)")


@dataclass(frozen=True)
class PythonCommand:
    module: str
    args: tuple[str, ...]


def _words(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError:  # an unbalanced quote in a sketch: read it word by word
        return text.split()


def make_targets_in(code: Code) -> list[str]:
    """The targets a ``make`` command in this code names (variables and options skipped)."""
    targets: list[str] = []
    for match in _MAKE.finditer(code.text):
        targets += [w for w in _words(match.group(1)) if "=" not in w and not w.startswith("-")]
    return targets


def python_commands_in(code: Code) -> list[PythonCommand]:
    return [PythonCommand(m.group(1), tuple(_words(m.group(2))))
            for m in _PYTHON.finditer(code.text)]


_RULE = re.compile(r"^([A-Za-z0-9_][\w.-]*(?:[ \t]+[A-Za-z0-9_][\w.-]*)*)[ \t]*:(?!=)",
                   re.MULTILINE)


def makefile_targets(makefile: Path) -> set[str]:
    """The explicit targets of a Makefile (pattern rules and ``$(VAR)`` targets are not named
    in docs, so they are not read)."""
    targets: set[str] = set()
    for match in _RULE.finditer(makefile.read_text(encoding="utf-8")):
        targets.update(match.group(1).split())
    return targets


# --- python entry points ---------------------------------------------------------------------

@dataclass(frozen=True)
class EntryPoint:
    """What ``python -m module`` offers, read from its source: whether it runs at all, its
    argparse subcommands, and whether it is an argparse program of this repository."""

    module: str
    error: str | None
    subcommands: frozenset[str]
    argparse: bool


def _entry_sources(main: Path) -> list[Path]:
    """The files that make up a module's command line: the module itself, or (for a package's
    ``__main__``) the package minus the sub-packages that are programs of their own."""
    if main.name != "__main__.py":
        return [main]
    root = main.parent
    nested = {p.parent for p in root.rglob("__main__.py") if p.parent != root}
    return [p for p in sorted(root.rglob("*.py"))
            if not any(n == p.parent or n in p.parents for n in nested)]


def _add_parser_names(source: str) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "add_parser" and node.args
                and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            names.add(node.args[0].value)
    return names


@contextlib.contextmanager
def _importable_from(root: Path) -> Iterator[None]:
    """``python -m`` runs with the working directory on sys.path: look modules up the same way."""
    added = str(root) not in sys.path
    if added:
        sys.path.insert(0, str(root))
    try:
        yield
    finally:
        if added:
            sys.path.remove(str(root))


@functools.cache
def entry_point(module: str, root: Path) -> EntryPoint:
    try:
        with _importable_from(root):
            spec = importlib.util.find_spec(module)
    except (ImportError, ValueError) as exc:
        return EntryPoint(module, f"module {module} cannot be found: {exc}", frozenset(), False)
    if spec is None:
        return EntryPoint(module, f"no module named {module}", frozenset(), False)
    if spec.submodule_search_locations is not None:  # a package runs its __main__
        location = Path(next(iter(spec.submodule_search_locations)))
        main = location / "__main__.py"
        if not main.is_file():
            return EntryPoint(module, f"package {module} has no __main__: `python -m` cannot "
                              "run it", frozenset(), False)
    elif spec.origin and spec.has_location:
        main = Path(spec.origin)
    else:
        return EntryPoint(module, None, frozenset(), False)  # built in: importable is enough
    if root not in main.resolve().parents:
        return EntryPoint(module, None, frozenset(), False)  # not ours: importable is enough
    sources = [p.read_text(encoding="utf-8") for p in _entry_sources(main)]
    subcommands = frozenset().union(*(_add_parser_names(s) for s in sources))
    argparse = any("ArgumentParser(" in s for s in sources)
    return EntryPoint(module, None, subcommands, argparse)


@functools.cache
def help_text(module: str, subcommand: str | None, root: Path) -> str:
    """``python -m module [subcommand] --help``: argparse prints it before doing anything."""
    argv = [sys.executable, "-m", module, *([subcommand] if subcommand else []), "--help"]
    done = subprocess.run(argv, cwd=root, capture_output=True, text=True,
                          timeout=HELP_TIMEOUT_S, check=False)
    return done.stdout + done.stderr


def _option(word: str) -> str | None:
    word = word.strip("[]")  # usage lines write optional options in brackets
    if not word.startswith("-") or word in ("-", "--") or re.fullmatch(r"-\d[\d.]*", word):
        return None
    return word.split("=", 1)[0]


def check_python(command: PythonCommand, root: Path) -> list[str]:
    """What is wrong with one ``python -m`` command, as messages (none when it is fine)."""
    entry = entry_point(command.module, root)
    if entry.error:
        return [entry.error]
    shown = f"python -m {command.module}"
    subcommand = None
    if entry.subcommands and command.args:
        first = command.args[0]
        if not first.startswith("-") and first not in entry.subcommands:
            return [f"`{shown}` has no subcommand {first!r} "
                    f"(it has {', '.join(sorted(entry.subcommands))})"]
        # after options of the program itself, the first word that names one
        subcommand = next((a for a in command.args if a in entry.subcommands), None)
        shown += f" {subcommand}" if subcommand else ""
    if not entry.argparse:
        return []
    options = [o for o in map(_option, command.args) if o and o not in ("-h", "--help")]
    if not options:
        return []
    offered = help_text(command.module, None, root)
    if subcommand:
        offered += help_text(command.module, subcommand, root)
    return [f"`{shown}` has no option {option}" for option in options
            if not re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", offered)]


# --- one file --------------------------------------------------------------------------------

def _anchor_problem(anchor: str, page: Path, root: Path) -> str | None:
    if anchor in anchors_of(page.read_text(encoding="utf-8")):
        return None
    return f"no heading for #{anchor} in {page.relative_to(root)}"


def check_links(path: Path, root: Path) -> Iterator[tuple[int, str]]:
    text = path.read_text(encoding="utf-8")
    for line, target in links_of(text):
        if not target or _SCHEME.match(target) or target.startswith("//"):
            continue
        file_part, _, anchor = target.partition("#")
        if not file_part:
            if anchor not in anchors_of(text):
                yield line, f"no heading for #{anchor} in this file"
            continue
        resolved = (root / file_part.lstrip("/") if file_part.startswith("/")
                    else path.parent / file_part).resolve()
        if resolved != root and root not in resolved.parents:
            yield line, f"link {target} leaves the repository"
        elif not resolved.exists():
            yield line, f"link to a missing file: {target}"
        elif anchor and resolved.suffix == ".md":
            problem = _anchor_problem(anchor, resolved, root)
            if problem:
                yield line, problem


_REPO_PATH = re.compile(r"(?<![\w./~<>$-])([A-Za-z_][\w-]*(?:/[\w.-]+)+)")


def _top_folders(root: Path) -> frozenset[str]:
    return frozenset(p.name for p in root.iterdir() if p.is_dir()
                     and not p.name.startswith(".") and p.name != "node_modules")


def _ignored(path: str, root: Path) -> bool:
    """Files a command makes (``bench/results/latest.json``) are named before they exist."""
    return subprocess.run(["git", "check-ignore", "-q", path], cwd=root,
                          capture_output=True, check=False).returncode == 0


def repo_paths_in(code: Code, folders: frozenset[str]) -> list[str]:
    """Paths in code that start at one of the repository's top folders (``devstack/...``)."""
    paths = (m.group(1).rstrip(".") for m in _REPO_PATH.finditer(code.text))
    return [p for p in paths if p.split("/", 1)[0] in folders]


def check_code(path: Path, root: Path, targets: set[str]) -> Iterator[tuple[int, str]]:
    folders = _top_folders(root)
    for code in code_of(path.read_text(encoding="utf-8")):
        for target in make_targets_in(code):
            if target not in targets:
                yield code.line, f"`make {target}`: no target {target!r} in the Makefile"
        for command in python_commands_in(code):
            for message in check_python(command, root):
                yield code.line, message
        for named in repo_paths_in(code, folders):
            if not (root / named).exists() and not _ignored(named, root):
                yield code.line, f"no file or folder {named} in the repository"


def check_file(path: Path, root: Path, targets: set[str]) -> list[Problem]:
    """Every broken link, anchor, make target, python -m command and repository path in one
    markdown file."""
    name = path.relative_to(root).as_posix()
    found = [*check_links(path, root), *check_code(path, root, targets)]
    return [Problem(name, line, message) for line, message in sorted(found)]


def markdown_files(root: Path) -> list[Path]:
    """The repository's markdown: what git tracks (and would add), else every .md outside
    hidden, generated and dependency folders."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "*.md"], cwd=root,
                            capture_output=True, text=True, check=False)
    if listed.returncode == 0:
        names: Iterable[Path] = (root / n for n in listed.stdout.splitlines())
    else:
        names = (p for p in root.rglob("*.md")
                 if not any(part.startswith(".") or part == "node_modules"
                            for part in p.relative_to(root).parts))
    return sorted(p for p in names if p.is_file())
