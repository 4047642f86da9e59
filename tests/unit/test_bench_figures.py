"""The benchmark's own arithmetic: percentiles, ratios it cannot measure, who made a request."""

from __future__ import annotations

import json

import pytest

from bench.bulk import _requester
from bench.common import REPO, percentile
from bench.run import entry, ratio
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


def test_a_figure_that_could_not_be_measured_is_reported_as_such_and_not_met() -> None:
    assert ratio(None, 100) is None
    assert ratio(10, 0) is None
    assert ratio(10, 40) == 0.25
    row = entry("prep_large_memory", None, 0.5, "max", "x", "peak memory")
    assert row["measured"] is None and row["met"] is False
    assert entry("x", 0.4, 0.5, "max", "x", "")["met"] is True
    assert entry("x", 0.4, 0.5, "min", "x", "")["met"] is False


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
