"""The azd hooks that complete the Bicep deployment, run against a stand-in for the Azure CLI.

The stand-in answers the few `az` calls the hooks make (Microsoft Graph through `az rest`, the
host keys, the subscription deployment) from a JSON state file and records every call, so the
tests can check what the hooks would have changed. The PowerShell twins are not run here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.infra.iac import INFRA

HOOKS = INFRA / "hooks"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
GRAPH_SP = "graph-service-principal"
IDENTITY = "identity-principal"
ROLE_IDS = {
    "ProfilePhoto.ReadWrite.All": "role-profile-photo-readwrite-all",
    "User.Read.All": "role-user-read-all",
}

FAKE_AZ = """#!{python}
import json, os, re, sys

GRAPH_APP_ID = {graph_app_id!r}
GRAPH_SP = {graph_sp!r}
ROLE_IDS = {role_ids!r}
state_path = os.environ["FAKE_AZ_STATE"]
with open(state_path) as f:
    state = json.load(f)
args = sys.argv[1:]
state["calls"].append(args)


def option(name):
    return args[args.index(name) + 1] if name in args else None


def done(out="", code=0, err=""):
    with open(state_path, "w") as f:
        json.dump(state, f)
    if out:
        print(out)
    if err:
        print(err, file=sys.stderr)
    sys.exit(code)


if args[:2] == ["cloud", "show"]:
    done("https://graph.microsoft.com/")
if args[:3] == ["functionapp", "keys", "list"]:
    state["key_polls"] += 1
    ready = state["key_polls"] >= state["key_after_polls"]
    if "eventgrid_extension" in option("--query"):
        ready = ready and state["key_polls"] >= state["eventgrid_key_after_polls"]
    # Like the real one, -o tsv prints a JSON boolean as Python does.
    done("True" if ready else "False")
if args[:3] == ["deployment", "group", "create"]:
    if "deleteProfilePhotoOnBlobDelete=true" in args:
        state["subscriptions"]["photo-deletions"] = "/subscriptions/s/.../photo-deletions"
    done()
if args[:4] == ["eventgrid", "system-topic", "event-subscription", "list"]:
    wanted = re.fullmatch(r"\\[\\?name=='([^']+)'\\]\\.id", option("--query")).group(1)
    done(state["subscriptions"].get(wanted, ""))
if args[:2] == ["resource", "delete"]:
    ids = option("--ids")
    state["subscriptions"] = {{k: v for k, v in state["subscriptions"].items() if v != ids}}
    done()
if args[:1] == ["rest"]:
    path = option("--url").split("/v1.0/", 1)[1]
    if option("--method") == "post":
        if state["deny_grants"]:
            done(code=1, err="Forbidden: Authorization_RequestDenied")
        body = json.loads(option("--body"))
        state["granted"].setdefault(body["principalId"], []).append(body["appRoleId"])
        done()
    m = re.fullmatch(r"servicePrincipals\\(appId='([^']+)'\\)", path)
    if m:
        done(GRAPH_SP if m.group(1) == GRAPH_APP_ID else "sp-" + m.group(1))
    m = re.fullmatch(r"servicePrincipals/([^/?]+)/appRoleAssignments", path)
    if m:
        done("\\n".join(state["granted"].get(m.group(1), [])))
    m = re.fullmatch(r"servicePrincipals/([^/?]+)\\?\\$select=appRoles", path)
    if m:
        done(ROLE_IDS.get(re.search(r"value=='([^']+)'", option("--query")).group(1), ""))
    m = re.fullmatch(r"servicePrincipals/([^/?]+)", path)
    if m:
        done(m.group(1)) if m.group(1) in state["principals"] else done(code=1, err="NotFound")
