"""local.settings.json and host.json, read the way Azure Functions Core Tools reads them.

Core Tools puts ``Values`` into the process environment before the worker imports the app, and
skips any name that the environment already has (so a shell ``export`` beats the file, which is
what lets CI and tests override a developer's settings). host.json supplies the HTTP route
prefix, the blob extension's parallelism and poison threshold, and the function timeout.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

#: Core Tools' own default HTTP port, used when neither --port nor Host.LocalHttpPort is given.
DEFAULT_HTTP_PORT = 7071
#: The local host's default worker count for blob triggers (Azure's default is 8 per instance
#: on Flex Consumption too; the extension's own default depends on the core count).
DEFAULT_BLOB_PARALLELISM = 8
DEFAULT_POISON_THRESHOLD = 5  # the blob extension's default
DEFAULT_FUNCTION_TIMEOUT = 300.0  # Consumption's default, 5 minutes


class SettingsError(ValueError):
    """local.settings.json or host.json cannot be used; the message says which and why."""


@dataclass(frozen=True)
class LocalSettings:
    """What local.settings.json holds that the host uses."""

    values: dict[str, str] = field(default_factory=dict)
    http_port: int | None = None


@dataclass(frozen=True)
class HostConfig:
    """The parts of host.json the local host honours."""

    route_prefix: str = "api"
    max_degree_of_parallelism: int = DEFAULT_BLOB_PARALLELISM
    poison_blob_threshold: int = DEFAULT_POISON_THRESHOLD
    function_timeout: float | None = DEFAULT_FUNCTION_TIMEOUT  # seconds; None = unbounded


def read_local_settings(path: Path) -> LocalSettings:
    """Parse local.settings.json; a missing file is an empty one, as for Core Tools."""
    if not path.is_file():
        return LocalSettings()
    document = _load_json(path)
    if document.get("IsEncrypted") is True:
        raise SettingsError(
            f"{path}: IsEncrypted is true; the local host reads plain values only "
            "(decrypt with `func settings decrypt` where Core Tools is installed)"
        )
    raw_values = document.get("Values") or {}
    if not isinstance(raw_values, dict):
        raise SettingsError(f"{path}: Values must be an object of name/value pairs")
    values: dict[str, str] = {}
    for name, value in raw_values.items():
        if isinstance(value, bool):
            values[name] = "true" if value else "false"
        elif isinstance(value, str | int | float):
            values[name] = str(value)
        elif value is not None:
            raise SettingsError(f"{path}: Values.{name} must be a string")
    host = document.get("Host") or {}
    port = host.get("LocalHttpPort") if isinstance(host, dict) else None
    if port is not None and not isinstance(port, int):
        raise SettingsError(f"{path}: Host.LocalHttpPort must be a number")
    return LocalSettings(values=values, http_port=port)


def apply_values(values: Mapping[str, str]) -> dict[str, str]:
    """Put values into os.environ unless already set; return what was set (to undo later)."""
    applied: dict[str, str] = {}
    for name, value in values.items():
        if name in os.environ:
            # Core Tools says the same; the value is not logged (it may be a secret).
            logger.info("Skipping '%s' from local settings: already set in the environment", name)
            continue
        os.environ[name] = value
        applied[name] = value
    return applied


def unapply_values(applied: Mapping[str, str]) -> None:
    """Remove what ``apply_values`` set, unless someone changed it since."""
    for name, value in applied.items():
        if os.environ.get(name) == value:
            del os.environ[name]


def read_host_json(path: Path) -> HostConfig:
    """Parse host.json; a missing file means the platform defaults."""
    if not path.is_file():
        return HostConfig()
    document = _load_json(path)
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


def _load_json(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as exc:
        raise SettingsError(f"{path}: cannot be read as JSON ({exc})") from None
    if not isinstance(document, dict):
        raise SettingsError(f"{path}: must hold a JSON object")
    return document


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
