"""Framework-free request/response values and the two error dialects the emulator speaks.

Handlers are plain functions from a ``Request`` to a ``Response`` (or ``RESET`` to drop the
connection), so the HTTP plumbing in ``server.py`` stays in one place and the handlers stay easy
to read. The error builders exist because clients branch on these exact shapes: Graph/Outlook
errors are ``{"error": {"code", "message", "innerError"}}``; the identity platform answers
``{"error", "error_description", "error_codes", ...}``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

JSON_TYPE: Final = "application/json; charset=utf-8"
ODATA_JSON_TYPE: Final = (
    "application/json;odata.metadata=minimal;odata.streaming=true;"
    "IEEE754Compatible=false;charset=utf-8"
)


@dataclass
class Request:
    """One parsed HTTP request. ``segments`` are the path segments, each percent-decoded exactly
    once, so an encoded ``/`` stays inside its segment and can never select another route."""

    method: str
    raw_path: str
    segments: tuple[str, ...]
    query: Mapping[str, list[str]]
    headers: Mapping[str, str]  # lower-cased names
    body: bytes
    client_host: str
    base_url: str  # scheme://host:port the client used to reach us
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    # Set by the handler that takes the request; names it in stats and in fault scripts.
    operation: str = "unknown"

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def param(self, name: str) -> str | None:
        """First value of a query parameter (None when absent)."""
        values = self.query.get(name)
        return values[0] if values else None

    @property
    def client_request_id(self) -> str:
        return self.header("client-request-id") or self.request_id


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


class ResetConnection:
    """Marker answer: close the TCP connection abruptly without sending any response."""


RESET: Final = ResetConnection()

Answer = Response | ResetConnection


def utc_now_iso() -> str:
    """Second-precision UTC timestamp in the ``2024-01-31T12:00:00Z`` style Graph uses."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def json_response(
    status: int,
    payload: Any,
    *,
    content_type: str = JSON_TYPE,
    headers: Mapping[str, str] | None = None,
) -> Response:
    body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
    return Response(status, body, content_type, dict(headers or {}))


def graph_error(
    req: Request,
    status: int,
    code: str,
    message: str,
    *,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """A Graph-shaped error body; Outlook REST answers in the same shape here."""
    payload = {
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": utc_now_iso(),
                "request-id": req.request_id,
                "client-request-id": req.client_request_id,
            },
        }
    }
    return json_response(status, payload, headers=headers)


def aad_error(
    req: Request,
    status: int,
    error: str,
    aadsts: int,
    description: str,
    *,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """An identity-platform error body (``error`` + ``AADSTSnnn: ...`` description)."""
    trace_id = req.request_id
    correlation_id = req.header("client-request-id") or str(uuid.uuid4())
    now = datetime.now(UTC)
    payload = {
        "error": error,
        "error_description": (
            f"AADSTS{aadsts}: {description} Trace ID: {trace_id} "
            f"Correlation ID: {correlation_id} Timestamp: {now:%Y-%m-%d %H:%M:%SZ}"
        ),
        "error_codes": [aadsts],
        "timestamp": f"{now:%Y-%m-%d %H:%M:%SZ}",
        "trace_id": trace_id,
        "correlation_id": correlation_id,
        "error_uri": f"{req.base_url}/error?code={aadsts}",
    }
    return json_response(status, payload, headers=headers)
