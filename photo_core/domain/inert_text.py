"""Text that came from HR (blob names, and messages that quote them), made safe to show.

A blob name can hold anything: control characters, escape sequences, a right-to-left override
that makes ``gpj.exe`` read as ``exe.jpg``, a thousand characters. Wherever such text is shown
(a terminal, a Teams card, a JSON notice someone else renders) it must show as what it is, not
act, and take a bounded amount of room.
"""

from __future__ import annotations

ELLIPSIS = "…"


def printable(text: str) -> str:
    """``text`` with every character that is not printable (controls, and format characters
    such as bidirectional overrides) written as a visible ``\\xNN`` or ``\\uNNNN`` escape."""
    return "".join(ch if ch.isprintable() else
                   f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}"
                   for ch in text)


def bounded(text: str, limit: int) -> str:
    """``text`` made printable and cut to at most ``limit`` characters. The middle goes, not
    the end: of a long blob name the file name at its end is what HR looks for."""
    shown = printable(text)
    if len(shown) <= limit:
        return shown
    keep = max(0, limit - len(ELLIPSIS))
    head = keep * 2 // 5
    return shown[:head] + ELLIPSIS + shown[len(shown) - (keep - head):]
