"""Timer triggers: NCRONTAB schedules (six fields, seconds first), in UTC as on Azure.

The scheduler runs each timer function at its next occurrence, once at start when
``run_on_startup`` is set, and on demand (the admin route ``POST /admin/functions/<name>``,
as Core Tools offers). Runs of one timer never overlap, like the real trigger, which takes a
singleton lock; the lock and the ``use_monitor`` schedule status are not kept in storage here
(a local host has one instance), so ``past_due`` is always false.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

logger = logging.getLogger(__name__)

_NAMES = {
    **{m: i for i, m in enumerate(
        ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], 1)},
    **{d: i for i, d in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])},
}
_FIELDS = (("second", 0, 59), ("minute", 0, 59), ("hour", 0, 23), ("day", 1, 31),
           ("month", 1, 12), ("day of week", 0, 6))
_TIMESPAN = re.compile(r"^(\d{1,2}):(\d{2}):(\d{2})$")


class ScheduleError(ValueError):
    """A schedule string the local host cannot interpret."""


def _number(text: str, low: int, high: int, what: str) -> int:
    value = _NAMES.get(text.upper()) if not text.isdigit() else int(text)
    if value is None or not low <= value <= high:
        raise ScheduleError(f"{what}: {text!r} is outside {low}-{high}")
    return value


def _parse_field(text: str, what: str, low: int, high: int) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text.isdigit() and int(step_text) > 0 else None
        if step_text and step is None:
            raise ScheduleError(f"{what}: bad step in {part!r}")
        if base == "*":
            start, stop = low, high
        elif "-" in base:
            first, last = base.split("-", 1)
            start, stop = _number(first, low, high, what), _number(last, low, high, what)
        else:
            start = _number(base, low, high, what)
            stop = high if step else start
        values.update(range(start, stop + 1, step or 1))
    return frozenset(values)


@dataclass(frozen=True)
class Schedule:
    """A parsed schedule: cron fields, or a fixed interval ("00:05:00")."""

    text: str
    fields: tuple[frozenset[int], ...] | None
    interval: dt.timedelta | None

    def next_after(self, moment: dt.datetime) -> dt.datetime:
        """The first occurrence strictly after ``moment`` (an aware UTC datetime)."""
        if self.interval is not None:
            return moment + self.interval
        assert self.fields is not None
        seconds, minutes, hours, days, months, weekdays = self.fields
        start = moment.replace(microsecond=0) + dt.timedelta(seconds=1)
        day = start.date()
        for _ in range(366 * 5):  # a schedule such as "0 0 0 29 2 *" needs up to a leap year
            weekday = (day.weekday() + 1) % 7  # cron counts Sunday as 0
            if day.month in months and day.day in days and weekday in weekdays:
                for hour in sorted(hours):
                    for minute in sorted(minutes):
                        for second in sorted(seconds):
                            candidate = dt.datetime(
                                day.year, day.month, day.day, hour, minute, second,
                                tzinfo=dt.UTC)
                            if candidate >= start:
                                return candidate
            day += dt.timedelta(days=1)
        raise ScheduleError(f"schedule {self.text!r} never fires")


def parse_schedule(text: str) -> Schedule:
    """Parse ``"0 */5 * * * *"`` (or five fields, seconds defaulting to 0) or ``"hh:mm:ss"``."""
    span = _TIMESPAN.match(text.strip())
    if span:
        hours, minutes, seconds = (int(g) for g in span.groups())
        interval = dt.timedelta(hours=hours, minutes=minutes, seconds=seconds)
        if interval.total_seconds() <= 0:
            raise ScheduleError(f"schedule {text!r} must be longer than zero")
        return Schedule(text, None, interval)
    parts = text.split()
    if len(parts) == 5:
        parts = ["0", *parts]
    if len(parts) != 6:
        raise ScheduleError(f"schedule {text!r} needs six fields (second minute hour day "
                            "month day-of-week)")
    fields = tuple(_parse_field(p, what, low, high)
                   for p, (what, low, high) in zip(parts, _FIELDS, strict=True))
    return Schedule(text, fields, None)


@dataclass(frozen=True)
class TimerJob:
    """One timer function for the scheduler; ``run`` invokes it (and logs its failures)."""

    name: str
    schedule: Schedule
    run_on_startup: bool
    run: Callable[[dt.datetime, dt.datetime], None]  # (last, next) for the schedule status


class TimerScheduler:
    """One thread that fires every timer at its next occurrence until stopped."""

    def __init__(self, jobs: Sequence[TimerJob]) -> None:
        self._jobs = list(jobs)
        self._stop = threading.Event()
        self._locks = {job.name: threading.Lock() for job in self._jobs}
        self._thread = threading.Thread(target=self._loop, name="timer-scheduler", daemon=True)
        self._running: list[threading.Thread] = []

    def start(self) -> None:
        if self._jobs:
            self._thread.start()

    def trigger(self, name: str) -> bool:
        """Run a timer now (admin route); False if it is unknown or already running."""
        job = next((j for j in self._jobs if j.name == name), None)
        if job is None:
            return False
        now = dt.datetime.now(dt.UTC)
        return self._fire(job, now, job.schedule.next_after(now))

    def stop(self, timeout: float) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        for thread in list(self._running):
            thread.join(timeout)

    def _fire(self, job: TimerJob, last: dt.datetime, following: dt.datetime) -> bool:
        lock = self._locks[job.name]
        if not lock.acquire(blocking=False):
            logger.warning("Timer '%s' is still running; skipping this occurrence", job.name)
            return False

        def body() -> None:
            try:
                job.run(last, following)
            finally:
                lock.release()

        thread = threading.Thread(target=body, name=f"timer-{job.name}", daemon=True)
        self._running = [t for t in self._running if t.is_alive()] + [thread]
        thread.start()
        return True

    def _loop(self) -> None:
        now = dt.datetime.now(dt.UTC)
        upcoming = {job.name: job.schedule.next_after(now) for job in self._jobs}
        for job in self._jobs:
            if job.run_on_startup:
                self._fire(job, now, upcoming[job.name])
        while not self._stop.is_set():
            job = min(self._jobs, key=lambda j: upcoming[j.name])
            due = upcoming[job.name]
            wait = (due - dt.datetime.now(dt.UTC)).total_seconds()
            if wait > 0:
                self._stop.wait(min(wait, 60.0))
                continue
            upcoming[job.name] = job.schedule.next_after(due)
            self._fire(job, due, upcoming[job.name])
