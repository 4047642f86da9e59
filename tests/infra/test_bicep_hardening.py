"""Deploy-again safety and tightened scopes in the Bicep templates: the Key Vault name after
`azd down` + `azd up`, no basic publishing credentials, operator reads scoped to the photo
containers and the outcome table, Event Grid on TLS 1.2, every parameter an azd environment
variable, and the comments and docs that explain the scale cap and the lookup's sign-in."""

from __future__ import annotations

import json
import re
from typing import Any

from photo_core.settings import StorageSettings
from tests.infra.iac import ROOT, Deployment, unwrap

PARAMETERS_FILE = ROOT / "infra" / "main.parameters.json"
DEPLOY_DOC = ROOT / "docs" / "deploy.md"
SUBSCRIPTIONS = ("eventgrid-subscription.bicep", "eventgrid-deletion-subscription.bicep")
AZD_VARIABLE = re.compile(r"^\$\{([A-Z][A-Z0-9_]*)(?:=(.*))?\}$", re.S)


def azd_parameters() -> dict[str, str]:
    parameters = json.loads(PARAMETERS_FILE.read_text(encoding="utf-8"))["parameters"]
    return {name: entry["value"] for name, entry in parameters.items()}


# --- Key Vault: azd down, then azd up -------------------------------------------------------------


def test_key_vault_name_changes_with_the_identity_that_azd_down_deletes(
        deployment: Deployment) -> None:
    """Purge protection keeps a deleted vault's name for 90 days. The name is derived from the
    app identity's principal id, which a re-created deployment gets anew, so `azd up` after
    `azd down` makes a vault of its own; a re-provision keeps the identity and the name."""
    main = deployment.main
    name = main.variables["effectiveKeyVaultName"]
    derived = name["operator"]["operands"]["true_value"]
    assert re.fullmatch(r"kv-photo-\$\{uniqueString\(resourceToken, "
                        r"identity\.outputs\.principalId\)\}", derived), derived
    assert main.resolve("keyVaultName") == ""
    assert len("kv-photo-") + 13 <= 24  # uniqueString is 13 characters; vault names max 24
    # Every place that names the vault uses the same value.
    uses = [json.dumps(main.module("keyVault")["params"]["name"]),
            json.dumps(main.module("rbac")["params"]["keyVaultName"]),
            json.dumps(main.module("functionApp")["params"]["keyVaultName"]),
            json.dumps(main.outputs["AZURE_KEY_VAULT_NAME"])]
    assert all("effectiveKeyVaultName" in use for use in uses), uses
    assert "kv-photo-" not in json.dumps(main.data["modules"])


def test_key_vault_override_is_not_fed_back_from_the_outputs(deployment: Deployment) -> None:
    """azd keeps the outputs of the last provision in the environment, also after `azd down`:
    were the name parameter read from AZURE_KEY_VAULT_NAME, the next `azd up` would ask for the
    soft-deleted vault's name again."""
    match = AZD_VARIABLE.match(azd_parameters()["keyVaultName"])
    assert match
    assert match.group(1) not in deployment.main.outputs


def test_key_vault_keeps_purge_protection(deployment: Deployment) -> None:
    (vault,) = deployment.module("keyvault.bicep").resources("Microsoft.KeyVault/vaults").values()
    assert vault["properties"]["enablePurgeProtection"] is True
    assert vault["properties"]["enableSoftDelete"] is True


# --- publishing credentials -----------------------------------------------------------------------


def test_basic_publishing_credentials_are_off_for_scm_and_ftp(deployment: Deployment) -> None:
    module = deployment.module("function-app.bicep")
    policies = module.resources("Microsoft.Web/sites/basicPublishingCredentialsPolicies")
    assert sorted(p["name"] for p in policies.values()) == ["ftp", "scm"]
    for policy in policies.values():
        assert policy["parent"] == "site"
        assert policy["properties"] == {"allow": False}


# --- operator scopes ------------------------------------------------------------------------------


def test_operators_read_only_the_photo_containers_and_the_outcome_table(
        deployment: Deployment) -> None:
    rbac = deployment.module("rbac.bicep")
    bindings = deployment.bindings("rbac")
    code = StorageSettings()
    containers = rbac.resolve("photoContainerNames", bindings)
    assert sorted(containers) == sorted([code.drop_container, code.rejected_container,
                                         code.processed_container, "hr-photos-deadletter"])
    assert "app-package" not in containers
    existing = rbac.data["resources"]
    assert existing["photoContainers"]["existing"] is True
    assert unwrap(existing["photoContainers"]["config"])["name"] == "container"
    table_type = "Microsoft.Storage/storageAccounts/tableServices/tables"
    assert existing["stateTable"]["type"] == table_type
    assert rbac.resolve(unwrap(existing["stateTable"]["config"])["name"], bindings) == (
        code.state_table)

    operator = {name: body for name, body in
                rbac.resources("Microsoft.Authorization/roleAssignments").items()
                if body["properties"]["principalId"] == "operatorPrincipalId"}
    scopes = {name: json.dumps(body["scope"]) for name, body in operator.items()}
    assert scopes == {"operatorBlobReaders": scopes["operatorBlobReaders"],
                      "operatorTableReader": '"stateTable"'}
    assert '"photoContainers"' in scopes["operatorBlobReaders"]
    assert "storage" not in {body["scope"] for body in operator.values()
                             if isinstance(body["scope"], str)}


