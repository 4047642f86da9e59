"""How many drops one instance runs at once, on how many threads, in how much memory.

The numbers decided together (docs/performance.md, "Concurrency per instance"):

* ``P``: the blob extension dispatches at most ``maxDegreeOfParallelism`` drops at once per
  instance (host.json, read here);
* ``T``: the Python worker runs synchronous functions on a pool of
  ``PYTHON_THREADPOOL_THREAD_COUNT`` threads (``devstack.stack.WORKER_THREADS``, the value the
  Bicep deploys); unset, the pool is ``min(32, cpu_count + 4)``, five threads on a one-core
  instance, so three of the eight dispatched drops would wait for a thread while their
  ``functionTimeout`` runs. ``T >= P + OTHER_THREADS``: every dispatched drop gets a thread and
  lookups never queue behind drops (on Flex Consumption the HTTP functions scale in a group of
  their own; elsewhere, and in the local host, they share the pool);
* memory: the worker's own footprint after its first drop, plus ``P`` times the worst growth
  one drop causes, plus what the Functions host and the OS keep (``HOST_RESERVE_MB``, an
  assumption: it cannot be measured locally), must fit the instance (``instanceMemoryMB``).
"""

from __future__ import annotations

import json
import math
from typing import Any

INSTANCE_MEMORY_MB = 2048  # infra's instanceMemoryMB default
HOST_RESERVE_MB = 512  # the Functions host (.NET) and the OS on the same instance: assumed
OTHER_THREADS = 4  # lookups, health, reports and the timer, where they share the pool


def parallelism() -> int:
    """``extensions.blobs.maxDegreeOfParallelism`` of the repository's host.json."""
    from bench.common import REPO

    document = json.loads((REPO / "host.json").read_text())
    return int(document.get("extensions", {}).get("blobs", {}).get("maxDegreeOfParallelism", 8))


def threads() -> int:
    from devstack.stack import WORKER_THREADS

    return WORKER_THREADS


def arithmetic(worker_base_mb: float | None, per_drop_mb: float | None) -> dict[str, Any]:
    """The instance's budget with measured figures: ``worker_base_mb`` (the worker's RSS after
    its first drop) and ``per_drop_mb`` (the worst growth one drop caused)."""
    p, t = parallelism(), threads()
    result: dict[str, Any] = {
        "instance_memory_mb": INSTANCE_MEMORY_MB, "host_reserve_mb": HOST_RESERVE_MB,
        "max_degree_of_parallelism": p, "worker_threads": t, "other_threads": OTHER_THREADS,
        "threads_cover_drops": t >= p + OTHER_THREADS,
        "default_threads_one_core": min(32, 1 + 4),
        "worker_base_mb": worker_base_mb, "per_drop_mb": per_drop_mb,
    }
    if worker_base_mb is None or per_drop_mb is None:
        return result
    free = INSTANCE_MEMORY_MB - HOST_RESERVE_MB - worker_base_mb
    needed = worker_base_mb + p * per_drop_mb + HOST_RESERVE_MB
    result.update({
        "per_drop_budget_mb": round(free / p, 1),
        "needed_mb": round(needed, 1),
        "headroom_mb": round(INSTANCE_MEMORY_MB - needed, 1),
        "drops_that_fit": math.floor(free / per_drop_mb) if per_drop_mb > 0 else None,
        "fits": needed <= INSTANCE_MEMORY_MB,
    })
    return result
