"""What each trigger does, in product terms; function_app.py only binds and shapes responses."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from photo_core.adapters.blob_drop import AzureBlobDrop, AzureDropSource
from photo_core.bootstrap import app_services
from photo_core.domain.budget import BUDGET
from photo_core.domain.outcomes import Outcome, Status
from photo_core.domain.retry import Deadline
from photo_core.entrypoints.notify_handlers import not_sent_between, notice_check
from photo_core.entrypoints.shared_result import SharedResult
from photo_core.use_cases.deletions import DeletionOptions, blob_deleted
from photo_core.use_cases.lookup import LookupResult, lookup_photo, photo_bytes
from photo_core.use_cases.ports import PhotoContent
from photo_core.use_cases.reconcile import ReconcileOptions, ReconcileSummary, reconcile
from photo_core.use_cases.reports import (
    CSV_PAGE_ROWS,
    Report,
    build_report,
    parse_window,
    read_token,
)
from photo_core.use_cases.sync import SyncDeps, sync_drop

if TYPE_CHECKING:
    from azure.storage.blob import BlobClient

    from photo_core.bootstrap import AppServices


def handle_drop(blob: BlobClient) -> Outcome:
    services = app_services()
    drop = AzureBlobDrop(pooled(blob), services.blobs.get_container_client)
    outcome = sync_drop(drop, services.sync_options, drop_deps(_invocation_end()))
    _forget_changed(services, outcome)
    return outcome


def _invocation_end() -> Deadline:
    """When an invocation's photo API calls must be done: inside the function timeout, with
    time left to record the outcome, whatever the drop waited for its claim (``TimeBudget``)."""
    return Deadline.after(BUDGET.api_window, app_services().clock)


def _forget_changed(services: AppServices, outcome: Outcome | None) -> None:
    """This process's lookups see a photo it changed at once."""
    if outcome is None or outcome.user is None or \
            outcome.status not in (Status.UPLOADED, Status.PHOTO_DELETED):
        return  # nothing changed (a duplicate delivery's outcome names no user)
    target = outcome.target.value if outcome.target else outcome.user
    if target.lower() == outcome.user.lower():
        services.lookup_cache.forget(outcome.user)
    else:  # an id resolved to someone lookups may name otherwise (by UPN, by object id)
        services.lookup_cache.forget_all()


def pooled(blob: BlobClient) -> BlobClient:
    """The triggering blob on the process's own drop-container client.

    The blob extension builds a new service client for every invocation (a new connection pool,
    and with a managed identity a new credential that fetches a new token), so the binding is
    used for what it names and the work goes through the client built once in bootstrap. A blob
    from another container (not a drop) keeps the binding's client."""
    container = app_services().drop_container
    if blob.container_name != container.container_name:
        return blob
    return container.get_blob_client(blob.blob_name)


def handle_lookup(user: str) -> LookupResult:
    """One lookup, its photo API calls within the lookup budget (an HTTP caller is waiting)."""
    services = app_services()
    return lookup_photo(user, services.settings.naming, services.photo_api, services.state,
                        services.resolver, services.lookup_cache,
                        deadline=services.lookup_deadline())


def handle_photo(user: str, size: str | None) -> PhotoContent:
    """The photo bytes, within the lookup budget like ``handle_lookup``."""
    services = app_services()
    return photo_bytes(user, size, services.settings.naming, services.photo_api,
                       services.resolver, deadline=services.lookup_deadline())


def drop_deps(ends_by: Deadline | None = None) -> SyncDeps:
    """Per-drop dependencies: the shared services and a fresh claim owner. The drop's photo API
    calls share one retry budget, ended by ``ends_by`` if that comes sooner."""
    services = app_services()
    return SyncDeps(api=services.photo_api, state=services.state, clock=services.clock,
                    owner=uuid.uuid4().hex, log=services.log, resolver=services.resolver,
                    api_deadline=lambda: services.drop_deadline().sooner(ends_by),
                    drops=lambda name: AzureBlobDrop(
                        services.drop_container.get_blob_client(name),
                        services.blobs.get_container_client),
                    turns=services.turns)


