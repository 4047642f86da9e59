"""Fuzzing prepare_photo: a damaged JPEG is rejected with InvalidPhoto, never anything else."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from photo_core.domain.errors import InvalidPhoto
from photo_core.photos import ImagePolicy, prepare_photo
from photo_core.photos.jpeg import read_structure
from tests.cpu import cpu_budget
from tests.photo_codes import PHOTO_CODES
from tests.unit.jpeg_corpus import mutated_jpegs

POLICY = ImagePolicy(min_side=8)  # the fuzz seeds are small; let them through to the decoder


@settings(  # no deadline: it is wall time; the test bounds prepare_photo's CPU time instead
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(mutated_jpegs())
def test_mutated_jpegs_are_accepted_as_valid_output_or_rejected_with_a_known_code(
    data: bytes,
) -> None:
    rejected: str | None
    try:
        with cpu_budget(1.0, "prepare_photo"):
            photo = prepare_photo(data, POLICY)
    except InvalidPhoto as exc:
        rejected = exc.code
    else:
        rejected = None
    if rejected is not None:
        assert rejected in PHOTO_CODES
        return
    info = read_structure(photo.data)
    assert (info.width, info.height) == (photo.width, photo.height)
    assert info.eoi_offset == len(photo.data) - 2
    assert info.problem is None and info.scans_complete
