"""Per-user claims: two drops for the same user never upload at once, and never out of order.

A claim is the user's state row with an owner, the drop it is for and an expiry, written with
optimistic concurrency (the row's ETag). Taking it also decides ordering: a drop older than the
newest one already applied for the user is superseded, not uploaded. Releasing it folds the
drop's outcome into the row in the same write. While held, the claim is kept alive by a
:class:`~photo_core.lease.Lease`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from photo_core.budget import BUDGET
from photo_core.clock import Clock
from photo_core.errors import TransientError
from photo_core.lease import still_held
from photo_core.outcomes import Outcome, Status
from photo_core.ports import DropInfo, StateConflict, StateStore, UserState

logger = logging.getLogger(__name__)

MAX_CLAIM_CONFLICTS = 20


class UserBusy(TransientError):
    """Another drop for the same user is being processed; this one waits its turn."""

    code = "user_busy"


class Superseded:
    """A newer drop for the user was already processed: this one must not be uploaded."""


SUPERSEDED = Superseded()


@dataclass(frozen=True)
class Claimant:
    """Who claims, and how patiently: ``seconds`` is the claim's lifetime (renewed while its
    holder lives, so a crashed holder's claim frees within it), ``wait_seconds`` how long a
    drop waits for another drop's live claim before giving up (longer than ``seconds``)."""

    store: StateStore
    owner: str  # the invocation's id, written into the claim
    clock: Clock
    seconds: float
    wait_seconds: float


def claim(who: Claimant, user: str, info: DropInfo) -> tuple[UserState, str] | Superseded:
    """Take ``user``'s claim for the drop ``info``: the claimed state and its version, or
    :data:`SUPERSEDED`. Raises :class:`UserBusy` after waiting ``wait_seconds`` for another
    drop's claim, or when the row keeps changing under us."""
    waited = 0.0
    conflicts = 0
    key = drop_key(info)
    while True:
        now = who.clock.now()
        current = who.store.get(user)
        state, version = current if current else (UserState(user=user), None)
        if state.source_modified and info.last_modified < state.source_modified:
            return SUPERSEDED
        if held_by_other(state, who.owner, now):
            if waited >= who.wait_seconds:
                raise UserBusy(f"another drop for {user} is in progress")
            who.clock.sleep(BUDGET.claim_poll)
            waited += BUDGET.claim_poll
            continue
        claimed = replace(state, lock_owner=who.owner, lock_drop=key,
                          lock_expires=now + timedelta(seconds=who.seconds),
                          attempts=state.attempts + 1)
        try:
            return claimed, who.store.put(claimed, version)
        except StateConflict:
            conflicts += 1
            if conflicts >= MAX_CLAIM_CONFLICTS:
                raise UserBusy(f"could not claim {user}: its state keeps changing") from None


def held_by_other(state: UserState, owner: str, now: datetime) -> bool:
    """A live claim by another invocation, even for this very drop version. A duplicate
    delivery (Event Grid retries, reconcile running beside events, a quick same-name overwrite)
    must wait too: taking over a live claim would let the holder's upload land after a newer
    drop's. A crashed holder's claim is no longer renewed and expires within ``seconds``, which
    is shorter than a waiting drop's ``wait_seconds``."""
    return bool(state.lock_owner and state.lock_owner != owner
                and state.lock_expires and state.lock_expires > now)


def drop_key(info: DropInfo) -> str:
    return f"{info.name}|{info.etag}"


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
                               pending_id=row.pending_id, pending_at=row.pending_at)
        store.put(released, at)


def _released(state: UserState, outcome: Outcome | None, info: DropInfo | None,
              answered: frozenset[str]) -> UserState:
    released = replace(state, lock_owner=None, lock_expires=None, lock_drop=None)
    if state.pending_id is not None and state.pending_id in answered:
        released = released.without_pending()
    if outcome is None or info is None or outcome.reason == "superseded":
        return released
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
        newest = max(filter(None, (state.source_modified, info.last_modified)))
        released = replace(released, content_sha256=outcome.content_sha256,
                           source_modified=newest,
                           photo_target=outcome.target.stored if outcome.target else None)
    if outcome.status is Status.UPLOADED:
        released = replace(released, uploaded_at=outcome.at)
    if outcome.status is Status.PHOTO_DELETED:
        released = replace(released, content_sha256=None, uploaded_at=None, photo_target=None)
    return released


def release_quietly(store: StateStore, state: UserState, version: str) -> None:
    """Release after a failure without hiding it: if storage is down too, the claim simply
    expires and the redelivered drop takes it over."""
    try:
        release(store, state, version, None)
    except Exception:
        logger.exception("could not release the claim on %s; it will expire", state.user)
