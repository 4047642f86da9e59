"""The two photo API dialects and the clouds they run in, as data.

Microsoft Graph v1.0 is the default. The Outlook REST v2.0 API (the product's seed document) has
almost the same shape: PascalCase properties, the OData key form for users, and a 1x1 GIF instead
of a 404 when a user has no photo. Keeping the differences in small tables lets one client speak
both.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


class Dialect(enum.Enum):
    """The photo API dialects photo-sync speaks."""

    GRAPH = "graph"
    OUTLOOK = "outlook"


class Cloud(enum.Enum):
    """Microsoft 365 clouds: one setting picks the identity authority and the API hosts."""

    PUBLIC = "public"
    USGOV = "usgov"
    CHINA = "china"


@dataclass(frozen=True)
class CloudEndpoints:
    login: str
    graph: str
    outlook: str


CLOUD_ENDPOINTS: dict[Cloud, CloudEndpoints] = {
    Cloud.PUBLIC: CloudEndpoints(
        "https://login.microsoftonline.com",
        "https://graph.microsoft.com",
        "https://outlook.office.com",
    ),
    Cloud.USGOV: CloudEndpoints(
        "https://login.microsoftonline.us",
        "https://graph.microsoft.us",
        "https://outlook.office365.us",
    ),
    Cloud.CHINA: CloudEndpoints(
        "https://login.chinacloudapi.cn",
        "https://microsoftgraph.chinacloudapi.cn",
        "https://partner.outlook.cn",
    ),
}


# Microsoft API hosts of clouds photo-sync has no PHOTO_CLOUD for (their tokens are for another
# audience than any it asks for).
UNSUPPORTED_API_HOSTS = frozenset({"dod-graph.microsoft.us"})

# Microsoft's own API hosts, each with the cloud and dialect it serves (other hosts, such as a
# local emulator or a proxy, are taken as configured).
API_HOSTS: dict[str, tuple[Cloud, Dialect]] = {
    **{urlsplit(e.graph).hostname or "": (c, Dialect.GRAPH) for c, e in CLOUD_ENDPOINTS.items()},
    **{urlsplit(e.outlook).hostname or "": (c, Dialect.OUTLOOK)
       for c, e in CLOUD_ENDPOINTS.items()},
    "outlook.office365.com": (Cloud.PUBLIC, Dialect.OUTLOOK),
}


@dataclass(frozen=True)
class DialectSpec:
    """What differs between the dialects: base path and least-privileged permissions."""

    api_path: str
    read_permission: str
    write_permission: str


DIALECTS: dict[Dialect, DialectSpec] = {
    Dialect.GRAPH: DialectSpec("/v1.0", "ProfilePhoto.Read.All", "ProfilePhoto.ReadWrite.All"),
    Dialect.OUTLOOK: DialectSpec("/api/v2.0", "User.ReadBasic.All", "User.ReadWrite.All"),
}

# Graph's employee-id lookup needs to read full user profiles.
EMPLOYEE_ID_PERMISSION = "User.Read.All"

STANDARD_SIZES = (48, 64, 96, 120, 240, 360, 432, 504, 648)
SERVICE_UPLOAD_LIMIT_BYTES = 4 * 1024 * 1024  # both APIs take photos of up to 4 MB


def default_base_url(dialect: Dialect, cloud: Cloud) -> str:
    return _resource(dialect, cloud) + DIALECTS[dialect].api_path


def default_scope(dialect: Dialect, cloud: Cloud) -> str:
    return _resource(dialect, cloud) + "/.default"


def _resource(dialect: Dialect, cloud: Cloud) -> str:
    """The API host a dialect is served from in a cloud: the token's audience too."""
    endpoints = CLOUD_ENDPOINTS[cloud]
    return endpoints.graph if dialect is Dialect.GRAPH else endpoints.outlook


@dataclass(frozen=True)
class PhotoMetadata:
    """A profile photo's metadata, the same for both dialects.

    ``size_id`` is normalised to lower case (``240x240``); the services vary its casing.
    """

    size_id: str
    width: int
    height: int
    content_type: str
    etag: str | None


def parse_metadata(payload: dict[str, Any], dialect: Dialect) -> PhotoMetadata | None:
    """Normalise one metadata object; ``None`` when it describes "no photo".

    Outlook answers a user without a photo with a 1x1 ``image/gif`` placeholder and an empty
    etag; treating that as a photo would make every such user look up to date.
    """
    if dialect is Dialect.GRAPH:
        size_id, width, height = payload.get("id"), payload.get("width"), payload.get("height")
    else:
        size_id, width, height = payload.get("Id"), payload.get("Width"), payload.get("Height")
    content_type = str(payload.get("@odata.mediaContentType") or "")
    etag = payload.get("@odata.mediaEtag") or None
    if dialect is Dialect.OUTLOOK and content_type == "image/gif" and etag is None:
        return None
    if not isinstance(width, int) or not isinstance(height, int):
        raise ValueError("photo metadata lacks integer width and height")
    return PhotoMetadata(
        size_id=str(size_id or f"{width}x{height}").lower(),
        width=width,
        height=height,
        content_type=content_type,
        etag=str(etag) if etag is not None else None,
    )


_SIZE = re.compile(r"([0-9]{1,5})x([0-9]{1,5})")


def parse_size(text: str) -> str:
    """Validate a requested photo size (``240x240``) against the standard sizes; the size sent
    upstream is its canonical form (``0240X240`` is ``240x240``), never the caller's text."""
    match = _SIZE.fullmatch(text.strip().lower())  # ASCII digits only: no fullwidth ones
    if match and int(match[1]) == int(match[2]) and int(match[1]) in STANDARD_SIZES:
        return f"{int(match[1])}x{int(match[1])}"
    allowed = ", ".join(f"{s}x{s}" for s in STANDARD_SIZES)
    raise ValueError(f"size {text!r} is not one of {allowed}")
