"""Test photos built in memory with Pillow and byte surgery: no binary files in the repository.

Every builder returns ``bytes`` and is deterministic. Photos are smooth drawings (gradients and
coloured blocks), not noise, so they stay small and their colours can be asserted; the few
noisy ones exist to be big. Surgery helpers here deliberately do not use photo_core's reader,
so tests never check the reader with itself.
"""

from __future__ import annotations

import base64
import io
import random
import struct
from functools import cache
from typing import Any

from hypothesis import strategies as st
from PIL import Image, ImageCms, ImageDraw

SOI, EOI = b"\xff\xd8", b"\xff\xd9"

RED, GREEN, BLUE, WHITE = (230, 20, 20), (20, 200, 40), (20, 40, 220), (250, 250, 250)


# --- images ---------------------------------------------------------------------------------


def drawing(size: tuple[int, int] = (320, 240), mode: str = "RGB") -> Image.Image:
    """A smooth gradient with four coloured corner blocks: red top-left, green top-right,
    blue bottom-left, white bottom-right. Orientation and colour tests read the corners."""
    width, height = size
    image = Image.linear_gradient("L").resize(size).convert("RGB")
    draw = ImageDraw.Draw(image)
    qw, qh = max(1, width // 4), max(1, height // 4)
    draw.rectangle((0, 0, qw, qh), fill=RED)
    draw.rectangle((width - qw - 1, 0, width - 1, qh), fill=GREEN)
    draw.rectangle((0, height - qh - 1, qw, height - 1), fill=BLUE)
    draw.rectangle((width - qw - 1, height - qh - 1, width - 1, height - 1), fill=WHITE)
    return image.convert(mode) if mode != "RGB" else image


def encode(image: Image.Image, **options: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", **{"quality": 92, **options})
    return out.getvalue()


def baseline(size: tuple[int, int] = (320, 240), **options: Any) -> bytes:
    return encode(drawing(size), **options)


def progressive(size: tuple[int, int] = (320, 240)) -> bytes:
    return encode(drawing(size), progressive=True)


def grayscale(size: tuple[int, int] = (320, 240)) -> bytes:
    return encode(drawing(size, "L"))


def with_restarts(size: tuple[int, int] = (320, 240), progressive: bool = False) -> bytes:
    """Restart marker every MCU row: lets the reader count intervals (truncation evidence)."""
    return encode(drawing(size), restart_marker_rows=1, progressive=progressive)


def cmyk(
    colour: tuple[int, int, int, int] = (0, 255, 255, 0),
    size: tuple[int, int] = (96, 64),
    **options: Any,
) -> bytes:
    """Adobe-style CMYK (Pillow writes inverted data and an Adobe APP14 marker, transform 0).
    Default colour: pure magenta + yellow, which is red."""
    return encode(Image.new("CMYK", size, colour), **options)


def cmyk_without_adobe(colour: tuple[int, int, int, int] = (0, 255, 255, 0)) -> bytes:
    """Plain (non-inverted) CMYK with no Adobe marker, as some non-Adobe tools write it."""
    inverted = tuple(255 - c for c in colour)
    return remove_segments(cmyk(inverted), 0xEE)  # type: ignore[arg-type]


def ycck(colour: tuple[int, int, int, int] = (0, 255, 255, 0)) -> bytes:
    """Adobe YCCK: CMY stored as YCbCr of (C, M, Y) taken as RGB, plus K (Adobe transform 2).

    Pillow cannot write YCCK, so: encode a CMYK image whose first three planes hold inverted
    Y, Cb, Cr (Pillow stores CMYK inverted, so they land on disk as Y, Cb, Cr), then flip the
    Adobe transform flag to 2. libjpeg converts back and Pillow yields about ``colour``."""
    c, m, y, k = colour
    ycc = Image.new("RGB", (1, 1), (c, m, y)).convert("YCbCr").getpixel((0, 0))
    assert isinstance(ycc, tuple)
    planes = (255 - ycc[0], 255 - ycc[1], 255 - ycc[2], k)
    data = bytearray(cmyk(planes, subsampling=0))
    data[data.index(b"Adobe") + 11] = 2  # APP14 payload byte 11: colour transform
    return bytes(data)


def exif(
    orientation: int | None = None,
    *,
    gps: bool = False,
    little_endian: bool = False,
) -> Image.Exif:
    tags = Image.Exif()
    if little_endian:
        tags.endian = "<"
    tags[0x010F] = "PhoneMaker"
    if orientation is not None:
        tags[0x0112] = orientation
    if gps:
        gps_ifd = tags.get_ifd(0x8825)
        gps_ifd[1] = "N"
        gps_ifd[2] = (52.0, 22.0, 1.5)
    return tags


def oriented(
    orientation: int, *, little_endian: bool = False, upright: tuple[int, int] = (240, 160)
) -> bytes:
    """A photo stored the way a camera would for ``orientation``: applying the orientation
    to the stored pixels gives :func:`drawing` of size ``upright``."""
    inverse = {
        1: None,
        2: Image.Transpose.FLIP_LEFT_RIGHT,
        3: Image.Transpose.ROTATE_180,
        4: Image.Transpose.FLIP_TOP_BOTTOM,
        5: Image.Transpose.TRANSPOSE,
        6: Image.Transpose.ROTATE_90,
        7: Image.Transpose.TRANSVERSE,
        8: Image.Transpose.ROTATE_270,
    }[orientation]
    image = drawing(upright)
    stored = image.transpose(inverse) if inverse is not None else image
    return encode(stored, exif=exif(orientation, little_endian=little_endian))


def srgb_icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


@cache
def _s15(value: float) -> bytes:
    return struct.pack(">i", round(value * 65536))


def _srgb_to_lab(r: float, g: float, b: float) -> tuple[float, float, float]:
    """sRGB (0..1) to CIE Lab under D50, the ICC profile connection space."""

    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    def f(t: float) -> float:
        return t ** (1 / 3) if t > 216 / 24389 else (24389 / 27 * t + 16) / 116

    r, g, b = linear(r), linear(g), linear(b)
    x = (0.4360747 * r + 0.3850649 * g + 0.1430804 * b) / 0.9642  # Bradford-adapted to D50
    y = 0.2225045 * r + 0.7168786 * g + 0.0606169 * b
    z = (0.0139322 * r + 0.0971045 * g + 0.7141733 * b) / 0.8249
    return 116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))


