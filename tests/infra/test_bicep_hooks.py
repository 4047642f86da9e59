"""The azd hooks that complete the Bicep deployment, run against a stand-in for the Azure CLI.

The stand-in (tests/infra/fake_az.py) answers the `az` calls the hooks make (the account,
Microsoft Graph through `az rest`, the host keys, the deployments) from a JSON state file,
evaluates each `--query` with the JMESPath library the CLI uses, and records every call, so the
tests can check what the hooks would have changed and in which order. The PowerShell twins are
checked in test_bicep_hooks_powershell.py.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.infra.iac import INFRA, iac_tool

HOOKS = INFRA / "hooks"
FAKE_AZ = Path(__file__).with_name("fake_az.py")
GRAPH_SP = "graph-service-principal"
IDENTITY = "identity-principal"
ROLE_IDS = {
    "ProfilePhoto.ReadWrite.All": "role-profile-photo-readwrite-all",
    "User.Read.All": "role-user-read-all",
    "Mail.Send": "role-mail-send",
}
SUBSCRIPTION = "11111111-1111-1111-1111-111111111111"
TENANT = "22222222-2222-2222-2222-222222222222"
OTHER_SUBSCRIPTION = "33333333-3333-3333-3333-333333333333"
OTHER_TENANT = "44444444-4444-4444-4444-444444444444"


class FakeAzure:
    def __init__(self, root: Path) -> None:
        self.bin = root / "bin"
        self.bin.mkdir()
        self.state_path = root / "state.json"
        az = self.bin / "az"
        az.write_text(f"#!{iac_tool('python')}\n" + FAKE_AZ.read_text(encoding="utf-8"))
        az.chmod(0o755)
        self.write({
            "calls": [], "null_fields": [],
            # az's default subscription is not azd's until a hook selects it.
            "account": {"current": OTHER_SUBSCRIPTION,
                        "subscriptions": {SUBSCRIPTION: TENANT, OTHER_SUBSCRIPTION: TENANT}},
            "graph": {"sp": GRAPH_SP, "roles": ROLE_IDS, "principals": [IDENTITY, "sp-app"],
                      "assignments": [], "page_size": 100, "pages_read": 0, "deny": False,
                      "fail_with": "", "granted_concurrently": [], "removed_concurrently": []},
            "key_polls": 0, "key_after_polls": 1, "eventgrid_key_after_polls": 1,
            "subscriptions": {},
        })

    def write(self, state: dict[str, Any]) -> None:
        self.state_path.write_text(json.dumps(state))

    @property
    def state(self) -> dict[str, Any]:
        loaded = json.loads(self.state_path.read_text())
        assert isinstance(loaded, dict)
        return loaded

    def update(self, **changes: Any) -> None:
        self.write({**self.state, **changes})

    def update_graph(self, **changes: Any) -> None:
        state = self.state
        state["graph"].update(changes)
        self.write(state)

    def assign(self, principal: str, *roles: str, resource: str = GRAPH_SP) -> None:
        state = self.state
        for role in roles:
            assignments = state["graph"]["assignments"]
            assignments.append({"id": f"assignment-{len(assignments)}", "principalId": principal,
                                "resourceId": resource,
                                "appRoleId": ROLE_IDS.get(role, role)})
        self.write(state)

    def granted(self, principal: str = IDENTITY, resource: str = GRAPH_SP) -> list[str]:
        names = {role_id: name for name, role_id in ROLE_IDS.items()}
        return sorted(names.get(a["appRoleId"], a["appRoleId"])
                      for a in self.state["graph"]["assignments"]
                      if a["principalId"] == principal and a["resourceId"] == resource)

    def calls(self, *prefix: str) -> list[list[str]]:
        return [c for c in self.state["calls"] if c[: len(prefix)] == list(prefix)]

    def graph_writes(self, method: str) -> list[list[str]]:
        return [c for c in self.calls("rest") if c[c.index("--method") + 1] == method]

    def run(self, hook: str, **env: str) -> subprocess.CompletedProcess[str]:
        environment = {
            "PATH": f"{self.bin}{os.pathsep}{os.environ['PATH']}",
            "FAKE_AZ_STATE": str(self.state_path),
            "PHOTO_HOOK_POLL_SECONDS": "0",
            **env,
        }
        return subprocess.run([shutil.which("sh") or "sh", str(HOOKS / hook)], env=environment,
                              capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture
def azure(tmp_path: Path) -> FakeAzure:
    return FakeAzure(tmp_path)


BOTH_ROLES = "ProfilePhoto.ReadWrite.All User.Read.All"
GRANT = {"PHOTO_GRAPH_APP_ROLES": "ProfilePhoto.ReadWrite.All",
         "PHOTO_GRAPH_MANAGED_ROLES": BOTH_ROLES,
         "PHOTO_GRAPH_GRANTEE_PRINCIPAL_ID": IDENTITY,
         "PHOTO_GRAPH_TENANT_ID": TENANT,
         "AZURE_SUBSCRIPTION_ID": SUBSCRIPTION,
         "AZURE_TENANT_ID": TENANT}
DEPLOYMENT_OUTPUTS = {
    **GRANT,
    "PHOTO_DELETE_ON_BLOB_DELETE": "false",
    "PHOTO_PROCESSED_ACTION": "keep",
    "PHOTO_REJECTED_ACTION": "keep",
    "AZURE_RESOURCE_GROUP": "rg-photosync",
    "AZURE_FUNCTION_APP_NAME": "func-photosync-abc",
    "AZURE_STORAGE_ACCOUNT_NAME": "stphotoabc",
    "EVENTGRID_SYSTEM_TOPIC_NAME": "evgt-photosync-abc",
    "PHOTO_DROP_CONTAINER": "hr-photos",
    "PHOTO_DEADLETTER_CONTAINER": "hr-photos-deadletter",
}
ARM_CALLS = (("functionapp",), ("deployment",), ("eventgrid",), ("resource",))


def first_index(calls: list[list[str]], *prefixes: tuple[str, ...]) -> int:
    return next(i for i, c in enumerate(calls) if any(c[:len(p)] == list(p) for p in prefixes))


# --- the Graph grant -----------------------------------------------------------------------------


def test_grant_adds_only_the_roles_not_yet_granted(azure: FakeAzure) -> None:
    azure.assign(IDENTITY, "ProfilePhoto.ReadWrite.All")
    result = azure.run("grant-graph-roles.sh", **{**GRANT, "PHOTO_GRAPH_APP_ROLES": BOTH_ROLES})
    assert result.returncode == 0, result.stderr
    assert "ProfilePhoto.ReadWrite.All is already granted" in result.stdout
    assert azure.granted() == ["ProfilePhoto.ReadWrite.All", "User.Read.All"]
    assert len(azure.graph_writes("post")) == 1


def test_grant_run_twice_grants_once(azure: FakeAzure) -> None:
    env = {**GRANT, "PHOTO_GRAPH_APP_ROLES": BOTH_ROLES}
    assert azure.run("grant-graph-roles.sh", **env).returncode == 0
    assert azure.run("grant-graph-roles.sh", **env).returncode == 0
    assert len(azure.graph_writes("post")) == 2
    posted = [json.loads(c[c.index("--body") + 1]) for c in azure.graph_writes("post")]
    assert {p["resourceId"] for p in posted} == {GRAPH_SP}
    assert azure.granted() == ["ProfilePhoto.ReadWrite.All", "User.Read.All"]


def test_grant_finds_an_app_registrations_service_principal(azure: FakeAzure) -> None:
    env = {k: v for k, v in GRANT.items() if k != "PHOTO_GRAPH_GRANTEE_PRINCIPAL_ID"}
    result = azure.run("grant-graph-roles.sh", **env, PHOTO_GRAPH_GRANTEE_APP_ID="app")
    assert result.returncode == 0, result.stderr
    assert azure.granted("sp-app") == ["ProfilePhoto.ReadWrite.All"]


def test_grant_says_whom_to_ask_when_it_is_denied(azure: FakeAzure) -> None:
    azure.update_graph(deny=True)
    result = azure.run("grant-graph-roles.sh", **GRANT)
    assert result.returncode == 1
    assert "Privileged Role Administrator" in result.stderr
    assert f"PHOTO_GRAPH_TENANT_ID='{TENANT}'" in result.stderr
    assert "grant-graph-roles.sh" in result.stderr


def test_grant_reports_another_failure_as_itself_not_as_missing_rights(
        azure: FakeAzure) -> None:
    azure.update_graph(fail_with='Internal Server Error({"error":{"code":"UnknownError"}})')
    result = azure.run("grant-graph-roles.sh", **GRANT)
    assert result.returncode == 1
    assert "could not grant ProfilePhoto.ReadWrite.All: Internal Server Error" in result.stderr
    assert "Privileged Role Administrator" not in result.stderr


def test_grant_takes_a_concurrent_runs_grant_as_done(azure: FakeAzure) -> None:
    """Another run grants the role between this run's listing and its POST: Graph answers
    "already exists", which is success, not a call for an administrator."""
    azure.update_graph(granted_concurrently=[ROLE_IDS["ProfilePhoto.ReadWrite.All"]])
    result = azure.run("grant-graph-roles.sh", **GRANT)
    assert result.returncode == 0, result.stderr
    assert "already granted (by a run at the same time)" in result.stdout
    assert "Privileged Role Administrator" not in result.stderr
    assert azure.granted() == ["ProfilePhoto.ReadWrite.All"]


def test_grant_removes_roles_the_deployment_no_longer_needs(azure: FakeAzure) -> None:
    """Employee-id mode was on (User.Read.All) and is off now. Roles outside the managed set,
    and roles on other resources, stay."""
    azure.assign(IDENTITY, "ProfilePhoto.ReadWrite.All", "User.Read.All", "Mail.Send")
    azure.assign(IDENTITY, "User.Read.All", resource="other-api")
    result = azure.run("grant-graph-roles.sh", **GRANT)
    assert result.returncode == 0, result.stderr
    assert "removed User.Read.All (the deployment no longer needs it)" in result.stdout
    assert azure.granted() == ["Mail.Send", "ProfilePhoto.ReadWrite.All"]
    assert azure.granted(resource="other-api") == ["User.Read.All"]
    assert azure.graph_writes("post") == []
    (delete,) = azure.graph_writes("delete")
    assert delete[delete.index("--url") + 1].endswith(
        f"/servicePrincipals/{IDENTITY}/appRoleAssignments/assignment-1")


def test_grant_removes_every_graph_role_when_the_dialect_is_outlook(azure: FakeAzure) -> None:
    azure.assign(IDENTITY, "ProfilePhoto.ReadWrite.All", "User.Read.All")
    result = azure.run("grant-graph-roles.sh", **{**GRANT, "PHOTO_GRAPH_APP_ROLES": ""})
    assert result.returncode == 0, result.stderr
    assert azure.granted() == []


def test_grant_takes_a_concurrent_runs_removal_as_done(azure: FakeAzure) -> None:
    azure.assign(IDENTITY, "ProfilePhoto.ReadWrite.All", "User.Read.All")
    azure.update_graph(removed_concurrently=["assignment-1"])
    result = azure.run("grant-graph-roles.sh", **GRANT)
    assert result.returncode == 0, result.stderr
    assert azure.granted() == ["ProfilePhoto.ReadWrite.All"]


def test_grant_says_whom_to_ask_when_a_removal_is_denied(azure: FakeAzure) -> None:
    azure.assign(IDENTITY, "ProfilePhoto.ReadWrite.All", "User.Read.All")
    azure.update_graph(deny=True)
    result = azure.run("grant-graph-roles.sh", **GRANT)
    assert result.returncode == 1
    assert "could not remove User.Read.All" in result.stderr
    assert "Privileged Role Administrator" in result.stderr
    assert azure.granted() == ["ProfilePhoto.ReadWrite.All", "User.Read.All"]


def test_grant_follows_next_link_through_every_page(azure: FakeAzure) -> None:
    """Graph pages the assignments: the granted role sits on the second page and the one to
    remove on the last; neither is missed, so nothing is granted twice."""
    azure.assign(IDENTITY, "r1", "r2", resource="other-api")
    azure.assign(IDENTITY, "ProfilePhoto.ReadWrite.All")
    azure.assign(IDENTITY, "r3", "r4", resource="other-api")
    azure.assign(IDENTITY, "User.Read.All")
    azure.update_graph(page_size=2)
    result = azure.run("grant-graph-roles.sh", **GRANT)
    assert result.returncode == 0, result.stderr
    assert azure.state["graph"]["pages_read"] == 3
    assert "ProfilePhoto.ReadWrite.All is already granted" in result.stdout
    assert azure.graph_writes("post") == []
    assert azure.granted() == ["ProfilePhoto.ReadWrite.All"]


def test_grant_does_nothing_without_roles(azure: FakeAzure) -> None:
    result = azure.run("grant-graph-roles.sh", PHOTO_GRAPH_APP_ROLES="")
    assert result.returncode == 0
    assert azure.state["calls"] == []


def test_grant_checks_the_tenant_before_any_graph_call(azure: FakeAzure) -> None:
    """An administrator signed in to another directory: one line naming both tenants, and not
    a single Graph request."""
    state = azure.state
    state["account"]["subscriptions"][OTHER_SUBSCRIPTION] = OTHER_TENANT
    azure.write(state)
    env = {k: v for k, v in GRANT.items() if k != "AZURE_SUBSCRIPTION_ID"}
    result = azure.run("grant-graph-roles.sh", **env)
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert OTHER_TENANT in result.stderr and TENANT in result.stderr
    assert azure.calls("rest") == [] and azure.calls("cloud") == []


def test_grant_in_the_photo_tenant_needs_no_subscription(azure: FakeAzure) -> None:
    """An app registration in another tenant: its administrator runs the grant signed in to
    that tenant, where azd's subscription does not exist."""
    state = azure.state
    state["account"] = {"current": OTHER_SUBSCRIPTION,
                        "subscriptions": {OTHER_SUBSCRIPTION: OTHER_TENANT}}
    azure.write(state)
    env = {k: v for k, v in GRANT.items() if k != "AZURE_SUBSCRIPTION_ID"}
    result = azure.run("grant-graph-roles.sh", **{**env, "PHOTO_GRAPH_TENANT_ID": OTHER_TENANT})
    assert result.returncode == 0, result.stderr
    assert azure.granted() == ["ProfilePhoto.ReadWrite.All"]