def handle_reconcile(options: ReconcileOptions | None = None,
                     progress: Callable[[ReconcileSummary], None] | None = None,
                     ) -> ReconcileSummary:
    """Walk the drop container and process what needs it (see
    ``photo_core.use_cases.reconcile``)."""
    services = app_services()
    settings = services.settings
    ends_by = None
    if options is None:
        # The timer: it stops starting drops at its deadline and carries on where the last
        # night stopped; a drop it started still ends its photo API calls inside the function
        # timeout, with time left to record the outcome.
        options = ReconcileOptions(workers=settings.reconcile.workers,
                                   deadline_seconds=settings.reconcile.deadline_seconds,
                                   resume=not services.sync_options.dry_run)
        ends_by = _invocation_end()

    def deps_for() -> SyncDeps:
        return drop_deps(ends_by)

    source = AzureDropSource(services.drop_container, services.blobs.get_container_client)
    return reconcile(source, services.sync_options, deps_for, options, progress,
                     on_outcome=lambda outcome: _forget_changed(services, outcome))


def handle_blob_deleted(event_type: str, subject: str) -> Outcome | None:
    """HR deleted a blob: with deletion sync on, remove the photo it was the source of."""
    services = app_services()
    storage = services.settings.storage
    options = DeletionOptions(enabled=storage.delete_photo_on_blob_delete,
                              drop_container=storage.drop_container, sync=services.sync_options)
    def exists(name: str) -> bool:
        return bool(services.drop_container.get_blob_client(name).exists())

    outcome = blob_deleted(event_type, subject, options, drop_deps(), exists)
    _forget_changed(services, outcome)
    return outcome


def handle_report(since: str | None, until: str | None) -> Report:
    """Outcomes of a window; raises ``ReportWindowError`` for a window it cannot read."""
    services = app_services()
    start, end = parse_window(since, until, services.clock.now())
    return build_report(services.log, start, end, not_sent_between(start, end))


def handle_report_page(since: str | None, until: str | None, after: str | None
                       ) -> tuple[Report, str, str | None]:
    """One page of a window's CSV: the report, the page's text and the token of the next page
    (None on the last). ``after`` (a token from the previous page) fixes the window; raises
    ``ReportWindowError`` for a window or token it cannot read."""
    if after is None:
        report = handle_report(since, until)
        cursor = None
    else:
        cursor, start, end = read_token(after)
        report = build_report(app_services().log, start, end)
    text, following = report.csv_page(cursor, CSV_PAGE_ROWS)
    return report, text, None if following is None else following.token(report.since,
                                                                         report.until)


@dataclass(frozen=True)
class Health:
    ok: bool
    checks: dict[str, str]


HEALTH_CACHE_SECONDS = 5.0
_health: list[tuple[AppServices, SharedResult[Health]]] = []  # for the current services only


def handle_health(clock: Callable[[], float] | None = None) -> Health:
    """Settings valid, storage reachable, a token obtainable. Says which check failed, never why:
    the route is anonymous and must leak no settings, secrets or user data. Answered from a
    result at most ``HEALTH_CACHE_SECONDS`` old (on ``clock``), one probe shared by concurrent
    callers, so requests cannot be turned into storage reads and token requests. ``clock`` is a
    monotonic clock in seconds (default: the services' own)."""
    try:
        services = app_services()  # no I/O: settings read once per process
    except Exception:
        return Health(False, {"settings": "failed"})
    if not _health or _health[0][0] is not services:  # new services: new settings to probe
        _health[:] = [(services, SharedResult(HEALTH_CACHE_SECONDS,
                                              clock or services.clock.monotonic))]
    return _health[0][1].get(lambda: probe_health(services))


def probe_health(services: AppServices) -> Health:
    """The checks themselves, run once per ``HEALTH_CACHE_SECONDS`` at most."""
    checks: dict[str, str] = {"settings": "ok"}
    try:
        services.state.get("health:probe")  # creates the table on first use, reads one row
        checks["storage"] = "ok"
    except Exception:
        checks["storage"] = "failed"
    try:
        services.tokens.get_token()
        checks["identity"] = "ok"
    except Exception:
        checks["identity"] = "failed"
    ok = all(v == "ok" for v in checks.values())
    try:  # informational: a webhook that is down is not the app down
        checks["notices"] = notice_check()
    except Exception:
        checks["notices"] = "unknown"
    return Health(ok, checks)
