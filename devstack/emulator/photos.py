"""Microsoft Graph v1.0 and Outlook REST v2.0 user-photo operations, and the request pipeline
shared with the user lookups (``users.py``).

Deleting a photo: Graph documents ``DELETE /users/{id | userPrincipalName}/photo/$value``
(204 No Content, ProfilePhoto.ReadWrite.All or User.ReadWrite.All); the emulator also accepts
``DELETE .../photo``, with the same semantics. Graph's documentation does not say what deleting
a photo that is not there answers; the emulator answers 404 ``ImageNotFound``, as every other
Graph photo operation on a user without a photo does, so a client that wants idempotent deletes
treats that 404 as "already gone". The Outlook v2.0 dialect has no delete (405).

Every API request goes through one pipeline, in the order the real service appears to apply its
checks: route (400/405) -> bearer token (401) -> injected faults -> app role (403) -> user and
mailbox (404) -> the tenant's photo-update policy (403) -> body size/type (413/415) ->
throttling windows (429) -> the operation. Doing it in one place keeps the two dialects' answers
consistent and the fault script predictable.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from devstack.emulator import images, odata, users
from devstack.emulator.directory import User
from devstack.emulator.limits import Fault, Throttle, retry_after_value
from devstack.emulator.tokens import GRAPH_RESOURCES, OUTLOOK_RESOURCES, TokenInvalid
from devstack.emulator.web import (
    ODATA_JSON_TYPE,
    RESET,
    Answer,
    Request,
    Response,
    graph_error,
    json_response,
)

if TYPE_CHECKING:
    from devstack.emulator.state import EmulatorState

log = logging.getLogger(__name__)

PHOTO_READ: Final = frozenset({"ProfilePhoto.Read.All", "ProfilePhoto.ReadWrite.All",
                               "User.ReadBasic.All", "User.Read.All", "User.ReadWrite.All"})
PHOTO_WRITE: Final = frozenset({"ProfilePhoto.ReadWrite.All", "User.ReadWrite.All"})

_FAULT_CODES: Final = {
    400: ("BadRequest", "The request is invalid."),
    401: ("InvalidAuthenticationToken", "Access token validation failure."),
    403: ("ErrorAccessDenied", "Access is denied. Check credentials and try again."),
    404: ("ErrorItemNotFound", "The requested item was not found."),
    409: ("Conflict", "The request conflicts with the current state of the resource."),
    429: ("TooManyRequests", "Too many requests. Retry after the time in Retry-After."),
    500: ("InternalServerError", "An internal server error occurred."),
    502: ("BadGateway", "The upstream service answered badly."),
    503: ("ServiceUnavailable", "The service is temporarily unavailable. Please retry later."),
    504: ("GatewayTimeout", "The upstream service timed out."),
}
_SIZE: Final = re.compile(r"(\d+)[xX](\d+)")


@dataclass(frozen=True)
class Route:
    dialect: str  # "graph" | "outlook"
    operation: str
    roles: frozenset[str]
    user_key: str | None = None  # None: the users collection
    me: bool = False
    mailbox: bool = True  # photo operations live in the mailbox
    size: str | None = None


# --- routing ---------------------------------------------------------------------------------


def handle_graph(state: EmulatorState, req: Request) -> Answer:
    req.operation = "graph.unknown"
    route = _graph_route(req)
    return route if isinstance(route, Response) else _serve(state, req, route)


def handle_outlook(state: EmulatorState, req: Request) -> Answer:
    req.operation = "outlook.unknown"
    route = _outlook_route(req)
    return route if isinstance(route, Response) else _serve(state, req, route)


def _user_target(req: Request, segs: tuple[str, ...]) -> tuple[str | None, bool, list[str]] | \
        Response:
    """(user key, is /me, remaining segments) from ``users/{key}``, ``users('{key}')``, ``me``."""
    first = segs[0] if segs else ""
    try:
        keyed = odata.parse_key_segment(first)
    except odata.ODataSyntaxError as exc:
        return graph_error(req, 400, "BadRequest", str(exc))
    if keyed is not None and keyed.collection.lower() == "users":
        return keyed.key, False, list(segs[1:])
    if first.lower() == "users" and len(segs) >= 2:
        return segs[1], False, list(segs[2:])
    if first.lower() == "me":
        return None, True, list(segs[1:])
    return _unknown_segment(req, first)


def _unknown_segment(req: Request, segment: str) -> Response:
    return graph_error(req, 400, "BadRequest", f"Resource not found for the segment '{segment}'.")


def _pick(req: Request, ops: dict[str, tuple[str, frozenset[str]]]) -> tuple[str, frozenset[str]] \
        | Response:
    """The (operation, roles) for this method, or 405 naming the allowed methods."""
    if req.method in ops:
        return ops[req.method]
    allowed = ", ".join(sorted(ops))
    return graph_error(req, 405, "Request_BadRequest",
                       "Specified HTTP method is not allowed for the request target.",
                       headers={"Allow": allowed})


def _graph_route(req: Request) -> Route | Response:
    segs = req.segments[1:]
    if len(segs) == 1 and segs[0].lower() == "users":
        picked = _pick(req, {"GET": ("graph.users.list", users.required_roles(req))})
        if isinstance(picked, Response):
            return picked
        return Route("graph", picked[0], picked[1], mailbox=False)
    target = _user_target(req, segs)
    if isinstance(target, Response):
        return target
    key, me, rest = target
    low = [s.lower() for s in rest]
    size: str | None = None
    if low and low[0].startswith("photos("):  # the OData key form photos('48x48')
        try:
            keyed = odata.parse_key_segment(rest[0])
        except odata.ODataSyntaxError as exc:
            return graph_error(req, 400, "BadRequest", str(exc))
        if keyed is None or keyed.collection.lower() != "photos":
            return _unknown_segment(req, rest[0])
        rest = ["photos", keyed.key, *rest[1:]]
        low = [s.lower() for s in rest]
    ops: dict[str, tuple[str, frozenset[str]]]
    mailbox = True
    if low == []:
        ops, mailbox = {"GET": ("graph.user.get", users.USER_BASIC)}, False
    elif low == ["photo"]:
        ops = {"GET": ("graph.photo.get", PHOTO_READ),
               "DELETE": ("graph.photo.delete", PHOTO_WRITE)}
    elif low == ["photo", "$value"]:
        # DELETE on $value is the form Graph documents (profilephoto-delete); the same
        # operation as DELETE .../photo.
        ops = {"GET": ("graph.photo.value", PHOTO_READ),
               "PATCH": ("graph.photo.set", PHOTO_WRITE), "PUT": ("graph.photo.set", PHOTO_WRITE),
               "DELETE": ("graph.photo.delete", PHOTO_WRITE)}
    elif low == ["photos"]:
        ops = {"GET": ("graph.photos.list", PHOTO_READ)}
    elif len(low) == 2 and low[0] == "photos":
        ops, size = {"GET": ("graph.photos.size", PHOTO_READ)}, rest[1]
    elif len(low) == 3 and low[0] == "photos" and low[2] == "$value":
        ops, size = {"GET": ("graph.photos.size.value", PHOTO_READ)}, rest[1]
    else:
        return _unknown_segment(req, rest[-1] if rest else "")
    picked = _pick(req, ops)
    if isinstance(picked, Response):
        return picked
    return Route("graph", picked[0], picked[1], user_key=key, me=me, mailbox=mailbox, size=size)


def _outlook_route(req: Request) -> Route | Response:
    target = _user_target(req, req.segments[2:])
    if isinstance(target, Response):
        return target
    key, me, rest = target
    low = [s.lower() for s in rest]
    ops: dict[str, tuple[str, frozenset[str]]]
    if low == ["photo"]:
        ops = {"GET": ("outlook.photo.get", PHOTO_READ)}
    elif low == ["photo", "$value"]:
        ops = {"GET": ("outlook.photo.value", PHOTO_READ),
               "PATCH": ("outlook.photo.set", PHOTO_WRITE),
               "PUT": ("outlook.photo.set", PHOTO_WRITE)}
    else:
        return _unknown_segment(req, rest[-1] if rest else "")
    picked = _pick(req, ops)
    if isinstance(picked, Response):
        return picked
    return Route("outlook", picked[0], picked[1], user_key=key, me=me)


# --- the pipeline ------------------------------------------------------------------------------


def _serve(state: EmulatorState, req: Request, route: Route) -> Answer:
    req.operation = route.operation
    claims = _authenticate(state, req, route.dialect)
    if isinstance(claims, Response):
        return claims
    fault = state.faults.decide("api", req.method, route.operation, str(claims.get("appid")))
    state.record_faults(fault.kinds)
    if fault.reset or fault.status:
        state.pause(fault.delay_ms)
        return RESET if fault.reset else _fault_answer(req, fault)
    if route.me:
        return graph_error(req, 400, "BadRequest",
                           "/me request is only valid with delegated authentication flow.")
    roles = frozenset(claims.get("roles", []))
    if not roles & route.roles:
        return _forbidden(req, route)
    app_id = str(claims["appid"])
    if route.user_key is None:
        return _limited(state, req, route, fault, app_id, None,
                        lambda: users.users_list(state, req, roles))
    with state.lock:
        user = state.directory.find_user(route.user_key, allow_mail=route.dialect == "outlook")
    if user is None:
        return graph_error(req, 404, "Request_ResourceNotFound",
                           f"Resource '{route.user_key}' does not exist or one of its queried "
                           "reference-property objects are not present.")
    if route.mailbox:
        refused = _mailbox_refusal(req, route, user) or _policy_refusal(state, req, route)
        if refused is not None:
            return refused
    upload = 0
    if route.operation.endswith("photo.set"):
        refused = _check_upload(state, req)
        if refused is not None:
            return refused
        upload = len(req.body)
    mailbox = user.id if route.mailbox and user.has_mailbox else None
    answer = _limited(state, req, route, fault, app_id, mailbox,
                      lambda: _operate(state, req, route, user, app_id, roles), upload)
    if fault.lose_answer and isinstance(answer, Response) and answer.status < 300:
        return RESET  # done, and the caller never hears so
    return answer


def _mailbox_refusal(req: Request, route: Route, user: User) -> Response | None:
    """Photo operations for a user whose photo cannot be in Exchange Online (see
    ``directory.MAILBOX_KINDS``). A user without a mailbox whose photo Graph keeps in Entra ID
    is served from there on Graph; the Outlook API knows only mailboxes."""
    if user.mailbox == "onPremises":
        return graph_error(req, 404, "MailboxNotHostedInExchangeOnline",
                           "The mailbox is either inactive, soft-deleted, or is hosted on-premise.")
    if user.mailbox == "none" and not (user.photo_in_entra_id and route.dialect == "graph"):
        return graph_error(req, 404, "ErrorNonExistentMailbox",
                           "The SMTP address has no mailbox associated with it.")
    return None


def _policy_refusal(state: EmulatorState, req: Request, route: Route) -> Response | None:
    """A photo write while the tenant's photoUpdateSettings source is onPremises, which
    disables cloud updates "for both admins and users" (Graph, "Manage user profile photo
    settings"). Microsoft does not document the answer; this shape is assumed (and is what
    photo-sync's client recognises): 403, code PhotoUpdateNotAllowed, naming the setting."""
    if not route.operation.endswith(("photo.set", "photo.delete")):
        return None
    with state.lock:
        source = state.directory.photo_update_source
    if source == "cloud":
        return None
    return graph_error(req, 403, "PhotoUpdateNotAllowed",
                       "Profile photo updates in the cloud are disabled by the organization's "
                       f"photoUpdateSettings (source: {source}).")


def _limited(
    state: EmulatorState, req: Request, route: Route, fault: Fault, app_id: str,
    mailbox: str | None, operate: Callable[[], Answer], upload: int = 0,
) -> Answer:
    throttle = state.limiter.acquire(state.faults.settings, app_id, mailbox, upload)
    if throttle is not None:
        state.record_throttle(throttle.limit)
        log.info("throttled %s for app %s (%s)", route.operation, app_id, throttle.limit)
        return _throttle_answer(state, req, throttle)
    try:
        state.pause(fault.delay_ms)  # inside the slot, so latency makes concurrency observable
        return operate()
    finally:
        if mailbox is not None:
            state.limiter.release(app_id, mailbox)


def _authenticate(state: EmulatorState, req: Request, dialect: str) -> dict[str, Any] | Response:
    header = req.header("authorization") or ""
    scheme, _, token = header.partition(" ")
    with state.lock:
        tenant = state.directory.tenant
        directory = state.directory
    try:
        if scheme.lower() != "bearer" or not token.strip():
            raise TokenInvalid("Access token is empty.")
        audiences = GRAPH_RESOURCES if dialect == "graph" else OUTLOOK_RESOURCES
        claims = state.signer.validate(token.strip(), tenant=tenant, audiences=audiences)
        if directory.app(str(claims["appid"])) is None:
            raise TokenInvalid("Access token validation failure. The application no longer "
                               "exists in the tenant.")
    except TokenInvalid as exc:
        if dialect == "graph":
            challenge = (f'Bearer realm="", authorization_uri="{req.base_url}/{tenant}/oauth2/'
                         'authorize", client_id="00000003-0000-0000-c000-000000000000"')
        else:
            challenge = ('Bearer client_id="00000002-0000-0ff1-ce00-000000000000", '
                         f'authorization_uri="{req.base_url}/{tenant}/oauth2/authorize", '
                         'error="invalid_token"')
        return graph_error(req, 401, "InvalidAuthenticationToken", str(exc),
                           headers={"WWW-Authenticate": challenge})
    return claims


def _forbidden(req: Request, route: Route) -> Response:
    if route.mailbox:
        return graph_error(req, 403, "ErrorAccessDenied",
                           "Access is denied. Check credentials and try again. The token needs "
                           f"one of these application roles: {', '.join(sorted(route.roles))}.")
    return graph_error(req, 403, "Authorization_RequestDenied",
                       "Insufficient privileges to complete the operation. The token needs one "
                       f"of these application roles: {', '.join(sorted(route.roles))}.")


def _fault_answer(req: Request, fault: Fault) -> Response:
    status = fault.status or 503
    default_code, default_message = _FAULT_CODES.get(status, ("UnknownError", "Injected fault."))
    retry_after = fault.retry_after
    if status == 429 and retry_after is None:
        retry_after = 1  # a 429 always says when to come back
    headers = {}
    if retry_after is not None:
        headers["Retry-After"] = retry_after_value(retry_after, fault.retry_after_format)
    return graph_error(req, status, fault.code or default_code, fault.message or default_message,
                       headers=headers)


def _throttle_answer(state: EmulatorState, req: Request, throttle: Throttle) -> Response:
    code = "TooManyRequests" if throttle.limit == "app_requests" else "ApplicationThrottled"
    fmt = state.faults.settings.retry_after_format
    return graph_error(req, 429, code, throttle.message,
                       headers={"Retry-After": retry_after_value(throttle.retry_after, fmt)})


def _check_upload(state: EmulatorState, req: Request) -> Response | None:
    limit = state.config.max_photo_bytes
    declared = len(req.body)
    if declared > limit:
        return graph_error(req, 413, "RequestEntityTooLarge",
                           f"The photo is {declared} bytes; the limit is {limit} bytes (4 MB).")
    ctype = (req.header("content-type") or "").split(";")[0].strip().lower()
    if not ctype.startswith("image/"):
        return graph_error(req, 415, "UnsupportedMediaType",
                           f"Content-Type must be an image type such as image/jpeg, got "
                           f"{ctype or 'none'!r}.")
    return None


# --- operations ---------------------------------------------------------------------------------


def _operate(
    state: EmulatorState, req: Request, route: Route, user: User, app_id: str,
    roles: frozenset[str],
) -> Answer:
    op = route.operation.split(".", 1)[1]
    if op == "user.get":
        return users.user_get(req, user, roles)
    if op == "photo.set":
        return _photo_set(state, req, route, user, app_id)
    with state.lock:
        photo = user.photo
    if op == "photo.get" and route.dialect == "outlook":
        return _outlook_meta(state, req, route, user)
    if photo is None and op != "photos.list":
        if route.dialect == "outlook":
            return graph_error(req, 404, "ErrorItemNotFound", "The photo wasn't found.")
        return graph_error(req, 404, "ImageNotFound",
                           "Exception of type 'Microsoft.Fast.Profile.Core.Exception."
                           "ImageNotFoundException' was thrown.")
    base = f"{req.base_url}/v1.0/$metadata#users('{user.id}')"
    if op == "photo.delete":
        with state.lock:
            user.photo = None
        log.info("photo deleted for user %s by app %s", user.id, app_id)
        return Response(204)
    if op == "photo.value":
        assert photo is not None
        return Response(200, photo.data, photo.content_type)
    if op == "photo.get":
        assert photo is not None
        return json_response(200, {
            "@odata.context": f"{base}/photo/$entity",
            "@odata.mediaContentType": photo.content_type,
            "@odata.mediaEtag": f'"{photo.etag}"',
            "id": f"{photo.width}X{photo.height}",
            "height": photo.height,
            "width": photo.width,
        }, content_type=ODATA_JSON_TYPE)
    # Exchange Online's HD sizes; a photo kept in Entra ID is only ever its uploaded self.
    sizes = images.available_sizes(photo.width, photo.height) \
        if photo and user.has_mailbox else []
    if op == "photos.list":
        return json_response(200, {
            "@odata.context": f"{base}/photos",
            "value": [{"@odata.mediaContentType": "image/jpeg",
                       "@odata.mediaEtag": f'"{photo.etag}"' if photo else "",
                       "id": f"{s}X{s}", "height": s, "width": s} for s in sizes],
        }, content_type=ODATA_JSON_TYPE)
    assert photo is not None
    m = _SIZE.fullmatch(route.size or "")
    if m is None or m.group(1) != m.group(2) or int(m.group(1)) not in sizes:
        return graph_error(req, 404, "ImageNotFound",
                           f"The photo size '{route.size}' is not available for this user. "
                           f"Available: {', '.join(f'{s}x{s}' for s in sizes) or 'none'}.")
    size = int(m.group(1))
    if op == "photos.size":
        return json_response(200, {
            "@odata.context": f"{base}/photos/$entity",
            "@odata.mediaContentType": "image/jpeg",
            "@odata.mediaEtag": f'"{photo.etag}"',
            "id": f"{size}X{size}", "height": size, "width": size,
        }, content_type=ODATA_JSON_TYPE)
    return Response(200, images.square_jpeg(photo.data, size), "image/jpeg")


def _outlook_meta(state: EmulatorState, req: Request, route: Route, user: User) -> Answer:
    with state.lock:
        photo, tenant = user.photo, state.directory.tenant
    base = f"{req.base_url}/api/v2.0"
    doc: dict[str, Any] = {
        "@odata.context": f"{base}/$metadata#Users({odata.quote_key(route.user_key or '')})"
                          "/photo/$entity",
        "@odata.id": f"{base}/Users('{user.id}@{tenant}')/photo",
    }
    if photo is None:  # the seed's documented "no photo yet" answer
        doc.update({"@odata.mediaContentType": "image/gif", "@odata.mediaEtag": "",
                    "Id": "1X1", "Width": 1, "Height": 1})
    else:
        doc.update({"@odata.mediaContentType": photo.content_type,
                    "@odata.mediaEtag": f'"{photo.etag}"',
                    "Id": f"{photo.width}X{photo.height}",
                    "Width": photo.width, "Height": photo.height})
    return json_response(200, doc, content_type=ODATA_JSON_TYPE)


def _photo_set(
    state: EmulatorState, req: Request, route: Route, user: User, app_id: str
) -> Answer:
    try:
        info = images.inspect(req.body)
    except images.ImageInvalid as exc:
        return graph_error(req, 400, "ImageInvalid", f"The photo was rejected: {exc}.")
    state.store_photo(user, req.body, info, app_id=app_id, dialect=route.dialect,
                      method=req.method)
    return Response(200, b"")
