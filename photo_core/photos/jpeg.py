"""Read a JPEG's structure from its marker segments, without decoding a pixel and without Pillow.

Why a reader of our own: photo-sync must decide *before* decoding whether a file is worth
decoding (a header that declares 60000x60000 must be refused without allocating 10 GB), must
say exactly what is wrong in words HR can act on, and must be able to strip metadata without
touching the compressed image data. All of that needs the segment layout, which decoders hide.

Bounds: every length is checked against the bytes that remain, every loop advances, nothing is
read past the buffer, and the only exception that leaves this module is ``InvalidPhoto``. The
reader works on a prefix of the file too (say the first 64 KiB): header facts come out the
same, ``eoi_offset`` is None, and "the bytes ended before the frame header" is reported with
its own code, ``truncated_header``, so a caller can fetch more and ask again.
"""

from __future__ import annotations

from dataclasses import dataclass

from photo_core.domain.errors import InvalidPhoto
from photo_core.photos.jpeg_exif import EXIF_HEADER, read_exif_summary
from photo_core.photos.jpeg_frame import (
    COM,
    DHT,
    DQT,
    DRI,
    EOI,
    SOI,
    SOS,
    Frame,
    Problem,
    Scan,
    Segment,
    check_dht,
    check_dqt,
    corrupt_header,
    parse_scan_header,
    skip_fill,
)
from photo_core.photos.jpeg_scan import MAX_SEGMENTS, ScanWalk, walk_scans
from photo_core.photos.jpeg_sniff import describe_format, sniff_format

__all__ = ["JpegInfo", "Problem", "Segment", "read_structure", "sniff_format"]

# SOFn marker -> coding process. Only the first three are decodable by the pipeline.
_PROCESSES: dict[int, str] = {
    0xC0: "baseline",
    0xC1: "extended",
    0xC2: "progressive",
    0xC3: "lossless",
    0xC5: "hierarchical",
    0xC6: "hierarchical",
    0xC7: "hierarchical",
    0xC9: "arithmetic",
    0xCA: "arithmetic",
    0xCB: "arithmetic",
    0xCD: "arithmetic",
    0xCE: "arithmetic",
    0xCF: "arithmetic",
    0xF7: "JPEG-LS",
}
_SUPPORTED_PROCESSES = frozenset({"baseline", "extended", "progressive"})
# Marker segments a valid header may carry that we only step over.
_SKIPPED = frozenset({0xCC, 0xDE, 0xDF, *range(0xF0, 0xFE)}) - {0xF7}

# APPn marker -> (payload prefix, segment kind); first match wins, no match is "APPn".
_APP_KINDS: dict[int, tuple[tuple[bytes, str], ...]] = {
    0xE0: ((b"JFIF\x00", "JFIF"), (b"JFXX\x00", "JFXX")),
    0xE1: (
        (EXIF_HEADER, "EXIF"),
        (b"Exif\x00", "EXIF"),
        (b"http://ns.adobe.com/xap/1.0/\x00", "XMP"),
        (b"http://ns.adobe.com/xmp/extension/\x00", "XMP"),
    ),
    0xE2: ((b"ICC_PROFILE\x00", "ICC"), (b"MPF\x00", "MPF")),
    0xED: ((b"Photoshop 3.0\x00", "IPTC"),),
    0xEE: ((b"Adobe", "Adobe"),),
}


@dataclass(frozen=True, slots=True)
class JpegInfo:
    """What the markers say about a JPEG. Dimensions are as stored (before EXIF orientation).

    ``colour_space`` follows libjpeg's rules: "gray", "ycbcr", "rgb", "cmyk" or "ycck".
    ``orientation`` is 1..8 (1 when absent or unreadable). ``eoi_offset`` is None when the
    bytes end before the end-of-image marker (a prefix, or a cut-short file); then
    ``trailing_bytes`` is 0. ``scans_complete`` says whether the scans seen cover every
    component fully (for progressive: every coefficient down to full precision).

    ``problem`` is a defect found in the image data after the header (code ``truncated`` or
    ``corrupt_image``); the walk stops there. It is reported, not raised, so the caller can
    judge the header first (a bomb is a bomb even if the data after its header is garbage).
    ``segments`` lists the marker segments in file order (SOI and EOI excluded).
    ``frame`` is the frame header (components with their sampling factors) and
    ``scan_headers`` the header of each complete scan, in file order, paired with the SOS
    segments: what decoding will cost is read from them (:mod:`photo_core.photos.jpeg_cost`).
    """

    width: int
    height: int
    components: int
    colour_space: str
    precision: int
    process: str
    orientation: int
    has_jfif: bool
    adobe_transform: int | None
    icc_chunks: int
    has_exif: bool
    has_gps: bool
    has_xmp: bool
    has_iptc: bool
    has_comment: bool
    other_app: tuple[str, ...]
    restart_interval: int
    scan_offset: int
    scans: int
    scans_complete: bool
    eoi_offset: int | None
    trailing_bytes: int
    segments: tuple[Segment, ...]
    problem: Problem | None
    frame: Frame
    scan_headers: tuple[Scan, ...]

    @property
    def eoi_present(self) -> bool:
        return self.eoi_offset is not None

    @property
    def has_icc(self) -> bool:
        return self.icc_chunks > 0

    @property
    def pixels(self) -> int:
        return self.width * self.height

    @property
    def oriented_size(self) -> tuple[int, int]:
        """(width, height) once EXIF orientation is applied: 5..8 swap the sides."""
        if self.orientation >= 5:
            return self.height, self.width
        return self.width, self.height


