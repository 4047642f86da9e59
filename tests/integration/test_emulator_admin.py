"""The emulator's ``/admin`` API."""

from __future__ import annotations

import copy
import hashlib
from typing import Any

import pytest

from tests.integration.emulator_fixture import client_token, emulator_session
from tests.photos import jpeg

pytest_plugins = ["tests.integration.emulator_fixture"]
pytestmark = pytest.mark.integration


def admin(info: dict[str, Any], method: str, path: str, **kw: Any) -> Any:
    with emulator_session(info) as s:
        return s.request(method, f"{info['admin_base']}{path}", timeout=10, **kw)


def test_users_listing_with_photo_summary(emu: dict[str, Any]) -> None:
    body = admin(emu, "GET", "/users").json()
    assert body["tenant"] == emu["tenant"]
    by_upn = {u["userPrincipalName"]: u for u in body["value"]}
    adele = by_upn["adele.vance@contoso.com"]
    raw = admin(emu, "GET", "/users/adele.vance@contoso.com/photo").content
    assert adele["photo"]["sha256"] == hashlib.sha256(raw).hexdigest()
    assert adele["photo"]["size"] == len(raw)
    assert (adele["photo"]["width"], adele["photo"]["height"]) == (96, 96)
    assert adele["photo"]["uploadCount"] == 0
    for field in ("etag", "updatedAt"):
        assert adele["photo"][field]
    assert by_upn["alex.wilber@contoso.com"]["photo"] is None
    nestor, diego, isaiah = (by_upn[f"{name}@contoso.com"] for name in
                             ("nestor.wilke", "diego.siciliani", "isaiah.langer"))
    assert (nestor["mailbox"], nestor["hasMailbox"]) == ("onPremises", False)
    assert (diego["mailbox"], diego["photoInEntraId"]) == ("none", False)
    assert (isaiah["mailbox"], isaiah["photoInEntraId"]) == ("none", True)
    assert admin(emu, "GET", "/users/alex.wilber@contoso.com/photo").status_code == 404
    assert admin(emu, "GET", "/users/nobody@contoso.com").status_code == 404


def test_seed_a_photo_directly(emu: dict[str, Any]) -> None:
    r = admin(emu, "PUT", "/users/alex.wilber@contoso.com/photo",
              data=jpeg("navy", (500, 400), quality=75))
    assert r.status_code == 200
    assert (r.json()["width"], r.json()["height"]) == (500, 400)
    assert admin(emu, "GET", "/uploads").json()["value"] == []  # seeding is not an upload
    assert admin(emu, "PUT", "/users/alex.wilber@contoso.com/photo", data=b"nope").status_code \
        == 400
    assert admin(emu, "DELETE", "/users/alex.wilber@contoso.com/photo").status_code == 204


def test_replace_directory_then_reset(emu: dict[str, Any]) -> None:
    doc = admin(emu, "GET", "/directory").json()
    doc.pop("applicationSummaries")
    changed = copy.deepcopy(doc)
    changed["users"] = [u for u in changed["users"] if u["userPrincipalName"].startswith("a")]
    r = admin(emu, "POST", "/directory", json=changed)
    assert r.status_code == 200
    assert r.json()["users"] == 2
    assert len(admin(emu, "GET", "/users").json()["value"]) == 2
    admin(emu, "POST", "/reset")
    assert len(admin(emu, "GET", "/users").json()["value"]) == len(doc["users"])
    assert admin(emu, "POST", "/directory", json=doc).status_code == 200  # round-trips