# --- the postdeploy step -------------------------------------------------------------------------


def test_postdeploy_selects_azds_subscription_before_any_other_az_call(azure: FakeAzure) -> None:
    result = azure.run("postdeploy.sh", **DEPLOYMENT_OUTPUTS)
    assert result.returncode == 0, result.stderr
    calls = azure.state["calls"]
    assert calls[0] == ["account", "set", "--only-show-errors", "--subscription", SUBSCRIPTION]
    assert azure.state["account"]["current"] == SUBSCRIPTION
    tenant_check = first_index(calls, ("account", "show"))
    assert 0 < tenant_check < first_index(calls, ("rest",), ("cloud",), *ARM_CALLS)


def test_postdeploy_stops_in_one_line_when_az_is_in_another_tenant(azure: FakeAzure) -> None:
    state = azure.state
    state["account"]["subscriptions"][SUBSCRIPTION] = OTHER_TENANT
    azure.write(state)
    result = azure.run("postdeploy.sh", **DEPLOYMENT_OUTPUTS)
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert f"az is signed in to tenant {OTHER_TENANT}, but the deployment is in tenant {TENANT}" \
        in result.stderr
    assert [c[:2] for c in azure.state["calls"]] == [["account", "set"], ["account", "show"]]


def test_postdeploy_stops_when_az_cannot_use_azds_subscription(azure: FakeAzure) -> None:
    state = azure.state
    del state["account"]["subscriptions"][SUBSCRIPTION]
    azure.write(state)
    result = azure.run("postdeploy.sh", **DEPLOYMENT_OUTPUTS)
    assert result.returncode == 1
    assert f"az cannot select subscription {SUBSCRIPTION}" in result.stderr
    assert f"az login --tenant {TENANT}" in result.stderr
    assert [c[:2] for c in azure.state["calls"]] == [["account", "set"]]


