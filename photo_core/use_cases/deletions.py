"""When HR deletes a photo blob: optionally remove the user's profile photo too.

Off by default (``PHOTO_DELETE_ON_BLOB_DELETE``): deleting a file in a container is easy to do
by mistake, and a missing photo is worse than a stale one. When on, the photo is removed only
if the deleted blob is the one the user's current photo came from, and no blob of that name has
been uploaded again since: deleting an old or superseded drop, or replacing a file by deleting
and re-uploading it, never removes anyone's photo. The photo is removed from the user it was
uploaded to (an employee or HR id is not resolved again), under the user's claim, so a newer
drop being applied at the same time is never undone.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

from photo_core.domain.errors import PermanentError
from photo_core.domain.naming import UserRef, UserRefKind, parse_blob_name
from photo_core.domain.outcomes import Outcome, Status
from photo_core.use_cases.claims import Superseded, claim, held_by_other, patiently
from photo_core.use_cases.drop_context import SyncDeps, SyncOptions, append_to_log, claimant
from photo_core.use_cases.lease import ClaimLost, Lease
from photo_core.use_cases.ports import (
    PENDING_LATE_REMOVAL,
    PENDING_LATE_UPLOAD,
    PENDING_REMOVAL,
    PENDING_UPLOAD,
    Drop,
    DropGone,
    DropInfo,
    UserState,
)
from photo_core.use_cases.release import mark_unknown, release, release_quietly
from photo_core.use_cases.repair import photo_version

logger = logging.getLogger(__name__)

BLOB_DELETED = "Microsoft.Storage.BlobDeleted"
_SUBJECT = re.compile(r"/blobServices/default/containers/(?P<container>[^/]+)/blobs/(?P<name>.+)")


@dataclass(frozen=True)
class DeletionOptions:
    enabled: bool
    drop_container: str
    sync: SyncOptions  # the drops' naming rules, claim timings and dry run, shared


def blob_deleted(event_type: str, subject: str, options: DeletionOptions, deps: SyncDeps,
                 blob_exists: Callable[[str], bool]) -> Outcome | None:
    """React to one deletion event; ``None`` when there is nothing to do (and says why in the
    log). The removal runs under the user's claim, like a drop, so it cannot interleave with a
    newer drop's upload. Transient failures raise, so Event Grid delivers the event again."""
    match = _SUBJECT.fullmatch(subject)
    if event_type != BLOB_DELETED or match is None:
        return None
    if match["container"] != options.drop_container:
        return None
    name = match["name"]
    if not options.enabled:
        logger.info("drop %s was deleted; deletion sync is off, so no photo is removed", name)
        return None
    ref = parse_blob_name(name, options.sync.naming)
    if not isinstance(ref, UserRef):
        return None
    current = deps.state.get(ref.key)
    state = current[0] if current else UserState(user=ref.key)
    in_flight = _drop_in_flight(state, name, deps)
    mine = [v for v in _live_versions(state) if v[0] == name]
    # An earlier attempt of this deletion that claimed the user and never released (it died,
    # or the table did not answer its release): only a delivery of this deletion releases it.
    unfinished = state.lock_drop == _deletion_key(name) and state.lock_owner != deps.owner
    if not in_flight and not mine and not unfinished:
        logger.info("deleted drop %s is not the source of %s's photo; nothing removed",
                    name, ref.value)
        return None
    back = blob_exists(name)
    if back and (options.sync.dry_run or not unfinished):
        logger.info("%sdrop %s was uploaded again after its deletion; photo kept",
                    "dry run: " if options.sync.dry_run else "", name)
        return None
    if options.sync.dry_run:
        logger.info("dry run: drop %s was deleted; %s", name,
                    _would(state, ref, in_flight=in_flight, source=bool(mine)))
        return None
    # The version whose deletion this is: the drop whose claim is held (it may become the
    # source once its upload is done: decided under the claim), or the photo's source as read
    # (or the upload of it whose answer never came); none: only the claim is left to release.
    version = (name, state.lock_drop.partition("|")[2]) if in_flight and state.lock_drop \
        else mine[0] if mine else None
    return _remove_under_claim(name, ref, version, options.sync, deps, blob_exists)


def finish_removal(drop: Drop, ref: UserRef, options: SyncOptions,
                   deps: SyncDeps) -> Outcome | None:
    """For a redelivered drop that finds its blob gone (HR deleted it during an earlier
    attempt): if that attempt's upload, or its removal of the photo it gave, went out under
    the claim without an answer, the row still holds its mark, the photo may be the deleted
    drop's, and nobody else would remove it (the deletion's event found the drop not yet the
    photo's source, and ended). Remove it under the claim, as a deletion's redelivery does;
    ``None`` when there is no such mark, or deletion sync is off. (Deletion sync needs HR's
    drops kept, so a gone blob was deleted by HR, not by photo-sync.) A mark without its
    target was written by an earlier version, whose "upload" may be a late one (a newer drop
    may have uploaded after it): it is left for the next drop or reconcile."""
    if not options.delete_on_blob_delete or options.dry_run:
        return None
    who = claimant(deps, options)
    current = patiently(who, lambda: deps.state.get(ref.key), deps.clock.monotonic())
    call = current[0].open_call if current else None
    if call is None:
        return None
    name, _, etag = call[0].partition("|")
    if name != drop.name:
        return None

    def exists(_: str) -> bool:
        try:
            drop.info()
        except DropGone:
            return False
        return True

    return _remove_under_claim(name, ref, (name, etag), options, deps, exists)


