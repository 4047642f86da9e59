"""Command line for photo-sync: ``python -m photo_core check|reconcile|report``.

``check`` lets HR vet a batch before dropping it: one JSON line per file on stdout, the
same verdicts and reason codes the function app records, so "it passed check" means "it will
be accepted". That covers the file name too: it is read by the same naming rules, from the same
settings (the environment, or ``--settings``), as a blob named like the file. With ``--out`` it
also writes the upload-ready JPEGs, to see what Microsoft 365 will show. A summary for humans
goes to stderr, so stdout stays machine-readable.

Exit status: 0 when every file is accepted, 1 when any is rejected (a missing or unreadable
file is a rejection with code ``unreadable``, so one bad path does not hide the rest of the
batch), 2 for usage errors (bad flags, an unusable ``--out``). Bad input never produces a
traceback.

The operator commands ``reconcile`` and ``report`` live in :mod:`photo_core.entrypoints.cli_ops`;
``main`` takes the image policy as a parameter so callers (tests) can supply it.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO

from photo_core.domain.errors import InvalidPhoto, SettingsError
from photo_core.domain.inert_text import printable
from photo_core.domain.naming import NameRejection, NamingRules, parse_blob_name
from photo_core.domain.sizes import file_too_large
from photo_core.entrypoints.cli_ops import (
    add_commands,
    add_settings_option,
    load_settings_file,
    positive_int,
)
from photo_core.photos import ImagePolicy, PreparedPhoto, prepare_photo
from photo_core.settings import Settings

__all__ = ["main"]

EXIT_OK, EXIT_REJECTED, EXIT_USAGE = 0, 1, 2

Handler = Callable[[argparse.Namespace, ImagePolicy | None, TextIO, TextIO], int]


class UsageError(Exception):
    """A command line that cannot run as given; reported on stderr with exit status 2."""


def main(
    argv: Sequence[str] | None = None,
    *,
    policy: ImagePolicy | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Run the command line; return the exit status (never raises for bad input)."""
    out = stdout if stdout is not None else sys.stdout
    err = stderr if stderr is not None else sys.stderr
    parser = _parser()
    try:  # argparse prints usage and help to sys.stdout/stderr: point those at ours
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            args = parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    handler: Handler = args.handler
    try:
        return handler(args, policy, out, err)
    except UsageError as exc:  # it may quote file names: escape their control characters
        print(f"{parser.prog} {args.command}: error: {printable(str(exc))}", file=err)
        return EXIT_USAGE


class _Parser(argparse.ArgumentParser):
    """argparse quotes the offending argument in its errors (``unrecognized arguments: ...``):
    the same escaping as every other line that may carry a file name."""

    def error(self, message: str) -> NoReturn:
        super().error(printable(message))


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m photo_core",
        description="photo-sync tools: keep Microsoft 365 profile photos in step with HR's.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    check = commands.add_parser(
        "check",
        help="vet JPEG photos as photo-sync would, one JSON line per file",
        description="Check each FILE as photo-sync would, its name by the naming rules of "
        "the settings and its content as a photo, and print one JSON line per file: "
        "file, verdict (accept/reject), reason (null or {code, message}), actions, size, "
        "width, height, sha256. Exit 0 if all are accepted, 1 if any is rejected.",
    )
    check.add_argument("files", nargs="+", metavar="FILE", help="photos to check")
    check.add_argument(
        "--out",
        metavar="DIR",
        type=Path,
        help="write each accepted upload-ready JPEG into DIR (created if "
        "needed; must not be a folder holding the inputs)",
    )
    check.add_argument(
        "--max-side",
        type=positive_int,
        metavar="PX",
        help="longest side of the output in pixels (default: policy)",
    )
    check.add_argument(
        "--min-side",
        type=positive_int,
        metavar="PX",
        help="shortest side a photo may have in pixels (default: policy)",
    )
    add_settings_option(check)
    check.set_defaults(handler=_check)
    add_commands(commands)
    return parser


