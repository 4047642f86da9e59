"""Operator commands: ``reconcile`` and ``report``, against a deployed or local photo-sync.

Both read the same settings as the function app: from the environment, or from a Core Tools
``local.settings.json`` given with ``--settings`` (its values never override the environment),
which is how they are pointed at the local stack.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any, TextIO

from photo_core.errors import SettingsError
from photo_core.local_settings import SettingsFileError, apply_values, read_local_settings

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
BAR_WIDTH = 30


def add_commands(commands: Any) -> None:
    """Register the operator subcommands on the ``python -m photo_core`` parser."""
    reconcile = commands.add_parser(
        "reconcile", help="process drops that have no outcome, or whose photo is not the user's",
        description="Walk the drop container and process every blob with no recorded outcome, "
        "or whose content differs from the last upload for its user. Resumable: finished "
        "blobs are skipped on the next run.")
    _settings_option(reconcile)
    reconcile.add_argument("--prefix", help="only blobs whose names start with this")
    reconcile.add_argument("--limit", type=int, help="process at most this many blobs")
    reconcile.add_argument("--workers", type=int, default=4, help="drops at once (default 4)")
    reconcile.add_argument("--retry-rejected", action="store_true",
                           help="also process blobs rejected earlier (after fixing the cause)")
    reconcile.add_argument("--dry-run", action="store_true",
                           help="run every step but the upload; outcomes say would-upload")
    reconcile.set_defaults(handler=_reconcile)
    report = commands.add_parser(
        "report", help="outcomes over a time window",
        description="Counts by status and reason and the latest rejects (table or json), or "
        "one row per outcome (csv).")
    _settings_option(report)
    report.add_argument("--since", help="ISO time or a duration back from now (default 24h)")
    report.add_argument("--until", help="ISO time or a duration back from now (default now)")
    report.add_argument("--format", choices=("table", "json", "csv"), default="table")
    report.set_defaults(handler=_report)


def _settings_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--settings", type=Path,
                        help="a local.settings.json whose Values fill unset settings")


def load_settings_file(path: Path | None) -> None:
    """Fill unset settings from a local.settings.json, as Core Tools and the local host do."""
    if path is None:
        return
    if not path.is_file():
        raise SettingsError([f"--settings {path}: no such file"])
    try:
        apply_values(read_local_settings(path).values)
    except SettingsFileError as exc:
        raise SettingsError([f"--settings {exc}"]) from exc


def _reconcile(args: argparse.Namespace, _policy: Any, out: TextIO, err: TextIO) -> int:
    from photo_core.handlers import handle_reconcile
    from photo_core.reconcile import ReconcileOptions, ReconcileSummary

    if args.dry_run:
        os.environ["PHOTO_DRY_RUN"] = "true"
    try:
        load_settings_file(args.settings)
        options = ReconcileOptions(prefix=args.prefix, limit=args.limit, workers=args.workers,
                                   retry_rejected=args.retry_rejected)

        def progress(summary: ReconcileSummary) -> None:
            done = sum(summary.outcomes.values()) + summary.deferred + summary.failed
            total = max(summary.selected, done, 1)
            filled = BAR_WIDTH * done // total
            err.write(f"\r[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done}/{total}")
            err.flush()

        summary = handle_reconcile(options, progress)
    except SettingsError as exc:
        print(f"photo-sync settings: {exc}", file=err)
        return EXIT_USAGE
    err.write("\n")
    _table(out, [("result", "count"), *[(k, str(v)) for k, v in summary.rows()]])
    return EXIT_OK if summary.failed == 0 else EXIT_FAILED


def _report(args: argparse.Namespace, _policy: Any, out: TextIO, err: TextIO) -> int:
    from photo_core.handlers import handle_report
    from photo_core.reports import ReportWindowError

    try:
        load_settings_file(args.settings)
        report = handle_report(args.since, args.until)
    except (SettingsError, ReportWindowError) as exc:
        print(f"report: {exc}", file=err)
        return EXIT_USAGE
    if args.format == "csv":
        out.write(report.csv())
        return EXIT_OK
    summary = report.summary()
    if args.format == "json":
        json.dump(summary, out, indent=2)
        out.write("\n")
        return EXIT_OK
    out.write(f"outcomes from {summary['since']} to {summary['until']}: {summary['total']}\n\n")
    _table(out, [("status", "count"), *[(k, str(v)) for k, v in summary["byStatus"].items()]])
    out.write("\n")
    _table(out, [("reason", "count"), *[(k, str(v)) for k, v in summary["byReason"].items()]])
    if summary["latestRejects"]:
        out.write("\nlatest rejects\n")
        _table(out, [("at", "blob", "reason", "message"), *[
            (r["at"][:19], r["blob"], r["reason"] or "", r["message"][:80])
            for r in summary["latestRejects"]]])
    return EXIT_OK


def _table(out: TextIO, rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for n, row in enumerate(rows):
        out.write("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        out.write("\n")
        if n == 0:
            out.write("  ".join("-" * w for w in widths) + "\n")


