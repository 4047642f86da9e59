"""The functions called directly, with real BlobClients on Azurite and real HttpRequests."""

from __future__ import annotations

import base64
import importlib
import io
import json
import logging
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import parse_qs, urlencode, urlsplit

import azure.functions as func
import pytest
from azure.storage.blob import BlobClient, BlobServiceClient
from PIL import Image

from devstack.azurite import Azurite
from devstack.stack import local_settings_values
from photo_core.bootstrap import SDK_REQUEST_LOGGER, reset_app_services
from photo_core.domain.errors import Throttled
from photo_core.entrypoints import handlers
from tests.integration.emulator_fixture import emulator_session
from tests.integration.loopback import self_signed_certificate
from tests.integration.test_photo_api import admin, faults
from tests.photos import jpeg

if TYPE_CHECKING:
    from azure.storage.blob._shared.base_client import TransportWrapper

pytestmark = pytest.mark.integration

Functions = dict[str, Callable[..., Any]]


@pytest.fixture
def container_name(azurite: Azurite) -> str:
    name = f"drops-{uuid.uuid4().hex[:10]}"
    BlobServiceClient.from_connection_string(azurite.connection_string).create_container(name)
    return name


@pytest.fixture
def functions(emu: dict[str, Any], azurite: Azurite, container_name: str,
              monkeypatch: pytest.MonkeyPatch) -> Iterator[Functions]:
    values = local_settings_values(azurite.connection_string, emu)
    values.update(PHOTO_DROP_CONTAINER=container_name,
                  PHOTO_STATE_TABLE=f"state{uuid.uuid4().hex[:10]}",
                  PHOTO_RETRY_BUDGET_SECONDS="5")
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    reset_app_services()
    import function_app

    app = importlib.reload(function_app).app  # get_functions() works once per app object
    yield {f.get_function_name(): f.get_user_function() for f in app.get_functions()}
    reset_app_services()


def drop(azurite: Azurite, container: str, name: str, data: bytes) -> BlobClient:
    client = BlobClient.from_connection_string(azurite.connection_string, container, name)
    client.upload_blob(data, overwrite=True)
    return client


def get(functions: Functions, name: str, route: str, user: str,
        headers: dict[str, str] | None = None, params: dict[str, str] | None = None,
        ) -> func.HttpResponse:
    query = f"?{urlencode(params)}" if params else ""  # as the host gives it: query included
    request = func.HttpRequest("GET", f"http://localhost/api/{route}{query}",
                               headers=headers or {}, params=params or {},
                               route_params={"user": user}, body=b"")
    response: func.HttpResponse = functions[name](request)
    return response


def body(response: func.HttpResponse) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(response.get_body())
    return result


def test_the_app_declares_its_functions(functions: Functions) -> None:
    assert set(functions) == {"sync_photo", "reconcile", "photo_deleted", "photo_lookup",
                              "photo_value", "outcome_report", "health", "notify",
                              "notify_digest"}


def test_a_drop_is_synced_and_its_outcome_tagged(functions: Functions, azurite: Azurite,
                                                 container_name: str,
                                                 emu: dict[str, Any]) -> None:
    photo = jpeg()
    client = drop(azurite, container_name, "alex.wilber@contoso.com.jpg", photo)
    functions["sync_photo"](client)
    tags = client.get_blob_tags()
    assert (tags["photosync-status"], tags["photosync-reason"]) == ("uploaded", "none")
    assert admin(emu, "GET", "/users/alex.wilber@contoso.com/photo").content == photo


@pytest.fixture
def sdk_request_log_as_installed() -> Iterator[logging.Logger]:
    """The storage SDK's request logger at the level it comes with (nothing set on it)."""
    logger = logging.getLogger(SDK_REQUEST_LOGGER)
    before = logger.level
    logger.setLevel(logging.NOTSET)
    yield logger
    logger.setLevel(before)


