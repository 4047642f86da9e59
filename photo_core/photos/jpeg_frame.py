"""The fixed parts of a JPEG: segments, the frame header, scan headers and coding tables.

Each parser validates what libjpeg would refuse (or only warn about: photo-sync treats its
warnings as errors) and raises ``InvalidPhoto`` naming the segment and its offset. Shared by
the header walk (:mod:`photo_core.photos.jpeg`) and the image-data walk
(:mod:`photo_core.photos.jpeg_scan`).
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass

from photo_core.domain.errors import InvalidPhoto

# Marker codes both walks act on (the byte after 0xFF).
SOI, EOI, SOS, DQT, DHT, DRI, COM = 0xD8, 0xD9, 0xDA, 0xDB, 0xC4, 0xDD, 0xFE
_PROGRESSIVE = frozenset({0xC2})
_NOT_FF = re.compile(rb"[^\xff]")
_KRAFT_WEIGHTS = tuple(1 << (16 - bits) for bits in range(1, 17))


@dataclass(frozen=True, slots=True)
class Segment:
    """One marker segment: ``data[offset:end]`` is the whole segment including its marker.

    For SOS, ``end`` runs to the end of the entropy-coded data that follows the header, so
    copying the segment copies the compressed scan byte-for-byte. ``kind`` names the content:
    "SOF", "DQT", "DHT", "DRI", "SOS", "COM", "JFIF", "EXIF", "XMP", "ICC", "IPTC", "Adobe",
    "MPF", "JFXX", "APPn" (n = 0..15) or "other".
    """

    marker: int
    offset: int
    end: int
    kind: str


@dataclass(frozen=True, slots=True)
class Problem:
    """A defect in the image data: ``code`` is ``truncated`` or ``corrupt_image``."""

    code: str
    message: str


@dataclass(frozen=True, slots=True)
class Component:
    ident: int
    h: int
    v: int


@dataclass(frozen=True, slots=True)
class Frame:
    """The frame header (SOFn): size, precision and the components with their sampling."""

    marker: int
    precision: int
    width: int
    height: int
    components: tuple[Component, ...]

    @classmethod
    def parse(cls, marker: int, payload: bytes, offset: int) -> Frame:
        if len(payload) < 6:
            raise corrupt_header(f"frame header (SOF) at byte {offset} is too short")
        precision, count = payload[0], payload[5]
        height = int.from_bytes(payload[1:3], "big")
        width = int.from_bytes(payload[3:5], "big")
        if count == 0 or len(payload) != 6 + 3 * count:
            raise corrupt_header(f"frame header (SOF) at byte {offset} is malformed")
        if count not in (1, 3, 4):
            raise InvalidPhoto(
                f"this JPEG has {count} colour components; only grayscale (1), colour (3) and "
                "CMYK (4) JPEGs are supported",
                code="unsupported_jpeg",
            )
        if precision not in (8, 12):
            raise InvalidPhoto(
                f"this JPEG uses {precision}-bit samples; save it as a standard 8-bit JPEG",
                code="unsupported_jpeg",
            )
        components: list[Component] = []
        for i in range(count):
            ident, sampling, table = payload[6 + 3 * i : 9 + 3 * i]
            h, v = sampling >> 4, sampling & 0x0F
            if not (1 <= h <= 4 and 1 <= v <= 4) or table > 3:
                raise corrupt_header(f"frame header (SOF) at byte {offset} is invalid")
            if any(c.ident == ident for c in components):
                raise corrupt_header(f"frame header at byte {offset} repeats component {ident}")
            components.append(Component(ident, h, v))
        if width == 0 or height == 0:
            raise InvalidPhoto(
                f"the JPEG header declares a {width}x{height} image; a side of 0 pixels is not "
                "an image (height 0 would need a DNL marker, which is not supported)",
                code="zero_dimension",
            )
        return cls(marker, precision, width, height, tuple(components))

    @property
    def progressive(self) -> bool:
        return self.marker in _PROGRESSIVE

    def mcus(self, scan: Scan) -> int:
        """Minimum coded units in ``scan``: interleaved scans use the frame's MCU grid, a
        single-component scan one 8x8 block of that component's (subsampled) plane."""
        hmax = max(c.h for c in self.components)
        vmax = max(c.v for c in self.components)
        if len(scan.components) > 1:
            return ceil_div(self.width, 8 * hmax) * ceil_div(self.height, 8 * vmax)
        comp = self.components[scan.components[0]]
        cols = ceil_div(ceil_div(self.width * comp.h, hmax), 8)
        rows = ceil_div(ceil_div(self.height * comp.v, vmax), 8)
        return cols * rows

    def scan_blocks(self, scan: Scan) -> int:
        """8x8 blocks coded in ``scan``: every MCU's blocks of its components when it is
        interleaved, the component's own block grid when it has one component (T.81 A.2)."""
        if len(scan.components) == 1:
            return self.mcus(scan)
        return self.mcus(scan) * sum(self.components[i].h * self.components[i].v
                                     for i in scan.components)


