"""Graph v1.0 and Outlook v2.0 photo operations against the emulator, over real HTTPS."""

from __future__ import annotations

import hashlib
import http.client
import io
import ssl
from typing import Any, Literal
from urllib.parse import quote, urlsplit

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from tests.integration.emulator_fixture import client_token, emulator_session
from tests.photos import jpeg

pytest_plugins = ["tests.integration.emulator_fixture"]
pytestmark = pytest.mark.integration

ADELE = "adele.vance@contoso.com"  # 96x96 photo
ADELE_ID = "d0d0cafe-0001-4000-8000-000000000001"
ALEX = "alex.wilber@contoso.com"  # no photo
OBRIEN = "o'brien@contoso.com"
NESTOR = "nestor.wilke@contoso.com"  # mailbox on premises
DIEGO = "diego.siciliani@contoso.com"  # no mailbox: Graph refuses his photo
ISAIAH = "isaiah.langer@contoso.com"  # no mailbox: Graph keeps his photo in Entra ID
MEGAN = "megan.bowen@contoso.com"  # 720x540 photo
SURROGATES: tuple[Literal["Cs"]] = ("Cs",)  # the Unicode category, typed as hypothesis wants


class Api:
    """A thin client: a session trusting the emulator CA, with a bearer token."""

    def __init__(self, info: dict[str, Any], token: str | None, base: str) -> None:
        self.info, self.base = info, base
        self.s = emulator_session(info)
        if token:
            self.s.headers["Authorization"] = f"Bearer {token}"

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.s.get(self.base + path, timeout=10, **kw)

    def send(self, method: str, path: str, body: bytes, ctype: str = "image/jpeg") -> \
            requests.Response:
        return self.s.request(method, self.base + path, data=body,
                              headers={"Content-Type": ctype}, timeout=30)


@pytest.fixture
def graph(emu: dict[str, Any]) -> Api:
    return Api(emu, client_token(emu), emu["graph_base"])


@pytest.fixture
def outlook(emu: dict[str, Any]) -> Api:
    return Api(emu, client_token(emu, resource="https://outlook.office.com"), emu["outlook_base"])


def error_code(r: requests.Response) -> str:
    body = r.json()
    inner = body["error"]["innerError"]
    assert inner["request-id"]
    assert inner["date"]
    return str(body["error"]["code"])


def admin_photo(info: dict[str, Any], user: str) -> requests.Response:
    with emulator_session(info) as s:
        return s.get(f"{info['admin_base']}/users/{quote(user, safe='@')}/photo", timeout=10)


# --- Graph reads ----------------------------------------------------------------------------------


def test_graph_metadata_and_bytes(graph: Api, emu: dict[str, Any]) -> None:
    r = graph.get(f"/users/{ADELE}/photo")
    assert r.status_code == 200
    meta = r.json()
    assert meta["@odata.context"].endswith(f"users('{ADELE_ID}')/photo/$entity")
    assert meta["@odata.mediaContentType"] == "image/jpeg"
    assert meta["@odata.mediaEtag"].startswith('"')
    assert meta["@odata.mediaEtag"].endswith('"')
    assert (meta["id"], meta["width"], meta["height"]) == ("96X96", 96, 96)
    value = graph.get(f"/users/{ADELE_ID}/photo/$value")
    assert value.status_code == 200
    assert value.headers["Content-Type"] == "image/jpeg"
    assert value.content == admin_photo(emu, ADELE).content
    assert Image.open(io.BytesIO(value.content)).size == (96, 96)


