"""The decode-cost model, checked against what the header says: every expected figure below is
computed by hand from the frame (sampling factors, block grids) and the scan script, not
taken from a run of the model."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from photo_core.domain.errors import InvalidPhoto
from photo_core.photos.imaging import ImagePolicy, photo_cost, planned_cost, prepare_photo
from photo_core.photos.jpeg import read_structure
from photo_core.photos.jpeg_cost import REFINE_BAND_WEIGHT, Decode, decode_cost
from tests.adversarial import cost_files as cf

POLICY = ImagePolicy()
BLOCK = 128  # 64 coefficients of 2 bytes
REFINE_63 = 1 + 63 * REFINE_BAND_WEIGHT  # an AC refinement scan over the band 1..63


@pytest.mark.parametrize(("build", "blocks"), [
    # 8000x7999: 1000 x 1000 blocks per full-resolution component (7999 / 8 rounds up)
    pytest.param(lambda: cf.flat_progressive(8000, 7999, "cmyk"), 4 * 1000 * 1000,
                 id="progressive_cmyk_holds_four_full_planes"),
    pytest.param(lambda: cf.flat_progressive(8000, 7999, "444"), 3 * 1000 * 1000,
                 id="progressive_444_holds_three_full_planes"),
    # 4:2:0: MCUs of 16x16, 500 x 500 of them; Y is 1000 x 1000 blocks, Cb and Cr 500 x 500
    pytest.param(lambda: cf.flat_progressive(8000, 7999, "420"), 1000 * 1000 + 2 * 500 * 500,
                 id="progressive_420_holds_a_full_and_two_quarter_planes"),
    # 641x479 in 4:2:0: 41 x 30 MCUs, padded: Y 82 x 60, Cb and Cr 41 x 30
    pytest.param(lambda: cf.flat_progressive(641, 479, "420"), 82 * 60 + 2 * 41 * 30,
                 id="progressive_planes_are_padded_to_whole_mcus"),
    pytest.param(lambda: cf.flat_sequential(8000, 7999, "444", interleaved=False),
                 3 * 1000 * 1000, id="sequential_with_one_scan_per_component_holds_everything"),
    # one interleaved scan streams: 4 MCU rows of 1000 MCUs of 3 blocks
    pytest.param(lambda: cf.flat_sequential(8000, 7999, "444"), 4 * 1000 * 3,
                 id="single_scan_sequential_holds_a_few_mcu_rows"),
])
def test_the_coefficient_buffer_follows_the_sampling_and_the_coding_process(
        build: Callable[[], bytes], blocks: int) -> None:
    info = read_structure(build())
    assert planned_cost(info, None, 0).coefficient_bytes == blocks * BLOCK


def test_every_scan_visits_the_blocks_it_covers_and_refinements_loop_over_their_band() -> None:
    """libjpeg's simple progression for YCbCr at 8000x7999 in 4:2:0: two interleaved DC scans
    of 500 x 500 MCUs of 6 blocks; Y (1000 x 1000 blocks) in two first scans and two
    refinements over 1..63; Cb and Cr (500 x 500) in one first scan and one refinement each."""
    info = read_structure(cf.flat_progressive(8000, 7999, "420"))
    luma, chroma, dc = 1000 * 1000, 500 * 500, 500 * 500 * 6
    expected = 2 * dc + 2 * luma + 2 * luma * REFINE_63 + 2 * (chroma + chroma * REFINE_63)
    assert planned_cost(info, None, 0).block_visits == pytest.approx(expected)


def test_a_many_scan_file_costs_a_visit_of_every_block_per_scan() -> None:
    """883 scans over 8000x8000 gray (1000 x 1000 blocks): a DC scan, 63 single-coefficient
    first scans and 819 single-coefficient refinements."""
    info = read_structure(cf.eob_flood(8000, 8000, "gray", 883))
    blocks = 1000 * 1000
    expected = 64 * blocks + 819 * blocks * (1 + REFINE_BAND_WEIGHT)
    cost = planned_cost(info, None, 0)
    assert cost.block_visits == pytest.approx(expected)
    assert cost.work > cost.block_visits  # bytes, buffer and pixels come on top


def test_the_entropy_coded_bytes_are_every_scan_with_its_header() -> None:
    data = cf.eob_flood(512, 512, "444", 400)
    info = read_structure(data)
    first_sos = next(s.offset for s in info.segments if s.kind == "SOS")
    assert planned_cost(info, None, 0).entropy_bytes == len(data) - first_sos - 2  # EOI


def test_cmyk_is_decoded_twice_and_costs_twice_the_decode_work() -> None:
    info = read_structure(cf.flat_progressive(2000, 2000, "cmyk"))
    once = decode_cost(info, (Decode((250, 250), 4),), None, 0)
    twice = decode_cost(info, (Decode((250, 250), 4), Decode((250, 250), 4)), None, 0)
    assert twice.work == 2 * once.work and twice.decodes == 2
    cmyk = planned_cost(info, (1024, 1024), 0)
    assert cmyk.decodes == 2
    assert planned_cost(read_structure(cf.flat_progressive(2000, 2000, "444")),
                        (1024, 1024), 0).decodes == 1


def test_the_bytes_held_count_towards_memory() -> None:
    info = read_structure(cf.flat_progressive(640, 480, "444"))
    assert (planned_cost(info, None, 1_000_000).memory_bytes
            - planned_cost(info, None, 0).memory_bytes) == 2 * 1_000_000  # drop + its copy


def test_a_bigger_output_costs_more_memory_and_work() -> None:
    info = read_structure(cf.flat_sequential(4000, 3000, "420"))
    small, large = planned_cost(info, (1024, 768), 0), planned_cost(info, (4000, 3000), 0)
    assert large.memory_bytes > small.memory_bytes and large.work > small.work


@pytest.mark.parametrize(("build", "code"), [
    pytest.param(cf.cmyk_progressive_8000x7999, "decode_too_much_memory",
                 id="progressive_cmyk_8000x7999"),
    pytest.param(cf.ycc444_progressive_8000x7999, "decode_too_much_memory",
                 id="progressive_444_8000x7999"),
    pytest.param(lambda: cf.flat_sequential(8000, 7999, "444", interleaved=False),
                 "decode_too_much_memory", id="sequential_one_scan_per_component_8000x7999"),
    pytest.param(cf.eob_flood, "decode_too_much_work", id="883_scans_gray_8000x8000"),
    pytest.param(lambda: cf.eob_flood(4000, 4000, "444", 999), "decode_too_much_work",
                 id="999_scans_444_4000x4000"),
    pytest.param(lambda: cf.eob_flood(3000, 3000, "cmyk", 999), "decode_too_much_work",
                 id="999_scans_cmyk_3000x3000"),
])
def test_a_file_over_a_limit_is_refused_with_its_own_code_and_advice(
        build: Callable[[], bytes], code: str) -> None:
    with pytest.raises(InvalidPhoto) as refused:
        photo_cost(build(), POLICY)
    assert refused.value.code == code
    assert "baseline" in refused.value.message and "limit" in refused.value.message


@pytest.mark.parametrize("build", [
    pytest.param(lambda: cf.flat_sequential(8000, 8000, "444"), id="baseline_444_at_the_pixel_cap"),
    pytest.param(lambda: cf.flat_sequential(8000, 8000, "420"), id="baseline_420_at_the_pixel_cap"),
    pytest.param(lambda: cf.flat_progressive(6000, 4000, "444"), id="progressive_444_24mp"),
    pytest.param(lambda: cf.flat_progressive(6000, 4000, "420"), id="progressive_420_24mp"),
    pytest.param(lambda: cf.flat_progressive(4000, 3000, "444", cf.TWENTY_SCANS),
                 id="progressive_444_12mp_twenty_scans"),
    pytest.param(lambda: cf.flat_progressive(6000, 4000, "420", cf.TWENTY_SCANS),
                 id="progressive_420_24mp_twenty_scans"),
])
def test_ordinary_exports_are_within_both_limits(build: Callable[[], bytes]) -> None:
    cost = photo_cost(build(), POLICY)
    assert cost.memory_bytes <= POLICY.max_decode_bytes and cost.work <= POLICY.max_decode_work


def test_a_camera_export_of_12_megapixels_passes_whole() -> None:
    """Pillow's progressive=True (libjpeg's 10-scan script), photo-like content, 4:2:0."""
    photo = prepare_photo(cf.camera_export(), POLICY)
    assert (photo.width, photo.height) == (1000, 750)  # libjpeg's 2/8 scale, no resample


def test_the_pixel_cap_is_checked_before_the_cost() -> None:
    """A progressive CMYK photo over the pixel cap is refused for its pixels (its data could
    fill them: too_many_pixels, not a bomb), not as a decode-cost problem."""
    with pytest.raises(InvalidPhoto) as refused:
        photo_cost(cf.flat_progressive(8000, 8001, "cmyk"), POLICY)
    assert refused.value.code == "too_many_pixels"


def test_the_limits_are_policy_settings() -> None:
    data = cf.flat_progressive(2000, 2000, "444")
    assert photo_cost(data, POLICY).memory_bytes > 10 * 2**20
    with pytest.raises(InvalidPhoto) as refused:
        photo_cost(data, ImagePolicy(max_decode_bytes=10 * 2**20))
    assert refused.value.code == "decode_too_much_memory"
    with pytest.raises(InvalidPhoto) as refused:
        photo_cost(data, ImagePolicy(max_decode_work=1000))
    assert refused.value.code == "decode_too_much_work"