def test_postdeploy_subscribes_once_the_blobs_extension_key_exists(azure: FakeAzure) -> None:
    azure.update(key_after_polls=3)
    result = azure.run("postdeploy.sh", **DEPLOYMENT_OUTPUTS)
    assert result.returncode == 0, result.stderr
    polls = azure.calls("functionapp", "keys", "list")
    assert len(polls) == 3
    # Only the key's existence is asked for; its value never reaches the script.
    assert {p[p.index("--query") + 1] for p in polls} == {"systemKeys.blobs_extension != `null`"}
    (deploy,) = azure.calls("deployment", "group", "create")
    assert deploy[deploy.index("--template-file") + 1].endswith(
        "modules/eventgrid-subscription.bicep")
    parameters = deploy[deploy.index("--parameters") + 1:]
    assert "functionAppName=func-photosync-abc" in parameters
    assert "dropContainerName=hr-photos" in parameters
    assert "deadLetterContainerName=hr-photos-deadletter" in parameters
    assert "deleteProfilePhotoOnBlobDelete=false" in parameters  # deletion sync is off
    assert len(azure.calls("eventgrid", "system-topic", "event-subscription", "list")) == 1
    assert azure.calls("resource", "delete") == []  # nothing to remove
    assert azure.granted() == ["ProfilePhoto.ReadWrite.All"]
    calls = azure.state["calls"]
    assert calls.index(deploy) > calls.index(azure.graph_writes("post")[0])


