"""The photo itself: decide whether a photo HR dropped can be a profile photo, and make it
upload-ready. Pure: no I/O, no global state.

This is the one entry the rest of photo-sync uses: ``prepare_photo(data, policy)`` returns a
``PreparedPhoto`` or raises ``InvalidPhoto`` (``photo_core.domain.errors``) with a stable reason
code and a message that tells HR what to fix. The JPEG reader (``jpeg*.py``) and the codec work
(``imaging*.py``) behind it are this package's own; nothing outside imports them (the import
contract in pyproject.toml checks it; see docs/architecture.md).
"""

from photo_core.photos.imaging import (
    DEFAULT_MAX_DECODE_MB,
    DEFAULT_MAX_DECODE_MEGABLOCKS,
    Action,
    ImagePolicy,
    PreparedPhoto,
    photo_cost,
    prepare_photo,
)

__all__ = [
    "DEFAULT_MAX_DECODE_MB",
    "DEFAULT_MAX_DECODE_MEGABLOCKS",
    "Action",
    "ImagePolicy",
    "PreparedPhoto",
    "photo_cost",
    "prepare_photo",
]
