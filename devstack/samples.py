"""A small sample HR batch, generated on the fly (no binary files in the repository).

Each sample names the outcome the product must reach for it with the emulator's demo directory,
so ``make demo`` can check itself.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Sample:
    blob_name: str
    content: bytes
    expect_status: str
    expect_reason: str | None
    what: str


def _portrait(size: tuple[int, int], color: tuple[int, int, int], *,
              orientation: int = 1, quality: int = 90) -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", size, color)
    draw = ImageDraw.Draw(image)
    w, h = size
    draw.ellipse((w * 0.3, h * 0.15, w * 0.7, h * 0.55), fill=(235, 205, 180))
    draw.rectangle((w * 0.2, h * 0.6, w * 0.8, h), fill=(40, 60, 110))
    out = io.BytesIO()
    exif = Image.Exif()
    if orientation != 1:
        exif[0x0112] = orientation
    image.save(out, "JPEG", quality=quality, exif=exif.tobytes())
    return out.getvalue()


def _large_photo() -> bytes:
    """A camera-sized photo over the 4 MB upload limit (noise does not compress)."""
    from PIL import Image

    w, h = 2400, 1800
    image = Image.frombytes("RGB", (w, h), os.urandom(w * h * 3))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=95)
    return out.getvalue()


def _png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (200, 200), (90, 160, 90)).save(out, "PNG")
    return out.getvalue()


def sample_batch() -> list[Sample]:
    return [
        Sample("adele.vance@contoso.com.jpg", _portrait((600, 600), (70, 110, 160)),
               "uploaded", None, "a good 600x600 photo"),
        Sample("alex.wilber@contoso.com.jpg",
               _portrait((640, 480), (160, 90, 70), orientation=6),
               "uploaded", None, "EXIF orientation 6: rotated upright"),
        Sample("o'brien@contoso.com.jpeg", _portrait((400, 400), (120, 120, 60)),
               "uploaded", None, "a UPN with an apostrophe"),
        Sample("megan.bowen@contoso.com.jpg", _large_photo(),
               "uploaded", None, "over 4 MB: downscaled and re-encoded"),
        Sample("lee.gu@contoso.com.jpg", _png(),
               "rejected", "not_jpeg", "a PNG renamed .jpg"),
        Sample("nobody@contoso.com.jpg", _portrait((300, 300), (60, 60, 60)),
               "rejected", "user_not_found", "no such user in the directory"),
        Sample("lidia.holloway@contoso.com.png", _png(),
               "rejected", "wrong_extension", "not a .jpg/.jpeg name"),
    ]