def read_structure(data: bytes) -> JpegInfo:
    """Walk the markers of ``data`` (a whole JPEG or a prefix of one) and describe it.

    Raises ``InvalidPhoto`` with codes: empty_file, not_jpeg, truncated_header, corrupt_header,
    no_frame_header, zero_dimension, unsupported_jpeg. Defects in the image data after the
    header do not raise: they are in ``JpegInfo.problem``.
    """
    if not data:
        raise InvalidPhoto("the file is empty (0 bytes)", code="empty_file")
    if not data.startswith(b"\xff\xd8"):
        found = sniff_format(data)
        if found is not None:
            raise InvalidPhoto(describe_format(found), code="not_jpeg")
        raise InvalidPhoto(
            "this is not a JPEG: it does not start with the JPEG signature FF D8 "
            f"(it starts {data[:4].hex(' ')})",
            code="not_jpeg",
        )
    header = _Header(data)
    frame, scan, sos_offset, sos_end = header.read()
    walk = walk_scans(data, frame, scan, sos_offset, sos_end, header.restart_interval)
    return header.info(frame, sos_end, walk)


class _Header:
    """Mutable state of one header walk (SOI up to the first SOS); used once, then dropped."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.segments: list[Segment] = []
        self.restart_interval = 0
        self.orientation: int | None = None
        self.has_gps = False
        self.adobe_transform: int | None = None
        self.kinds: list[str] = []

    def read(self) -> tuple[Frame, Scan, int, int]:
        """Return the frame, the first scan and the offsets of its SOS marker and its data."""
        data, pos, frame = self.data, 2, None
        while True:
            marker, offset, pos = self._next_marker(pos)
            if marker == SOS:
                if frame is None:
                    raise _no_frame("image data (SOS) starts before any frame header")
                end = self._segment_end(offset, pos)
                scan = parse_scan_header(data[pos + 2 : end], frame, offset)
                return frame, scan, offset, end
            if marker == EOI:
                if frame is None:
                    raise _no_frame("the file ends (EOI marker) before any frame header")
                raise InvalidPhoto(
                    f"the JPEG ends (EOI marker at byte {offset}) before any image data",
                    code="corrupt_header",
                )
            if marker == SOI or 0xD0 <= marker <= 0xD7 or marker == 0x01:
                raise corrupt_header(f"unexpected marker FF {marker:02X} at byte {offset}")
            end = self._segment_end(offset, pos)
            payload = data[pos + 2 : end]
            kind = self._segment(marker, payload, offset)
            if kind == "SOF":
                if frame is not None:
                    raise corrupt_header(f"a second frame header (SOF) at byte {offset}")
                frame = Frame.parse(marker, payload, offset)
            self.segments.append(Segment(marker, offset, end, kind))
            if len(self.segments) > MAX_SEGMENTS:
                raise corrupt_header(f"more than {MAX_SEGMENTS} marker segments")
            pos = end

    def _next_marker(self, pos: int) -> tuple[int, int, int]:
        """Return (marker, offset of its 0xFF, offset after it), skipping 0xFF fill bytes."""
        data = self.data
        # The common case, FF and a marker code with no fill bytes, needs no search.
        if not (pos + 1 < len(data) and data[pos] == 0xFF and data[pos + 1] != 0xFF):
            if pos >= len(data):
                raise _truncated_header(pos)
            if data[pos] != 0xFF:
                raise corrupt_header(
                    f"expected a marker at byte {pos} but found 0x{data[pos]:02X}"
                )
            found = skip_fill(data, pos)
            if found is None:
                raise _truncated_header(len(data))
            pos = found
        marker = data[pos + 1]
        if marker == 0x00 or 0x02 <= marker <= 0xBF:
            raise corrupt_header(f"invalid marker FF {marker:02X} at byte {pos}")
        return marker, pos, pos + 2

    def _segment_end(self, offset: int, pos: int) -> int:
        """Offset just past a length-prefixed segment whose length field sits at ``pos``."""
        if pos + 2 > len(self.data):
            raise _truncated_header(len(self.data))
        length = int.from_bytes(self.data[pos : pos + 2], "big")
        if length < 2:
            raise corrupt_header(
                f"segment FF {self.data[offset + 1]:02X} at byte {offset} declares "
                f"an impossible length {length}"
            )
        if pos + length > len(self.data):
            raise _truncated_header(len(self.data))
        return pos + length

    def _segment(self, marker: int, payload: bytes, offset: int) -> str:
        """Validate and record one header segment; return its kind."""
        if marker in _PROCESSES:
            process = _PROCESSES[marker]
            if process not in _SUPPORTED_PROCESSES:
                raise InvalidPhoto(
                    f"this JPEG uses the {process} coding process (marker FF {marker:02X}), "
                    "which most photo tools and Microsoft 365 cannot display; save it as a "
                    "standard (baseline) JPEG",
                    code="unsupported_jpeg",
                )
            return "SOF"
        if marker == DQT:
            check_dqt(payload, offset)
            return "DQT"
        if marker == DHT:
            check_dht(payload, offset)
            return "DHT"
        if marker == DRI:
            if len(payload) != 2:
                raise corrupt_header(f"restart interval segment at byte {offset} is malformed")
            self.restart_interval = int.from_bytes(payload, "big")
            return "DRI"
        if marker == COM:
            self.kinds.append("COM")
            return "COM"
        if 0xE0 <= marker <= 0xEF:
            kind = self._app(marker, payload)
            self.kinds.append(kind)
            return kind
        if marker == 0xDC:
            raise corrupt_header(f"number-of-lines (DNL) marker at byte {offset} in the header")
        if marker in _SKIPPED:
            return "other"
        raise corrupt_header(f"unexpected marker FF {marker:02X} at byte {offset}")

    def _app(self, marker: int, payload: bytes) -> str:
        kind = next(
            (k for prefix, k in _APP_KINDS.get(marker, ()) if payload.startswith(prefix)),
            f"APP{marker - 0xE0}",
        )
        if kind == "EXIF" and "EXIF" not in self.kinds:
            summary = read_exif_summary(payload)
            self.orientation, self.has_gps = summary.orientation, summary.has_gps
        elif kind == "JFIF" and len(payload) < 14:
            kind = "APP0"  # libjpeg ignores a JFIF marker this short, and so do we
        elif kind == "Adobe":
            if len(payload) < 12:
                kind = "APP14"
            elif self.adobe_transform is None:
                self.adobe_transform = payload[11]
        return kind

    def info(self, frame: Frame, scan_offset: int, walk: ScanWalk) -> JpegInfo:
        kinds = self.kinds
        known = {"JFIF", "EXIF", "XMP", "ICC", "IPTC", "Adobe", "COM"}
        other = tuple(dict.fromkeys(k for k in kinds if k not in known))
        return JpegInfo(
            width=frame.width,
            height=frame.height,
            components=len(frame.components),
            colour_space=_colour_space(frame, "JFIF" in kinds, self.adobe_transform),
            precision=frame.precision,
            process=_PROCESSES[frame.marker],
            orientation=self.orientation or 1,
            has_jfif="JFIF" in kinds,
            adobe_transform=self.adobe_transform,
            icc_chunks=kinds.count("ICC"),
            has_exif="EXIF" in kinds,
            has_gps=self.has_gps,
            has_xmp="XMP" in kinds,
            has_iptc="IPTC" in kinds,
            has_comment="COM" in kinds,
            other_app=other,
            restart_interval=self.restart_interval,
            scan_offset=scan_offset,
            scans=walk.scans,
            scans_complete=walk.complete,
            eoi_offset=walk.eoi_offset,
            trailing_bytes=0 if walk.eoi_offset is None else len(self.data) - walk.eoi_offset - 2,
            segments=(*self.segments, *walk.segments),
            problem=walk.problem,
            frame=frame,
            scan_headers=walk.headers,
        )


def _colour_space(frame: Frame, jfif: bool, adobe_transform: int | None) -> str:
    """How libjpeg (and so Pillow) will interpret the components; mirrors jdapimin.c."""
    count = len(frame.components)
    if count == 1:
        return "gray"
    if count == 4:
        return "ycck" if adobe_transform not in (None, 0) else "cmyk"
    if jfif:
        return "ycbcr"
    if adobe_transform is not None:
        return "rgb" if adobe_transform == 0 else "ycbcr"
    ids = tuple(c.ident for c in frame.components)
    return "rgb" if ids == (82, 71, 66) else "ycbcr"


def _no_frame(what: str) -> InvalidPhoto:
    return InvalidPhoto(f"not a usable JPEG: {what}", code="no_frame_header")


def _truncated_header(at: int) -> InvalidPhoto:
    return InvalidPhoto(
        f"the file ends at byte {at}, inside the JPEG header (before the image data starts); "
        "it was probably cut short while copying or uploading",
        code="truncated_header",
    )
