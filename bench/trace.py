"""Where a drop's time goes: every HTTP request a thread makes, put down to storage or the API.

``install(api_ports)`` wraps ``requests.Session.send``, the one call every client in the drop's
path goes through (the Azure Storage SDKs' transport and photo-sync's own photo API session), and
adds each request's wall time to the calling thread's current ``Span``: to ``api`` when it went
to one of ``api_ports`` (the emulator: Graph and the identity platform), to ``storage`` when it
went anywhere else (Azurite). ``span()`` opens a span on the calling thread for the duration of
one invocation; what is left of its wall time is the function's own (CPU and waiting for the
GIL). Benchmark-only: nothing in the product imports it.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

_local = threading.local()


@dataclass
class Span:
    started: float = field(default_factory=time.monotonic)
    ended: float = 0.0
    storage_s: float = 0.0
    storage_calls: int = 0
    api_s: float = 0.0
    api_calls: int = 0
    calls: list[tuple[str, float]] = field(default_factory=list)  # (what, seconds) in order

    @property
    def wall_s(self) -> float:
        return (self.ended or time.monotonic()) - self.started

    @property
    def own_s(self) -> float:
        """Wall time outside HTTP requests: the function's CPU and its waits for the GIL."""
        return max(self.wall_s - self.storage_s - self.api_s, 0.0)

    def to_json(self) -> dict[str, Any]:
        return {"started": self.started, "ended": self.ended, "wall_s": self.wall_s,
                "storage_s": self.storage_s, "storage_calls": self.storage_calls,
                "api_s": self.api_s, "api_calls": self.api_calls, "own_s": self.own_s,
                "calls": self.calls}


_installed: set[int] = set()


def install(api_ports: set[int]) -> None:
    """Time every ``requests`` call of this process (idempotent per set of ports)."""
    import requests

    if _installed:
        _installed.update(api_ports)
        return
    _installed.update(api_ports)
    original = requests.Session.send

    def send(self: requests.Session, request: Any, **kwargs: Any) -> Any:
        current: Span | None = getattr(_local, "span", None)
        if current is None:
            return original(self, request, **kwargs)
        started = time.monotonic()
        outcome = "error"
        try:
            response = original(self, request, **kwargs)
            outcome = str(response.status_code)
            return response
        except Exception as exc:
            outcome = type(exc).__name__
            raise
        finally:
            elapsed = time.monotonic() - started
            current.calls.append((f"{_what(request)} {outcome}", elapsed))
            if (urlsplit(str(request.url)).port or 0) in _installed:
                current.api_s += elapsed
                current.api_calls += 1
            else:
                current.storage_s += elapsed
                current.storage_calls += 1

    requests.Session.send = send  # type: ignore[method-assign]


def _what(request: Any) -> str:
    """A request's kind, without names: ``HEAD blob``, ``PUT blob?comp=tags``, ``POST table``,
    ``PATCH api`` (the Tables SDK sends ``DataServiceVersion``; the API is on ``api_ports``)."""
    split = urlsplit(str(request.url))
    if (split.port or 0) in _installed:
        return f"{request.method} api"
    kind = "table" if "DataServiceVersion" in request.headers else "blob"
    comp = [q for q in split.query.split("&") if q.startswith("comp=")]
    return f"{request.method} {kind}{'?' + comp[0] if comp else ''}"


@contextlib.contextmanager
def span() -> Iterator[Span]:
    """Attribute this thread's requests to a new span until the block ends."""
    opened = Span()
    _local.span = opened
    try:
        yield opened
    finally:
        opened.ended = time.monotonic()
        _local.span = None


def port_of(url: str) -> int:
    return urlsplit(url).port or (443 if url.startswith("https") else 80)


def summarise(spans: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean seconds per drop in each part, over ``spans`` (``Span.to_json`` documents)."""
    if not spans:
        return {}
    count = len(spans)
    keys = ("wall_s", "storage_s", "api_s", "own_s")
    result: dict[str, Any] = {k.replace("_s", "_ms"): round(1000 * sum(s[k] for s in spans)
                                                             / count, 2) for k in keys}
    result["storage_calls"] = round(sum(s["storage_calls"] for s in spans) / count, 2)
    result["api_calls"] = round(sum(s["api_calls"] for s in spans) / count, 2)
    return result
