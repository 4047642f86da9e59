"""``make bench``: every benchmark, side by side with its baseline, in one bounded run.

Writes ``bench/results/latest.json`` (the machine, the git commit and the date; a ``targets``
list, one entry per target with ``name``, ``measured``, ``target``, ``direction`` (``max``:
measured must be at most the target; ``min``: at least), ``met``, the repeats it is the median
of, and its raw figures; ``figures``: the raw figures reported without a target; ``raw``:
everything measured), regenerates the tables of docs/performance.md from it
(``bench.report``), prints them, and draws ``bench/results/throughput.png``.

Every ratio compares two figures measured in this same run on this machine, and is the median
of at least three repeats, with the min and max beside it. Nothing here is a pass/fail timing
test and none of it runs in ``make test``.

The baseline runs in its own virtualenv, ``.venv-bench`` (bench/requirements-bench.txt), which
this runner creates or refreshes when the requirements change. Bounded: every loop has a count
and every wait a deadline; the run takes about 7-9 minutes on 2 cores (``RUN_BUDGET_SECONDS``
is the 10-minute budget it warns about).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import worst_input
from bench.common import (
    BENCH,
    BENCH_PYTHON,
    BENCH_VENV,
    PYTHON,
    REPO,
    RESULTS,
    git_state,
    machine,
    run_json,
)

RUN_BUDGET_SECONDS = 600
REPEATS = 3
BULK_LATENCY_MS = 300  # a photo upload's real latency is hundreds of milliseconds
BULK_DROPS = 200  # per repeat and side, one per mailbox (an HR bulk refresh)
RAW_LATENCIES = {40: 200, 1000: 64}  # latency -> drops, reported as raw figures
CONCURRENCY_LIMIT = 4  # per app per mailbox, as Graph
CONCENTRATED_DROPS = 400
CONCENTRATED_USERS = 50
LOOKUP_LATENCY_MS = 20
COLD_REPS = 6
PREP_ROUNDS = 3
STORAGE_COUNT_DROPS = 40

#: Target 5, the worst accepted input: peak RSS and CPU of the costliest files the photo
#: checks accept, each prepared in a fresh process (``bench/worst_input.py``).
WORST_INPUT: Callable[[], dict[str, Any]] = worst_input.run


def ensure_bench_venv() -> None:
    requirements = BENCH / "requirements-bench.txt"
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()
    stamp = BENCH_VENV / ".installed"
    if BENCH_PYTHON.exists() and stamp.exists() and stamp.read_text().strip() == digest:
        return
    print(f"setting up {BENCH_VENV.name} (the baseline's virtualenv) ...", flush=True)
    base = getattr(sys, "_base_executable", None) or "python3"
    if not BENCH_PYTHON.exists():
        subprocess.run([base, "-m", "venv", str(BENCH_VENV)], check=True)
    subprocess.run([str(BENCH_PYTHON), "-m", "pip", "install", "-q", "--upgrade", "pip"],
                   check=True)
    subprocess.run([str(BENCH_PYTHON), "-m", "pip", "install", "-q", "-r", str(requirements)],
                   check=True)
    stamp.write_text(digest + "\n")


# -- 1. photo preparation --


def bench_prep(workdir: Path) -> dict[str, Any]:
    """Each implementation ``PREP_ROUNDS`` times, interleaved, each in a fresh process."""
    from bench import images

    camera, good = workdir / "camera.jpg", workdir / "good.jpg"
    camera.write_bytes(images.camera_jpeg())
    good.write_bytes(images.good_jpeg())
    runs = {"camera": {"photo_sync": (PYTHON, camera, 7), "baseline": (BENCH_PYTHON, camera, 7)},
            "good": {"photo_sync": (PYTHON, good, 31), "reencode": (PYTHON, good, 31),
                     "pillow_reencode": (BENCH_PYTHON, good, 31),
                     "baseline": (BENCH_PYTHON, good, 31)}}
    rounds: list[dict[str, dict[str, Any]]] = []
    for _ in range(PREP_ROUNDS):
        measured: dict[str, dict[str, Any]] = {}
        for photo, impls in runs.items():
            measured[photo] = {}
            for impl, (python, path, reps) in impls.items():
                measured[photo][impl] = run_json(
                    python, ["-m", "bench.prep", impl, str(path), "--reps", str(reps)],
                    timeout=300)
        rounds.append(measured)
    return {"rounds": rounds}


# -- 2. bulk: the function alone, the baseline, the whole stack --


def bench_bulk() -> dict[str, Any]:
    from bench import bulk, function_only
    from bench.stack import BenchStack

    parallelism = bulk.host_parallelism()
    users = BULK_DROPS
    result: dict[str, Any] = {"drops": BULK_DROPS, "mailboxes": users,
                              "parallelism": parallelism, "latency_ms": BULK_LATENCY_MS,
                              "concurrency_limit": CONCURRENCY_LIMIT, "repeats": []}
    seed = iter(range(0, 10**9, BULK_DROPS + 1))

    def fresh(count: int) -> tuple[list[tuple[str, bytes]], tuple[str, bytes]]:
        """New photos for users 0..count-1 (so nothing is skipped as already uploaded) and a
        warm-up drop for the user after them."""
        from bench import images
        from bench.stack import upn

        base = next(seed)
        drops = [(f"{upn(i)}.jpg", images.drop_jpeg(base + i)) for i in range(count)]
        return drops, (f"{upn(users)}.jpg", images.drop_jpeg(base + count))

    def sides(stack: BenchStack, count: int, whole: bool) -> dict[str, Any]:
        drops, warm = fresh(count)
        measured = {"function": function_only.run(stack, drops, parallelism, warm)}
        drops, _ = fresh(count)
        measured["baseline"] = bulk.run_baseline(stack, drops, parallelism, stack.workdir)
        if whole:
            drops, _ = fresh(count)
            measured["stack"] = bulk.run_photo_sync(stack, drops, timeout=240)
        return measured

    with BenchStack(users=users + 1, latency_ms=BULK_LATENCY_MS,
                    concurrency_limit=CONCURRENCY_LIMIT, traced=True) as stack:
        # The host's first drop starts the app (imports, clients, token), as the function
        # alone's warm-up drop does: neither side's figures include a cold start.
        bulk.run_photo_sync(stack, [fresh(1)[1]], timeout=120)
        for _ in range(REPEATS):
            result["repeats"].append(sides(stack, BULK_DROPS, whole=True))
        result["other_latencies"] = {}
        for latency, count in RAW_LATENCIES.items():
            stack.admin("POST", "/faults", {"latency_ms": latency})
            result["other_latencies"][str(latency)] = {
                "latency_ms": latency, "drops": count,
                **sides(stack, count, whole=latency < BULK_LATENCY_MS)}
    result["storage_requests"] = bulk.storage_requests_per_drop(count=STORAGE_COUNT_DROPS)
    return result


# -- 3. drops concentrated on few mailboxes --


def bench_concentrated() -> dict[str, Any]:
    from bench import bulk, concentrated
    from bench.stack import BenchStack

    parallelism = bulk.host_parallelism()
    with BenchStack(users=CONCENTRATED_USERS + 1, latency_ms=BULK_LATENCY_MS,
                    concurrency_limit=CONCURRENCY_LIMIT, host=False) as stack:
        repeats = concentrated.run(stack, parallelism, REPEATS,
                                   rounds=CONCENTRATED_DROPS // CONCENTRATED_USERS,
                                   users=CONCENTRATED_USERS)
    return {"drops": CONCENTRATED_DROPS, "users": CONCENTRATED_USERS,
            "latency_ms": BULK_LATENCY_MS, "parallelism": parallelism, "repeats": repeats}


# -- 4. cold start, lookup, memory --


def bench_services() -> dict[str, Any]:
    from bench import coldstart, lookup, memory
    from bench.stack import BenchStack

    with BenchStack(users=120, photos=True, latency_ms=0) as stack:
        cold = coldstart.run(stack, COLD_REPS)
        stack.admin("POST", "/faults", {"latency_ms": LOOKUP_LATENCY_MS})
        looked = lookup.run(stack)
        stack.admin("POST", "/faults", {"latency_ms": 0})
        mem = memory.run(stack)
    return {"cold": cold, "lookup": looked, "memory": mem}


def main() -> int:
    from bench import report, targets
    from devstack.procs import stop_on_sigterm

    stop_on_sigterm()  # the stacks it starts are stopped, not orphaned, by a SIGTERM
    started = time.monotonic()
    ensure_bench_venv()
    RESULTS.mkdir(parents=True, exist_ok=True)
    document: dict[str, Any] = {"generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                "git": git_state(), "machine": machine()}
    raw: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="photo-bench-") as tmp:
        steps: list[tuple[str, str, Callable[[], Any]]] = [
            ("prep", "photo preparation", lambda: bench_prep(Path(tmp))),
            ("bulk", f"bulk at {BULK_LATENCY_MS} ms: the function alone, the baseline, the "
                     f"whole stack ({REPEATS} repeats); then 40 and 1,000 ms", bench_bulk),
            ("concentrated", f"concentrated drops: {CONCENTRATED_DROPS} over "
                             f"{CONCENTRATED_USERS} mailboxes ({REPEATS} repeats)",
             bench_concentrated),
            ("services", "cold start, lookups, memory", bench_services),
            ("worst_input", "worst accepted input",
             WORST_INPUT),
        ]
        for n, (key, what, step) in enumerate(steps, 1):
            print(f"{n}/{len(steps)} {what} ...", flush=True)
            step_started = time.monotonic()
            raw[key] = step()
            print(f"    {time.monotonic() - step_started:.0f} s", flush=True)
    elapsed = time.monotonic() - started
    document["seconds"] = round(elapsed, 1)
    document["machine"]["load_average_at_end"] = machine()["load_average_at_start"]
    document["targets"] = targets.targets(raw)
    document["figures"] = targets.figures(raw)
    document["raw"] = raw
    latest = RESULTS / "latest.json"
    latest.write_text(json.dumps(document, indent=1) + "\n")
    report.update_docs(document)
    chart = RESULTS / "throughput.png"
    subprocess.run([str(BENCH_PYTHON), "-m", "bench.chart", str(latest), str(chart)],
                   cwd=REPO, check=True)
    print()
    print(report.targets_table(document))
    met = sum(1 for row in document["targets"] if row["met"])
    print(f"\n{met} of {len(document['targets'])} targets met in {elapsed:.0f} s; "
          f"{latest.relative_to(REPO)}, docs/performance.md, {chart.relative_to(REPO)}")
    if elapsed > RUN_BUDGET_SECONDS:
        print(f"warning: the run took longer than its {RUN_BUDGET_SECONDS} s budget")
    return 0


if __name__ == "__main__":
    sys.exit(main())
