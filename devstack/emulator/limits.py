"""Throttling windows and fault injection, both reproducible.

photo-sync's retry logic is only as good as the failures it was tested against, so the emulator
can throttle like the service (per app per mailbox: concurrency, request and upload-byte windows;
per app: request rate) and inject faults (429, 5xx, connection resets, latency, token outages).
Random faults come from one seeded RNG that draws the same numbers for every request whatever
the outcome, so a seed replays the same sequence; a ``script`` of exact outcomes serves tests
that must not depend on chance at all.
"""

from __future__ import annotations

import collections
import dataclasses
import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any, Final

RETRY_AFTER_FORMATS: Final = ("seconds", "http-date")
TARGETS: Final = ("api", "token", "any")


class FaultConfigError(ValueError):
    """A fault/limit setting or script step is invalid; the message names it."""


@dataclass(frozen=True)
class ScriptStep:
    """One exact outcome for the next request that matches ``target``/``method``/``operation``.

    ``status`` answers with that status (429 and 503 get throttling-shaped bodies); ``reset``
    drops the connection; ``lose_answer`` serves the request (an upload is applied) and then
    drops the connection instead of answering; none of them means the request proceeds
    normally (after ``delay_ms``)."""

    status: int | None = None
    retry_after: int | None = None
    retry_after_format: str | None = None
    code: str | None = None
    message: str | None = None
    reset: bool = False
    lose_answer: bool = False
    delay_ms: int = 0
    target: str = "api"
    method: str | None = None
    operation: str | None = None
    app: str | None = None  # the calling application's client id (photo API calls only)

    def matches(self, target: str, method: str, operation: str, app: str | None = None) -> bool:
        if self.target != "any" and self.target != target:
            return False
        if self.method is not None and self.method.upper() != method.upper():
            return False
        if self.app is not None and (app or "").lower() != self.app.lower():
            return False
        return self.operation is None or operation.startswith(self.operation)

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in dataclasses.asdict(self).items() if v not in (None, False, 0)
                or k == "target"}

    @classmethod
    def from_json(cls, raw: Any, where: str) -> ScriptStep:
        if not isinstance(raw, dict):
            raise FaultConfigError(f"{where}: a script step must be a JSON object")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise FaultConfigError(f"{where}: unknown field(s) {unknown}; known: {sorted(known)}")
        step = cls(**raw)
        status = step.status
        if status is not None and (type(status) is not int or not 400 <= status <= 599):
            raise FaultConfigError(f"{where}.status: must be an integer 400..599, got {status!r}")
        for name in ("retry_after", "delay_ms"):
            value = getattr(step, name)
            if value is not None and (type(value) is not int or value < 0):
                raise FaultConfigError(f"{where}.{name}: must be a non-negative integer")
        if step.retry_after_format not in (None, *RETRY_AFTER_FORMATS):
            raise FaultConfigError(f"{where}.retry_after_format: one of {RETRY_AFTER_FORMATS}")
        if step.target not in TARGETS:
            raise FaultConfigError(f"{where}.target: one of {TARGETS}, got {step.target!r}")
        for name in ("reset", "lose_answer"):
            if type(getattr(step, name)) is not bool:
                raise FaultConfigError(f"{where}.{name}: must be true or false")
        for name in ("code", "message", "method", "operation", "app"):
            value = getattr(step, name)
            if value is not None and not isinstance(value, str):
                raise FaultConfigError(f"{where}.{name}: must be a string")
        return step


