"""What the Bicep templates configure matches what the code reads.

The app settings are followed from function-app.bicep back through main.bicep to their values,
then fed to photo_core's own settings reader; storage names come from photo_core's defaults; the
Event Grid subscriptions' targets (the blob trigger's BlobCreated webhook, and the Event Grid
trigger's BlobDeleted webhook deployed only with deleteProfilePhotoOnBlobDelete) come from
function_app.app.get_functions().
"""

from __future__ import annotations

import json
import re
import tomllib
from typing import Any

import pytest

from photo_core.domain.errors import SettingsError
from photo_core.settings import STORAGE_CONNECTION, Settings, StorageSettings
from tests.infra.iac import ROOT, Deployment, Template, Unresolved, literal_objects, unwrap

FUNCTION_APP = "function-app.bicep"
SUBSCRIPTION = "eventgrid-subscription.bicep"
DELETION_SUBSCRIPTION = "eventgrid-deletion-subscription.bicep"
STORAGE = "storage.bicep"
RBAC = "rbac.bicep"

# Event Grid's dead-letter container is an infrastructure name only; no code reads it.
DEAD_LETTER_CONTAINER = "hr-photos-deadletter"

# Settings photo_core reads that the deployment deliberately leaves to the code's default.
LEFT_AT_DEFAULT = {
    "PHOTO_API_BASE_URL": "derived from PHOTO_API_DIALECT and PHOTO_CLOUD",
    "PHOTO_API_HOST_OVERRIDE": "only for the local emulator (or a proxy named on purpose)",
    "PHOTO_MAX_DECODE_MB": "image policy default; tune with extraAppSettings",
    "PHOTO_MAX_DECODE_WORK": "image policy default; tune with extraAppSettings",
    "PHOTO_UPLOAD_METHOD": "PATCH, the documented method",
    "PHOTO_HTTP_CONNECT_TIMEOUT_SECONDS": "default fits the retry budget",
    "PHOTO_HTTP_READ_TIMEOUT_SECONDS": "default fits the retry budget",
    "PHOTO_CA_BUNDLE": "only for the local emulator's certificate authority",
    "PHOTO_AUTHORITY": "derived from PHOTO_CLOUD and PHOTO_TENANT_ID; overridden for the emulator",
    "PHOTO_AUTHORITY_HOST_OVERRIDE": "only for the local emulator's identity platform",
    "PHOTO_CLIENT_CERTIFICATE_PATH": "Azure uses PHOTO_CLIENT_CERTIFICATE from Key Vault",
    "PHOTO_CLIENT_CERTIFICATE_PASSWORD": "a Key Vault certificate's secret is an unprotected PFX",
    "PHOTO_RETRY_MAX_ATTEMPTS": "default fits host.json's functionTimeout",
    "PHOTO_RETRY_BUDGET_SECONDS": "default (120 s) fits host.json's functionTimeout (5 min)",
    "PHOTO_LOOKUP_BUDGET_SECONDS": "default (10 s) answers well inside the front end's 230 s",
    "PHOTO_RETRY_BACKOFF_MAX_SECONDS": "default fits the retry budget",
    "PHOTO_MIN_SIDE": "image policy default; tune with extraAppSettings",
    "PHOTO_MAX_SIDE": "image policy default; tune with extraAppSettings",
    "PHOTO_MAX_UPLOAD_BYTES": "image policy default; tune with extraAppSettings",
    "PHOTO_MAX_PIXELS": "image policy default; tune with extraAppSettings",
    "PHOTO_JPEG_QUALITY": "image policy default; tune with extraAppSettings",
    "PHOTO_MAX_BLOB_BYTES": "image policy default; tune with extraAppSettings",
    "PHOTO_DRY_RUN": "a production deployment uploads",
    "PHOTO_RECONCILE_WORKERS": "default (4) stays under the per-mailbox concurrency limit",
    "PHOTO_RECONCILE_DEADLINE_SECONDS": "default (240 s) ends within functionTimeout (5 min)",
    "PHOTO_EMPLOYEE_ID_CACHE_SECONDS": "default (1 h) bounds how stale an employee id can be",
    "PHOTO_ID_MAPPING_CACHE_SECONDS": "default (5 min) bounds how stale the mapping file can be",
    "PHOTO_LOOKUP_CACHE_SECONDS": "default (30 s) bounds how stale a lookup answer can be",
    "PHOTO_NOTIFY_WEBHOOK_URL": "set only with notifyWebhookUrl, as a Key Vault reference",
    "PHOTO_NOTIFY_ON": "rejects only by default; tune with extraAppSettings",
    "PHOTO_NOTIFY_MAX_ITEMS": "default (10) keeps a Teams card short",
    "PHOTO_NOTIFY_LOOKBACK_DAYS": "default (7) covers a working week of unresolved rejects",
    "PHOTO_NOTIFY_TIMEOUT_SECONDS": "default (10 s) keeps a notice run well inside a minute",
}

