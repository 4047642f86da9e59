"""The targets and raw figures of a ``make bench`` run, computed from what it measured.

A target's ``measured`` is the median of its repeats (each repeat a ratio of two figures taken
in the same repeat), with ``repeats`` holding the median, min, max and every value; a figure
the run could not measure is ``None`` (reported n/a) and never met. ``figures`` are reported
without a target, each with the reason it is not one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bench import capacity
from bench.common import spread

WORST_INPUT_PEAK_RSS_MB = 256
WORST_INPUT_CPU_S = 2.0


def entry(name: str, repeats: Sequence[float | None] | float | None, target: float,
          direction: str, unit: str, what: str, **raw: Any) -> dict[str, Any]:
    """One target: ``repeats`` is one value per repeat (or a single value)."""
    values = list(repeats) if isinstance(repeats, Sequence) else [repeats]
    summary = spread(values)
    measured = summary["median"]
    if measured is None:
        met = False
    else:
        met = measured <= target if direction == "max" else measured >= target
    return {"name": name, "measured": measured, "target": target, "direction": direction,
            "met": met, "unit": unit, "what": what,
            "repeats": summary if len(values) > 1 else None, "raw": raw}


def ratio(part: float | None, whole: float | None) -> float | None:
    """``part / whole``, or None when either could not be measured or ``whole`` is 0."""
    if part is None or not whole:
        return None
    return part / whole


def bound(parallelism: int, limit: int, mailboxes: int, latency_ms: float) -> float:
    """Drops per second no implementation can pass: ``min(P, limit x M)`` uploads in flight,
    each holding its slot for at least the API latency (one call per drop)."""
    return min(parallelism, limit * mailboxes) / (latency_ms / 1000)


def targets(raw: dict[str, Any]) -> list[dict[str, Any]]:
    return [*_prep_targets(raw["prep"]), *_bulk_targets(raw["bulk"]),
            *_concentrated_targets(raw["concentrated"]), *_worst_input_targets(
                raw.get("worst_input")), *_service_targets(raw["services"])]


# -- photo preparation --


def _prep_targets(prep: dict[str, Any]) -> list[dict[str, Any]]:
    rounds = prep["rounds"]
    cam = [r["camera"] for r in rounds]
    good = [r["good"] for r in rounds]
    last_cam, last_good = cam[-1], good[-1]
    return [
        entry("prep_large_time", [ratio(c["photo_sync"]["median_ms"], c["baseline"]["median_ms"])
                                  for c in cam], 0.35, "max", "x baseline time",
              "12 MP camera JPEG (EXIF orientation 6) to upload-ready, against plain Pillow",
              photo_sync_ms=last_cam["photo_sync"]["median_ms"],
              baseline_ms=last_cam["baseline"]["median_ms"]),
        entry("prep_large_memory_growth",
              [ratio(c["photo_sync"]["peak_rss_delta_kib"], c["baseline"]["peak_rss_delta_kib"])
               for c in cam], 0.5, "max", "x baseline growth",
              "same photo: peak RSS growth over the process's RSS before the run",
              photo_sync_mb=_mb(last_cam["photo_sync"]["peak_rss_delta_kib"]),
              baseline_mb=_mb(last_cam["baseline"]["peak_rss_delta_kib"])),
        entry("prep_good_vs_plain_pillow",
              [ratio(g["photo_sync"]["median_ms"], g["pillow_reencode"]["median_ms"])
               for g in good], 0.5, "max", "x plain Pillow re-encode",
              "already-good 648x648 photo: photo-sync's checks and lossless strip against "
              "Pillow's plain open, load and save",
              photo_sync_ms=last_good["photo_sync"]["median_ms"],
              pillow_reencode_ms=last_good["pillow_reencode"]["median_ms"]),
    ]


# -- bulk --


def _bulk_bound(bulk: dict[str, Any], latency_ms: float, drops: int) -> float:
    return bound(bulk["parallelism"], bulk["concurrency_limit"], drops, latency_ms)


def _bulk_targets(bulk: dict[str, Any]) -> list[dict[str, Any]]:
    reps = bulk["repeats"]
    latency = bulk["latency_ms"]
    limit = _bulk_bound(bulk, latency, bulk["drops"])
    fn = [r["function"]["photos_per_second"] for r in reps]
    base = [r["baseline"]["photos_per_second"] for r in reps]
    whole = [r["stack"]["photos_per_second"] for r in reps]
    common = {"drops": bulk["drops"], "parallelism": bulk["parallelism"],
              "latency_ms": latency}
    return [
        entry("function_bulk_vs_bound", [f / limit for f in fn], 0.8, "min", "x P/L",
              f"the blob-trigger function alone on {bulk['parallelism']} threads, "
              f"{bulk['drops']} drops over as many mailboxes, {latency} ms API latency, "
              f"against P/L = {limit:g}/s",
              photos_per_second=spread(fn, 2)["median"], bound_photos_per_second=limit,
              **common),
        entry("function_bulk_vs_baseline", [ratio(f, b) for f, b in zip(fn, base, strict=True)],
              0.9, "min", "x baseline",
              "same drops, same parallelism: storage SDK download, plain Pillow, msgraph-sdk "
              "upload", photos_per_second=spread(fn, 2)["median"],
              baseline_photos_per_second=spread(base, 2)["median"], **common),
        entry("stack_bulk_vs_function", [ratio(w, f) for w, f in zip(whole, fn, strict=True)],
              0.8, "min", "x function alone",
              "the whole local stack (Event Grid events in batches of 100, the host's queue and "
              "receipts, the function) against the function alone",
              photos_per_second=spread(whole, 2)["median"],
              function_photos_per_second=spread(fn, 2)["median"],
              intake_done_after_s=[r["stack"]["timeline"].get("intake_done_after_s")
                                   for r in reps],
              starved_by_intake_s=[r["stack"]["timeline"].get("starved_by_intake_s")
                                   for r in reps], **common),
    ]


# -- concentrated --


def _concentrated_targets(conc: dict[str, Any]) -> list[dict[str, Any]]:
    reps = conc["repeats"]
    ours = [r["photo_sync"] for r in reps]
    base = [r["baseline"] for r in reps]
    return [
        entry("concentrated_vs_baseline",
              [ratio(o["photos_per_second"], b["photos_per_second"])
               for o, b in zip(ours, base, strict=True)], 1.0, "min", "x baseline",
              f"{conc['drops']} drops over {conc['users']} mailboxes, each user's drops "
              "together (per-mailbox limit 4, 429 with Retry-After 1 beyond it)",
              photos_per_second=spread([o["photos_per_second"] for o in ours], 2)["median"],
              baseline_photos_per_second=spread([b["photos_per_second"] for b in base],
                                                2)["median"]),
        entry("concentrated_lost_or_misassigned", [_wrong(o, conc["drops"]) for o in ours], 0,
              "max", "drops or users",
              "photo-sync: drops without an outcome, uploads to the wrong user, users left "
              "without their newest drop's photo (checked in the emulator)",
              baseline_users_with_older_photo=[b["check"]["users_with_older_photo"]
                                               for b in base]),
    ]


def _wrong(run: dict[str, Any], drops: int) -> int:
    check = run["check"]
    return int(drops - run["completed"] + check["misassigned_uploads"]
            + check["users_with_older_photo"] + check["users_without_photo"])


# -- worst accepted input --


def _worst_input_targets(worst: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The costliest photos the decode-cost limits still accept (bench/worst_input.py), each
    prepared in a fresh process: the peak RSS of the one that needs the most memory and the
    CPU time of the one that needs the most work."""
    rss = (worst or {}).get("worst_peak_rss") or {}
    cpu = (worst or {}).get("worst_cpu") or {}
    return [
        entry("worst_input_peak_rss", rss.get("peak_rss_mb"), WORST_INPUT_PEAK_RSS_MB, "max",
              "MB", "peak RSS of a fresh process preparing the accepted photo that needs the "
              "most memory (interpreter and libraries included); target: one drop's share of "
              "the instance (2048 MB / 8)", file=rss.get("what"),
              model_memory_mb=rss.get("model_memory_mb"), cpu_seconds=rss.get("cpu_seconds")),
        entry("worst_input_cpu", cpu.get("cpu_seconds"), WORST_INPUT_CPU_S, "max", "s",
              "CPU time preparing the accepted photo that costs the most work",
              file=cpu.get("what"), model_work_millions=cpu.get("model_work_millions"),
              peak_rss_mb=cpu.get("peak_rss_mb")),
    ]


