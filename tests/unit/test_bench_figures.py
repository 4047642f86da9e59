"""The benchmark's own arithmetic: percentiles, repeats, ratios it cannot measure, who made a
request, where a drop's time went, and whether the intake starved the workers."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bench.bulk import _requester, breakdown
from bench.common import REPO, percentile, spread
from bench.targets import bound, entry, ratio
from bench.worst_input import RESULTS_FILE, markdown


@pytest.mark.parametrize(("n", "p", "rank"), [
    (100, 99, 99),  # not the maximum
    (500, 99, 495),
    (100, 50, 50),
    (20, 95, 19),
    (1, 99, 1),
    (3, 0, 1),
    (3, 100, 3),
])
def test_percentile_is_the_nearest_rank(n: int, p: float, rank: int) -> None:
    assert percentile([float(v) for v in range(1, n + 1)], p) == rank


def test_a_target_is_the_median_of_its_repeats_with_min_and_max_beside_it() -> None:
    row = entry("x", [0.9, 0.7, 0.8], 0.75, "min", "x", "")
    assert row["measured"] == 0.8 and row["met"] is True
    assert (row["repeats"]["min"], row["repeats"]["max"]) == (0.7, 0.9)
    assert spread([3.0, 1.0, 2.0])["values"] == [3.0, 1.0, 2.0]


def test_a_figure_that_could_not_be_measured_is_reported_as_such_and_not_met() -> None:
    assert ratio(None, 100) is None
    assert ratio(10, 0) is None
    assert ratio(10, 40) == 0.25
    row = entry("prep_large_memory_growth", None, 0.5, "max", "x", "peak memory")
    assert row["measured"] is None and row["met"] is False
    one_missing = entry("x", [0.1, None, 0.2], 0.5, "max", "x", "")
    assert one_missing["measured"] is None and one_missing["met"] is False
    assert entry("x", 0.4, 0.5, "max", "x", "")["met"] is True
    assert entry("x", 0.4, 0.5, "min", "x", "")["met"] is False


def test_the_bound_is_the_drops_in_flight_over_the_latency() -> None:
    assert bound(8, 4, 400, 300) == pytest.approx(26.667, abs=1e-3)
    assert bound(8, 4, 1, 300) == pytest.approx(13.333, abs=1e-3)  # one mailbox: 4 at once


@pytest.mark.parametrize(("method", "path", "who"), [
    ("POST", "/devstoreaccount1/azure-webjobs-blobtrigger-local-1/messages", "host"),
    ("PUT", "/devstoreaccount1/azure-webjobs-hosts/blobreceipts/h/f/0x1/hr-photos/a.jpg", "host"),
    ("PUT", "/devstoreaccount1/hr-photos/a%40contoso.com.jpg", "bench"),
    ("GET", "/devstoreaccount1/hr-photos?restype=container&comp=list", "bench"),
    ("PUT", "/devstoreaccount1/hr-photos/a%40contoso.com.jpg?comp=metadata", "function"),
    ("HEAD", "/devstoreaccount1/hr-photos/a%40contoso.com.jpg", "function"),
    ("POST", "/devstoreaccount1/photosyncstate", "function"),
    ("GET", "/devstoreaccount1?comp=properties&restype=service", "account"),
])
def test_each_logged_storage_request_is_put_down_to_who_made_it(method: str, path: str,
                                                                 who: str) -> None:
    assert _requester(method, path) == who


def test_the_decode_cost_figures_in_the_docs_are_the_committed_results() -> None:
    """docs/photo-checks.md quotes bench/worst_input.json (written by
    ``python -m bench.worst_input``): every table row, and the worst two within target."""
    figures = json.loads(RESULTS_FILE.read_text())
    docs = (REPO / "docs" / "photo-checks.md").read_text()
    for table in markdown(figures):
        assert table in docs
    assert figures["worst_peak_rss"]["peak_rss_mb"] <= figures["target_peak_rss_mb"]
    assert figures["worst_cpu"]["cpu_seconds"] <= figures["target_cpu_seconds"]
    assert all(r["outcome"] == "accepted" for r in figures["files"].values())


def _work(drop: str, started: float, ended: float) -> dict[str, Any]:
    return {"kind": "work", "drop": drop, "started": started, "ended": ended,
            "has_receipt": 0.01, "write_receipt": 0.02, "delete": 0.01,
            "function": {"storage_s": 0.1, "api_s": 0.3, "own_s": 0.05, "storage_calls": 8}}


def test_a_drops_time_is_split_into_intake_queue_host_and_function() -> None:
    records = [{"kind": "intake", "drop": "a", "started": 10.0, "ended": 10.5},
               _work("a", 11.0, 11.5), {"kind": "receive", "count": 1, "started": 10.6,
                                        "ended": 10.7}]
    result = breakdown(records, 10.0, {"a"}, parallelism=1)
    ms = result["per_drop_ms"]
    assert (ms["intake"], ms["queue_wait"], ms["total"]) == (500.0, 500.0, 1500.0)
    assert (ms["function_api"], ms["host_receipt_and_delete"]) == (300.0, 30.0)
    assert result["messages_per_receive"] == 1.0


def test_workers_are_starved_by_the_intake_only_while_a_slot_is_free_and_the_queue_empty(
        ) -> None:
    # One worker. "a" is queued at 1 and runs 1-2; "b" is queued only at 3 and runs 3-4:
    # from 0 to 1 and from 2 to 3 the worker had nothing to do while "b" was not yet taken in.
    records = [{"kind": "intake", "drop": "a", "started": 0.5, "ended": 1.0},
               {"kind": "intake", "drop": "b", "started": 2.5, "ended": 3.0},
               _work("a", 1.0, 2.0), _work("b", 3.0, 4.0)]
    assert breakdown(records, 0.0, {"a", "b"}, parallelism=1)["starved_by_intake_s"] == 2.0
    # Both queued at once: the worker is busy or the queue holds work until the intake is done.
    queued_early = [{"kind": "intake", "drop": d, "started": 0.0, "ended": 0.0} for d in "ab"]
    records = [*queued_early, _work("a", 0.0, 1.0), _work("b", 1.0, 2.0)]
    assert breakdown(records, 0.0, {"a", "b"}, parallelism=1)["starved_by_intake_s"] == 0.0
