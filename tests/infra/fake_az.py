"""A stand-in for the Azure CLI, for the hook tests: it answers the `az` calls the hooks make
(the account, Microsoft Graph through `az rest`, the host keys, the deployments) from a JSON state
file, records every call, and evaluates each `--query` with the JMESPath library the real CLI uses,
printing `-o tsv` the way the CLI does. It runs as a program (from the IaC virtualenv, which has
jmespath) and is written into the test's bin directory as `az`.

Nothing here imports the app; the state file is the whole contract with the tests.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable
from typing import Any, NoReturn

import jmespath  # type: ignore[import-untyped]  # the IaC virtualenv has it, untyped

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
GRAPH = "https://graph.microsoft.com"


def main() -> NoReturn:
    state_path = os.environ["FAKE_AZ_STATE"]
    with open(state_path, encoding="utf-8") as f:
        state = json.load(f)
    args = sys.argv[1:]
    state["calls"].append(args)

    def done(out: str = "", code: int = 0, err: str = "") -> NoReturn:
        with open(state_path, "w", encoding="utf-8") as f:
            json.dump(state, f)
        if out:
            print(out)
        if err:
            print(err, file=sys.stderr)
        sys.exit(code)

    def option(name: str) -> str | None:
        return args[args.index(name) + 1] if name in args else None

    def answer(document: Any) -> NoReturn:
        query = option("--query")
        if query:
            if _has_field_named_null(jmespath.compile(query).parsed):
                state["null_fields"].append(query)
            document = jmespath.search(query, document)
        done(_tsv(document) if option("-o") == "tsv" else json.dumps(document))

    account = state["account"]
    if args[:2] == ["account", "set"]:
        wanted = option("--subscription")
        if wanted not in account["subscriptions"]:
            done(code=1, err=f"ERROR: The subscription of '{wanted}' doesn't exist in cloud.")
        account["current"] = wanted
        done()
    if args[:2] == ["account", "show"]:
        current = account["current"]
        answer({"id": current, "tenantId": account["subscriptions"][current]})
    if args[:2] == ["cloud", "show"]:
        answer({"endpoints": {"microsoftGraphResourceId": GRAPH + "/"}})
    if args[:3] == ["functionapp", "keys", "list"]:
        state["key_polls"] += 1
        keys = {}
        if state["key_polls"] >= state["key_after_polls"]:
            keys["blobs_extension"] = "blobs-key"
        if state["key_polls"] >= state["eventgrid_key_after_polls"]:
            keys["eventgrid_extension"] = "eventgrid-key"
        answer({"functionKeys": {"default": "function-key"}, "masterKey": "master",
                "systemKeys": keys})
    if args[:3] == ["deployment", "group", "create"]:
        if "deleteProfilePhotoOnBlobDelete=true" in args:
            state["subscriptions"]["photo-deletions"] = "/subscriptions/s/.../photo-deletions"
        done()
    if args[:4] == ["eventgrid", "system-topic", "event-subscription", "list"]:
        answer([{"name": name, "id": rid} for name, rid in state["subscriptions"].items()])
    if args[:2] == ["resource", "delete"]:
        ids = option("--ids")
        state["subscriptions"] = {k: v for k, v in state["subscriptions"].items() if v != ids}
        done()
    if args[:1] == ["rest"]:
        _rest(state, option("--method") or "get", option("--url") or "", option("--body"),
              answer, done)
    done(code=9, err="fake az: unexpected call " + " ".join(args))


def _rest(state: dict[str, Any], method: str, url: str, body: str | None,
          answer: Callable[[Any], NoReturn], done: Callable[..., NoReturn]) -> NoReturn:
    graph = state["graph"]
    path = url.split("/v1.0/", 1)[1]
    assignments_path = re.fullmatch(
        r"servicePrincipals/([^/?]+)/appRoleAssignments(?:\?\$skiptoken=(\d+))?", path)
    if method == "post":
        if graph["deny"]:
            done(code=1, err='Forbidden({"error":{"code":"Authorization_RequestDenied",'
                              '"message":"Insufficient privileges to complete the operation."}})')
        if graph["fail_with"]:
            done(code=1, err=graph["fail_with"])
        new = json.loads(body or "{}")
        if new["appRoleId"] in graph["granted_concurrently"]:
            graph["assignments"].append({"id": f"assignment-{len(graph['assignments'])}", **new})
        if any(a["principalId"] == new["principalId"] and a["resourceId"] == new["resourceId"]
               and a["appRoleId"] == new["appRoleId"] for a in graph["assignments"]):
            done(code=1, err='Bad Request({"error":{"code":"Request_BadRequest","message":'
                             '"Permission being assigned already exists on the object"}})')
        graph["assignments"].append({"id": f"assignment-{len(graph['assignments'])}", **new})
        done()
    if method == "delete":
        target = re.fullmatch(r"servicePrincipals/([^/?]+)/appRoleAssignments/([^/?]+)", path)
        if target is None:
            done(code=9, err=f"fake az: unexpected Graph delete {url}")
        assignment = target.group(2)
        if graph["deny"]:
            done(code=1, err='Forbidden({"error":{"code":"Authorization_RequestDenied",'
                              '"message":"Insufficient privileges to complete the operation."}})')
        if assignment in graph["removed_concurrently"]:
            graph["assignments"] = [a for a in graph["assignments"] if a["id"] != assignment]
        if not any(a["id"] == assignment for a in graph["assignments"]):
            done(code=1, err='Not Found({"error":{"code":"Request_ResourceNotFound","message":'
                             f'"Resource \'{assignment}\' does not exist or one of its queried '
                             'reference-property objects are not present."}})')
        graph["assignments"] = [a for a in graph["assignments"] if a["id"] != assignment]
        done()
    if assignments_path:
        principal, skip = assignments_path.group(1), int(assignments_path.group(2) or 0)
        mine = [a for a in graph["assignments"] if a["principalId"] == principal]
        size = graph["page_size"]
        page: dict[str, Any] = {"value": mine[skip:skip + size]}
        if skip + size < len(mine):
            page["@odata.nextLink"] = (f"{GRAPH}/v1.0/servicePrincipals/{principal}"
                                       f"/appRoleAssignments?$skiptoken={skip + size}")
        graph["pages_read"] += 1
        answer(page)
    match = re.fullmatch(r"servicePrincipals\(appId='([^']+)'\)", path)
    if match:
        answer({"id": graph["sp"] if match.group(1) == GRAPH_APP_ID else "sp-" + match.group(1)})
    match = re.fullmatch(r"servicePrincipals/([^/?]+)\?\$select=appRoles", path)
    if match:
        answer({"appRoles": [{"value": value, "id": role_id,
                              "allowedMemberTypes": ["Application"]}
                             for value, role_id in graph["roles"].items()]})
    match = re.fullmatch(r"servicePrincipals/([^/?]+)", path)
    if match:
        if match.group(1) in graph["principals"]:
            answer({"id": match.group(1)})
        done(code=1, err='Not Found({"error":{"code":"Request_ResourceNotFound"}})')
    done(code=9, err=f"fake az: unexpected Graph call {method} {url}")


def _has_field_named_null(node: Any) -> bool:
    """True for a JMESPath `null` written bare: a lookup of a field named "null"."""
    if isinstance(node, dict):
        if node.get("type") == "field" and node.get("value") == "null":
            return True
        return any(_has_field_named_null(child) for child in node.get("children", []))
    return False


def _cell(value: Any) -> str:
    return "" if isinstance(value, dict) else str(value)


def _tsv(value: Any) -> str:
    """Like the CLI's -o tsv: one line per list item, cells of a row tab-separated, a boolean
    the Python way (True, False), nothing at all for null."""
    if value is None:
        return ""
    rows = value if isinstance(value, list) else [value]
    lines = []
    for row in rows:
        if isinstance(row, dict):
            lines.append("\t".join(_cell(v) for _, v in sorted(row.items())))
        elif isinstance(row, list):
            lines.append("\t".join(_cell(v) for v in row))
        else:
            lines.append(_cell(row))
    return "\n".join(lines)


if __name__ == "__main__":
    main()