@pytest.mark.parametrize(("mutate", "words"), [
    (lambda d: d["users"][1].update(id="not-a-guid"), "users[1].id"),
    (lambda d: d["users"][0].update(mailbox="cloud"), "users[0].mailbox"),
    (lambda d: d["users"][0].update(hasMailbox=True), "users[0]: give mailbox or hasMailbox"),
    (lambda d: d["users"][0].update(photoInEntraId=True), "users[0].photoInEntraId"),
    (lambda d: d.update(photoUpdateSettings={"source": "anywhere"}),
     "photoUpdateSettings.source"),
    (lambda d: d["users"][2].update(emplyeeId="1"), "users[2]: unknown field"),
    (lambda d: d["applications"][0].update(roles="User.Read.All"), "applications[0].roles"),
    (lambda d: d.update(tenant=None), "tenant"),
])
def test_directory_errors_name_the_field(emu: dict[str, Any], mutate: Any, words: str) -> None:
    doc = admin(emu, "GET", "/directory").json()
    doc.pop("applicationSummaries")
    mutate(doc)
    r = admin(emu, "POST", "/directory", json=doc)
    assert r.status_code == 400
    assert words in r.json()["error"]["message"]


def test_the_older_has_mailbox_field_still_reads_as_it_answered(emu: dict[str, Any]) -> None:
    doc = admin(emu, "GET", "/directory").json()
    doc.pop("applicationSummaries")
    for user, legacy in zip(doc["users"][:2], (True, False), strict=True):
        user.pop("mailbox")
        user.pop("photoInEntraId")
        user["hasMailbox"] = legacy
    assert admin(emu, "POST", "/directory", json=doc).status_code == 200
    first, second = admin(emu, "GET", "/users").json()["value"][:2]
    assert (first["mailbox"], second["mailbox"]) == ("exchangeOnline", "onPremises")


def test_uploads_stats_and_tokens(emu: dict[str, Any]) -> None:
    token = client_token(emu)
    photo = jpeg("olive", (50, 50), quality=75)
    with emulator_session(emu) as s:
        s.headers["Authorization"] = f"Bearer {token}"
        base = emu["graph_base"]
        assert s.put(f"{base}/users/alex.wilber@contoso.com/photo/$value", data=photo,
                     headers={"Content-Type": "image/jpeg"}, timeout=10).status_code == 200
        assert s.get(f"{base}/users/alex.wilber@contoso.com/photo", timeout=10).status_code == 200
        assert s.get(f"{base}/users/nobody@contoso.com/photo", timeout=10).status_code == 404
    (upload,) = admin(emu, "GET", "/uploads").json()["value"]
    assert upload["userId"] == "d0d0cafe-0001-4000-8000-000000000002"
    assert upload["size"] == len(photo)
    assert (upload["dialect"], upload["method"], upload["appId"]) == ("graph", "PUT",
                                                                      emu["client_id"])
    assert upload["time"]
    stats = admin(emu, "GET", "/stats").json()
    assert stats["requests"]["graph.photo.set"] == {"200": 1}
    assert stats["requests"]["graph.photo.get"] == {"200": 1, "404": 1}
    assert stats["requests"]["identity.token"] == {"200": 1}
    assert stats["tokensIssued"] == 1
    assert stats["uploads"] == 1
    assert stats["throttled"] == 0
    tokens = admin(emu, "GET", "/tokens").json()["value"]
    assert [t["access_token"] for t in tokens] == [token]
    photo = admin(emu, "GET", "/users/alex.wilber@contoso.com").json()["photo"]
    assert photo["uploadCount"] == 1


def test_reset_clears_faults_and_history(emu: dict[str, Any]) -> None:
    admin(emu, "POST", "/faults", json={"throttle_rate": 1.0, "script": [{"status": 503}]})
    client_token(emu)
    admin(emu, "POST", "/reset")
    faults = admin(emu, "GET", "/faults").json()
    assert faults["throttle_rate"] == 0.0
    assert faults["script"] == []
    assert faults["concurrency_limit"] == 4
    assert faults["mailbox_request_limit"] == 10000
    assert faults["upload_bytes_limit"] == 150 * 1024 * 1024
    assert admin(emu, "GET", "/tokens").json()["value"] == []
    assert admin(emu, "GET", "/stats").json()["tokensIssued"] == 0


def test_admin_index_and_unknown_endpoint(emu: dict[str, Any]) -> None:
    index = admin(emu, "GET", "").json()
    assert index["info"]["tenant"] == emu["tenant"]
    assert admin(emu, "GET", "/health").json() == {"status": "ok"}
    assert admin(emu, "GET", "/nope").status_code == 404
