"""The one wait-for helper the integration tests share.

Timeouts here and across the integration tests are sized for a busy machine (both cores taken by
other work, which stretches every wall-clock wait about threefold): a timeout only bounds how long
a failing test hangs, so it costs nothing while the test passes. ``BUSY_MACHINE_TIMEOUT`` is the
default for anything a healthy stack does in a few seconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

BUSY_MACHINE_TIMEOUT = 60.0


def wait_for(probe: Callable[[], T | None], *, timeout: float = BUSY_MACHINE_TIMEOUT,
             interval: float = 0.05,
             what: str = "condition") -> T:
    """Poll ``probe`` until it returns something truthy and return that; fail after
    ``timeout`` seconds naming ``what`` was awaited."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)
