"""The ``/admin`` API: inspect and steer the emulator from tests and scripts.

No authentication (tests must not need tokens to look behind the curtain), so it only answers
clients on a loopback address. It is the emulator's own API, not part of anything Microsoft
serves; its shapes are documented in ``docs/emulator.md``.
"""

from __future__ import annotations

import ipaddress
import json
import logging
from typing import TYPE_CHECKING, Any

from devstack.emulator import images
from devstack.emulator.directory import (
    DirectoryError,
    User,
    app_summary,
    export_directory,
)
from devstack.emulator.limits import FaultConfigError
from devstack.emulator.web import Answer, Request, Response, json_response

if TYPE_CHECKING:
    from devstack.emulator.state import EmulatorState

log = logging.getLogger(__name__)

ENDPOINTS = [
    "GET  /admin/health",
    "GET  /admin/users",
    "GET  /admin/users/{id-or-upn}",
    "GET|PUT|DELETE /admin/users/{id-or-upn}/photo",
    "GET|POST /admin/directory",
    "POST /admin/reset",
    "POST /admin/release",
    "GET  /admin/uploads",
    "GET  /admin/stats",
    "GET|POST /admin/tokens",
    "GET|POST /admin/faults",
]


def _error(status: int, code: str, message: str) -> Response:
    return json_response(status, {"error": {"code": code, "message": message}})


def _is_loopback(host: str) -> bool:
    try:
        ip = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped.is_loopback
    return ip.is_loopback


def _json_body(req: Request) -> Any:
    try:
        return json.loads(req.body.decode("utf-8") or "null")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"the body is not valid JSON: {exc}") from exc


def handle(state: EmulatorState, req: Request) -> Answer:
    req.operation = "admin"
    if not _is_loopback(req.client_host):
        return _error(403, "Forbidden", "The admin API only answers loopback clients.")
    segs = list(req.segments[1:])
    low = [s.lower() for s in segs]
    route = (req.method, *low[:1], *(["{key}"] if len(low) >= 2 and low[0] == "users" else []),
             *low[2:])
    try:
        answer = _route(state, req, route, segs)
    except (ValueError, DirectoryError, FaultConfigError) as exc:
        return _error(400, "BadRequest", str(exc))
    if answer is None:
        return _error(404 if req.method in ("GET", "POST") else 405, "NotFound",
                      f"No admin endpoint {req.method} {req.raw_path}. Endpoints: "
                      + "; ".join(ENDPOINTS))
    return answer


def _route(
    state: EmulatorState, req: Request, route: tuple[str, ...], segs: list[str]
) -> Answer | None:
    match route:
        case ("GET",):
            return json_response(200, {"endpoints": ENDPOINTS, "info": state.info()})
        case ("GET", "health"):
            return json_response(200, {"status": "ok"})
        case ("GET", "users"):
            with state.lock:
                return json_response(200, {"tenant": state.directory.tenant,
                                           "value": [_user_summary(u)
                                                     for u in state.directory.users]})
        case ("GET", "users", "{key}"):
            user = _find(state, segs[1])
            return _no_user(segs[1]) if user is None else json_response(200, _user_summary(user))
        case (method, "users", "{key}", "photo"):
            return _user_photo(state, req, method, segs[1])
        case ("GET", "directory"):
            with state.lock:
                doc = export_directory(state.directory, state.certs.client_cert)
                doc["applicationSummaries"] = [app_summary(a)
                                               for a in state.directory.applications]
            return json_response(200, doc)
        case ("POST", "directory"):
            directory = state.replace_directory(_json_body(req))
            return json_response(200, {"tenant": directory.tenant,
                                       "users": len(directory.users),
                                       "applications": len(directory.applications)})
        case ("POST", "release"):
            return json_response(200, {"released": state.release_delays()})
        case ("POST", "reset"):
            state.reset()
            return json_response(200, {"status": "reset"})
        case ("GET", "uploads"):
            with state.lock:
                return json_response(200, {"value": list(state.uploads)})
        case ("GET", "stats"):
            return json_response(200, state.stats())
        case ("GET", "tokens"):
            with state.lock:
                return json_response(200, {"value": list(state.tokens)})
        case ("POST", "tokens"):
            return _mint(state, _json_body(req))
        case ("GET", "faults"):
            return json_response(200, _faults_doc(state))
        case ("POST", "faults"):
            state.configure_faults(_json_body(req))
            return json_response(200, _faults_doc(state))
    return None


def _faults_doc(state: EmulatorState) -> dict[str, Any]:
    doc = state.faults.settings.to_json()
    doc["script"] = [s.to_json() for s in state.faults.pending_script()]
    return doc


def _find(state: EmulatorState, key: str) -> User | None:
    with state.lock:
        return state.directory.find_user(key, allow_mail=True)


def _no_user(key: str) -> Response:
    return _error(404, "NotFound", f"No user {key!r} in the directory.")


def _user_summary(user: User) -> dict[str, Any]:
    return {**user.graph_fields(), **user.mailbox_fields(),
            "photo": user.photo.summary() if user.photo else None}


def _user_photo(state: EmulatorState, req: Request, method: str, key: str) -> Answer | None:
    user = _find(state, key)
    if user is None:
        return _no_user(key)
    if method == "GET":
        with state.lock:
            photo = user.photo
        if photo is None:
            return _error(404, "NotFound", f"User {key!r} has no photo.")
        return Response(200, photo.data, photo.content_type)
    if method == "PUT":  # seed a photo directly: no token, limits or upload history
        try:
            info = images.inspect(req.body)
        except images.ImageInvalid as exc:
            return _error(400, "ImageInvalid", str(exc))
        photo = state.store_photo(user, req.body, info, app_id="admin", dialect="admin",
                                  method="PUT", record_upload=False)
        return json_response(200, photo.summary())
    if method == "DELETE":
        with state.lock:
            user.photo = None
        return Response(204)
    return None


def _mint(state: EmulatorState, body: Any) -> Answer:
    """Mint a token with chosen lifetime/audience/roles, e.g. an expired or wrong-audience one,
    so tests can check how the APIs reject it."""
    if not isinstance(body, dict):
        raise ValueError('expected {"client_id": ..., "resource": ..., "lifetime_s": ...}')
    with state.lock:
        tenant = state.directory.tenant
        app = state.directory.app(str(body.get("client_id", "")))
    if app is None:
        raise ValueError("client_id must name an application in the directory")
    roles = body.get("roles")
    if roles is not None and not (isinstance(roles, list)
                                  and all(isinstance(r, str) for r in roles)):
        raise ValueError("roles must be a list of strings")
    lifetime = body.get("lifetime_s", state.config.token_lifetime_s)
    if type(lifetime) is not int:
        raise ValueError("lifetime_s must be an integer (negative: already expired)")
    issued = state.signer.issue(
        tenant=tenant, app=app, resource=str(body.get("resource", "https://graph.microsoft.com")),
        lifetime_s=lifetime, appidacr="1", roles=tuple(roles) if roles is not None else None,
    )
    state.record_token(issued, "admin")
    return json_response(200, {"access_token": issued.token, "claims": issued.claims})