@cache
def cmyk_icc() -> bytes:
    """A minimal ICC v2 CMYK output profile: A2B0 is a 2-point-per-axis CLUT whose corners
    hold the naive CMYK colours in Lab. Interpolating in Lab makes mid-tones differ from the
    naive formula (50% cyan comes out lighter), which shows whether the profile was used."""
    clut = b""
    for c in (0, 1):
        for m in (0, 1):
            for y in (0, 1):
                for k in (0, 1):
                    lab = _srgb_to_lab((1 - c) * (1 - k), (1 - m) * (1 - k), (1 - y) * (1 - k))
                    clut += struct.pack(
                        ">HHH",
                        round(lab[0] * 65280 / 100),
                        round((lab[1] + 128) * 256),
                        round((lab[2] + 128) * 256),
                    )
    identity = struct.pack(">HH", 0, 65535)
    matrix = b"".join(_s15(v) for v in (1, 0, 0, 0, 1, 0, 0, 0, 1))
    lut = b"mft2" + bytes(4) + bytes((4, 3, 2, 0)) + matrix + struct.pack(">HH", 2, 2)
    lut += identity * 4 + clut + identity * 3
    white = b"XYZ " + bytes(4) + _s15(0.9642) + _s15(1.0) + _s15(0.8249)
    text = b"test CMYK\x00"
    desc = b"desc" + bytes(4) + struct.pack(">I", len(text)) + text + bytes(78)
    tags = [(b"A2B0", lut), (b"wtpt", white), (b"desc", desc)]
    start = 128 + 4 + 12 * len(tags)
    table, body = struct.pack(">I", len(tags)), b""
    for signature, data in tags:
        body += bytes(-(start + len(body)) % 4)
        table += signature + struct.pack(">II", start + len(body), len(data))
        body += data
    header = struct.pack(">I", start + len(body)) + bytes(4) + struct.pack(">I", 0x02100000)
    header += b"prtrCMYKLab " + bytes(12) + b"acsp" + bytes(28)
    header += _s15(0.9642) + _s15(1.0) + _s15(0.8249) + bytes(48)
    assert len(header) == 128
    return header + table + body


