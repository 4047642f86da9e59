"""The little OData the photo APIs need: key segments, ``$filter`` and ``$select``.

Kept apart from the handlers because it is where untrusted text (UPNs with apostrophes, blob
names turned into URLs) is interpreted, and the rules must be exact: ``''`` inside a quoted key is
one quote, anything else the service would refuse is refused here too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

_KEY_SEGMENT: Final = re.compile(r"(?P<coll>[A-Za-z]+)\((?P<body>.*)\)", re.DOTALL)
_QUOTED: Final = re.compile(r"'(?P<inner>(?:[^']|'')*)'", re.DOTALL)
_GUID: Final = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
_EQ_FILTER: Final = re.compile(
    r"\s*(?P<prop>[A-Za-z]+)\s+eq\s+'(?P<value>(?:[^']|'')*)'\s*", re.IGNORECASE | re.DOTALL
)

USER_PROPERTIES: Final = ("id", "displayName", "userPrincipalName", "mail", "employeeId")
FILTERABLE: Final = ("id", "userPrincipalName", "mail", "employeeId", "displayName")


class ODataSyntaxError(ValueError):
    """The URL is not valid OData for this service (400 ``BadRequest``)."""


class UnsupportedQuery(ValueError):
    """Valid OData, but a query the emulated service does not support
    (400 ``Request_UnsupportedQuery``)."""


@dataclass(frozen=True)
class KeySegment:
    collection: str
    key: str


def parse_key_segment(segment: str) -> KeySegment | None:
    """``users('o''brien@contoso.com')`` -> (users, o'brien@contoso.com); None when the segment
    is not in key form at all; ``ODataSyntaxError`` when it is, but badly quoted."""
    m = _KEY_SEGMENT.fullmatch(segment)
    if m is None:
        return None
    body = m.group("body")
    quoted = _QUOTED.fullmatch(body)
    if quoted is not None:
        return KeySegment(m.group("coll"), quoted.group("inner").replace("''", "'"))
    if _GUID.fullmatch(body):
        return KeySegment(m.group("coll"), body)
    raise ODataSyntaxError("Bad Request - Error in query syntax.")


def quote_key(key: str) -> str:
    return "'" + key.replace("'", "''") + "'"


def canonical_property(name: str, allowed: tuple[str, ...] = USER_PROPERTIES) -> str | None:
    return next((p for p in allowed if p.lower() == name.strip().lower()), None)


def parse_select(text: str | None) -> list[str] | None:
    """``$select`` as canonical property names (None when absent)."""
    if text is None:
        return None
    out: list[str] = []
    for raw in text.split(","):
        prop = canonical_property(raw)
        if prop is None:
            raise ODataSyntaxError(
                f"Could not find a property named '{raw.strip()}' on type 'microsoft.graph.user'."
            )
        if prop not in out:
            out.append(prop)
    return out


def parse_filter(text: str) -> tuple[str, str]:
    """Only ``<property> eq '<literal>'`` is supported; returns (property, unescaped value)."""
    m = _EQ_FILTER.fullmatch(text)
    if m is None:
        raise UnsupportedQuery("Unsupported or invalid query filter clause specified: "
                               f"{text.strip()!r}. Only \"<property> eq '<value>'\" is emulated.")
    prop = canonical_property(m.group("prop"), FILTERABLE)
    if prop is None:
        raise UnsupportedQuery(f"Unsupported or invalid query filter clause specified for "
                               f"property '{m.group('prop')}' of resource 'User'.")
    return prop, m.group("value").replace("''", "'")
