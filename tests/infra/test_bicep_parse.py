"""Every Bicep file parses (pycep-parser, the parser checkov uses), and main.bicep deploys every
module under infra/modules except those the postdeploy hook deploys itself (the Event Grid
subscriptions: eventgrid-subscription.bicep, which deploys eventgrid-deletion-subscription.bicep
when deletion sync is on)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.infra.iac import INFRA, MODULES, Deployment, bicep_files

DEPLOYED_BY_THE_POSTDEPLOY_HOOK = {"eventgrid-subscription.bicep",
                                   "eventgrid-deletion-subscription.bicep"}


@pytest.mark.parametrize("bicep_file", bicep_files(), ids=lambda p: str(p.relative_to(INFRA)))
def test_pycep_parses_bicep_file(
    bicep_file: Path, parse_results: dict[Path, dict[str, Any]]
) -> None:
    result = parse_results[bicep_file]
    assert "error" not in result, result.get("error")
    template = result["template"]
    assert template.get("resources") or template.get("modules")


def test_main_deploys_every_module(deployment: Deployment) -> None:
    deployed = {deployment.main.module_path(m).name for m in deployment.main.data["modules"]}
    on_disk = {p.name for p in MODULES.glob("*.bicep")}
    assert deployed == on_disk - DEPLOYED_BY_THE_POSTDEPLOY_HOOK


def test_every_module_parameter_main_passes_exists(deployment: Deployment) -> None:
    unknown = []
    for parent in deployment.templates.values():  # main.bicep, and modules that deploy modules
        for symbol in parent.data.get("modules", {}):
            module = deployment.templates[parent.module_path(symbol)]
            passed = set(parent.module(symbol).get("params", {}))
            where = f"{parent.path.name}:{symbol}"
            unknown += [f"{where}.{p}" for p in sorted(passed - set(module.parameters))]
            required = {n for n, p in module.parameters.items() if "default" not in p}
            unknown += [f"{where}.{p} (required, not passed)" for p in sorted(required - passed)]
    assert unknown == []


def test_the_subscription_module_deploys_the_deletion_subscription(
        deployment: Deployment) -> None:
    parent = deployment.module("eventgrid-subscription.bicep")
    deployed = {parent.module_path(m).name for m in parent.data["modules"]}
    assert deployed == {"eventgrid-deletion-subscription.bicep"}
