"""Every Bicep file parses (pycep-parser, the parser checkov uses), and main.bicep deploys every
module under infra/modules except the one the postdeploy hook deploys itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.infra.iac import INFRA, MODULES, Deployment, bicep_files

DEPLOYED_BY_THE_POSTDEPLOY_HOOK = {"eventgrid-subscription.bicep"}


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
    for symbol in deployment.main.data["modules"]:
        module = deployment.templates[deployment.main.module_path(symbol)]
        passed = set(deployment.main.module(symbol).get("params", {}))
        unknown += [f"{symbol}.{p}" for p in sorted(passed - set(module.parameters))]
        required = {n for n, p in module.parameters.items() if "default" not in p}
        unknown += [f"{symbol}.{p} (required, not passed)" for p in sorted(required - passed)]
    assert unknown == []
