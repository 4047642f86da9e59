"""Operator commands: ``reconcile`` and ``report``, against a deployed or local photo-sync.

Both read the same settings as the function app: from the environment, or from a Core Tools
``local.settings.json`` given with ``--settings`` (its values never override the environment),
which is how they are pointed at the local stack.

Storage that cannot be used (unreachable, a wrong key, a missing container) is a configuration
problem, so it ends the command with one line naming the endpoint and exit status 2, not a
traceback. The SDK's retries still run first: their wait is set where the clients are built.
"""

from __future__ import annotations

import argparse
import enum
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import urlsplit

from photo_core.adapters.local_settings import SettingsFileError, apply_values, read_local_settings
from photo_core.domain.errors import SettingsError
from photo_core.domain.inert_text import printable
from photo_core.settings import MAX_RECONCILE_WORKERS as MAX_WORKERS

if TYPE_CHECKING:
    from azure.core.exceptions import AzureError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
BAR_WIDTH = 30


def add_commands(commands: Any) -> None:
    """Register the operator subcommands on the ``python -m photo_core`` parser."""
    reconcile = commands.add_parser(
        "reconcile", help="process drops that have no outcome, or whose photo is not the user's",
        description="Walk the drop container and process every blob with no recorded outcome, "
        "or whose content differs from the last upload for its user. Resumable: finished "
        "blobs are skipped on the next run.")
    add_settings_option(reconcile)
    reconcile.add_argument("--prefix", help="only blobs whose names start with this")
    reconcile.add_argument("--limit", type=positive_int, metavar="N",
                           help="process at most N blobs (at least 1)")
    reconcile.add_argument("--workers", type=workers, default=4, metavar="N",
                           help=f"drops at once, 1 to {MAX_WORKERS} (default 4)")
    reconcile.add_argument("--retry-rejected", action="store_true",
                           help="also process blobs rejected earlier (after fixing the cause)")
    reconcile.add_argument("--dry-run", action="store_true",
                           help="run every step but the upload; outcomes say would-upload")
    reconcile.set_defaults(handler=_reconcile)
    report = commands.add_parser(
        "report", help="outcomes over a time window",
        description="Counts by status and reason and the latest rejects (table or json), or "
        "one row per outcome (csv).")
    add_settings_option(report)
    report.add_argument("--since", help="ISO time or a duration back from now (default 24h)")
    report.add_argument("--until", help="ISO time or a duration back from now (default now)")
    report.add_argument("--format", choices=("table", "json", "csv"), default="table")
    report.add_argument("--digest", action="store_true",
                        help="the daily digest as of now instead: counts of the last day, "
                        "rejects still unresolved, drops a day old without an outcome, "
                        "notices not sent (table or json)")
    report.set_defaults(handler=_report)


def add_settings_option(parser: argparse.ArgumentParser) -> None:
    """``--settings``: every command that reads settings reads them the same way."""
    parser.add_argument("--settings", type=Path,
                        help="a local.settings.json whose Values fill unset settings")


def workers(text: str) -> int:
    """``--workers``: 1 to 32, as ``PHOTO_RECONCILE_WORKERS``."""
    value = positive_int(text)
    if value > MAX_WORKERS:
        raise argparse.ArgumentTypeError(f"{value} is more than {MAX_WORKERS}")
    return value


