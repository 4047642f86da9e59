"""The sync use case: one dropped blob in, one recorded outcome out.

Order matters and is deliberate: the name is checked before anything is read, the size before
the download, the per-user claim before the upload, and the outcome is written on the blob only
if the blob is still the version that was processed. Permanent failures become ``rejected``
outcomes; transient ones propagate so the platform delivers the drop again.

Whether a drop was processed already, and when its content was written, come only from the
state table and from storage's own properties (``photo_core.use_cases.ordering``): an HR
uploader can write a blob's metadata and tags, so what the blob says about itself is never
evidence.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

from photo_core.domain.clock import not_after
from photo_core.domain.errors import PermanentError, TransientError
from photo_core.domain.naming import NameRejection, UserRef, parse_blob_name
from photo_core.domain.outcomes import Outcome, Status
from photo_core.domain.retry import within
from photo_core.domain.sizes import file_too_large
from photo_core.photos import prepare_photo
from photo_core.use_cases.claims import (
    Claimed,
    Superseded,
    UserBusy,
    claim,
    patiently,
)
from photo_core.use_cases.deletions import finish_removal, remove_photo
from photo_core.use_cases.directory import MappingChanged, Resolution, Resolver
from photo_core.use_cases.drop_context import SyncDeps, SyncOptions, append_to_log, claimant
from photo_core.use_cases.drop_version import DropVersion, describe, outcome_for, rejected
from photo_core.use_cases.dry_run import would_reject
from photo_core.use_cases.finish import already_processed, finish
from photo_core.use_cases.lease import ClaimLost, Lease
from photo_core.use_cases.ordering import content_time, reference_now, same_drop
from photo_core.use_cases.ports import (
    PENDING_LATE_REMOVAL,
    PENDING_LATE_UPLOAD,
    PENDING_REMOVAL,
    PENDING_UPLOAD,
    Drop,
    DropChanged,
    DropGone,
    DropInfo,
    UserState,
)
from photo_core.use_cases.release import mark_unknown, release, release_quietly
from photo_core.use_cases.repair import repair_photo
from photo_core.use_cases.turns import Ticket

__all__ = ["SyncDeps", "SyncOptions", "UserBusy", "append_to_log", "claimant", "sync_drop"]

logger = logging.getLogger(__name__)


def sync_drop(drop: Drop, options: SyncOptions, deps: SyncDeps, *, force: bool = False) -> Outcome:
    """Process one drop to its outcome, record it, and dispose of the blob as configured.

    ``force`` processes a drop even though an outcome is recorded for it (reconcile uses it to
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
        return outcome_for(DropVersion(outcome.info, None), deps, Status.UNCHANGED,
                           "overwritten", "a newer upload replaced it", outcome.ref)
    return outcome


@dataclass(frozen=True)
class _Changed:
    """The version being processed was replaced (content, metadata or properties)."""

    info: DropInfo
    ref: UserRef


def _sync_version(drop: Drop, options: SyncOptions, deps: SyncDeps,
                  force: bool) -> Outcome | _Changed:
    ref = parse_blob_name(drop.name, options.naming)
    with _in_flight(deps, options, ref) as ticket:
        return _sync_in_turn(drop, ref, ticket, options, deps, force)


@contextmanager
def _in_flight(deps: SyncDeps, options: SyncOptions,
               ref: UserRef | NameRejection) -> Iterator[Ticket | None]:
    """The drop counts among this process's drops for its user from the start of its delivery
    until its outcome is recorded (``photo_core.use_cases.turns``): the newest goes first."""
    if deps.turns is None or options.dry_run or isinstance(ref, NameRejection):
        yield None
        return
    with deps.turns.in_flight(ref.key, None) as ticket:
        yield ticket


def _sync_in_turn(drop: Drop, ref: UserRef | NameRejection, ticket: Ticket | None,
                  options: SyncOptions, deps: SyncDeps, force: bool) -> Outcome | _Changed:
    try:
        info = drop.info()
    except DropGone as gone:
        removed = None if isinstance(ref, NameRejection) else \
            finish_removal(drop, ref, options, deps)
        if removed is not None:
            return removed
        logger.info("drop %s no longer exists; nothing to do", gone.name)
        return Outcome(status=Status.UNCHANGED, blob_name=gone.name, at=deps.clock.now(),
                       reason="gone", message="the blob was gone before it was processed")
    if ticket is not None and deps.turns is not None:  # storage's time, until its content's
        deps.turns.retime(ticket, DropVersion(info, None).time)
    # the first state-table read: a table that does not answer for a moment is waited for,
    # and what that costs comes out of the claim's wait (one patience per drop)
    asked = deps.clock.monotonic()
    version = DropVersion(info, patiently(claimant(deps, options),
                                          lambda: deps.state.get_drop(info.name), asked))
    waited = deps.clock.monotonic() - asked
    if not force and version.record is not None and version.record.describes(info.etag):
        return already_processed(drop, version, deps, options)
    if isinstance(ref, NameRejection):
        return finish(drop, version, deps, rejected(version, deps, ref.code, ref.message),
                      options)
    if info.size > options.image.max_input_bytes:  # refused before any byte is downloaded
        too_large = file_too_large(info.size, options.image.max_input_bytes)
        return finish(drop, version, deps, rejected(version, deps, too_large.code,
                                                    too_large.message, ref), options)
    return _read_and_apply(drop, version, ref, ticket, waited=waited, options=options,
                           deps=deps, force=force)


def _read_and_apply(drop: Drop, version: DropVersion, ref: UserRef, ticket: Ticket | None, *,
                    waited: float, options: SyncOptions, deps: SyncDeps,
                    force: bool) -> Outcome | _Changed:
    """Download the drop, then claim its user and apply it, or find it superseded. ``waited``:
    what the first state-table read already took of the claim's patience (the download takes
    none of it)."""
    info = version.info
    try:
        content = drop.read()
    except DropChanged:
        return _Changed(info, ref)
    since = deps.clock.monotonic() - waited
    raw = hashlib.sha256(content).hexdigest()
    if not force and same_drop(info, version.record, raw):
        return already_processed(drop, version, deps, options)  # only its metadata was edited
    version = replace(version, content=content, raw_sha256=raw,
                      made=content_time(info, version.record, raw))
    if options.dry_run:
        return _dry_run(drop, version, ref, options, deps)
    if ticket is not None and deps.turns is not None:
        deps.turns.retime(ticket, version.time)
    if deps.api_deadline is not None:  # one API budget, however often it gives way
        deps = replace(deps, api_deadline=functools.cache(deps.api_deadline))
    for turn in range(MAX_GIVE_WAY + 1):
        claimed = claim(claimant(deps, options), ref.key, version.key, version.made,
                        since=since, ticket=ticket)
        if isinstance(claimed, Superseded):
            if claimed.state.photo_unknown:  # the photo of the drop that won may not be live
                repair_photo(ref.key, options, deps)
            return _superseded(drop, version, ref, options, deps)
        outcome = _under_claim(drop, version, ref, claimed, options, deps,
                               give_way=turn < MAX_GIVE_WAY)
        if outcome is not None:
            return outcome
        # It gave the claim up to a newer drop for the user and waits for its turn again, with
        # its patience anew, but never past its API deadline (after which it could not upload).
        since = _patience_anew(deps, options)
    raise AssertionError("the last turn never gives way")


#: How often a drop gives its claim up to newer ones before it uploads whatever turns up
#: (each time, a newer drop for the user was in flight; this only bounds a pathological run).
MAX_GIVE_WAY = 8
#: A holder gives way only with this much of its API deadline left: room for the newer drop's
#: upload and, if that one is rejected, its own.
GIVE_WAY_ROOM = 5.0


def _patience_anew(deps: SyncDeps, options: SyncOptions) -> float:
    """The ``since`` of a drop's next claim after it gave way: a whole claim wait from now, or
    up to its API deadline if that comes sooner."""
    now = deps.clock.monotonic()
    if deps.api_deadline is None:
        return now
    left = min(options.lock_wait_seconds, deps.api_deadline().remaining())
    return now - (options.lock_wait_seconds - left)


class _GiveWay(Exception):
    """A newer drop for the same user is in flight in this process: the holder lets it upload
    first (this one then ends superseded, or uploads after it if the newer one is rejected).
    Only while the drop's API deadline leaves it room (``GIVE_WAY_ROOM``); it then waits again
    at most until that deadline, so it still ends inside the function timeout."""


def _under_claim(drop: Drop, version: DropVersion, ref: UserRef, claimed: Claimed,
                 options: SyncOptions, deps: SyncDeps, *, give_way: bool) -> Outcome | None:
    """Process the drop under its claim; ``None`` when it gave the claim up unprocessed (only
    if ``give_way``)."""
    lease = Lease(deps.state, claimed.state, claimed.version, seconds=options.lock_seconds,
                  clock=deps.clock, since=claimed.since).start()
    try:
        outcome = _process(version, ref, lease.state, lease, options, deps,
                           give_way=give_way)
        shown = drop.record(outcome)  # while the claim is held
        if shown.gone and outcome.status is Status.UPLOADED and outcome.target and \
                options.delete_on_blob_delete:
            outcome = _remove_own_photo(version, ref, outcome.target, lease, deps)
    except _GiveWay:
        release(deps.state, *lease.stop(), None, answered=lease.answered(replaced=False))
        _next_turn(deps, ref)
        return None
    except BaseException:
        release_quietly(deps.state, *lease.stop())
        _next_turn(deps, ref)
        raise
    changed = outcome.status in (Status.UPLOADED, Status.PHOTO_DELETED)
    release(deps.state, *lease.stop(), outcome, version.info,
            answered=lease.answered(replaced=changed))
    _next_turn(deps, ref)
    return finish(drop, version, deps, outcome, options, shown)


def _remove_own_photo(version: DropVersion, ref: UserRef, target: UserRef, lease: Lease,
                      deps: SyncDeps) -> Outcome:
    """HR deleted the drop during its upload: its deletion's event found it was not the photo's
    source yet, so the photo goes now, under the same claim. The removal's mark names the drop
    and ``target``, so that a redelivery can send it again (``deletions.finish_removal``)."""
    lease.intend(PENDING_REMOVAL, version.key, None, target.stored)
    outcome = remove_photo(version.name, ref, target, deps)
    if lease.lost:  # the removal may have landed after a newer drop's upload
        mark_unknown(deps.state, ref.key, version.key, None, deps.clock,
                     op=PENDING_LATE_REMOVAL, target=target.stored)
        raise ClaimLost(f"the claim on {ref.key} lapsed while its photo was being removed")
    return outcome


def _next_turn(deps: SyncDeps, ref: UserRef) -> None:
    """The claim is free: this process's drops waiting for the user look again now."""
    if deps.turns is not None:
        deps.turns.changed(ref.key)


def _dry_run(drop: Drop, version: DropVersion, ref: UserRef, options: SyncOptions,
             deps: SyncDeps) -> Outcome:
    """Every step but the upload, reading the user's state without claiming it: a dry run
    writes nothing anywhere but the outcome log."""
    current = deps.state.get(ref.key)
    state = current[0] if current else UserState(user=ref.key)
    newest = not_after(state.source_modified,
                       state.now(reference_now(deps.clock.now(), version.info)))
    if newest is not None and version.time < newest:
        return _superseded(drop, version, ref, options, deps)
    return finish(drop, version, deps, _process(version, ref, state, None, options, deps),
                  options)


def _superseded(drop: Drop, version: DropVersion, ref: UserRef, options: SyncOptions,
                deps: SyncDeps) -> Outcome:
    """A newer drop already won, but HR still learns when this file was broken."""
    assert version.content is not None
    try:
        prepare_photo(version.content, options.image)
    except PermanentError as exc:
        return finish(drop, version, deps, rejected(version, deps, exc.code, exc.message, ref),
                      options)
    return finish(drop, version, deps, outcome_for(
        version, deps, Status.UNCHANGED, "superseded",
        "a newer drop for this user was already processed", ref), options)


def _process(version: DropVersion, ref: UserRef, state: UserState, lease: Lease | None,
             options: SyncOptions, deps: SyncDeps, *, give_way: bool = False) -> Outcome:
    """Check, resolve and upload one downloaded drop; ``state`` is the user's as claimed and
    ``lease`` the claim (none in a dry run, which uploads nothing). With ``give_way``, a newer
    drop for the user in flight in this process makes it raise :class:`_GiveWay` instead of
    uploading."""
    assert version.content is not None
    try:
        prepared = prepare_photo(version.content, options.image)
        deadline = deps.api_deadline() if deps.api_deadline else None  # from the first API call
        with within(deadline):
            resolver = deps.resolver or Resolver(deps.api, employee_ttl=0)
            resolution = resolver.resolve_for_upload(ref)
        _check_mapping(version, resolution, state)
    except PermanentError as exc:
        return rejected(version, deps, exc.code, exc.message, ref,
                        retry_later=exc.retry_later)
    target = resolution.user
    # The photo on record went to this same user (an id may name someone else by now: then
    # the photo has not reached whom it names, whatever its hash). A call that went out
    # unanswered (or an upload that may have landed late) leaves the live photo unknown: then
    # nothing the row says about it is a reason not to upload.
    recorded_target = UserRef.parse(state.photo_target) if state.photo_target else None
    trusted = (recorded_target is None or recorded_target.key == target.key) and \
        not state.photo_unknown
    if trusted and state.content_sha256 == prepared.sha256:
        if (state.photo_blob, state.photo_etag) == (version.name, version.info.etag) or \
                (state.last_blob_name, state.last_blob_etag, state.last_status) == \
                (version.name, version.info.etag, Status.UPLOADED.value):
            # This very drop uploaded it: an earlier attempt stored its outcome in the user's
            # state and stopped before recording it. It is that outcome, not "same content".
            return outcome_for(version, deps, Status.UPLOADED, None, describe(prepared), ref,
                               prepared, resolution)
        if state.last_status in ("uploaded", "unchanged"):
            return outcome_for(version, deps, Status.UNCHANGED, "same_content",
                               "the same photo was already uploaded for this user", ref,
                               prepared, resolution)
    if options.dry_run:
        refusal = would_reject(deps.api, target, deadline)  # what the service would answer
        if refusal is not None:
            return rejected(version, deps, refusal.code, refusal.message, ref)
        return outcome_for(version, deps, Status.WOULD_UPLOAD, None, describe(prepared), ref,
                           prepared)
    assert lease is not None, "only a dry run has no claim, and it returned above"
    if give_way and deps.turns is not None and \
            deps.turns.newer_known(ref.key, version.time) and \
            (deadline is None or deadline.remaining() >= GIVE_WAY_ROOM):
        raise _GiveWay(ref.key)
    lease.intend(PENDING_UPLOAD, version.key, prepared.sha256, target.stored)
    try:
        with within(deadline):
            deps.api.set_photo(target, prepared.data)
    except PermanentError as exc:
        return rejected(version, deps, exc.code, exc.message, ref,
                        retry_later=exc.retry_later)
    except TransientError:
        if lease.lost:  # no answer, and the claim lapsed meanwhile: as late as an answer
            mark_unknown(deps.state, ref.key, version.key, prepared.sha256, deps.clock,
                         op=PENDING_LATE_UPLOAD, target=target.stored)
        raise
    if lease.lost:
        # The claim lapsed or was taken over while the upload was out: it may have landed
        # after another drop's. It cannot be fenced, so it is never recorded as uploaded.
        mark_unknown(deps.state, ref.key, version.key, prepared.sha256, deps.clock,
                     op=PENDING_LATE_UPLOAD, target=target.stored)
        raise ClaimLost(f"the claim on {ref.key} lapsed while its photo was being uploaded; "
                        "the photo is marked unknown and the drop will be decided again")
    return outcome_for(version, deps, Status.UPLOADED, None, describe(prepared), ref, prepared,
                       resolution)


def _check_mapping(version: DropVersion, resolution: Resolution, state: UserState) -> None:
    """Raise :class:`MappingChanged` when the drop was made before the mapping version that
    resolved its HR id, and that version gave the id to someone else than it named before
    (as this process saw the earlier version, or as the user's last photo went)."""
    if resolution.since is None or version.time >= resolution.since:
        return
    before = resolution.before or (UserRef.parse(state.photo_target)
                                   if state.photo_target else None)
    if before is None or before.key == resolution.user.key:
        return
    raise MappingChanged(
        f"this file was dropped at {version.time.isoformat()}, when its HR id named "
        f"{before.value}; the mapping file changed at {resolution.since.isoformat()} and names "
        f"{resolution.user.value} now. Drop the file again if it is {resolution.user.value}'s "
        "photo")
