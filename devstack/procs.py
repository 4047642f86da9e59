"""Child processes of the local stack: stopped gracefully within a bound, and never orphaned."""

from __future__ import annotations

import signal
import subprocess
from types import FrameType
from typing import Any


def terminate(process: subprocess.Popen[Any] | None, timeout: float,
              kill_wait: float = 10.0) -> None:
    """SIGTERM (Azurite saves its data, the host finishes running invocations), wait up to
    ``timeout`` seconds, then SIGKILL: a process that hangs cannot hang its parent."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(kill_wait)


def stop_on_sigterm() -> None:
    """Make SIGTERM (``kill``, ``timeout``, a supervisor) unwind like Ctrl-C, for commands that
    start Azurite. Python's default for SIGTERM is to exit at once, skipping ``finally`` and
    ``with`` blocks: Azurite, which runs in a session of its own so that Ctrl-C reaches it only
    through us, would outlive the command and keep its ports. Call it from the main thread."""
    def stop(number: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
