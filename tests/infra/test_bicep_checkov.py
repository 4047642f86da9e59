"""The Bicep templates pass checkov's Azure policies in every parameter set, and every exception
is explained.

checkov reads neither parameter files nor the values main.bicep passes to its modules, only each
parameter's default, so each parameter set (the default public network; the private network; the
private network with HR's addresses let through) is scanned as a rendered copy of infra/ whose
defaults are that set's values (iac.render_parameter_set).

checkov reports a Bicep syntax error only as a parsing error (its exit code stays 0), so the
parsing errors are checked on their own. A skipped check must carry a reason, and must still be
needed: in at least one parameter set, the same templates with every skip comment removed must
fail it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.infra.iac import Deployment, render_parameter_set, run_checkov

MIN_REASON_LENGTH = 60

PARAMETER_SETS: dict[str, dict[str, Any]] = {
    "public-network": {},
    "private-network": {"privateNetwork": True},
    "private-network-hr-addresses": {"privateNetwork": True,
                                     "hrAllowedIpRanges": "203.0.113.0/24,198.51.100.7"},
}
# Deploy-time values of the private sets, as they look once deployed.
STAND_INS = {
    "virtualNetworkSubnetId": "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups"
                              "/rg-photosync/providers/Microsoft.Network/virtualNetworks"
                              "/vnet-photosync/subnets/app",
}


def _ids(checks: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    return {(c["check_id"], Path(c["file_path"]).name, c["resource"]) for c in checks}


def _scan(deployment: Deployment, name: str, keep_skips: bool,
          factory: pytest.TempPathFactory) -> dict[str, Any]:
    target = factory.mktemp(f"infra-{name}{'' if keep_skips else '-without-skips'}")
    render_parameter_set(deployment, PARAMETER_SETS[name], target, keep_skips=keep_skips,
                         stand_ins=STAND_INS)
    return run_checkov(target)


@pytest.fixture(scope="module")
def reports(deployment: Deployment,
            tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    return {name: _scan(deployment, name, True, tmp_path_factory) for name in PARAMETER_SETS}


@pytest.fixture(scope="module")
def reports_without_skips(deployment: Deployment,
                          tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    return {name: _scan(deployment, name, False, tmp_path_factory) for name in PARAMETER_SETS}


def test_checkov_parses_every_bicep_file_as_it_is(checkov_report: dict[str, Any]) -> None:
    assert checkov_report["results"]["parsing_errors"] == []
    assert checkov_report["summary"]["parsing_errors"] == 0
    assert checkov_report["summary"]["failed"] == 0


@pytest.mark.parametrize("parameter_set", PARAMETER_SETS)
def test_checkov_parses_every_bicep_file(reports: dict[str, dict[str, Any]],
                                         parameter_set: str) -> None:
    report = reports[parameter_set]
    assert report["results"]["parsing_errors"] == []
    assert report["summary"]["parsing_errors"] == 0


@pytest.mark.parametrize("parameter_set", PARAMETER_SETS)
def test_checkov_scans_the_resources(reports: dict[str, dict[str, Any]],
                                     parameter_set: str) -> None:
    # Guards against a run that "passes" because it found nothing to check.
    passed = reports[parameter_set]["results"]["passed_checks"]
    scanned = {Path(c["file_path"]).name for c in passed}
    assert {"storage.bicep", "function-app.bicep", "keyvault.bicep", "network.bicep"} <= scanned


@pytest.mark.parametrize("parameter_set", PARAMETER_SETS)
def test_checkov_finds_no_failed_check(reports: dict[str, dict[str, Any]],
                                       parameter_set: str) -> None:
    failed = [
        f"{c['check_id']} {c['check_name']} -- {c['resource']} in {c['file_path']}"
        for c in reports[parameter_set]["results"]["failed_checks"]
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


def test_every_skipped_check_would_fail_without_its_skip_in_some_parameter_set(
    reports: dict[str, dict[str, Any]], reports_without_skips: dict[str, dict[str, Any]]
) -> None:
    skipped = set().union(*(_ids(r["results"]["skipped_checks"]) for r in reports.values()))
    failing = set().union(*(_ids(r["results"]["failed_checks"])
                            for r in reports_without_skips.values()))
    assert sorted(skipped - failing) == []


def test_with_the_private_network_the_storage_account_needs_no_network_skip(
    reports_without_skips: dict[str, dict[str, Any]],
) -> None:
    """The public-access skips on the storage account are for the default set only: with the
    private network and no HR addresses, the account passes those checks on its own merits."""
    report = reports_without_skips["private-network"]["results"]
    storage = "Microsoft.Storage/storageAccounts.storage"
    passed = {c["check_id"] for c in report["passed_checks"] if c["resource"] == storage}
    failed = {c["check_id"] for c in report["failed_checks"] if c["resource"] == storage}
    assert {"CKV_AZURE_35", "CKV_AZURE_59"} <= passed
    assert not {"CKV_AZURE_35", "CKV_AZURE_59"} & failed
    public = reports_without_skips["public-network"]["results"]["failed_checks"]
    assert {"CKV_AZURE_35", "CKV_AZURE_59"} <= {c["check_id"] for c in public
                                                 if c["resource"] == storage}
