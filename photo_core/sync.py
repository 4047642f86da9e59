"""The sync use case: one dropped blob in, one recorded outcome out.

Order matters and is deliberate: the name is checked before anything is read, the size before
the download, the per-user claim before the upload, and the outcome is written on the blob only
if the blob is still the version that was processed. Permanent failures become ``rejected``
outcomes; transient ones propagate so the platform delivers the drop again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from photo_core.claims import (
    Superseded,
    UserBusy,
    claim,
    drop_key,
    mark_unknown,
    release,
    release_quietly,
)
from photo_core.directory import Resolver
from photo_core.drop_context import SyncDeps, SyncOptions, append_to_log, claimant
from photo_core.errors import PermanentError
from photo_core.imaging import PreparedPhoto, prepare_photo
from photo_core.lease import ClaimLost, Lease
from photo_core.naming import NameRejection, UserRef, parse_blob_name
from photo_core.outcomes import Outcome, Status
from photo_core.ports import (
    Disposal,
    Drop,
    DropChanged,
    DropGone,
    DropInfo,
    RecordedOutcome,
    UserState,
)
from photo_core.repair import repair_photo
from photo_core.retry import within

__all__ = ["SyncDeps", "SyncOptions", "UserBusy", "append_to_log", "claimant", "sync_drop"]

logger = logging.getLogger(__name__)

def sync_drop(drop: Drop, options: SyncOptions, deps: SyncDeps, *, force: bool = False) -> Outcome:
    """Process one drop to its outcome, record it, and dispose of the blob as configured.

    ``force`` processes a drop even though an outcome is recorded on it (reconcile uses it to
    retry rejects and to repair users whose photo is not the one recorded).

    A blob that changes while it is processed is processed again, once, as it now is: an edit
    of its metadata or properties raises no new event, and a new upload's own event then finds
    it done. If it changes again, it is left to the newest version's event."""
    outcome = _sync_version(drop, options, deps, force)
    if isinstance(outcome, _Changed):
        logger.info("drop %s changed while it was processed; processing it as it is now",
                    outcome.info.name)
        outcome = _sync_version(drop, options, deps, force)
    if isinstance(outcome, _Changed):
        logger.info("drop %s was overwritten while processing; its new version follows",
                    outcome.info.name)
        return _overwritten(outcome.info, deps, outcome.ref)
    return outcome


@dataclass(frozen=True)
class _Changed:
    """The version being processed was replaced (content, metadata or properties)."""

    info: DropInfo
    ref: UserRef


def _sync_version(drop: Drop, options: SyncOptions, deps: SyncDeps,
                  force: bool) -> Outcome | _Changed:
    try:
        info = drop.info()
    except DropGone as gone:
        logger.info("drop %s no longer exists; nothing to do", gone.name)
        return Outcome(status=Status.UNCHANGED, blob_name=gone.name, at=deps.clock.now(),
                       reason="gone", message="the blob was gone before it was processed")
    if not force and info.recorded is not None and info.recorded.blob_name == info.name:
        # Our own marker survives only while the content is unchanged: nothing to do again.
        if not options.dry_run:
            drop.ensure_tags(info.recorded)
            _dispose_recorded(drop, info.recorded, options)
        return _already_recorded(info, deps.clock.now())
    ref = parse_blob_name(info.name, options.naming)
    if isinstance(ref, NameRejection):
        rejected = _rejected(info, deps, ref.code, ref.message)
        return _finish(drop, info, deps, rejected, options, None)
    if info.size > options.image.max_input_bytes:
        message = (f"blob is {info.size} bytes, over the {options.image.max_input_bytes}-byte "
                   "cap; it was not downloaded")
        rejected = _rejected(info, deps, "file_too_large", message, ref)
        return _finish(drop, info, deps, rejected, options, None)
    if options.dry_run:
        return _dry_run(drop, info, ref, options, deps)
    claimed = claim(claimant(deps, options), ref.key, drop_key(info), info.last_modified)
    if isinstance(claimed, Superseded):
        if claimed.state.photo_unknown:  # the photo of the drop that won may not be live
            repair_photo(ref.key, options, deps)
        return _superseded(drop, info, deps, _superseded_outcome(info, deps), options, ref)
    lease = Lease(deps.state, claimed.state, claimed.version, seconds=options.lock_seconds,
                  clock=deps.clock, since=claimed.since).start()
    content: bytes | None = None
    try:
        content = drop.read()
        outcome = _process(content, ref, lease.state, lease, info, options, deps)
    except DropChanged:
        release(deps.state, *lease.stop(), None)
        return _Changed(info, ref)
    except BaseException:
        release_quietly(deps.state, *lease.stop())
        raise
    replaced = outcome.status is Status.UPLOADED and outcome.reason is None
    release(deps.state, *lease.stop(), outcome if outcome.is_final else None, info,
            answered=lease.answered(replaced=replaced))
    return _finish(drop, info, deps, outcome, options, content)