def _check(args: argparse.Namespace, given: ImagePolicy | None, out: TextIO,
           err: TextIO) -> int:
    settings = _service_settings(args.settings)
    base = given if given is not None else settings.image  # the service's own, by default
    overrides = {
        k: v for k, v in (("max_side", args.max_side), ("min_side", args.min_side)) if v is not None
    }
    policy = dataclasses.replace(base, **overrides)
    if policy.problems():
        raise UsageError("; ".join(policy.problems()))
    rules = settings.naming
    files: list[str] = args.files
    out_dir: Path | None = args.out
    if out_dir is not None:
        _prepare_out_dir(out_dir, files)
    rejected = 0
    for name in files:
        line = _check_one(name, policy, rules, out_dir)
        rejected += line["verdict"] == "reject"
        print(json.dumps(line), file=out, flush=True)
    accepted = len(files) - rejected
    print(f"{accepted} accepted, {rejected} rejected", file=err)
    return EXIT_REJECTED if rejected else EXIT_OK


def _prepare_out_dir(out_dir: Path, files: list[str]) -> None:
    """Refuse an --out that could overwrite inputs; create it. Raises UsageError."""
    target = out_dir.resolve()
    names: dict[str, str] = {}
    for name in files:
        path = Path(name)
        if target in (path.resolve().parent, path.absolute().parent.resolve()):
            raise UsageError(
                f"--out {out_dir} is the folder of input {name}; writing there "
                "would overwrite the original; choose another folder"
            )
        previous = names.setdefault(path.name, name)
        if previous != name:
            raise UsageError(
                f"inputs {previous} and {name} have the same file name, so one "
                "output would overwrite the other in --out"
            )
    if target.exists() and not target.is_dir():
        raise UsageError(f"--out {out_dir} exists and is not a folder")
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create --out folder {out_dir}: {exc.strerror}") from None


def _service_settings(settings_file: Path | None) -> Settings:
    """The settings the function app would read, so names and photos are checked by its rules:
    a bare alias passes here exactly when PHOTO_DEFAULT_DOMAIN (or an id mode) makes it pass
    there, and PHOTO_MAX_SIDE, PHOTO_MIN_SIDE and the size caps are the service's. Raises
    UsageError for settings the app would refuse to start with."""
    try:
        load_settings_file(settings_file)
        return Settings.from_env()
    except SettingsError as exc:
        raise UsageError(f"photo-sync settings: {exc}") from None


def _check_one(
    name: str, policy: ImagePolicy, rules: NamingRules, out_dir: Path | None
) -> dict[str, Any]:
    # The app reads the name before the content, so a bad name is the reason it records. The
    # file name is what HR would drop; the local folders it sits in are not part of the blob.
    named = parse_blob_name(Path(name).name, rules)
    if isinstance(named, NameRejection):
        return _reject(name, named.code, named.message)
    try:
        with open(name, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size  # a file over the cap is judged unread
            if size > policy.max_input_bytes:
                too_large = file_too_large(size, policy.max_input_bytes)
                return _reject(name, too_large.code, too_large.message)
            data = handle.read(policy.max_input_bytes + 1)  # bounded: not every file has a size
    except OSError as exc:
        return _reject(name, "unreadable", f"cannot read the file: {exc.strerror or exc}")
    try:
        photo = prepare_photo(data, policy)
    except InvalidPhoto as exc:
        return _reject(name, exc.code, exc.message)
    except Exception as exc:  # a bug, not the photo's fault: report it and keep going
        return _reject(name, "internal_error", f"{type(exc).__name__}: {exc}")
    if out_dir is not None:
        try:
            _write(out_dir / Path(name).name, photo.data)
        except OSError as exc:
            return _reject(name, "write_failed", f"cannot write to {out_dir}: {exc.strerror}")
    return _accept(name, photo)


def _write(path: Path, data: bytes) -> None:
    """Write via a temporary file and rename, so a failed write leaves no half photo."""
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".photo-sync-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _accept(name: str, photo: PreparedPhoto) -> dict[str, Any]:
    return {
        "file": name,
        "verdict": "accept",
        "reason": None,
        "actions": [{"code": a.code, "reason": a.reason} for a in photo.actions],
        "size": len(photo.data),
        "width": photo.width,
        "height": photo.height,
        "sha256": photo.sha256,
    }


def _reject(name: str, code: str, message: str) -> dict[str, Any]:
    return {
        "file": name,
        "verdict": "reject",
        "reason": {"code": code, "message": message},
        "actions": [],
        "size": None,
        "width": None,
        "height": None,
        "sha256": None,
    }