# -- cold start, lookups, memory --


def _service_targets(services: dict[str, Any]) -> list[dict[str, Any]]:
    cold, looked, mem = services["cold"], services["lookup"], services["memory"]
    pairs = list(zip(cold["photo_sync_s"], cold["baseline_s"], strict=True))
    rounds = looked["rounds"]
    budget = capacity.arithmetic(_mb(mem["largest"]["rss_before_kib"]),
                                 _mb(mem["largest"]["peak_rss_delta_kib"]))
    return [
        entry("cold_start", [ratio(o, b) for o, b in pairs], 0.5, "max", "x baseline",
              "fresh process to its first lookup answer, against the SDK's first photo.get()",
              photo_sync_s=cold["photo_sync_median_s"], baseline_s=cold["baseline_median_s"]),
        entry("lookup_hit_vs_miss", looked["hit_over_miss_p50"], 0.1, "max", "x miss (p50)",
              "through the local host, 20 ms API latency: a repeated lookup against a first one",
              hit_p50_ms=rounds[-1]["hit"]["p50_ms"], miss_p50_ms=rounds[-1]["miss"]["p50_ms"]),
        entry("lookup_304_upstream_calls", looked["upstream_calls_during_304s"], 0, "max",
              "calls", "If-None-Match with the current ETag: photo API calls during the 304s",
              requests=looked["conditional_304"]["count"]),
        entry("memory_largest_jpeg", _mb(mem["largest"]["peak_rss_delta_kib"]),
              budget.get("per_drop_budget_mb") or 0, "max", "MB",
              "growth of one drop of the largest allowed JPEG (64 MP), end to end, against one "
              "drop's share of the instance (Concurrency per instance)",
              outcome=mem["largest"]["outcome"], input_bytes=mem["largest_bytes"]),
        entry("memory_oversized_blob_downloaded_bytes", mem["oversized"]["bytes_downloaded"], 0,
              "max", "bytes", "a blob 10x the size cap is refused without being downloaded",
              outcome=mem["oversized"]["outcome"], blob_bytes=mem["oversized_bytes"]),
    ]


