"""Downscaling in the DCT: a photo that libjpeg's n/8 decode scaling brings to within 10% of
max_side comes out at that size with no resample; any other comes out at exactly the fit."""

from __future__ import annotations

import contextlib
import io
import sys
from collections.abc import Iterator
from types import FrameType
from typing import Any

import pytest
from PIL import Image

from photo_core.photos import ImagePolicy, PreparedPhoto, prepare_photo
from photo_core.photos.jpeg import read_structure
from tests.unit import jpeg_corpus as corpus


@contextlib.contextmanager
def _resamples() -> Iterator[list[tuple[int, int]]]:
    """Record the target size of every ``Image.resize`` call inside the block (a profile hook:
    nothing is patched)."""
    code = Image.Image.resize.__code__
    seen: list[tuple[int, int]] = []
    previous = sys.getprofile()

    def hook(frame: FrameType, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code is code:
            seen.append(tuple(frame.f_locals["size"]))

    sys.setprofile(hook)
    try:
        yield seen
    finally:
        sys.setprofile(previous)


def _prepare(data: bytes, policy: ImagePolicy) -> tuple[PreparedPhoto, list[tuple[int, int]]]:
    with _resamples() as resized:
        photo = prepare_photo(data, policy)
    image = Image.open(io.BytesIO(photo.data))
    assert image.size == (photo.width, photo.height)
    assert (read_structure(photo.data).width, read_structure(photo.data).height) == image.size
    return photo, resized


def _downscaled(photo: PreparedPhoto) -> str:
    return next(a.reason for a in photo.actions if a.code == "downscaled")


def test_a_12_megapixel_photo_decodes_straight_to_1000x750_without_a_resample() -> None:
    photo, resized = _prepare(corpus.baseline((4000, 3000)), ImagePolicy())
    assert (photo.width, photo.height) == (1000, 750)  # 2/8 of 4000x3000
    assert resized == []
    assert _downscaled(photo) == "4000x3000 is over the 1024 px longest side; scaled to 1000x750"


def test_dct_scaling_works_on_the_stored_photo_and_reports_the_upright_size() -> None:
    data = corpus.encode(corpus.drawing((4000, 3000)), exif=corpus.exif(6))
    photo, resized = _prepare(data, ImagePolicy())
    assert (photo.width, photo.height) == (750, 1000)
    assert (photo.source_width, photo.source_height) == (4000, 3000)
    assert resized == []
    assert _downscaled(photo).endswith("scaled to 750x1000")


def test_a_grayscale_photo_is_dct_scaled_too() -> None:
    photo, resized = _prepare(corpus.grayscale((2000, 1500)), ImagePolicy())
    assert (photo.width, photo.height) == (1000, 750)  # 4/8
    assert resized == []
    assert Image.open(io.BytesIO(photo.data)).mode == "L"


@pytest.mark.parametrize(
    ("size", "expected", "resampled"),
    [
        ((1053, 1053), (922, 922), False),  # 7/8 gives 922 px: within 10% of 1024 (921.6)
        ((1052, 1052), (1024, 1024), True),  # 7/8 gives 921 px: not within 10%, so the fit
        ((3000, 1999), (1024, 682), True),  # 3/8 is 1125 px, too big; 2/8 750 px, too small
        ((1025, 1025), (1024, 1024), True),
    ],
)
def test_a_size_the_dct_does_not_reach_within_10_percent_is_resampled_to_the_exact_fit(
    size: tuple[int, int], expected: tuple[int, int], resampled: bool
) -> None:
    photo, resized = _prepare(corpus.baseline(size), ImagePolicy())
    assert (photo.width, photo.height) == expected
    assert resized == ([expected] if resampled else [])


def test_the_dc_only_eighth_scale_is_never_the_output() -> None:
    # 792x600 at 1/8 would be 99x75, within 10% of 100; the box filter of 1/8 is not used.
    photo, resized = _prepare(corpus.baseline((792, 600)), ImagePolicy(min_side=8, max_side=100))
    assert (photo.width, photo.height) == (100, 76)
    assert resized == [(100, 76)]


def test_a_dct_size_under_min_side_falls_back_to_the_exact_fit() -> None:
    # 4000x188 at 2/8 is 1000x47, under min_side 48; the fit, 1024x48, is not.
    photo, resized = _prepare(corpus.baseline((4000, 188)), ImagePolicy())
    assert (photo.width, photo.height) == (1024, 48)
    assert resized == [(1024, 48)]


def test_cmyk_photos_are_fitted_exactly_since_pillow_decodes_them() -> None:
    photo, _ = _prepare(corpus.cmyk(size=(412, 300)), ImagePolicy(min_side=8, max_side=110))
    assert (photo.width, photo.height) == (110, 80)  # not 2/8 = 103x75


def test_the_upload_limit_shrinks_from_the_dct_size_and_says_so_once() -> None:
    policy = ImagePolicy(min_side=8, max_side=1024, max_upload_bytes=60_000)
    photo, _ = _prepare(corpus.noisy((2000, 1500), quality=95), policy)
    assert len(photo.data) <= policy.max_upload_bytes
    assert max(photo.width, photo.height) < 1000  # shrunk from 4/8 = 1000x750
    reasons = [a.reason for a in photo.actions if a.code == "downscaled"]
    assert reasons == [
        f"2000x1500 scaled to {photo.width}x{photo.height} to fit the 59 KB upload limit"
    ]
