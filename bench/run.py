"""``make bench``: every benchmark, side by side with the baseline, in one bounded run.

Prints a markdown table and writes ``bench/results/latest.json`` (a list ``targets``: one entry
per target with ``name``, ``measured`` (a ratio), ``target``, ``direction`` (``max``: measured
must be at most the target; ``min``: at least) and the raw figures, plus ``raw``: everything
measured) and ``bench/results/throughput.png`` (the bulk-sync run). Every ratio compares two
figures measured in this same run on this machine; nothing here is a pass/fail timing test.

The baseline runs in its own virtualenv, ``.venv-bench`` (bench/requirements-bench.txt), which
this runner creates or refreshes when the requirements change.

Bounded: every loop has a count and every wait a deadline; the whole run takes about 4-6
minutes on 2 cores (the 10-minute budget is enforced by ``RUN_BUDGET_SECONDS``).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.common import BENCH, BENCH_PYTHON, BENCH_VENV, PYTHON, REPO, RESULTS, run_json

if TYPE_CHECKING:
    from bench.stack import BenchStack

RUN_BUDGET_SECONDS = 600
BULK_DROPS = 500
BULK_LATENCY_MS = 40
CONCURRENCY_LIMIT = 4
LOOKUP_LATENCY_MS = 20
COLD_REPS = 10
PREP_ROUNDS = 3


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


def entry(name: str, measured: float | None, target: float, direction: str, unit: str,
          what: str, **raw: Any) -> dict[str, Any]:
    """One target; ``measured`` is None when this machine could not measure it (not met)."""
    if measured is None:
        met = False
    else:
        met = measured <= target if direction == "max" else measured >= target
    return {"name": name, "measured": None if measured is None else round(measured, 4),
            "target": target, "direction": direction, "met": met, "unit": unit, "what": what,
            "raw": raw}


def ratio(part: float | None, whole: float | None) -> float | None:
    """``part / whole``, or None when either could not be measured (peak memory needs a
    writable ``/proc/self/clear_refs``) or ``whole`` is 0."""
    if part is None or not whole:
        return None
    return part / whole


# -- 1. photo preparation --


def bench_prep(workdir: Path) -> dict[str, Any]:
    from bench import images

    camera, good = workdir / "camera.jpg", workdir / "good.jpg"
    camera.write_bytes(images.camera_jpeg())
    good.write_bytes(images.good_jpeg())

    def prep(python: Path, impl: str, photo: Path, reps: int) -> dict[str, Any]:
        result: dict[str, Any] = run_json(python, ["-m", "bench.prep", impl, str(photo),
                                                   "--reps", str(reps)], timeout=300)
        return result

    def rounds(runs: dict[str, tuple[Path, str, Path, int]]) -> dict[str, dict[str, Any]]:
        """Each implementation ``PREP_ROUNDS`` times, interleaved; the lowest median is kept
        (a shared machine's noise only ever adds time)."""
        best: dict[str, dict[str, Any]] = {}
        for _ in range(PREP_ROUNDS):
            for key, (python, impl, photo, reps) in runs.items():
                result = prep(python, impl, photo, reps)
                if key not in best or result["median_ms"] < best[key]["median_ms"]:
                    best[key] = result
        return best

    return {
        "camera": rounds({"photo_sync": (PYTHON, "photo_sync", camera, 7),
                          "baseline": (BENCH_PYTHON, "baseline", camera, 7)}),
        "good": rounds({"photo_sync": (PYTHON, "photo_sync", good, 31),
                        "reencode": (PYTHON, "reencode", good, 31),
                        "pillow_reencode": (BENCH_PYTHON, "pillow_reencode", good, 31),
                        "baseline": (BENCH_PYTHON, "baseline", good, 31)}),
    }


# -- 2. bulk sync --


def bench_bulk() -> dict[str, Any]:
    from bench import bulk
    from bench.stack import BenchStack

    parallelism = bulk.host_parallelism()
    drops = bulk.make_drops(BULK_DROPS, BULK_DROPS)  # one drop per employee: HR's bulk refresh
    with BenchStack(users=BULK_DROPS, latency_ms=BULK_LATENCY_MS,
                    concurrency_limit=CONCURRENCY_LIMIT) as stack:
        ours = bulk.run_photo_sync(stack, drops)
        stack.admin("POST", "/reset")
        base = bulk.run_baseline(stack, drops, parallelism, stack.workdir)
        zero = _bulk_zero_latency(stack, drops[:200])
    requests = bulk.storage_requests_per_drop(latency_ms=BULK_LATENCY_MS)
    mailboxes = len({name for name, _ in drops})
    bound = bulk.bound(parallelism, CONCURRENCY_LIMIT, mailboxes, bulk.CALLS_PER_DROP,
                       BULK_LATENCY_MS / 1000)
    return {"drops": len(drops), "mailboxes": mailboxes, "parallelism": parallelism,
            "latency_ms": BULK_LATENCY_MS, "concurrency_limit": CONCURRENCY_LIMIT,
            "calls_per_drop": bulk.CALLS_PER_DROP,
            "bound_formula": "min(P, limit x M) / (calls x L)",
            "bound_photos_per_second": bound, "photo_sync": ours, "baseline": base,
            "photo_sync_zero_latency": zero, "storage_requests": requests}


def _bulk_zero_latency(stack: BenchStack, drops: list[tuple[str, bytes]]) -> dict[str, Any]:
    """The same pipeline with no API latency: what the storage, the host and the CPU alone
    allow on this machine (new photos, so nothing is skipped as already uploaded)."""
    from azure.storage.blob import ContainerClient

    from bench import bulk, images

    stack.admin("POST", "/reset")
    stack.admin("POST", "/faults", {"latency_ms": 0})
    container = ContainerClient.from_connection_string(stack.connection_string, "hr-photos")
    for blob in list(container.list_blobs()):
        container.delete_blob(blob.name)
    renamed = [(name, images.drop_jpeg(100_000 + i)) for i, (name, _) in enumerate(drops)]
    result = bulk.run_photo_sync(stack, renamed, timeout=120)
    result.pop("series", None)
    return result


# -- 3-5. cold start, lookup, memory --


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


# -- the report --


def targets(raw: dict[str, Any]) -> list[dict[str, Any]]:
    prep, bulk, cold = raw["prep"], raw["bulk"], raw["services"]["cold"]
    looked, mem = raw["services"]["lookup"], raw["services"]["memory"]
    cam, good = prep["camera"], prep["good"]
    ours_pps = bulk["photo_sync"]["photos_per_second"]
    base_pps = bulk["baseline"]["photos_per_second"]
    largest_mb = ratio(mem["largest"]["peak_rss_delta_kib"], 1024)
    budget_mb = 2048 / 8  # instanceMemoryMB / maxDegreeOfParallelism: one drop's share
    return [
        entry("prep_large_time", cam["photo_sync"]["median_ms"] / cam["baseline"]["median_ms"],
              0.35, "max", "x baseline time",
              "12 MP camera JPEG (EXIF orientation 6) to upload-ready",
              photo_sync_ms=cam["photo_sync"]["median_ms"],
              baseline_ms=cam["baseline"]["median_ms"],
              input_bytes=cam["photo_sync"]["input_bytes"]),
        entry("prep_large_memory",
              ratio(cam["photo_sync"]["peak_rss_delta_kib"],
                    cam["baseline"]["peak_rss_delta_kib"]),
              0.5, "max", "x baseline peak memory", "same photo, peak RSS above the start",
              photo_sync_kib=cam["photo_sync"]["peak_rss_delta_kib"],
              baseline_kib=cam["baseline"]["peak_rss_delta_kib"]),
        entry("prep_good_time", good["photo_sync"]["median_ms"] / good["reencode"]["median_ms"],
              0.2, "max", "x full decode + re-encode",
              "already-good 648x648 photo: lossless strip against a full decode and re-encode",
              photo_sync_ms=good["photo_sync"]["median_ms"],
              full_reencode_ms=good["reencode"]["median_ms"],
              pillow_plain_reencode_ms=good["pillow_reencode"]["median_ms"],
              ratio_to_pillow_plain_reencode=round(
                  good["photo_sync"]["median_ms"] / good["pillow_reencode"]["median_ms"], 4),
              baseline_ms=good["baseline"]["median_ms"],
              input_bytes=good["photo_sync"]["input_bytes"]),
        entry("bulk_vs_bound", ours_pps / bulk["bound_photos_per_second"], 0.8, "min",
              "x theoretical bound",
              f"{bulk['drops']} drops, {bulk['latency_ms']} ms latency, per-mailbox limit "
              f"{bulk['concurrency_limit']}", photos_per_second=round(ours_pps, 2),
              bound_photos_per_second=bulk["bound_photos_per_second"],
              bound_formula=bulk["bound_formula"], parallelism=bulk["parallelism"],
              mailboxes=bulk["mailboxes"], calls_per_drop=bulk["calls_per_drop"],
              statuses=bulk["photo_sync"]["statuses"],
              throttled=bulk["photo_sync"]["throttled"],
              cpu_seconds=bulk["photo_sync"].get("cpu_seconds"),
              zero_latency_photos_per_second=round(
                  bulk["photo_sync_zero_latency"]["photos_per_second"], 2),
              **cpu_figures(bulk["photo_sync"]),
              **storage_figures(bulk["photo_sync"], bulk["storage_requests"],
                                bulk["bound_photos_per_second"])),
        entry("bulk_vs_baseline", ours_pps / base_pps, 1.5, "min", "x baseline throughput",
              ("same drops, same parallelism: storage SDK download, plain Pillow, "
               "msgraph-sdk upload"),
              photos_per_second=round(ours_pps, 2),
              baseline_photos_per_second=round(base_pps, 2),
              baseline_throttled=bulk["baseline"]["throttled"],
              baseline_failures=bulk["baseline"]["failures"]),
        entry("cold_start", cold["photo_sync_median_s"] / cold["baseline_median_s"], 0.5, "max",
              "x baseline", f"fresh process to first lookup answer, median of {COLD_REPS}",
              photo_sync_s=cold["photo_sync_median_s"], baseline_s=cold["baseline_median_s"],
              imports=cold["imports"]),
        entry("lookup_hit_vs_miss", looked["hit"]["p50_ms"] / looked["miss"]["p50_ms"], 0.1,
              "max", "x miss (p50)",
              f"through the local host, {LOOKUP_LATENCY_MS} ms API latency",
              hit_p50_ms=looked["hit"]["p50_ms"], miss_p50_ms=looked["miss"]["p50_ms"],
              hit_p99_ms=looked["hit"]["p99_ms"], miss_p99_ms=looked["miss"]["p99_ms"],
              hit_rps=looked["hit"]["requests_per_second"],
              miss_rps=looked["miss"]["requests_per_second"],
              hit=looked["hit"], miss=looked["miss"], conditional_304=looked["conditional_304"],
              baseline_sdk_photo_get=looked["baseline_sdk_photo_get"]),
        entry("lookup_304_upstream_calls", looked["upstream_calls_during_304s"], 0, "max",
              "calls", "If-None-Match with the current ETag: upstream calls during the 304s",
              requests=looked["conditional_304"]["count"]),
        entry("memory_largest_jpeg", largest_mb, budget_mb, "max", "MB",
              "peak RSS of one drop of the largest allowed JPEG (64 MP), end to end; target: "
              "one drop's share of the instance (2048 MB / 8 parallel drops)",
              outcome=mem["largest"]["outcome"], input_bytes=mem["largest_bytes"]),
        entry("memory_oversized_blob_downloaded_bytes", mem["oversized"]["bytes_downloaded"], 0,
              "max", "bytes", "a blob 10x the size cap is refused without being downloaded",
              outcome=mem["oversized"]["outcome"],
              peak_rss_delta_kib=mem["oversized"]["peak_rss_delta_kib"],
              blob_bytes=mem["oversized_bytes"]),
    ]


def cpu_figures(run: dict[str, Any]) -> dict[str, Any]:
    """CPU per drop for the whole stack (host, Azurite, emulator share this machine's cores),
    and the throughput those cores allow at that cost: the bound the machine sets, next to the
    latency bound the target is measured against."""
    cpu = run.get("cpu_seconds") or {}
    completed = run.get("completed") or 0
    if not cpu or not completed:
        return {}
    per_drop_ms = 1000 * sum(cpu.values()) / completed
    return {"cpu_ms_per_drop": round(per_drop_ms, 2),
            "cpu_ms_per_drop_by_part": {k: round(1000 * v / completed, 2) for k, v in cpu.items()},
            "cpu_bound_photos_per_second": round((os.cpu_count() or 1) * 1000 / per_drop_ms, 1)}


def storage_figures(run: dict[str, Any], requests: dict[str, Any], bound: float
                    ) -> dict[str, Any]:
    """What one Azurite can carry. Azurite serves requests on one Node.js thread, so its CPU per
    drop caps the whole local stack at about one core's worth of drops, on any machine, however
    fast photo-sync's own code is: the storage ceiling, next to the latency bound."""
    cpu = (run.get("cpu_seconds") or {}).get("azurite")
    completed = run.get("completed") or 0
    if not cpu or not completed or not requests.get("total"):
        return {}
    per_drop_ms = 1000 * cpu / completed
    ceiling = 1000 / per_drop_ms
    return {"storage_requests_per_drop": requests["total"],
            "storage_requests_per_drop_by_part": requests["per_drop"],
            "azurite_cpu_ms_per_request": round(per_drop_ms / requests["total"], 3),
            "azurite_bound_photos_per_second": round(ceiling, 1),
            "azurite_bound_vs_bound": round(ceiling / bound, 3)}


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| target | measured | goal | met | details |", "|---|---|---|---|---|"]
    for row in rows:
        goal = ("<= " if row["direction"] == "max" else ">= ") + f"{row['target']:g}"
        raw = row["raw"]
        details = ", ".join(f"{k}={v}" for k, v in raw.items()
                            if isinstance(v, int | float | str) and k != "bound_formula")
        measured = "n/a" if row["measured"] is None else f"{row['measured']:.3g}"
        lines.append(f"| {row['name']} ({row['unit']}) | {measured} | {goal} | "
                     f"{'yes' if row['met'] else '**no**'} | {details} |")
    return "\n".join(lines)


def worst_input_targets(worst: dict[str, Any]) -> list[dict[str, Any]]:
    """The costliest accepted photos (bench/worst_input.py): peak RSS and CPU of one drop."""
    rss, cpu = worst["worst_peak_rss"], worst["worst_cpu"]
    return [
        entry("worst_input_peak_rss", rss["peak_rss_mb"], worst["target_peak_rss_mb"], "max",
              "MB", "peak RSS of a fresh process preparing the accepted photo that needs the "
              "most memory (interpreter and libraries included); target: one drop's share of "
              "the instance (2048 MB / 8)", file=rss["what"],
              model_memory_mb=rss["model_memory_mb"], cpu_seconds=rss["cpu_seconds"]),
        entry("worst_input_cpu", cpu["cpu_seconds"], worst["target_cpu_seconds"], "max", "s",
              "CPU time preparing the accepted photo that costs the most work",
              file=cpu["what"], model_work_millions=cpu["model_work_millions"],
              peak_rss_mb=cpu["peak_rss_mb"]),
    ]


def main() -> int:
    from bench import worst_input
    from devstack.procs import stop_on_sigterm

    stop_on_sigterm()  # the stacks it starts are stopped, not orphaned, by a SIGTERM
    started = time.monotonic()
    ensure_bench_venv()
    RESULTS.mkdir(parents=True, exist_ok=True)
    raw: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="photo-bench-") as tmp:
        print("1/4 photo preparation ...", flush=True)
        raw["prep"] = bench_prep(Path(tmp))
        print("2/4 bulk sync (500 drops, photo-sync then the SDK baseline) ...", flush=True)
        raw["bulk"] = bench_bulk()
        print("3/4 cold start, lookups, memory ...", flush=True)
        raw["services"] = bench_services()
        print("4/4 the costliest photos the decode-cost limits accept ...", flush=True)
        raw["worst_input"] = worst_input.run()
    rows = targets(raw) + worst_input_targets(raw["worst_input"])
    elapsed = time.monotonic() - started
    document = {"generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
                "seconds": round(elapsed, 1), "targets": rows, "raw": raw}
    latest = RESULTS / "latest.json"
    latest.write_text(json.dumps(document, indent=2) + "\n")
    chart = RESULTS / "throughput.png"
    subprocess.run([str(BENCH_PYTHON), "-m", "bench.chart", str(latest), str(chart)],
                   cwd=REPO, check=True)
    print()
    print(table(rows))
    print()
    print(f"{sum(r['met'] for r in rows)} of {len(rows)} targets met in {elapsed:.0f} s; "
          f"{latest.relative_to(REPO)}, {chart.relative_to(REPO)}")
    if elapsed > RUN_BUDGET_SECONDS:
        print(f"warning: the run took longer than its {RUN_BUDGET_SECONDS} s budget")
    return 0


if __name__ == "__main__":
    sys.exit(main())