def fake_icc(size: int = 150_000) -> bytes:
    """Bytes Pillow embeds as an ICC profile without parsing: big enough for 3 APP2 chunks."""
    return srgb_icc() + random.Random(7).randbytes(size)


def iptc_payload() -> bytes:
    record = b"\x1c\x02\x05" + struct.pack(">H", 9) + b"Jane Doe!"
    block = b"8BIM" + struct.pack(">H", 0x0404) + b"\x00\x00" + struct.pack(">I", len(record))
    return b"Photoshop 3.0\x00" + block + record


def with_everything() -> bytes:
    """EXIF with GPS, XMP, ICC, comment, IPTC and an APP12 block: all but ICC must go."""
    data = encode(
        drawing(),
        exif=exif(1, gps=True),
        xmp=b"<x:xmpmeta>Jane</x:xmpmeta>",
        comment=b"<script>alert(1)</script>",
        icc_profile=srgb_icc(),
    )
    data = insert_segment(data, 0xED, iptc_payload())
    return insert_segment(data, 0xEC, b"Ducky\x00\x01\x00\x04\x00\x00\x00\x50")


def noisy(size: tuple[int, int], quality: int = 95) -> bytes:
    image = Image.effect_noise(size, 80).convert("RGB")
    return encode(image, quality=quality)


@cache
def huge_valid() -> bytes:
    """4000x3000 camera-like JPEG over 4 MB (noise compresses badly)."""
    data = noisy((4000, 3000), quality=95)
    assert len(data) > 4 * 1024 * 1024
    return data


# --- wrong formats --------------------------------------------------------------------------


def other_format(fmt: str, **options: Any) -> bytes:
    out = io.BytesIO()
    drawing((64, 48)).save(out, fmt, **options)
    return out.getvalue()


HEIC = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64)
HEIF = b"\x00\x00\x00\x14ftypmif1\x00\x00\x00\x00mif1" + bytes(64)
AVIF_HEADER = b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf" + bytes(64)
PDF = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n%%EOF\n"
HTML = b"<!DOCTYPE html>\n<html><head><title>403 Forbidden</title></head></html>\n"


def base64_jpeg() -> bytes:
    return base64.b64encode(baseline((64, 48)))


# --- byte surgery ---------------------------------------------------------------------------


def header_segments(data: bytes) -> list[tuple[int, int, int]]:
    """(marker, offset, end) of each header segment up to and including the first SOS."""
    found, pos = [], 2
    while pos + 4 <= len(data):
        marker = data[pos + 1]
        end = pos + 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
        found.append((marker, pos, end))
        if marker == 0xDA:
            break
        pos = end
    return found


def offset_of(data: bytes, marker: int) -> int:
    """Offset of the first header segment with ``marker``."""
    return next(off for m, off, _ in header_segments(data) if m == marker)


def scan_data_start(data: bytes) -> int:
    return next(end for m, _, end in header_segments(data) if m == 0xDA)


def insert_segment(data: bytes, marker: int, payload: bytes) -> bytes:
    """Insert a segment right after SOI and any JFIF APP0."""
    first = header_segments(data)[0]
    at = first[2] if first[0] == 0xE0 else 2
    segment = bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload
    return data[:at] + segment + data[at:]


def remove_segments(data: bytes, marker: int) -> bytes:
    out = bytearray(data)
    for m, start, end in reversed(header_segments(data)):
        if m == marker:
            del out[start:end]
    return bytes(out)


def duplicate_segment(data: bytes, marker: int) -> bytes:
    """Repeat the first ``marker`` segment right after itself."""
    _, start, end = next(seg for seg in header_segments(data) if seg[0] == marker)
    return data[:end] + data[start:end] + data[end:]


