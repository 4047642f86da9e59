"""Every file in the catalogue gets its verdict, from prepare_photo and through sync_drop.

Rejects: ``prepare_photo`` raises ``InvalidPhoto`` with the catalogued code (and nothing else
escapes); ``sync_drop`` records ``rejected`` with that reason and uploads nothing.
Accepts: ``prepare_photo`` returns an upload-ready JPEG of the catalogued size with at least the
catalogued actions; ``sync_drop`` uploads it exactly once, to the user the blob name names.
"""

from __future__ import annotations

import io

import pytest
from PIL import Image

from photo_core.domain.errors import InvalidPhoto
from photo_core.domain.outcomes import Status
from photo_core.photos import Action, ImagePolicy, PreparedPhoto, imaging_codec, prepare_photo
from photo_core.photos.jpeg import read_structure
from tests.adversarial.file_catalogue import FILES, FileCase, hand_written_gray
from tests.adversarial.support import JANE, calls_to, measured, outcome_of, run_sync
from tests.photo_codes import PHOTO_CODES
from tests.unit import jpeg_corpus as corpus

POLICY = ImagePolicy()
REJECTS = [pytest.param(case, id=case.spec) for case in FILES if case.verdict == "reject"]
ACCEPTS = [pytest.param(case, id=case.spec) for case in FILES if case.verdict == "accept"]
UPRIGHT = [pytest.param(case, id=case.id) for case in FILES if case.upright_drawing]
BOMBS = [pytest.param(case, id=case.id) for case in FILES if case.reason == "decompression_bomb"]
COSTLY = [pytest.param(case, id=case.id) for case in FILES
          if case.reason in ("decode_too_much_memory", "decode_too_much_work")]


def _bug_note(case: FileCase) -> str:
    return f" (known product bug {case.bug}, see docs/adversarial.md)" if case.bug else ""


def _prepared(case: FileCase) -> PreparedPhoto:
    result = outcome_of(lambda: prepare_photo(case.build(), POLICY))
    if isinstance(result, Exception):
        code = getattr(result, "code", None)
        raise AssertionError(
            f"{case.id} must be accepted, got {type(result).__name__} {code}: {result}"
            + _bug_note(case)
        )
    return result


def test_the_catalogue_is_big_enough_and_covers_both_verdicts() -> None:
    assert len(FILES) >= 40
    assert len(REJECTS) >= 30 and len(ACCEPTS) >= 10
    assert all(case.reason in PHOTO_CODES for case in FILES if case.verdict == "reject")
    assert all(case.size is not None for case in FILES if case.verdict == "accept")


@pytest.mark.parametrize("case", REJECTS)
def test_prepare_photo_rejects_the_file_with_its_reason(case: FileCase) -> None:
    result = outcome_of(lambda: prepare_photo(case.build(), POLICY))
    assert isinstance(result, InvalidPhoto), (
        f"{case.id}: expected InvalidPhoto({case.reason}), got "
        f"{type(result).__name__}: {result!r}{_bug_note(case)}"
    )
    assert result.code == case.reason, f"{result.code}: {result.message}{_bug_note(case)}"
    assert len(result.message) > 20 and result.message.isprintable()


@pytest.mark.parametrize("case", ACCEPTS)
def test_prepare_photo_accepts_the_file_as_an_upload_ready_jpeg(case: FileCase) -> None:
    photo = _prepared(case)
    assert (photo.width, photo.height) == case.size
    assert case.actions <= {action.code for action in photo.actions}, photo.actions
    assert len(photo.data) <= POLICY.max_upload_bytes
    assert max(photo.width, photo.height) <= POLICY.max_side
    info = read_structure(photo.data)
    assert (info.width, info.height) == case.size
    assert info.orientation == 1 and info.colour_space in ("ycbcr", "gray")
    assert not (info.has_exif or info.has_xmp or info.has_iptc or info.has_comment)
    assert info.other_app == () and info.trailing_bytes == 0
    with Image.open(io.BytesIO(photo.data)) as image:
        image.load()
        assert image.size == case.size


@pytest.mark.parametrize("case", UPRIGHT)
def test_exif_orientation_comes_out_upright_with_the_corners_in_place(case: FileCase) -> None:
    """corpus.drawing paints red top-left, green top-right, blue bottom-left, white
    bottom-right; whatever the stored orientation, the output must show them there."""
    photo = _prepared(case)
    with Image.open(io.BytesIO(photo.data)) as opened:
        image = opened.convert("RGB")
    width, height = image.size
    assert (width, height) == (photo.width, photo.height) == case.size
    corners = {
        (8, 8): corpus.RED,
        (width - 9, 8): corpus.GREEN,
        (8, height - 9): corpus.BLUE,
        (width - 9, height - 9): corpus.WHITE,
    }
    for xy, colour in corners.items():
        pixel = image.getpixel(xy)
        assert isinstance(pixel, tuple)
        assert all(abs(a - b) <= 40 for a, b in zip(pixel, colour, strict=True)), (xy, pixel)