def test_graph_sizes_follow_the_shorter_side(graph: Api) -> None:
    adele = [p["id"] for p in graph.get(f"/users/{ADELE}/photos").json()["value"]]
    assert adele == ["48X48", "64X64", "96X96"]
    megan = graph.get(f"/users/{MEGAN}/photos").json()["value"]
    assert [p["width"] for p in megan] == [48, 64, 96, 120, 240, 360, 432, 504]
    assert graph.get(f"/users/{MEGAN}/photo").json()["id"] == "720X540"
    meta = graph.get(f"/users/{MEGAN}/photos/240x240").json()
    assert (meta["id"], meta["width"], meta["height"]) == ("240X240", 240, 240)
    resized = graph.get(f"/users/{MEGAN}/photos/240x240/$value")
    assert resized.headers["Content-Type"] == "image/jpeg"
    assert Image.open(io.BytesIO(resized.content)).size == (240, 240)
    keyed = graph.get(f"/users/{MEGAN}/photos('48x48')/$value")
    assert Image.open(io.BytesIO(keyed.content)).size == (48, 48)
    for missing in ("648x648", "100x100", "48x64", "big"):
        r = graph.get(f"/users/{MEGAN}/photos/{missing}")
        assert r.status_code == 404, missing
        assert error_code(r) == "ImageNotFound"


def test_graph_user_without_photo(graph: Api) -> None:
    for path in ("/photo", "/photo/$value", "/photos/48x48"):
        r = graph.get(f"/users/{ALEX}{path}")
        assert r.status_code == 404
        assert error_code(r) == "ImageNotFound"
    assert graph.get(f"/users/{ALEX}/photos").json()["value"] == []


def test_upn_forms_case_and_apostrophes(graph: Api, emu: dict[str, Any]) -> None:
    with emulator_session(emu) as s:
        s.put(f"{emu['admin_base']}/users/{quote(OBRIEN)}/photo", data=jpeg(), timeout=10)
    assert graph.get(f"/users/{ADELE.upper()}/photo").status_code == 200
    assert graph.get(f"/users/{quote(OBRIEN, safe='')}/photo").status_code == 200
    assert graph.get(f"/users/{OBRIEN}/photo").status_code == 200
    keyed = "users('" + OBRIEN.replace("'", "''") + "')"
    assert graph.get("/" + quote(keyed, safe="") + "/photo").status_code == 200
    assert graph.get("/" + keyed + "/photo").status_code == 200
    lone = graph.get("/users('o'brien@contoso.com')/photo")
    assert lone.status_code == 400
    assert error_code(lone) == "BadRequest"


# --- Graph writes ---------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
def test_graph_upload_replaces_the_photo(graph: Api, emu: dict[str, Any], method: str) -> None:
    before = graph.get(f"/users/{ALEX}/photos").json()
    assert before["value"] == []
    body = jpeg(size=(300, 200))
    r = graph.send(method, f"/users/{ALEX}/photo/$value", body)
    assert r.status_code == 200
    assert r.content == b""
    meta = graph.get(f"/users/{ALEX}/photo").json()
    assert (meta["width"], meta["height"], meta["id"]) == (300, 200, "300X200")
    assert admin_photo(emu, ALEX).content == body
    again = graph.send(method, f"/users/{ALEX}/photo/$value", body)
    assert again.status_code == 200
    assert graph.get(f"/users/{ALEX}/photo").json()["@odata.mediaEtag"] != meta[
        "@odata.mediaEtag"]
    with emulator_session(emu) as s:
        uploads = s.get(f"{emu['admin_base']}/uploads", timeout=10).json()["value"]
    assert len(uploads) == 2
    assert uploads[0]["sha256"] == hashlib.sha256(body).hexdigest()
    assert uploads[0]["userPrincipalName"] == ALEX
    assert uploads[0]["appId"] == emu["client_id"]
    assert (uploads[0]["dialect"], uploads[0]["method"]) == ("graph", method)


def test_graph_delete(graph: Api) -> None:
    r = graph.s.delete(f"{graph.base}/users/{ADELE}/photo", timeout=10)
    assert r.status_code == 204
    assert graph.get(f"/users/{ADELE}/photo").status_code == 404
    assert graph.s.delete(f"{graph.base}/users/{ADELE}/photo", timeout=10).status_code == 404