def test_postdeploy_does_not_subscribe_before_the_permission_exists(azure: FakeAzure) -> None:
    azure.update_graph(deny=True)
    result = azure.run("postdeploy.sh", **DEPLOYMENT_OUTPUTS)
    assert result.returncode != 0
    assert azure.calls("deployment", "group", "create") == []


def test_postdeploy_can_leave_the_grant_to_an_administrator(azure: FakeAzure) -> None:
    result = azure.run("postdeploy.sh", **DEPLOYMENT_OUTPUTS, PHOTO_SKIP_GRAPH_GRANT="true")
    assert result.returncode == 0, result.stderr
    assert azure.calls("rest") == []
    assert len(azure.calls("deployment", "group", "create")) == 1


def test_postdeploy_gives_up_when_the_host_never_registers_the_trigger(azure: FakeAzure) -> None:
    azure.update(key_after_polls=10_000)
    result = azure.run("postdeploy.sh", **DEPLOYMENT_OUTPUTS)
    assert result.returncode == 1
    assert "blobs_extension" in result.stderr
    assert azure.calls("deployment", "group", "create") == []


@pytest.mark.parametrize("missing", ["AZURE_FUNCTION_APP_NAME", "AZURE_SUBSCRIPTION_ID",
                                     "AZURE_TENANT_ID"])
