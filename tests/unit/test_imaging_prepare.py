"""prepare_photo: which photos are accepted, why others are rejected, and what is changed."""

from __future__ import annotations

import contextlib
import hashlib
import io
from collections.abc import Callable
from typing import cast

import pytest
from PIL import Image, ImageFile, ImageOps

from photo_core.domain.errors import InvalidPhoto
from photo_core.photos import ImagePolicy, PreparedPhoto, imaging_codec, prepare_photo
from photo_core.photos.jpeg import read_structure
from tests.unit import jpeg_corpus as corpus

POLICY = ImagePolicy()


def _codes(photo: PreparedPhoto) -> list[str]:
    return [action.code for action in photo.actions]


def _reason(photo: PreparedPhoto, code: str) -> str:
    return next(action.reason for action in photo.actions if action.code == code)


def _open(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def _close(a: tuple[int, ...], b: tuple[int, ...], tolerance: int = 40) -> bool:
    return all(abs(x - y) <= tolerance for x, y in zip(a, b, strict=True))


# --- verdicts -------------------------------------------------------------------------------

ACCEPTED = [
    ("baseline", corpus.baseline),
    ("progressive", corpus.progressive),
    ("grayscale", corpus.grayscale),
    ("adobe_cmyk", corpus.cmyk),
    ("plain_cmyk_without_adobe_marker", corpus.cmyk_without_adobe),
    ("ycck", corpus.ycck),
    ("every_metadata_kind", corpus.with_everything),
    ("restart_markers", corpus.with_restarts),
    ("extended_sequential", lambda: corpus.set_marker(corpus.baseline(), 0xC0, 0xC1)),
    ("rgb_coded", lambda: corpus.encode(corpus.drawing(), keep_rgb=True)),
    ("multi_chunk_icc", lambda: corpus.encode(corpus.drawing(), icc_profile=corpus.fake_icc())),
    ("trailing_zip_polyglot", lambda: corpus.baseline() + b"PK\x03\x04" + bytes(64)),
    ("script_in_comment", lambda: corpus.baseline(comment=b"<script>alert(1)</script>")),
    ("huge_camera_photo", corpus.huge_valid),
    ("exactly_min_side", lambda: corpus.baseline((48, 48))),
    *((f"exif_orientation_{o}", lambda o=o: corpus.oriented(o)) for o in range(1, 9)),
]


@pytest.mark.parametrize("build", [pytest.param(b, id=case) for case, b in ACCEPTED])
def test_valid_photos_are_accepted_as_upload_ready_jpegs(build: Callable[[], bytes]) -> None:
    photo = prepare_photo(build(), POLICY)
    info = read_structure(photo.data)
    assert len(photo.data) <= POLICY.max_upload_bytes
    assert max(photo.width, photo.height) <= POLICY.max_side
    assert (info.width, info.height) == (photo.width, photo.height)
    assert info.colour_space in ("ycbcr", "gray")
    assert info.orientation == 1
    assert not (info.has_exif or info.has_xmp or info.has_iptc or info.has_comment)
    assert info.trailing_bytes == 0
    assert photo.sha256 == hashlib.sha256(photo.data).hexdigest()
    assert _open(photo.data).size == (photo.width, photo.height)


REJECTED = [
    ("empty", lambda: b"", "empty_file"),
    ("png_renamed_jpg", lambda: corpus.other_format("PNG"), "not_jpeg"),
    ("gif_renamed_jpg", lambda: corpus.other_format("GIF"), "not_jpeg"),
    ("webp_renamed_jpg", lambda: corpus.other_format("WEBP"), "not_jpeg"),
    ("bmp_renamed_jpg", lambda: corpus.other_format("BMP"), "not_jpeg"),
    ("tiff_renamed_jpg", lambda: corpus.other_format("TIFF"), "not_jpeg"),
    ("heic_renamed_jpg", lambda: corpus.HEIC, "not_jpeg"),
    ("pdf_renamed_jpg", lambda: corpus.PDF, "not_jpeg"),
    ("html_error_page", lambda: corpus.HTML, "not_jpeg"),
    ("base64_text", corpus.base64_jpeg, "not_jpeg"),
    ("html_then_jpeg_polyglot", lambda: corpus.HTML + corpus.baseline(), "not_jpeg"),
    ("tiny_20x20", lambda: corpus.baseline((20, 20)), "too_small"),
    ("one_side_too_short", lambda: corpus.baseline((400, 47)), "too_small"),
    ("header_bomb_60000x60000", corpus.bomb, "decompression_bomb"),
    (
        "header_bomb_with_garbage_after_header",
        lambda: corpus.bomb(garbage=True),
        "decompression_bomb",
    ),
    ("zero_width", lambda: corpus.set_size(corpus.baseline(), 0, 240), "zero_dimension"),
    ("cut_inside_header", lambda: corpus.cut(corpus.baseline(), 150), "truncated_header"),
    ("cut_inside_scan", lambda: corpus.cut(corpus.baseline(), 0.6), "truncated"),
    ("cut_inside_progressive_scan", lambda: corpus.cut(corpus.progressive(), 0.6), "truncated"),
    ("missing_eoi", lambda: corpus.baseline()[:-2], "truncated"),
    (
        "cut_scan_patched_with_eoi_restarts",
        lambda: corpus.cut_scan_and_patch_eoi(corpus.with_restarts()),
        "truncated",
    ),
    (
        "cut_progressive_patched_with_eoi",
        lambda: corpus.cut_scan_and_patch_eoi(corpus.progressive(), 0.4),
        "truncated",
    ),
    ("reserved_marker_in_scan_data", corpus.marker_in_scan, "corrupt_image"),
    ("restart_markers_out_of_order", corpus.restarts_out_of_order, "corrupt_image"),
    ("undefined_quantisation_table", corpus.undefined_quant_table, "corrupt_image"),
    ("corrupt_huffman_table", corpus.corrupt_huffman_table, "corrupt_header"),
    ("lossless_jpeg", lambda: corpus.set_marker(corpus.baseline(), 0xC0, 0xC3), "unsupported_jpeg"),
    (
        "twelve_bit",
        lambda: corpus.set_sof_byte(corpus.set_marker(corpus.baseline(), 0xC0, 0xC1), 0, 12),
        "unsupported_jpeg",
    ),
    ("extreme_aspect_ratio", lambda: corpus.baseline((4000, 60)), "extreme_aspect_ratio"),
]


@pytest.mark.parametrize(
    ("build", "code"), [pytest.param(b, c, id=case) for case, b, c in REJECTED]
)
def test_invalid_photos_are_rejected_with_their_reason_code(
    build: Callable[[], bytes], code: str
) -> None:
    with pytest.raises(InvalidPhoto) as caught:
        prepare_photo(build(), POLICY)
    assert caught.value.code == code
    assert len(caught.value.message) > 20


def test_png_renamed_jpg_is_rejected_as_png() -> None:
    with pytest.raises(InvalidPhoto, match=r"^this is a PNG image, not a JPEG"):
        prepare_photo(corpus.other_format("PNG"), POLICY)


def test_header_bomb_is_refused_from_the_header_even_when_its_data_is_garbage() -> None:
    data = corpus.bomb(garbage=True)
    assert read_structure(data).problem is not None  # the data really is garbage
    with pytest.raises(InvalidPhoto) as caught:
        prepare_photo(data, POLICY)
    assert caught.value.code == "decompression_bomb"
    assert "60000x60000" in caught.value.message


def test_pixel_limit_is_inclusive() -> None:
    data = corpus.baseline((320, 240))
    prepare_photo(data, ImagePolicy(max_pixels=320 * 240))
    with pytest.raises(InvalidPhoto, match=r"megapixel limit"):
        prepare_photo(data, ImagePolicy(max_pixels=320 * 240 - 1))


def _flat(mode: str, size: tuple[int, int], **save: object) -> bytes:
    """libjpeg's most compressible real photo: one flat colour at quality 1, optimised."""
    out = io.BytesIO()
    Image.new(mode, size, 128 if mode == "L" else (128, 128, 128)).save(
        out, "JPEG", quality=1, optimize=True, **save)
    return out.getvalue()


@pytest.mark.parametrize("build", [
    pytest.param(lambda: corpus.baseline((320, 240)), id="photo"),
    pytest.param(lambda: corpus.progressive(), id="progressive"),
    pytest.param(lambda: _flat("L", (1024, 1024)), id="flat_grey"),
    pytest.param(lambda: _flat("RGB", (1024, 1024), subsampling=2, progressive=True),
                 id="flat_colour_420_progressive"),
])
def test_a_real_photo_over_the_pixel_cap_is_too_many_pixels_not_a_bomb(
        build: Callable[[], bytes]) -> None:
    data = build()
    info = read_structure(data)
    with pytest.raises(InvalidPhoto) as caught:
        prepare_photo(data, ImagePolicy(max_pixels=info.pixels - 1))  # a 72 MP camera photo,
    assert caught.value.code == "too_many_pixels"  # scaled down to what a test can afford
    assert f"{info.width}x{info.height} pixels" in caught.value.message
    assert "decompression bomb" not in caught.value.message


@pytest.mark.parametrize(("width", "height"), [(8000, 8001), (60000, 60000), (65535, 65535)])
def test_a_header_its_data_cannot_back_is_a_decompression_bomb(width: int, height: int) -> None:
    data = corpus.set_size(corpus.baseline((64, 48)), width, height)
    with pytest.raises(InvalidPhoto) as caught:
        prepare_photo(data, POLICY)
    assert caught.value.code == "decompression_bomb"
    assert f"{width}x{height} pixels" in caught.value.message


def test_input_over_the_size_cap_is_rejected_before_reading_it() -> None:
    with pytest.raises(InvalidPhoto) as caught:
        prepare_photo(b"\x00" * 2000, ImagePolicy(max_input_bytes=1999))
    assert caught.value.code == "file_too_large"


def test_too_small_is_judged_on_the_upright_photo_and_says_its_size() -> None:
    stored = corpus.encode(corpus.drawing((30, 200)), exif=corpus.exif(6))
    with pytest.raises(InvalidPhoto, match=r"200x30 pixels") as caught:
        prepare_photo(stored, POLICY)
    assert caught.value.code == "too_small"


# --- no re-encode: lossless path ------------------------------------------------------------


@pytest.mark.parametrize(
    "build",
    [corpus.baseline, corpus.progressive, corpus.grayscale],
    ids=["baseline", "progressive", "grayscale"],
)
def test_clean_upright_photo_passes_through_byte_for_byte(build: Callable[[], bytes]) -> None:
    data = build()
    photo = prepare_photo(data, POLICY)
    assert photo.data == data
    assert photo.actions == ()


def test_progressive_photo_stays_progressive_when_nothing_else_is_needed() -> None:
    photo = prepare_photo(corpus.progressive(), POLICY)
    assert read_structure(photo.data).process == "progressive"


def test_metadata_is_stripped_losslessly_with_identical_pixels() -> None:
    data = corpus.with_everything()
    photo = prepare_photo(data, POLICY)
    assert _codes(photo) == ["metadata_stripped"]
    assert corpus.pixels(photo.data) == corpus.pixels(data)
    reason = _reason(photo, "metadata_stripped")
    for removed in ("EXIF (with GPS)", "XMP", "IPTC", "comment"):
        assert removed in reason
    assert read_structure(photo.data).has_icc


def test_trailing_bytes_after_eoi_are_removed_and_reported() -> None:
    photo = prepare_photo(corpus.baseline() + b"PK\x03\x04" + bytes(60), POLICY)
    assert photo.data == corpus.baseline()
    assert _reason(photo, "trailing_bytes_removed") == (
        "removed 64 bytes after the end-of-image marker"
    )


# --- orientation ----------------------------------------------------------------------------


@pytest.mark.parametrize("orientation", range(2, 9))
def test_exif_orientation_is_applied_so_the_photo_is_upright(orientation: int) -> None:
    data = corpus.oriented(orientation)
    photo = prepare_photo(data, POLICY)
    out = _open(photo.data).convert("RGB")
    assert out.size == (photo.width, photo.height) == (240, 160)
    corners = {
        (10, 10): corpus.RED,
        (229, 10): corpus.GREEN,
        (10, 149): corpus.BLUE,
        (229, 149): corpus.WHITE,
    }
    for xy, colour in corners.items():
        pixel = cast(tuple[int, ...], out.getpixel(xy))
        assert _close(pixel, colour), (xy, pixel, colour)
    reference = ImageOps.exif_transpose(_open(data)).convert("RGB")
    difference = sum(abs(a - b) for a, b in zip(out.tobytes(), reference.tobytes(), strict=True))
    assert difference / len(reference.tobytes()) < 4
    assert _codes(photo)[:2] == ["rotated", "reencoded"]


@pytest.mark.parametrize(
    ("orientation", "reason"),
    [
        (3, "EXIF orientation 3: rotated 180°"),
        (6, "EXIF orientation 6: rotated 90° clockwise"),
        (8, "EXIF orientation 8: rotated 90° counter-clockwise"),
    ],
)
def test_rotation_reason_names_the_orientation(orientation: int, reason: str) -> None:
    assert _reason(prepare_photo(corpus.oriented(orientation), POLICY), "rotated") == reason


def test_rotated_portrait_camera_photo_reports_upright_output_and_stored_source_size() -> None:
    data = corpus.encode(corpus.drawing((1600, 1200)), exif=corpus.exif(6))
    photo = prepare_photo(data, POLICY)
    assert (photo.source_width, photo.source_height) == (1600, 1200)
    assert (photo.width, photo.height) == (750, 1000)  # decoded at 5/8, within 10% of 1024


def test_rotated_photo_keeps_its_icc_profile() -> None:
    icc = corpus.srgb_icc()
    data = corpus.encode(corpus.drawing(), exif=corpus.exif(6), icc_profile=icc)
    assert _open(prepare_photo(data, POLICY).data).info.get("icc_profile") == icc


def test_re_encoded_progressive_photo_comes_out_baseline() -> None:
    data = corpus.encode(corpus.drawing(), exif=corpus.exif(3), progressive=True)
    assert read_structure(prepare_photo(data, POLICY).data).process == "baseline"


# --- colour ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "label"),
    [
        (corpus.cmyk, "CMYK"),
        (corpus.cmyk_without_adobe, "CMYK"),
        (corpus.ycck, "YCCK (Adobe CMYK)"),
    ],
    ids=["adobe_inverted_cmyk", "plain_cmyk", "ycck"],
)
def test_cmyk_photos_are_converted_to_rgb_with_the_right_polarity(
    build: Callable[[], bytes], label: str
) -> None:
    photo = prepare_photo(build(), POLICY)  # every builder paints CMYK (0, 255, 255, 0): red
    assert _open(photo.data).mode == "RGB"
    assert _close(cast(tuple[int, ...], _open(photo.data).getpixel((40, 30))), (255, 0, 0))
    assert _reason(photo, "converted_to_rgb").startswith(f"{label} JPEG converted to RGB")


