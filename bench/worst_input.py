"""The costliest photo the decode-cost limits still accept: its peak RSS and CPU, as targets.

The limits (``PHOTO_MAX_DECODE_MB``, ``PHOTO_MAX_DECODE_WORK``) are estimates from the header;
this measures what they let through. For each kind of worst case it builds the largest file
the default policy still accepts (asking ``photo_core.photos.photo_cost``, the check itself)
and runs ``prepare_photo`` on it in a fresh process (``python -m bench.worst_input child
FILE``): imports and a warm-up first, then the photo, reporting the process's peak RSS
(``VmHWM``: interpreter, libraries and the photo together) and the CPU time (user + system,
``time.process_time``) of the photo alone. The targets are one drop's share of a 2048 MB
instance running ``maxDegreeOfParallelism`` 8 drops (256 MB) and 2 s of CPU.

The candidates (hand-built in ``tests.adversarial.cost_files``, flat grey, so only the
structure costs):

* memory: the largest square progressive CMYK, 4:4:4 and 4:2:0 files, and a sequential file
  with one scan per component, under the memory limit;
* work: the many-scan files (single-coefficient scans of end-of-band runs) with the most scans
  under the work limit, gray at 8000x8000 and CMYK (decoded twice) at 2000x2000.

Run alone, ``.venv/bin/python -m bench.worst_input`` also measures the calibration set with
the limits lifted (the hostile files of issue #12 and ordinary camera exports: what each
really costs next to what the model estimates) and writes everything to
``bench/worst_input.json``, the committed figures docs/photo-checks.md quotes.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import PYTHON, REPO, run_json
from photo_core.domain.errors import InvalidPhoto

TARGET_PEAK_RSS_MB = 2048 / 8
TARGET_CPU_SECONDS = 2.0


def _accepted(data: bytes) -> bool:
    from photo_core.photos import ImagePolicy, photo_cost

    try:
        photo_cost(data, ImagePolicy())
    except InvalidPhoto:
        return False
    return True


def _largest(build: Callable[[int], bytes], low: int, high: int) -> tuple[int, bytes]:
    """The largest ``n`` in low..high whose ``build(n)`` is accepted (binary search; accepted
    is monotone in n), with its bytes."""
    if not _accepted(build(low)):
        raise RuntimeError(f"even n={low} is refused")
    while low < high:
        middle = (low + high + 1) // 2
        if _accepted(build(middle)):
            low = middle
        else:
            high = middle - 1
    return low, build(low)


def candidates() -> dict[str, tuple[str, bytes]]:
    """name -> (what it is, bytes): the worst accepted file of each kind."""
    from tests.adversarial import cost_files as cf

    found: dict[str, tuple[str, bytes]] = {}
    for layout in ("cmyk", "444", "420"):
        def square(n: int, layout: str = layout) -> bytes:
            return cf.flat_progressive(8 * n, 8 * n, layout)

        side, data = _largest(square, 64, 1000)
        found[f"progressive_{layout}"] = (f"progressive {layout}, {8 * side}x{8 * side}", data)
    side, data = _largest(lambda n: cf.flat_sequential(8 * n, 8 * n, "444", interleaved=False),
                          64, 1000)
    found["sequential_444_one_scan_per_component"] = (
        f"sequential 4:4:4, one scan per component, {8 * side}x{8 * side}", data)
    scans, data = _largest(lambda n: cf.eob_flood(8000, 8000, "gray", n), 64, 883)
    found["many_scans_gray"] = (f"gray 8000x8000, {scans} scans", data)
    scans, data = _largest(lambda n: cf.eob_flood(2000, 2000, "cmyk", n), 253, 999)
    found["many_scans_cmyk"] = (f"CMYK 2000x2000 (verified, then decoded by Pillow), "
                                f"{scans} scans", data)
    return found


def calibration_set() -> dict[str, tuple[str, Callable[[], bytes]]]:
    """The files the model was fitted on: hostile ones and ordinary exports."""
    from tests.adversarial import cost_files as cf

    return {
        "hostile_progressive_cmyk_8000x7999": ("progressive CMYK 8000x7999, 18 scans",
                                               cf.cmyk_progressive_8000x7999),
        "hostile_progressive_444_8000x7999": ("progressive 4:4:4 8000x7999, 10 scans",
                                              cf.ycc444_progressive_8000x7999),
        "hostile_progressive_420_8000x7999": (
            "progressive 4:2:0 8000x7999, 10 scans",
            lambda: cf.flat_progressive(8000, 7999, "420")),
        "hostile_many_scans_gray_8000x8000": ("gray 8000x8000, 883 scans", cf.eob_flood),
        "hostile_many_scans_444_4000x4000": ("4:4:4 4000x4000, 999 scans",
                                             lambda: cf.eob_flood(4000, 4000, "444", 999)),
        "hostile_many_scans_cmyk_3000x3000": ("CMYK 3000x3000, 999 scans",
                                              lambda: cf.eob_flood(3000, 3000, "cmyk", 999)),
        "camera_12mp_progressive_420": ("12 MP camera export, progressive 4:2:0",
                                        cf.camera_export),
        "camera_12mp_progressive_444": ("12 MP camera export, progressive 4:4:4",
                                        lambda: cf.camera_export(subsampling=0)),
        "camera_24mp_progressive_444": ("24 MP camera export, progressive 4:4:4",
                                        lambda: cf.camera_export((6000, 4000), subsampling=0)),
        "camera_24mp_baseline_420": ("24 MP camera export, baseline 4:2:0",
                                     lambda: cf.camera_export((6000, 4000), progressive=False)),
        "camera_64mp_baseline_444": (
            "64 MP export, baseline 4:4:4 (the pixel cap)",
            lambda: cf.camera_export((8000, 8000), progressive=False, subsampling=0,
                                     quality=80)),
    }


def calibrate() -> dict[str, Any]:
    """Each calibration file measured with the limits lifted, next to the model's figures."""
    from photo_core.photos import ImagePolicy, photo_cost

    lifted = ImagePolicy(max_decode_bytes=2**50, max_decode_work=2**50)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="photo-calibrate-") as tmp:
        for name, (what, build) in calibration_set().items():
            data = build()
            path = Path(tmp) / f"{name}.jpg"
            path.write_bytes(data)
            measured = run_json(PYTHON, ["-m", "bench.worst_input", "child", str(path),
                                         "--lifted"], timeout=300)
            cost = photo_cost(data, lifted)
            try:
                photo_cost(data, ImagePolicy())
                verdict = "accepted"
            except InvalidPhoto as exc:
                verdict = exc.code
            results[name] = {"what": what, **measured, "verdict": verdict,
                             "model_memory_mb": round(cost.memory_bytes / 2**20, 1),
                             "model_work_millions": round(cost.work / 1e6, 1)}
    return results


