"""read_structure describes a JPEG from its markers alone, and names what is wrong with it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from photo_core.domain.errors import InvalidPhoto
from photo_core.photos.jpeg import read_structure
from tests.unit import jpeg_corpus as corpus


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        pytest.param(
            corpus.baseline,
            dict(
                width=320,
                height=240,
                components=3,
                colour_space="ycbcr",
                precision=8,
                process="baseline",
            ),
            id="baseline",
        ),
        pytest.param(
            corpus.progressive, dict(components=3, process="progressive"), id="progressive"
        ),
        pytest.param(corpus.grayscale, dict(components=1, colour_space="gray"), id="grayscale"),
        pytest.param(
            corpus.cmyk, dict(components=4, colour_space="cmyk", adobe_transform=0), id="adobe_cmyk"
        ),
        pytest.param(
            corpus.cmyk_without_adobe,
            dict(colour_space="cmyk", adobe_transform=None),
            id="plain_cmyk",
        ),
        pytest.param(
            corpus.ycck, dict(components=4, colour_space="ycck", adobe_transform=2), id="ycck"
        ),
        pytest.param(
            lambda: corpus.set_marker(corpus.baseline(), 0xC0, 0xC1),
            dict(process="extended"),
            id="extended_sequential",
        ),
        pytest.param(
            lambda: corpus.set_sof_byte(corpus.set_marker(corpus.baseline(), 0xC0, 0xC1), 0, 12),
            dict(precision=12, process="extended"),
            id="twelve_bit",
        ),
        pytest.param(
            lambda: corpus.remove_segments(corpus.baseline(), 0xE0),
            dict(colour_space="ycbcr", has_jfif=False),
            id="no_jfif_ids_123",
        ),
    ],
)
def test_frame_facts_are_read_from_the_header(
    build: Callable[[], bytes], expected: dict[str, object]
) -> None:
    info = read_structure(build())
    assert {key: getattr(info, key) for key in expected} == expected


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("little_endian", [False, True], ids=["big_endian", "little_endian"])
def test_exif_orientation_is_read_in_both_byte_orders(
    orientation: int, little_endian: bool
) -> None:
    info = read_structure(corpus.oriented(orientation, little_endian=little_endian))
    assert info.orientation == orientation
    assert info.oriented_size == (240, 160)


@pytest.mark.parametrize(
    ("payload", "why"),
    [
        (b"Exif\x00\x00II*\x00\xff\xff\xff\x7f", "IFD offset past the end"),
        (b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\xff\xff", "entry count past the end"),
        (b"Exif\x00\x00XX\x00*\x00\x00\x00\x08", "unknown byte order"),
        (
            b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\x00\x01\x01\x12\x00\x03\x00\x00\x00\x01"
            b"\x00\x09\x00\x00",
            "orientation 9",
        ),
        (
            b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\x00\x01\x01\x12\x00\x04\x00\x00\x00\x01"
            b"\x00\x00\x00\x06",
            "orientation stored as LONG",
        ),
        (b"Exif\x00\x00", "no TIFF header"),
    ],
)
def test_broken_exif_means_orientation_1_never_an_error(payload: bytes, why: str) -> None:
    info = read_structure(corpus.insert_segment(corpus.baseline(), 0xE1, payload))
    assert info.orientation == 1, why
    assert info.has_exif


def test_metadata_of_every_kind_is_detected() -> None:
    info = read_structure(corpus.with_everything())
    assert (info.has_exif, info.has_gps, info.has_xmp, info.has_iptc, info.has_comment) == (
        True,
        True,
        True,
        True,
        True,
    )
    assert info.icc_chunks == 1
    assert info.other_app == ("APP12",)


def test_multi_chunk_icc_profile_is_counted() -> None:
    data = corpus.encode(corpus.drawing(), icc_profile=corpus.fake_icc())
    assert read_structure(data).icc_chunks == 3


def test_plain_pillow_jpeg_has_jfif_and_no_metadata() -> None:
    info = read_structure(corpus.baseline())
    assert info.has_jfif
    assert not (
        info.has_exif
        or info.has_xmp
        or info.has_iptc
        or info.has_comment
        or info.has_icc
        or info.other_app
    )


def test_scan_offset_eoi_and_trailing_bytes_are_located() -> None:
    data = corpus.baseline()
    info = read_structure(data + b"PK\x03\x04 appended zip")
    assert info.scan_offset == corpus.scan_data_start(data)
    assert info.eoi_offset == len(data) - 2
    assert info.trailing_bytes == len(b"PK\x03\x04 appended zip")
    assert info.problem is None


@pytest.mark.parametrize(
    "build",
    [
        corpus.baseline,
        corpus.progressive,
        corpus.grayscale,
        corpus.cmyk,
        corpus.with_restarts,
        lambda: corpus.with_restarts(progressive=True),
    ],
    ids=["baseline", "progressive", "grayscale", "cmyk", "restarts", "progressive_restarts"],
)
def test_valid_jpegs_walk_to_eoi_with_complete_scans_and_no_problem(
    build: Callable[[], bytes],
) -> None:
    data = build()
    info = read_structure(data)
    assert (info.eoi_offset, info.trailing_bytes, info.scans_complete, info.problem) == (
        len(data) - 2,
        0,
        True,
        None,
    )
    assert info.scans == sum(1 for s in info.segments if s.kind == "SOS")


def test_segments_cover_the_file_in_order_with_sos_spanning_its_scan_data() -> None:
    data = corpus.progressive()
    info = read_structure(data)
    ends = [2] + [s.end for s in info.segments]
    assert [s.offset for s in info.segments] == ends[:-1]
    assert info.segments[-1].end == info.eoi_offset


# --- rejections -----------------------------------------------------------------------------


def _with_dht_count(counts_index: int, value: int) -> Callable[[], bytes]:
    def build() -> bytes:
        data = bytearray(corpus.baseline((64, 48)))
        dht = corpus.offset_of(bytes(data), 0xC4)
        data[dht + 5 + counts_index] = value
        return bytes(data)

    return build


REJECTIONS = [
    ("empty", lambda: b"", "empty_file"),
    ("soi_only", lambda: b"\xff\xd8", "truncated_header"),
    ("cut_inside_header", lambda: corpus.cut(corpus.baseline(), 100), "truncated_header"),
    ("cut_inside_segment_length", lambda: corpus.cut(corpus.baseline(), 5), "truncated_header"),
    (
        "cut_right_before_sos",
        lambda: corpus.baseline()[: corpus.offset_of(corpus.baseline(), 0xDA)],
        "truncated_header",
    ),
    (
        "junk_between_segments",
        lambda: corpus.baseline()[:20] + b"\x00junk" + corpus.baseline()[20:],
        "corrupt_header",
    ),
    ("segment_length_below_2", lambda: b"\xff\xd8\xff\xe0\x00\x01" + bytes(40), "corrupt_header"),
    ("second_soi", lambda: b"\xff\xd8\xff\xd8" + corpus.baseline()[2:], "corrupt_header"),
    ("eoi_before_frame", lambda: b"\xff\xd8\xff\xd9", "no_frame_header"),
    (
        "scan_before_frame",
        lambda: corpus.remove_segments(corpus.baseline(), 0xC0),
        "no_frame_header",
    ),
    ("zero_width", lambda: corpus.set_size(corpus.baseline(), 0, 240), "zero_dimension"),
    ("zero_height_dnl", lambda: corpus.set_size(corpus.baseline(), 320, 0), "zero_dimension"),
    ("lossless", lambda: corpus.set_marker(corpus.baseline(), 0xC0, 0xC3), "unsupported_jpeg"),
    ("arithmetic", lambda: corpus.set_marker(corpus.baseline(), 0xC0, 0xC9), "unsupported_jpeg"),
    (
        "arithmetic_progressive",
        lambda: corpus.set_marker(corpus.progressive(), 0xC2, 0xCA),
        "unsupported_jpeg",
    ),
    ("hierarchical", lambda: corpus.set_marker(corpus.baseline(), 0xC0, 0xC5), "unsupported_jpeg"),
    ("sixteen_bit", lambda: corpus.set_sof_byte(corpus.baseline(), 0, 16), "unsupported_jpeg"),
    (
        "component_count_mismatch",
        lambda: corpus.set_sof_byte(corpus.baseline(), 5, 2),
        "corrupt_header",
    ),
    ("huffman_table_overfull", corpus.corrupt_huffman_table, "corrupt_header"),
    ("huffman_all_ones_code", _with_dht_count(0, 2), "corrupt_header"),
    (
        "second_frame_header",
        lambda: corpus.duplicate_segment(corpus.baseline(), 0xC0),
        "corrupt_header",
    ),
]


@pytest.mark.parametrize(
    ("build", "code"),
    [pytest.param(build, code, id=case) for case, build, code in REJECTIONS],
)
def test_broken_headers_are_rejected_with_their_reason_code(
    build: Callable[[], bytes], code: str
) -> None:
    with pytest.raises(InvalidPhoto) as caught:
        read_structure(build())
    assert caught.value.code == code
    assert caught.value.message


def test_lossless_jpeg_message_names_the_process() -> None:
    with pytest.raises(InvalidPhoto, match="uses the lossless coding process"):
        read_structure(corpus.set_marker(corpus.baseline(), 0xC0, 0xC3))


PROBLEMS = [
    (
        "cut_scan_with_restarts_and_patched_eoi",
        lambda: corpus.cut_scan_and_patch_eoi(corpus.with_restarts()),
        "truncated",
    ),
    ("reserved_marker_inside_scan", corpus.marker_in_scan, "corrupt_image"),
    ("restart_markers_out_of_order", corpus.restarts_out_of_order, "corrupt_image"),
    (
        "restart_markers_without_interval",
        lambda: corpus.remove_segments(corpus.with_restarts(), 0xDD),
        "corrupt_image",
    ),
]


@pytest.mark.parametrize(
    ("build", "code"),
    [pytest.param(build, code, id=case) for case, build, code in PROBLEMS],
)
def test_damaged_image_data_is_reported_as_a_problem_not_raised(
    build: Callable[[], bytes], code: str
) -> None:
    info = read_structure(build())
    assert info.problem is not None
    assert info.problem.code == code
    assert info.eoi_offset is None


def test_progressive_cut_and_patched_with_eoi_has_incomplete_scans() -> None:
    info = read_structure(corpus.cut_scan_and_patch_eoi(corpus.progressive(), 0.3))
    assert info.eoi_offset is not None
    assert not info.scans_complete


# --- prefixes -------------------------------------------------------------------------------


def test_prefix_with_the_whole_header_gives_the_same_facts_without_eoi() -> None:
    data = corpus.with_everything()
    full = read_structure(data)
    prefix = read_structure(data[: full.scan_offset + 100])
    assert (prefix.width, prefix.height, prefix.has_exif, prefix.orientation) == (
        full.width,
        full.height,
        full.has_exif,
        full.orientation,
    )
    assert prefix.eoi_offset is None
    assert prefix.problem is None


def test_prefix_that_stops_before_the_frame_header_is_truncated_header_not_corrupt() -> None:
    data = corpus.encode(corpus.drawing(), icc_profile=corpus.fake_icc())  # ~150 KB header
    with pytest.raises(InvalidPhoto) as caught:
        read_structure(data[: 64 * 1024])
    assert caught.value.code == "truncated_header"