def test_graph_delete_value_as_documented(graph: Api, emu: dict[str, Any]) -> None:
    """``DELETE /users/{id | userPrincipalName}/photo/$value``, the form Graph documents."""
    r = graph.s.delete(f"{graph.base}/users/{ADELE}/photo/$value", timeout=10)
    assert r.status_code == 204
    assert r.content == b""
    assert error_code(graph.get(f"/users/{ADELE}/photo/$value")) == "ImageNotFound"
    assert graph.get(f"/users/{ADELE}/photos").json()["value"] == []
    assert admin_photo(emu, ADELE).status_code == 404
    again = graph.s.delete(f"{graph.base}/users/{ADELE}/photo/$value", timeout=10)
    assert again.status_code == 404  # nothing to delete: the same answer as .../photo gives
    assert error_code(again) == "ImageNotFound"
    # by object id, and in the key form, case-insensitively
    assert graph.s.delete(f"{graph.base}/users/{MEGAN.upper()}/Photo/$VALUE",
                          timeout=10).status_code == 204
    assert graph.send("PATCH", f"/users/{ADELE}/photo/$value", jpeg()).status_code == 200
    assert graph.s.delete(f"{graph.base}/users/{ADELE_ID}/photo/$value",
                          timeout=10).status_code == 204
    assert graph.send("PATCH", f"/users/{ADELE}/photo/$value", jpeg()).status_code == 200
    assert graph.s.delete(f"{graph.base}/users('{ADELE}')/photo/$value",
                          timeout=10).status_code == 204


def test_graph_delete_value_needs_a_write_role_and_a_mailbox(
        graph: Api, outlook: Api, emu: dict[str, Any]) -> None:
    readonly = Api(emu, client_token(emu, client_id=emu["readonly_client_id"],
                                     secret=emu["readonly_client_secret"]), emu["graph_base"])
    denied = readonly.s.delete(f"{readonly.base}/users/{ADELE}/photo/$value", timeout=10)
    assert denied.status_code == 403
    assert error_code(denied) == "ErrorAccessDenied"
    assert "ProfilePhoto.ReadWrite.All" in denied.json()["error"]["message"]
    assert graph.get(f"/users/{ADELE}/photo").status_code == 200  # still there
    nobody = graph.s.delete(f"{graph.base}/users/nobody@contoso.com/photo/$value", timeout=10)
    assert (nobody.status_code, error_code(nobody)) == (404, "Request_ResourceNotFound")
    nomailbox = graph.s.delete(f"{graph.base}/users/{NESTOR}/photo/$value", timeout=10)
    assert (nomailbox.status_code, error_code(nomailbox)) == (
        404, "MailboxNotHostedInExchangeOnline")
    assert outlook.s.delete(f"{outlook.base}/Users('{ADELE}')/photo/$value",
                            timeout=10).status_code == 405  # Outlook v2.0 cannot delete
    # User.ReadWrite.All is enough too (the higher-privileged permission Graph lists)
    with emulator_session(emu) as s:
        directory = s.get(f"{emu['admin_base']}/directory", timeout=10).json()
        directory.pop("applicationSummaries", None)
        for app in directory["applications"]:
            if app["clientId"] == emu["noroles_client_id"]:
                app["roles"] = ["User.ReadWrite.All"]
        s.post(f"{emu['admin_base']}/directory", json=directory, timeout=10).raise_for_status()
    writer = Api(emu, client_token(emu, client_id=emu["noroles_client_id"],
                                   secret=emu["noroles_client_secret"]), emu["graph_base"])
    assert writer.s.delete(f"{writer.base}/users/{ADELE}/photo/$value",
                           timeout=10).status_code == 204


def test_upload_refusals(graph: Api) -> None:
    path = f"/users/{ALEX}/photo/$value"
    too_big = graph.send("PATCH", path, b"\xff\xd8" + bytes(4 * 1024 * 1024))
    assert too_big.status_code == 413
    assert error_code(too_big) == "RequestEntityTooLarge"
    octet = graph.send("PATCH", path, jpeg(), ctype="application/octet-stream")
    assert octet.status_code == 415
    assert error_code(octet) == "UnsupportedMediaType"
    broken = graph.send("PATCH", path, jpeg()[:200])
    assert broken.status_code == 400
    assert error_code(broken) == "ImageInvalid"
    garbage = graph.send("PUT", path, b"not an image at all")
    assert garbage.status_code == 400
    assert graph.get(f"/users/{ALEX}/photo").status_code == 404  # nothing was stored


