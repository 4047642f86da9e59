"""Graph user lookups: ``GET /v1.0/users/{id|upn}`` and ``GET /v1.0/users?$filter=...``.

photo-sync resolves an HR employee id to a user with ``$filter=employeeId eq '...'``; the
emulator answers with Graph's permission rule (employeeId is not a basic-profile property, so it
needs User.Read.All or more) and refuses queries it does not model instead of guessing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from devstack.emulator import odata
from devstack.emulator.directory import User
from devstack.emulator.web import (
    ODATA_JSON_TYPE,
    Answer,
    Request,
    Response,
    graph_error,
    json_response,
)

if TYPE_CHECKING:
    from devstack.emulator.state import EmulatorState

USER_FULL: Final = frozenset({"User.Read.All", "User.ReadWrite.All", "Directory.Read.All",
                              "Directory.ReadWrite.All"})
USER_BASIC: Final = USER_FULL | {"User.ReadBasic.All"}


def required_roles(req: Request) -> frozenset[str]:
    """Reading ``employeeId`` (filtering or selecting it) needs more than ReadBasic."""
    text = " ".join(filter(None, (req.param("$filter"), req.param("$select")))).lower()
    return USER_FULL if "employeeid" in text else USER_BASIC


def _select(req: Request, roles: frozenset[str]) -> list[str] | Response:
    """``$select`` or the default properties; ``employeeId`` only for User.Read.All and up."""
    try:
        chosen = odata.parse_select(req.param("$select"))
    except odata.ODataSyntaxError as exc:
        return graph_error(req, 400, "Request_BadRequest", str(exc))
    if chosen is not None:
        if "employeeId" in chosen and not roles & USER_FULL:
            return graph_error(req, 403, "Authorization_RequestDenied",
                               "Insufficient privileges to complete the operation. Reading "
                               "employeeId needs User.Read.All.")
        return chosen
    props = list(odata.USER_PROPERTIES)
    if not roles & USER_FULL:  # like Graph, ReadBasic callers do not see employeeId
        props.remove("employeeId")
    return props


def user_get(req: Request, user: User, roles: frozenset[str]) -> Answer:
    props = _select(req, roles)
    if isinstance(props, Response):
        return props
    fields = user.graph_fields()
    return json_response(200, {
        "@odata.context": f"{req.base_url}/v1.0/$metadata#users/$entity",
        **{p: fields[p] for p in props},
    }, content_type=ODATA_JSON_TYPE)


def users_list(state: EmulatorState, req: Request, roles: frozenset[str]) -> Answer:
    props = _select(req, roles)
    if isinstance(props, Response):
        return props
    flt = req.param("$filter")
    try:
        prop_value = odata.parse_filter(flt) if flt is not None else None
    except odata.UnsupportedQuery as exc:
        return graph_error(req, 400, "Request_UnsupportedQuery", str(exc))
    count = (req.param("$count") or "").lower()
    if count not in ("", "true", "false"):
        return graph_error(req, 400, "Request_BadRequest", "$count must be true or false.")
    if count == "true" and (req.header("consistencylevel") or "").lower() != "eventual":
        return graph_error(req, 400, "Request_BadRequest",
                           "$count requires the header 'ConsistencyLevel: eventual'.")
    top_text = req.param("$top")
    if top_text is not None and not (top_text.isdigit() and 1 <= int(top_text) <= 999):
        return graph_error(req, 400, "Request_BadRequest", "$top must be between 1 and 999.")
    with state.lock:
        users = list(state.directory.users)
    if prop_value is not None:
        prop, value = prop_value
        users = [u for u in users
                 if (u.graph_fields()[prop] or "").casefold() == value.casefold()]
    total = len(users)
    if top_text is not None:
        users = users[: int(top_text)]
    context = f"{req.base_url}/v1.0/$metadata#users"
    if req.param("$select") is not None:
        context += f"({','.join(props)})"
    doc: dict[str, Any] = {"@odata.context": context}
    if count == "true":
        doc["@odata.count"] = total
    doc["value"] = [{p: u.graph_fields()[p] for p in props} for u in users]
    return json_response(200, doc, content_type=ODATA_JSON_TYPE)