def _would(state: UserState, ref: UserRef, *, in_flight: bool, source: bool) -> str:
    """What the real run would do, for a dry run's log: the deleted drop is in flight (it may
    become the photo's source), or is its ``source``, or neither."""
    if not in_flight and not source:
        return "an unfinished earlier attempt's claim would be released"
    if not in_flight and _removal_target(state, ref) is None:
        return "it gave the photo before photo-sync kept who it went to: not removed"
    return f"the photo of {ref.value} would be removed"


def _deletion_key(name: str) -> str:
    """What a deletion writes as the drop of its claim: no drop version, only the name."""
    return f"{name}|deleted"


def _live_versions(state: UserState) -> list[tuple[str, str | None]]:
    """The drop versions whose deletion removes the live photo: its recorded source, or, while
    an upload went out without an answer, that upload's drop alone. It may have landed (it was
    the newest drop then, or it would not have been sent), so the recorded source is no longer
    known to be live, and deleting it must not remove what may be the newer drop's photo. A
    removal sent under the claim without an answer (its intent replaced the upload's mark)
    leaves its drop's photo possibly live, and so its drop alone too: the deletion's
    redelivery sends the removal again. An upload that outlived its claim leaves none: the
    photo may be its drop's or the newer holder's, and removing it could remove the newer.
    Neither does an earlier version's upload mark, which names no target: it may be late."""
    if state.pending_op in (PENDING_UPLOAD, PENDING_REMOVAL, PENDING_LATE_UPLOAD):
        call = state.open_call
        if call is None:
            return []
        pending, _, etag = call[0].partition("|")
        return [(pending, etag)]
    recorded = photo_version(state)
    return [recorded] if recorded is not None else []


def _drop_in_flight(state: UserState, name: str, deps: SyncDeps) -> bool:
    """Whether another invocation holds the user's claim for a version of this very blob (a
    drop's claim, not an earlier attempt of this deletion)."""
    return bool(state.lock_drop and state.lock_drop.partition("|")[0] == name and
                state.lock_drop != _deletion_key(name) and
                held_by_other(state, deps.owner, deps.clock.now()))


def _remove_under_claim(name: str, ref: UserRef, version: tuple[str, str | None] | None,
                        options: SyncOptions, deps: SyncDeps,
                        blob_exists: Callable[[str], bool]) -> Outcome | None:
    # A deletion is not ordered against drops by time (an instance's clock against storage's
    # would misjudge one made seconds after an upload): under the claim, the row says whether
    # the deleted drop is still the source of the photo.
    claimed = claim(claimant(deps, options), ref.key, _deletion_key(name), None)
    assert not isinstance(claimed, Superseded), "a claim without a time is never superseded"
    lease = Lease(deps.state, claimed.state, claimed.version, seconds=options.lock_seconds,
                  clock=deps.clock, since=claimed.since).start()
    try:
        # Meanwhile a newer drop may have been applied, or the same name uploaded again.
        live = version if version in _live_versions(lease.state) else None
        target = _removal_target(lease.state, ref)
        if live is None or blob_exists(name) or target is None:
            release(deps.state, *lease.stop(), None)
            if target is None and live is not None:
                logger.warning("deleted drop %s gave %s's photo before photo-sync kept who it "
                               "went to; not removed (remove it by hand if it should go)",
                               name, ref.value)
            else:
                logger.info("deleted drop %s is not (or no longer) %s's photo source; nothing "
                            "removed", name, ref.value)
            return None
        etag = live[1]
        removing = f"{name}|{etag}"
        lease.intend(PENDING_REMOVAL, removing, None, target.stored)
        outcome = remove_photo(name, ref, target, deps)
        if lease.lost:  # the removal may have landed after a newer drop's upload
            mark_unknown(deps.state, ref.key, removing, None, deps.clock,
                         op=PENDING_LATE_REMOVAL, target=target.stored)
            raise ClaimLost(f"the claim on {ref.key} lapsed while its photo was being removed")
    except BaseException:
        release_quietly(deps.state, *lease.stop())
        raise
    removed = outcome.status is Status.PHOTO_DELETED
    release(deps.state, *lease.stop(), outcome, DropInfo(name, 0, etag or "", deps.clock.now()),
            answered=lease.answered(replaced=removed))
    append_to_log(deps, outcome)
    logger.info("drop %s deleted: %s", name, outcome.status.value)
    return outcome


def remove_photo(name: str, ref: UserRef, target: UserRef, deps: SyncDeps) -> Outcome:
    """Remove ``target``'s photo because HR deleted the drop ``name`` it came from."""
    try:
        deps.api.delete_photo(target)
    except PermanentError as exc:
        return Outcome(Status.REJECTED, name, exc.message, deps.clock.now(), reason=exc.code,
                       user=ref.value)
    return Outcome(Status.PHOTO_DELETED, name, "HR deleted the drop; the profile photo was "
                   "removed", deps.clock.now(), user=ref.value, target=target)


def _photo_target(state: UserState, ref: UserRef) -> UserRef | None:
    """Who the photo went to: as recorded at upload, or the drop's own reference when it names
    the user directly. An employee or HR id is never resolved again here: it may name someone
    else by now (a corrected mapping row, a reused id)."""
    if state.photo_target:
        return UserRef.parse(state.photo_target)
    if ref.kind in (UserRefKind.UPN, UserRefKind.OBJECT_ID):
        return ref
    return None


def _removal_target(state: UserState, ref: UserRef) -> UserRef | None:
    """Whom the live version's photo went to: the pending mark's own target while the live
    version is a pending upload or removal (the row's photo_target is the previous photo's)."""
    call = state.open_call
    return UserRef.parse(call[1]) if call else _photo_target(state, ref)