def test_the_limit_is_exactly_four_megabytes(graph: Api) -> None:
    small = jpeg(size=(64, 64))
    body = small + bytes(4 * 1024 * 1024 - len(small))  # decoders ignore bytes after EOI
    assert graph.send("PATCH", f"/users/{ALEX}/photo/$value", body).status_code == 200
    assert graph.send("PATCH", f"/users/{ALEX}/photo/$value", body + b"\0").status_code == 413


def test_method_not_allowed(graph: Api) -> None:
    r = graph.send("POST", f"/users/{ADELE}/photo/$value", jpeg())
    assert r.status_code == 405
    assert "PATCH" in r.headers["Allow"]
    assert graph.send("PATCH", f"/users/{ADELE}/photo", jpeg()).status_code == 405


# --- auth, roles, users ---------------------------------------------------------------------------


def test_unauthenticated_and_bad_tokens(emu: dict[str, Any]) -> None:
    for token in (None, "garbage", "a.b.c"):
        r = Api(emu, token, emu["graph_base"]).get(f"/users/{ADELE}/photo")
        assert r.status_code == 401
        assert error_code(r) == "InvalidAuthenticationToken"
        assert r.headers["WWW-Authenticate"].startswith("Bearer")


def test_expired_and_wrong_audience_tokens(emu: dict[str, Any]) -> None:
    with emulator_session(emu) as s:
        def mint(**body: Any) -> str:
            r = s.post(f"{emu['admin_base']}/tokens", json={"client_id": emu["client_id"], **body},
                       timeout=10)
            return str(r.json()["access_token"])
        expired = mint(lifetime_s=-60)
        other = mint(resource="https://management.azure.com")
    for token, words in ((expired, "expired"), (other, "audience")):
        r = Api(emu, token, emu["graph_base"]).get(f"/users/{ADELE}/photo")
        assert r.status_code == 401
        assert words in r.json()["error"]["message"]
    graph_token = client_token(emu)
    r = Api(emu, graph_token, emu["outlook_base"]).get(f"/Users('{ADELE}')/photo")
    assert r.status_code == 401  # a Graph token is not an Outlook token


def test_missing_roles_are_forbidden(emu: dict[str, Any]) -> None:
    noroles = Api(emu, client_token(emu, client_id=emu["noroles_client_id"],
                                    secret=emu["noroles_client_secret"]), emu["graph_base"])
    r = noroles.get(f"/users/{ADELE}/photo")
    assert r.status_code == 403
    assert error_code(r) == "ErrorAccessDenied"
    readonly = Api(emu, client_token(emu, client_id=emu["readonly_client_id"],
                                     secret=emu["readonly_client_secret"]), emu["graph_base"])
    assert readonly.get(f"/users/{ADELE}/photo").status_code == 200
    w = readonly.send("PATCH", f"/users/{ALEX}/photo/$value", jpeg())
    assert w.status_code == 403
    assert error_code(w) == "ErrorAccessDenied"


def test_an_unknown_user_is_resource_not_found(graph: Api) -> None:
    r = graph.get("/users/nobody@contoso.com/photo")
    assert r.status_code == 404
    assert error_code(r) == "Request_ResourceNotFound"


@pytest.mark.parametrize(("user", "code"), [
    (NESTOR, "MailboxNotHostedInExchangeOnline"),  # a mailbox on premises
    (DIEGO, "ErrorNonExistentMailbox"),  # no mailbox: Graph's known issue
])
def test_a_user_whose_photo_cannot_be_in_exchange_online_gets_the_mailbox_error(
        graph: Api, outlook: Api, user: str, code: str) -> None:
    for api, path in ((graph, f"/users/{user}/photo"), (graph, f"/users/{user}/photo/$value"),
                      (graph, f"/users/{user}/photos"), (outlook, f"/Users('{user}')/photo")):
        r = api.get(path)
        assert (r.status_code, error_code(r)) == (404, code), path
    for api, path in ((graph, f"/users/{user}/photo/$value"),
                      (outlook, f"/Users('{user}')/photo/$value")):
        w = api.send("PATCH", path, jpeg())
        assert (w.status_code, error_code(w)) == (404, code), path