# App settings the Flex Consumption plan rejects or ignores: functionAppConfig replaces them.
FLEX_CONSUMPTION_DEPRECATED = {
    "FUNCTIONS_WORKER_RUNTIME", "FUNCTIONS_EXTENSION_VERSION", "WEBSITE_RUN_FROM_PACKAGE",
    "WEBSITE_CONTENTSHARE", "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING", "WEBSITE_MOUNT_ENABLED",
    "SCM_DO_BUILD_DURING_DEPLOYMENT", "ENABLE_ORYX_BUILD", "WEBSITE_NODE_DEFAULT_VERSION",
    "WEBSITE_MAX_DYNAMIC_APPLICATION_SCALE_OUT", "WEBSITE_TIME_ZONE", "TZ",
    "WEBSITE_USE_PLACEHOLDER_DOTNETISOLATED", "AzureWebJobsStorage", "PYTHON_VERSION",
}

# Data-plane roles, by the id rbac.bicep must use for them.
ROLE_IDS = {
    "b7e6dc6d-f1e8-4753-8033-0f276bb0955b": "Storage Blob Data Owner",
    "ba92f5b4-2d11-453d-a403-e96b0029c9fe": "Storage Blob Data Contributor",
    "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1": "Storage Blob Data Reader",
    "974c5e8b-45b9-4653-ba55-5f855dd0fb88": "Storage Queue Data Contributor",
    "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3": "Storage Table Data Contributor",
    "76199698-9eea-4c19-bc75-cec21354c6b6": "Storage Table Data Reader",
    "3913510d-42f4-4e42-8a64-420c390055eb": "Monitoring Metrics Publisher",
    "4633458b-17de-408a-b874-0445c86b69e6": "Key Vault Secrets User",
    "b86a8fe4-44ce-4948-aee5-eccb2c155cd7": "Key Vault Secrets Officer",
    "a4417e6f-fecd-4de8-b567-7b0420556985": "Key Vault Certificates Officer",
}
APP_IDENTITY_ROLES = {
    "Storage Blob Data Owner", "Storage Queue Data Contributor",
    "Storage Table Data Contributor", "Monitoring Metrics Publisher", "Key Vault Secrets User",
}

# Values that exist only once deployed, stood in for when the settings are read.
PLACEHOLDERS = {
    "ServiceUri": "https://stphotoexample.{service}.core.windows.net/",
    "clientId": "00000000-0000-0000-0000-000000000001",
    "AZURE_CLIENT_ID": "00000000-0000-0000-0000-000000000001",
    "APPLICATIONINSIGHTS_CONNECTION_STRING":
        "InstrumentationKey=00000000-0000-0000-0000-000000000002;IngestionEndpoint=https://x/",
    "PHOTO_CLIENT_ID": "00000000-0000-0000-0000-000000000003",
    "PHOTO_TENANT_ID": "00000000-0000-0000-0000-000000000004",
    "PHOTO_CLOUD": "public",
}

SETTING_READ = re.compile(r"""["'](PHOTO_[A-Z0-9_]+)["']|%(PHOTO_[A-Z0-9_]+)%""")


# --- helpers -----------------------------------------------------------------------------------


def settings_read_by_the_code() -> set[str]:
    sources = [*sorted((ROOT / "photo_core").rglob("*.py")), ROOT / "function_app.py"]
    found: set[str] = set()
    for source in sources:
        for match in SETTING_READ.finditer(source.read_text(encoding="utf-8")):
            found.add(match.group(1) or match.group(2))
    return found


def app_settings(deployment: Deployment) -> dict[str, Any]:
    """The app settings function-app.bicep always sets, resolved as main.bicep deploys them."""
    module = deployment.module(FUNCTION_APP)
    resolved = deployment.resolve_in(FUNCTION_APP, module.variables["appSettings"])
    assert isinstance(resolved, dict)
    return resolved


