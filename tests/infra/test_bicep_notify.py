"""Notices to HR as deployed: the webhook URL only ever a secure parameter, a Key Vault secret
and a Key Vault reference; the notice timers' schedules always set (a timer binding whose
%SETTING% is missing stops the app from loading); the timers disabled without a webhook."""

from __future__ import annotations

import json
import re
from typing import Any

from photo_core.domain.notices import NoticeFormat
from photo_core.settings import Settings
from photo_core.use_cases.notify_settings import NotifySettings
from tests.infra.iac import ROOT, Deployment
from tests.infra.test_bicep_drift import FUNCTION_APP, app_settings, environment_for

SECRET_MODULE = "notify-secret.bicep"
TEAMS_URL = "https://prod-00.westeurope.logic.azure.com:443/workflows/x/invoke?sig=example"


def notify_settings(deployment: Deployment, secret_name: str) -> dict[str, Any]:
    """function-app.bicep's notice settings for a deployment with (or without) the secret."""
    module = deployment.module(FUNCTION_APP)
    bindings = {**deployment.bindings(deployment.module_symbol(FUNCTION_APP)),
                "notifyWebhookSecretName": secret_name, "keyVaultName": "kv-photo-example"}
    resolved = module.resolve(module.variables["notifySettings"], bindings)
    assert isinstance(resolved, dict)
    return {name.strip("'"): value for name, value in resolved.items()}  # 'quoted' keys


def timer_functions(functions: list[dict[str, Any]]) -> dict[str, str]:
    return {f["name"]: b["schedule"] for f in functions for b in f["bindings"]
            if b["type"] == "timerTrigger"}


def test_every_timer_schedule_setting_is_always_set(
        deployment: Deployment, functions: list[dict[str, Any]]) -> None:
    settings = app_settings(deployment)
    timers = timer_functions(functions)
    assert {"notify", "notify_digest"} <= set(timers)
    for name, schedule in timers.items():
        setting = re.fullmatch(r"%(\w+)%", schedule)
        assert setting, f"{name}: {schedule}"
        assert setting.group(1) in settings, f"{name} needs {setting.group(1)} to load"
    code = NotifySettings()
    assert settings["PHOTO_NOTIFY_SCHEDULE"] == code.schedule
    assert settings["PHOTO_NOTIFY_DIGEST_SCHEDULE"] == code.digest_schedule
    assert settings["PHOTO_NOTIFY_FORMAT"] == code.format.value


def test_the_webhook_url_is_a_secure_parameter_a_secret_and_a_key_vault_reference(
        deployment: Deployment) -> None:
    main = deployment.main
    assert "secure" in main.decorators("notifyWebhookUrl")
    assert main.resolve("notifyWebhookUrl") == ""  # no notices unless asked
    secret = deployment.module(SECRET_MODULE)
    assert "secure" in secret.decorators("value")
    (resource,) = secret.resources("Microsoft.KeyVault/vaults/secrets").values()
    assert resource["properties"]["value"] == "value"
    assert deployment.bindings(deployment.module_symbol(SECRET_MODULE))["value"] == \
        main.resolve("notifyWebhookUrl")
    with_url = notify_settings(deployment, "photo-notify-webhook-url")
    assert with_url == {"PHOTO_NOTIFY_WEBHOOK_URL": "@Microsoft.KeyVault(VaultName="
                        "kv-photo-example;SecretName=photo-notify-webhook-url)"}
    parameters = json.loads((ROOT / "infra" / "main.parameters.json").read_text())["parameters"]
    assert parameters["notifyWebhookUrl"]["value"] == "${PHOTO_NOTIFY_WEBHOOK_URL=}"
    assert parameters["notifyFormat"]["value"] == "${PHOTO_NOTIFY_FORMAT=teams}"
    assert not any("notify" in name.lower() for name in main.outputs)  # nothing echoes it


def test_without_a_webhook_both_notice_timers_are_disabled(
        deployment: Deployment, functions: list[dict[str, Any]]) -> None:
    without = notify_settings(deployment, "")
    assert without == {f"AzureWebJobs.{name}.Disabled": "true" for name in
                       ("notify", "notify_digest")}
    assert set(timer_functions(functions)) >= {"notify", "notify_digest"}


def test_the_format_parameter_allows_exactly_the_codes_formats(deployment: Deployment) -> None:
    allowed = set(deployment.main.decorators("notifyFormat")["allowed"])
    assert allowed == {f.value for f in NoticeFormat}
    assert set(deployment.module(FUNCTION_APP).decorators("notifyFormat")["allowed"]) == allowed


def test_the_deployed_settings_with_a_webhook_are_valid(deployment: Deployment) -> None:
    env = environment_for(deployment, "managed_identity")
    env["PHOTO_NOTIFY_WEBHOOK_URL"] = TEAMS_URL  # what the Key Vault reference resolves to
    settings = Settings.from_env(env, require_storage=True)
    assert settings.notify.enabled and settings.notify.format is NoticeFormat.TEAMS


def test_every_timer_schedule_can_be_set_through_azd(
        deployment: Deployment, functions: list[dict[str, Any]]) -> None:
    """An azd environment value reaches each timer's setting through a main.bicep parameter,
    with the code's default; PHOTO_EXTRA_APP_SETTINGS cannot (later settings win there)."""
    parameters = json.loads((ROOT / "infra" / "main.parameters.json").read_text())["parameters"]
    by_setting = {}
    for parameter, spec in parameters.items():
        mapped = re.fullmatch(r"\$\{(\w+)=(.*)\}", str(spec["value"]))
        if mapped:
            by_setting[mapped.group(1)] = (parameter, mapped.group(2))
    defaults = {"PHOTO_NOTIFY_SCHEDULE": NotifySettings().schedule,
                "PHOTO_NOTIFY_DIGEST_SCHEDULE": NotifySettings().digest_schedule,
                "PHOTO_RECONCILE_SCHEDULE": "0 0 2 * * *"}
    module = deployment.module(FUNCTION_APP)
    for name, schedule in timer_functions(functions).items():
        setting = schedule.strip("%")
        assert setting in by_setting, f"{name}: no azd environment value sets {setting}"
        parameter, default = by_setting[setting]
        assert default == defaults[setting] == deployment.main.resolve(parameter)
        chosen = "0 30 6 * * 1-5"
        resolved = deployment.resolve_in(FUNCTION_APP, module.variables["appSettings"],
                                         {parameter: chosen})
        assert resolved[setting] == chosen, f"{parameter} does not reach {setting}"
