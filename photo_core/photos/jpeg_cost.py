"""What decoding a JPEG will cost, read from its header before a single pixel is decoded.

Why: the pixel count is not the cost. A progressive JPEG is decoded by holding *every*
coefficient of the image until its last scan (libjpeg's whole-image coefficient buffer: 64
coefficients of 2 bytes per 8x8 block of every component, whatever scale it is decoded at),
so a 1 MB progressive CMYK file of 64 megapixels needs 512 MB; and every scan makes the
decoder visit every block it covers, so a 200 KB file of 900 scans of end-of-band runs costs
half a minute of CPU. Both follow from the frame header (components, sampling factors, coding
process) and the scan headers the segment walk has already read, so they are computed here,
from the header, and a file over either limit is refused without being decoded.

The model is for the decode path photo-sync runs (:mod:`photo_core.photos.imaging`): one or two full
decodes (a strict libjpeg-turbo pass, and for CMYK a second one by Pillow), each at a reduced
DCT scale, then colour conversion, resize and a baseline re-encode of at most the output size.
Its constants were fitted on this project's reference machine (2 cores; see
docs/photo-checks.md, "Decode cost") so that it over-estimates every file measured, hostile
and ordinary: memory by 1.1-3.3x what the photo adds to the process, work so that
the default limit stays under 2 s of CPU.

Units: memory in bytes; work in *block decodes*, the work of decoding one 8x8 block once in an
end-of-band run (at most about 14 ns on the reference machine); everything else is weighted
in those.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from photo_core.photos.jpeg import JpegInfo
from photo_core.photos.jpeg_frame import Scan, ceil_div

__all__ = ["Decode", "DecodeCost", "decode_cost"]

COEFFICIENT_BLOCK_BYTES = 64 * 2  # a JCOEF is 16 bits
FIXED_BYTES = 8 * 1024 * 1024  # decoder and Pillow structures, tables, Python objects
# Work weights, in block decodes (see the module docstring and docs/photo-checks.md).
REFINE_BAND_WEIGHT = 1 / 16  # an AC refinement scan loops over its band in every block
PROGRESSIVE_BYTE_WEIGHT = 4  # entropy-coded bytes: Huffman decoding, per byte
SEQUENTIAL_BYTE_WEIGHT = 2
BUFFER_BLOCK_WEIGHT = 5  # allocating and zeroing a block of the coefficient buffer
IDCT_BLOCK_WEIGHT = 1  # inverse DCT of a block at a reduced scale
PIXEL_WEIGHT = 3  # per decoded pixel: upsampling, colour conversion, resize
CMYK_PIXEL_WEIGHT = 6  # the same through Pillow, with the CMYK to RGB conversion
OUTPUT_PIXEL_WEIGHT = 4  # per output pixel: the baseline re-encode (optimised Huffman)
# Bytes per pixel of the images the pipeline holds besides the decoder's own output: the
# Pillow image (4 bytes a pixel for RGB and CMYK), for CMYK two conversion copies.
PILLOW_PIXEL_BYTES = 4
CMYK_COPIES = 2


@dataclass(frozen=True, slots=True)
class Decode:
    """One full decode the pipeline will run: the decoded (scaled) size and the bytes per
    pixel the decoder writes (1 gray, 3 RGB, 4 CMYK); ``pillow`` when Pillow decodes it (the
    image is then Pillow's own, converted from CMYK)."""

    size: tuple[int, int]
    channels: int
    pillow: bool = False


@dataclass(frozen=True, slots=True)
class DecodeCost:
    """Estimated peak working memory (bytes) and decode work (block decodes) of one photo,
    with the figures they are made of, for messages, tests and the bench."""

    memory_bytes: int
    work: int
    coefficient_bytes: int
    block_visits: float
    entropy_bytes: int
    decodes: int


def decode_cost(
    info: JpegInfo, decodes: Sequence[Decode], output: tuple[int, int] | None, input_bytes: int
) -> DecodeCost:
    """The cost of decoding ``info``'s JPEG ``decodes`` times, then (``output`` not None)
    resizing and re-encoding it to ``output``; ``input_bytes`` are the file's bytes held
    meanwhile (the drop, and its metadata-free copy when one is made)."""
    frame = info.frame
    hmax = max(c.h for c in frame.components)
    vmax = max(c.v for c in frame.components)
    mcu_cols = ceil_div(frame.width, 8 * hmax)
    mcu_rows = ceil_div(frame.height, 8 * vmax)
    # Each component's block grid padded to whole MCUs, as libjpeg allocates it.
    buffer_blocks = sum(mcu_cols * c.h * mcu_rows * c.v for c in frame.components)
    visits = sum(_visits(info, scan) for scan in info.scan_headers)
    entropy = sum(s.end - s.offset for s in info.segments if s.kind == "SOS")
    # A single-scan sequential JPEG is decoded as it streams in, a few MCU rows at a time; any
    # other (progressive, or sequential with one scan per component) fills libjpeg's
    # whole-image coefficient buffer first and only then produces pixels.
    whole = frame.progressive or len(info.scan_headers) > 1
    mcu_blocks = sum(c.h * c.v for c in frame.components)
    held = buffer_blocks if whole else 4 * mcu_cols * mcu_blocks
    coefficient_bytes = held * COEFFICIENT_BLOCK_BYTES
    byte_weight = PROGRESSIVE_BYTE_WEIGHT if frame.progressive else SEQUENTIAL_BYTE_WEIGHT
    per_decode = (visits + entropy * byte_weight + buffer_blocks * IDCT_BLOCK_WEIGHT
                  + (buffer_blocks * BUFFER_BLOCK_WEIGHT if whole else 0))
    work = 0.0
    pixel_bytes = 0
    for decode in decodes:
        pixels = decode.size[0] * decode.size[1]
        work += per_decode + pixels * (CMYK_PIXEL_WEIGHT if decode.pillow else PIXEL_WEIGHT)
        kept = pixels * (decode.channels + PILLOW_PIXEL_BYTES)
        if decode.pillow:
            kept += pixels * PILLOW_PIXEL_BYTES * CMYK_COPIES
        pixel_bytes = max(pixel_bytes, kept if output is not None else pixels * decode.channels)
    if output is not None and decodes:
        decoded = max(decodes, key=lambda d: d.size[0] * d.size[1]).size
        out_pixels = output[0] * output[1]
        work += out_pixels * OUTPUT_PIXEL_WEIGHT
        # Lanczos resize: an intermediate of output width x decoded height, then the output;
        # the encoder's whole-image coefficient buffer for optimised Huffman tables (3
        # full-resolution components at worst) and the encoded bytes.
        pixel_bytes += (max(output[0], output[1]) * max(decoded) * PILLOW_PIXEL_BYTES
                        + out_pixels * (PILLOW_PIXEL_BYTES + 3 * 2 + 1))
    memory = FIXED_BYTES + input_bytes + coefficient_bytes + pixel_bytes
    return DecodeCost(memory_bytes=int(memory), work=int(work),
                      coefficient_bytes=coefficient_bytes, block_visits=visits,
                      entropy_bytes=entropy, decodes=len(decodes))


def _visits(info: JpegInfo, scan: Scan) -> float:
    """Block visits of one scan: every block it covers once; an AC refinement scan also loops
    over its band in every block (zero coefficients included), weighted per coefficient."""
    blocks = info.frame.scan_blocks(scan)
    if scan.ss > 0 and scan.ah > 0:
        return blocks * (1 + (scan.se - scan.ss + 1) * REFINE_BAND_WEIGHT)
    return float(blocks)