def credential_settings(deployment: Deployment) -> dict[str, Any]:
    """The settings added in the app-registration modes (both branches of the conditional)."""
    module = deployment.module(FUNCTION_APP)
    found: dict[str, Any] = {}
    for obj in literal_objects(module.variables["credentialSettings"]):
        found.update(obj)
    return found


def placeholder(name: str, value: Any) -> str:
    if isinstance(value, str):
        return value
    if name.endswith("ServiceUri"):
        return PLACEHOLDERS["ServiceUri"].format(service=name.split("__")[1][: -len("ServiceUri")])
    for suffix, stand_in in PLACEHOLDERS.items():
        if name.endswith(suffix):
            return stand_in
    pytest.fail(f"no stand-in for the deploy-time value of {name}: {value!r}")


def environment_for(deployment: Deployment, auth_mode: str) -> dict[str, str]:
    env = {name: placeholder(name, value) for name, value in app_settings(deployment).items()}
    env["PHOTO_AUTH_MODE"] = auth_mode
    credentials = credential_settings(deployment)
    needed = {"client_secret": "PHOTO_CLIENT_SECRET", "certificate": "PHOTO_CLIENT_CERTIFICATE"}
    if auth_mode in needed:
        name = needed[auth_mode]
        env[name] = credentials[name]
        env["PHOTO_CLIENT_ID"] = PLACEHOLDERS["PHOTO_CLIENT_ID"]
    return env


def is_identity_client_id(value: Any) -> bool:
    """True for main.bicep's ``identity.outputs.clientId``."""
    if not isinstance(value, Unresolved):
        return False
    text = json.dumps(value.expression)
    return '"identity"' in text and '"clientId"' in text


def subscription(deployment: Deployment) -> dict[str, Any]:
    (resource,) = deployment.module(SUBSCRIPTION).resources(
        "Microsoft.EventGrid/systemTopics/eventSubscriptions").values()
    return resource


def deletion_subscription(deployment: Deployment) -> dict[str, Any]:
    (resource,) = deployment.module(DELETION_SUBSCRIPTION).resources(
        "Microsoft.EventGrid/systemTopics/eventSubscriptions").values()
    return resource


def deletion_properties(deployment: Deployment) -> dict[str, Any]:
    """The BlobDeleted subscription's properties, with the values eventgrid-subscription.bicep
    passes to it (the hook deploys that file with its defaults, but for the option)."""
    parent = deployment.module(SUBSCRIPTION)
    params = unwrap(parent.data["modules"]["deletions"]["config"]).get("params", {})
    bindings = {name: parent.resolve(value) for name, value in params.items()}
    module = deployment.module(DELETION_SUBSCRIPTION)
    resolved = module.resolve(deletion_subscription(deployment)["properties"], bindings)
    assert isinstance(resolved, dict)
    return resolved


def comparable(value: Any) -> str:
    """A value with its deploy-time parts as their expressions (Unresolved compares by id)."""
    return json.dumps(value, sort_keys=True, default=lambda u: repr(u))


def event_grid_triggers(functions: list[dict[str, Any]]) -> list[str]:
    return [f["name"] for f in functions for b in f["bindings"] if b["type"] == "eventGridTrigger"]


