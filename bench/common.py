"""Small helpers shared by the benchmarks: paths, subprocesses, statistics, memory."""

from __future__ import annotations

import json
import math
import os
import re
import statistics
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
RESULTS = BENCH / "results"
PYTHON = REPO / ".venv" / "bin" / "python"  # photo-sync's own virtualenv
BENCH_VENV = REPO / ".venv-bench"
BENCH_PYTHON = BENCH_VENV / "bin" / "python"  # the baseline's virtualenv (msgraph-sdk)


def run_json(python: Path | str, args: Sequence[str], *, timeout: float = 300.0,
             env: dict[str, str] | None = None, cwd: Path = REPO) -> Any:
    """Run ``python args...`` and parse the last stdout line as JSON (stderr passes through)."""
    merged = {**os.environ, **(env or {})}
    proc = subprocess.run([str(python), *args], capture_output=True, text=True, timeout=timeout,
                          env=merged, cwd=cwd, check=False)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-4000:])
        raise RuntimeError(f"{python} {' '.join(args)} exited {proc.returncode}")
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    if not lines:
        raise RuntimeError(f"{' '.join(args)} printed nothing")
    return json.loads(lines[-1])


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    # ceil(p x n / 100), with p x n first so whole ranks stay exact (round() would round
    # half to even: p99 of 100 values would be the maximum).
    rank = max(1, min(len(ordered), math.ceil(p * len(ordered) / 100)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def rss_kib() -> int:
    """This process's resident set size now, in KiB (Linux)."""
    return _status_field("VmRSS")


def peak_rss_kib() -> int:
    """This process's peak resident set size since start or the last ``reset_peak_rss``."""
    return _status_field("VmHWM")


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (``/proc/self/clear_refs`` 5); False if not allowed."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _status_field(name: str) -> int:
    text = Path("/proc/self/status").read_text()
    match = re.search(rf"^{name}:\s+(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) if match else 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its waited-for children, in seconds."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / ticks


def tree_pids(pid: int) -> list[int]:
    """``pid`` and its descendants (npx -> node for Azurite)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found