def test_postdeploy_names_a_missing_output(azure: FakeAzure, missing: str) -> None:
    outputs = {k: v for k, v in DEPLOYMENT_OUTPUTS.items() if k != missing}
    result = azure.run("postdeploy.sh", **outputs)
    assert result.returncode != 0
    assert missing in result.stderr
    assert azure.state["calls"] == []


def test_postdeploy_with_deletion_sync_waits_for_both_keys_and_subscribes_deletions(
        azure: FakeAzure) -> None:
    azure.update(key_after_polls=1, eventgrid_key_after_polls=3)
    result = azure.run("postdeploy.sh", **{**DEPLOYMENT_OUTPUTS,
                                           "PHOTO_DELETE_ON_BLOB_DELETE": "true"})
    assert result.returncode == 0, result.stderr
    polls = azure.calls("functionapp", "keys", "list")
    assert len(polls) == 3  # the blobs_extension key alone was not enough
    assert {p[p.index("--query") + 1] for p in polls} == {
        "systemKeys.blobs_extension != `null` && systemKeys.eventgrid_extension != `null`"}
    (deploy,) = azure.calls("deployment", "group", "create")
    assert "deleteProfilePhotoOnBlobDelete=true" in deploy
    assert azure.calls("resource", "delete") == []
    assert "photo_deleted" in result.stdout