def _dry_run(drop: Drop, info: DropInfo, ref: UserRef, options: SyncOptions,
             deps: SyncDeps) -> Outcome | _Changed:
    """Every step but the upload, reading the user's state without claiming it: a dry run
    writes nothing anywhere but the outcome log."""
    current = deps.state.get(ref.key)
    state = current[0] if current else UserState(user=ref.key)
    if state.source_modified and info.last_modified < state.source_modified:
        return _superseded(drop, info, deps, _superseded_outcome(info, deps), options, ref)
    try:
        content = drop.read()
    except DropChanged:
        return _Changed(info, ref)
    outcome = _process(content, ref, state, None, info, options, deps)
    return _finish(drop, info, deps, outcome, options, content)


def _superseded_outcome(info: DropInfo, deps: SyncDeps) -> Outcome:
    return _outcome(info, deps, Status.UNCHANGED, "superseded",
                    "a newer drop for this user was already processed", None)


def _superseded(drop: Drop, info: DropInfo, deps: SyncDeps, superseded: Outcome,
                options: SyncOptions, ref: UserRef) -> Outcome:
    """A newer drop already won, but HR still learns when this file was broken."""
    try:
        content = drop.read()
        prepare_photo(content, options.image)
    except DropChanged:
        return _overwritten(info, deps, ref)
    except PermanentError as exc:
        return _finish(drop, info, deps, _rejected(info, deps, exc.code, exc.message, ref),
                       options, content)
    return _finish(drop, info, deps, superseded, options, None)


def _overwritten(info: DropInfo, deps: SyncDeps, ref: UserRef) -> Outcome:
    return _outcome(info, deps, Status.UNCHANGED, "overwritten", "a newer upload replaced it",
                    ref)


def _process(content: bytes, ref: UserRef, state: UserState, lease: Lease | None,
             info: DropInfo, options: SyncOptions, deps: SyncDeps) -> Outcome:
    """Check, resolve and upload one downloaded drop; ``state`` is the user's as claimed and
    ``lease`` the claim (none in a dry run, which uploads nothing)."""
    try:
        prepared = prepare_photo(content, options.image)
        deadline = deps.api_deadline() if deps.api_deadline else None  # from the first API call
        with within(deadline):
            target = (deps.resolver or Resolver(deps.api, employee_ttl=0)).resolve(ref)
    except PermanentError as exc:
        return _rejected(info, deps, exc.code, exc.message, ref)
    actions = tuple(a.code for a in prepared.actions)
    # The photo on record went to this same user (an id may name someone else by now: then
    # the photo has not reached whom it names, whatever its hash).
    recorded_target = UserRef.parse(state.photo_target) if state.photo_target else None
    # A call that went out unanswered (or an upload that may have landed late) leaves the live
    # photo unknown: then nothing the row says about it is a reason not to upload.
    same_user = (recorded_target is None or recorded_target.key == target.key) and \
        not state.photo_unknown
    if same_user and (state.last_blob_name, state.last_blob_etag, state.last_status) == \
            (info.name, info.etag, Status.UPLOADED.value) and \
            state.content_sha256 == prepared.sha256:
        # This very drop uploaded it: an earlier attempt stored its outcome in the user's state
        # and stopped before writing it on the blob. It is that outcome, not "same content".
        return _outcome(info, deps, Status.UPLOADED, None, _describe(prepared), ref, prepared,
                        actions, target)
    if same_user and state.content_sha256 == prepared.sha256 and \
            state.last_status in ("uploaded", "unchanged"):
        return _outcome(info, deps, Status.UNCHANGED, "same_content",
                        "the same photo was already uploaded for this user", ref, prepared, actions,
                        target)
    if options.dry_run:
        return _outcome(info, deps, Status.WOULD_UPLOAD, None, _describe(prepared), ref, prepared,
                        actions)
    assert lease is not None, "only a dry run has no claim, and it returned above"
    lease.intend("upload", drop_key(info), prepared.sha256)
    try:
        with within(deadline):
            deps.api.set_photo(target, prepared.data)
    except PermanentError as exc:
        return _rejected(info, deps, exc.code, exc.message, ref)
    if lease.lost:
        # The claim lapsed or was taken over while the upload was out: it may have landed
        # after another drop's. It cannot be fenced, so it is never recorded as uploaded.
        mark_unknown(deps.state, ref.key, drop_key(info), prepared.sha256, deps.clock)
        raise ClaimLost(f"the claim on {ref.key} lapsed while its photo was being uploaded; "
                        "the photo is marked unknown and the drop will be decided again")
    return _outcome(info, deps, Status.UPLOADED, None, _describe(prepared), ref, prepared, actions,
                    target)


