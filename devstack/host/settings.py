"""local.settings.json and host.json, read the way Azure Functions Core Tools reads them.

local.settings.json is read by :mod:`photo_core.adapters.local_settings` (shared with the
``python -m photo_core --settings`` commands) and re-exported here. host.json supplies the HTTP
route prefix, the blob extension's parallelism and poison threshold, and the function timeout.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from photo_core.adapters.local_settings import (
    LocalSettings,
    SettingsFileError,
    apply_values,
    load_json_object,
    read_local_settings,
    unapply_values,
)

__all__ = ["DEFAULT_HTTP_PORT", "HostConfig", "LocalSettings", "SettingsError", "apply_values",
           "parse_timespan", "read_host_json", "read_local_settings",
           "resolve_setting_references", "unapply_values"]

logger = logging.getLogger(__name__)

#: Core Tools' own default HTTP port, used when neither --port nor Host.LocalHttpPort is given.
DEFAULT_HTTP_PORT = 7071
#: The local host's default worker count for blob triggers (Azure's default is 8 per instance
#: on Flex Consumption too; the extension's own default depends on the core count).
DEFAULT_BLOB_PARALLELISM = 8
DEFAULT_POISON_THRESHOLD = 5  # the blob extension's default
DEFAULT_FUNCTION_TIMEOUT = 300.0  # Consumption's default, 5 minutes


#: Raised for local.settings.json and host.json alike.
SettingsError = SettingsFileError


@dataclass(frozen=True)
class HostConfig:
    """The parts of host.json the local host honours."""

    route_prefix: str = "api"
    max_degree_of_parallelism: int = DEFAULT_BLOB_PARALLELISM
    poison_blob_threshold: int = DEFAULT_POISON_THRESHOLD
    function_timeout: float | None = DEFAULT_FUNCTION_TIMEOUT  # seconds; None = unbounded


def read_host_json(path: Path) -> HostConfig:
    """Parse host.json; a missing file means the platform defaults."""
    if not path.is_file():
        return HostConfig()
    document = load_json_object(path)
    extensions = _object(document.get("extensions"), f"{path}: extensions")
    http = _object(extensions.get("http"), f"{path}: extensions.http")
    blobs = _object(extensions.get("blobs"), f"{path}: extensions.blobs")
    prefix = http.get("routePrefix", "api")
    if not isinstance(prefix, str):
        raise SettingsError(f"{path}: extensions.http.routePrefix must be a string")
    return HostConfig(
        route_prefix=prefix.strip("/"),
        max_degree_of_parallelism=_positive_int(
            blobs.get("maxDegreeOfParallelism", DEFAULT_BLOB_PARALLELISM),
            f"{path}: extensions.blobs.maxDegreeOfParallelism",
        ),
        poison_blob_threshold=_positive_int(
            blobs.get("poisonBlobThreshold", DEFAULT_POISON_THRESHOLD),
            f"{path}: extensions.blobs.poisonBlobThreshold",
        ),
        function_timeout=parse_timespan(
            document.get("functionTimeout", "00:05:00"), f"{path}: functionTimeout"
        ),
    )


_TIMESPAN = re.compile(r"^(?:(\d+)\.)?(\d{1,2}):(\d{1,2}):(\d{1,2}(?:\.\d+)?)$")


def parse_timespan(value: Any, where: str) -> float | None:
    """A .NET TimeSpan ("00:05:00", "1.00:00:00") in seconds; "-1" means no limit (None)."""
    if value is None or str(value).strip() == "-1":
        return None
    match = _TIMESPAN.match(str(value).strip())
    if not match:
        raise SettingsError(f"{where}: {value!r} is not a time span like 00:05:00")
    days, hours, minutes, seconds = match.groups()
    total = int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    if total <= 0:
        raise SettingsError(f"{where}: must be longer than zero")
    return total


_SETTING_REFERENCE = re.compile(r"%([^%]+)%")


def resolve_setting_references(text: str, where: str) -> str:
    """Replace ``%NAME%`` with the app setting NAME, as the host does for binding paths."""

    def lookup(match: re.Match[str]) -> str:
        name = match.group(1)
        value = os.environ.get(name)
        if value is None:
            raise SettingsError(f"{where}: app setting '{name}' (used as %{name}%) is not set")
        return value

    return _SETTING_REFERENCE.sub(lookup, text)


def _object(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SettingsError(f"{where} must be an object")
    return value


def _positive_int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SettingsError(f"{where} must be a whole number of at least 1, not {value!r}")
    return value
