"""Host keys and the host id, generated on first start into the state folder and then reused.

Like the Functions host: a master key (admin level, and accepted wherever a key is), a
``default`` host key (accepted by every function-level function, as on Azure, where
``az functionapp keys list`` shows it under ``functionKeys``), one ``default`` function key per
function, and the system keys Event Grid presents: the
``blobs_extension`` key on the blob webhook and the ``eventgrid_extension`` key on the Event
Grid trigger's webhook. Reusing them across restarts matters because the watcher, scripts
and a developer's notes hold the URLs. The host id names the host's queue and blob receipts in
storage, so a restarted host finds the work its predecessor queued. Nothing here logs a key.
"""

from __future__ import annotations

import hmac
import json
import os
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: The app setting the real host reads its id from.
HOST_ID_SETTING = "AzureFunctionsWebHost__hostid"
_HOST_ID = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$")


def new_key() -> str:
    """A key shaped like the host's (URL-safe, about 56 characters)."""
    return secrets.token_urlsafe(42)


@dataclass
class HostKeys:
    """The keys one host accepts."""

    master_key: str
    blobs_extension_key: str
    eventgrid_extension_key: str
    function_keys: dict[str, str] = field(default_factory=dict)
    host_key: str = ""  # the "default" host key

    def is_master(self, presented: str | None) -> bool:
        return presented is not None and hmac.compare_digest(presented, self.master_key)

    def allows_function(self, function: str, presented: str | None) -> bool:
        """Function level: the function's own key, a host key, or the master key."""
        if presented is None:
            return False
        own = self.function_keys.get(function)
        accepted = [k for k in (own, self.host_key) if k]
        # every comparison runs, so the time taken says nothing of which key came close
        matches = [hmac.compare_digest(presented, key) for key in accepted]
        return self.is_master(presented) or any(matches)

    def allows_blobs_extension(self, presented: str | None) -> bool:
        """The blob webhook takes the ``blobs_extension`` system key (or the master key)."""
        return presented is not None and (
            hmac.compare_digest(presented, self.blobs_extension_key) or self.is_master(presented)
        )

    def allows_eventgrid_extension(self, presented: str | None) -> bool:
        """The Event Grid webhook takes the ``eventgrid_extension`` system key (or the master
        key)."""
        return presented is not None and (
            hmac.compare_digest(presented, self.eventgrid_extension_key)
            or self.is_master(presented)
        )


def load_or_create(
    state_dir: Path, functions: Iterable[str], host_id: str | None = None
) -> tuple[HostKeys, str]:
    """Read ``keys.json`` (creating missing keys and the host id) and return (keys, host id).

    An explicit ``host_id`` (or ``AzureFunctionsWebHost__hostid``, the setting the real host
    reads) wins over the stored one.
    """
    path = state_dir / "keys.json"
    stored: dict[str, Any] = {}
    if path.is_file():
        stored = json.loads(path.read_text(encoding="utf-8"))
    changed = not stored
    master = stored.get("masterKey") or new_key()
    system = dict(stored.get("systemKeys") or {})
    for extension in ("blobs_extension", "eventgrid_extension"):
        if extension not in system:
            system[extension] = new_key()
            changed = True
    host_keys = dict(stored.get("hostKeys") or {})
    if "default" not in host_keys:  # a state folder from before host keys gets one
        host_keys["default"] = new_key()
        changed = True
    function_keys = dict(stored.get("functionKeys") or {})
    for name in functions:
        if name not in function_keys:
            function_keys[name] = {"default": new_key()}
            changed = True
    chosen_id = host_id or os.environ.get(HOST_ID_SETTING) or stored.get("hostId")
    if not chosen_id:
        chosen_id = "local-" + secrets.token_hex(6)
        changed = True
    chosen_id = chosen_id.lower()
    if not _HOST_ID.match(chosen_id):
        raise ValueError(
            f"host id {chosen_id!r} must be 1-32 lowercase letters, digits or inner hyphens"
        )
    if chosen_id != stored.get("hostId"):
        changed = True
    if changed:
        document = {
            "hostId": chosen_id,
            "masterKey": master,
            "systemKeys": system,
            "hostKeys": host_keys,
            "functionKeys": function_keys,
        }
        _write_private(path, json.dumps(document, indent=2, sort_keys=True) + "\n")
    keys = HostKeys(
        master_key=master,
        blobs_extension_key=system["blobs_extension"],
        eventgrid_extension_key=system["eventgrid_extension"],
        function_keys={name: entry["default"] for name, entry in function_keys.items()},
        host_key=host_keys["default"],
    )
    return keys, chosen_id


def _write_private(path: Path, text: str) -> None:
    """Write atomically with owner-only permissions (the file holds keys)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(path.name + ".tmp")
    descriptor = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(temp, path)
