"""The PowerShell twins of the hooks (what azd runs on Windows) parse, and do what the sh hooks
are tested to do, in the same order: select azd's subscription and check az's tenant before any
other az call, follow @odata.nextLink, tell a concurrent "already exists" from "needs an
administrator", remove roles no longer needed, compare with JMESPath's null literal.

PowerShell cannot be installed on every machine the tests run on, so these are read, not run:
a parse with the tree-sitter PowerShell grammar, then checks of the parsed text.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.infra.iac import INFRA, powershell_syntax_errors

HOOKS = INFRA / "hooks"
POWERSHELL = sorted(HOOKS.glob("*.ps1"))
CALLS_AZ = re.compile(r"(^|[\s(|;{])az\s")


def code_lines(path: Path) -> list[str]:
    """The script's lines with comments blanked (line numbers kept)."""
    return ["" if line.lstrip().startswith("#") else line
            for line in path.read_text(encoding="utf-8").splitlines()]


def first_line(lines: list[str], pattern: str) -> int:
    return next(i for i, line in enumerate(lines) if re.search(pattern, line))


def test_every_shell_hook_has_a_powershell_twin() -> None:
    shells = {p.stem for p in HOOKS.glob("*.sh")}
    assert shells == {p.stem for p in POWERSHELL}


def test_powershell_hooks_parse() -> None:
    errors = powershell_syntax_errors(POWERSHELL)
    assert {p.name: e for p, e in errors.items() if e} == {}


def test_powershell_hooks_read_the_same_inputs_as_their_twins() -> None:
    for script in POWERSHELL:
        shell = script.with_suffix(".sh").read_text(encoding="utf-8")
        ps = script.read_text(encoding="utf-8")
        sh_inputs = set(re.findall(r"\$\{?((?:AZURE|PHOTO|EVENTGRID)_[A-Z0-9_]+)", shell))
        ps_inputs = set(re.findall(r"\$env:((?:AZURE|PHOTO|EVENTGRID)_[A-Z0-9_]+)", ps))
        ps_inputs |= set(re.findall(r"'((?:AZURE|EVENTGRID)_[A-Z0-9_]+)'", ps))
        assert sh_inputs == ps_inputs, script.name


def test_context_selects_azds_subscription_and_checks_the_tenant_in_one_line() -> None:
    text = "\n".join(code_lines(HOOKS / "azure-context.ps1"))
    select = re.search(r"function Use-DeploymentSubscription \{(.*?)\n\}", text, re.S)
    check = re.search(r"function Assert-AzTenant\(.*?\) \{(.*?)\n\}", text, re.S)
    assert select and check
    assert "az account set --only-show-errors --subscription $env:AZURE_SUBSCRIPTION_ID" \
        in select.group(1)
    assert "az account show --only-show-errors --query tenantId -o tsv" in check.group(1)
    for body in (select.group(1), check.group(1)):
        (message,) = re.findall(r"\[Console\]::Error\.WriteLine\(\"([^\"\n]*)\"\)", body)
        assert message.startswith("photo-sync: az ")
        assert "exit 1" in body


@pytest.mark.parametrize("script", ["postdeploy.ps1", "grant-graph-roles.ps1"])
def test_no_az_call_comes_before_the_subscription_and_tenant_checks(script: str) -> None:
    lines = code_lines(HOOKS / script)
    select = first_line(lines, r"^\s*(if \(.*\) \{ )?Use-DeploymentSubscription\b")
    tenant = first_line(lines, r"^\s*Assert-AzTenant\b")
    assert select < tenant
    az_lines = [i for i, line in enumerate(lines) if CALLS_AZ.search(line)]
    assert az_lines and min(az_lines) > tenant
    grant = [i for i, line in enumerate(lines) if "grant-graph-roles.ps1'" in line]
    assert all(i > tenant for i in grant)


def test_grant_checks_the_grantees_tenant() -> None:
    lines = code_lines(HOOKS / "grant-graph-roles.ps1")
    assert any(re.search(r"^\s*Assert-AzTenant \$tenant ", line) for line in lines)
    text = "\n".join(lines)
    assert "$env:PHOTO_GRAPH_TENANT_ID" in text and "$env:AZURE_TENANT_ID" in text


def test_grant_follows_next_link_to_the_last_page() -> None:
    text = "\n".join(code_lines(HOOKS / "grant-graph-roles.ps1"))
    loop = re.search(r"while \(\$url\) \{(.*?)\n\}", text, re.S)
    assert loop
    assert "Get-Graph $url" in loop.group(1)
    assert "'@odata.nextLink'" in loop.group(1)
    assert "$assignments +=" in loop.group(1)


def test_grant_tells_already_exists_from_needs_an_administrator() -> None:
    text = "\n".join(code_lines(HOOKS / "grant-graph-roles.ps1"))
    classify = re.search(r"function Invoke-GraphWrite.*?\n\}", text, re.S)
    assert classify
    body = classify.group(0)
    # "already exists" is checked first: a concurrent grant is success, whatever else it says.
    assert body.index("'already exists'") < body.index("Authorization_RequestDenied")
    assert "'exists' { Write-Host \"photo-sync: $role is already granted (by a run at the " \
        "same time).\" }" in text
    assert "'denied' { Stop-NeedsAdmin \"grant $role\" }" in text
    assert "Privileged Role Administrator" in text


def test_grant_removes_managed_roles_no_longer_needed() -> None:
    text = "\n".join(code_lines(HOOKS / "grant-graph-roles.ps1"))
    loop = re.search(r"foreach \(\$role in \$managed\) \{(.*?)\n\}", text, re.S)
    assert loop
    assert "if ($roles -contains $role) { continue }" in loop.group(1)
    assert "'--method', 'delete'" in loop.group(1)
    assert "{ $_ -in 'ok', 'gone' }" in loop.group(1)


def test_postdeploy_waits_for_keys_with_the_null_literal() -> None:
    text = (HOOKS / "postdeploy.ps1").read_text(encoding="utf-8")
    assert "'systemKeys.blobs_extension != `null`'" in text
    assert ("'systemKeys.blobs_extension != `null` && systemKeys.eventgrid_extension != `null`'"
            in text)
    assert "--api-version 2025-02-15" in text