def test_at_the_workers_info_level_a_drop_logs_its_outcome_not_each_storage_request(
        functions: Functions, azurite: Azurite, container_name: str,
        sdk_request_log_as_installed: logging.Logger,
        caplog: pytest.LogCaptureFixture) -> None:
    """The Python worker sets the root logger to INFO and ships every record to Application
    Insights: the SDK's request and response headers, a dozen per drop, would drown the
    drop's own lines and be paid for."""
    client = drop(azurite, container_name, "alex.wilber@contoso.com.jpg", jpeg())
    caplog.set_level(logging.INFO)
    functions["sync_photo"](client)
    assert any("uploaded" in r.getMessage() for r in caplog.records
               if r.name.startswith("photo_core"))
    assert [r.getMessage()[:60] for r in caplog.records if r.name == SDK_REQUEST_LOGGER] == []


def test_permanent_failures_return_normally_as_rejections(functions: Functions,
                                                          azurite: Azurite,
                                                          container_name: str) -> None:
    client = drop(azurite, container_name, "nobody@contoso.com.jpg", jpeg())
    functions["sync_photo"](client)
    assert client.get_blob_tags()["photosync-reason"] == "user_not_found"


def test_transient_failures_raise_for_the_platform_to_retry(functions: Functions,
                                                            azurite: Azurite,
                                                            container_name: str,
                                                            emu: dict[str, Any]) -> None:
    client = drop(azurite, container_name, "alex.wilber@contoso.com.jpg", jpeg())
    faults(emu, script=[{"status": 429, "retry_after": 120}])
    with pytest.raises(Exception, match="throttled"):
        functions["sync_photo"](client)
    assert client.get_blob_tags() == {}


def test_lookup_answers_metadata_and_the_last_sync(functions: Functions, azurite: Azurite,
                                                   container_name: str) -> None:
    functions["sync_photo"](drop(azurite, container_name, "alex.wilber@contoso.com.jpg",
                                 jpeg(size=(300, 300))))
    response = get(functions, "photo_lookup", "users/alex.wilber@contoso.com/photo",
                   "alex.wilber@contoso.com")
    assert response.status_code == 200
    answer = body(response)
    assert answer["hasPhoto"] is True
    assert (answer["width"], answer["height"], answer["contentType"]) == (300, 300, "image/jpeg")
    assert "240x240" in answer["sizes"]
    assert answer["lastSync"]["status"] == "uploaded"
    assert answer["lastSync"]["blob"] == "alex.wilber@contoso.com.jpg"
    etag = response.headers["ETag"]
    again = get(functions, "photo_lookup", "", "alex.wilber@contoso.com",
                headers={"If-None-Match": etag})
    assert again.status_code == 304


def test_lookup_of_a_user_without_photo_or_sync(functions: Functions) -> None:
    answer = body(get(functions, "photo_lookup", "", "megan.bowen@contoso.com"))
    assert answer["hasPhoto"] is True and answer["lastSync"] is None
    answer = body(get(functions, "photo_lookup", "", "lee.gu@contoso.com"))
    assert answer["hasPhoto"] is False and answer["sizes"] == []


@pytest.mark.parametrize(
    ("user", "status", "code"),
    [
        ("jane doe@contoso.com", 400, "invalid_characters"),
        ("../../admin", 400, "invalid_characters"),
        ("jane.doe", 400, "not_a_user_reference"),
        ("nobody@contoso.com", 404, "user_not_found"),
        ("diego.siciliani@contoso.com", 404, "no_mailbox"),
        ("nestor.wilke@contoso.com", 404, "mailbox_on_premises"),
    ],
)
def test_lookup_errors_are_json_with_a_stable_code(functions: Functions, user: str, status: int,
                                                   code: str) -> None:
    response = get(functions, "photo_lookup", "", user)
    assert response.status_code == status
    assert body(response)["error"]["code"] == code
    assert "Traceback" not in response.get_body().decode()


