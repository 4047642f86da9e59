"""Deterministic test photos for the benchmarks, made on the fly (nothing is downloaded).

Photo-like content matters: a flat colour compresses to almost nothing and decodes in no time,
which would flatter every decoder. These images mix smooth gradients (sky, skin), mid-frequency
structure (hair, fabric) and sensor-like noise, so a 12 MP frame at camera quality lands in the
4-6 MB range a phone or camera produces, with 4:2:0 chroma subsampling like theirs.

Used from both virtualenvs (.venv for photo-sync, .venv-bench for the baseline): numpy and
Pillow only.
"""

from __future__ import annotations

import io

import numpy as np
import numpy.typing as npt
from PIL import Image

CAMERA_SIZE = (4000, 3000)  # 12 MP, stored landscape; EXIF orientation 6 makes it portrait
GOOD_SIZE = (648, 648)  # the largest standard Microsoft 365 photo size


def _pixels(size: tuple[int, int], seed: int, noise: float) -> npt.NDArray[np.uint8]:
    width, height = size
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    x /= width
    y /= height
    channels: list[npt.NDArray[np.float64]] = []  # float64: the phases are float64 scalars
    for _ in range(3):
        phase = rng.uniform(0, 6.28, 4)
        base = (
            110
            + 60 * np.sin(2.2 * x + phase[0]) * np.cos(1.7 * y + phase[1])
            + 25 * np.sin(23 * x + 17 * y + phase[2])
            + 12 * np.sin(90 * x * (1 + y) + phase[3])
        )
        channels.append(base)
    image: npt.NDArray[np.float64] = np.stack(channels, axis=-1)
    image += rng.normal(0, noise, size=(height, width, 1)).astype(np.float32)  # luma noise
    image += rng.normal(0, noise / 3, size=(height, width, 3)).astype(np.float32)
    return np.clip(image, 0, 255).astype(np.uint8)


def _exif(orientation: int, gps: bool) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "BenchCam"  # Make
    exif[0x0110] = "BC-12"  # Model
    if gps:
        exif[0x8825] = {1: "N", 2: (47.0, 38.0, 12.5), 3: "E", 4: (122.0, 7.0, 54.2)}
    return exif.tobytes()


def camera_jpeg() -> bytes:
    """12 MP camera JPEG, stored landscape with EXIF orientation 6 and GPS, about 5 MB."""
    out = io.BytesIO()
    Image.fromarray(_pixels(CAMERA_SIZE, 12, 8.5)).save(
        out, "JPEG", quality=92, subsampling=2, exif=_exif(6, gps=True)
    )
    return out.getvalue()


def good_jpeg() -> bytes:
    """An already-good 648x648 upright photo (about 150 KB) that still carries EXIF."""
    out = io.BytesIO()
    Image.fromarray(_pixels(GOOD_SIZE, 648, 5.0)).save(
        out, "JPEG", quality=93, subsampling=2, exif=_exif(1, gps=True)
    )
    return out.getvalue()


def drop_jpeg(index: int, size: int = 648) -> bytes:
    """A distinct small upload-ready photo per bulk drop (distinct bytes, so every drop uploads)."""
    rng = np.random.default_rng(index)
    base = _tile(size)
    shift = rng.integers(0, 40, size=3, dtype=np.int16)
    pixels = np.clip(base.astype(np.int16) + shift, 0, 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", quality=90, subsampling=2)
    return out.getvalue()


_TILES: dict[int, npt.NDArray[np.uint8]] = {}


def _tile(size: int) -> npt.NDArray[np.uint8]:
    if size not in _TILES:
        _TILES[size] = _pixels((size, size), 7, 6.0)
    return _TILES[size]


if __name__ == "__main__":
    samples = (("camera", camera_jpeg), ("good", good_jpeg), ("drop", lambda: drop_jpeg(1)))
    for name, make in samples:
        data = make()
        with Image.open(io.BytesIO(data)) as im:
            print(name, im.size, len(data))
