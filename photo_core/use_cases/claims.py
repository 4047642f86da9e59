"""Per-user claims: two drops for the same user never upload at once, and never out of order.

A claim is the user's state row with an owner, the drop it is for and an expiry, written with
optimistic concurrency (the row's ETag). Taking it also decides ordering: a drop older than the
newest one already applied for the user is superseded, not uploaded. Releasing it folds the
drop's outcome into the row in the same write (``photo_core.use_cases.release``). While held,
the claim is kept alive by a :class:`~photo_core.use_cases.lease.Lease`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import NamedTuple, TypeVar

from photo_core.domain.budget import BUDGET
from photo_core.domain.clock import Clock, not_after
from photo_core.domain.errors import TransientError
from photo_core.use_cases.ports import (
    DropInfo,
    StateConflict,
    StateStore,
    StateUnavailable,
    UserState,
)
from photo_core.use_cases.turns import Ticket, Turns

logger = logging.getLogger(__name__)
T = TypeVar("T")

MAX_CLAIM_CONFLICTS = 20


class UserBusy(TransientError):
    """Another drop for the same user is being processed; this one waits its turn."""

    code = "user_busy"


@dataclass(frozen=True)
class Superseded:
    """A newer drop for the user was already processed: this one must not be uploaded.
    ``state`` is the user's row as read (whether its photo is known, for one)."""

    state: UserState


@dataclass(frozen=True)
class Claimant:
    """Who claims, and how patiently: ``seconds`` is the claim's lifetime (renewed while its
    holder lives, so a crashed holder's claim frees within it), ``wait_seconds`` how long a
    drop waits for another drop's live claim before giving up (longer than ``seconds``);
    ``turns``, the process's drops waiting for a user, newest first (none: no preference)."""

    store: StateStore
    owner: str  # the invocation's id, written into the claim
    clock: Clock
    seconds: float
    wait_seconds: float
    turns: Turns | None = None


class Claimed(NamedTuple):
    """A claim taken: the row as written, its version, and when (``since``, monotonic) the
    write was sent: the holder's lease counts its lifetime from there."""

    state: UserState
    version: str
    since: float


def claim(who: Claimant, user: str, key: str, made: datetime | None, *,
          since: float | None = None, ticket: Ticket | None = None) -> Claimed | Superseded:
    """Take ``user``'s claim for ``key`` (the drop's name and ETag): the claim, or
    :class:`Superseded` when ``made`` (the drop's content time) is older than the newest drop
    already applied for the user (``None``: no ordering, as for a deletion or a repair).

    Raises :class:`UserBusy` after waiting ``wait_seconds`` (counted from ``since``, when the
    drop began waiting on the table, if earlier) for another drop's claim, or when the row
    keeps changing under us. While a newer drop for the user is in flight in this process
    (``who.turns``), it waits for that one to go first; ``ticket`` is this drop's place there,
    which wakes it when this process releases the user's claim."""
    started = who.clock.monotonic() if since is None else since
    watch = _Watch(who.seconds)
    conflicts = 0
    while True:
        now = who.clock.now()
        try:
            current = who.store.get(user)
        except StateUnavailable as exc:
            _wait_for_the_table(who, started, exc)
            continue
        state, version = current if current else (UserState(user=user), None)
        # storage's times (the drop's, the row's) count as "now" too: this instance's clock
        # may be behind storage's, and must not take storage's fresh times for the future
        newest = not_after(state.source_modified, state.now(max(now, made) if made else now))
        if made is not None and newest is not None and made < newest:
            return Superseded(state)
        busy = held_by_other(state, who.owner, now) and \
            not watch.unrenewed(version, who.clock.monotonic())
        # a claim of ours on the row (a write whose answer was lost) is taken again at once:
        # deferring with it in place would hold off the very drop we defer to
        if busy or (state.lock_owner != who.owner and _newer_in_line(who, user, made)):
            if who.clock.monotonic() - started >= who.wait_seconds:
                raise UserBusy(f"another drop for {user} is in progress")
            _pause(who, ticket)
            continue
        since = who.clock.monotonic()
        claimed = replace(state, lock_owner=who.owner, lock_drop=key,
                          lock_expires=now + timedelta(seconds=who.seconds),
                          attempts=state.attempts + 1)
        try:
            return Claimed(claimed, who.store.put(claimed, version), since)
        except StateUnavailable as exc:  # it may have landed: the next read shows it as ours
            _wait_for_the_table(who, started, exc)
        except StateConflict:
            conflicts += 1
            if conflicts >= MAX_CLAIM_CONFLICTS:
                raise UserBusy(f"could not claim {user}: its state keeps changing") from None


def _newer_in_line(who: Claimant, user: str, made: datetime | None) -> bool:
    """Whether a newer drop for ``user`` waits in this process: it goes first."""
    return who.turns is not None and made is not None and who.turns.newer_waiting(user, made)


def _pause(who: Claimant, ticket: Ticket | None) -> None:
    """Until the next look at the table: the poll interval, cut short when this process
    releases the user's claim."""
    if ticket is None:
        who.clock.sleep(BUDGET.claim_poll)
    else:
        ticket.pause(BUDGET.claim_poll, who.clock)


def patiently(who: Claimant, call: Callable[[], T], since: float) -> T:
    """``call`` (a read of the state table), waiting out a table that does not answer within
    ``who``'s patience (counted from ``since``), as a claim does."""
    started = since
    while True:
        try:
            return call()
        except StateUnavailable as exc:
            _wait_for_the_table(who, started, exc)


def _wait_for_the_table(who: Claimant, started: float, exc: StateUnavailable) -> None:
    """A table that does not answer is waited for like a busy user, within the same patience
    (a drop failing at once would spend its few deliveries on a short stall); ``exc`` is
    raised after that."""
    if who.clock.monotonic() - started >= who.wait_seconds:
        raise exc
    who.clock.sleep(BUDGET.renewal_retry)


class _Watch:
    """Whether another holder's claim is dead, judged on this process's own monotonic clock:
    a live holder writes its row (renews) three times per lifetime, so a row version that
    stayed the same for a whole lifetime is a claim its holder has stopped keeping, and which
    the holder itself counts as lapsed (it counts from when it sent its last write, before this
    watch saw it). Clocks of two instances may disagree; this needs no other clock."""

    def __init__(self, lifetime: float) -> None:
        self._lifetime = lifetime
        self._version: str | None = None
        self._since = 0.0

    def unrenewed(self, version: str | None, now: float) -> bool:
        if version != self._version:
            self._version, self._since = version, now
            return False
        return now - self._since >= self._lifetime


def held_by_other(state: UserState, owner: str, now: datetime) -> bool:
    """A claim by another invocation that may be live, even for this very drop version. A
    duplicate delivery (Event Grid retries, reconcile running beside events, a quick same-name
    overwrite) must wait too: taking over a live claim would let the holder's upload land after
    a newer drop's. Whether it is live is for :class:`_Watch` to tell; only a claim whose expiry
    passed longer ago than any invocation can live (the function timeout, far beyond any clock
    disagreement between instances) is known dead at first sight."""
    if not state.lock_owner or state.lock_owner == owner or state.lock_expires is None:
        return False
    return state.lock_expires + timedelta(seconds=BUDGET.function_timeout) > now


def drop_key(info: DropInfo) -> str:
    return f"{info.name}|{info.etag}"
