"""Draw the first bulk repeat (drops completed over time) as a PNG. Runs in .venv-bench
(matplotlib): ``python -m bench.chart RESULTS_JSON OUT_PNG``."""

from __future__ import annotations

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def main(source: str, target: str) -> int:
    with open(source) as handle:
        results = json.load(handle)
    bulk = results["raw"]["bulk"]
    first = bulk["repeats"][0]
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    end = 0.0
    for key, label, colour in (("function", "photo-sync: the function alone", "#1f6fb2"),
                               ("stack", "photo-sync: the whole local stack", "#2f9e44"),
                               ("baseline", "msgraph-sdk + Pillow baseline", "#d9822b")):
        series = first[key].get("series") or []
        if not series:
            continue
        rate = first[key]["photos_per_second"]
        ax.plot([t for t, _ in series], [n for _, n in series], label=f"{label}: {rate:.1f}/s",
                color=colour, linewidth=2)
        end = max(end, series[-1][0])
    drops = bulk["drops"]
    bound = min(bulk["parallelism"], bulk["concurrency_limit"] * drops) / (
        bulk["latency_ms"] / 1000)
    ax.plot([0, drops / bound], [0, drops], linestyle="--", color="#555555",
            label=f"P/L bound: {bound:.1f}/s")
    ax.set_xlim(0, max(end, drops / bound) * 1.05)
    ax.set_ylim(0, drops * 1.05)
    ax.set_xlabel("seconds since the first drop was handed over")
    ax.set_ylabel("drops completed")
    ax.set_title(f"Bulk sync: {drops} drops, {bulk['latency_ms']} ms API latency, "
                 f"parallelism {bulk['parallelism']}")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(target)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
