"""The blob-trigger function measured apart from the host, as the Python worker runs it.

A fresh process imports ``function_app`` and indexes it (``devstack.host.app_loader``, the same
``get_functions()`` the worker calls), then a pool of ``P`` threads (the worker runs synchronous
functions on a thread pool) calls the ``sync_photo`` user function once per drop, each time with
the ``BlobClient`` the blob extension gives it: the extension's own converter
(``BlobClientConverter.decode``) applied to the ``model_binding_data`` the host sends, so each
invocation pays for a new client as it does on Azure. No queue, no receipts, no webhook: only
what runs in the Python worker, against Azurite and the emulator (at the run's API latency).
Logging is the worker's too: the root logger at INFO, and every record formatted for the host
(which the worker then sends it; here it is dropped).

One drop per user is warmed up first (imports, the token, the connection pools), then the clock
runs from the first invocation to the last one's return. Every request each invocation makes is
timed and put down to storage or the API (``bench.trace``), so the per-drop figures say where
the function's time goes.

``python -m bench.function_only child NAMES_JSON PARALLELISM API_PORT`` prints one JSON line;
``run(stack, drops, parallelism)`` uploads the drops and runs it.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bench.stack import BenchStack


def child(names_file: str, parallelism: int, api_port: int) -> int:
    from bench import trace
    from devstack.host.app_loader import load_app
    from devstack.host.bindings import BlobTrigger
    from devstack.host.invoke import blob_argument

    trace.install({api_port})
    logging.basicConfig(level=logging.INFO, handlers=[_ToTheHost()])
    document = json.loads(Path(names_file).read_text())
    loaded = load_app("function_app:app")
    spec = next(f for f in loaded.functions if f.name == "sync_photo")
    trigger = spec.trigger
    assert isinstance(trigger, BlobTrigger)
    failures: list[str] = []
    lock = threading.Lock()

    def invoke(name: str) -> dict[str, Any]:
        with trace.span() as span:
            try:
                client = blob_argument(trigger, trigger.container, name)
                spec.function(**{spec.trigger_arg: client})
            except Exception as exc:  # a drop the function raised for: counted, not hidden
                with lock:
                    failures.append(f"{type(exc).__name__}: {str(exc)[:120]}")
        return span.to_json()

    invoke(document["warm"])
    cpu_before = time.process_time()
    started = time.monotonic()
    with ThreadPoolExecutor(parallelism, thread_name_prefix="worker") as pool:
        spans = list(pool.map(invoke, document["names"]))
    elapsed = time.monotonic() - started
    cpu = time.process_time() - cpu_before
    count = len(document["names"])
    ends = sorted(span["ended"] - started for span in spans)
    series = [(0.0, 0)] + [(round(t, 3), n) for n, t in enumerate(ends, 1)
                           if n % 10 == 0 or n == count]
    from bench.trace import summarise

    sys.stdout.write(json.dumps({
        "drops": count, "failures": len(failures), "failure_examples": sorted(set(failures))[:3],
        "seconds": round(elapsed, 3), "invocations_per_second": count / elapsed,
        "parallelism": parallelism, "cpu_ms_per_drop": round(1000 * cpu / count, 2),
        "per_drop": summarise(spans), "by_call": by_call(spans), "series": series}) + "\n")
    return 0


class _ToTheHost(logging.Handler):
    """The worker's handler formats each record and sends it to the host; this one formats it
    and drops it."""

    def emit(self, record: logging.LogRecord) -> None:
        self.format(record)


def by_call(spans: list[dict[str, Any]]) -> dict[str, Any]:
    totals: dict[str, list[float]] = {}
    for s in spans:
        for what, seconds in s["calls"]:
            totals.setdefault(what, []).append(seconds)
    return {k: {"n": len(v), "mean_ms": round(1000 * sum(v) / len(v), 2)}
            for k, v in sorted(totals.items())}


def run(stack: BenchStack, drops: list[tuple[str, bytes]], parallelism: int,
        warm: tuple[str, bytes]) -> dict[str, Any]:
    """Upload ``drops`` (and the warm-up drop), run them through the function in a fresh
    process, and check each drop's recorded outcome on its blob."""
    from bench.bulk import upload_drops

    upload_drops(stack, [warm, *drops])
    return invoke(stack, [name for name, _ in drops], parallelism, warm[0])


def invoke(stack: BenchStack, names: list[str], parallelism: int, warm: str) -> dict[str, Any]:
    """Run the function on blobs already in the drop container, in the order given; then read
    the outcome each drop recorded on its blob."""
    from bench.bulk import outcomes
    from bench.common import PYTHON, run_json
    from bench.trace import port_of

    listing = stack.workdir / "function-only-names.json"
    listing.write_text(json.dumps({"warm": warm, "names": names}))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PHOTO_")}
    env.update(stack.settings())
    env["PYTHON_THREADPOOL_THREAD_COUNT"] = str(parallelism)
    before = stack.admin("GET", "/stats")
    result: dict[str, Any] = run_json(
        PYTHON, ["-m", "bench.function_only", "child", str(listing), str(parallelism),
                 str(port_of(stack.emulator["graph_base"]))], env=env, timeout=600)
    stats = stack.admin("GET", "/stats")
    recorded = outcomes(stack)
    statuses: dict[str, int] = {}
    for name in names:
        status = recorded.get(name, "none")
        statuses[status] = statuses.get(status, 0) + 1
    result["statuses"] = statuses
    result["uploads"] = int(stats.get("uploads", 0)) - int(before.get("uploads", 0)) - 1
    result["throttled"] = int(stats.get("throttled", 0)) - int(before.get("throttled", 0))
    result["completed"] = sum(n for status, n in statuses.items() if status != "none")
    result["photos_per_second"] = result["completed"] / result["seconds"]
    return result


if __name__ == "__main__":
    if sys.argv[1:2] == ["child"]:
        sys.exit(child(sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
    raise SystemExit("usage: python -m bench.function_only child NAMES_JSON PARALLELISM PORT")
