"""Pillow helpers: decode-check uploads, make demo photos, and render the standard sizes.

The real service decodes what it is sent and serves a fixed ladder of square sizes; clients
depend on both (a bad JPEG is refused; ``/photos`` lists only sizes the photo can fill), so the
emulator does the same with real image work rather than canned bytes.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import Final

from PIL import Image, ImageDraw

STANDARD_SIZES: Final = (48, 64, 96, 120, 240, 360, 432, 504, 648)
# Refuse pixel bombs before decoding: a 4 MB JPEG can claim gigapixel dimensions.
MAX_PIXELS: Final = 40_000_000


class ImageInvalid(ValueError):
    """The bytes are not an image Pillow can fully decode (the message says why)."""


@dataclass(frozen=True)
class ImageInfo:
    content_type: str
    width: int
    height: int


def inspect(data: bytes) -> ImageInfo:
    """Fully decode ``data`` (so truncated files are caught) and report type and dimensions."""
    if not data:
        raise ImageInvalid("the request body is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                width, height = img.size
                if width * height > MAX_PIXELS:
                    raise ImageInvalid(f"the image is too large ({width}x{height} pixels)")
                img.load()
                fmt = img.format or ""
    except ImageInvalid:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError,
            Image.DecompressionBombWarning) as exc:
        raise ImageInvalid(f"the image cannot be decoded ({type(exc).__name__})") from exc
    content_type = Image.MIME.get(fmt, "application/octet-stream")
    return ImageInfo(content_type, width, height)


def available_sizes(width: int, height: int) -> list[int]:
    """Standard square sizes a photo of this shape can fill (its shorter side bounds them)."""
    return [s for s in STANDARD_SIZES if s <= min(width, height)]


def square_jpeg(data: bytes, size: int) -> bytes:
    """Centre-crop to a square and resize to ``size`` pixels, as a JPEG."""
    with Image.open(io.BytesIO(data)) as img:
        rgb = img.convert("RGB")
    side = min(rgb.size)
    left, top = (rgb.width - side) // 2, (rgb.height - side) // 2
    square = rgb.crop((left, top, left + side, top + side))
    resized = square.resize((size, size), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    resized.save(out, format="JPEG", quality=90)
    return out.getvalue()


def demo_jpeg(width: int = 96, height: int = 96, color: str = "#2f6fb0") -> bytes:
    """A small but real JPEG (a coloured head-and-shoulders silhouette), made at startup."""
    img = Image.new("RGB", (width, height), color)
    draw = ImageDraw.Draw(img)
    w, h = width, height
    draw.ellipse((w * 0.32, h * 0.14, w * 0.68, h * 0.52), fill="#f2d6c4")
    draw.ellipse((w * 0.14, h * 0.58, w * 0.86, h * 1.25), fill="#e8e8e8")
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=85)
    return out.getvalue()