def child(path: str, lifted: bool = False) -> int:
    """Measure one photo in this (fresh) process; print one JSON line. ``lifted``: with the
    decode-cost limits lifted (to measure what a refused file would have cost)."""
    from bench.common import peak_rss_kib, reset_peak_rss, rss_kib
    from photo_core.domain.errors import InvalidPhoto
    from photo_core.photos import ImagePolicy, prepare_photo
    from tests.unit import jpeg_corpus as corpus

    policy = ImagePolicy(max_decode_bytes=2**50, max_decode_work=2**50) if lifted else (
        ImagePolicy())
    for warm in (corpus.baseline(), corpus.progressive(), corpus.cmyk()):
        prepare_photo(warm, policy)  # every library loaded, every code path run once
    data = Path(path).read_bytes()
    reset = reset_peak_rss()
    before = rss_kib()
    started = time.process_time()
    try:
        prepare_photo(data, policy)
        outcome = "accepted"
    except InvalidPhoto as exc:
        outcome = exc.code
    cpu = time.process_time() - started
    sys.stdout.write(json.dumps({"outcome": outcome, "cpu_seconds": round(cpu, 3),
                                 "peak_rss_mb": round(peak_rss_kib() / 1024, 1),
                                 "peak_rss_above_start_mb": round(
                                     (peak_rss_kib() - before) / 1024, 1) if reset else None,
                                 "bytes": len(data)}) + "\n")
    return 0


def run() -> dict[str, Any]:
    """Every candidate measured in its own process; the worst figures and all of them."""
    from photo_core.photos import ImagePolicy, photo_cost

    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="photo-worst-") as tmp:
        for name, (what, data) in candidates().items():
            path = Path(tmp) / f"{name}.jpg"
            path.write_bytes(data)
            measured = run_json(PYTHON, ["-m", "bench.worst_input", "child", str(path)],
                                timeout=300)
            cost = photo_cost(data, ImagePolicy())
            results[name] = {"what": what, **measured,
                             "model_memory_mb": round(cost.memory_bytes / 2**20, 1),
                             "model_work_millions": round(cost.work / 1e6, 1)}
    worst_rss = max(results, key=lambda k: results[k]["peak_rss_mb"])
    worst_cpu = max(results, key=lambda k: results[k]["cpu_seconds"])
    return {"target_peak_rss_mb": TARGET_PEAK_RSS_MB, "target_cpu_seconds": TARGET_CPU_SECONDS,
            "worst_peak_rss": {"name": worst_rss, **results[worst_rss]},
            "worst_cpu": {"name": worst_cpu, **results[worst_cpu]},
            "files": results, "cpus": os.cpu_count()}


RESULTS_FILE = REPO / "bench" / "worst_input.json"


def markdown(figures: dict[str, Any]) -> tuple[str, str]:
    """The two tables docs/photo-checks.md shows (calibration, worst accepted), from the
    results file: the docs quote these figures, never typed-in ones."""
    calibration = [
        "| file | bytes | verdict | peak RSS (MB) | above start (MB) | CPU (s) "
        "| model memory (MB) | model work (millions) |", "|---|---|---|---|---|---|---|---|",
        *(f"| `{name}`: {r['what']} | {r['bytes']:,} | {r['verdict']} | {r['peak_rss_mb']} "
          f"| {r['peak_rss_above_start_mb']} | {r['cpu_seconds']} | {r['model_memory_mb']} "
          f"| {r['model_work_millions']} |" for name, r in figures["calibration"].items())]
    worst = [
        "| worst accepted | peak RSS (MB) | CPU (s) | model memory (MB) "
        "| model work (millions) |", "|---|---|---|---|---|",
        *(f"| `{name}`: {r['what']} | {r['peak_rss_mb']} | {r['cpu_seconds']} "
          f"| {r['model_memory_mb']} | {r['model_work_millions']} |"
          for name, r in figures["files"].items())]
    return "\n".join(calibration), "\n".join(worst)

if __name__ == "__main__":
    if sys.argv[1:2] == ["child"]:
        sys.exit(child(sys.argv[2], lifted="--lifted" in sys.argv))
    os.chdir(REPO)
    figures = {"generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **run(),
               "calibration": calibrate()}
    RESULTS_FILE.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))