def test_a_user_without_a_mailbox_whose_photo_is_kept_in_entra_id_takes_it_as_uploaded(
        graph: Api, outlook: Api, emu: dict[str, Any]) -> None:
    r = graph.get(f"/users/{ISAIAH}/photo")
    assert (r.status_code, error_code(r)) == (404, "ImageNotFound")  # no photo yet
    photo = jpeg("teal", (300, 200))  # any dimension: Entra ID keeps what it is given
    assert graph.send("PATCH", f"/users/{ISAIAH}/photo/$value", photo).status_code == 200
    meta = graph.get(f"/users/{ISAIAH}/photo").json()
    assert (meta["width"], meta["height"], meta["id"].lower()) == (300, 200, "300x200")
    assert graph.get(f"/users/{ISAIAH}/photo/$value").content == photo
    assert graph.get(f"/users/{ISAIAH}/photos").json()["value"] == []  # no HD sizes
    r = graph.get(f"/users/{ISAIAH}/photos/48x48")
    assert (r.status_code, error_code(r)) == (404, "ImageNotFound")
    r = outlook.get(f"/Users('{ISAIAH}')/photo")  # the Outlook API knows only mailboxes
    assert (r.status_code, error_code(r)) == (404, "ErrorNonExistentMailbox")


def test_the_tenants_photo_update_policy_refuses_cloud_writes_only(
        graph: Api, emu: dict[str, Any]) -> None:
    with emulator_session(emu) as s:
        doc = s.get(f"{emu['admin_base']}/directory", timeout=10).json()
        doc.pop("applicationSummaries")
        doc["photoUpdateSettings"] = {"source": "onPremises"}
        s.post(f"{emu['admin_base']}/directory", json=doc, timeout=10).raise_for_status()
    w = graph.send("PATCH", f"/users/{ALEX}/photo/$value", jpeg())
    assert (w.status_code, error_code(w)) == (403, "PhotoUpdateNotAllowed")
    assert "photoUpdateSettings" in w.json()["error"]["message"]
    d = graph.s.delete(f"{graph.base}/users/{ADELE}/photo/$value", timeout=10)
    assert (d.status_code, error_code(d)) == (403, "PhotoUpdateNotAllowed")
    assert graph.get(f"/users/{ADELE}/photo").status_code == 200  # reading is not refused


def test_me_is_not_for_app_tokens(graph: Api) -> None:
    r = graph.get("/me/photo")
    assert r.status_code == 400


# --- Outlook --------------------------------------------------------------------------------------


def test_outlook_metadata_shapes(outlook: Api, emu: dict[str, Any]) -> None:
    r = outlook.get(f"/Users('{ADELE}')/photo")
    assert r.status_code == 200
    meta = r.json()
    assert meta["@odata.context"].endswith(f"$metadata#Users('{ADELE}')/photo/$entity")
    assert meta["@odata.id"].endswith(f"Users('{ADELE_ID}@{emu['tenant']}')/photo")
    assert (meta["Id"], meta["Width"], meta["Height"]) == ("96X96", 96, 96)
    assert meta["@odata.mediaContentType"] == "image/jpeg"
    assert meta["@odata.mediaEtag"].startswith('"')
    empty = outlook.get(f"/users('{ALEX}')/photo").json()
    assert empty["@odata.mediaContentType"] == "image/gif"
    assert empty["@odata.mediaEtag"] == ""
    assert (empty["Id"], empty["Width"], empty["Height"]) == ("1X1", 1, 1)
    missing = outlook.get(f"/USERS('{ALEX}')/photo/$value")
    assert missing.status_code == 404
    assert error_code(missing) == "ErrorItemNotFound"
    assert outlook.get(f"/Users('{ADELE}')/photo/$value").content == admin_photo(
        emu, ADELE).content