@pytest.mark.parametrize(
    ("icc", "expected", "how"),
    [
        (corpus.cmyk_icc, (177, 255, 255), "using its embedded ICC profile"),
        (lambda: None, (127, 255, 255), "with the standard formula"),
    ],
    ids=["with_cmyk_profile", "without_profile"],
)
def test_cmyk_is_converted_through_its_embedded_profile_when_it_has_one(
    icc: Callable[[], bytes | None], expected: tuple[int, int, int], how: str
) -> None:
    photo = prepare_photo(corpus.cmyk((128, 0, 0, 0), icc_profile=icc()), POLICY)  # 50% cyan
    pixel = cast(tuple[int, ...], _open(photo.data).getpixel((40, 30)))
    assert _close(pixel, expected, tolerance=8)
    assert how in _reason(photo, "converted_to_rgb")


def test_cmyk_with_a_profile_that_is_not_cmyk_falls_back_to_the_standard_formula() -> None:
    data = corpus.cmyk(icc_profile=corpus.srgb_icc())
    photo = prepare_photo(data, POLICY)
    assert "standard formula" in _reason(photo, "converted_to_rgb")
    assert "icc_profile" not in _open(photo.data).info


def test_cmyk_black_comes_out_black() -> None:
    photo = prepare_photo(corpus.cmyk((0, 0, 0, 255)), POLICY)
    assert _close(cast(tuple[int, ...], _open(photo.data).getpixel((40, 30))), (0, 0, 0))


