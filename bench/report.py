"""docs/performance.md's tables, generated from bench/results/latest.json.

The page's prose is written by hand; every figure in it sits in a generated block between
``<!-- generated:NAME -->`` and ``<!-- /generated:NAME -->``, which ``update_docs`` rewrites
from a results document (``make bench`` does it after every run). tests/unit/test_bench_report.py
renders the page from the committed results in memory and compares (``make test`` runs it: the
committed figures and the page cannot drift apart). ``python -m bench.report`` regenerates the
page from the committed results without running anything.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import REPO, RESULTS

DOC = REPO / "docs" / "performance.md"
LATEST = RESULTS / "latest.json"
_BLOCK = re.compile(r"(<!-- generated:(?P<name>[a-z_]+) -->\n)(?P<body>.*?)"
                    r"(<!-- /generated:(?P=name) -->)", re.DOTALL)


def fmt(value: Any, digits: int = 3) -> str:
    """A figure for a table: n/a when unmeasured, 3 significant digits, thousands separated."""
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value == 0:
            return "0"
        if abs(value) >= 10 ** digits:
            return f"{value:,.0f}"
        return f"{value:.{digits}g}"
    return str(value)


def _row(*cells: Any) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def targets_table(document: dict[str, Any]) -> str:
    lines = [_row("target", "measured (median)", "min - max of repeats", "goal", "met",
                  "what"), _row(*["---"] * 6)]
    for row in document["targets"]:
        goal = ("<= " if row["direction"] == "max" else ">= ") + fmt(row["target"])
        repeats = row.get("repeats")
        span = (f"{fmt(repeats['min'])} - {fmt(repeats['max'])} ({len(repeats['values'])})"
                if repeats and repeats["min"] is not None else "")
        measured = fmt(row["measured"])
        lines.append(_row(f"`{row['name']}`", f"{measured} {row['unit']}", span, goal,
                          "yes" if row["met"] else "**no**", row["what"]))
    return "\n".join(lines)


def _provenance(document: dict[str, Any]) -> str:
    m, git = document["machine"], document["git"]
    commit = (git.get("commit") or "unknown")[:12] + (" (with local changes)"
                                                      if git.get("dirty") else "")
    load = m.get("load_average_at_start")
    loaded = f"; load average {fmt(load[0])} at the start" if load else ""
    return (f"Measured {document['generated']} on commit `{commit}`: {m['cpus']} cores "
            f"({m['cpu_model']}), {fmt(m.get('memory_mb'))} MB, Python {m['python']}, "
            f"Azurite {m.get('azurite')}{loaded}; the run took {fmt(document['seconds'])} s. "
            "Package versions are in `bench/results/latest.json` (`machine`).")


def _target(document: dict[str, Any], name: str) -> dict[str, Any]:
    return next(row for row in document["targets"] if row["name"] == name)


def _latencies(document: dict[str, Any]) -> str:
    bulk = document["raw"]["bulk"]
    fn = _target(document, "function_bulk_vs_bound")["raw"]
    base = _target(document, "function_bulk_vs_baseline")["raw"]
    whole = _target(document, "stack_bulk_vs_function")["raw"]
    lines = [_row("API latency", "drops", "P/L bound /s", "function /s", "x bound",
                  "baseline /s", "function x baseline", "whole stack /s"),
             _row(*["---"] * 8)]
    lines.append(_row(f"{bulk['latency_ms']} ms (the targets; medians)", bulk["drops"],
                      fmt(fn["bound_photos_per_second"]), fmt(fn["photos_per_second"]),
                      fmt(fn["photos_per_second"] / fn["bound_photos_per_second"]),
                      fmt(base["baseline_photos_per_second"]),
                      fmt(base["photos_per_second"] / base["baseline_photos_per_second"]),
                      fmt(whole["photos_per_second"])))
    for fig in document["figures"]["other_latencies"]:
        lines.append(_row(f"{fig['latency_ms']} ms", fig["drops"],
                          fmt(fig["bound_photos_per_second"]),
                          fmt(fig["function_photos_per_second"]), fmt(fig["function_vs_bound"]),
                          fmt(fig["baseline_photos_per_second"]),
                          fmt(fig["function_vs_baseline"]),
                          fmt(fig.get("stack_photos_per_second"))))
    return "\n".join(lines)


def _function(document: dict[str, Any]) -> str:
    """Where the function's own time goes, per drop, at the targets' latency."""
    repeats = [r["function"] for r in document["raw"]["bulk"]["repeats"]]
    lines = [_row("per drop (ms)", *[f"repeat {n}" for n in range(1, len(repeats) + 1)]),
             _row(*["---"] * (len(repeats) + 1))]
    for key, label in (("wall_ms", "invocation, end to end"),
                       ("storage_ms", "storage requests"), ("api_ms", "the photo API call"),
                       ("own_ms", "the rest: checks, Python, waiting for the GIL")):
        lines.append(_row(label, *[fmt(r["per_drop"].get(key)) for r in repeats]))
    lines.append(_row("CPU of the function's process",
                      *[fmt(r.get("cpu_ms_per_drop")) for r in repeats]))
    calls = repeats[-1].get("by_call") or {}
    lines += ["", _row("request (last repeat)", "per drop", "mean ms"), _row("---", "---", "---")]
    drops = repeats[-1]["drops"]
    lines += [_row(f"`{what}`", fmt(round(c["n"] / drops, 2)), fmt(c["mean_ms"]))
              for what, c in sorted(calls.items())]
    return "\n".join(lines)


_PARTS = (("intake", "event intake: from the first event posted until this drop's was queued"),
          ("queue_wait", "queue wait: until a worker took it"),
          ("host_receipt_check", "the host's receipt check"),
          ("function_storage", "the function's storage requests"),
          ("function_api", "the function's photo API call"),
          ("function_other", "the function's own work (checks, Python, waiting for the GIL)"),
          ("host_receipt_and_delete", "the host's receipt and message delete, holding the slot"),
          ("host_receipt_after_slot", "the host's receipt, on a completion thread (slot free)"),
          ("total", "from the first event to the drop's end"))


def _breakdown(document: dict[str, Any]) -> str:
    timelines = [t for t in document["figures"]["stack_breakdown"] if t]
    if not timelines:
        return "(not measured)"
    lines = [_row("part of a drop", *[f"repeat {n} (ms)" for n in
                                      range(1, len(timelines) + 1)]),
             _row(*["---"] * (len(timelines) + 1))]
    for key, label in _PARTS:
        lines.append(_row(label, *[fmt(t["per_drop_ms"].get(key)) for t in timelines]))
    lines.append(_row("storage requests per invocation",
                      *[fmt(t["function_storage_calls"]) for t in timelines]))
    lines.append(_row("all events queued after (s)",
                      *[fmt(t["intake_done_after_s"]) for t in timelines]))
    lines.append(_row("seconds a worker waited for the intake (free slot, empty queue)",
                      *[fmt(t["starved_by_intake_s"]) for t in timelines]))
    return "\n".join(lines)


def _ceiling(document: dict[str, Any]) -> str:
    fig = document["figures"]["azurite_ceiling"]
    cpu = document["figures"]["stack_cpu_ms_per_drop"]
    per = fig.get("storage_requests_per_drop") or {}
    lines = [_row("figure", "value"), _row("---", "---")]
    lines += [_row(f"storage requests per drop: {who}", fmt(n)) for who, n in per.items()]
    for key, label in (("azurite_cpu_ms_per_request", "Azurite CPU per request (ms)"),
                       ("azurite_ceiling_photos_per_second",
                        "one Azurite's ceiling: drops per second at one core")):
        lines.append(_row(label, fmt(fig.get(key))))
    lines += [_row(f"CPU per drop at {document['raw']['bulk']['latency_ms']} ms: {part} (ms)",
                   fmt(ms)) for part, ms in cpu.items()]
    return "\n".join(lines)


def _concentrated(document: dict[str, Any]) -> str:
    fig = document["figures"]["concentrated"]
    keys = (("uploads", "uploads to the API"), ("throttled", "429 answers"),
            ("users_with_newest_photo", "users left with their newest drop's photo"),
            ("users_with_older_photo", "users left with an older photo"),
            ("misassigned_uploads", "uploads to the wrong user"))
    lines = [_row("last repeat", "photo-sync", "baseline"), _row("---", "---", "---")]
    lines += [_row(label, fmt(fig["photo_sync"].get(k)), fmt(fig["baseline"].get(k)))
              for k, label in keys]
    return "\n".join(lines)


def _capacity(document: dict[str, Any]) -> str:
    cap = document["figures"]["capacity"]
    rows = (("instance_memory_mb", "instance memory (instanceMemoryMB), MB"),
            ("max_degree_of_parallelism", "drops dispatched at once (maxDegreeOfParallelism), P"),
            ("worker_threads", "worker threads (PYTHON_THREADPOOL_THREAD_COUNT), T"),
            ("other_threads", "threads kept for lookups and the timer"),
            ("default_threads_one_core", "threads without the setting on a one-core instance"),
            ("host_reserve_mb", "the Functions host and the OS, MB (assumed)"),
            ("worker_base_mb", "the worker after its first drop, MB (measured)"),
            ("per_drop_mb", "the worst growth one drop caused, MB (measured)"),
            ("per_drop_budget_mb", "one drop's share of what is left, MB"),
            ("needed_mb", "worker + P x worst drop + host, MB"),
            ("headroom_mb", "headroom, MB"),
            ("drops_that_fit", "worst-case drops that fit"))
    lines = [_row("figure", "value"), _row("---", "---")]
    lines += [_row(label, fmt(cap.get(key))) for key, label in rows]
    return "\n".join(lines)


def _prep(document: dict[str, Any]) -> str:
    fig = document["figures"]
    strict = fig["good_vs_strict_reencode"]
    peaks = fig["large_photo_process_peak_mb"]
    growth = _target(document, "prep_large_memory_growth")["raw"]
    return "\n".join([
        _row("figure", "photo-sync", "baseline", "ratio (median, min - max)"),
        _row(*["---"] * 4),
        _row("already-good photo against photo-sync's own strict re-encode", "", "",
             f"{fmt(strict['median'])} ({fmt(strict['min'])} - {fmt(strict['max'])})"),
        _row("12 MP photo: growth over the process's start, MB",
             fmt(growth.get("photo_sync_mb")), fmt(growth.get("baseline_mb")), ""),
        _row("12 MP photo: whole-process peak RSS, MB", fmt(peaks["photo_sync"]),
             fmt(peaks["baseline"]),
             f"{fmt(peaks['ratio']['median'])} ({fmt(peaks['ratio']['min'])} - "
             f"{fmt(peaks['ratio']['max'])})"),
    ])


BLOCKS: dict[str, Callable[[dict[str, Any]], str]] = {
    "provenance": _provenance, "targets": targets_table, "latencies": _latencies,
    "function": _function,
    "breakdown": _breakdown, "ceiling": _ceiling, "concentrated": _concentrated,
    "prep": _prep, "capacity": _capacity,
}


def render(page: str, document: dict[str, Any]) -> str:
    """``page`` with every generated block rewritten from ``document``."""
    def block(match: re.Match[str]) -> str:
        make = BLOCKS.get(match.group("name"))
        if make is None:
            raise KeyError(f"docs/performance.md has an unknown block {match.group('name')!r}")
        return f"{match.group(1)}{make(document)}\n{match.group(4)}"

    return _BLOCK.sub(block, page)


def blocks(page: str) -> list[str]:
    return [m.group("name") for m in _BLOCK.finditer(page)]


def update_docs(document: dict[str, Any], doc: Path = DOC) -> None:
    doc.write_text(render(doc.read_text(encoding="utf-8"), document), encoding="utf-8")


def main() -> int:
    update_docs(json.loads(LATEST.read_text(encoding="utf-8")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
