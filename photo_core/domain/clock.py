"""Time, one way: the ``Clock`` port every part of photo-sync reads and waits on.

Two kinds of time are used and they never mix. Wall time (``now``, UTC) dates records: an
outcome, a claim's expiry written for other instances to read. Monotonic time (``monotonic``)
measures durations inside one process: deadlines, the life of a claim held, cache ages. Wall
clocks of two machines can disagree and can jump; a duration measured on one process's monotonic
clock cannot, so whatever decides "has this run out?" uses it.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol

#: How far photo-sync allows clocks to disagree (an instance's and storage's, or two
#: instances'). Azure's hosts keep time to well within it. A time written by something other
#: than storage that lies further in the future than this is not trusted.
CLOCK_TOLERANCE = timedelta(seconds=5)


class Signal(Protocol):
    """What a wait can be cut short by (a ``threading.Event``, set by another thread)."""

    def is_set(self) -> bool: ...

    def wait(self, timeout: float | None = None) -> bool: ...


class Clock(Protocol):
    """Port: wall time for records, monotonic time for durations, and waiting. Tests pass a
    fake that moves only when told to (or when something sleeps), so no test waits for real."""

    def now(self) -> datetime:
        """Wall time, UTC: for what is written down and compared with storage's times."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never jumps: for deadlines, leases and ages."""
        ...

    def sleep(self, seconds: float) -> None: ...

    def wait(self, event: Signal, seconds: float) -> bool:
        """Wait until ``event`` is set or ``seconds`` pass, whichever is first; whether it was
        set. A wait another thread of this process can cut short (a claim released here)."""
        ...


class SystemClock:
    """The real clock. ``offset`` shifts wall time only (the local stack uses it to run one host
    with a clock that is off, as a skewed machine's would be)."""

    _offset = timedelta(0)

    def __init__(self, offset: timedelta = timedelta(0)) -> None:
        self._offset = offset

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def wait(self, event: Signal, seconds: float) -> bool:
        return event.wait(seconds)


SYSTEM_CLOCK = SystemClock()


def not_after(when: datetime | None, now: datetime) -> datetime | None:
    """``when``, unless it lies beyond ``now`` plus the tolerance: a time from a record that
    claims the future is not evidence of anything (a forged or skewed value would otherwise
    order every later drop behind it, for good)."""
    if when is None or when > now + CLOCK_TOLERANCE:
        return None
    return when
