"""Shared, session-wide results of the slow steps: one checkov run, one pycep parse, one look at
the function app."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.infra.iac import (
    Deployment,
    Template,
    bicep_files,
    function_specs,
    parse_bicep,
    run_checkov,
)


@pytest.fixture(scope="session")
def parse_results() -> dict[Path, dict[str, Any]]:
    return parse_bicep(bicep_files())


@pytest.fixture(scope="session")
def deployment(parse_results: dict[Path, dict[str, Any]]) -> Deployment:
    errors = {str(p): r["error"] for p, r in parse_results.items() if "error" in r}
    if errors:
        pytest.fail(f"pycep could not parse: {errors}", pytrace=False)
    return Deployment({path: Template(path, r["template"]) for path, r in parse_results.items()})


@pytest.fixture(scope="session")
def checkov_report() -> dict[str, Any]:
    from tests.infra.iac import INFRA

    return run_checkov(INFRA)


@pytest.fixture(scope="session")
def functions() -> list[dict[str, Any]]:
    return function_specs()
