"""Ending a claim: the drop's outcome folded into the user's row in the same write, and the
marks that say the live photo is unknown (an operation sent without an answer, or an upload
that may have landed after its claim lapsed).

A mark is cleared only by whoever may: a holder whose own call was answered, and, when that
call replaced the live photo, the mark it found at claim time too. A mark someone else wrote
while the claim was held (a holder that lost this claim) is kept.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import replace

from photo_core.domain.clock import Clock, not_after
from photo_core.domain.outcomes import Outcome, Status
from photo_core.use_cases.claims import MAX_CLAIM_CONFLICTS, UserBusy
from photo_core.use_cases.lease import still_held
from photo_core.use_cases.ports import (
    PENDING_LATE_UPLOAD,
    DropInfo,
    StateConflict,
    StateStore,
    UserState,
)

logger = logging.getLogger(__name__)


def release(store: StateStore, state: UserState, version: str, outcome: Outcome | None,
            info: DropInfo | None = None, *, answered: frozenset[str] = frozenset()) -> None:
    """Drop the claim, folding the outcome into the user's state when there is one. ``answered``
    are the marks of unknown photo operations this holder may clear (``Lease.answered``); a
    mark someone else wrote while the claim was held is kept."""
    released = _released(state, outcome, info, answered)
    try:
        store.put(released, version)
    except StateConflict:
        # The release may have met our own earlier write (a retried PUT), or a mark written
        # meanwhile by a holder that lost this claim: if the row still holds this claim,
        # release it at the row's version (keeping such a mark), or the outcome would be lost.
        current = still_held(store, state)
        if current is None:
            logger.warning("claim on %s was taken over before release", state.user)
            return
        row, at = current
        if row.pending_id not in (state.pending_id, None) and row.pending_id not in answered:
            released = replace(released, pending_op=row.pending_op,
                               pending_drop=row.pending_drop, pending_sha256=row.pending_sha256,
                               pending_id=row.pending_id, pending_at=row.pending_at,
                               pending_target=row.pending_target)
        store.put(released, at)


def _released(state: UserState, outcome: Outcome | None, info: DropInfo | None,
              answered: frozenset[str]) -> UserState:
    released = replace(state, lock_owner=None, lock_expires=None, lock_drop=None)
    if state.pending_id is not None and state.pending_id in answered:
        released = released.without_pending()
    if outcome is None or info is None or outcome.reason == "superseded":
        return released
    if outcome.status is Status.UNCHANGED and state.photo_blob is None and \
            state.last_status in (Status.UPLOADED.value, Status.UNCHANGED.value):
        # a row from before the photo's drop was kept apart: the last drop gave the photo
        released = replace(released, photo_blob=state.last_blob_name,
                           photo_etag=state.last_blob_etag)
    released = replace(
        released,
        last_status=outcome.status.value,
        last_reason=outcome.reason,
        last_message=outcome.message,
        last_blob_name=info.name,
        last_blob_etag=info.etag,
        updated_at=outcome.at,
    )
    if outcome.status in (Status.UPLOADED, Status.UNCHANGED):
        # Only a photo that is now the user's moves the "newest" mark: a newer drop that was
        # rejected must not stop an older valid one from being applied.
        made = outcome.source_modified
        known = not_after(state.source_modified,
                          state.now(max(outcome.at, made) if made else outcome.at))
        newest = max(filter(None, (known, made)), default=None)
        released = replace(released, content_sha256=outcome.content_sha256,
                           source_modified=newest,
                           photo_target=outcome.target.stored if outcome.target else None)
    if outcome.status is Status.UPLOADED:
        released = replace(released, uploaded_at=outcome.at, photo_blob=info.name,
                           photo_etag=info.etag)
    if outcome.status is Status.PHOTO_DELETED:
        released = replace(released, content_sha256=None, uploaded_at=None, photo_target=None,
                           photo_blob=None, photo_etag=None)
    return released


def mark_unknown(store: StateStore, user: str, drop: str, sha256: str | None,
                 clock: Clock, op: str, target: str | None = None) -> None:
    """Write into the user's row, whoever holds it, that a call (``op``:
    ``PENDING_LATE_UPLOAD`` or ``PENDING_LATE_REMOVAL``) for ``drop`` may have landed at any
    time (its claim lapsed while it was out): the live photo is unknown until someone uploads
    after this mark. A live holder keeps the mark (``release``); if storage fails here too, the
    mark written before the call is what remains. No deletion acts on such a mark: a newer
    holder came after the call, and the photo may be its."""
    for _ in range(MAX_CLAIM_CONFLICTS):
        current = store.get(user)
        state, version = current if current else (UserState(user=user), None)
        if op == PENDING_LATE_UPLOAD and _already_live(state, drop, sha256, target):
            logger.info("an upload for %s outlived its claim, but the photo of %s is that "
                        "drop's already; nothing is unknown", drop, user)
            return
        marked = state.with_pending(op, drop, sha256, uuid.uuid4().hex, clock.now(), target)
        try:
            store.put(marked, version)
            logger.warning("the photo of %s is unknown: %s for %s outlived its claim", user,
                           "an upload" if op == PENDING_LATE_UPLOAD else "a removal", drop)
            return
        except StateConflict:
            continue
    raise UserBusy(f"could not mark the photo of {user} unknown: its state keeps changing")


def _already_live(state: UserState, drop: str, sha256: str | None, target: str | None) -> bool:
    """Whether the row already records ``drop``'s photo, for ``target``, as the live one, with
    no call out since (another delivery of the same drop uploaded it and released): a late
    upload of the same photo to the same person changed nothing, wherever it landed."""
    name, _, etag = drop.partition("|")
    return state.pending_id is None and (state.photo_blob, state.photo_etag) == (name, etag) \
        and sha256 is not None and state.content_sha256 == sha256 \
        and target is not None and state.photo_target == target


def release_quietly(store: StateStore, state: UserState, version: str) -> None:
    """Release after a failure without hiding it: if storage is down too, the claim simply
    expires and the redelivered drop takes it over."""
    try:
        release(store, state, version, None)
    except Exception:
        logger.exception("could not release the claim on %s; it will expire", state.user)