def positive_int(text: str) -> int:
    """An argparse type for counts and sizes. Without it ``--limit 0`` or a negative limit ran
    and silently processed nothing, and ``--workers 0`` silently ran one worker."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


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
    from azure.core.exceptions import AzureError

    from photo_core.entrypoints.handlers import handle_reconcile
    from photo_core.use_cases.reconcile import ReconcileOptions, ReconcileSummary

    if args.dry_run:
        os.environ["PHOTO_DRY_RUN"] = "true"
    drawn = False
    try:
        load_settings_file(args.settings)
        options = ReconcileOptions(prefix=args.prefix, limit=args.limit, workers=args.workers,
                                   retry_rejected=args.retry_rejected)

        def progress(summary: ReconcileSummary) -> None:
            nonlocal drawn
            done = sum(summary.outcomes.values()) + summary.deferred + summary.failed
            total = max(summary.selected, done, 1)
            filled = BAR_WIDTH * done // total
            err.write(f"\r[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done}/{total}")
            err.flush()
            drawn = True

        # A bar redrawn with carriage returns is for a person at a terminal; in a log file or
        # a pipe it is noise, so elsewhere only the summary table is written.
        summary = handle_reconcile(options, progress if _is_terminal(err) else None)
    except SettingsError as exc:
        print(f"photo-sync settings: {exc}", file=err)
        return EXIT_USAGE
    except AzureError as exc:  # listing the drops failed (one drop's failure is counted)
        if drawn:
            err.write("\n")  # end the progress bar's line
        print(f"reconcile: {storage_failure(exc, _storage_urls(blob=True))}", file=err)
        return EXIT_USAGE
    if drawn:
        err.write("\n")  # end the progress bar's line
    _table(out, [("result", "count"), *[(k, str(v)) for k, v in summary.rows()]])
    return EXIT_OK if summary.failed == 0 else EXIT_FAILED


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or unusual stream is no terminal
        return False


def _report(args: argparse.Namespace, _policy: Any, out: TextIO, err: TextIO) -> int:
    from azure.core.exceptions import AzureError

    from photo_core.entrypoints.handlers import handle_report
    from photo_core.use_cases.reports import ReportWindowError

    if args.digest:
        return _digest(args, out, err)
    try:  # the log is read while the report is written: storage can fail until the end
        load_settings_file(args.settings)
        report = handle_report(args.since, args.until)
        if args.format == "csv":
            for line, _ in report.csv_lines():  # streamed: a long window is never held whole
                out.write(line)
            return EXIT_OK
        summary = report.summary()
    except (SettingsError, ReportWindowError) as exc:
        print(f"report: {exc}", file=err)
        return EXIT_USAGE
    except AzureError as exc:
        print(f"report: {storage_failure(exc, _storage_urls(blob=False))}", file=err)
        return EXIT_USAGE
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
        _table(out, [("at", "status", "blob", "reason", "message"), *[
            (r["at"][:19], r["status"], r["blob"], r["reason"] or "", r["message"][:80])
            for r in summary["latestRejects"]]])
    if summary["noticesNotSent"]:
        out.write("\nnotices not sent\n")
        _table(out, [("noticed", "blob", "reason", "why"), *[
            (r["noticed"][:19], r["blob"], r["reason"] or "", r["problem"] or "")
            for r in summary["noticesNotSent"]]])
    return EXIT_OK


def _digest(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from azure.core.exceptions import AzureError

    from photo_core.entrypoints.notify_handlers import digest_now

    if args.since or args.until or args.format == "csv":
        print("report: --digest covers the day before now, as a table or json; it takes no "
              "--since, --until or --format csv", file=err)
        return EXIT_USAGE
    try:
        load_settings_file(args.settings)
        digest = digest_now()
    except SettingsError as exc:
        print(f"report: {exc}", file=err)
        return EXIT_USAGE
    except AzureError as exc:
        print(f"report: {storage_failure(exc, _storage_urls(blob=True))}", file=err)
        return EXIT_USAGE
    from datetime import UTC, datetime

    from photo_core.domain.notices import NoticeFormat
    from photo_core.use_cases.notice_format import digest_document

    document = digest_document(digest, NoticeFormat.JSON, datetime.now(UTC), None)
    if args.format == "json":
        json.dump(document, out, indent=2, ensure_ascii=False)
        out.write("\n")
        return EXIT_OK
    out.write(f"{document['title']}: {document['total']} outcomes from {document['since']} "
              f"to {document['until']}\n\n")
    _table(out, [("status", "count"), *[(k, str(v)) for k, v in document["byStatus"].items()]])
    days = document["lookbackDays"]
    for key, heading in (("unresolvedRejects", f"rejects still unresolved (last {days} days)"),
                         ("waitingDrops", "drops over a day old without an outcome"),
                         ("noticesNotSent", f"notices not sent (last {days} days)"),
                         ("wouldBeRejected", "would be rejected (dry run, last 24 hours)")):
        section = document[key]
        if key == "wouldBeRejected" and not section["count"]:
            continue  # no dry run that day
        out.write(f"\n{heading}: {section['count']}\n")
        if section["drops"]:
            _table(out, [("file", "user", "reason", "message"), *[
                (d["file"], d["user"] or "", d["reason"] or "",
                 (d.get("notSentBecause") or d["message"] or "")[:80])
                for d in section["drops"]]])
    return EXIT_OK


def _table(out: TextIO, rows: list[tuple[str, ...]]) -> None:
    rows = [tuple(printable(cell) for cell in row) for row in rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for n, row in enumerate(rows):
        out.write("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        out.write("\n")
        if n == 0:
            out.write("  ".join("-" * w for w in widths) + "\n")


def storage_failure(exc: AzureError, configured: Sequence[str]) -> str:
    """One line on why storage could not be used and where: the failed request's endpoint, or
    else the ``configured`` ones. The SDK's own text is left out: it runs over many lines, and
    a connection error's text can hold a request URL whose query is a SAS token."""
    from azure.core.exceptions import (
        ClientAuthenticationError,
        HttpResponseError,
        ResourceNotFoundError,
        ServiceRequestError,
        ServiceResponseError,
    )

    failed = _request_url(exc)
    shown = [failed] if failed else configured
    where = " and ".join(dict.fromkeys(shown_endpoint(url) for url in shown)) or "(unknown)"
    code = getattr(exc, "error_code", None)  # set by the storage SDKs, sometimes as an enum
    code = code.value if isinstance(code, enum.Enum) else code
    status = exc.status_code if isinstance(exc, HttpResponseError) else None
    known = " ".join(str(part) for part in (status, code) if part)
    detail = f" ({known})" if known else ""
    if isinstance(exc, ClientAuthenticationError) or status in (401, 403):
        return (f"storage at {where} did not accept the credentials{detail}; check the account "
                "key, or the identity and its roles, in the PhotoStorage settings")
    if isinstance(exc, ResourceNotFoundError):
        return (f"storage at {where} has no such container or table{detail}; check "
                "PHOTO_DROP_CONTAINER and PHOTO_STATE_TABLE")
    if isinstance(exc, HttpResponseError):
        return f"storage at {where} failed{detail}"
    if isinstance(exc, ServiceRequestError | ServiceResponseError):
        reason = _os_reason(exc)
        return (f"cannot reach storage at {where}{f' ({reason})' if reason else ''}; check "
                "that it is running and the endpoint in the PhotoStorage settings")
    return f"storage at {where} failed: {type(exc).__name__}"


def shown_endpoint(url: str) -> str:
    """Scheme, host, port and path only: the query of a storage URL can be a SAS token."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{host}{parts.path.rstrip('/')}"


def _request_url(exc: AzureError) -> str | None:
    from azure.core.exceptions import HttpResponseError

    if isinstance(exc, HttpResponseError) and exc.response is not None:
        url = getattr(exc.response.request, "url", None)  # typed as object by azure-core
        return str(url) if url else None
    return None


def _os_reason(exc: BaseException) -> str | None:
    """The operating system's words for a connection failure (``Connection refused``, ``Name
    or service not known``), found down the exception's causes; they never hold a URL."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.strerror:
            return str(current.strerror)
        inner = getattr(current, "inner_exception", None)
        current = inner if isinstance(inner, BaseException) else (
            current.__cause__ or current.__context__)
    return None


def _storage_urls(*, blob: bool) -> list[str]:
    """The storage endpoints a command uses, as built from settings (the table, and the drop
    container when ``blob``), to name when a failure carries no request."""
    from photo_core.bootstrap import app_services

    services = app_services()
    urls = [services.drop_container.url] if blob else []
    return [*urls, services.table.url]
