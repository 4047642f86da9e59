"""The one small JPEG builder the tests share: a flat colour at a given size, made in memory."""

from __future__ import annotations

import io

Colour = str | tuple[int, int, int]


def jpeg(color: Colour = "#5577aa", size: tuple[int, int] = (200, 200), quality: int = 90
         ) -> bytes:
    """A baseline RGB JPEG of ``size`` in one ``color`` (a name, ``#rrggbb`` or an RGB tuple);
    different colours give different bytes, so each is a distinct photo."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "JPEG", quality=quality)
    return out.getvalue()
