"""Both dialects' metadata normalise to one model; "no photo" is None in both."""

from __future__ import annotations

import pytest

from photo_core.domain.dialects import Dialect, PhotoMetadata, parse_metadata, parse_size

GRAPH_PHOTO = {
    "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users('x')/photo/$entity",
    "@odata.mediaContentType": "image/jpeg",
    "@odata.mediaEtag": '"BA09D118"',
    "id": "240X240",
    "width": 240,
    "height": 240,
}
OUTLOOK_PHOTO = {
    "@odata.context": "https://outlook.office.com/api/v2.0/$metadata#Me/photo/$entity",
    "@odata.id": "https://outlook.office.com/api/v2.0/Users('x')/photo",
    "@odata.mediaContentType": "image/jpeg",
    "@odata.mediaEtag": '"BA09D118"',
    "Id": "240X240",
    "Width": 240,
    "Height": 240,
}
OUTLOOK_NO_PHOTO = {
    **OUTLOOK_PHOTO,
    "@odata.mediaContentType": "image/gif",
    "@odata.mediaEtag": "",
    "Id": "1X1",
    "Width": 1,
    "Height": 1,
}
EXPECTED = PhotoMetadata("240x240", 240, 240, "image/jpeg", '"BA09D118"')


@pytest.mark.parametrize(
    ("payload", "dialect"), [(GRAPH_PHOTO, Dialect.GRAPH), (OUTLOOK_PHOTO, Dialect.OUTLOOK)]
)
def test_metadata_of_both_dialects_normalises_to_one_model(
    payload: dict[str, object], dialect: Dialect
) -> None:
    assert parse_metadata(payload, dialect) == EXPECTED


def test_outlook_one_pixel_gif_means_no_photo() -> None:
    assert parse_metadata(OUTLOOK_NO_PHOTO, Dialect.OUTLOOK) is None


def test_metadata_without_dimensions_is_malformed() -> None:
    with pytest.raises(ValueError, match="width and height"):
        parse_metadata({"id": "240X240"}, Dialect.GRAPH)


@pytest.mark.parametrize(("text", "sent"), [
    ("48x48", "48x48"), ("240X240", "240x240"), (" 648x648 ", "648x648"),
    ("0240x0240", "240x240"), ("048x48", "48x48"),  # what is sent upstream is the canonical form
])
def test_standard_sizes_are_accepted_in_their_canonical_form(text: str, sent: str) -> None:
    assert parse_size(text) == sent


@pytest.mark.parametrize("text", ["50x50", "240x120", "big", "240x", "../x", "-48x-48"])
def test_other_sizes_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="is not one of"):
        parse_size(text)


@pytest.mark.parametrize("text", [
    "\uff12\uff14\uff10x\uff12\uff14\uff10",  # fullwidth digits: int() reads them as 240
    "\u00b2x\u00b2",  # superscript two: isdigit() but int() fails with its own text
    "\u0662\u0664\u0660x\u0662\u0664\u0660",  # Arabic-Indic 240
    "240x\uff12\uff14\uff10",
])
def test_only_ascii_digits_make_a_size(text: str) -> None:
    with pytest.raises(ValueError, match="is not one of") as refused:
        parse_size(text)
    assert "invalid literal" not in str(refused.value)