@dataclass(frozen=True, slots=True)
class Scan:
    """One scan header (SOS): frame component indexes, spectral band and approximation."""

    components: tuple[int, ...]
    ss: int
    se: int
    ah: int
    al: int


def parse_scan_header(payload: bytes, frame: Frame, offset: int) -> Scan:
    """Validate a scan header against its frame the way libjpeg does (errors and warnings)."""
    count = payload[0] if payload else 0
    if not 1 <= count <= 4 or len(payload) != 4 + 2 * count:
        raise corrupt_header(f"scan header (SOS) at byte {offset} is malformed")
    idents = [c.ident for c in frame.components]
    indexes: list[int] = []
    for i in range(count):
        ident, tables = payload[1 + 2 * i], payload[2 + 2 * i]
        if (
            ident not in idents
            or idents.index(ident) in indexes
            or tables >> 4 > 3
            or (tables & 0x0F > 3)
        ):
            raise corrupt_header(f"scan header (SOS) at byte {offset} is invalid")
        indexes.append(idents.index(ident))
    ss, se, approx = payload[1 + 2 * count : 4 + 2 * count]
    scan = Scan(tuple(indexes), ss, se, approx >> 4, approx & 0x0F)
    blocks = sum(frame.components[i].h * frame.components[i].v for i in indexes)
    if count > 1 and blocks > 10:
        raise corrupt_header(f"scan at byte {offset} has more than 10 blocks per MCU")
    if frame.progressive:
        bad = (
            ss > se
            or se > 63
            or (ss == 0 and se != 0)
            or (ss > 0 and count != 1)
            or scan.al > 13
            or (scan.ah != 0 and scan.al != scan.ah - 1)
        )
    else:
        bad = (ss, se, scan.ah, scan.al) != (0, 63, 0, 0)
    if bad:
        raise corrupt_header(f"scan at byte {offset} has an invalid spectral selection")
    return scan


def check_dqt(payload: bytes, offset: int) -> None:
    pos = 0
    while pos < len(payload):
        precision, table = payload[pos] >> 4, payload[pos] & 0x0F
        size = 64 * (precision + 1)
        if precision > 1 or table > 3 or pos + 1 + size > len(payload):
            raise corrupt_header(f"quantisation table (DQT) at byte {offset} is malformed")
        if not _all_steps_positive(payload[pos + 1 : pos + 1 + size], precision):
            # A zero step is invalid (ITU T.81 B.2.4.1) and decodes to a flat grey picture.
            raise corrupt_header(f"quantisation table (DQT) at byte {offset} has a zero step")
        pos += 1 + size


def check_dht(payload: bytes, offset: int) -> None:
    """Reject tables libjpeg refuses ("bogus Huffman table"): bad ids, over-full codes."""
    pos = 0
    while pos < len(payload):
        table_class, table = payload[pos] >> 4, payload[pos] & 0x0F
        counts = payload[pos + 1 : pos + 17]
        total = sum(counts)
        symbols = payload[pos + 17 : pos + 17 + total]
        if table_class > 1 or table > 3 or len(counts) < 16 or len(symbols) < total:
            raise corrupt_header(f"Huffman table (DHT) at byte {offset} is malformed")
        if total == 0:
            # No codes at all: nothing can be decoded with it (and max() below needs symbols).
            raise corrupt_header(f"Huffman table (DHT) at byte {offset} defines no codes")
        if total > 256 or not _codes_fit(counts) or (table_class == 0 and max(symbols) > 15):
            raise corrupt_header(f"Huffman table (DHT) at byte {offset} is invalid")
        pos += 17 + total


def _all_steps_positive(table: bytes, precision: int) -> bool:
    if precision == 0:
        return 0 not in table
    return all(table[i] or table[i + 1] for i in range(0, len(table), 2))


def _codes_fit(counts: bytes) -> bool:
    """Canonical codes of these lengths fit, leaving the all-ones code unused (jdhuff.c).

    jdhuff.c checks, length by length, that the codes so far stay under 2^length; those
    partial sums only grow, so it comes down to the last one, the Kraft sum: counts weighted
    2^(16 - length) stay under 2^16."""
    kraft: int = sum(map(operator.mul, counts, _KRAFT_WEIGHTS))
    return kraft < 1 << 16


def skip_fill(data: bytes, pos: int) -> int | None:
    """Given a 0xFF at ``pos``, the offset of the last 0xFF of its run (the one a marker code
    follows), or None when the bytes end inside the run."""
    hit = _NOT_FF.search(data, pos + 1)
    return None if hit is None else hit.start() - 1


def corrupt_header(what: str) -> InvalidPhoto:
    return InvalidPhoto(f"the JPEG header is corrupt: {what}", code="corrupt_header")


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)
