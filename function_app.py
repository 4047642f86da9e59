"""Azure Functions entry points for photo-sync (v2 programming model).

Each function binds its input, calls one handler in ``photo_core.entrypoints.handlers``, and
shapes the answer. Typed errors map to stable JSON error codes; nothing else leaks (no stack
traces).
Nothing here does I/O at import time: services are built on the first invocation.
"""

from __future__ import annotations

import json
import logging
import math
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import azure.functions as func
import azurefunctions.extensions.bindings.blob as blob

from photo_core.domain.errors import (
    AmbiguousUser,
    Forbidden,
    InvalidUserReference,
    MailboxOnPremises,
    NoMailbox,
    PhotoSyncError,
    PhotoUpdatePolicy,
    Throttled,
    UnsupportedOperation,
    UserNotFound,
)
from photo_core.entrypoints import handlers, notify_handlers
from photo_core.use_cases.directory import NotInMapping
from photo_core.use_cases.reports import ReportWindowError

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
logger = logging.getLogger("photo_sync")

# Typed error -> HTTP status for lookups. Order matters: the first match wins. Every way of
# "no such single user" is a 404 (an employee id several users share, an HR id the mapping file
# does not hold), with its own code in the body, and so is a user whose photo cannot be in
# Exchange Online (no mailbox, or a mailbox on premises); a refusal by the tenant (a missing
# permission, its photo-update policy) is a 403; configuration and auth failures (auth_failed,
# mapping_unavailable, tls_untrusted) fall through to 502, as does anything else.
ERROR_STATUS: tuple[tuple[type[PhotoSyncError], int], ...] = (
    (InvalidUserReference, 400),
    (UnsupportedOperation, 400),
    (UserNotFound, 404),
    (AmbiguousUser, 404),
    (NotInMapping, 404),
    (NoMailbox, 404),
    (MailboxOnPremises, 404),
    (Forbidden, 403),
    (PhotoUpdatePolicy, 403),
    (Throttled, 503),
    (PhotoSyncError, 502),
)
DEFAULT_RETRY_AFTER_SECONDS = 30
# Every answer: a browser must not guess another type than the one declared (a photo's bytes
# or an error's JSON taken for HTML).
NOSNIFF = {"X-Content-Type-Options": "nosniff"}
# A profile photo is personal data behind a function key: no shared cache may keep it, and no
# cache at all, so a photo HR replaced or removed does not live on anywhere; its callers fetch
# it once (the lookup answer's ETag tells them when it changed).
PHOTO_CACHE_CONTROL = "private, no-store"


@app.function_name("sync_photo")
@app.blob_trigger(arg_name="client", path="%PHOTO_DROP_CONTAINER%/{name}",
                  connection="PhotoStorage", source=func.BlobSource.EVENT_GRID)
def sync_photo(client: blob.BlobClient) -> None:
    """HR drop -> profile photo. Transient failures raise so the platform redelivers."""
    handlers.handle_drop(client)


@app.function_name("reconcile")
@app.timer_trigger(arg_name="timer", schedule="%PHOTO_RECONCILE_SCHEDULE%", use_monitor=True)
def reconcile(timer: func.TimerRequest) -> None:
    """Nightly: process drops Event Grid never delivered (bulk loads, dead letters, outages)."""
    summary = handlers.handle_reconcile()
    logger.info("reconcile: %s", ", ".join(f"{k} {v}" for k, v in summary.rows()))


@app.function_name("notify")
@app.timer_trigger(arg_name="timer", schedule="%PHOTO_NOTIFY_SCHEDULE%", use_monitor=False)
def notify(timer: func.TimerRequest) -> None:
    """Tell HR about drops that need them, in one coalesced message (off without a webhook).
    It only reads what drops recorded: a webhook that fails never touches a drop."""
    notify_handlers.handle_notice_timer()


@app.function_name("notify_digest")
@app.timer_trigger(arg_name="timer", schedule="%PHOTO_NOTIFY_DIGEST_SCHEDULE%",
                   use_monitor=True)
def notify_digest(timer: func.TimerRequest) -> None:
    """Daily: the digest of the last day, unresolved rejects and notices not sent."""
    notify_handlers.handle_digest()


