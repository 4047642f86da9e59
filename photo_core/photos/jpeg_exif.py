"""The two facts photo-sync needs from an EXIF block: orientation and whether GPS is present.

Phones store photos sideways and set EXIF orientation; Microsoft 365 clients ignore it, so a
photo that looks upright on the phone shows up rotated unless we apply it. GPS is read only
to tell HR what the metadata strip removed. Everything else in EXIF is ignored.

EXIF comes from cameras, phones and editors of every quality, so this parser trusts nothing:
every offset is checked against the buffer, only IFD0 is read, and any inconsistency gives
"unknown" (None / False) instead of an error: a broken EXIF block is dropped by the strip
anyway and must never cost HR a photo.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["EXIF_HEADER", "ExifSummary", "read_exif_summary"]

EXIF_HEADER = b"Exif\x00\x00"
_TAG_ORIENTATION = 0x0112
_TAG_GPS_IFD = 0x8825
_TYPE_SHORT = 3
_MAX_ENTRIES = 512


@dataclass(frozen=True, slots=True)
class ExifSummary:
    """``orientation`` is 1..8 when IFD0 holds a valid tag 0x0112, else None."""

    orientation: int | None
    has_gps: bool


_UNKNOWN = ExifSummary(orientation=None, has_gps=False)


def read_exif_summary(app1_payload: bytes) -> ExifSummary:
    """Summarise an APP1 payload that starts with ``Exif\\0\\0`` (either TIFF byte order)."""
    tiff = app1_payload[len(EXIF_HEADER) :]
    order: Literal["little", "big"]
    if tiff[:4] == b"II*\x00":
        order = "little"
    elif tiff[:4] == b"MM\x00*":
        order = "big"
    else:
        return _UNKNOWN
    ifd = int.from_bytes(tiff[4:8], order)
    if ifd < 8 or ifd + 2 > len(tiff):
        return _UNKNOWN
    count = int.from_bytes(tiff[ifd : ifd + 2], order)
    orientation: int | None = None
    has_gps = False
    for index in range(min(count, _MAX_ENTRIES)):
        entry = ifd + 2 + 12 * index
        if entry + 12 > len(tiff):
            break
        tag = int.from_bytes(tiff[entry : entry + 2], order)
        if tag == _TAG_ORIENTATION and orientation is None:
            kind = int.from_bytes(tiff[entry + 2 : entry + 4], order)
            value = int.from_bytes(tiff[entry + 8 : entry + 10], order)
            if kind == _TYPE_SHORT and 1 <= value <= 8:
                orientation = value
        elif tag == _TAG_GPS_IFD:
            has_gps = True
    return ExifSummary(orientation=orientation, has_gps=has_gps)