def test_postdeploy_refuses_deletion_sync_unless_drops_are_kept(azure: FakeAzure) -> None:
    for name, value in (("PHOTO_PROCESSED_ACTION", "delete"), ("PHOTO_REJECTED_ACTION", "move")):
        result = azure.run("postdeploy.sh", **{**DEPLOYMENT_OUTPUTS, name: value,
                                               "PHOTO_DELETE_ON_BLOB_DELETE": "true"})
        assert result.returncode == 1
        assert "PHOTO_PROCESSED_ACTION=keep and PHOTO_REJECTED_ACTION=keep" in result.stderr
        assert azure.state["calls"] == []  # nothing granted, nothing subscribed
    moved = azure.run("postdeploy.sh", **{**DEPLOYMENT_OUTPUTS, "PHOTO_PROCESSED_ACTION": "move"})
    assert moved.returncode == 0, moved.stderr  # moving is fine without deletion sync


def test_postdeploy_removes_the_deletion_subscription_when_turned_off(azure: FakeAzure) -> None:
    on = {**DEPLOYMENT_OUTPUTS, "PHOTO_DELETE_ON_BLOB_DELETE": "true"}
    assert azure.run("postdeploy.sh", **on).returncode == 0
    assert "photo-deletions" in azure.state["subscriptions"]
    assert azure.run("postdeploy.sh", **on).returncode == 0  # again: nothing removed
    assert azure.calls("resource", "delete") == []

    result = azure.run("postdeploy.sh", **DEPLOYMENT_OUTPUTS)

    assert result.returncode == 0, result.stderr
    (delete,) = azure.calls("resource", "delete")
    assert delete[delete.index("--ids") + 1] == "/subscriptions/s/.../photo-deletions"
    assert delete[delete.index("--api-version") + 1] == "2025-02-15"
    assert azure.state["subscriptions"] == {}
    assert azure.run("postdeploy.sh", **DEPLOYMENT_OUTPUTS).returncode == 0
    assert len(azure.calls("resource", "delete")) == 1


# --- JMESPath ------------------------------------------------------------------------------------


@pytest.mark.parametrize("deletion_sync", ["false", "true"])
def test_every_query_the_hooks_send_uses_the_null_literal(azure: FakeAzure,
                                                          deletion_sync: str) -> None:
    """A bare `null` in JMESPath is a lookup of a field named "null", which only happens to be
    missing; the literal is `null` in backticks. The stand-in parses every query it is sent."""
    azure.assign(IDENTITY, "User.Read.All")
    result = azure.run("postdeploy.sh", **{**DEPLOYMENT_OUTPUTS,
                                           "PHOTO_DELETE_ON_BLOB_DELETE": deletion_sync})
    assert result.returncode == 0, result.stderr
    assert azure.state["null_fields"] == []
    queried = [c[c.index("--query") + 1] for c in azure.state["calls"] if "--query" in c]
    assert any("`null`" in q for q in queried)


def test_no_hook_compares_with_a_bare_null() -> None:
    bare = re.compile(r"[!=]=\s*null\b|\bnull\s*[!=]=")
    found = [f"{hook.name}: {line.strip()}" for hook in sorted(HOOKS.iterdir())
             for line in hook.read_text(encoding="utf-8").splitlines() if bare.search(line)]
    assert found == []
