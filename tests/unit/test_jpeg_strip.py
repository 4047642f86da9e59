"""strip_metadata removes metadata at the segment level and leaves the pixels untouched."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from photo_core.domain.errors import InvalidPhoto
from photo_core.photos.jpeg import JpegInfo, read_structure
from photo_core.photos.jpeg_strip import strip_metadata
from tests.unit import jpeg_corpus as corpus

CORPUS = [
    ("baseline", corpus.baseline),
    ("progressive", corpus.progressive),
    ("grayscale", corpus.grayscale),
    ("adobe_cmyk", corpus.cmyk),
    ("plain_cmyk", corpus.cmyk_without_adobe),
    ("ycck", corpus.ycck),
    ("restarts", corpus.with_restarts),
    ("progressive_restarts", lambda: corpus.with_restarts(progressive=True)),
    ("every_metadata_kind", corpus.with_everything),
    ("exif_orientation_1", lambda: corpus.oriented(1)),
    ("multi_chunk_icc", lambda: corpus.encode(corpus.drawing(), icc_profile=corpus.fake_icc())),
    ("trailing_zip", lambda: corpus.baseline() + b"PK\x03\x04" + bytes(100)),
    ("second_jpeg_appended", lambda: corpus.baseline() + corpus.baseline((64, 48))),
    ("no_jfif", lambda: corpus.remove_segments(corpus.baseline(), 0xE0)),
]
CASES = [pytest.param(build, id=case) for case, build in CORPUS]


def _strip(data: bytes) -> bytes:
    return strip_metadata(data, read_structure(data)).data


@pytest.mark.parametrize("build", CASES)
def test_stripping_keeps_decoded_pixels_identical(build: Callable[[], bytes]) -> None:
    data = build()
    assert corpus.pixels(_strip(data)) == corpus.pixels(data)


@pytest.mark.parametrize("build", CASES)
def test_stripping_keeps_scan_data_tables_icc_and_adobe_byte_for_byte(
    build: Callable[[], bytes],
) -> None:
    data = build()
    before = read_structure(data)
    after = read_structure(_strip(data))
    kept = ("SOF", "DQT", "DHT", "DRI", "SOS", "JFIF", "ICC", "Adobe")

    def pieces(raw: bytes, info: JpegInfo) -> list[bytes]:
        return [raw[s.offset : s.end] for s in info.segments if s.kind in kept]

    assert pieces(_strip(data), after) == pieces(data, before)
    assert (after.icc_chunks, after.adobe_transform, after.colour_space) == (
        before.icc_chunks,
        before.adobe_transform,
        before.colour_space,
    )


@pytest.mark.parametrize("build", CASES)
def test_stripped_output_has_no_metadata_and_nothing_after_eoi(build: Callable[[], bytes]) -> None:
    out = _strip(build())
    info = read_structure(out)
    assert not (info.has_exif or info.has_xmp or info.has_iptc or info.has_comment)
    assert info.other_app == ()
    assert info.trailing_bytes == 0
    assert out.endswith(b"\xff\xd9")


@pytest.mark.parametrize("build", CASES)
def test_stripping_is_idempotent(build: Callable[[], bytes]) -> None:
    once = _strip(build())
    assert _strip(once) == once


def test_stripping_a_clean_jpeg_returns_it_unchanged() -> None:
    data = corpus.baseline()
    stripped = strip_metadata(data, read_structure(data))
    assert stripped.data == data
    assert stripped.removed == ()
    assert stripped.trailing_bytes_removed == 0


def test_removed_metadata_is_named_for_humans() -> None:
    data = corpus.with_everything()
    stripped = strip_metadata(data, read_structure(data))
    assert stripped.removed == ("EXIF (with GPS)", "XMP", "IPTC", "comment", "APP12")


def test_trailing_bytes_are_counted() -> None:
    data = corpus.baseline() + b"junk after the end"
    assert strip_metadata(data, read_structure(data)).trailing_bytes_removed == 18


def test_a_file_without_eoi_cannot_be_stripped() -> None:
    data = corpus.baseline()[:-2]
    with pytest.raises(InvalidPhoto) as caught:
        strip_metadata(data, read_structure(data))
    assert caught.value.code == "truncated"
