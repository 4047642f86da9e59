"""How a drop's outcome is kept: in the state table's drop record (the only record photo-sync
reads back), on the blob for operators (tags and metadata, never read back), in the outcome
log for reports, and then the blob kept, moved or deleted as configured."""

from __future__ import annotations

import logging
from dataclasses import replace

from photo_core.domain.outcomes import Outcome, Status
from photo_core.use_cases.drop_context import SyncDeps, SyncOptions, append_to_log
from photo_core.use_cases.drop_version import DropVersion
from photo_core.use_cases.dry_run import as_dry_run
from photo_core.use_cases.ports import Disposal, Drop, DropChanged, DropRecord, Shown

logger = logging.getLogger(__name__)


def finish(drop: Drop, version: DropVersion, deps: SyncDeps, outcome: Outcome,
           options: SyncOptions, shown: Shown | None = None) -> Outcome:
    """Record ``outcome`` (on the blob, unless ``shown`` says that was done already), log it
    and dispose of the blob. A dry run only logs: its rejections as ``would-reject``."""
    outcome = as_dry_run(outcome) if options.dry_run else outcome
    logger.info("drop %s: %s%s", version.name, outcome.status.value,
                f" ({outcome.reason})" if outcome.reason else "")
    if options.dry_run:
        # Nothing is written on the blob, moved or deleted, and the user's state is left as it
        # was: a real run afterwards processes every drop. The report shows what it would do.
        append_to_log(deps, outcome)
        return outcome
    if shown is None:
        shown = drop.record(outcome)
    deps.state.put_drop(drop_record(version, outcome, shown))
    append_to_log(deps, outcome)
    _dispose(drop, outcome.status, outcome.reason, options, version.content)
    return outcome


def drop_record(version: DropVersion, outcome: Outcome, shown: Shown) -> DropRecord:
    info = version.info
    return DropRecord(
        name=info.name, etag=info.etag, raw_sha256=version.raw_sha256, created=info.created,
        made=version.time, status=outcome.status, reason=outcome.reason,
        message=outcome.message[:512], at=outcome.at, user=outcome.user,
        content_sha256=outcome.content_sha256,
        target=outcome.target.stored if outcome.target else None,
        mapping_version=outcome.mapping_version, shown_etag=shown.etag)


def already_processed(drop: Drop, version: DropVersion, deps: SyncDeps,
                      options: SyncOptions) -> Outcome:
    """The outcome recorded for this very drop. Its tags are set again if anyone changed them,
    and a disposal an earlier attempt did not finish is finished. A version that is the
    recorded drop with its metadata or properties edited is recorded as that drop too."""
    record = version.record
    assert record is not None, "only a recorded drop was processed already"
    if not options.dry_run:
        if not record.describes(version.info.etag):
            deps.state.put_drop(replace(record, etag=version.info.etag, shown_etag=None))
        drop.ensure_tags(record.status, record.reason)
        _dispose_recorded(drop, record, options)
    return Outcome(status=record.status, blob_name=version.name, at=deps.clock.now(),
                   reason=record.reason, message="already processed; its outcome is recorded",
                   blob_etag=version.info.etag, content_sha256=record.content_sha256)


def _dispose(drop: Drop, status: Status, reason: str | None, options: SyncOptions,
             content: bytes | None) -> None:
    if status is Status.DEFERRED:
        return  # kept where reconcile looks for it
    if status is Status.REJECTED:
        drop.dispose(options.rejected, options.rejected_container, content)
    elif reason not in ("superseded", "overwritten"):
        drop.dispose(options.processed, options.processed_container, content)


def _dispose_recorded(drop: Drop, record: DropRecord, options: SyncOptions) -> None:
    """Finish the disposal of a drop whose outcome was recorded by an invocation that died (or
    failed) before moving or deleting it; nothing happens when drops are kept (the default)."""
    disposal = options.rejected if record.status is Status.REJECTED else options.processed
    if disposal is Disposal.KEEP:
        return
    content = None
    if disposal is Disposal.MOVE:
        try:
            content = drop.read()
        except DropChanged:
            return  # HR replaced it: the new version gets its own outcome and disposal
    _dispose(drop, record.status, record.reason, options, content)
