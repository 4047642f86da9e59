"""A per-user claim kept alive while its drop is processed.

The claim in the state table is a lease: short enough that a crashed invocation's claim expires
long before the drops waiting for it run out of delivery attempts, and renewed in the background
for as long as its holder is alive (a slow upload retrying within its time budget included). The
lease is lost when a renewal finds the claim taken over, and also, by the holder's own monotonic
clock, once a lifetime has passed since the last write it knows landed (counted from when that
write was sent): renewals that fail or stall let the claim lapse for others (see
``claims._Watch``), and the holder must then count it lapsed too.

Before its holder sends a call that changes the live photo, the lease writes that intent into
the claimed row (:meth:`Lease.intend`): if the answer never comes, the row still says that the
live photo is unknown, and whoever claims the user next does not trust the row's photo.
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import replace
from datetime import timedelta

from photo_core.domain.budget import BUDGET
from photo_core.domain.clock import Clock
from photo_core.domain.errors import TransientError
from photo_core.use_cases.ports import StateConflict, StateStore, UserState

logger = logging.getLogger(__name__)

_INTENT_ATTEMPTS = 3


class ClaimLost(TransientError):
    """This drop's claim on its user was taken over (or lapsed) while it was processed; the
    drop is delivered again and decided anew."""

    code = "claim_lost"


def still_held(store: StateStore, claim: UserState) -> tuple[UserState, str] | None:
    """The user's row and its version, if it still carries ``claim`` (the same holder, for the
    same drop). A write can succeed on the server and still come back as a conflict: a
    timed-out PUT retried by the SDK meets the ETag its own first attempt changed."""
    current = store.get(claim.user)
    if current is None or current[0].lock_owner is None or \
            (current[0].lock_owner, current[0].lock_drop) != (claim.lock_owner, claim.lock_drop):
        return None
    return current


class Lease:
    def __init__(self, store: StateStore, state: UserState, version: str, *, seconds: float,
                 clock: Clock, since: float | None = None) -> None:
        self._store = store
        self._state = state
        self._version = version
        self._seconds = seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._renew_until_stopped, daemon=True,
                                        name=f"lease {state.user}")
        self._claimed_mark = state.pending_id  # an unknown left by someone before this claim
        self._own_mark: str | None = None
        # monotonic: the last write known to have landed was sent before ``_valid_from``
        self._valid_from = clock.monotonic() if since is None else since
        self._taken_over = False

    def start(self) -> Lease:
        self._thread.start()
        return self

    @property
    def lost(self) -> bool:
        """Taken over, or lapsed: no write of this holder's landed for a whole lifetime."""
        return self._taken_over or \
            self._clock.monotonic() - self._valid_from >= self._seconds

    @property
    def state(self) -> UserState:
        with self._lock:
            return self._state

    def stop(self) -> tuple[UserState, str]:
        """Stop renewing; the claim as last written, to release it from."""
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join()
        with self._lock:
            return self._state, self._version

    def intend(self, op: str, drop: str | None, sha256: str | None,
               target: str | None = None) -> None:
        """Write into the claimed row that ``op`` (``PENDING_UPLOAD``, ``PENDING_REMOVAL``) is
        about to be sent for ``drop``. Raises :class:`ClaimLost` if the claim is no longer this
        holder's."""
        with self._lock:
            if self.lost:
                raise ClaimLost(f"the claim on {self._state.user} was taken over")
            mark = uuid.uuid4().hex
            intended = self._state.with_pending(op, drop, sha256, mark, self._clock.now(), target)
            for _ in range(_INTENT_ATTEMPTS):
                sent = self._clock.monotonic()
                try:
                    self._version = self._store.put(intended, self._version)
                    self._state, self._own_mark, self._valid_from = intended, mark, sent
                    return
                except StateConflict:
                    if not self._adopt_own_write():
                        self._taken_over = True
                        raise ClaimLost(f"the claim on {self._state.user} was taken over") \
                            from None
                    if self._state.pending_id == mark:  # our write did land
                        self._own_mark = mark
                        return
                    intended = replace(self._state, pending_op=op, pending_drop=drop,
                                       pending_sha256=sha256, pending_id=mark,
                                       pending_at=intended.pending_at,
                                       pending_target=target)
            raise ClaimLost(f"could not write the intent into {self._state.user}'s claim")

    def answered(self, *, replaced: bool) -> frozenset[str]:
        """The unknown marks this holder may clear at release: its own intent once its call was
        answered, and, when its call replaced the live photo (or removed it), the one it found
        at claim time too (whatever that call had done, this one came after)."""
        marks = {self._own_mark}
        if replaced and self._own_mark is not None:  # a call was made, and it replaced
            marks.add(self._claimed_mark)
        return frozenset(m for m in marks if m is not None)

    def renew(self) -> bool:
        """Push the claim's expiry; whether the claim is still held afterwards."""
        with self._lock:
            if self.lost:
                return False
            renewed = replace(self._state,
                              lock_expires=self._clock.now() + timedelta(seconds=self._seconds))
            sent = self._clock.monotonic()
            try:
                self._version = self._store.put(renewed, self._version)
                self._state, self._valid_from = renewed, sent
                return True
            except StateConflict:
                if self._adopt_own_write():
                    return True
                self._taken_over = True
                logger.warning("the claim on %s was taken over; this drop will not upload",
                               self._state.user)
            except Exception:  # storage hiccup: the next renewal tries again before expiry
                logger.warning("could not renew the claim on %s", self._state.user,
                               exc_info=True)
            return False

    def _adopt_own_write(self) -> bool:
        """After a conflict, whether the claim is still ours (see :func:`still_held`); if so
        it is carried on at the row's new version (which does not extend the lease: the write
        that landed may have been an earlier one)."""
        current = still_held(self._store, self._state)
        if current is None:
            return False
        self._state, self._version = current
        return True

    def _renew_until_stopped(self) -> None:
        """Renew three times per lifetime; after a failed renewal, try again soon (waiting a
        whole interval would leave room for one failure only)."""
        wait = self._seconds / 3
        while not self._stopped.wait(wait):
            wait = self._seconds / 3 if self.renew() else BUDGET.renewal_retry
