"""Settings: defaults, derived values, and errors that list every problem by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from photo_core.adapters.photo_api_settings import AuthMode
from photo_core.domain.dialects import Cloud, Dialect
from photo_core.domain.errors import SettingsError
from photo_core.settings import Settings


def test_defaults_are_graph_public_cloud_and_managed_identity() -> None:
    settings = Settings.from_env({})
    assert settings.api.dialect is Dialect.GRAPH
    assert settings.api.base_url == "https://graph.microsoft.com/v1.0"
    assert settings.api.scope == "https://graph.microsoft.com/.default"
    assert settings.api.upload_method == "PATCH"
    assert settings.auth.mode is AuthMode.MANAGED_IDENTITY
    assert settings.image.min_side == 48
    assert settings.image.max_upload_bytes == 4 * 1024 * 1024


@pytest.mark.parametrize(
    ("env", "base_url", "scope"),
    [
        ({"PHOTO_CLOUD": "usgov"}, "https://graph.microsoft.us/v1.0",
         "https://graph.microsoft.us/.default"),
        ({"PHOTO_CLOUD": "china"}, "https://microsoftgraph.chinacloudapi.cn/v1.0",
         "https://microsoftgraph.chinacloudapi.cn/.default"),
        ({"PHOTO_API_DIALECT": "outlook"}, "https://outlook.office.com/api/v2.0",
         "https://outlook.office.com/.default"),
        ({"PHOTO_API_BASE_URL": "https://127.0.0.1:8443/v1.0/",
          "PHOTO_API_HOST_OVERRIDE": "127.0.0.1"}, "https://127.0.0.1:8443/v1.0",
         "https://graph.microsoft.com/.default"),
    ],
)
def test_one_cloud_setting_moves_api_and_scope(
    env: dict[str, str], base_url: str, scope: str
) -> None:
    settings = Settings.from_env(env)
    assert settings.api.base_url == base_url
    assert settings.api.scope == scope


def test_client_secret_mode_derives_the_authority_from_cloud_and_tenant() -> None:
    settings = Settings.from_env({
        "PHOTO_AUTH_MODE": "client_secret", "PHOTO_CLOUD": "usgov",
        "PHOTO_TENANT_ID": "t1", "PHOTO_CLIENT_ID": "c1", "PHOTO_CLIENT_SECRET": "s3cr3t",
    })
    assert settings.auth.authority == "https://login.microsoftonline.us/t1"
    assert settings.auth.custom_authority is False


def test_a_local_authority_is_custom_so_instance_discovery_is_skipped() -> None:
    settings = Settings.from_env({
        "PHOTO_AUTH_MODE": "client_secret", "PHOTO_TENANT_ID": "t1", "PHOTO_CLIENT_ID": "c1",
        "PHOTO_CLIENT_SECRET": "x", "PHOTO_AUTHORITY": "https://127.0.0.1:9999/t1",
        "PHOTO_AUTHORITY_HOST_OVERRIDE": "127.0.0.1",
    })
    assert settings.auth.custom_authority is True


def test_every_problem_is_listed_by_name_at_once() -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({
            "PHOTO_API_DIALECT": "ews",
            "PHOTO_AUTH_MODE": "client_secret",
            "PHOTO_MIN_SIDE": "tiny",
            "PHOTO_MAX_UPLOAD_BYTES": str(8 * 1024 * 1024),
            "PHOTO_UPLOAD_METHOD": "POST",
            "PHOTO_API_BASE_URL": "http://graph.microsoft.com/v1.0",
            "PHOTO_EMPLOYEE_ID_MODE": "maybe",
        })
    text = str(raised.value)
    for name in ("PHOTO_API_DIALECT", "PHOTO_TENANT_ID", "PHOTO_CLIENT_ID", "PHOTO_CLIENT_SECRET",
                 "PHOTO_MIN_SIDE", "PHOTO_MAX_UPLOAD_BYTES", "PHOTO_UPLOAD_METHOD",
                 "PHOTO_API_BASE_URL", "PHOTO_EMPLOYEE_ID_MODE"):
        assert name in text
    assert len(raised.value.problems) == 9


def test_secret_values_never_appear_in_errors_or_repr() -> None:
    settings = Settings.from_env({
        "PHOTO_AUTH_MODE": "client_secret", "PHOTO_TENANT_ID": "t", "PHOTO_CLIENT_ID": "c",
        "PHOTO_CLIENT_SECRET": "very-secret-value",
    })
    assert "very-secret-value" not in repr(settings)
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({"PHOTO_AUTH_MODE": "client_secret",
                           "PHOTO_CLIENT_SECRET": "very-secret-value", "PHOTO_MIN_SIDE": "x"})
    assert "very-secret-value" not in str(raised.value)


@pytest.mark.parametrize("env", [
    {"PHOTO_DEFAULT_DOMAIN": "contoso.com", "PHOTO_EMPLOYEE_ID_MODE": "1"},
    {"PHOTO_DEFAULT_DOMAIN": "contoso.com", "PHOTO_ID_MAPPING_BLOB": "hr-config/ids.csv"},
    {"PHOTO_EMPLOYEE_ID_MODE": "yes", "PHOTO_ID_MAPPING_BLOB": "hr-config/ids.csv"},
])
def test_alias_employee_id_and_mapping_modes_are_exclusive(env: dict[str, str]) -> None:
    with pytest.raises(SettingsError, match="cannot be set together"):
        Settings.from_env(env)


def test_the_mapping_file_names_a_container_and_a_path() -> None:
    settings = Settings.from_env({"PHOTO_ID_MAPPING_BLOB": "hr-config/exports/ids.csv"})
    assert settings.naming.mapping_mode is True
    assert settings.directory.mapping_blob == "hr-config/exports/ids.csv"
    with pytest.raises(SettingsError, match="PHOTO_ID_MAPPING_BLOB"):
        Settings.from_env({"PHOTO_ID_MAPPING_BLOB": "ids.csv"})


def test_employee_id_mode_needs_graph() -> None:
    with pytest.raises(SettingsError, match="PHOTO_API_DIALECT=graph"):
        Settings.from_env({"PHOTO_API_DIALECT": "outlook", "PHOTO_EMPLOYEE_ID_MODE": "true"})


def test_default_domain_must_be_a_domain() -> None:
    with pytest.raises(SettingsError, match="PHOTO_DEFAULT_DOMAIN"):
        Settings.from_env({"PHOTO_DEFAULT_DOMAIN": "contoso com"})


def test_certificate_mode_needs_a_readable_certificate(tmp_path: Path) -> None:
    base = {"PHOTO_AUTH_MODE": "certificate", "PHOTO_TENANT_ID": "t", "PHOTO_CLIENT_ID": "c"}
    with pytest.raises(SettingsError, match="PHOTO_CLIENT_CERTIFICATE_PATH or"):
        Settings.from_env(base)
    with pytest.raises(SettingsError, match="does not name a readable file"):
        Settings.from_env({**base, "PHOTO_CLIENT_CERTIFICATE_PATH": str(tmp_path / "none.pem")})
    pem = tmp_path / "cert.pem"
    pem.write_text("-----BEGIN PRIVATE KEY-----\n")
    settings = Settings.from_env({**base, "PHOTO_CLIENT_CERTIFICATE_PATH": str(pem)})
    assert settings.auth.certificate_path == str(pem)


def test_managed_identity_takes_an_optional_user_assigned_client_id() -> None:
    assert Settings.from_env({"PHOTO_CLIENT_ID": "mi-1"}).auth.client_id == "mi-1"
    assert Settings.from_env({"PHOTO_CLOUD": "CHINA"}).api.cloud is Cloud.CHINA


def test_inconsistent_image_settings_are_named() -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({"PHOTO_MIN_SIDE": "600", "PHOTO_MAX_SIDE": "500"})
    assert "PHOTO_MAX_SIDE (500) must be at least PHOTO_MIN_SIDE (600)" in str(raised.value)


def test_deletion_sync_needs_drops_to_be_kept() -> None:
    assert Settings.from_env({"PHOTO_DELETE_ON_BLOB_DELETE": "true"}).storage \
        .delete_photo_on_blob_delete is True
    with pytest.raises(SettingsError, match="PHOTO_PROCESSED_ACTION=keep"):
        Settings.from_env({"PHOTO_DELETE_ON_BLOB_DELETE": "true",
                           "PHOTO_PROCESSED_ACTION": "delete"})


def test_lookups_have_a_short_time_budget_of_their_own() -> None:
    assert Settings.from_env({}).lookup_budget_seconds == 10
    settings = Settings.from_env({"PHOTO_LOOKUP_BUDGET_SECONDS": "3.5"})
    assert settings.lookup_budget_seconds == 3.5
    assert settings.retry.budget_seconds == 120, "the drop path keeps its own budget"


@pytest.mark.parametrize("value", ["0", "0.5", "61", "230", "soon"])
def test_a_lookup_budget_outside_one_second_to_a_minute_is_refused(value: str) -> None:
    with pytest.raises(SettingsError, match="PHOTO_LOOKUP_BUDGET_SECONDS"):
        Settings.from_env({"PHOTO_LOOKUP_BUDGET_SECONDS": value})


@pytest.mark.parametrize(
    ("name", "value"),
    [("PHOTO_RETRY_BUDGET_SECONDS", "241"), ("PHOTO_RETRY_BUDGET_SECONDS", "3600"),
     ("PHOTO_HTTP_READ_TIMEOUT_SECONDS", "121"), ("PHOTO_HTTP_READ_TIMEOUT_SECONDS", "300")],
)
def test_a_retry_budget_or_read_timeout_beyond_the_function_timeout_is_refused(
    name: str, value: str
) -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({name: value})
    assert raised.value.problems == [
        f"{name}={value} is outside "
        f"{'0..240' if 'BUDGET' in name else '0.1..120'}: it must fit in the 5-minute function "
        "timeout (host.json)"]


def test_budget_and_timeouts_together_must_fit_in_the_function_timeout() -> None:
    fits = Settings.from_env({"PHOTO_RETRY_BUDGET_SECONDS": "240",
                              "PHOTO_HTTP_CONNECT_TIMEOUT_SECONDS": "5",
                              "PHOTO_HTTP_READ_TIMEOUT_SECONDS": "55"})
    assert (fits.retry.budget_seconds, fits.api.read_timeout) == (240, 55)
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({"PHOTO_RETRY_BUDGET_SECONDS": "240",
                           "PHOTO_HTTP_CONNECT_TIMEOUT_SECONDS": "10",
                           "PHOTO_HTTP_READ_TIMEOUT_SECONDS": "120"})
    [problem] = raised.value.problems
    for name in ("PHOTO_RETRY_BUDGET_SECONDS (240)", "PHOTO_HTTP_CONNECT_TIMEOUT_SECONDS (10)",
                 "PHOTO_HTTP_READ_TIMEOUT_SECONDS (120)", "370s", "5-minute function timeout"):
        assert name in problem


@pytest.mark.parametrize("credential", ["PHOTO_CLIENT_SECRET", "PHOTO_CLIENT_CERTIFICATE"])
def test_a_credential_without_an_auth_mode_is_refused_not_silently_ignored(
    credential: str,
) -> None:
    with pytest.raises(SettingsError, match=f"{credential} set but PHOTO_AUTH_MODE is not"):
        Settings.from_env({credential: "s3cr3t", "PHOTO_TENANT_ID": "contoso.com",
                           "PHOTO_CLIENT_ID": "c1"})


@pytest.mark.parametrize("tenant", ["a b/../x", "contoso.com/evil", "t?x=1", "-x"])
def test_a_tenant_that_is_not_an_id_or_a_domain_is_refused(tenant: str) -> None:
    with pytest.raises(SettingsError, match="PHOTO_TENANT_ID"):
        Settings.from_env({"PHOTO_AUTH_MODE": "client_secret", "PHOTO_TENANT_ID": tenant,
                           "PHOTO_CLIENT_ID": "c1", "PHOTO_CLIENT_SECRET": "x"})


@pytest.mark.parametrize(("env", "accepted"), [
    ({"PHOTO_API_BASE_URL": "https://graph.microsoft.us/v1.0"}, False),
    ({"PHOTO_API_BASE_URL": "https://outlook.office365.com/api/v2.0"}, False),
    ({"PHOTO_API_BASE_URL": "https://graph.microsoft.us/v1.0", "PHOTO_CLOUD": "usgov"}, True),
    ({"PHOTO_API_BASE_URL": "https://outlook.office365.com/api/v2.0",
      "PHOTO_API_DIALECT": "outlook"}, True),
    ({"PHOTO_API_BASE_URL": "https://127.0.0.1:8443/v1.0",  # an emulator or a proxy, named
      "PHOTO_API_HOST_OVERRIDE": "127.0.0.1"}, True),
    ({"PHOTO_API_BASE_URL": "https://127.0.0.1:8443/v1.0"}, False),  # ... but not named
    ({"PHOTO_API_BASE_URL": "https://graph.microsoft.com.evil.example/v1.0"}, False),
    ({"PHOTO_API_BASE_URL": "https://graph.microsoft.com.evil.example/v1.0",
      "PHOTO_API_HOST_OVERRIDE": "graph.microsoft.com"}, False),  # names another host
    ({"PHOTO_API_BASE_URL": "https://evil.example/graph.microsoft.com/v1.0"}, False),
    ({"PHOTO_API_BASE_URL": "https://graph.microsoft.com@evil.example/v1.0"}, False),
    ({"PHOTO_API_HOST_OVERRIDE": "127.0.0.1"}, False),  # an override the base URL does not use
    ({"PHOTO_API_BASE_URL": "https://dod-graph.microsoft.us/v1.0", "PHOTO_CLOUD": "usgov"},
     False),  # no cloud setting issues tokens for it
])
def test_a_microsoft_api_host_must_match_the_cloud_and_dialect(env: dict[str, str],
                                                               accepted: bool) -> None:
    if accepted:
        Settings.from_env(env)
    else:
        with pytest.raises(SettingsError, match="PHOTO_API_BASE_URL"):
            Settings.from_env(env)


def test_a_storage_connection_that_is_not_a_connection_string_is_refused_unshown() -> None:
    with pytest.raises(SettingsError, match="PhotoStorage is not a storage connection string") \
            as raised:
        Settings.from_env({"PhotoStorage": "garbage-s3cr3t"})
    assert "s3cr3t" not in str(raised.value)
    Settings.from_env({"PhotoStorage": "UseDevelopmentStorage=true"})
    Settings.from_env({"PhotoStorage": "DefaultEndpointsProtocol=https;AccountName=a;"
                                       "AccountKey=abc==;EndpointSuffix=core.windows.net"})


@pytest.mark.parametrize("value", [
    "BlobEndpoint=https://a.blob.core.windows.net;SharedAccessSignature=" + "&".join(
        f"p{i}=v{i}" for i in range(16)) + ";;",  # a SAS with many parameters, and ';;'
    " AccountName = a ; AccountKey=abc== ;",
])
def test_connection_strings_the_sdk_reads_are_accepted_at_once(value: str) -> None:
    Settings.from_env({"PhotoStorage": value})


def test_a_reconcile_deadline_past_the_function_timeout_is_refused() -> None:
    with pytest.raises(SettingsError, match="PHOTO_RECONCILE_DEADLINE_SECONDS"):
        Settings.from_env({"PHOTO_RECONCILE_DEADLINE_SECONDS": "600"})


def test_the_decode_cost_limits_are_read_in_mb_and_millions_of_block_decodes() -> None:
    default = Settings.from_env({}).image
    assert (default.max_decode_bytes, default.max_decode_work) == (200 * 2**20, 140_000_000)
    image = Settings.from_env({"PHOTO_MAX_DECODE_MB": "512",
                               "PHOTO_MAX_DECODE_WORK": "400"}).image
    assert (image.max_decode_bytes, image.max_decode_work) == (512 * 2**20, 400_000_000)
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({"PHOTO_MAX_DECODE_MB": "0", "PHOTO_MAX_DECODE_WORK": "lots"})
    assert "PHOTO_MAX_DECODE_MB=0 is outside" in str(raised.value)
    assert "PHOTO_MAX_DECODE_WORK='lots' is not a number" in str(raised.value)


def test_a_look_alike_api_host_is_refused_with_the_way_to_name_it_on_purpose() -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({"PHOTO_API_BASE_URL": "https://graph.microsoft.com.evil.example/v1.0"})
    assert ("PHOTO_API_BASE_URL's host 'graph.microsoft.com.evil.example' is not "
            "graph.microsoft.com") in str(raised.value)
    assert "PHOTO_API_HOST_OVERRIDE=graph.microsoft.com.evil.example" in str(raised.value)


# URLs that urlsplit and urllib3 (what requests sends with) read different hosts from, or that
# carry user info: the token must go to the host the check saw, so they are refused outright.
UNPLAIN_URLS = [
    "https://evil.example\\@{host}/x",
    "https://127.0.0.1:8443\\@{host}/x",
    "https://{host}@{host}/x",  # user info, even naming the right host
    "https://user:pw@{host}/x",
    "https://{host}\t/x",
    "https://{host} /x",
    "https://{host}%2eevil.example/x",
    "https://{host};evil.example/x",
    "https://{host}\x00.evil.example/x",
]


@pytest.mark.parametrize("template", UNPLAIN_URLS)
def test_a_base_url_the_http_client_could_read_another_host_from_is_refused(
        template: str) -> None:
    url = template.format(host="graph.microsoft.com").replace("/x", "/v1.0")
    with pytest.raises(SettingsError, match="PHOTO_API_BASE_URL"):
        Settings.from_env({"PHOTO_API_BASE_URL": url})
    with pytest.raises(SettingsError, match="PHOTO_API_BASE_URL"):  # an override cannot help
        Settings.from_env({"PHOTO_API_BASE_URL": url, "PHOTO_API_HOST_OVERRIDE": "evil.example"})


@pytest.mark.parametrize("url", [
    "https://graph.microsoft.com/v1.0", "https://GRAPH.microsoft.com:443/v1.0",
])
def test_an_accepted_base_url_sends_to_the_host_the_check_saw(url: str) -> None:
    from urllib3.util import parse_url

    settings = Settings.from_env({"PHOTO_API_BASE_URL": url})
    assert (parse_url(settings.api.base_url).host or "").lower() == "graph.microsoft.com"


SECRET_MODE = {"PHOTO_AUTH_MODE": "client_secret", "PHOTO_TENANT_ID": "t1",
               "PHOTO_CLIENT_ID": "c1", "PHOTO_CLIENT_SECRET": "x"}


@pytest.mark.parametrize(("env", "accepted"), [
    ({"PHOTO_AUTHORITY": "https://login.microsoftonline.com/t1"}, True),
    ({"PHOTO_AUTHORITY": "https://login.microsoftonline.us/t1", "PHOTO_CLOUD": "usgov"}, True),
    ({"PHOTO_AUTHORITY": "https://login.microsoftonline.com.evil.example/t1"}, False),
    ({"PHOTO_AUTHORITY": "https://login.microsoftonline.us/t1"}, False),  # another cloud's
    ({"PHOTO_AUTHORITY": "https://127.0.0.1:9999/t1"}, False),  # not named on purpose
    ({"PHOTO_AUTHORITY": "https://127.0.0.1:9999/t1",
      "PHOTO_AUTHORITY_HOST_OVERRIDE": "127.0.0.1"}, True),
    ({"PHOTO_AUTHORITY": "https://login.microsoftonline.com.evil.example/t1",
      "PHOTO_AUTHORITY_HOST_OVERRIDE": "login.microsoftonline.com"}, False),  # names another
    ({"PHOTO_AUTHORITY_HOST_OVERRIDE": "127.0.0.1"}, False),  # an override the authority
    *(({"PHOTO_AUTHORITY": t.format(host="login.microsoftonline.com")}, False)
      for t in UNPLAIN_URLS),
    *(({"PHOTO_AUTHORITY": t.format(host="login.microsoftonline.com"),
        "PHOTO_AUTHORITY_HOST_OVERRIDE": "evil.example"}, False) for t in UNPLAIN_URLS[:2]),
])
def test_the_authority_must_be_the_clouds_login_host_unless_named_on_purpose(
        env: dict[str, str], accepted: bool) -> None:
    if accepted:
        Settings.from_env({**SECRET_MODE, **env})
    else:
        with pytest.raises(SettingsError, match="PHOTO_AUTHORITY"):
            Settings.from_env({**SECRET_MODE, **env})


def test_a_look_alike_authority_is_refused_with_the_way_to_name_it_on_purpose() -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({**SECRET_MODE,
                           "PHOTO_AUTHORITY": "https://login.microsoftonline.com.evil.example/t"})
    assert ("PHOTO_AUTHORITY's host 'login.microsoftonline.com.evil.example' is not "
            "login.microsoftonline.com") in str(raised.value)
    assert ("PHOTO_AUTHORITY_HOST_OVERRIDE=login.microsoftonline.com.evil.example"
            in str(raised.value))