@app.function_name("photo_deleted")
@app.event_grid_trigger(arg_name="event")
def photo_deleted(event: func.EventGridEvent) -> None:
    """HR deleted a drop: remove the photo it was the source of, when deletion sync is on."""
    handlers.handle_blob_deleted(event.event_type, event.subject)


@app.function_name("photo_lookup")
@app.route(route="users/{user}/photo", methods=["GET"])
def photo_lookup(req: func.HttpRequest) -> func.HttpResponse:
    """Photo metadata and the last sync outcome, with ETag / If-None-Match."""
    try:
        result = handlers.handle_lookup(req.route_params["user"])
    except PhotoSyncError as exc:
        return _error(exc)
    headers = {"ETag": result.etag, "Cache-Control": "no-cache", **NOSNIFF}
    if result.etag in _etags(req.headers.get("If-None-Match")):
        return func.HttpResponse(status_code=304, headers=headers)
    return func.HttpResponse(json.dumps(result.to_json()), status_code=200, headers=headers,
                             mimetype="application/json")


@app.function_name("photo_value")
@app.route(route="users/{user}/photo/$value", methods=["GET"])
def photo_value(req: func.HttpRequest) -> func.HttpResponse:
    """The photo bytes, optionally one standard size (``?size=240x240``)."""
    try:
        photo = handlers.handle_photo(req.route_params["user"], req.params.get("size"))
    except PhotoSyncError as exc:
        return _error(exc)
    headers = {"Cache-Control": PHOTO_CACHE_CONTROL, **NOSNIFF}
    if photo.etag:
        headers["ETag"] = photo.etag
    return func.HttpResponse(photo.data, status_code=200, headers=headers,
                             mimetype=photo.content_type)


@app.function_name("outcome_report")
@app.route(route="reports/outcomes", methods=["GET"])
def outcome_report(req: func.HttpRequest) -> func.HttpResponse:
    """Outcomes of a time window (``since``/``until``: ISO times or 24h, 7d): a JSON summary,
    or one CSV row per outcome with ``format=csv``."""
    since, until, after = (req.params.get(k) for k in ("since", "until", "after"))
    try:
        if req.params.get("format") == "csv":
            _, text, following = handlers.handle_report_page(since, until, after)
            headers = dict(NOSNIFF)
            if following is not None:  # RFC 8288: the same query, from where this page ended
                headers["Link"] = f'<{_with_param(req.url, "after", following)}>; rel="next"'
            return func.HttpResponse(text, headers=headers, mimetype="text/csv")
        report = handlers.handle_report(since, until)
    except ReportWindowError as exc:
        body = {"error": {"code": "invalid_window", "message": str(exc)}}
        return func.HttpResponse(json.dumps(body), status_code=400, headers=NOSNIFF,
                                 mimetype="application/json")
    return func.HttpResponse(json.dumps(report.summary()), headers=NOSNIFF,
                             mimetype="application/json")


@app.function_name("health")
@app.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def health(req: func.HttpRequest) -> func.HttpResponse:
    """Liveness for probes: which checks pass, and nothing else."""
    result = handlers.handle_health()
    body = {"status": "ok" if result.ok else "failed", "checks": result.checks}
    return func.HttpResponse(json.dumps(body), status_code=200 if result.ok else 503,
                             headers=NOSNIFF, mimetype="application/json")


def _error(exc: PhotoSyncError) -> func.HttpResponse:
    status = next(code for kind, code in ERROR_STATUS if isinstance(exc, kind))
    headers = {}
    if isinstance(exc, Throttled):
        wait = exc.retry_after if exc.retry_after is not None else DEFAULT_RETRY_AFTER_SECONDS
        headers["Retry-After"] = str(max(1, math.ceil(wait)))
    if status >= 500:
        # Not necessarily upstream: a refused credential or an unreadable mapping file is our
        # configuration. Messages name settings and service error codes, never their values.
        logger.warning("lookup failed: %s: %s", exc.code, exc.message)
    body = {"error": {"code": exc.code, "message": exc.message}}
    return func.HttpResponse(json.dumps(body), status_code=status,
                             headers={**headers, **NOSNIFF}, mimetype="application/json")


def _with_param(url: str, name: str, value: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != name]
    return urlunsplit(parts._replace(query=urlencode([*query, (name, value)])))


def _etags(header: str | None) -> set[str]:
    if not header:
        return set()
    return {tag.strip().removeprefix("W/") for tag in header.split(",")}