def _finish(drop: Drop, info: DropInfo, deps: SyncDeps, outcome: Outcome,
            options: SyncOptions, content: bytes | None) -> Outcome:
    logger.info("drop %s: %s%s", info.name, outcome.status.value,
                f" ({outcome.reason})" if outcome.reason else "")
    if options.dry_run:
        # Nothing is written on the blob, moved or deleted, and the user's state is left as it
        # was: a real run afterwards processes every drop. The report shows what it would do.
        append_to_log(deps, outcome)
        return outcome
    if outcome.is_final:
        drop.record(outcome)
    append_to_log(deps, outcome)
    if not outcome.is_final:
        return outcome
    _dispose(drop, outcome.status, outcome.reason, options, content)
    return outcome


def _dispose(drop: Drop, status: Status, reason: str | None, options: SyncOptions,
             content: bytes | None) -> None:
    if status is Status.REJECTED:
        drop.dispose(options.rejected, options.rejected_container, content)
    elif reason not in ("superseded", "overwritten"):
        drop.dispose(options.processed, options.processed_container, content)


def _dispose_recorded(drop: Drop, recorded: RecordedOutcome, options: SyncOptions) -> None:
    """Finish the disposal of a drop whose outcome was recorded by an invocation that died (or
    failed) before moving or deleting it; nothing happens when drops are kept (the default)."""
    rejected = recorded.status is Status.REJECTED
    disposal = options.rejected if rejected else options.processed
    if disposal is Disposal.KEEP:
        return
    content = None
    if disposal is Disposal.MOVE:
        try:
            content = drop.read()
        except DropChanged:
            return  # HR replaced it: the new version gets its own outcome and disposal
    _dispose(drop, recorded.status, recorded.reason, options, content)


def _rejected(info: DropInfo, deps: SyncDeps, code: str, message: str,
              ref: UserRef | None = None) -> Outcome:
    return _outcome(info, deps, Status.REJECTED, code, message, ref)


def _outcome(info: DropInfo, deps: SyncDeps, status: Status, reason: str | None, message: str,
             ref: UserRef | None, prepared: PreparedPhoto | None = None,
             actions: tuple[str, ...] = (), target: UserRef | None = None) -> Outcome:
    return Outcome(
        status=status, blob_name=info.name, message=message, at=deps.clock.now(), reason=reason,
        user=ref.value if ref else None, blob_etag=info.etag,
        content_sha256=prepared.sha256 if prepared else None, actions=actions,
        source_modified=info.last_modified, target=target,
    )


def _already_recorded(info: DropInfo, now: datetime) -> Outcome:
    recorded = info.recorded
    assert recorded is not None
    return Outcome(status=recorded.status, blob_name=info.name, at=now, reason=recorded.reason,
                   message="already processed; outcome recorded on the blob",
                   blob_etag=info.etag, content_sha256=recorded.content_sha256)


def _describe(prepared: PreparedPhoto) -> str:
    done = "; ".join(a.reason for a in prepared.actions) or "uploaded as provided"
    return f"{prepared.width}x{prepared.height}, {len(prepared.data)} bytes: {done}"
