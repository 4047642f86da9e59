"""Files that are cheap to send and expensive to decode, and ordinary exports to set them against.

The hostile ones are written by hand, block by block, because the point is their *structure*
(how many scans, which components, what sampling), not their pixels: every coefficient is 0, so
a DC scan is one bit per block and an AC scan is a handful of end-of-band runs (``EOBRUN`` up to
32767 blocks per symbol). A decoder still visits every block of every scan, and a progressive
decoder still holds every coefficient of the image until the last scan: that is the cost. The
files are complete and valid (libjpeg-turbo decodes them in strict mode to flat grey), built in
milliseconds, and a few hundred kilobytes even at 64 megapixels.

Used by the adversarial catalogue, the unit tests of the cost model and ``bench.worst_input``.
Nothing here imports photo_core: the tests never check the reader with itself.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
from PIL import Image

SOI, EOI = b"\xff\xd8", b"\xff\xd9"
SOF2, DHT, DQT, SOS, APP14 = 0xC2, 0xC4, 0xDB, 0xDA, 0xEE
# Sampling (h, v) per component for the layouts used here.
SAMPLING = {
    "gray": ((1, 1),),
    "420": ((2, 2), (1, 1), (1, 1)),
    "444": ((1, 1), (1, 1), (1, 1)),
    "cmyk": ((1, 1), (1, 1), (1, 1), (1, 1)),
}
_MAX_EOBRUN = 32767


@dataclass(frozen=True)
class ScanSpec:
    """One scan: frame component indexes, spectral band ss..se, successive approximation."""

    components: tuple[int, ...]
    ss: int
    se: int
    ah: int
    al: int


def simple_progression(components: int) -> tuple[ScanSpec, ...]:
    """libjpeg's ``jpeg_simple_progression`` (what Pillow's ``progressive=True`` writes): 10
    scans for YCbCr, 2 + 4 per component otherwise (18 for CMYK)."""
    every = tuple(range(components))
    if components == 3:
        return (
            ScanSpec(every, 0, 0, 0, 1), ScanSpec((0,), 1, 5, 0, 2), ScanSpec((2,), 1, 63, 0, 1),
            ScanSpec((1,), 1, 63, 0, 1), ScanSpec((0,), 6, 63, 0, 2),
            ScanSpec((0,), 1, 63, 2, 1), ScanSpec(every, 0, 0, 1, 0),
            ScanSpec((2,), 1, 63, 1, 0), ScanSpec((1,), 1, 63, 1, 0),
            ScanSpec((0,), 1, 63, 1, 0),
        )
    return (
        ScanSpec(every, 0, 0, 0, 1),
        *(ScanSpec((c,), 1, 5, 0, 2) for c in every),
        *(ScanSpec((c,), 6, 63, 0, 2) for c in every),
        *(ScanSpec((c,), 1, 63, 2, 1) for c in every),
        ScanSpec(every, 0, 0, 1, 0),
        *(ScanSpec((c,), 1, 63, 1, 0) for c in every),
    )


def _twenty_scans() -> tuple[ScanSpec, ...]:
    bands = {0: ((1, 2), (3, 5), (6, 9), (10, 63)), 1: ((1, 2), (3, 9), (10, 63)),
             2: ((1, 2), (3, 63))}
    first = [ScanSpec((c,), ss, se, 0, 1) for c, spans in bands.items() for ss, se in spans]
    refine = [ScanSpec((c,), ss, se, 1, 0) for c, spans in bands.items() for ss, se in spans]
    return (ScanSpec((0, 1, 2), 0, 0, 0, 1), *first, ScanSpec((0, 1, 2), 0, 0, 1, 0), *refine)


# A 20-scan YCbCr script of the kind scan optimisers (jpegtran -optimize scans, mozjpeg)
# write: narrow low-frequency bands first, each sent in two successive-approximation steps.
TWENTY_SCANS = _twenty_scans()


def smallest_band_scans(components: int, total: int) -> tuple[ScanSpec, ...]:
    """``total`` scans (at least 1 + 63 x components): a DC scan, then single-coefficient AC
    scans, the first coefficients of component 0 split into successive-approximation steps
    until the count is reached. The many-scan hostile files."""
    every = tuple(range(components))
    plain = 1 + 63 * components
    if not plain <= total <= plain + 63 * 13 * components:
        raise ValueError(f"{total} scans cannot be laid out over {components} component(s)")
    extra = total - plain
    scans = [ScanSpec(every, 0, 0, 0, 0)]
    for c in every:
        for k in range(1, 64):
            steps = min(13, extra)
            extra -= steps
            scans.append(ScanSpec((c,), k, k, 0, steps))
            scans.extend(ScanSpec((c,), k, k, al + 1, al) for al in range(steps - 1, -1, -1))
    return tuple(scans)


def flat_progressive(width: int, height: int, layout: str,
                     scans: Sequence[ScanSpec] | None = None) -> bytes:
    """A complete progressive JPEG of flat grey (every coefficient 0) with this sampling
    ``layout`` (a key of SAMPLING) and scan script (default: libjpeg's simple progression)."""
    sampling = SAMPLING[layout]
    script = tuple(scans) if scans is not None else simple_progression(len(sampling))
    frame = struct.pack(">BHHB", 8, height, width, len(sampling)) + b"".join(
        bytes((i + 1, h << 4 | v, 0)) for i, (h, v) in enumerate(sampling))
    dc_table = b"\x00" + bytes((1,)) + bytes(15) + b"\x00"  # one 1-bit code: DC size 0
    # AC: EOB0..EOB14 (0x00, 0x10 .. 0xE0), fifteen 4-bit codes (1111 stays unused).
    ac_table = b"\x10" + bytes((0, 0, 0, 15)) + bytes(12) + bytes(range(0, 0xF0, 0x10))
    parts = [SOI]
    if layout == "cmyk":  # Adobe APP14, transform 0: plain CMYK, as Photoshop writes it
        parts.append(_segment(APP14, b"Adobe" + struct.pack(">HHHB", 100, 0, 0, 0)))
    parts += [_segment(DQT, b"\x00" + b"\x01" * 64), _segment(SOF2, frame),
              _segment(DHT, dc_table + ac_table)]
    for scan in script:
        header = bytes((len(scan.components),)) + b"".join(
            bytes((c + 1, 0x00)) for c in scan.components)
        header += bytes((scan.ss, scan.se, scan.ah << 4 | scan.al))
        parts += [_segment(SOS, header), _scan_data(width, height, sampling, scan)]
    parts.append(EOI)
    return b"".join(parts)


def _scan_data(width: int, height: int, sampling: tuple[tuple[int, int], ...],
               scan: ScanSpec) -> bytes:
    blocks = _blocks_in_scan(width, height, sampling, scan.components)
    if scan.ss == 0:  # DC: one 0 bit per block, first pass (size 0) or refinement (bit 0)
        return _pad(bytes(blocks // 8), blocks % 8, 0)
    bits = _Bits()
    left = blocks
    while left:
        run = min(left, _MAX_EOBRUN)
        size = run.bit_length() - 1
        bits.put(size, 4)  # the code of EOB<size> is its index among the 4-bit codes
        bits.put(run - (1 << size), size)
        left -= run
    return bits.flush()


def _blocks_in_scan(width: int, height: int, sampling: tuple[tuple[int, int], ...],
                    components: tuple[int, ...]) -> int:
    """Blocks coded in a scan: the MCU grid for an interleaved scan, the component's own block
    grid (no MCU padding) for a scan of one component (ITU T.81 A.2)."""
    hmax = max(h for h, _ in sampling)
    vmax = max(v for _, v in sampling)
    if len(components) > 1:
        mcus = _ceil(width, 8 * hmax) * _ceil(height, 8 * vmax)
        return mcus * sum(sampling[c][0] * sampling[c][1] for c in components)
    h, v = sampling[components[0]]
    return _ceil(_ceil(width * h, hmax), 8) * _ceil(_ceil(height * v, vmax), 8)


class _Bits:
    def __init__(self) -> None:
        self.value = 0
        self.count = 0

    def put(self, value: int, count: int) -> None:
        self.value = self.value << count | value
        self.count += count

    def flush(self) -> bytes:
        whole, rest = divmod(self.count, 8)
        data = (self.value >> rest).to_bytes(whole, "big") if whole else b""
        return _pad(data, rest, self.value & ((1 << rest) - 1))


def _pad(data: bytes, rest: int, tail: int) -> bytes:
    """Stuff 0xFF bytes and pad the last partial byte with 1 bits (T.81 F.1.2.3)."""
    if rest:
        data += bytes(((tail << (8 - rest)) | ((1 << (8 - rest)) - 1),))
    return data.replace(b"\xff", b"\xff\x00")


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


# --- the hostile files of issue #12 ------------------------------------------------------------


def cmyk_progressive_8000x7999() -> bytes:
    """8000x7999 progressive CMYK, 4 full-resolution components (Pillow's 18-scan script):
    under the 64-megapixel cap, 512 MB of coefficients."""
    return flat_progressive(8000, 7999, "cmyk")


def ycc444_progressive_8000x7999() -> bytes:
    """8000x7999 progressive YCbCr without chroma subsampling (4:4:4), 10 scans: 384 MB of
    coefficients."""
    return flat_progressive(8000, 7999, "444")


def eob_flood(width: int = 8000, height: int = 8000, layout: str = "gray",
              scans: int = 883) -> bytes:
    """A few hundred kilobytes with ``scans`` scans of end-of-band runs over every block: each
    scan costs the decoder a visit of every block of its component (about 30 ns each)."""
    return flat_progressive(width, height, layout,
                            smallest_band_scans(len(SAMPLING[layout]), scans))


# --- ordinary exports ---------------------------------------------------------------------------


def photo_pixels(size: tuple[int, int], seed: int = 12, noise: float = 6.0) -> Image.Image:
    """Camera-like content (smooth gradients, mid-frequency structure, sensor noise), so the
    entropy-coded data is as dense as a real photo's."""
    width, height = size
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    x /= width
    y /= height
    channels = []
    for _ in range(3):
        phase = rng.uniform(0, 6.28, 3).astype(np.float32)
        channels.append(110 + 60 * np.sin(2.2 * x + phase[0]) * np.cos(1.7 * y + phase[1])
                        + 25 * np.sin(23 * x + 17 * y + phase[2]))
    image = np.stack(channels, axis=-1)
    image += rng.normal(0, noise, size=(height, width, 1)).astype(np.float32)
    return Image.fromarray(np.clip(image, 0, 255).astype(np.uint8))


@cache
def camera_export(size: tuple[int, int] = (4000, 3000), *, progressive: bool = True,
                  subsampling: int = 2, optimize: bool = False, quality: int = 92) -> bytes:
    """What a camera or photo tool writes: Pillow's libjpeg-turbo, photo-like content."""
    out = io.BytesIO()
    photo_pixels(size).save(out, "JPEG", quality=quality, subsampling=subsampling,
                            progressive=progressive, optimize=optimize)
    return out.getvalue()


def flat_sequential(width: int, height: int, layout: str, *, interleaved: bool = True) -> bytes:
    """A complete baseline (SOF0) JPEG of flat grey: one interleaved scan, or one scan per
    component (then libjpeg buffers the whole image, as for a progressive file)."""
    sampling = SAMPLING[layout]
    frame = struct.pack(">BHHB", 8, height, width, len(sampling)) + b"".join(
        bytes((i + 1, h << 4 | v, 0)) for i, (h, v) in enumerate(sampling))
    dc_table = b"\x00" + bytes((1,)) + bytes(15) + b"\x00"  # DC size 0: code 0
    ac_table = b"\x10" + bytes((1,)) + bytes(15) + b"\x00"  # EOB: code 0
    every = tuple(range(len(sampling)))
    groups = [every] if interleaved else [(c,) for c in every]
    parts = [SOI, _segment(DQT, b"\x00" + b"\x01" * 64), _segment(0xC0, frame),
             _segment(DHT, dc_table + ac_table)]
    for group in groups:
        header = bytes((len(group),)) + b"".join(bytes((c + 1, 0x00)) for c in group)
        bits = 2 * _blocks_in_scan(width, height, sampling, group)  # DC 0, then EOB: 2 bits
        parts += [_segment(SOS, header + b"\x00\x3f\x00"), _pad(bytes(bits // 8), bits % 8, 0)]
    parts.append(EOI)
    return b"".join(parts)