def test_a_user_whose_photo_is_kept_in_entra_id_is_synced_and_looked_up_without_sizes(
        functions: Functions, azurite: Azurite, container_name: str) -> None:
    client = drop(azurite, container_name, "isaiah.langer@contoso.com.jpg", jpeg(size=(300, 200)))
    functions["sync_photo"](client)
    assert client.get_blob_tags()["photosync-status"] == "uploaded"
    response = get(functions, "photo_lookup", "", "isaiah.langer@contoso.com")
    assert response.status_code == 200
    answer = body(response)
    assert (answer["hasPhoto"], answer["width"], answer["height"]) == (True, 300, 200)
    assert answer["sizes"] == [] and answer["lastSync"]["status"] == "uploaded"
    value = get(functions, "photo_value", "", "isaiah.langer@contoso.com")
    assert value.status_code == 200 and value.mimetype == "image/jpeg"


@pytest.mark.parametrize(("user", "reason"), [
    ("diego.siciliani@contoso.com", "no_mailbox"),
    ("nestor.wilke@contoso.com", "mailbox_on_premises"),
])
def test_drops_for_users_whose_photo_cannot_be_in_exchange_are_rejected_by_cause(
        functions: Functions, azurite: Azurite, container_name: str, user: str,
        reason: str) -> None:
    client = drop(azurite, container_name, f"{user}.jpg", jpeg())
    functions["sync_photo"](client)
    assert client.get_blob_tags()["photosync-reason"] == reason


def test_photo_update_policy_and_mailbox_errors_have_their_own_statuses() -> None:
    import function_app
    from photo_core.domain.errors import MailboxOnPremises, NoMailbox, PhotoUpdatePolicy

    for error, status in ((NoMailbox("x"), 404), (MailboxOnPremises("x"), 404),
                          (PhotoUpdatePolicy("x"), 403)):
        response = function_app._error(error)
        assert response.status_code == status
        assert body(response)["error"]["code"] == error.code


