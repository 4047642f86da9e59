"""Fuzzing the parsers and the photo pipeline: only the typed rejection escapes, in bounded
CPU time and bounded memory (tracemalloc peak per input).

Budgets, chosen for 2 slow cores: the parsers (sniff_format, read_structure, parse_blob_name)
200 ms of CPU and 10x the input + 1 MB per input; prepare_photo 2 s of CPU per input; a
header-declared bomb is refused without decoding, in a few MB. Examples are derandomized: CI
sees the same inputs.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from photo_core.domain.dialects import Dialect
from photo_core.domain.errors import InvalidPhoto
from photo_core.domain.naming import NameRejection, UserRef, UserRefKind, parse_blob_name
from photo_core.photos import ImagePolicy, imaging_codec, prepare_photo
from photo_core.photos.jpeg import JpegInfo, read_structure, sniff_format
from tests.adversarial.file_catalogue import segment
from tests.adversarial.name_catalogue import RULES, Mode
from tests.adversarial.strategies import (
    NAME_SETTINGS,
    PARSER_CPU_SECONDS,
    PARSER_SETTINGS,
    PREPARE_CPU_SECONDS,
    PREPARE_SETTINGS,
    hostile_names,
    jpeg_like_bytes,
    mutated_jpegs,
)
from tests.adversarial.support import (
    NAME_CODES,
    SNIFFED_FORMATS,
    assert_one_user_segment,
    calls_to,
    measured,
    outcome_of,
    parser_memory_budget,
)
from tests.cpu import cpu_budget
from tests.photo_codes import HEADER_CODES, PHOTO_CODES
from tests.unit import jpeg_corpus as corpus

FUZZ_POLICY = ImagePolicy(min_side=8)  # the seeds are small: let them reach the decoder
POLICY = ImagePolicy()


def _check_info(data: bytes, info: JpegInfo) -> None:
    assert info.width > 0 and info.height > 0
    assert info.components in (1, 3, 4) and 1 <= info.orientation <= 8
    for seg in info.segments:
        assert 0 < seg.offset < seg.end <= len(data)
    if info.eoi_offset is not None:
        assert data[info.eoi_offset : info.eoi_offset + 2] == b"\xff\xd9"
    if info.problem is not None:
        assert info.problem.code in ("truncated", "corrupt_image")


def _read_structure_within_budget(data: bytes, cpu_seconds: float = PARSER_CPU_SECONDS) -> None:
    with measured() as cost:
        result = outcome_of(lambda: read_structure(data))
    assert cost.peak_bytes <= parser_memory_budget(data), cost
    assert cost.cpu_seconds <= cpu_seconds, cost
    if isinstance(result, InvalidPhoto):
        assert result.code in HEADER_CODES, result.code
        assert result.message.isprintable()
    elif isinstance(result, Exception):
        raise AssertionError(f"read_structure let {type(result).__name__} escape") from result
    else:
        _check_info(data, result)


# --- parsers --------------------------------------------------------------------------------


@PARSER_SETTINGS
@given(jpeg_like_bytes())
def test_sniff_format_names_any_bytes_in_bounded_memory(data: bytes) -> None:
    with measured() as cost:
        result = outcome_of(lambda: sniff_format(data))
    assert result is None or result in SNIFFED_FORMATS, result
    assert cost.peak_bytes <= parser_memory_budget(data), cost
    assert cost.cpu_seconds <= PARSER_CPU_SECONDS, cost


@PARSER_SETTINGS
@given(jpeg_like_bytes())
def test_read_structure_only_raises_invalid_photo_on_arbitrary_bytes(data: bytes) -> None:
    _read_structure_within_budget(data)


@PARSER_SETTINGS
@given(mutated_jpegs())
def test_read_structure_only_raises_invalid_photo_on_mutated_jpegs(data: bytes) -> None:
    _read_structure_within_budget(data)


def _sequential_scans(count: int) -> bytes:
    """A baseline photo whose one scan (SOS segment and data) is repeated ``count`` times."""
    data = corpus.baseline((64, 48))
    sos = data.index(b"\xff\xda")
    return data[:sos] + data[sos:-2] * count + b"\xff\xd9"


def _stress_input(name: str) -> bytes:
    photo = corpus.baseline()
    header = photo[: corpus.scan_data_start(photo)]
    restarts = corpus.with_restarts()
    restart_header = restarts[: corpus.scan_data_start(restarts)]
    rst = b"".join(bytes((0xFF, 0xD0 + k % 8)) for k in range(8))
    builders: dict[str, Callable[[], bytes]] = {
        "fill_bytes_5mib": lambda: b"\xff\xd8" + b"\xff" * (5 << 20),
        "stuffed_scan_5mib": lambda: header + b"\xff\x00" * (5 << 19) + b"\xff\xd9",
        "unterminated_scan_5mib": lambda: header + bytes(range(255)) * (5 << 12),
        "restart_flood_1m": lambda: restart_header + b"\x00" + rst * (1 << 17) + b"\xff\xd9",
        "sequential_scans_2000": lambda: _sequential_scans(2000),
        "app_segments_4000": lambda: photo[:2] + segment(0xE4, b"x") * 4000 + photo[2:],
        "comments_20mib": lambda: photo[:2] + segment(0xFE, b"c" * 65533) * 320 + photo[2:],
    }
    return builders[name]()


STRESS = (
    "fill_bytes_5mib",
    "stuffed_scan_5mib",
    "unterminated_scan_5mib",
    "restart_flood_1m",
    "sequential_scans_2000",
    "app_segments_4000",
    "comments_20mib",
)


@pytest.mark.parametrize("name", STRESS)
def test_read_structure_stays_linear_and_small_on_big_hostile_inputs(name: str) -> None:
    data = _stress_input(name)
    # CPU time, not wall time: on a busy machine restart_flood_1m took 3.3 s wall, 0.75 s CPU.
    _read_structure_within_budget(data, cpu_seconds=1.5)


# --- prepare_photo --------------------------------------------------------------------------


def _prepare_only_rejects(data: bytes, policy: ImagePolicy) -> None:
    with cpu_budget(PREPARE_CPU_SECONDS, "prepare_photo"):
        result = outcome_of(lambda: prepare_photo(data, policy))
    if isinstance(result, InvalidPhoto):
        assert result.code in PHOTO_CODES, result.code
        return
    if isinstance(result, Exception):
        raise AssertionError(f"prepare_photo let {type(result).__name__} escape") from result
    info = read_structure(result.data)
    assert (info.width, info.height) == (result.width, result.height)
    assert max(result.width, result.height) <= policy.max_side
    assert min(result.width, result.height) >= 1
    assert len(result.data) <= policy.max_upload_bytes
    assert info.eoi_offset == len(result.data) - 2 and info.problem is None
    assert info.scans_complete and info.orientation == 1
    assert not (info.has_exif or info.has_xmp or info.has_iptc or info.has_comment)


@PREPARE_SETTINGS
@given(jpeg_like_bytes())
def test_prepare_photo_only_raises_invalid_photo_on_arbitrary_bytes(data: bytes) -> None:
    _prepare_only_rejects(data, POLICY)


@PREPARE_SETTINGS
@given(mutated_jpegs())
def test_prepare_photo_only_raises_invalid_photo_on_mutated_jpegs(data: bytes) -> None:
    _prepare_only_rejects(data, FUZZ_POLICY)


@st.composite
def _declared_bombs(draw: st.DrawFn) -> tuple[int, int, bool]:
    width = draw(st.integers(POLICY.max_pixels // 65535 + 1, 65535))
    height = draw(st.integers(POLICY.max_pixels // width + 1, 65535))
    return width, height, draw(st.booleans())


@PREPARE_SETTINGS
@given(_declared_bombs())
def test_any_header_declared_bomb_is_refused_from_the_header_alone(
    bomb: tuple[int, int, bool],
) -> None:
    width, height, garbage = bomb
    assert width * height > POLICY.max_pixels
    data = corpus.set_size(corpus.baseline((64, 48)), width, height)
    if garbage:
        data = data[: corpus.scan_data_start(data)] + bytes(range(256)) * 64
    with calls_to(imaging_codec.decode.__code__) as decodes, measured() as cost:
        result = outcome_of(lambda: prepare_photo(data, POLICY))
    assert isinstance(result, InvalidPhoto) and result.code == "decompression_bomb", result
    assert f"{width}x{height}" in result.message
    assert decodes == [] and cost.peak_bytes < 3 * 1024 * 1024, cost
    assert cost.cpu_seconds <= PREPARE_CPU_SECONDS, cost


# --- blob names -----------------------------------------------------------------------------


@NAME_SETTINGS
@given(hostile_names(), st.sampled_from(sorted(RULES)))
def test_parse_blob_name_answers_any_unicode_with_a_user_or_a_documented_rejection(
    name: str, mode: Mode
) -> None:
    with measured() as cost:
        result = outcome_of(lambda: parse_blob_name(name, RULES[mode]))
    assert cost.peak_bytes <= parser_memory_budget(name), cost
    assert cost.cpu_seconds <= PARSER_CPU_SECONDS, cost
    if isinstance(result, NameRejection):
        assert result.code in NAME_CODES, result.code
        assert result.message and result.message.isprintable(), result.message
        return
    assert isinstance(result, UserRef), f"parse_blob_name let {result!r} escape"
    assert result.value.isascii() and result.value.isprintable()
    if result.kind is UserRefKind.EMPLOYEE_ID:
        assert mode == "employee_id" and len(result.value) <= 16
        return
    for dialect in Dialect:
        assert_one_user_segment(result, dialect)