done(code=9, err="fake az: unexpected call " + " ".join(args))
"""


class FakeAzure:
    def __init__(self, root: Path) -> None:
        self.bin = root / "bin"
        self.bin.mkdir()
        self.state_path = root / "state.json"
        az = self.bin / "az"
        az.write_text(FAKE_AZ.format(python=sys.executable, graph_app_id=GRAPH_APP_ID,
                                     graph_sp=GRAPH_SP, role_ids=ROLE_IDS))
        az.chmod(0o755)
        self.write({"calls": [], "granted": {}, "principals": [IDENTITY, "sp-app"],
                    "deny_grants": False, "key_polls": 0, "key_after_polls": 1,
                    "eventgrid_key_after_polls": 1, "subscriptions": {}})

    def write(self, state: dict[str, Any]) -> None:
        self.state_path.write_text(json.dumps(state))

    @property
    def state(self) -> dict[str, Any]:
        loaded = json.loads(self.state_path.read_text())
        assert isinstance(loaded, dict)
        return loaded

    def update(self, **changes: Any) -> None:
        self.write({**self.state, **changes})

    def calls(self, *prefix: str) -> list[list[str]]:
        return [c for c in self.state["calls"] if c[: len(prefix)] == list(prefix)]

    def grants(self) -> list[list[str]]:
        return [c for c in self.calls("rest") if c[c.index("--method") + 1] == "post"]

    def run(self, hook: str, **env: str) -> subprocess.CompletedProcess[str]:
        environment = {
            "PATH": f"{self.bin}{os.pathsep}{os.environ['PATH']}",
            "FAKE_AZ_STATE": str(self.state_path),
            "PHOTO_HOOK_POLL_SECONDS": "0",
            **env,
        }
        return subprocess.run([shutil.which("sh") or "sh", str(HOOKS / hook)], env=environment,
                              capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture
def azure(tmp_path: Path) -> FakeAzure:
    return FakeAzure(tmp_path)


BOTH_ROLES = "ProfilePhoto.ReadWrite.All User.Read.All"
DEPLOYMENT_OUTPUTS = {
    "PHOTO_DELETE_ON_BLOB_DELETE": "false",
    "PHOTO_PROCESSED_ACTION": "keep",
    "PHOTO_REJECTED_ACTION": "keep",
    "AZURE_RESOURCE_GROUP": "rg-photosync",
    "AZURE_FUNCTION_APP_NAME": "func-photosync-abc",
    "AZURE_STORAGE_ACCOUNT_NAME": "stphotoabc",
    "EVENTGRID_SYSTEM_TOPIC_NAME": "evgt-photosync-abc",
    "PHOTO_DROP_CONTAINER": "hr-photos",
    "PHOTO_DEADLETTER_CONTAINER": "hr-photos-deadletter",
    "PHOTO_GRAPH_APP_ROLES": "ProfilePhoto.ReadWrite.All",
    "PHOTO_GRAPH_GRANTEE_PRINCIPAL_ID": IDENTITY,
}


def test_grant_adds_only_the_roles_not_yet_granted(azure: FakeAzure) -> None:
    azure.update(granted={IDENTITY: [ROLE_IDS["ProfilePhoto.ReadWrite.All"]]})
    result = azure.run("grant-graph-roles.sh", PHOTO_GRAPH_APP_ROLES=BOTH_ROLES,
                       PHOTO_GRAPH_GRANTEE_PRINCIPAL_ID=IDENTITY)
    assert result.returncode == 0, result.stderr
    assert "ProfilePhoto.ReadWrite.All is already granted" in result.stdout
    assert azure.state["granted"][IDENTITY] == [ROLE_IDS["ProfilePhoto.ReadWrite.All"],
                                                ROLE_IDS["User.Read.All"]]


def test_grant_run_twice_grants_once(azure: FakeAzure) -> None:
    env = {"PHOTO_GRAPH_APP_ROLES": BOTH_ROLES, "PHOTO_GRAPH_GRANTEE_PRINCIPAL_ID": IDENTITY}
    assert azure.run("grant-graph-roles.sh", **env).returncode == 0
    assert azure.run("grant-graph-roles.sh", **env).returncode == 0
    assert len(azure.grants()) == 2
    posted = [json.loads(c[c.index("--body") + 1]) for c in azure.grants()]
    assert {p["resourceId"] for p in posted} == {GRAPH_SP}


def test_grant_finds_an_app_registrations_service_principal(azure: FakeAzure) -> None:
    result = azure.run("grant-graph-roles.sh", PHOTO_GRAPH_APP_ROLES="ProfilePhoto.ReadWrite.All",
                       PHOTO_GRAPH_GRANTEE_APP_ID="app")
    assert result.returncode == 0, result.stderr
    assert azure.state["granted"] == {"sp-app": [ROLE_IDS["ProfilePhoto.ReadWrite.All"]]}


def test_grant_says_whom_to_ask_when_it_is_denied(azure: FakeAzure) -> None:
    azure.update(deny_grants=True)
    result = azure.run("grant-graph-roles.sh", PHOTO_GRAPH_APP_ROLES=BOTH_ROLES,
                       PHOTO_GRAPH_GRANTEE_PRINCIPAL_ID=IDENTITY)
    assert result.returncode == 1
    assert "Privileged Role Administrator" in result.stderr
    assert "grant-graph-roles.sh" in result.stderr


def test_grant_does_nothing_without_roles(azure: FakeAzure) -> None:
    result = azure.run("grant-graph-roles.sh", PHOTO_GRAPH_APP_ROLES="")
    assert result.returncode == 0
    assert azure.state["calls"] == []


def test_postdeploy_subscribes_once_the_blobs_extension_key_exists(azure: FakeAzure) -> None:
    azure.update(key_after_polls=3)
    result = azure.run("postdeploy.sh", **DEPLOYMENT_OUTPUTS)
    assert result.returncode == 0, result.stderr
    polls = azure.calls("functionapp", "keys", "list")
    assert len(polls) == 3
    # Only the key's existence is asked for; its value never reaches the script.
    assert {p[p.index("--query") + 1] for p in polls} == {"systemKeys.blobs_extension != null"}
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
    assert azure.state["granted"] == {IDENTITY: [ROLE_IDS["ProfilePhoto.ReadWrite.All"]]}
    assert azure.state["calls"].index(deploy) > azure.state["calls"].index(azure.grants()[0])


def test_postdeploy_does_not_subscribe_before_the_permission_exists(azure: FakeAzure) -> None:
    azure.update(deny_grants=True)
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


def test_postdeploy_names_a_missing_output(azure: FakeAzure) -> None:
    outputs = {k: v for k, v in DEPLOYMENT_OUTPUTS.items() if k != "AZURE_FUNCTION_APP_NAME"}
    result = azure.run("postdeploy.sh", **outputs)
    assert result.returncode != 0
    assert "AZURE_FUNCTION_APP_NAME" in result.stderr
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
        "systemKeys.blobs_extension != null && systemKeys.eventgrid_extension != null"}
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
    assert azure.state["subscriptions"] == {}
    assert azure.run("postdeploy.sh", **DEPLOYMENT_OUTPUTS).returncode == 0
    assert len(azure.calls("resource", "delete")) == 1
