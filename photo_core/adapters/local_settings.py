"""local.settings.json, read the way Azure Functions Core Tools reads it.

Core Tools puts ``Values`` into the process environment before the worker imports the app and
skips any name the environment already has (so a shell ``export`` beats the file, which is what
lets CI and tests override a developer's settings). The local functions host and the
``python -m photo_core --settings`` commands both read the file through this module, so a file
that works for one works for the other: UTF-8 with or without a byte-order mark (Windows editors
write one), booleans and numbers as Core Tools accepts them, and a clear refusal of encrypted
files.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


class SettingsFileError(ValueError):
    """A settings file (local.settings.json, or the host's host.json) cannot be used; the
    message names the file and says why."""


@dataclass(frozen=True)
class LocalSettings:
    """What local.settings.json holds that photo-sync and the local host use."""

    values: dict[str, str] = field(default_factory=dict)
    http_port: int | None = None


def read_local_settings(path: Path) -> LocalSettings:
    """Parse local.settings.json; a missing file is an empty one, as for Core Tools."""
    if not path.is_file():
        return LocalSettings()
    document = load_json_object(path)
    if document.get("IsEncrypted") is True:
        raise SettingsFileError(
            f"{path}: IsEncrypted is true; only plain values can be read "
            "(decrypt with `func settings decrypt` where Core Tools is installed)"
        )
    raw_values = document.get("Values") or {}
    if not isinstance(raw_values, dict):
        raise SettingsFileError(f"{path}: Values must be an object of name/value pairs")
    values: dict[str, str] = {}
    for name, value in raw_values.items():
        if isinstance(value, bool):
            values[name] = "true" if value else "false"
        elif isinstance(value, str | int | float):
            values[name] = str(value)
        elif value is not None:
            raise SettingsFileError(f"{path}: Values.{name} must be a string")
    host = document.get("Host") or {}
    port = host.get("LocalHttpPort") if isinstance(host, dict) else None
    if port is not None and not isinstance(port, int):
        raise SettingsFileError(f"{path}: Host.LocalHttpPort must be a number")
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


def load_json_object(path: Path) -> dict[str, Any]:
    """A JSON file that must hold an object (UTF-8, a byte-order mark allowed)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as exc:
        raise SettingsFileError(f"{path}: cannot be read as JSON ({exc})") from None
    if not isinstance(document, dict):
        raise SettingsFileError(f"{path}: must hold a JSON object")
    return document
