"""The lookup cache through the real functions, the emulator and Azurite: a repeated lookup and a
conditional request with a current ETag make no upstream call (checked on the emulator's
``/admin/stats``)."""

from __future__ import annotations

import importlib
import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import azure.functions as func
import pytest

from devstack.azurite import Azurite
from devstack.stack import local_settings_values
from photo_core.bootstrap import reset_app_services
from tests.integration.test_photo_api import admin

pytestmark = pytest.mark.integration

Lookup = Callable[..., func.HttpResponse]
USER = "megan.bowen@contoso.com"


@pytest.fixture
def lookup(emu: dict[str, Any], azurite: Azurite, monkeypatch: pytest.MonkeyPatch
           ) -> Iterator[Lookup]:
    values = local_settings_values(azurite.connection_string, emu)
    values.update(PHOTO_STATE_TABLE=f"state{uuid.uuid4().hex[:10]}",
                  PHOTO_RETRY_BUDGET_SECONDS="5")
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    reset_app_services()
    import function_app

    app = importlib.reload(function_app).app
    functions = {f.get_function_name(): f.get_user_function() for f in app.get_functions()}

    def call(user: str, headers: dict[str, str] | None = None) -> func.HttpResponse:
        request = func.HttpRequest("GET", f"http://localhost/api/users/{user}/photo",
                                   headers=headers or {}, route_params={"user": user},
                                   body=b"")
        response: func.HttpResponse = functions["photo_lookup"](request)
        return response

    yield call
    reset_app_services()


def upstream_requests(emu: dict[str, Any]) -> dict[str, Any]:
    stats = admin(emu, "GET", "/stats").json()
    return {op: n for op, n in stats["requests"].items() if not op.startswith("identity")}


def test_a_repeated_lookup_is_answered_without_an_upstream_call(lookup: Lookup,
                                                                emu: dict[str, Any]) -> None:
    first = lookup(USER)
    assert first.status_code == 200
    before = upstream_requests(emu)
    again = lookup(USER)
    assert again.status_code == 200
    assert json.loads(again.get_body()) == json.loads(first.get_body())
    assert again.headers["ETag"] == first.headers["ETag"]
    assert upstream_requests(emu) == before


def test_a_current_etag_is_a_304_without_an_upstream_call(lookup: Lookup,
                                                          emu: dict[str, Any]) -> None:
    etag = lookup(USER).headers["ETag"]
    before = upstream_requests(emu)
    response = lookup(USER, {"If-None-Match": etag})
    assert response.status_code == 304
    assert response.headers["ETag"] == etag
    assert upstream_requests(emu) == before


def test_a_stale_etag_gets_the_current_answer(lookup: Lookup) -> None:
    response = lookup(USER, {"If-None-Match": '"not-the-current-one"'})
    assert response.status_code == 200
    assert json.loads(response.get_body())["hasPhoto"] is True


def test_errors_are_not_cached(lookup: Lookup, emu: dict[str, Any]) -> None:
    admin(emu, "POST", "/faults", json={"script": [{"status": 429, "retry_after": 45}]})
    assert lookup(USER).status_code == 503
    assert lookup(USER).status_code == 200  # asked upstream again, not a remembered 503
