"""Putting a user's photo back when the live one is unknown.

Graph's photo PATCH cannot be made conditional on photo-sync's claim, so an upload that went out
while its claim was valid can still land after the claim lapsed and another drop's upload. Such
an upload, and any call whose answer was lost, leaves a mark in the user's row (the photo is
"unknown"). The next drop for the user uploads anyway; a drop that finds itself superseded by a
user whose photo is unknown puts the winning drop's photo back, here, under the user's claim.
"""

from __future__ import annotations

import logging

from photo_core.domain.errors import PermanentError
from photo_core.domain.naming import UserRef
from photo_core.domain.outcomes import Outcome, Status
from photo_core.domain.retry import within
from photo_core.photos import prepare_photo
from photo_core.use_cases.claims import Superseded, claim, drop_key
from photo_core.use_cases.drop_context import SyncDeps, SyncOptions, append_to_log, claimant
from photo_core.use_cases.lease import ClaimLost, Lease
from photo_core.use_cases.ports import (
    PENDING_LATE_UPLOAD,
    PENDING_UPLOAD,
    DropChanged,
    DropGone,
    UserState,
)
from photo_core.use_cases.release import mark_unknown, release, release_quietly

logger = logging.getLogger(__name__)

REPAIRED = "repaired"


def photo_version(state: UserState) -> tuple[str, str | None] | None:
    """The drop the user's current photo came from, its name and ETag as processed (rows
    written before photo-sync kept it apart: the last drop, when it gave the photo)."""
    if state.photo_blob is not None:
        return state.photo_blob, state.photo_etag
    if state.last_status in (Status.UPLOADED.value, Status.UNCHANGED.value) and \
            state.last_blob_name is not None:
        return state.last_blob_name, state.last_blob_etag
    return None


def photo_source(state: UserState) -> str | None:
    """The name of the drop the user's current photo came from (see ``photo_version``)."""
    version = photo_version(state)
    return version[0] if version else None


def repair_photo(user: str, options: SyncOptions, deps: SyncDeps) -> Outcome | None:
    """Upload the photo of ``user``'s photo source again if the live photo is still unknown once
    the claim is held; ``None`` when there was nothing to do (or nothing that can be done here:
    then the mark stays for the next drop or reconcile). Transient failures raise."""
    if deps.drops is None or options.dry_run:
        return None
    claimed = claim(claimant(deps, options), user, f"repair|{user}", None)
    assert not isinstance(claimed, Superseded), "a claim without a time is never superseded"
    lease = Lease(deps.state, claimed.state, claimed.version, seconds=options.lock_seconds,
                  clock=deps.clock, since=claimed.since).start()
    try:
        outcome = _put_back(lease, options, deps)
    except BaseException:
        release_quietly(deps.state, *lease.stop())
        raise
    release(deps.state, *lease.stop(), None,
            answered=lease.answered(replaced=outcome is not None))
    if outcome is not None:
        append_to_log(deps, outcome)
    return outcome


def _put_back(lease: Lease, options: SyncOptions, deps: SyncDeps) -> Outcome | None:
    state = lease.state
    source = photo_source(state)
    target = UserRef.parse(state.photo_target) if state.photo_target else None
    if not state.photo_unknown or source is None or target is None or deps.drops is None:
        if state.photo_unknown:
            logger.warning("the photo of %s is unknown and there is no drop to put back; the "
                           "next drop for the user will upload", state.user)
        return None
    drop = deps.drops(source)
    try:
        info = drop.info()
        content = drop.read()
        prepared = prepare_photo(content, options.image)
    except (DropGone, DropChanged, PermanentError):
        logger.warning("the photo of %s is unknown and its drop %s is gone or no longer valid; "
                       "the next drop for the user will upload", state.user, source)
        return None
    if prepared.sha256 != state.content_sha256:
        logger.info("drop %s changed since it gave %s's photo; its new version is processed on "
                    "its own", source, state.user)
        return None
    lease.intend(PENDING_UPLOAD, drop_key(info), prepared.sha256, target.stored)
    deadline = deps.api_deadline() if deps.api_deadline else None
    with within(deadline):
        deps.api.set_photo(target, prepared.data)
    if lease.lost:
        mark_unknown(deps.state, state.user, drop_key(info), prepared.sha256, deps.clock,
                     op=PENDING_LATE_UPLOAD, target=target.stored)
        raise ClaimLost(f"the claim on {state.user} lapsed while its photo was put back")
    logger.info("the photo of %s was unknown; put back from %s", state.user, source)
    return Outcome(Status.UPLOADED, source, "the user's photo was uploaded again from this drop: "
                   "an earlier upload's result was unknown", deps.clock.now(), reason=REPAIRED,
                   user=target.value, blob_etag=info.etag, content_sha256=prepared.sha256,
                   target=target)
