"""File sizes as people read them, in the same units in every message photo-sync writes.

An MB here is 1024 x 1024 bytes, the unit of the service's "4 MB" upload limit and of the
25 MB input cap. A size reads as megabytes with one decimal and then its exact bytes, so a
message never rounds a file onto its limit and nobody has to know which megabyte is meant.
"""

from __future__ import annotations

from photo_core.domain.errors import InvalidPhoto

MB = 1024 * 1024


def size_text(n: int) -> str:
    """``31579923`` -> ``"30.1 MB (31,579,923 bytes)"``."""
    return f"{n / MB:.1f} MB ({n:,} bytes)"


def file_too_large(size: int, cap: int) -> InvalidPhoto:
    """The rejection of a file over the input cap, stated with its true size. The drop path
    (the blob's size, before any download), ``python -m photo_core check`` (the file's size,
    before reading it) and the photo checks (bytes already in hand) all say it this way."""
    return InvalidPhoto(
        f"the file is {size_text(size)}, over the {size_text(cap)} limit for photos "
        "(PHOTO_MAX_BLOB_BYTES), so it was not processed; export it smaller",
        code="file_too_large",
    )
