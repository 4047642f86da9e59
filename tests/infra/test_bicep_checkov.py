"""The Bicep templates pass checkov's Azure policies, and every exception is explained.

checkov reports a Bicep syntax error only as a parsing error (its exit code stays 0), so the
parsing errors are checked on their own. A skipped check must carry a reason, and must still be
needed: the same templates with every skip comment removed must fail it.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.infra.iac import INFRA, bicep_files, run_checkov

MIN_REASON_LENGTH = 60


def _ids(checks: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    return {(c["check_id"], c["file_path"], c["resource"]) for c in checks}


@pytest.fixture(scope="module")
def report_without_skips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    copy = tmp_path_factory.mktemp("infra-without-skips")
    for source in bicep_files():
        target = copy / source.relative_to(INFRA)
        target.parent.mkdir(parents=True, exist_ok=True)
        lines = source.read_text(encoding="utf-8").splitlines(keepends=True)
        target.write_text("".join(ln for ln in lines if "checkov:skip=" not in ln),
                          encoding="utf-8")
    shutil.copy(INFRA / "main.parameters.json", copy / "main.parameters.json")
    return run_checkov(copy)


def test_checkov_parses_every_bicep_file(checkov_report: dict[str, Any]) -> None:
    assert checkov_report["results"]["parsing_errors"] == []
    assert checkov_report["summary"]["parsing_errors"] == 0


def test_checkov_scans_the_resources(checkov_report: dict[str, Any]) -> None:
    # Guards against a run that "passes" because it found nothing to check.
    scanned = {Path(c["file_path"]).name for c in checkov_report["results"]["passed_checks"]}
    assert {"storage.bicep", "function-app.bicep", "keyvault.bicep"} <= scanned


def test_checkov_finds_no_failed_check(checkov_report: dict[str, Any]) -> None:
    failed = [
        f"{c['check_id']} {c['check_name']} -- {c['resource']} in {c['file_path']}"
        for c in checkov_report["results"]["failed_checks"]
    ]
    assert failed == []


def test_every_skipped_check_gives_its_reason(checkov_report: dict[str, Any]) -> None:
    unexplained = [
        f"{c['check_id']} on {c['resource']} in {c['file_path']}: {reason!r}"
        for c in checkov_report["results"]["skipped_checks"]
        if len(reason := c["check_result"].get("suppress_comment", "").strip())
        < MIN_REASON_LENGTH
    ]
    assert unexplained == []


def test_every_skipped_check_would_fail_without_its_skip(
    checkov_report: dict[str, Any], report_without_skips: dict[str, Any]
) -> None:
    skipped = _ids(checkov_report["results"]["skipped_checks"])
    failing_without_skips = _ids(report_without_skips["results"]["failed_checks"])
    assert sorted(skipped - failing_without_skips) == []
