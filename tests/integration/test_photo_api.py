"""The photo API client against the emulator over HTTPS, with real MSAL token flows."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
import requests
from PIL import Image

from photo_core.adapters.auth import MsalTokenProvider
from photo_core.adapters.photo_api import HttpPhotoApi
from photo_core.bootstrap import build_session
from photo_core.domain.clock import SystemClock
from photo_core.domain.errors import (
    AmbiguousUser,
    AuthFailure,
    Forbidden,
    MailboxOnPremises,
    NoMailbox,
    PhotoUpdatePolicy,
    ServiceUnavailable,
    Throttled,
    UnsupportedOperation,
    UserNotFound,
)
from photo_core.domain.naming import UserRef, UserRefKind
from photo_core.domain.retry import Deadline, RetryPolicy, within
from photo_core.settings import Settings
from tests.integration.emulator_fixture import emulator_session
from tests.photos import jpeg

pytestmark = pytest.mark.integration

ADELE = UserRef(UserRefKind.UPN, "adele.vance@contoso.com")  # has a 96x96 photo
ALEX = UserRef(UserRefKind.UPN, "alex.wilber@contoso.com")  # no photo
OBRIEN = UserRef(UserRefKind.UPN, "o'brien@contoso.com")
NESTOR = UserRef(UserRefKind.UPN, "nestor.wilke@contoso.com")  # mailbox on premises
DIEGO = UserRef(UserRefKind.UPN, "diego.siciliani@contoso.com")  # no mailbox
ISAIAH = UserRef(UserRefKind.UPN, "isaiah.langer@contoso.com")  # no mailbox, photo in Entra ID
NOBODY = UserRef(UserRefKind.UPN, "nobody@contoso.com")


class RecordingClock(SystemClock):
    """Real time for everything but sleep, which is recorded and skipped."""

    def __init__(self) -> None:
        self.slept: list[float] = []
        self.offset = 0.0

    def monotonic(self) -> float:
        return super().monotonic() + self.offset

    def now(self) -> datetime:
        return super().now() + timedelta(seconds=self.offset)

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.offset += seconds


EMULATOR_HOST = "127.0.0.1"  # the emulator serves on loopback: its API host, named on purpose


def settings_for(info: dict[str, Any], **env: str) -> Settings:
    base = {
        "PHOTO_API_BASE_URL": info["graph_base"],
        "PHOTO_API_HOST_OVERRIDE": EMULATOR_HOST,
        "PHOTO_AUTHORITY": info["authority"],
        "PHOTO_AUTHORITY_HOST_OVERRIDE": EMULATOR_HOST,
        "PHOTO_CA_BUNDLE": info["ca_cert"],
        "PHOTO_AUTH_MODE": "client_secret",
        "PHOTO_TENANT_ID": info["tenant"],
        "PHOTO_CLIENT_ID": info["client_id"],
        "PHOTO_CLIENT_SECRET": info["client_secret"],
    }
    if env.get("PHOTO_API_DIALECT") == "outlook" and "PHOTO_API_BASE_URL" not in env:
        base["PHOTO_API_BASE_URL"] = info["outlook_base"]
    return Settings.from_env({**base, **env})


def client_for(settings: Settings, clock: RecordingClock | None = None,
               retry: RetryPolicy | None = None) -> HttpPhotoApi:
    session = build_session(settings.api)
    return HttpPhotoApi(
        session=session,
        tokens=MsalTokenProvider(settings.auth, settings.api, session),
        api=settings.api,
        retry=retry or settings.retry,
        clock=clock or RecordingClock(),
        rand=lambda: 0.5,
    )


def admin(info: dict[str, Any], method: str, path: str, **kwargs: Any) -> requests.Response:
    with emulator_session(info) as s:
        resp = s.request(method, f"{info['admin_base']}{path}", timeout=10, **kwargs)
    resp.raise_for_status()
    return resp


def faults(info: dict[str, Any], **settings: Any) -> None:
    admin(info, "POST", "/faults", json=settings)


def uploads(info: dict[str, Any]) -> list[dict[str, Any]]:
    body = admin(info, "GET", "/uploads").json()
    return list(body["value"] if isinstance(body, dict) else body)


@pytest.fixture
def graph(emu: dict[str, Any]) -> HttpPhotoApi:
    return client_for(settings_for(emu))


@pytest.fixture
def outlook(emu: dict[str, Any]) -> HttpPhotoApi:
    return client_for(settings_for(emu, PHOTO_API_DIALECT="outlook"))


# --- both dialects: the happy paths ---------------------------------------------------------


@pytest.mark.parametrize("dialect", ["graph", "outlook"])
def test_a_photo_set_can_be_read_back_in_both_dialects(emu: dict[str, Any], dialect: str) -> None:
    api = client_for(settings_for(emu, PHOTO_API_DIALECT=dialect))
    photo = jpeg(size=(300, 200))
    assert api.get_metadata(ALEX) is None
    api.set_photo(ALEX, photo)
    meta = api.get_metadata(ALEX)
    assert meta is not None
    assert (meta.width, meta.height, meta.content_type) == (300, 200, "image/jpeg")
    content = api.get_photo(ALEX)
    assert content is not None and content.data == photo
    stored = admin(emu, "GET", f"/users/{ALEX.value}/photo").content
    assert stored == photo


@pytest.mark.parametrize("dialect", ["graph", "outlook"])
def test_an_apostrophe_upn_reaches_the_right_user(emu: dict[str, Any], dialect: str) -> None:
    api = client_for(settings_for(emu, PHOTO_API_DIALECT=dialect))
    photo = jpeg(color="#123456")
    api.set_photo(OBRIEN, photo)
    assert admin(emu, "GET", "/users/o'brien@contoso.com/photo").content == photo
    assert [u["userPrincipalName"] for u in uploads(emu)] == ["o'brien@contoso.com"]


def test_the_etag_changes_on_every_update(graph: HttpPhotoApi) -> None:
    graph.set_photo(ALEX, jpeg(color="#000000"))
    first = graph.get_metadata(ALEX)
    graph.set_photo(ALEX, jpeg(color="#ffffff"))
    second = graph.get_metadata(ALEX)
    assert first and second and first.etag and second.etag and first.etag != second.etag


def test_graph_lists_sizes_up_to_the_photo_and_serves_one(graph: HttpPhotoApi) -> None:
    graph.set_photo(ALEX, jpeg(size=(250, 250)))
    assert [m.size_id for m in graph.list_sizes(ALEX)] == [
        "48x48", "64x64", "96x96", "120x120", "240x240"]
    small = graph.get_photo(ALEX, "48x48")
    assert small is not None
    assert Image.open(io.BytesIO(small.data)).size == (48, 48)


def test_a_user_without_a_photo_is_none_not_an_error(graph: HttpPhotoApi,
                                                     outlook: HttpPhotoApi) -> None:
    assert graph.get_metadata(ALEX) is None and outlook.get_metadata(ALEX) is None
    assert graph.get_photo(ALEX) is None and outlook.get_photo(ALEX) is None
    assert graph.list_sizes(ALEX) == []


def test_outlook_serves_only_the_largest_photo(outlook: HttpPhotoApi) -> None:
    with pytest.raises(UnsupportedOperation):
        outlook.get_photo(ADELE, "48x48")


# --- typed errors ---------------------------------------------------------------------------


def test_an_unknown_user_is_user_not_found(graph: HttpPhotoApi) -> None:
    with pytest.raises(UserNotFound):
        graph.set_photo(NOBODY, jpeg())
    with pytest.raises(UserNotFound):
        graph.get_metadata(NOBODY)


def test_a_user_without_a_mailbox_is_no_mailbox_and_told_a_licence_gives_one(
        graph: HttpPhotoApi, outlook: HttpPhotoApi) -> None:
    calls: list[Callable[[], object]] = [lambda: graph.set_photo(DIEGO, jpeg()),
                                         lambda: graph.get_metadata(DIEGO),
                                         lambda: outlook.set_photo(DIEGO, jpeg())]
    for call in calls:
        with pytest.raises(NoMailbox) as raised:
            call()
        assert raised.value.code == "no_mailbox"
        assert "licence that includes Exchange Online" in raised.value.message
        assert "ErrorNonExistentMailbox" in raised.value.message


def test_a_mailbox_on_premises_has_its_own_reason_saying_where_to_set_the_photo(
        graph: HttpPhotoApi, outlook: HttpPhotoApi) -> None:
    calls: list[Callable[[], object]] = [lambda: graph.set_photo(NESTOR, jpeg()),
                                         lambda: graph.get_metadata(NESTOR),
                                         lambda: outlook.set_photo(NESTOR, jpeg())]
    for call in calls:
        with pytest.raises(MailboxOnPremises) as raised:
            call()
        assert raised.value.code == "mailbox_on_premises"
        assert "on premises" in raised.value.message and "Set-UserPhoto" in raised.value.message


def test_a_user_whose_photo_graph_keeps_in_entra_id_is_uploaded_and_read_without_sizes(
        graph: HttpPhotoApi) -> None:
    photo = jpeg(size=(320, 200))
    graph.set_photo(ISAIAH, photo)
    meta = graph.get_metadata(ISAIAH)
    assert meta is not None and (meta.width, meta.height) == (320, 200)
    assert graph.list_sizes(ISAIAH) == []
    assert graph.get_photo(ISAIAH, "48x48") is None
    content = graph.get_photo(ISAIAH)
    assert content is not None and content.data == photo


def test_a_refusal_by_the_photo_update_policy_names_the_setting(emu: dict[str, Any],
                                                                graph: HttpPhotoApi) -> None:
    doc = admin(emu, "GET", "/directory").json()
    doc.pop("applicationSummaries")
    admin(emu, "POST", "/directory", json={**doc, "photoUpdateSettings": {"source": "onPremises"}})
    with pytest.raises(PhotoUpdatePolicy) as raised:
        graph.set_photo(ALEX, jpeg())
    assert raised.value.code == "photo_update_policy"
    assert "photoUpdateSettings" in raised.value.message
    assert "SetPhotoEnabled" in raised.value.message
    with pytest.raises(PhotoUpdatePolicy):
        graph.delete_photo(ADELE)


def test_missing_permission_is_forbidden_and_named(emu: dict[str, Any]) -> None:
    api = client_for(settings_for(emu, PHOTO_CLIENT_ID=emu["noroles_client_id"],
                                  PHOTO_CLIENT_SECRET=emu["noroles_client_secret"]))
    with pytest.raises(Forbidden) as raised:
        api.set_photo(ALEX, jpeg())
    assert raised.value.permission == "ProfilePhoto.ReadWrite.All"
    assert "ProfilePhoto.ReadWrite.All" in raised.value.message


def test_employee_id_lookup_needs_user_read_all(graph: HttpPhotoApi) -> None:
    with pytest.raises(Forbidden, match=r"User\.Read\.All"):
        graph.find_user_by_employee_id("100002")


def test_employee_ids_resolve_to_exactly_one_user(emu: dict[str, Any]) -> None:
    api = client_for(settings_for(emu, PHOTO_CLIENT_ID=emu["full_client_id"],
                                  PHOTO_CLIENT_SECRET=emu["full_client_secret"]))
    assert api.find_user_by_employee_id("100002").user_principal_name == ALEX.value
    with pytest.raises(UserNotFound):
        api.find_user_by_employee_id("999999")
    with pytest.raises(AmbiguousUser):
        api.find_user_by_employee_id("200200")


def test_a_wrong_secret_is_an_auth_failure(emu: dict[str, Any]) -> None:
    api = client_for(settings_for(emu, PHOTO_CLIENT_SECRET="not-the-secret"))
    with pytest.raises(AuthFailure) as raised:
        api.get_metadata(ADELE)
    assert "not-the-secret" not in raised.value.message


def test_an_unknown_client_id_is_an_auth_failure(emu: dict[str, Any]) -> None:
    api = client_for(settings_for(emu, PHOTO_CLIENT_ID="d0d0cafe-dead-4000-8000-000000000000"))
    with pytest.raises(AuthFailure):
        api.get_metadata(ADELE)


# --- other credentials ---------------------------------------------------------------------


def test_certificate_credentials_work(emu: dict[str, Any]) -> None:
    api = client_for(settings_for(emu, PHOTO_AUTH_MODE="certificate",
                                  PHOTO_CLIENT_CERTIFICATE_PATH=emu["client_cert"]))
    assert api.get_metadata(ADELE) is not None


@pytest.fixture
def managed_identity_env(emu: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDENTITY_ENDPOINT", emu["identity_endpoint"])
    monkeypatch.setenv("IDENTITY_HEADER", emu["identity_header"])


@pytest.mark.usefixtures("managed_identity_env")
@pytest.mark.parametrize("client_id", ["mi", None])
def test_managed_identity_works_user_and_system_assigned(emu: dict[str, Any],
                                                         client_id: str | None) -> None:
    env = {"PHOTO_AUTH_MODE": "managed_identity"}
    if client_id:
        env["PHOTO_CLIENT_ID"] = emu["mi_client_id"]
    settings = Settings.from_env({"PHOTO_API_BASE_URL": emu["graph_base"],
                                  "PHOTO_API_HOST_OVERRIDE": EMULATOR_HOST,
                                  "PHOTO_CA_BUNDLE": emu["ca_cert"], **env})
    api = client_for(settings)
    api.set_photo(ALEX, jpeg())
    assert uploads(emu)[-1]["appId"] == emu["mi_client_id"]


def _managed_identity_client(emu: dict[str, Any], **env: str) -> HttpPhotoApi:
    return client_for(Settings.from_env({
        "PHOTO_API_BASE_URL": emu["graph_base"], "PHOTO_CA_BUNDLE": emu["ca_cert"],
        "PHOTO_API_HOST_OVERRIDE": EMULATOR_HOST, "PHOTO_AUTH_MODE": "managed_identity",
        "PHOTO_CLIENT_ID": emu["mi_client_id"], **env}))


@pytest.mark.usefixtures("managed_identity_env")
def test_a_rejected_managed_identity_token_is_refreshed_once(emu: dict[str, Any]) -> None:
    api = _managed_identity_client(emu)
    assert api.get_metadata(ADELE) is not None  # caches a token
    faults(emu, script=[{"status": 401, "code": "InvalidAuthenticationToken"}])
    api.set_photo(ALEX, jpeg())
    assert len(uploads(emu)) == 1


@pytest.mark.usefixtures("managed_identity_env")
def test_a_managed_identity_token_for_the_wrong_audience_is_an_auth_failure(
    emu: dict[str, Any]
) -> None:
    api = _managed_identity_client(emu, PHOTO_API_DIALECT="outlook")  # Outlook token, Graph host
    with pytest.raises(AuthFailure, match="PHOTO_CLOUD and PHOTO_API_DIALECT"):
        api.get_metadata(ADELE)


# --- retries --------------------------------------------------------------------------------


def test_retry_after_in_seconds_is_honoured(emu: dict[str, Any]) -> None:
    clock = RecordingClock()
    api = client_for(settings_for(emu), clock)
    faults(emu, script=[{"status": 429, "retry_after": 2}])
    api.set_photo(ALEX, jpeg())
    assert clock.slept == [2.0]
    assert len(uploads(emu)) == 1


def test_retry_after_as_an_http_date_is_honoured(emu: dict[str, Any]) -> None:
    clock = RecordingClock()
    api = client_for(settings_for(emu), clock)
    faults(emu, script=[{"status": 429, "retry_after": 3, "retry_after_format": "http-date"}])
    api.get_metadata(ADELE)
    assert len(clock.slept) == 1 and 1.0 <= clock.slept[0] <= 4.0


def test_a_throttle_longer_than_the_budget_is_raised_for_the_platform(emu: dict[str, Any]) -> None:
    clock = RecordingClock()
    api = client_for(settings_for(emu, PHOTO_RETRY_BUDGET_SECONDS="60"), clock)
    faults(emu, script=[{"status": 429, "retry_after": 500}])
    with pytest.raises(Throttled) as raised:
        api.set_photo(ALEX, jpeg())
    assert raised.value.retry_after == 500
    assert clock.slept == [] and uploads(emu) == []


def test_under_a_deadline_a_throttle_longer_than_it_is_raised_at_once(
    emu: dict[str, Any]
) -> None:
    """A lookup's 10 s against the drop path's 120 s: the wait the service asks for is not
    started, and its Retry-After goes to the caller."""
    clock = RecordingClock()
    api = client_for(settings_for(emu), clock)
    assert api.get_metadata(ADELE) is not None  # warm the token, as a running app has it
    faults(emu, script=[{"status": 429, "retry_after": 115}] * 2)
    with within(Deadline.after(10, clock)), pytest.raises(Throttled) as raised:
        api.get_metadata(ADELE)
    assert raised.value.retry_after == 115
    assert clock.slept == []
    assert api.get_metadata(ADELE) is not None, "outside it, the budget still allows the wait"
    assert clock.slept == [115.0]


def test_calls_under_one_deadline_share_it(emu: dict[str, Any]) -> None:
    """Metadata then sizes, as a lookup makes them: the second call gets what the first left."""
    clock = RecordingClock()
    api = client_for(settings_for(emu), clock)
    faults(emu, script=[{"status": 429, "retry_after": 6, "operation": "graph.photo.get"},
                        {"status": 429, "retry_after": 6, "operation": "graph.photos.list"}])
    with within(Deadline.after(10, clock)):
        assert api.get_metadata(ADELE) is not None
        with pytest.raises(Throttled) as raised:
            api.list_sizes(ADELE)
    assert raised.value.retry_after == 6
    assert clock.slept == [6.0]


def test_a_slow_answer_is_cut_off_at_the_deadline(emu: dict[str, Any]) -> None:
    api = client_for(settings_for(emu), RecordingClock())  # read timeout 30 s
    assert api.get_metadata(ADELE) is not None
    faults(emu, script=[{"delay_ms": 3000}])
    with within(Deadline.after(1, SystemClock())), pytest.raises(ServiceUnavailable) as raised:
        api.get_metadata(ADELE)
    # The read timed out: the 30 s read timeout was cut to the deadline's 1 s (the answer was
    # 3 s away). A wait for the whole answer would have ended in a photo, not this error.
    assert isinstance(raised.value.__cause__, requests.exceptions.ReadTimeout)


def test_a_spent_deadline_sends_nothing(emu: dict[str, Any]) -> None:
    clock = RecordingClock()
    api = client_for(settings_for(emu), clock)
    assert api.get_metadata(ADELE) is not None
    before = admin(emu, "GET", "/stats").json()["requests"]
    with within(Deadline.after(0, clock)), pytest.raises(ServiceUnavailable, match="not sent"):
        api.list_sizes(ADELE)
    assert admin(emu, "GET", "/stats").json()["requests"] == before


def test_server_errors_and_resets_are_survived(emu: dict[str, Any]) -> None:
    clock = RecordingClock()
    api = client_for(settings_for(emu), clock)
    faults(emu, script=[{"status": 503}, {"reset": True}, {"status": 500}])
    api.set_photo(ALEX, jpeg())
    assert len(clock.slept) == 3
    assert len(uploads(emu)) == 1


def test_persistent_failure_ends_as_service_unavailable(emu: dict[str, Any]) -> None:
    api = client_for(settings_for(emu), RecordingClock(), RetryPolicy(max_attempts=3))
    faults(emu, script=[{"status": 503}] * 3)
    with pytest.raises(ServiceUnavailable):
        api.set_photo(ALEX, jpeg())


def test_client_errors_are_never_retried(emu: dict[str, Any]) -> None:
    clock = RecordingClock()
    api = client_for(settings_for(emu), clock)
    with pytest.raises(UserNotFound):
        api.set_photo(NOBODY, jpeg())
    assert clock.slept == []


def test_a_token_endpoint_outage_is_transient(emu: dict[str, Any]) -> None:
    api = client_for(settings_for(emu), RecordingClock(), RetryPolicy(max_attempts=2))
    faults(emu, token_error_rate=1.0)
    with pytest.raises(ServiceUnavailable):
        api.get_metadata(ADELE)


def test_a_rejected_token_is_refreshed_once(emu: dict[str, Any]) -> None:
    api = client_for(settings_for(emu))
    api.get_metadata(ADELE)  # caches a token
    faults(emu, script=[{"status": 401, "code": "InvalidAuthenticationToken"}])
    assert api.get_metadata(ADELE) is not None


def test_the_outlook_dialect_names_its_own_permission(emu: dict[str, Any]) -> None:
    api = client_for(settings_for(emu, PHOTO_API_DIALECT="outlook",
                                  PHOTO_CLIENT_ID=emu["noroles_client_id"],
                                  PHOTO_CLIENT_SECRET=emu["noroles_client_secret"]))
    with pytest.raises(Forbidden, match=r"User\.ReadWrite\.All"):
        api.set_photo(ALEX, jpeg())


def test_a_token_for_the_wrong_audience_is_reported_as_auth_failure(emu: dict[str, Any]) -> None:
    settings = settings_for(emu, PHOTO_API_DIALECT="outlook",
                            PHOTO_API_BASE_URL=emu["graph_base"])  # Outlook token, Graph host
    with pytest.raises(AuthFailure, match="PHOTO_CLOUD and PHOTO_API_DIALECT"):
        client_for(settings).get_metadata(ADELE)
