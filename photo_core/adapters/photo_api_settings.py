"""The settings of the photo API client and of the identity that gets its tokens.

Small frozen records the adapters (``photo_api``, ``auth``) and ``bootstrap.build_session`` are
built from. ``photo_core.settings`` reads them from the environment and validates them; they live
here, with the adapters they configure, so that no adapter imports the settings module above it.
Nothing here imports an HTTP library.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from photo_core.domain.dialects import (
    CLOUD_ENDPOINTS,
    Cloud,
    Dialect,
    default_base_url,
    default_scope,
)


class AuthMode(enum.Enum):
    """Which credential gets the tokens (``PHOTO_AUTH_MODE``)."""

    MANAGED_IDENTITY = "managed_identity"
    CLIENT_SECRET = "client_secret"  # noqa: S105 - a mode name, not a secret
    CERTIFICATE = "certificate"


@dataclass(frozen=True)
class ApiSettings:
    """Which photo API, where, and how long one request may take (``PHOTO_API_DIALECT``,
    ``PHOTO_CLOUD``, ``PHOTO_API_BASE_URL``, ``PHOTO_UPLOAD_METHOD``, ``PHOTO_HTTP_*``,
    ``PHOTO_CA_BUNDLE``)."""

    dialect: Dialect = Dialect.GRAPH
    cloud: Cloud = Cloud.PUBLIC
    base_url: str = default_base_url(Dialect.GRAPH, Cloud.PUBLIC)
    scope: str = default_scope(Dialect.GRAPH, Cloud.PUBLIC)
    upload_method: str = "PATCH"
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    ca_bundle: str | None = None


@dataclass(frozen=True)
class AuthSettings:
    """The identity photo-sync gets its tokens as (``PHOTO_AUTH_MODE``, ``PHOTO_TENANT_ID``,
    ``PHOTO_CLIENT_*``, ``PHOTO_AUTHORITY``). Secret values are kept out of ``repr``."""

    mode: AuthMode = AuthMode.MANAGED_IDENTITY
    authority: str | None = None
    tenant_id: str | None = None
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    certificate_path: str | None = None
    certificate_pem: str | None = field(default=None, repr=False)
    certificate_password: str | None = field(default=None, repr=False)

    @property
    def custom_authority(self) -> bool:
        """True when the authority is not a well-known Microsoft host (e.g. the emulator), so
        MSAL must skip instance discovery, which would ask Microsoft about it."""
        hosts = {urlsplit(e.login).netloc for e in CLOUD_ENDPOINTS.values()}
        return bool(self.authority) and urlsplit(self.authority or "").netloc not in hosts
