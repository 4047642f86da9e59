"""docs/performance.md's figures are the committed bench/results/latest.json's: regenerating the
page from the committed results in memory changes nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bench.report import BLOCKS, DOC, LATEST, blocks, fmt, render

REQUIRED_TARGETS = {
    "function_bulk_vs_bound", "function_bulk_vs_baseline", "stack_bulk_vs_function",
    "concentrated_vs_baseline", "concentrated_lost_or_misassigned",
    "prep_good_vs_plain_pillow", "worst_input_peak_rss", "worst_input_cpu",
}


@pytest.fixture(scope="module")
def results() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(LATEST.read_text(encoding="utf-8"))
    return document


def test_the_page_holds_every_generated_block_once() -> None:
    names = blocks(DOC.read_text(encoding="utf-8"))
    assert sorted(names) == sorted(BLOCKS)


def test_the_page_is_what_the_committed_results_generate(results: dict[str, Any]) -> None:
    page = DOC.read_text(encoding="utf-8")
    assert render(page, results) == page, (
        "docs/performance.md does not match bench/results/latest.json: run "
        "`.venv/bin/python -m bench.report` (or `make bench`) and commit both")


def test_the_results_say_what_was_measured_where(results: dict[str, Any]) -> None:
    machine = results["machine"]
    assert machine["cpus"] and machine["cpu_model"] and machine["python"]
    assert machine["packages"]["azure-storage-blob"]
    assert len(results["git"]["commit"]) == 40
    assert results["generated"]


def test_the_results_hold_every_target_with_its_direction(results: dict[str, Any]) -> None:
    rows = {row["name"]: row for row in results["targets"]}
    assert set(rows) >= REQUIRED_TARGETS
    for row in rows.values():
        assert {"name", "measured", "target", "direction", "met"} <= set(row)
        assert row["direction"] in ("min", "max")
        if row["measured"] is None:
            assert row["met"] is False  # n/a is never a pass
        elif row["repeats"] is not None:  # a ratio: the median of at least three repeats
            assert len(row["repeats"]["values"]) >= 3
            assert row["repeats"]["min"] <= row["measured"] <= row["repeats"]["max"]


def test_a_changed_figure_changes_the_page(results: dict[str, Any]) -> None:
    page = DOC.read_text(encoding="utf-8")
    altered = json.loads(json.dumps(results))
    altered["targets"][0]["measured"] = 123456.0
    assert render(page, altered) != page


@pytest.mark.parametrize(("value", "shown"), [
    (None, "n/a"), (0.41234, "0.412"), (26.6667, "26.7"), (1234.5, "1,234"), (12, "12"),
    (True, "yes"), (0.0, "0"),
])
def test_figures_are_shown_to_three_significant_digits(value: object, shown: str) -> None:
    assert fmt(value) == shown