def test_the_dry_run_setting_on_event_drops_resolves_users_and_records_nothing(
        functions: Functions, azurite: Azurite, container_name: str, emu: dict[str, Any],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PHOTO_DRY_RUN", "true")
    reset_app_services()
    for user in ("nobody", "diego.siciliani", "nestor.wilke", "alex.wilber"):
        client = drop(azurite, container_name, f"{user}@contoso.com.jpg", jpeg())
        functions["sync_photo"](client)
        assert client.get_blob_tags() == {}
    report = body(get(functions, "outcome_report", "reports/outcomes", "",
                      params={"since": "1h"}))
    assert report["byStatus"] == {"would-reject": 3, "would-upload": 1}
    assert report["byReason"] == {"user_not_found": 1, "no_mailbox": 1,
                                  "mailbox_on_premises": 1}
    assert admin(emu, "GET", "/uploads").json()["value"] == []


def test_an_invalid_reference_sends_nothing_upstream(functions: Functions,
                                                     emu: dict[str, Any]) -> None:
    before = admin(emu, "GET", "/stats").json()
    get(functions, "photo_lookup", "", "x%2F..%2Fy@contoso.com")
    assert admin(emu, "GET", "/stats").json() == before


def test_throttled_lookups_are_503_with_retry_after(functions: Functions,
                                                    emu: dict[str, Any]) -> None:
    faults(emu, script=[{"status": 429, "retry_after": 45}])
    response = get(functions, "photo_lookup", "", "adele.vance@contoso.com")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "45"
    assert body(response)["error"]["code"] == "throttled"


def test_a_throttled_lookup_answers_within_the_lookup_budget_not_the_drop_budget(
        functions: Functions, emu: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """The drop path may wait 120 s for the service; a lookup, whose caller is waiting on an HTTP
    response Azure cuts off at 230 s, answers 503 with the service's Retry-After instead."""
    monkeypatch.setenv("PHOTO_RETRY_BUDGET_SECONDS", "120")
    monkeypatch.setenv("PHOTO_LOOKUP_BUDGET_SECONDS", "2")
    reset_app_services()
    faults(emu, script=[{"status": 429, "retry_after": 5}] * 2)
    for name in ("photo_lookup", "photo_value"):
        before = photo_calls(emu)
        response = get(functions, name, "", "adele.vance@contoso.com")
        assert photo_calls(emu) == before + 1  # the throttled call only: no wait, no retry
        assert (response.status_code, response.headers["Retry-After"]) == (503, "5")
        assert body(response)["error"]["code"] == "throttled"


def photo_calls(emu: dict[str, Any]) -> int:
    """How many photo API requests the emulator has answered (tokens not counted)."""
    requests = admin(emu, "GET", "/stats").json()["requests"]
    return sum(sum(by_status.values()) for operation, by_status in requests.items()
               if operation.startswith("graph."))


def test_other_upstream_failures_are_502(functions: Functions, emu: dict[str, Any]) -> None:
    faults(emu, script=[{"status": 400, "code": "BadRequest"}])
    response = get(functions, "photo_lookup", "", "adele.vance@contoso.com")
    assert response.status_code == 502


def test_the_photo_itself_and_one_size(functions: Functions) -> None:
    response = get(functions, "photo_value", "", "adele.vance@contoso.com")
    assert response.status_code == 200
    assert response.mimetype == "image/jpeg"
    assert response.get_body()[:2] == b"\xff\xd8"
    sized = get(functions, "photo_value", "", "megan.bowen@contoso.com",
                params={"size": "48x48"})
    assert Image.open(io.BytesIO(sized.get_body())).size == (48, 48)
    bad = get(functions, "photo_value", "", "adele.vance@contoso.com", params={"size": "50x50"})
    assert (bad.status_code, body(bad)["error"]["code"]) == (400, "invalid_size")
    none = get(functions, "photo_value", "", "lee.gu@contoso.com")
    assert (none.status_code, body(none)["error"]["code"]) == (404, "no_photo")


def test_photo_bytes_are_neither_sniffed_nor_cached_and_json_is_not_sniffed(
        functions: Functions) -> None:
    photo = get(functions, "photo_value", "", "adele.vance@contoso.com")
    assert photo.headers["X-Content-Type-Options"] == "nosniff"
    assert photo.headers["Cache-Control"] == "private, no-store"
    answers = [get(functions, "photo_lookup", "", "adele.vance@contoso.com"),
               get(functions, "photo_value", "", "lee.gu@contoso.com"),  # an error's JSON
               get(functions, "outcome_report", "", "", params={"since": "1h"}),
               get(functions, "outcome_report", "", "", params={"format": "csv"}),
               get(functions, "health", "", "")]
    assert [a.headers.get("X-Content-Type-Options") for a in answers] == ["nosniff"] * 5


def test_health_reports_checks_without_details(functions: Functions) -> None:
    request = func.HttpRequest("GET", "http://localhost/api/health", body=b"")
    response = functions["health"](request)
    assert response.status_code == 200
    assert json.loads(response.get_body()) == {
        "status": "ok", "checks": {"settings": "ok", "storage": "ok", "identity": "ok",
                                   "notices": "off"}}  # no webhook configured


def with_employee_ids(monkeypatch: pytest.MonkeyPatch, emu: dict[str, Any]) -> None:
    """Employee-id mode, as an app granted User.Read.All (the emulator's 'full' app)."""
    monkeypatch.setenv("PHOTO_EMPLOYEE_ID_MODE", "true")
    monkeypatch.setenv("PHOTO_CLIENT_ID", emu["full_client_id"])
    monkeypatch.setenv("PHOTO_CLIENT_SECRET", emu["full_client_secret"])
    reset_app_services()


def test_employee_id_mode_without_user_read_all_is_a_clear_forbidden(
        functions: Functions, azurite: Azurite, container_name: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PHOTO_EMPLOYEE_ID_MODE", "true")
    reset_app_services()
    client = drop(azurite, container_name, "100002.jpg", jpeg())
    functions["sync_photo"](client)
    assert client.get_blob_tags()["photosync-reason"] == "forbidden"
    message = client.get_blob_properties().metadata["photosync_message"]
    assert "User.Read.All" in message


def test_employee_ids_resolve_with_the_permission_granted(
        functions: Functions, azurite: Azurite, container_name: str, emu: dict[str, Any],
        monkeypatch: pytest.MonkeyPatch) -> None:
    with_employee_ids(monkeypatch, emu)
    photo = jpeg(color="#abcdef")
    functions["sync_photo"](drop(azurite, container_name, "100002.jpg", photo))
    assert admin(emu, "GET", "/users/alex.wilber@contoso.com/photo").content == photo
    ambiguous = drop(azurite, container_name, "200200.jpg", jpeg())
    functions["sync_photo"](ambiguous)
    assert ambiguous.get_blob_tags()["photosync-reason"] == "ambiguous_user"


def test_a_drops_api_calls_share_one_retry_budget(
        functions: Functions, azurite: Azurite, container_name: str, emu: dict[str, Any],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """An employee-id drop resolves, then uploads: each waiting out a budget of its own could
    outlast the function timeout, so the second wait that no longer fits raises instead."""
    monkeypatch.setenv("PHOTO_RETRY_BUDGET_SECONDS", "3")
    with_employee_ids(monkeypatch, emu)
    faults(emu, script=[{"status": 429, "retry_after": 2, "method": "GET"},  # the resolve
                        {"status": 429, "retry_after": 2, "method": "PATCH"}])  # the upload
    client = drop(azurite, container_name, "100002.jpg", jpeg())
    with pytest.raises(Throttled):
        functions["sync_photo"](client)
    assert client.get_blob_tags() == {}  # nothing recorded: the platform delivers it again


def test_a_lookup_by_upn_sees_a_photo_dropped_by_employee_id_at_once(
        functions: Functions, azurite: Azurite, container_name: str, emu: dict[str, Any],
        monkeypatch: pytest.MonkeyPatch) -> None:
    with_employee_ids(monkeypatch, emu)
    before = body(get(functions, "photo_lookup", "", "alex.wilber@contoso.com"))  # now cached
    photo = jpeg(color="#123456", size=(300, 300))
    functions["sync_photo"](drop(azurite, container_name, "100002.jpg", photo))
    after = body(get(functions, "photo_lookup", "", "alex.wilber@contoso.com"))
    assert after["etag"] != before["etag"]
    assert (after["width"], after["height"]) == (300, 300)


def test_lookup_of_an_employee_id_several_users_share_is_404(
        functions: Functions, emu: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    with_employee_ids(monkeypatch, emu)
    assert get(functions, "photo_lookup", "", "100002").status_code == 200
    for name in ("photo_lookup", "photo_value"):
        response = get(functions, name, "", "200200")
        assert (response.status_code, body(response)["error"]["code"]) == (404, "ambiguous_user")


def test_lookup_of_an_hr_id_the_mapping_file_does_not_hold_is_404(
        functions: Functions, azurite: Azurite, monkeypatch: pytest.MonkeyPatch) -> None:
    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    config = service.create_container(f"hr-config-{uuid.uuid4().hex[:8]}")
    config.upload_blob("ids.csv", b"id,upn\nHR-0042,megan.bowen@contoso.com\n")
    monkeypatch.setenv("PHOTO_ID_MAPPING_BLOB", f"{config.container_name}/ids.csv")
    reset_app_services()
    assert body(get(functions, "photo_lookup", "", "HR-0042"))["hasPhoto"] is True
    for name in ("photo_lookup", "photo_value"):
        response = get(functions, name, "", "HR-9999")
        assert (response.status_code, body(response)["error"]["code"]) == (404, "not_in_mapping")


@pytest.mark.parametrize(
    ("setting", "value", "code"),
    [("PHOTO_CLIENT_SECRET", "not-the-secret", "auth_failed"),
     ("PHOTO_ID_MAPPING_BLOB", "hr-config-absent/ids.csv", "mapping_unavailable")],
)
def test_configuration_failures_are_502_and_logged_for_what_they_are(
        functions: Functions, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
        setting: str, value: str, code: str) -> None:
    monkeypatch.setenv(setting, value)
    reset_app_services()
    with caplog.at_level(logging.WARNING, logger="photo_sync"):
        response = get(functions, "photo_lookup", "", "HR-0042" if "MAPPING" in setting
                       else "adele.vance@contoso.com")
    assert (response.status_code, body(response)["error"]["code"]) == (502, code)
    [line] = [r.getMessage() for r in caplog.records if r.name == "photo_sync"]
    assert line.startswith(f"lookup failed: {code}: ")
    assert "upstream" not in line and "not-the-secret" not in line


def test_an_untrusted_certificate_defers_the_drop_instead_of_retrying_it(
        functions: Functions, azurite: Azurite, container_name: str,
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A CA bundle that does not hold the servers' CA (here: a stranger's) will never verify
    them: the drop is deferred at once for reconcile to retry once the bundle is fixed, where
    retrying each delivery would only end in the poison queue."""
    stranger, _ = self_signed_certificate(tmp_path)
    monkeypatch.setenv("PHOTO_CA_BUNDLE", str(stranger))
    reset_app_services()
    client = drop(azurite, container_name, "alex.wilber@contoso.com.jpg", jpeg())
    functions["sync_photo"](client)
    tags = client.get_blob_tags()
    assert (tags["photosync-status"], tags["photosync-reason"]) == ("deferred", "tls_untrusted")
    assert "PHOTO_CA_BUNDLE" in client.get_blob_properties().metadata["photosync_message"]
    lookup = get(functions, "photo_lookup", "", "adele.vance@contoso.com")
    assert (lookup.status_code, body(lookup)["error"]["code"]) == (502, "tls_untrusted")


def test_reports_summarise_the_window_as_json_or_csv(functions: Functions, azurite: Azurite,
                                                     container_name: str) -> None:
    functions["sync_photo"](drop(azurite, container_name, "alex.wilber@contoso.com.jpg", jpeg()))
    functions["sync_photo"](drop(azurite, container_name, "nobody@contoso.com.jpg", jpeg()))
    functions["sync_photo"](drop(azurite, container_name, "x.png", b"png"))
    response = get(functions, "outcome_report", "", "", params={"since": "1h"})
    summary = body(response)
    assert summary["total"] == 3
    assert summary["byStatus"] == {"rejected": 2, "uploaded": 1}
    assert {r["reason"] for r in summary["latestRejects"]} == {"user_not_found", "wrong_extension"}
    as_csv = get(functions, "outcome_report", "", "", params={"since": "1h", "format": "csv"})
    assert as_csv.mimetype == "text/csv"
    assert as_csv.get_body().decode().count("\n") == 4
    bad = get(functions, "outcome_report", "", "", params={"since": "last tuesday"})
    assert (bad.status_code, body(bad)["error"]["code"]) == (400, "invalid_window")


def test_a_csv_report_comes_in_pages_linked_by_a_token(
        functions: Functions, azurite: Azurite, container_name: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("a@contoso.com.png", "b@contoso.com.png", "c@contoso.com.png"):
        functions["sync_photo"](drop(azurite, container_name, name, b"png"))
    monkeypatch.setattr(handlers, "CSV_PAGE_ROWS", 2)
    first = get(functions, "outcome_report", "", "", params={"since": "1h", "format": "csv"})
    rows = first.get_body().decode().splitlines()
    assert len(rows) == 3  # the header and two rows
    link = first.headers["Link"]
    assert link.endswith('>; rel="next"') and "since=1h" in link and "after=" in link
    after = parse_qs(urlsplit(link[1:link.index(">")]).query)["after"][0]
    second = get(functions, "outcome_report", "", "",
                 params={"since": "1h", "format": "csv", "after": after})
    assert len(second.get_body().decode().splitlines()) == 2  # the header and the last row
    assert "Link" not in second.headers
    bad = get(functions, "outcome_report", "", "", params={"format": "csv", "after": "x"})
    assert (bad.status_code, body(bad)["error"]["code"]) == (400, "invalid_window")
    widened = base64.urlsafe_b64encode(json.dumps(
        ["0001-01-01T00:00:00+00:00", 0, "9999-12-31T23:59:59+00:00"]).encode()).decode()
    bad = get(functions, "outcome_report", "", "", params={"format": "csv", "after": widened})
    assert (bad.status_code, body(bad)["error"]["code"]) == (400, "invalid_window")


def test_mapping_file_mode_maps_hr_ids_from_a_csv_in_storage(
        functions: Functions, azurite: Azurite, container_name: str, emu: dict[str, Any],
        monkeypatch: pytest.MonkeyPatch) -> None:
    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    config = service.create_container(f"hr-config-{uuid.uuid4().hex[:8]}")
    config.upload_blob("exports/ids.csv", b"id,upn\nHR-0042,megan.bowen@contoso.com\n")
    monkeypatch.setenv("PHOTO_ID_MAPPING_BLOB", f"{config.container_name}/exports/ids.csv")
    reset_app_services()
    photo = jpeg(color="#0f0f0f")
    functions["sync_photo"](drop(azurite, container_name, "HR-0042.jpg", photo))
    assert admin(emu, "GET", "/users/megan.bowen@contoso.com/photo").content == photo
    unknown = drop(azurite, container_name, "HR-9999.jpg", jpeg())
    functions["sync_photo"](unknown)
    assert unknown.get_blob_tags()["photosync-reason"] == "not_in_mapping"


def deletion_event(container: str, name: str) -> func.EventGridEvent:
    return func.EventGridEvent(
        id=str(uuid.uuid4()), data={"api": "DeleteBlob"}, topic="local",
        subject=f"/blobServices/default/containers/{container}/blobs/{name}",
        event_type="Microsoft.Storage.BlobDeleted", event_time=None, data_version="1")


def test_deleting_a_drop_removes_the_photo_only_when_deletion_sync_is_on(
        functions: Functions, azurite: Azurite, container_name: str, emu: dict[str, Any],
        monkeypatch: pytest.MonkeyPatch) -> None:
    client = drop(azurite, container_name, "lee.gu@contoso.com.jpg", jpeg())
    functions["sync_photo"](client)
    client.delete_blob()
    functions["photo_deleted"](deletion_event(container_name, "lee.gu@contoso.com.jpg"))
    with emulator_session(emu) as session:
        kept = session.get(f"{emu['admin_base']}/users/lee.gu@contoso.com/photo", timeout=10)
    assert kept.status_code == 200, "deletion sync is off by default"
    monkeypatch.setenv("PHOTO_DELETE_ON_BLOB_DELETE", "true")
    reset_app_services()
    functions["photo_deleted"](deletion_event(container_name, "lee.gu@contoso.com.jpg"))
    with emulator_session(emu) as session:
        gone = session.get(f"{emu['admin_base']}/users/lee.gu@contoso.com/photo", timeout=10)
    assert gone.status_code == 404
    lookup = body(get(functions, "photo_lookup", "", "lee.gu@contoso.com"))
    assert (lookup["hasPhoto"], lookup["lastSync"]["status"]) == (False, "photo-deleted")


def test_drops_are_handled_on_the_process_wide_storage_client(
        functions: Functions, azurite: Azurite, container_name: str) -> None:
    """The blob extension hands each invocation a client with a service client of its own (a
    new connection pool; with a managed identity, a new token): the work goes through the one
    built at start-up instead, on the same blob."""
    from photo_core.bootstrap import app_services
    from photo_core.entrypoints.handlers import pooled

    bindings = [drop(azurite, container_name, f"user{n}@contoso.com.jpg", jpeg())
                for n in range(2)]
    shared = app_services().drop_container._pipeline._transport
    for binding in bindings:
        client = pooled(binding)
        assert client.url == binding.url
        wrapper = cast("TransportWrapper", client._pipeline._transport)  # a get_blob_client child
        assert wrapper._transport is shared
    elsewhere = BlobClient.from_connection_string(azurite.connection_string, "other", "x.jpg")
    assert pooled(elsewhere) is elsewhere
