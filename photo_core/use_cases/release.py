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
    PENDING_UPLOAD,
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
    at: str | None = version
    for _ in range(MAX_CLAIM_CONFLICTS):
        try:
            store.put(released, at)
            return
        except StateConflict:
            pass
        # The release may have met our own earlier write (a retried PUT), or a mark written
        # meanwhile by a holder that lost this claim (late answers may keep coming): if the
        # row still holds this claim, release it at the row's version, keeping such a mark,
        # or the outcome would be lost and the claim held until it expires.
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
    raise UserBusy(f"could not release the claim on {state.user}: its row keeps changing")


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
    holder came after the call, and the photo may be its (but see ``_late_upload_kind``)."""
    for _ in range(MAX_CLAIM_CONFLICTS):
        current = store.get(user)
        state, version = current if current else (UserState(user=user), None)
        kind = _late_upload_kind(state, drop, target) if op == PENDING_LATE_UPLOAD else op
        if kind is None:
            logger.info("an upload for %s outlived its claim; the row of %s already says what "
                        "it may have done", drop, user)
            return
        marked = state.with_pending(kind, drop, sha256, uuid.uuid4().hex, clock.now(), target)
        try:
            store.put(marked, version)
            logger.warning("the photo of %s is unknown: %s for %s outlived its claim", user,
                           "an upload" if op == PENDING_LATE_UPLOAD else "a removal", drop)
            return
        except StateConflict:
            continue
    raise UserBusy(f"could not mark the photo of {user} unknown: its state keeps changing")


def _late_upload_kind(state: UserState, drop: str, target: str | None) -> str | None:
    """What a late upload of ``drop`` to ``target`` leaves in the row as it is now. Only another
    delivery of the same drop can have made the row say so (its version is in the key):

    * nothing, when the row says it already: it records that drop's photo for ``target`` with
      nothing out since;
    * the mark of an upload sent under the claim, when the only photo that can be live is that
      drop's (or none): the row records that drop's removal and nothing since, or holds the
      open mark of that drop's own upload or removal for ``target`` (a mark of its own, which
      that holder's release keeps, while it clears its own). The drop's deletion, or its
      redelivery finding the blob gone, then removes the photo;
    * otherwise the late mark: a newer drop's photo may be live, and no deletion acts on it."""
    name, _, etag = drop.partition("|")
    if target is None:
        return PENDING_LATE_UPLOAD
    if state.pending_id is None:
        if (state.photo_blob, state.photo_etag, state.photo_target) == (name, etag, target):
            return None
        if state.photo_blob is None and state.last_status == Status.PHOTO_DELETED.value and \
                (state.last_blob_name, state.last_blob_etag) == (name, etag):
            return PENDING_UPLOAD
        return PENDING_LATE_UPLOAD
    return PENDING_UPLOAD if state.open_call == (drop, target) else PENDING_LATE_UPLOAD


def release_quietly(store: StateStore, state: UserState, version: str) -> None:
    """Release after a failure without hiding it: if storage is down too, the claim simply
    expires and the redelivered drop takes it over."""
    try:
        release(store, state, version, None)
    except Exception:
        logger.exception("could not release the claim on %s; it will expire", state.user)
