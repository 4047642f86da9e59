"""HTTP-triggered functions: routing, key checks, and the request/response translation.

Requests under ``/<routePrefix>/`` are matched against every HTTP function's route template
(most specific first, methods honoured; no match is 404 as on the host). Auth levels as on
Azure: ``anonymous`` is open, ``function`` needs the function's key, a host key or the master
key, ``admin`` the master key; the key comes as ``?code=`` or the ``x-functions-key`` header,
and a missing or wrong one is 401. The function gets a real ``func.HttpRequest``; what it returns
(``func.HttpResponse``, ``str``, ``bytes`` or ``None``) becomes the answer, with the
Content-Type the worker would set. An exception is logged with its traceback and answered with
a bare 500: the client never sees it.
"""

from __future__ import annotations

import logging
from typing import Any

import azure.functions as func

from devstack.host.bindings import FunctionSpec, HttpTrigger
from devstack.host.invoke import Invoker
from devstack.host.keys import HostKeys
from devstack.host.server import Request, Response

logger = logging.getLogger(__name__)


def presented_key(request: Request) -> str | None:
    """The key a caller presented, from ``?code=`` or ``x-functions-key``."""
    return request.param("code") or request.header("x-functions-key")


class HttpFunctions:
    """Serves every HTTP-triggered function of the app."""

    def __init__(self, functions: list[FunctionSpec], keys: HostKeys, invoker: Invoker) -> None:
        routed = [(f, f.trigger) for f in functions if isinstance(f.trigger, HttpTrigger)]
        self._routes: list[tuple[FunctionSpec, HttpTrigger]] = sorted(
            routed, key=lambda pair: pair[1].route.precedence)
        self._keys = keys
        self._invoker = invoker

    def handle(self, request: Request, route_path: str) -> Response:
        """Answer ``request``; ``route_path`` is its path below the route prefix."""
        for spec, trigger in self._routes:
            if trigger.methods is not None and request.method not in trigger.methods:
                continue
            route_params = trigger.route.match(route_path)
            if route_params is None:
                continue
            if not self._authorized(spec, trigger, request):
                return Response(401)
            return self._invoke(spec, request, route_params)
        return Response(404)

    def _authorized(self, spec: FunctionSpec, trigger: HttpTrigger, request: Request) -> bool:
        key = presented_key(request)
        if trigger.auth_level == "anonymous":
            return True
        if trigger.auth_level == "admin":
            return self._keys.is_master(key)
        return self._keys.allows_function(spec.name, key)

    def _invoke(self, spec: FunctionSpec, request: Request, route_params: dict[str, str]
                ) -> Response:
        http_request = func.HttpRequest(
            method=request.method,
            url=request.url,
            headers=request.headers,
            params={name: ",".join(values) for name, values in request.query.items()},
            route_params=route_params,
            body=request.body,
        )
        try:
            result = self._invoker.call(spec, http_request, reason="This function was "
                                        "programmatically called via the host APIs.")
            return to_response(result)
        except Exception:  # already logged with its traceback by the invoker
            return Response.text(500, "Internal Server Error")


def to_response(result: Any) -> Response:
    """Translate a function's return value as the Python worker does."""
    if result is None:
        return Response(204)
    if isinstance(result, str):
        return Response.text(200, result)
    if isinstance(result, bytes | bytearray):
        return Response(200, bytes(result), [("Content-Type", "application/octet-stream")])
    if not isinstance(result, func.HttpResponse):
        logger.error("An HTTP function returned %s, not func.HttpResponse, str or bytes",
                     type(result).__name__)
        return Response.text(500, "Internal Server Error")
    headers = [(str(name), str(value)) for name, value in result.headers.items()]
    if not any(name.lower() == "content-type" for name, _ in headers):
        mimetype = result.mimetype
        if mimetype.startswith("text/") or mimetype in ("application/json",):
            mimetype = f"{mimetype}; charset={result.charset}"
        headers.append(("Content-Type", mimetype))
    return Response(int(result.status_code), result.get_body(), headers)
