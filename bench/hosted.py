"""The local functions host with a stopwatch on every step of a drop: ``python -m bench.hosted``.

Runs ``devstack.host`` unchanged (same arguments), after wrapping the steps a blob-triggered
drop goes through, and appends one JSON line per step to the file named by ``BENCH_TRACE``:

* ``intake``: the webhook queued the drop's event (``BlobTriggerStore.enqueue``: start, end);
* ``work``: a worker took the drop from the queue and finished with it: when it started and
  ended, the host's receipt check before the function (and its receipt and message delete, if
  they ran on the worker), and the function's own span (``bench.trace``: storage requests, API
  requests and the rest);
* ``receipt``: the receipt written on a completion thread, once the worker's slot was freed;
* ``receive``: one receive from the work queue (how many messages it brought).

Times are ``time.monotonic()``, which on Linux is one clock for every process of the machine,
so the benchmark can set them against the moment it posted the first event. Nothing of the
host changes but the wrapping; the benchmark reads the file after the run
(``bench.stack_trace.breakdown``).
"""

from __future__ import annotations

import functools
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

_lock = threading.Lock()
_current = threading.local()


def _write(record: dict[str, Any]) -> None:
    line = json.dumps(record) + "\n"
    with _lock, open(os.environ["BENCH_TRACE"], "a", encoding="utf-8") as handle:
        handle.write(line)


def _timed(owner: type, name: str, on_done: Callable[[Any, tuple[Any, ...], Any, float, float],
                                                     None]) -> None:
    original = getattr(owner, name)

    @functools.wraps(original)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        started = time.monotonic()
        result = original(self, *args, **kwargs)
        on_done(self, args, result, started, time.monotonic())
        return result

    setattr(owner, name, wrapper)


def install() -> None:
    from bench import trace
    from devstack.host.blob_queue import BlobTriggerStore, BlobWorkItem
    from devstack.host.blob_workers import BlobWorkers
    from devstack.host.invoke import Invoker

    api_ports = {int(p) for p in os.environ.get("BENCH_API_PORTS", "").split(",") if p}
    trace.install(api_ports)

    def key(item: BlobWorkItem) -> str:
        return f"{item.blob_name}|{item.key[3]}"

    _timed(BlobTriggerStore, "enqueue", lambda _s, args, _r, a, b: _write(
        {"kind": "intake", "drop": key(args[0]), "started": a, "ended": b}))
    _timed(BlobTriggerStore, "receive", lambda _s, _args, result, a, b: _write(
        {"kind": "receive", "count": len(result), "started": a, "ended": b}))

    def host_step(name: str) -> Callable[[Any, tuple[Any, ...], Any, float, float], None]:
        def done(_self: Any, args: tuple[Any, ...], _result: Any, a: float, b: float) -> None:
            record = getattr(_current, "record", None)
            if record is not None:
                record[name] = record.get(name, 0.0) + (b - a)
            elif name == "write_receipt":  # on a completion thread, after the slot was freed
                _write({"kind": "receipt", "drop": key(args[0]), "seconds": b - a})
        return done

    for step in ("has_receipt", "write_receipt", "delete"):
        _timed(BlobTriggerStore, step, host_step(step))

    original_work = BlobWorkers._work

    def work(self: BlobWorkers, item: BlobWorkItem, lease: Any, attempt: int) -> None:
        record: dict[str, Any] = {"kind": "work", "drop": key(item), "attempt": attempt,
                                  "started": time.monotonic()}
        _current.record = record
        try:
            original_work(self, item, lease, attempt)
        finally:
            _current.record = None
            record["ended"] = time.monotonic()
            _write(record)

    BlobWorkers._work = work  # type: ignore[method-assign]
    original_call = Invoker.call

    def call(self: Invoker, spec: Any, argument: Any, reason: str) -> Any:
        with trace.span() as span:
            try:
                return original_call(self, spec, argument, reason)
            finally:
                record = getattr(_current, "record", None)
                if record is not None:
                    span.ended = time.monotonic()
                    document = span.to_json()
                    document.pop("calls", None)
                    record["function"] = document

    Invoker.call = call  # type: ignore[method-assign]


def main() -> int:
    install()
    from devstack.host.__main__ import main as host_main

    return host_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