def set_size(data: bytes, width: int, height: int) -> bytes:
    """Patch the frame header's dimensions (for bombs and zero sizes)."""
    sof = next(off for m, off, _ in header_segments(data) if m in (0xC0, 0xC1, 0xC2))
    out = bytearray(data)
    out[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(out)


def set_sof_byte(data: bytes, index: int, value: int) -> bytes:
    """Patch byte ``index`` of the SOF payload (0 = precision, 5 = component count)."""
    sof = next(off for m, off, _ in header_segments(data) if m in (0xC0, 0xC1, 0xC2))
    out = bytearray(data)
    out[sof + 4 + index] = value
    return bytes(out)


def set_marker(data: bytes, old: int, new: int) -> bytes:
    at = offset_of(data, old)
    return data[: at + 1] + bytes((new,)) + data[at + 2 :]


def bomb(garbage: bool = False) -> bytes:
    """A small JPEG whose header claims 60000x60000; optionally garbage after the header."""
    data = set_size(baseline((64, 48)), 60000, 60000)
    if garbage:
        start = scan_data_start(data)
        noise = random.Random(3).randbytes(4000)
        data = data[:start] + noise
    return data


def corrupt_huffman_table() -> bytes:
    """First DHT claims 200 codes of length 2: impossible (only 3 fit), libjpeg says bogus."""
    data = bytearray(baseline((64, 48)))
    dht = offset_of(bytes(data), 0xC4)
    data[dht + 5 + 1] = 200  # counts[1] = codes of length 2
    return bytes(data)


def marker_in_scan() -> bytes:
    """A reserved marker byte pair written into the middle of the scan data."""
    data = bytearray(baseline())
    middle = (scan_data_start(bytes(data)) + len(data)) // 2
    data[middle : middle + 2] = b"\xff\x05"
    return bytes(data)


def restarts_out_of_order() -> bytes:
    data = bytearray(with_restarts())
    start = scan_data_start(bytes(data))
    first = data.index(b"\xff\xd0", start)
    data[first + 1] = 0xD3
    return bytes(data)


def undefined_quant_table() -> bytes:
    """The frame's first component points at quantisation table 3, never defined: the header
    walk accepts it, libjpeg refuses to decode ("quantization table 0x03 was not defined")."""
    sof = offset_of(baseline(), 0xC0)
    data = bytearray(baseline())
    data[sof + 4 + 6 + 2] = 3  # component 1: Tq
    return bytes(data)


def cut(data: bytes, at: int | float) -> bytes:
    """The first ``at`` bytes, or that fraction of the file."""
    return data[: int(len(data) * at) if isinstance(at, float) else at]


def cut_scan_and_patch_eoi(data: bytes, fraction: float = 0.5) -> bytes:
    """Cut inside the scan data and append EOI, as a careless repair tool would."""
    start = scan_data_start(data)
    return data[: start + int((len(data) - start) * fraction)] + EOI


def mutate(data: bytes, seed: int, flips: int = 4) -> bytes:
    rng = random.Random(seed)
    out = bytearray(data)
    for _ in range(flips):
        out[rng.randrange(len(out))] = rng.getrandbits(8)
    return bytes(out)


def pixels(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        return image.tobytes()


# --- fuzzing --------------------------------------------------------------------------------


@cache
def fuzz_seeds() -> tuple[bytes, ...]:
    """Small valid JPEGs of every structure the mutations start from."""
    return (
        baseline((64, 48)),
        progressive((64, 48)),
        grayscale((40, 40)),
        with_restarts((64, 48)),
        with_restarts((64, 48), progressive=True),
        cmyk(size=(32, 32)),
        encode(drawing((48, 32)), exif=exif(6, gps=True), comment=b"hi", icc_profile=srgb_icc()),
    )


@st.composite
def mutated_jpegs(draw: st.DrawFn) -> bytes:
    """A small valid JPEG with a few flips, inserts, deletes, markers or a cut; positions
    favour the header, where the parsing is."""
    data = bytearray(draw(st.sampled_from(fuzz_seeds())))
    edits = draw(
        st.lists(
            st.tuples(
                st.sampled_from(["set", "insert", "delete", "cut", "marker"]),
                st.one_of(st.integers(0, 700), st.integers(0, 1 << 16)),
                st.integers(0, 255),
            ),
            min_size=1,
            max_size=6,
        )
    )
    for kind, where, byte in edits:
        at = where % max(1, len(data))
        if kind == "set" and data:
            data[at] = byte
        elif kind == "insert":
            data.insert(at, byte)
        elif kind == "delete" and data:
            del data[at]
        elif kind == "cut":
            del data[at:]
        elif kind == "marker":
            data[at : at + 2] = bytes((0xFF, byte))
    return bytes(data)
