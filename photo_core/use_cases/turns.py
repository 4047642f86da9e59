"""Whose turn it is, among the drops for one user waiting in this process: the newest first.

An HR re-export can deliver several drops for one user together. The state table's claim lets
one of them upload at a time, and a drop older than the user's newest applied one is superseded
instead of uploaded, so whatever order they run in, the newest wins. But the order decides what
it costs: the oldest first means an upload per drop, each waiting for the one before (and the
API's per-mailbox limits bite); the newest first means one upload, and the older ones end
superseded at once. So drops for the same user in the same process take turns newest first:

* a drop counts as in flight for its user from the start of its delivery to its recorded
  outcome (:meth:`Turns.in_flight`); until its properties are read its time is unknown, and it
  counts as newer than any, for ``BUDGET.unknown_turn`` at most (an export delivering a user's
  drops oldest first hands the newest over last: it must be seen before an older one's upload
  goes out, not 20 ms later);
* a drop does not take the user's claim while a newer drop for the user is in flight here
  too (:meth:`Turns.newer_waiting`);
* a holder that finds a newer drop in flight before its upload gives the claim up to it and
  waits again (``photo_core.use_cases.sync``, a bounded number of times); a drop whose time
  is not known yet it waits for first, keeping the claim (:meth:`Turns.newer_known`): a late
  or duplicate delivery costs it no release and no claim again;
* a released claim wakes this process's waiters at once (:meth:`Turns.changed`), rather than
  at their next look at the table.

This is only an order of preference inside one process: the claim in the state table still
decides who uploads, across instances too, and a drop whose newer rival goes away (rejected,
or given up) is simply next. Drops from other processes are seen at each look at the table.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from photo_core.domain.budget import BUDGET
from photo_core.domain.clock import Clock

#: How often a holder looks whether a drop whose time was not known is known now.
UNKNOWN_POLL = 0.005


@dataclass(eq=False)
class Ticket:
    """One drop in flight for a user: when its content was made, and what wakes it."""

    user: str
    made: datetime | None  # None: not known yet, newer than any (for a while)
    since: float  # monotonic: when it turned up
    woken: threading.Event = field(default_factory=threading.Event)

    def ahead_of(self, made: datetime, now: float) -> bool:
        """Whether this drop goes before one made at ``made``: it is newer, or its time is not
        known yet and it turned up less than ``BUDGET.unknown_turn`` ago."""
        if self.made is None:
            return now - self.since < BUDGET.unknown_turn
        return self.made > made

    def pause(self, seconds: float, clock: Clock) -> None:
        """Wait ``seconds`` for the table to change, or less if this process releases the
        user's claim (or a drop ahead stops waiting) meanwhile."""
        clock.wait(self.woken, seconds)
        self.woken.clear()


class Turns:
    """The drops in flight for each user in this process; one per process, shared by its
    invocations (the bootstrap builds it, on the process's clock). Thread-safe."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._waiting: dict[str, list[Ticket]] = {}

    @contextmanager
    def in_flight(self, user: str, made: datetime | None) -> Iterator[Ticket]:
        """Count a drop made at ``made`` as in flight for ``user`` while the block runs: from
        the start of its delivery (``None`` until its properties are read, then storage's time
        for it until its content is) to its recorded outcome."""
        ticket = Ticket(user, made, self._clock.monotonic())
        with self._lock:
            self._waiting.setdefault(user, []).append(ticket)
        try:
            yield ticket
        finally:
            with self._lock:
                tickets = self._waiting[user]
                tickets.remove(ticket)
                if not tickets:
                    del self._waiting[user]
            self.changed(user)  # the drop it held back may go now

    def retime(self, ticket: Ticket, made: datetime) -> None:
        """The drop's time, now that its properties (then its content) were read. It may be
        older than what it counted as until now (unknown, or storage's time for an edited copy
        of content seen before): the drops that deferred to it and no longer do look again now
        (and only they: an export's drops for one user each become known at once, and waking
        every waiter at each would send a table read per waiter for nothing)."""
        with self._lock:
            before, ticket.made = ticket.made, made
            freed = [t for t in self._waiting.get(ticket.user, ())
                     if t is not ticket and t.made is not None and t.made >= made
                     and (before is None or t.made < before)]
        for waiter in freed:
            waiter.woken.set()

    def newer_waiting(self, user: str, made: datetime) -> bool:
        """Whether a drop for ``user`` made later than ``made`` (or not known yet, see
        :meth:`Ticket.ahead_of`) is in flight in this process."""
        now = self._clock.monotonic()
        with self._lock:
            return any(t.ahead_of(made, now) for t in self._waiting.get(user, ()))

    def newer_known(self, user: str, made: datetime) -> bool:
        """Whether a drop for ``user`` made later than ``made`` is in flight in this process,
        once the drops for the user whose time is not known yet are known (polled for,
        ``UNKNOWN_POLL`` apart: a read of their properties, or ``BUDGET.unknown_turn`` at
        most). For a holder about to upload: an older or duplicate delivery turning up then
        costs it a few milliseconds, not its claim."""
        while True:
            now = self._clock.monotonic()
            with self._lock:
                ahead = [t for t in self._waiting.get(user, ()) if t.ahead_of(made, now)]
            if not ahead or any(t.made is not None for t in ahead):
                return bool(ahead)
            self._clock.sleep(UNKNOWN_POLL)

    def changed(self, user: str) -> None:
        """``user``'s claim was released, or a drop for the user finished: wake the drops
        waiting for it to look again."""
        with self._lock:
            tickets = list(self._waiting.get(user, ()))
        for ticket in tickets:
            ticket.woken.set()
