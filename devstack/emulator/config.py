"""Start-up configuration of one emulator instance (what the CLI flags fill in)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from devstack.emulator.limits import FaultSettings

MAX_PHOTO_BYTES: Final = 4 * 1024 * 1024  # Graph's documented upload limit
DEFAULT_STATE_DIR: Final = Path(".devstack/emulator")


@dataclass(frozen=True)
class EmulatorConfig:
    host: str = "127.0.0.1"
    port: int = 0  # 0: pick a free port
    state_dir: Path = DEFAULT_STATE_DIR
    directory_file: Path | None = None  # None: the built-in demo directory
    faults: FaultSettings = field(default_factory=FaultSettings)
    token_lifetime_s: int = 3600
    max_photo_bytes: int = MAX_PHOTO_BYTES
    # Bodies beyond this are not even read: answer 413 and close, so memory stays bounded.
    body_read_cap: int = 64 * 1024 * 1024