def test_outlook_upload_and_key_forms(outlook: Api, emu: dict[str, Any]) -> None:
    body = jpeg("blue", (240, 240))
    key = quote("users('" + OBRIEN.replace("'", "''") + "')", safe="")
    r = outlook.send("PATCH", f"/{key}/photo/$value", body)
    assert r.status_code == 200
    assert r.content == b""
    assert outlook.send("PUT", f"/users('{ALEX}')/photo/$value", body).status_code == 200
    meta = outlook.get(f"/Users('{OBRIEN.replace(chr(39), chr(39) * 2)}')/photo").json()
    assert meta["Id"] == "240X240"
    assert admin_photo(emu, OBRIEN).content == body
    with emulator_session(emu) as s:
        uploads = s.get(f"{emu['admin_base']}/uploads", timeout=10).json()["value"]
    assert [u["dialect"] for u in uploads] == ["outlook", "outlook"]


def test_outlook_without_token_or_role(emu: dict[str, Any]) -> None:
    r = Api(emu, None, emu["outlook_base"]).get(f"/Users('{ADELE}')/photo")
    assert r.status_code == 401
    assert "WWW-Authenticate" in r.headers
    noroles = client_token(emu, client_id=emu["noroles_client_id"],
                           secret=emu["noroles_client_secret"],
                           resource="https://outlook.office.com")
    r = Api(emu, noroles, emu["outlook_base"]).get(f"/Users('{ADELE}')/photo")
    assert r.status_code == 403


# --- path safety ----------------------------------------------------------------------------------


@pytest.mark.parametrize("segment", [
    "..%2F..%2Fadmin%2Fusers", "%2E%2E", "a%2Fb", "%2Fadmin", "users%2F..%2F..",
    "adele.vance%40contoso.com%2Fphoto", "%2e%2e%2f%2e%2e%2fadmin",
])
def test_encoded_slashes_and_dots_never_leave_the_user_segment(
    graph: Api, segment: str
) -> None:
    r = graph.get(f"/users/{segment}/photo")
    assert r.status_code == 404, segment
    assert error_code(r) == "Request_ResourceNotFound"
    keyed = graph.get(f"/users('{segment}')/photo")
    assert keyed.status_code == 404, segment
    assert error_code(keyed) == "Request_ResourceNotFound"


def test_raw_dot_segments_are_not_resolved(emu: dict[str, Any]) -> None:
    """requests would normalise ``..`` away, so speak HTTP directly."""
    url = urlsplit(emu["graph_base"])
    ctx = ssl.create_default_context(cafile=emu["ca_cert"])
    conn = http.client.HTTPSConnection(url.hostname or "", url.port, context=ctx, timeout=10)
    try:
        for path in ("/v1.0/users/../../admin/users", "/v1.0/users/x/../../../admin/stats"):
            conn.request("GET", path, headers={"Authorization": f"Bearer {client_token(emu)}"})
            resp = conn.getresponse()
            body = resp.read()
            assert resp.status in (400, 404), path
            assert b'"error"' in body
            assert b"tenant" not in body  # not the admin listing
    finally:
        conn.close()


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # emu: reset once
@given(name=st.text(alphabet=st.characters(codec="utf-8", exclude_categories=SURROGATES),
                    min_size=1, max_size=30))
def test_any_encoded_user_segment_stays_a_user_lookup(emu: dict[str, Any], name: str) -> None:
    api = Api(emu, client_token(emu), emu["graph_base"])
    r = api.get(f"/users/{quote(name, safe='')}/photo")
    assert r.status_code in (200, 404), (name, r.text)
    if r.status_code == 404:
        assert r.json()["error"]["code"] in ("Request_ResourceNotFound", "ImageNotFound",
                                             "MailboxNotHostedInExchangeOnline",
                                             "ErrorNonExistentMailbox")