@pytest.mark.parametrize("case", BOMBS)
def test_a_header_declared_bomb_is_refused_without_decoding_in_a_few_megabytes(
    case: FileCase,
) -> None:
    data = case.build()
    with calls_to(imaging_codec.verify.__code__) as decodes, measured() as cost:
        result = outcome_of(lambda: prepare_photo(data, POLICY))
    assert isinstance(result, InvalidPhoto) and result.code == "decompression_bomb"
    assert decodes == [], "a bomb must be refused from its header, never decoded"
    assert cost.peak_bytes < 3 * 1024 * 1024 + 2 * len(data), cost
    assert cost.cpu_seconds < 0.5, cost


@pytest.mark.parametrize("case", COSTLY)
def test_a_file_too_costly_to_decode_is_refused_from_its_header_without_decoding(
    case: FileCase,
) -> None:
    data = case.build()
    with calls_to(imaging_codec.verify.__code__) as decodes:
        result = outcome_of(lambda: prepare_photo(data, POLICY))
    assert isinstance(result, InvalidPhoto) and result.code == case.reason
    assert decodes == [], "the decode cost is decided from the header, before any decode"


def test_the_decode_watch_does_see_a_real_decode() -> None:
    """Control for the test above: the watch is not blind (every accepted photo is decoded
    first by the strict verification)."""
    with calls_to(imaging_codec.verify.__code__) as decodes:
        prepare_photo(corpus.baseline(), POLICY)
    assert decodes == ["verify"]


def test_the_hand_written_12_bit_jpeg_is_real() -> None:
    """Its 8-bit twin (same bytes but the precision) decodes in Pillow to flat gray, and the
    12-bit file itself reads as complete: the 12-bit rejection is not about broken data."""
    twin = hand_written_gray(8)
    with Image.open(io.BytesIO(twin)) as image:
        image.load()
        assert image.size == (48, 48) and image.getextrema() == (128, 128)
    assert prepare_photo(twin, POLICY).actions == (
        Action("reencoded", "re-encoded as a baseline JPEG at quality 90 to make it baseline "
               "(it was extended-sequential)"),
    )
    info = read_structure(hand_written_gray(12))
    assert (info.precision, info.process, info.width, info.height) == (12, "extended", 48, 48)
    assert info.scans_complete and info.problem is None and info.eoi_present


def test_trailing_megabytes_are_dropped_and_the_photo_passes_through_byte_for_byte() -> None:
    case = next(case for case in FILES if case.id == "trailing_bytes_megabytes")
    assert _prepared(case).data == corpus.baseline()


@pytest.mark.parametrize("case", REJECTS)
def test_sync_records_a_rejected_file_and_uploads_nothing(case: FileCase) -> None:
    content = case.build()
    run = outcome_of(lambda: run_sync(f"{JANE}.jpg", content))
    assert not isinstance(run, Exception), (
        f"sync_drop raised {type(run).__name__}: {run!r}; a bad file must end as a recorded "
        f"rejection, never an exception the platform retries{_bug_note(case)}"
    )
    outcome = run.outcome
    assert (outcome.status, outcome.reason) == (Status.REJECTED, case.reason), (
        f"{outcome.status.value} {outcome.reason}: {outcome.message}{_bug_note(case)}"
    )
    assert run.api.uploads == []
    assert run.drop.recorded == outcome
    if case.reason == "file_too_large":
        assert run.drop.reads == 0, "a blob over the cap is refused before it is downloaded"
    else:
        row, _ = run.state.rows[f"upn:{JANE}"]
        assert (row.last_status, row.last_reason) == ("rejected", case.reason)
        assert row.lock_owner is None


@pytest.mark.parametrize("case", ACCEPTS)
def test_sync_uploads_an_accepted_file_exactly_once_to_the_named_user(case: FileCase) -> None:
    content = case.build()
    run = outcome_of(lambda: run_sync(f"hr/2026/{JANE}.jpg", content))
    assert not isinstance(run, Exception), f"sync_drop raised {run!r}{_bug_note(case)}"
    outcome = run.outcome
    assert outcome.status is Status.UPLOADED, f"{outcome.reason}: {outcome.message}"
    assert [user for user, _ in run.api.uploads] == [JANE]
    uploaded = run.api.uploads[0][1]
    assert outcome.user == JANE
    assert case.actions <= set(outcome.actions)
    info = read_structure(uploaded)
    assert (info.width, info.height) == case.size
    assert f"{info.width}x{info.height}" in outcome.message