def blob_triggers(functions: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [(f["name"], b) for f in functions for b in f["bindings"] if b["type"] == "blobTrigger"]


def http_routes(functions: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {f["name"]: b for f in functions for b in f["bindings"] if b["type"] == "httpTrigger"}


# --- app settings ------------------------------------------------------------------------------


def test_app_settings_cover_every_setting_photo_core_reads(deployment: Deployment) -> None:
    configured = set(app_settings(deployment)) | set(credential_settings(deployment))
    missing = settings_read_by_the_code() - configured - set(LEFT_AT_DEFAULT)
    assert sorted(missing) == []


def test_settings_left_at_default_are_still_read_by_the_code() -> None:
    assert sorted(set(LEFT_AT_DEFAULT) - settings_read_by_the_code()) == []


@pytest.mark.parametrize("auth_mode", ["managed_identity", "client_secret", "certificate"])
def test_app_settings_satisfy_photo_core_settings(deployment: Deployment, auth_mode: str) -> None:
    settings = Settings.from_env(environment_for(deployment, auth_mode), require_storage=True)
    assert settings.auth.mode.value == auth_mode
    assert settings.storage.configured


def test_storage_connections_are_identity_based(deployment: Deployment) -> None:
    settings = app_settings(deployment)
    for prefix in ("AzureWebJobsStorage", STORAGE_CONNECTION):
        assert prefix not in settings, f"{prefix} would be a connection string"
        for service in ("blob", "queue", "table"):
            assert f"{prefix}__{service}ServiceUri" in settings
        assert settings[f"{prefix}__credential"] == "managedidentity"
        assert is_identity_client_id(settings[f"{prefix}__clientId"])


def test_app_settings_hold_no_key_or_secret(deployment: Deployment) -> None:
    settings = {**app_settings(deployment), **credential_settings(deployment)}
    connection_strings = [n for n in settings if "connectionstring" in n.lower().replace("_", "")]
    assert connection_strings == ["APPLICATIONINSIGHTS_CONNECTION_STRING"]
    literal_values = [str(v) for v in settings.values() if isinstance(v, str)]
    for marker in ("AccountKey=", "SharedAccessSignature=", "sig=", "InstrumentationKey="):
        assert not any(marker in v for v in literal_values), marker
    assert settings["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"].endswith(";Authorization=AAD")
    for name in ("PHOTO_CLIENT_SECRET", "PHOTO_CLIENT_CERTIFICATE"):
        assert settings[name].startswith("@Microsoft.KeyVault(VaultName="), name


def test_app_settings_avoid_what_flex_consumption_rejects(deployment: Deployment) -> None:
    settings = set(app_settings(deployment)) | set(credential_settings(deployment))
    assert sorted(settings & FLEX_CONSUMPTION_DEPRECATED) == []


def test_managed_identity_is_the_default_sign_in(deployment: Deployment) -> None:
    settings = app_settings(deployment)
    assert deployment.main.resolve("photoAuthMode") == "managed_identity"
    assert settings["PHOTO_AUTH_MODE"] == "managed_identity"
    assert is_identity_client_id(settings["PHOTO_CLIENT_ID"])


# --- storage names -----------------------------------------------------------------------------


def test_storage_names_match_what_the_code_expects(deployment: Deployment) -> None:
    code = StorageSettings()
    settings = app_settings(deployment)
    assert settings["PHOTO_DROP_CONTAINER"] == code.drop_container
    assert settings["PHOTO_REJECTED_CONTAINER"] == code.rejected_container
    assert settings["PHOTO_PROCESSED_CONTAINER"] == code.processed_container
    assert settings["PHOTO_STATE_TABLE"] == code.state_table


def test_storage_account_creates_every_container_and_the_table(deployment: Deployment) -> None:
    code = StorageSettings()
    storage = deployment.module(STORAGE)
    bindings = deployment.bindings(deployment.module_symbol(STORAGE))
    containers = {
        storage.resolve(r["name"], bindings)
        for r in storage.resources("Microsoft.Storage/storageAccounts/blobServices/containers")
        .values()
    }
    tables = {
        storage.resolve(r["name"], bindings)
        for r in storage.resources("Microsoft.Storage/storageAccounts/tableServices/tables")
        .values()
    }
    assert {code.drop_container, code.rejected_container, code.processed_container,
            DEAD_LETTER_CONTAINER} <= containers
    assert tables == {code.state_table}


def test_event_grid_subscription_defaults_match_the_deployment(deployment: Deployment) -> None:
    module = deployment.module(SUBSCRIPTION)
    assert module.resolve("dropContainerName") == StorageSettings().drop_container
    assert module.resolve("deadLetterContainerName") == DEAD_LETTER_CONTAINER
    assert deployment.main.resolve("deadLetterContainerName") == DEAD_LETTER_CONTAINER
    rbac = deployment.bindings(deployment.module_symbol(RBAC))
    assert rbac["deadLetterContainerName"] == DEAD_LETTER_CONTAINER


# --- Event Grid and the blob trigger -------------------------------------------------------------


def test_event_grid_subscription_targets_the_blob_trigger_function(
    deployment: Deployment, functions: list[dict[str, Any]]
) -> None:
    module = deployment.module(SUBSCRIPTION)
    url = subscription(deployment)["properties"]["destination"]["properties"]["endpointUrl"]
    match = re.search(r"/runtime/webhooks/blobs\?functionName=Host\.Functions\.([^&]+)&code=",
                      module.resolve(url))
    assert match, url
    triggers = [name for name, _ in blob_triggers(functions)]
    assert triggers == [match.group(1)]


def test_blob_trigger_reads_the_drop_container_through_photo_storage(
    deployment: Deployment, functions: list[dict[str, Any]]
) -> None:
    settings = app_settings(deployment)
    triggers = blob_triggers(functions)
    assert len(triggers) == 1
    _, binding = triggers[0]
    assert binding["source"] == "EventGrid"
    assert binding["connection"] == STORAGE_CONNECTION
    container = binding["path"].split("/", 1)[0]
    setting = re.fullmatch(r"%(\w+)%", container)
    resolved = settings[setting.group(1)] if setting else container
    assert resolved == StorageSettings().drop_container


def test_event_grid_subscription_delivers_only_drops(deployment: Deployment) -> None:
    module = deployment.module(SUBSCRIPTION)
    properties = module.resolve(subscription(deployment)["properties"])
    assert properties["destination"]["endpointType"] == "WebHook"
    assert properties["filter"]["includedEventTypes"] == ["Microsoft.Storage.BlobCreated"]
    # The trailing /blobs/ keeps hr-photos-rejected and hr-photos-processed out.
    drop = StorageSettings().drop_container
    assert properties["filter"]["subjectBeginsWith"] == (
        f"/blobServices/default/containers/{drop}/blobs/")
    assert properties["retryPolicy"]["maxDeliveryAttempts"] >= 10
    assert properties["retryPolicy"]["eventTimeToLiveInMinutes"] >= 60
    dead_letter = properties["deadLetterWithResourceIdentity"]
    assert dead_letter["identity"]["type"] == "SystemAssigned"
    assert dead_letter["deadLetterDestination"]["properties"]["blobContainerName"] == (
        DEAD_LETTER_CONTAINER)


def test_http_routes_match_the_outputs_and_the_auth_exclusions(
    deployment: Deployment, functions: list[dict[str, Any]]
) -> None:
    routes = http_routes(functions)
    outputs = deployment.main.outputs
    assert outputs["PHOTO_LOOKUP_URL"].endswith(f"/api/{routes['photo_lookup']['route']}")
    assert outputs["PHOTO_HEALTH_URL"].endswith(f"/api/{routes['health']['route']}")
    assert routes["health"]["authLevel"] == "ANONYMOUS"
    assert routes["photo_lookup"]["authLevel"] == "FUNCTION"
    (auth,) = deployment.module(FUNCTION_APP).resources("Microsoft.Web/sites/config").values()
    excluded = auth["properties"]["globalValidation"]["excludedPaths"]
    assert sorted(excluded) == sorted([f"/api/{routes['health']['route']}",
                                       "/runtime/webhooks/blobs",
                                       "/runtime/webhooks/eventgrid"])


# --- deletions: the Event Grid trigger, only when asked -----------------------------------------


def test_deletion_sync_is_an_app_setting_bicep_sets_and_is_off_by_default(
    deployment: Deployment,
) -> None:
    assert deployment.main.resolve("deleteProfilePhotoOnBlobDelete") is False
    assert deployment.main.decorators("deleteProfilePhotoOnBlobDelete").get("description")
    module = deployment.module(FUNCTION_APP)
    assert module.resolve("deleteProfilePhotoOnBlobDelete") is False
    assert deployment.bindings("functionApp")["deleteProfilePhotoOnBlobDelete"] is False
    assert app_settings(deployment)["PHOTO_DELETE_ON_BLOB_DELETE"] == "false"
    expression = module.variables["appSettings"]["PHOTO_DELETE_ON_BLOB_DELETE"]
    on = {**deployment.bindings("functionApp"), "deleteProfilePhotoOnBlobDelete": True}
    assert module.resolve(expression, on) == "true"
    parameters = json.loads((ROOT / "infra" / "main.parameters.json").read_text())["parameters"]
    assert parameters["deleteProfilePhotoOnBlobDelete"]["value"] == (
        "${PHOTO_DELETE_ON_BLOB_DELETE=false}")


def test_deletion_sync_settings_are_valid_only_with_both_actions_at_keep(
    deployment: Deployment,
) -> None:
    env = environment_for(deployment, "managed_identity")
    env["PHOTO_DELETE_ON_BLOB_DELETE"] = "true"
    settings = Settings.from_env(env, require_storage=True)
    assert settings.storage.delete_photo_on_blob_delete
    assert deployment.main.resolve("photoProcessedAction") == "keep"
    assert deployment.main.resolve("photoRejectedAction") == "keep"
    for name, value in (("PHOTO_PROCESSED_ACTION", "move"), ("PHOTO_REJECTED_ACTION", "move")):
        with pytest.raises(SettingsError, match="PHOTO_DELETE_ON_BLOB_DELETE"):
            Settings.from_env({**env, name: value}, require_storage=True)
    # ... which is why the hook is told the option and both actions, and checks them first.
    outputs = deployment.main.outputs
    assert deployment.main.resolve(outputs["PHOTO_DELETE_ON_BLOB_DELETE"]) == "false"
    assert outputs["PHOTO_PROCESSED_ACTION"] == "photoProcessedAction"
    assert outputs["PHOTO_REJECTED_ACTION"] == "photoRejectedAction"


def test_deletion_subscription_is_deployed_only_when_asked(deployment: Deployment) -> None:
    parent = deployment.module(SUBSCRIPTION)
    assert parent.resolve("deleteProfilePhotoOnBlobDelete") is False
    config = parent.data["modules"]["deletions"]["config"]
    assert config["condition"] == "deleteProfilePhotoOnBlobDelete"
    assert parent.module_path("deletions").name == DELETION_SUBSCRIPTION
    hook = (ROOT / "infra" / "hooks" / "postdeploy.sh").read_text(encoding="utf-8")
    assert 'deleteProfilePhotoOnBlobDelete="$delete_on_blob_delete"' in hook
    assert "${PHOTO_DELETE_ON_BLOB_DELETE:-false}" in hook


def test_deletion_subscription_targets_the_event_grid_trigger_function(
    deployment: Deployment, functions: list[dict[str, Any]]
) -> None:
    url = deletion_properties(deployment)["destination"]["properties"]["endpointUrl"]
    match = re.search(r"/runtime/webhooks/eventgrid\?functionName=([^&]+)&code=\$\{listKeys\("
                      r"'\$\{functionApp\.id\}/host/default', '[0-9-]+'\)\.systemKeys\."
                      r"eventgrid_extension\}$", url)
    assert match, url
    # The function the lead's code defines (function_app.app.get_functions()), exactly one.
    assert event_grid_triggers(functions) == [match.group(1)]
    module = deployment.module(DELETION_SUBSCRIPTION)
    assert module.resolve("eventGridTriggerFunctionName") == match.group(1)


def test_deletion_subscription_delivers_drop_deletions_like_the_created_one(
    deployment: Deployment,
) -> None:
    created = deployment.module(SUBSCRIPTION).resolve(subscription(deployment)["properties"])
    deleted = deletion_properties(deployment)
    assert deleted["destination"]["endpointType"] == "WebHook"
    assert deleted["destination"]["properties"]["maxEventsPerBatch"] == 1
    assert deleted["eventDeliverySchema"] == created["eventDeliverySchema"] == "EventGridSchema"
    assert deleted["filter"]["includedEventTypes"] == ["Microsoft.Storage.BlobDeleted"]
    drop = StorageSettings().drop_container
    assert deleted["filter"]["subjectBeginsWith"] == created["filter"]["subjectBeginsWith"] == (
        f"/blobServices/default/containers/{drop}/blobs/")
    assert deleted["retryPolicy"] == created["retryPolicy"]
    # Both write dead letters to the same container of `storage.id`, the account's existing
    # resource, as the topic's own identity.
    assert comparable(deleted["deadLetterWithResourceIdentity"]) == comparable(
        created["deadLetterWithResourceIdentity"])
    name = deletion_subscription(deployment)["name"]
    assert name != subscription(deployment)["name"]
    hook = (ROOT / "infra" / "hooks" / "postdeploy.sh").read_text(encoding="utf-8")
    assert f"deletion_subscription={name}\n" in hook  # the one the hook removes when off


# --- identity and roles --------------------------------------------------------------------------


def roles_referenced(template: Template, expression: Any) -> set[str]:
    """Names of the roles an expression picks from the template's ``roleIds`` table."""
    role_ids = template.variables.get("roleIds", {})
    found: set[str] = set()
    if isinstance(expression, str) and expression in template.variables:
        found |= roles_referenced(template, template.variables[expression])
    elif isinstance(expression, dict):
        operands = expression.get("operator", {}).get("operands", {})
        if operands.get("operand_1") == "roleIds":
            found.add(ROLE_IDS.get(role_ids.get(operands.get("operand_2")), "unknown role"))
        for value in expression.values():
            found |= roles_referenced(template, value)
    elif isinstance(expression, list):
        for value in expression:
            found |= roles_referenced(template, value)
    return found


def test_role_assignments_have_stable_names_and_principal_types(deployment: Deployment) -> None:
    """Every assignment names its principal's type (ARM then skips a directory lookup that fails
    while a new identity replicates), except the deployer's: azd signs in as a user or as a
    pipeline's service principal without saying which, and a wrong type fails the deployment."""
    problems = []
    for path, template in deployment.templates.items():
        for name, body in template.resources("Microsoft.Authorization/roleAssignments").items():
            where = f"{path.name}:{name}"
            if body["name"].get("function", {}).get("type") != "guid":
                problems.append(f"{where}: the name is not guid(scope, principal, role)")
            deployer = body["properties"]["principalId"] == "deployerPrincipalId"
            if bool(body["properties"].get("principalType")) == deployer:
                problems.append(f"{where}: principalType is "
                                f"{'set for the deployer' if deployer else 'missing'}")
            roles = roles_referenced(template, body["properties"]["roleDefinitionId"])
            if not roles or not roles <= set(ROLE_IDS.values()):
                problems.append(f"{where}: grants {roles or 'a role not in roleIds'}")
    assert problems == []


def test_app_identity_holds_only_the_data_roles_the_code_needs(deployment: Deployment) -> None:
    rbac = deployment.module(RBAC)
    granted: set[str] = set()
    for body in rbac.resources("Microsoft.Authorization/roleAssignments").values():
        if body["properties"]["principalId"] == "appPrincipalId":
            granted |= roles_referenced(rbac, body["properties"]["roleDefinitionId"])
    assert granted == APP_IDENTITY_ROLES
    assert set(rbac.variables["roleIds"].values()) <= set(ROLE_IDS)


# --- runtime, scale, parameters, azd -----------------------------------------------------------


def test_function_app_runs_the_project_python_on_flex_consumption(deployment: Deployment) -> None:
    module = deployment.module(FUNCTION_APP)
    (plan,) = module.resources("Microsoft.Web/serverfarms").values()
    assert plan["sku"] == {"name": "FC1", "tier": "FlexConsumption"}
    (site,) = module.resources("Microsoft.Web/sites").values()
    assert site["kind"] == "functionapp,linux"
    runtime = module.resolve(site["properties"]["functionAppConfig"]["runtime"])
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert runtime == {"name": "python", "version": requires.removeprefix(">=")}
    deployment_storage = site["properties"]["functionAppConfig"]["deployment"]["storage"]
    assert deployment_storage["authentication"]["type"] == "UserAssignedIdentity"


def test_function_app_is_locked_to_https_and_tls_1_2(deployment: Deployment) -> None:
    (site,) = deployment.module(FUNCTION_APP).resources("Microsoft.Web/sites").values()
    properties = site["properties"]
    assert properties["httpsOnly"] is True
    assert properties["siteConfig"]["minTlsVersion"] == "1.2"
    assert properties["siteConfig"]["ftpsState"] == "Disabled"
    assert site["identity"]["type"] == "UserAssigned"


def test_scale_is_bounded_the_same_way_everywhere(deployment: Deployment) -> None:
    main = deployment.main
    module = deployment.module(FUNCTION_APP)
    for template in (main, module):
        bounds = template.decorators("maximumInstanceCount")
        assert template.resolve("maximumInstanceCount") == 40
        assert bounds["max_value"] <= 1000
    (site,) = module.resources("Microsoft.Web/sites").values()
    scale = site["properties"]["functionAppConfig"]["scaleAndConcurrency"]
    assert scale["maximumInstanceCount"] == "maximumInstanceCount"


def test_parameters_file_names_only_template_parameters(deployment: Deployment) -> None:
    parameters = json.loads((ROOT / "infra" / "main.parameters.json").read_text())["parameters"]
    declared = deployment.main.parameters
    assert sorted(set(parameters) - set(declared)) == []
    required = {name for name, p in declared.items() if "default" not in p}
    assert sorted(required - set(parameters)) == []


def test_azure_yaml_deploys_the_app_and_runs_hooks_that_exist() -> None:
    text = (ROOT / "azure.yaml").read_text(encoding="utf-8")
    assert re.search(r"^\s+host: function$", text, re.M)
    assert re.search(r"^\s+language: python$", text, re.M)
    assert re.search(r"^\s+path: infra$", text, re.M)
    hooks = re.findall(r"^\s+run: (\S+)$", text, re.M)
    assert hooks
    assert [h for h in hooks if not (ROOT / h).is_file()] == []


def test_hooks_read_only_what_the_deployment_outputs(deployment: Deployment) -> None:
    outputs = set(deployment.main.outputs)
    own_inputs = {"PHOTO_SKIP_GRAPH_GRANT", "PHOTO_HOOK_POLL_SECONDS"}
    unknown = set()
    for hook in sorted((ROOT / "infra" / "hooks").glob("*")):
        text = hook.read_text(encoding="utf-8")
        if hook.suffix == ".ps1":
            used = set(re.findall(r"\$env:([A-Z][A-Z0-9_]+)", text))
            used |= set(re.findall(r"'((?:AZURE|EVENTGRID|PHOTO)_[A-Z0-9_]+)'", text))
        else:
            used = set(re.findall(r"\$\{?([A-Z][A-Z0-9_]+)", text))
        unknown |= {f"{hook.name}: {name}" for name in used - outputs - own_inputs}
    assert sorted(unknown) == []


def test_outputs_tell_the_user_where_things_are(deployment: Deployment) -> None:
    assert {"AZURE_FUNCTION_APP_NAME", "PHOTO_DROP_CONTAINER_URL", "PHOTO_LOOKUP_URL",
            "AZURE_RESOURCE_GROUP"} <= set(deployment.main.outputs)


# --- module parameters --------------------------------------------------------------------------


def _possible_strings(template: Template, value: Any) -> set[str] | None:
    """The string values an expression of main.bicep can take, when they are all knowable
    (a literal, a parameter's @allowed list, a variable, a conditional of those); else None."""
    if isinstance(value, str):
        if value in template.parameters:
            allowed = template.decorators(value).get("allowed")
            return {str(v) for v in allowed} if allowed else None
        if value in template.variables:
            return _possible_strings(template, template.variables[value])
        return {value}
    operator = value.get("operator", {}) if isinstance(value, dict) else {}
    if operator.get("type") == "conditional":
        branches = [_possible_strings(template, operator["operands"][side])
                    for side in ("true_value", "false_value")]
        if any(branch is None for branch in branches):
            return None
        return set().union(*(b for b in branches if b is not None))
    return None


def test_values_passed_to_restricted_module_parameters_are_among_the_allowed(
        deployment: Deployment) -> None:
    """Bicep refuses (BCP036) a module argument whose type includes a value the parameter's
    @allowed list lacks, e.g. a main.bicep parameter that allows '' passed on unchanged; the
    template is never compiled here, so this checks what the compiler would."""
    problems = []
    main = deployment.main
    for symbol in main.data.get("modules", {}):
        module = deployment.templates[main.module_path(symbol)]
        for name, value in main.module(symbol).get("params", {}).items():
            allowed = module.decorators(name).get("allowed") if name in module.parameters else None
            if not allowed:
                continue
            possible = _possible_strings(main, value)
            if possible is None:
                problems.append(f"{symbol}.{name}: cannot tell which values it may take")
            elif extra := possible - {str(v) for v in allowed}:
                problems.append(f"{symbol}.{name}: may be {sorted(extra)}")
    assert problems == []


# --- concurrency per instance (docs/performance.md, "Concurrency per instance") ----------------


def test_the_worker_has_a_thread_for_every_drop_the_host_dispatches(
        deployment: Deployment) -> None:
    """Unset, the worker's pool is min(32, cpu_count + 4): fewer threads than host.json's
    maxDegreeOfParallelism on a small instance, and dispatched drops would wait for a thread
    while their functionTimeout runs."""
    from bench import capacity
    from devstack.stack import WORKER_THREADS

    threads = int(app_settings(deployment)["PYTHON_THREADPOOL_THREAD_COUNT"])
    assert threads >= capacity.parallelism() + capacity.OTHER_THREADS
    assert threads == WORKER_THREADS  # the local stack runs on the pool Azure gives


def test_the_capacity_arithmetic_is_done_for_the_deployed_instance_size(
        deployment: Deployment) -> None:
    from bench import capacity

    assert deployment.main.parameters["instanceMemoryMB"]["default"] == \
        capacity.INSTANCE_MEMORY_MB
    module = deployment.module(FUNCTION_APP)
    assert module.parameters["instanceMemoryMB"]["default"] == capacity.INSTANCE_MEMORY_MB