@dataclass(frozen=True)
class FaultSettings:
    """Every knob, with the service's documented limits as defaults. Field names are the JSON
    keys of ``/admin/faults`` and, with dashes, the CLI flags."""

    seed: int = 0
    latency_ms: int = 0
    spike_rate: float = 0.0
    spike_ms: int = 0
    throttle_rate: float = 0.0
    throttle_retry_after: int = 1
    error_rate: float = 0.0
    error_status: int = 503
    error_retry_after: int | None = None
    reset_rate: float = 0.0
    # writes (an upload, a removal) that are applied and whose answer is then lost
    lost_answer_rate: float = 0.0
    token_error_rate: float = 0.0
    retry_after_format: str = "seconds"
    concurrency_limit: int = 4
    concurrency_retry_after: int = 1
    mailbox_request_limit: int = 10_000
    mailbox_window_s: float = 600.0
    upload_bytes_limit: int = 150 * 1024 * 1024
    upload_window_s: float = 300.0
    app_request_limit: int = 0  # 0 = off
    app_window_s: float = 60.0
    script: tuple[ScriptStep, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["script"] = [s.to_json() for s in self.script]
        return out

    def updated(self, patch: Any) -> FaultSettings:
        """A copy with ``patch`` (a JSON object of some fields) applied and validated."""
        if not isinstance(patch, dict):
            raise FaultConfigError("the body must be a JSON object of settings")
        fields = {f.name: f for f in dataclasses.fields(self)}
        unknown = sorted(set(patch) - set(fields))
        if unknown:
            raise FaultConfigError(f"unknown setting(s) {unknown}; known: {sorted(fields)}")
        changes: dict[str, Any] = {}
        for name, value in patch.items():
            if name == "script":
                if not isinstance(value, list):
                    raise FaultConfigError("script: must be a JSON array of steps")
                changes[name] = tuple(
                    ScriptStep.from_json(s, f"script[{i}]") for i, s in enumerate(value)
                )
            else:
                changes[name] = _check(name, value)
        return dataclasses.replace(self, **changes)


_RATES: Final = {"spike_rate", "throttle_rate", "error_rate", "reset_rate", "lost_answer_rate",
                  "token_error_rate"}
_WRITES: Final = frozenset({"PATCH", "PUT", "DELETE", "POST"})
_FLOATS: Final = {"mailbox_window_s", "upload_window_s", "app_window_s"}


def _check(name: str, value: Any) -> Any:
    if name == "retry_after_format":
        if value not in RETRY_AFTER_FORMATS:
            raise FaultConfigError(f"{name}: one of {RETRY_AFTER_FORMATS}, got {value!r}")
        return value
    if name == "error_retry_after" and value is None:
        return None
    if name in _RATES or name in _FLOATS:
        if type(value) not in (int, float) or math.isnan(value):
            raise FaultConfigError(f"{name}: must be a number, got {value!r}")
        if name in _RATES and not 0.0 <= value <= 1.0:
            raise FaultConfigError(f"{name}: must be between 0 and 1, got {value!r}")
        if name in _FLOATS and value <= 0:
            raise FaultConfigError(f"{name}: must be positive, got {value!r}")
        return float(value)
    if type(value) is not int or value < 0:
        raise FaultConfigError(f"{name}: must be a non-negative integer, got {value!r}")
    if name == "error_status" and not 500 <= value <= 599:
        raise FaultConfigError(f"{name}: must be 500..599, got {value!r}")
    if name == "concurrency_limit" and value < 1:
        raise FaultConfigError(f"{name}: must be at least 1")
    return value


def retry_after_value(seconds: int, fmt: str) -> str:
    """``Retry-After`` as delta-seconds or as an HTTP-date (both are legal per RFC 9110)."""
    if fmt == "http-date":
        return format_datetime(datetime.now(UTC) + timedelta(seconds=seconds), usegmt=True)
    return str(seconds)


# --- fault injection -----------------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    """What to do to one request: wait ``delay_ms``, then either proceed (``status`` None and
    not ``reset``), answer ``status``, or drop the connection; ``lose_answer``: proceed, then
    drop the connection instead of the answer. ``kinds`` feeds the stats."""

    delay_ms: int = 0
    status: int | None = None
    retry_after: int | None = None
    retry_after_format: str = "seconds"
    code: str | None = None
    message: str | None = None
    reset: bool = False
    lose_answer: bool = False
    kinds: tuple[str, ...] = ()


class FaultInjector:
    def __init__(self, settings: FaultSettings) -> None:
        self._lock = threading.Lock()
        self._settings = settings
        self._rng = random.Random(settings.seed)
        self._script: collections.deque[ScriptStep] = collections.deque(settings.script)

    @property
    def settings(self) -> FaultSettings:
        return self._settings

    def configure(self, settings: FaultSettings, *, reseed: bool) -> None:
        """Install new settings; the script is replaced, the RNG reseeded when asked or when
        the seed changed."""
        with self._lock:
            if reseed or settings.seed != self._settings.seed:
                self._rng = random.Random(settings.seed)
            self._settings = settings
            self._script = collections.deque(settings.script)

    def pending_script(self) -> list[ScriptStep]:
        with self._lock:
            return list(self._script)

    def decide(self, target: str, method: str, operation: str, app: str | None = None) -> Fault:
        with self._lock:
            s = self._settings
            if target == "token":
                draws = [self._rng.random()]
            else:
                draws = [self._rng.random() for _ in range(5)]
            step = next((x for x in self._script if x.matches(target, method, operation, app)),
                        None)
            if step is not None:
                self._script.remove(step)
                self._settings = dataclasses.replace(s, script=tuple(self._script))
        if step is not None:
            return Fault(
                delay_ms=step.delay_ms, status=step.status, retry_after=step.retry_after,
                retry_after_format=step.retry_after_format or s.retry_after_format,
                code=step.code, message=step.message, reset=step.reset,
                lose_answer=step.lose_answer, kinds=("script",),
            )
        if target == "token":
            if draws[0] < s.token_error_rate:
                return Fault(status=503, code="temporarily_unavailable", kinds=("token_error",))
            return Fault()
        kinds: list[str] = []
        delay = s.latency_ms
        if s.latency_ms:
            kinds.append("latency")
        if draws[3] < s.spike_rate:
            delay += s.spike_ms
            kinds.append("spike")
        if draws[0] < s.reset_rate:
            return Fault(delay_ms=delay, reset=True, kinds=(*kinds, "reset"))
        if draws[1] < s.throttle_rate:
            return Fault(delay_ms=delay, status=429, retry_after=s.throttle_retry_after,
                         retry_after_format=s.retry_after_format, kinds=(*kinds, "throttle"))
        if draws[2] < s.error_rate:
            return Fault(delay_ms=delay, status=s.error_status, retry_after=s.error_retry_after,
                         retry_after_format=s.retry_after_format, kinds=(*kinds, "error"))
        if draws[4] < s.lost_answer_rate and method.upper() in _WRITES:
            return Fault(delay_ms=delay, lose_answer=True, kinds=(*kinds, "lost_answer"))
        return Fault(delay_ms=delay, kinds=tuple(kinds))


# --- throttling windows ----------------------------------------------------------------------


@dataclass(frozen=True)
class Throttle:
    """A refusal: which limit tripped and how long to wait (whole seconds, at least 1)."""

    limit: str
    retry_after: int
    message: str


class _Window:
    """Sliding window of (time, amount) entries."""

    def __init__(self) -> None:
        self.entries: collections.deque[tuple[float, int]] = collections.deque()
        self.total = 0

    def wait_for(self, now: float, window: float, amount: int, limit: int) -> float:
        """Seconds until ``amount`` more fits under ``limit`` (0: it fits now)."""
        while self.entries and self.entries[0][0] <= now - window:
            self.total -= self.entries.popleft()[1]
        if self.total + amount <= limit:
            return 0.0
        if amount > limit:
            return window
        freed = 0
        for stamp, size in self.entries:
            freed += size
            if self.total - freed + amount <= limit:
                return stamp + window - now
        return window

    def add(self, now: float, amount: int) -> None:
        self.entries.append((now, amount))
        self.total += amount


Key = tuple[str, str]


class Limiter:
    """Concurrency and windows per (app, mailbox), plus a per-app request rate. Refused
    requests are not counted, so a client that honours ``Retry-After`` always gets through."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._in_flight: collections.Counter[Key] = collections.Counter()
        self._requests: dict[Key, _Window] = collections.defaultdict(_Window)
        self._uploads: dict[Key, _Window] = collections.defaultdict(_Window)
        self._app_requests: dict[str, _Window] = collections.defaultdict(_Window)

    def acquire(
        self, s: FaultSettings, app: str, mailbox: str | None, upload_bytes: int
    ) -> Throttle | None:
        """Admit one request (caller must ``release`` it when ``mailbox`` is set) or refuse."""
        now = self._clock()
        with self._lock:
            key = (app, mailbox or "")
            if mailbox is not None and self._in_flight[key] >= s.concurrency_limit:
                return Throttle("concurrency", s.concurrency_retry_after,
                                f"More than {s.concurrency_limit} concurrent requests for this "
                                "application and mailbox.")
            if s.app_request_limit:
                wait = self._app_requests[app].wait_for(now, s.app_window_s, 1,
                                                        s.app_request_limit)
                if wait:
                    return Throttle("app_requests", _ceil(wait),
                                    f"Application request limit ({s.app_request_limit} per "
                                    f"{s.app_window_s:g} s) exceeded.")
            if mailbox is not None:
                wait = self._requests[key].wait_for(now, s.mailbox_window_s, 1,
                                                    s.mailbox_request_limit)
                if wait:
                    return Throttle("mailbox_requests", _ceil(wait),
                                    f"Request limit ({s.mailbox_request_limit} per "
                                    f"{s.mailbox_window_s:g} s) exceeded for this application "
                                    "and mailbox.")
                if upload_bytes:
                    wait = self._uploads[key].wait_for(now, s.upload_window_s, upload_bytes,
                                                       s.upload_bytes_limit)
                    if wait:
                        return Throttle("upload_bytes", _ceil(wait),
                                        f"Upload limit ({s.upload_bytes_limit} bytes per "
                                        f"{s.upload_window_s:g} s) exceeded for this "
                                        "application and mailbox.")
                    self._uploads[key].add(now, upload_bytes)
                self._requests[key].add(now, 1)
                self._in_flight[key] += 1
            if s.app_request_limit:
                self._app_requests[app].add(now, 1)
            return None

    def release(self, app: str, mailbox: str) -> None:
        with self._lock:
            self._in_flight[(app, mailbox)] -= 1
            if self._in_flight[(app, mailbox)] <= 0:
                del self._in_flight[(app, mailbox)]

    def in_flight(self) -> dict[str, int]:
        with self._lock:
            return {f"{app}/{mailbox}": n for (app, mailbox), n in self._in_flight.items()}

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
            self._uploads.clear()
            self._app_requests.clear()


def _ceil(seconds: float) -> int:
    return max(1, math.ceil(seconds))