def test_rgb_coded_jpeg_is_re_encoded_as_standard_ycbcr() -> None:
    photo = prepare_photo(corpus.encode(corpus.drawing(), keep_rgb=True), POLICY)
    assert "RGB-coded" in _reason(photo, "reencoded")
    assert read_structure(photo.data).colour_space == "ycbcr"


def test_grayscale_stays_grayscale_when_re_encoded() -> None:
    data = corpus.encode(corpus.drawing(mode="L"), exif=corpus.exif(6))
    assert _open(prepare_photo(data, POLICY).data).mode == "L"


# --- size -----------------------------------------------------------------------------------


def test_huge_camera_photo_is_downscaled_to_the_longest_side_under_the_upload_limit() -> None:
    photo = prepare_photo(corpus.huge_valid(), POLICY)
    assert (photo.width, photo.height) == (1000, 750)  # libjpeg's 2/8, within 10% of 1024
    assert len(photo.data) <= 4 * 1024 * 1024
    assert _reason(photo, "downscaled") == (
        "4000x3000 is over the 1024 px longest side; scaled to 1000x750"
    )
    assert (photo.source_width, photo.source_height) == (4000, 3000)


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((3000, 1999), (1024, 682)),
        ((1999, 3000), (682, 1024)),
        ((1025, 1025), (1024, 1024)),
        ((5000, 700), (1024, 143)),
    ],
)
def test_downscaling_keeps_the_aspect_ratio(
    size: tuple[int, int], expected: tuple[int, int]
) -> None:
    photo = prepare_photo(corpus.baseline(size), POLICY)
    assert (photo.width, photo.height) == expected
    scale = max(photo.width, photo.height) / max(size)
    assert abs(min(photo.width, photo.height) - min(size) * scale) <= 0.5  # rounded, not cut