# --- Event Grid -----------------------------------------------------------------------------------


def _api_version(template: Any, symbol: str) -> str:
    return str(template.data["resources"][symbol]["api_version"])


def test_event_grid_delivers_over_tls_1_2_on_a_current_api_version(
        deployment: Deployment) -> None:
    for file_name in SUBSCRIPTIONS:
        module = deployment.module(file_name)
        (symbol,) = module.resources("Microsoft.EventGrid/systemTopics/eventSubscriptions")
        assert _api_version(module, symbol) >= "2025-02-15", file_name
        body = module.resources()[symbol]
        destination = body["properties"]["destination"]
        assert destination["endpointType"] == "WebHook"
        assert destination["properties"]["minimumTlsVersionAllowed"] == "1.2", file_name
    topic = deployment.module("eventgrid.bicep")
    assert _api_version(topic, "topic") >= "2025-02-15"


def test_hooks_remove_a_subscription_with_the_templates_api_version(
        deployment: Deployment) -> None:
    module = deployment.module("eventgrid-deletion-subscription.bicep")
    version = _api_version(module, "deletions")
    for hook in ("postdeploy.sh", "postdeploy.ps1"):
        text = (ROOT / "infra" / "hooks" / hook).read_text(encoding="utf-8")
        assert f"--api-version {version}" in text, hook


# --- parameters as azd environment variables ------------------------------------------------------


def test_every_parameter_is_an_azd_environment_variable_with_the_templates_default(
        deployment: Deployment) -> None:
    main = deployment.main
    values = azd_parameters()
    assert sorted(values) == sorted(main.parameters)
    problems = []
    for name, value in values.items():
        match = AZD_VARIABLE.match(value)
        if not match:
            problems.append(f"{name}: {value!r} is not ${{VARIABLE}} or ${{VARIABLE=default}}")
            continue
        if main.parameters[name].get("default") is None:  # required: azd must supply it
            continue
        default = main.resolve(name)
        written = {True: "true", False: "false"}.get(default, str(default)) \
            if not isinstance(default, (dict, list)) else json.dumps(default)
        if match.group(2) is None or match.group(2) != written:
            problems.append(f"{name}: {value!r} does not default to the template's {written!r}")
    assert problems == []


def test_no_parameter_needs_azd_to_parse_an_array_or_an_object(deployment: Deployment) -> None:
    """azd only recently parses an environment variable's JSON into an array or object
    parameter; string parameters work with every version."""
    kinds = {name: p["type"] for name, p in deployment.main.parameters.items()}
    assert sorted(n for n, kind in kinds.items() if kind in ("array", "object")) == []


def test_list_and_json_parameters_reach_the_function_app(deployment: Deployment) -> None:
    app = deployment.bindings("functionApp", {
        "extraAppSettings": '{"PHOTO_MAX_SIDE": "648"}',
        "lookupAuthAllowedApplications": "app-one, app-two",
    })
    assert app["extraAppSettings"] == {"PHOTO_MAX_SIDE": "648"}
    assert app["lookupAuthAllowedApplications"] == ["app-one", "app-two"]
    empty = deployment.bindings("functionApp")
    assert empty["extraAppSettings"] == {}
    assert empty["lookupAuthAllowedApplications"] == []


def test_deploy_doc_names_every_azd_environment_variable() -> None:
    doc = DEPLOY_DOC.read_text(encoding="utf-8")
    variables = {m.group(1) for v in azd_parameters().values() if (m := AZD_VARIABLE.match(v))}
    set_by_azd = {"AZURE_ENV_NAME", "AZURE_LOCATION", "AZURE_PRINCIPAL_ID"}
    assert sorted(v for v in variables - set_by_azd if f"`{v}`" not in doc) == []


# --- what the comments and docs say ---------------------------------------------------------------


def test_the_instance_cap_comment_says_it_applies_per_function_group() -> None:
    text = (ROOT / "infra" / "modules" / "function-app.bicep").read_text(encoding="utf-8")
    comment = text[text.index("scaleAndConcurrency: {"):text.index("maximumInstanceCount:",
                                                                   text.index("scaleAndConcurrency"))]
    assert "per function group" in comment
    assert "app-wide" not in text and "whole app" not in text


def test_lookup_sign_in_keeps_the_function_key_and_says_so(
        deployment: Deployment, functions: list[dict[str, Any]]) -> None:
    lookup = [b for f in functions if f["name"] == "photo_lookup" for b in f["bindings"]
              if b["type"] == "httpTrigger"]
    assert [b["authLevel"] for b in lookup] == ["FUNCTION"]
    for template in (deployment.main, deployment.module("function-app.bicep")):
        description = template.decorators("enableLookupAuth")["description"]
        assert "function key" in description and "either way" in description
    doc = DEPLOY_DOC.read_text(encoding="utf-8")
    section = doc[doc.index("## Optional: Entra ID in front of the lookup endpoint"):]
    section = section[:section.index("\n## ", 3)]
    assert "function key" in section
    assert "Flex Consumption" in section and "unauthenticated" in section
