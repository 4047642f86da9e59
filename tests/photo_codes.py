"""The reason codes a photo can be refused with: the contract the fuzz tests hold the
JPEG reader and photo preparation to (docs/photo-checks.md)."""

# The codes read_structure itself may raise (its docstring).
HEADER_CODES = frozenset(
    {
        "empty_file",
        "not_jpeg",
        "truncated_header",
        "corrupt_header",
        "no_frame_header",
        "zero_dimension",
        "unsupported_jpeg",
    }
)
# Every reason code an unusable photo may carry (docs/photo-checks.md; photo_core.photos).
PHOTO_CODES = HEADER_CODES | frozenset(
    {
        "truncated",
        "corrupt_image",
        "decompression_bomb",
        "decode_too_much_memory",
        "decode_too_much_work",
        "too_many_pixels",
        "too_small",
        "extreme_aspect_ratio",
        "file_too_large",
        "cannot_fit",
    }
)