def _mb(kib: float | None) -> float | None:
    return None if kib is None else round(kib / 1024, 1)


# -- raw figures --


def figures(raw: dict[str, Any]) -> dict[str, Any]:
    """Figures reported without a target, each with why it is not one."""
    bulk, prep, mem = raw["bulk"], raw["prep"], raw["services"]["memory"]
    good = [r["good"] for r in prep["rounds"]]
    cam = [r["camera"] for r in prep["rounds"]]
    return {
        "other_latencies": [_latency_figure(bulk, run)
                            for run in bulk["other_latencies"].values()],
        "stack_breakdown": [r["stack"]["timeline"] for r in bulk["repeats"]],
        "stack_cpu_ms_per_drop": _cpu_per_drop(bulk["repeats"][-1]["stack"]),
        "azurite_ceiling": _azurite_ceiling(bulk),
        "good_vs_strict_reencode": spread(
            [ratio(g["photo_sync"]["median_ms"], g["reencode"]["median_ms"]) for g in good]),
        "large_photo_process_peak_mb": {
            "photo_sync": _mb(cam[-1]["photo_sync"]["process_peak_rss_kib"]),
            "baseline": _mb(cam[-1]["baseline"]["process_peak_rss_kib"]),
            "ratio": spread([ratio(c["photo_sync"]["process_peak_rss_kib"],
                                   c["baseline"]["process_peak_rss_kib"]) for c in cam])},
        "concentrated": _concentrated_figure(raw["concentrated"]),
        "capacity": capacity.arithmetic(_mb(mem["largest"]["rss_before_kib"]),
                                        _mb(mem["largest"]["peak_rss_delta_kib"])),
    }


def _latency_figure(bulk: dict[str, Any], run: dict[str, Any]) -> dict[str, Any]:
    limit = _bulk_bound(bulk, run["latency_ms"], run["drops"])
    fn = run["function"]["photos_per_second"]
    figure = {"latency_ms": run["latency_ms"], "drops": run["drops"],
              "bound_photos_per_second": limit, "function_photos_per_second": round(fn, 2),
              "function_vs_bound": round(fn / limit, 3),
              "baseline_photos_per_second": round(run["baseline"]["photos_per_second"], 2),
              "function_vs_baseline": round(fn / run["baseline"]["photos_per_second"], 3),
              "function_per_drop_ms": run["function"]["per_drop"]}
    if "stack" in run:
        figure["stack_photos_per_second"] = round(run["stack"]["photos_per_second"], 2)
        figure["stack_cpu_ms_per_drop"] = _cpu_per_drop(run["stack"])
    return figure


def _cpu_per_drop(run: dict[str, Any]) -> dict[str, float]:
    completed = run.get("completed") or 0
    cpu = run.get("cpu_seconds") or {}
    if not completed:
        return {}
    return {part: round(1000 * seconds / completed, 1) for part, seconds in cpu.items()}


def _azurite_ceiling(bulk: dict[str, Any]) -> dict[str, Any]:
    """What one Azurite carries: it serves every request on one Node.js thread, so its CPU per
    drop caps the whole local stack at about one core's worth of drops on any machine."""
    requests = bulk["storage_requests"]
    run = bulk["other_latencies"]["40"]["stack"]
    cpu = (run.get("cpu_seconds") or {}).get("azurite")
    if not cpu or not run.get("completed") or not requests.get("total"):
        return {"storage_requests_per_drop": requests.get("per_drop")}
    per_drop_ms = 1000 * cpu / run["completed"]
    return {"storage_requests_per_drop": requests["per_drop"],
            "storage_requests_total": requests["total"],
            "azurite_cpu_ms_per_drop": round(per_drop_ms, 2),
            "azurite_cpu_ms_per_request": round(per_drop_ms / requests["total"], 3),
            "azurite_ceiling_photos_per_second": round(1000 / per_drop_ms, 1)}


def _concentrated_figure(conc: dict[str, Any]) -> dict[str, Any]:
    last = conc["repeats"][-1]
    ours, base = last["photo_sync"], last["baseline"]
    return {"photo_sync": {"statuses": ours["statuses"], "uploads": ours["uploads"],
                           "throttled": ours["throttled"], **ours["check"]},
            "baseline": {"failures": base["failures"], "uploads": base["uploads"],
                         "throttled": base["throttled"], **base["check"]}}
