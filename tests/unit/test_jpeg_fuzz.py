"""Fuzzing the segment reader: any bytes in, a JpegInfo or InvalidPhoto out, quickly."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from photo_core.domain.errors import InvalidPhoto
from photo_core.photos.jpeg import JpegInfo, read_structure, sniff_format
from photo_core.photos.jpeg_strip import strip_metadata
from tests.cpu import cpu_budget
from tests.photo_codes import HEADER_CODES
from tests.unit.jpeg_corpus import mutated_jpegs

# No Hypothesis deadline (wall time, which a busy machine stretches): _read bounds CPU time.
FUZZ = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def _check_invariants(data: bytes, info: JpegInfo) -> None:
    assert info.width > 0 and info.height > 0
    assert 1 <= info.orientation <= 8
    assert info.components in (1, 3, 4)
    assert 0 < info.scan_offset <= len(data)
    for segment in info.segments:
        assert 0 < segment.offset < segment.end <= len(data)
    if info.eoi_offset is not None:
        assert data[info.eoi_offset : info.eoi_offset + 2] == b"\xff\xd9"
        assert info.trailing_bytes == len(data) - info.eoi_offset - 2
    if info.problem is not None:
        assert info.problem.code in ("truncated", "corrupt_image")


def _read(data: bytes) -> JpegInfo | None:
    try:
        with cpu_budget(0.5, "read_structure"):
            info = read_structure(data)
    except InvalidPhoto as exc:
        code = exc.code
    else:
        _check_invariants(data, info)
        return info
    assert code in HEADER_CODES
    return None


@FUZZ
@given(st.binary(max_size=2048))
def test_sniff_format_answers_for_any_bytes(data: bytes) -> None:
    name = sniff_format(data)
    assert name is None or isinstance(name, str)


@FUZZ
@given(st.binary(max_size=2048))
def test_read_structure_only_raises_invalid_photo_on_arbitrary_bytes(data: bytes) -> None:
    _read(data)


@FUZZ
@given(st.binary(max_size=2048))
def test_read_structure_only_raises_invalid_photo_on_bytes_after_a_jpeg_signature(
    tail: bytes,
) -> None:
    _read(b"\xff\xd8\xff" + tail)


@FUZZ
@given(mutated_jpegs())
def test_read_structure_only_raises_invalid_photo_on_mutated_jpegs(data: bytes) -> None:
    info = _read(data)
    if info is not None and info.eoi_offset is not None and info.problem is None:
        stripped = strip_metadata(data, info)
        _check_invariants(stripped.data, read_structure(stripped.data))


@FUZZ
@given(mutated_jpegs(), st.integers(0, 4096))
def test_a_prefix_reads_like_the_whole_file_up_to_where_it_stops(data: bytes, length: int) -> None:
    whole, prefix = _read(data), _read(data[:length])
    if whole is not None and prefix is not None:
        assert (prefix.width, prefix.height, prefix.orientation) == (
            whole.width,
            whole.height,
            whole.orientation,
        )
