"""The host a configured URL sends to, read the way the HTTP client reads it.

A setting such as ``PHOTO_API_BASE_URL`` decides where a bearer token (or a client assertion)
is sent, so the host photo-sync checks must be the host ``requests`` connects to. Python's
``urlsplit`` and urllib3's ``parse_url`` (what ``requests`` uses) disagree on some URLs:
``https://evil.example\\@graph.microsoft.com/v1.0`` is ``graph.microsoft.com`` to the first and
``evil.example`` to the second. So a URL is accepted only when it is plain (no backslash, no
user info, no space or control character, a host of letters, digits, dots and dashes or an IP
literal) and both parsers read the same scheme, host and port from it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

_HOST_NAME = re.compile(r"[a-z0-9](?:[a-z0-9.-]*[a-z0-9.])?")
_IPV6 = re.compile(r"[0-9a-f:.]+")


class UnsafeUrl(ValueError):
    """The URL is not one photo-sync will send a credential to; the message says why, without
    repeating the URL (it may hold a secret)."""


@dataclass(frozen=True)
class Endpoint:
    """The scheme, host (lower case, IPv6 without brackets) and port a URL sends to."""

    scheme: str
    host: str
    port: int | None
    has_query: bool
    has_fragment: bool


def endpoint(url: str) -> Endpoint:
    """The URL's endpoint, or ``UnsafeUrl`` when it is not plain or the parsers disagree."""
    if "\\" in url:
        raise UnsafeUrl("it has a backslash, which HTTP clients read differently")
    if any(not 0x20 < ord(c) < 0x7F for c in url):
        raise UnsafeUrl("it has a space, a control character or a non-ASCII character")
    try:
        ours = urlsplit(url)
        our_port = ours.port
        theirs = parse_url(url)
    except (ValueError, LocationParseError) as exc:
        raise UnsafeUrl("it is not a URL with a valid host and port") from exc
    if "@" in ours.netloc or theirs.auth is not None:
        raise UnsafeUrl("it has user info (a '@' before the host)")
    host = (ours.hostname or "").lower()
    bracketed = ours.netloc.startswith("[")
    if not (_IPV6 if bracketed else _HOST_NAME).fullmatch(host):
        raise UnsafeUrl("its host is not plain letters, digits, dots and dashes or an IP address")
    their_host = (theirs.host or "").lower().strip("[]")
    if (ours.scheme, host, our_port) != (theirs.scheme, their_host, theirs.port):
        raise UnsafeUrl("the HTTP client would read another host or port from it")
    return Endpoint(ours.scheme, host, our_port, bool(ours.query), bool(ours.fragment))