def test_max_side_from_the_policy_bounds_the_output() -> None:
    photo = prepare_photo(corpus.baseline((800, 600)), ImagePolicy(max_side=400))
    assert (photo.width, photo.height) == (400, 300)


def test_photo_over_the_upload_limit_is_brought_under_it() -> None:
    policy = ImagePolicy(max_side=2000, max_upload_bytes=150_000)
    data = corpus.noisy((1200, 900))
    assert len(data) > policy.max_upload_bytes
    photo = prepare_photo(data, policy)
    assert len(photo.data) <= policy.max_upload_bytes
    assert photo.width / photo.height == pytest.approx(1200 / 900, abs=0.01)
    assert {"reencoded", "quality_reduced"} <= set(_codes(photo))


def test_photo_that_cannot_fit_is_rejected() -> None:
    policy = ImagePolicy(min_side=600, max_side=2000, max_upload_bytes=2048)
    with pytest.raises(InvalidPhoto) as caught:
        prepare_photo(corpus.noisy((800, 600)), policy)
    assert caught.value.code == "cannot_fit"


def test_big_photos_decode_at_a_reduced_dct_scale() -> None:
    image = imaging_codec.decode(corpus.huge_valid(), (1024, 768))
    assert image.size == (2000, 1500)  # 1/2 scale: the smallest still >= 1024x768


# --- policy and strictness ------------------------------------------------------------------


def test_policy_defaults_are_the_documented_limits() -> None:
    assert ImagePolicy() == ImagePolicy(
        min_side=48,
        max_side=1024,
        max_upload_bytes=4 * 1024 * 1024,
        max_pixels=64_000_000,
        jpeg_quality=90,
        max_input_bytes=25 * 1024 * 1024,
    )
    assert ImagePolicy().problems() == ()


def test_inconsistent_policy_lists_every_problem_and_is_refused_by_prepare_photo() -> None:
    policy = ImagePolicy(min_side=2000, jpeg_quality=0)
    assert len(policy.problems()) == 2
    with pytest.raises(ValueError, match="max_side"):
        prepare_photo(corpus.baseline(), policy)


def test_pillow_stays_strict_about_truncated_images() -> None:
    builds: tuple[Callable[[], bytes], ...] = (
        corpus.baseline,
        lambda: corpus.cut(corpus.baseline(), 0.5),
    )
    for build in builds:
        with contextlib.suppress(InvalidPhoto):
            prepare_photo(build(), POLICY)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_prepared_photo_repr_leaves_out_the_bytes() -> None:
    assert "data=" not in repr(prepare_photo(corpus.baseline(), POLICY))
