"""A per-user claim kept alive while its drop is processed.

The claim in the state table is a lease: short enough that a crashed invocation's claim expires
long before the drops waiting for it run out of delivery attempts, and renewed in the background
for as long as its holder is alive (a slow upload retrying within its time budget included). If a
renewal finds the claim taken over, the lease is lost and the holder must not upload.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from datetime import timedelta

from photo_core.clock import Clock
from photo_core.ports import StateConflict, StateStore, UserState

logger = logging.getLogger(__name__)


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
                 clock: Clock) -> None:
        self._store = store
        self._state = state
        self._version = version
        self._seconds = seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._renew_until_stopped, daemon=True,
                                        name=f"lease {state.user}")
        self.lost = False

    def start(self) -> Lease:
        self._thread.start()
        return self

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

    def renew(self) -> None:
        with self._lock:
            if self.lost:
                return
            renewed = replace(self._state,
                              lock_expires=self._clock.now() + timedelta(seconds=self._seconds))
            try:
                self._version = self._store.put(renewed, self._version)
                self._state = renewed
            except StateConflict:
                if self._adopt_own_write():
                    return
                self.lost = True
                logger.warning("the claim on %s was taken over; this drop will not upload",
                               self._state.user)
            except Exception:  # storage hiccup: the next renewal tries again before expiry
                logger.warning("could not renew the claim on %s", self._state.user,
                               exc_info=True)

    def _adopt_own_write(self) -> bool:
        """After a conflict, whether the claim is still ours (see :func:`still_held`); if so
        it is carried on at the row's new version."""
        current = still_held(self._store, self._state)
        if current is None:
            return False
        self._state, self._version = current
        return True

    def _renew_until_stopped(self) -> None:
        while not self._stopped.wait(self._seconds / 3):
            self.renew()
