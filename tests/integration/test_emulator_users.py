"""``/v1.0/users`` lookups (employeeId filter and friends) against the emulator."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.integration.emulator_fixture import client_token, emulator_session

pytest_plugins = ["tests.integration.emulator_fixture"]
pytestmark = pytest.mark.integration


def users(info: dict[str, Any], token: str, params: dict[str, str],
          headers: dict[str, str] | None = None) -> requests.Response:
    with emulator_session(info) as s:
        return s.get(f"{info['graph_base']}/users", params=params, timeout=10,
                     headers={"Authorization": f"Bearer {token}", **(headers or {})})


@pytest.fixture
def full(emu: dict[str, Any]) -> str:
    return client_token(emu, client_id=emu["full_client_id"], secret=emu["full_client_secret"])


def test_employee_id_filter_with_select_and_count(emu: dict[str, Any], full: str) -> None:
    r = users(emu, full, {"$filter": "employeeId eq '100001'",
                          "$select": "id,userPrincipalName,mail,employeeId", "$count": "true"},
              {"ConsistencyLevel": "eventual"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["@odata.context"].endswith("$metadata#users(id,userPrincipalName,mail,employeeId)")
    assert body["@odata.count"] == 1
    assert body["value"] == [{"id": "d0d0cafe-0001-4000-8000-000000000001",
                              "userPrincipalName": "adele.vance@contoso.com",
                              "mail": "adele.vance@contoso.com", "employeeId": "100001"}]


def test_shared_employee_id_returns_both(emu: dict[str, Any], full: str) -> None:
    r = users(emu, full, {"$filter": "employeeId eq '200200'", "$select": "userPrincipalName"})
    assert sorted(u["userPrincipalName"] for u in r.json()["value"]) == [
        "lee.gu@contoso.com", "lidia.holloway@contoso.com"]


def test_no_match_and_quote_doubling(emu: dict[str, Any], full: str) -> None:
    assert users(emu, full, {"$filter": "employeeId eq '999'"}).json()["value"] == []
    r = users(emu, full, {"$filter": "userPrincipalName eq 'o''brien@contoso.com'"})
    assert [u["displayName"] for u in r.json()["value"]] == ["Conor O'Brien"]
    assert users(emu, full, {"$filter": "employeeId eq 'it''s'"}).json()["value"] == []


def test_employee_id_needs_user_read_all(emu: dict[str, Any]) -> None:
    basic = client_token(emu)  # ProfilePhoto.ReadWrite.All + User.ReadBasic.All
    r = users(emu, basic, {"$filter": "employeeId eq '100001'"})
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "Authorization_RequestDenied"
    listed = users(emu, basic, {"$filter": "userPrincipalName eq 'alex.wilber@contoso.com'"})
    assert listed.status_code == 200
    assert "employeeId" not in listed.json()["value"][0]


def test_managed_identity_can_look_up_employee_ids(emu: dict[str, Any]) -> None:
    with emulator_session(emu) as s:
        token = s.get(emu["identity_endpoint"], timeout=10,
                      params={"api-version": "2019-08-01", "resource": "https://graph.microsoft.com"},
                      headers={"X-IDENTITY-HEADER": emu["identity_header"]}).json()["access_token"]
    r = users(emu, token, {"$filter": "employeeId eq '100003'", "$select": "userPrincipalName"})
    assert r.json()["value"] == [{"userPrincipalName": "o'brien@contoso.com"}]


@pytest.mark.parametrize("query", [
    "startswith(employeeId,'1')", "employeeId ne '1'", "jobTitle eq 'x'", "employeeId eq 1",
])
def test_unsupported_filters(emu: dict[str, Any], full: str, query: str) -> None:
    r = users(emu, full, {"$filter": query})
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "Request_UnsupportedQuery"


def test_count_needs_eventual_consistency_and_select_must_exist(
    emu: dict[str, Any], full: str
) -> None:
    r = users(emu, full, {"$filter": "employeeId eq '1'", "$count": "true"})
    assert r.status_code == 400
    assert users(emu, full, {"$select": "id,shoeSize"}).status_code == 400


def test_single_user_get(emu: dict[str, Any], full: str) -> None:
    with emulator_session(emu) as s:
        r = s.get(f"{emu['graph_base']}/users/lee.gu@contoso.com",
                  params={"$select": "id,employeeId"},
                  headers={"Authorization": f"Bearer {full}"}, timeout=10)
    assert r.json()["employeeId"] == "200200"
