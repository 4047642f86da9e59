"""Deliveries to Event Grid trigger functions, retried like an Event Grid subscription does.

The watcher puts every ``BlobDeleted`` event it raises here, once per Event Grid function (each
function stands for one subscription). One thread POSTs each event on its own (one event per
delivery, as Event Grid does by default) to the function's webhook with the
``eventgrid_extension`` key, and then, like Event Grid:

* a 2xx answer is a delivery: the event is done;
* 400, 401, 403 and 413 are not retried: the event is dead-lettered at once;
* anything else (5xx, 404, a timeout after 30 s, a refused connection) is retried with an
  exponential backoff (``retry_delay``, doubling, at most 60 s: a compressed version of Event
  Grid's 10 s, 30 s, 1 min, 5 min, ... schedule) until ``max_attempts`` attempts were made; then
  the event is dead-lettered.

Dead-lettered events are appended to a JSON-lines file (``<state-dir>/eventgrid-deadletter.jsonl``)
in the shape Event Grid writes to its dead-letter container: the event plus ``deadLetterReason``,
``deliveryAttempts``, ``lastDeliveryOutcome``, ``lastHttpStatusCode``, ``publishTime`` and
``lastDeliveryAttemptTime`` (and ``function``, which subscription it was for); and logged.

Pending deliveries are durable in the watcher's state file: the watcher saves them together with
the listing they came from (one atomic write), and the outbox saves again after each delivery, so
a restarted host delivers what its predecessor had not. A host that dies between a delivery and
the next save delivers that event again (at least once, like Event Grid; same event id).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

logger = logging.getLogger(__name__)

#: Beside the watcher's state file: the dead-lettered events, one JSON object per line.
DEAD_LETTER_FILE = "eventgrid-deadletter.jsonl"
#: Event Grid does not retry these answers of a WebHook endpoint; it dead-letters at once.
NOT_RETRIED = frozenset({400, 401, 403, 413})
MAX_BACKOFF = 60.0

#: POSTs one event array to a function's webhook; raises requests.RequestException.
Poster = Callable[[str, list[dict[str, Any]]], requests.Response]


@dataclass
class PendingEvent:
    """One event for one Event Grid function, with its delivery history."""

    function: str
    event: dict[str, Any]
    attempts: int = 0
    due: float = 0.0  # wall-clock seconds: survives a restart
    published: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat())
    last_status: int | None = None
    last_outcome: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"function": self.function, "event": self.event, "attempts": self.attempts,
                "due": self.due, "published": self.published, "lastStatus": self.last_status,
                "lastOutcome": self.last_outcome}

    @classmethod
    def from_json(cls, document: Any) -> PendingEvent | None:
        try:
            status = document.get("lastStatus")
            return cls(function=str(document["function"]), event=dict(document["event"]),
                       attempts=int(document.get("attempts") or 0),
                       due=float(document.get("due") or 0.0),
                       published=str(document.get("published") or ""),
                       last_status=int(status) if status is not None else None,
                       last_outcome=str(document.get("lastOutcome") or ""))
        except (KeyError, TypeError, ValueError, AttributeError):
            return None


class EventOutbox:
    """Pending Event Grid deliveries and the thread that makes them.

    ``lock`` and ``persist`` belong to the watcher: every change is made under the lock and
    followed by ``persist()`` (which writes the whole state file, this outbox included).
    """

    def __init__(self, *, lock: threading.RLock, persist: Callable[[], None], post: Poster,
                 dead_letter_path: Path, max_attempts: int = 10,
                 retry_delay: float = 1.0) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._lock = lock
        self._persist = persist
        self._post = post
        self._dead_letter_path = dead_letter_path
        self._max_attempts = max_attempts
        self._retry_delay = retry_delay
        self._pending: list[PendingEvent] = []
        self._targets: dict[str, str] = {}  # function name -> webhook URL (validated)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="eventgrid-deliveries",
                                        daemon=True)

    # -- state, under the watcher's lock ----------------------------------------------------------

    def load(self, documents: list[Any]) -> None:
        """Pending deliveries a previous host left in the state file."""
        with self._lock:
            self._pending = [p for p in map(PendingEvent.from_json, documents) if p is not None]

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return [p.to_json() for p in self._pending]

    def add(self, events: list[dict[str, Any]], functions: list[str]) -> None:
        """Queue each event for each function (the caller persists, under the lock)."""
        with self._lock:
            for event in events:
                self._pending.extend(PendingEvent(name, event) for name in functions)
        if events and functions:
            self._wake.set()

    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    # -- the delivery thread ----------------------------------------------------------------------

    def start(self, targets: dict[str, str]) -> None:
        """Deliver to these (validated) functions; pending events for others are dead-lettered."""
        with self._lock:
            self._targets = dict(targets)
            orphans = [p for p in self._pending if p.function not in self._targets]
            for orphan in orphans:
                self._pending.remove(orphan)
                self._dead_letter(orphan, "NoSubscriber", "the function is not served")
            if orphans:
                self._persist()
        self._thread.start()

    def stop(self, timeout: float) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                now = time.time()
                due = [p for p in self._pending if p.due <= now]
                upcoming = min((p.due for p in self._pending), default=None)
            if not due:
                wait = 3600.0 if upcoming is None else max(upcoming - time.time(), 0.01)
                self._wake.wait(min(wait, 5.0))
                self._wake.clear()
                continue
            for pending in due:
                if self._stop.is_set():
                    return
                self._deliver(pending)

    def _deliver(self, pending: PendingEvent) -> None:
        url = self._targets[pending.function]
        status: int | None = None
        try:
            status = self._post(url, [pending.event]).status_code
            outcome = _outcome(status)
        except requests.Timeout:
            outcome = "TimedOut"
        except requests.RequestException as exc:
            outcome = type(exc).__name__
        if status is None and self._stop.is_set():
            return  # the host is stopping: not an attempt; delivered by the next start
        with self._lock:
            pending.attempts += 1
            pending.last_status, pending.last_outcome = status, outcome
            if status is not None and 200 <= status < 300:
                self._pending.remove(pending)
                logger.debug("Delivered %s to %s (attempt %d)", pending.event.get("eventType"),
                             pending.function, pending.attempts)
            elif status in NOT_RETRIED:
                self._pending.remove(pending)
                self._dead_letter(pending, "DeliveryFailed",
                                  f"HTTP {status} is not retried by Event Grid")
            elif pending.attempts >= self._max_attempts:
                self._pending.remove(pending)
                self._dead_letter(pending, "MaxDeliveryAttemptsExceeded",
                                  f"{pending.attempts} attempts failed")
            else:
                delay = min(self._retry_delay * 2 ** (pending.attempts - 1), MAX_BACKOFF)
                pending.due = time.time() + delay
                logger.warning("Delivering %s %s to %s failed (%s, attempt %d of %d); retrying "
                               "in %.1fs", pending.event.get("eventType"),
                               pending.event.get("subject"), pending.function, outcome,
                               pending.attempts, self._max_attempts, delay)
            self._persist()

    def _dead_letter(self, pending: PendingEvent, reason: str, why: str) -> None:
        logger.error("Dead-lettered %s %s for %s: %s (%d attempt(s)); see %s",
                     pending.event.get("eventType"), pending.event.get("subject"),
                     pending.function, why, pending.attempts, self._dead_letter_path)
        record = {
            **pending.event,
            "deadLetterReason": reason,
            "deliveryAttempts": pending.attempts,
            "lastDeliveryOutcome": pending.last_outcome,
            "lastHttpStatusCode": pending.last_status or 0,
            "publishTime": pending.published,
            "lastDeliveryAttemptTime": dt.datetime.now(dt.UTC).isoformat(),
            "function": pending.function,
        }
        with contextlib.suppress(OSError):
            self._dead_letter_path.parent.mkdir(parents=True, exist_ok=True)
            with self._dead_letter_path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(record, sort_keys=True) + "\n")


def _outcome(status: int) -> str:
    """Event Grid's ``lastDeliveryOutcome`` words for an HTTP answer."""
    if 200 <= status < 300:
        return "Delivered"
    return {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
            413: "RequestEntityTooLarge", 503: "Busy"}.get(status, "GenericError")


def deliveries_on_disk(state_path: Path) -> tuple[list[str], list[str]]:
    """For a process outside the host (the soak): the subjects of the events a host, running or
    not, still has to deliver (retries included) and of those it dead-lettered, read from the
    watcher's state file ``state_path`` (replaced whole on every change) and the dead-letter
    file beside it."""
    try:
        document = json.loads(state_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        document = {}
    outbox = document.get("outbox") if isinstance(document, dict) else None
    pending = [str(p.get("event", {}).get("subject")) for p in outbox or []]
    try:
        lines = state_path.with_name(DEAD_LETTER_FILE).read_text(encoding="utf-8")
    except OSError:
        lines = ""
    dead = [str(json.loads(line).get("subject")) for line in lines.splitlines() if line]
    return pending, dead
