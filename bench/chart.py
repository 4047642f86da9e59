"""Draw the bulk-sync throughput run (completed drops over time) as a PNG. Runs in .venv-bench
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
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    for key, label, colour in (("photo_sync", "photo-sync (local stack)", "#1f6fb2"),
                               ("baseline", "msgraph-sdk + Pillow baseline", "#d9822b")):
        series = bulk[key]["series"]
        rate = bulk[key]["photos_per_second"]
        ax.plot([t for t, _ in series], [n for _, n in series], label=f"{label}: {rate:.1f}/s",
                color=colour, linewidth=2)
    bound = bulk["bound_photos_per_second"]
    end = max(bulk["photo_sync"]["seconds"], bulk["baseline"]["seconds"])
    drops = bulk["drops"]
    ax.plot([0, drops / bound], [0, drops], linestyle="--", color="#555555",
            label=f"theoretical bound: {bound:.0f}/s")
    ax.set_xlim(0, end * 1.05)
    ax.set_ylim(0, drops * 1.05)
    ax.set_xlabel("seconds since the first event")
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
