"""Lookup latency through the local functions host: cache hit against miss, and 304s.

The emulator adds ``latency_ms`` (20) to every photo API call; a lookup that misses the cache
makes two (metadata and sizes) plus a state-table read, one that hits makes none. Requests go
over HTTP to the host (``GET /api/users/{user}/photo`` with the function key), sequentially on
one keep-alive connection:

* miss: the first lookup of each of ``users`` distinct users (nothing cached yet);
* hit: ``hits`` lookups of users already looked up (within the cache TTL);
  (three rounds of both, each with users of its own: one ratio per round);
* conditional: ``If-None-Match`` with the current ETag; every answer must be 304, and the
  emulator's ``/admin/stats`` must show no photo API request during that phase.

The SDK baseline's ``photo.get()`` (one upstream call, no cache) is measured against the same
emulator for reference.
"""

from __future__ import annotations

import http.client
import json
import time
from typing import Any
from urllib.parse import urlencode, urlsplit

from bench.common import BENCH_PYTHON, median, percentile, run_json
from bench.stack import BenchStack, upn


def _connect(stack: BenchStack) -> http.client.HTTPConnection:
    url = urlsplit(stack.lookup_url("x"))
    return http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=30)


def _get(conn: http.client.HTTPConnection, stack: BenchStack, user: str,
         headers: dict[str, str]) -> tuple[int, str | None]:
    """One lookup on a kept-alive connection (the host answers with TCP_NODELAY, so no
    response waits for the client's delayed ACK)."""
    path = urlsplit(stack.lookup_url(user)).path
    conn.request("GET", f"{path}?{urlencode({'code': stack.lookup_key})}", headers=headers)
    resp = conn.getresponse()
    resp.read()
    return resp.status, resp.getheader("ETag")


def _once(stack: BenchStack, user: str, headers: dict[str, str]) -> tuple[int, str | None]:
    conn = _connect(stack)
    try:
        return _get(conn, stack, user, headers)
    finally:
        conn.close()


def _timed_gets(stack: BenchStack, users: list[str], headers: dict[str, str] | None = None,
                expect: int = 200) -> tuple[list[float], float]:
    times = []
    conn = _connect(stack)
    started = time.perf_counter()
    try:
        for user in users:
            t = time.perf_counter()
            status, _ = _get(conn, stack, user, headers or {})
            times.append(time.perf_counter() - t)
            if status != expect:
                raise RuntimeError(f"lookup of {user}: {status}, expected {expect}")
    finally:
        conn.close()
    return times, time.perf_counter() - started


def _summary(times: list[float], elapsed: float) -> dict[str, Any]:
    return {"count": len(times), "p50_ms": round(median(times) * 1000, 2),
            "p99_ms": round(percentile(times, 99) * 1000, 2),
            "requests_per_second": round(len(times) / elapsed, 1)}


def _api_requests(stack: BenchStack) -> int:
    stats = stack.admin("GET", "/stats")
    return sum(sum(v.values()) for op, v in stats["requests"].items()
               if not op.startswith("identity"))


def run(stack: BenchStack, users: int = 33, hits: int = 150, conditional: int = 200,
        rounds: int = 3) -> dict[str, Any]:
    """``rounds`` rounds, each with users of its own: ``users`` misses (first lookups), then
    ``hits`` lookups of those users; then ``conditional`` requests with a current ETag."""
    # Warm the host's process (token, pools, table) with a user outside the measured set.
    if _once(stack, upn(users * rounds), {})[0] != 200:
        raise RuntimeError("the warm-up lookup failed")
    measured = []
    for r in range(rounds):
        names = [upn(r * users + i) for i in range(users)]
        miss_times, miss_elapsed = _timed_gets(stack, names)
        hit_times, hit_elapsed = _timed_gets(stack, [names[i % users] for i in range(hits)])
        measured.append((_summary(miss_times, miss_elapsed), _summary(hit_times, hit_elapsed)))
    name = upn(0)
    etag = _once(stack, name, {})[1]
    assert etag
    before = _api_requests(stack)
    cond_times, cond_elapsed = _timed_gets(stack, [name] * conditional,
                                           headers={"If-None-Match": etag}, expect=304)
    upstream_during_304 = _api_requests(stack) - before
    info_file = stack.workdir / "emulator-lookup.json"
    info_file.write_text(json.dumps(stack.emulator))
    sdk = run_json(BENCH_PYTHON, ["-m", "bench.baseline_graph", "lookup", "--emulator",
                                  str(info_file), "--user", name, "--count", "100"])
    return {
        "rounds": [{"miss": miss, "hit": hit} for miss, hit in measured],
        "hit_over_miss_p50": [round(hit["p50_ms"] / miss["p50_ms"], 4)
                              for miss, hit in measured],
        "conditional_304": _summary(cond_times, cond_elapsed),
        "upstream_calls_during_304s": upstream_during_304,
        "baseline_sdk_photo_get": _summary(sdk["times"], sum(sdk["times"])),
    }


if __name__ == "__main__":
    with BenchStack(users=120, photos=True, latency_ms=20) as running:
        print(json.dumps(run(running), indent=2))
