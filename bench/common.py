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


def spread(values: Sequence[float | None], digits: int = 4) -> dict[str, Any]:
    """The median of repeated measurements with their min and max; None when any repeat could
    not be measured (a figure is reported only if every repeat had it)."""
    if not values or any(v is None for v in values):
        return {"median": None, "min": None, "max": None, "values": list(values)}
    numbers = [float(v) for v in values if v is not None]
    return {"median": round(median(numbers), digits), "min": round(min(numbers), digits),
            "max": round(max(numbers), digits), "values": [round(v, digits) for v in numbers]}


def machine() -> dict[str, Any]:
    """What the figures were measured on: cores, CPU model, memory, Python, key packages."""
    import platform
    from importlib import metadata

    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    packages: dict[str, str | None] = {}
    for name in ("azure-functions", "azurefunctions-extensions-bindings-blob",
                 "azure-storage-blob", "azure-data-tables", "azure-storage-queue",
                 "azure-core", "requests", "msal", "Pillow", "simplejpeg", "numpy"):
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            packages[name] = None
    return {"cpus": os.cpu_count(), "cpu_model": model, "memory_mb": _meminfo_mb(),
            "python": platform.python_version(), "platform": platform.platform(),
            "packages": packages, "baseline_packages": _baseline_packages(),
            "azurite": _azurite_version(), "load_average_at_start": _loadavg()}


def _meminfo_mb() -> int | None:
    try:
        text = Path("/proc/meminfo").read_text()
    except OSError:
        return None
    match = re.search(r"^MemTotal:\s+(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) // 1024 if match else None


def _loadavg() -> list[float] | None:
    try:
        return [float(v) for v in Path("/proc/loadavg").read_text().split()[:3]]
    except (OSError, ValueError):
        return None


def _baseline_packages() -> dict[str, str]:
    """The baseline's pinned versions (bench/requirements-bench.txt) that matter to it."""
    wanted = {"msgraph-sdk", "azure-identity", "azure-storage-blob", "pillow", "httpx"}
    found = {}
    for line in (BENCH / "requirements-bench.txt").read_text().splitlines():
        name, sep, version = line.strip().partition("==")
        if sep and name.lower() in wanted:
            found[name] = version
    return found


def _azurite_version() -> str | None:
    try:
        document = json.loads((REPO / "node_modules" / "azurite" / "package.json").read_text())
    except (OSError, ValueError):
        return None
    return str(document.get("version"))


def git_state() -> dict[str, Any]:
    """The commit measured, and whether the tree had changes on top of it."""
    def git(*args: str) -> str:
        proc = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True,
                              check=False)
        return proc.stdout.strip()

    return {"commit": git("rev-parse", "HEAD") or None,
            "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}
