"""Remove metadata from a JPEG without re-encoding it: copy the segments a decoder needs.

Why lossless: a photo that needs nothing else (upright, RGB, small enough) should reach
Microsoft 365 exactly as HR exported it, with no generation loss. Why strip at all: EXIF
carries GPS positions, camera serials and thumbnails; XMP and IPTC carry editing history and
names. None of it belongs on a profile picture shown to the whole tenant.

Kept, in their original order: SOI, JFIF APP0 and Adobe APP14 (both steer libjpeg's colour
interpretation, so dropping them could change the decoded pixels), ICC profile chunks (colour
appearance), DQT/DHT/DRI/SOF, and each SOS with its entropy-coded data byte-for-byte; then a
fresh EOI. Dropped: every other APPn (EXIF, XMP, IPTC, MPF, thumbnails, maker notes), COM,
fill bytes between segments and anything after EOI. The decoded pixels are identical.
"""

from __future__ import annotations

from photo_core.domain.errors import InvalidPhoto
from photo_core.photos.jpeg import JpegInfo

__all__ = ["KEPT_KINDS", "Stripped", "strip_metadata"]

KEPT_KINDS = frozenset({"SOF", "DQT", "DHT", "DRI", "SOS", "JFIF", "ICC", "Adobe"})
_LABELS = {
    "EXIF": "EXIF",
    "XMP": "XMP",
    "IPTC": "IPTC",
    "COM": "comment",
    "MPF": "MPF (multi-picture index)",
    "JFXX": "JFIF thumbnail",
    "other": "reserved segments",
}

# What people care about first when told what was removed; the rest keep file order.
_RANK = {"EXIF": 0, "XMP": 1, "IPTC": 2, "comment": 3}


class Stripped:
    """The metadata-free JPEG: ``removed`` names what went, for a human: EXIF (with GPS), XMP,
    IPTC, comment first; ``size`` is the length of ``data``.

    ``data`` is assembled on first use and kept. A photo that is re-encoded never sends these
    bytes: its decoder is given ``source`` (the input up to its EOI marker, a view, not a
    copy), in which libjpeg reads the very same coding segments and skips the dropped ones by
    their lengths (it interprets only JFIF and Adobe markers, which are kept), so a 5 MB camera
    photo is not copied just to be decoded.
    """

    __slots__ = ("_data", "_spans", "removed", "size", "source", "trailing_bytes_removed")

    def __init__(
        self,
        source: memoryview,
        spans: tuple[tuple[int, int], ...],
        removed: tuple[str, ...],
        trailing_bytes_removed: int,
    ) -> None:
        self.source = source
        self.removed = removed
        self.trailing_bytes_removed = trailing_bytes_removed
        self.size = 4 + sum(end - start for start, end in spans)  # with SOI and EOI
        self._spans = spans
        self._data: bytes | None = None

    @property
    def data(self) -> bytes:
        if self._data is None:
            view = self.source
            kept = (view[start:end] for start, end in self._spans)
            self._data = b"".join((b"\xff\xd8", *kept, b"\xff\xd9"))
        return self._data

    def __repr__(self) -> str:
        return f"Stripped(size={self.size}, removed={self.removed!r})"


def strip_metadata(data: bytes, info: JpegInfo) -> Stripped:
    """Return ``data`` without metadata; ``info`` must be ``read_structure(data)``."""
    if info.eoi_offset is None:
        raise InvalidPhoto(
            "the file ends inside the image data (no end-of-image marker); it is cut short",
            code="truncated",
        )
    spans: list[tuple[int, int]] = []
    labels: list[str] = []
    for segment in info.segments:
        if segment.kind in KEPT_KINDS:
            spans.append((segment.offset, segment.end))
            continue
        label = _LABELS.get(segment.kind, segment.kind)
        if label == "EXIF" and info.has_gps:
            label = "EXIF (with GPS)"
        if label not in labels:
            labels.append(label)
    labels.sort(key=lambda label: _RANK.get(label.split(" ")[0], len(_RANK)))  # stable
    source = memoryview(data)[: info.eoi_offset + 2]
    return Stripped(source, tuple(spans), tuple(labels), info.trailing_bytes)
