"""sniff_format names the files HR drops by mistake, so rejections can say what a file is."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from photo_core.domain.errors import InvalidPhoto
from photo_core.photos.jpeg import read_structure, sniff_format
from tests.unit import jpeg_corpus as corpus

WRONG_FORMATS = [
    ("png", lambda: corpus.other_format("PNG"), "PNG", "a PNG image"),
    ("gif", lambda: corpus.other_format("GIF"), "GIF", "a GIF image"),
    ("webp", lambda: corpus.other_format("WEBP"), "WebP", "a WebP image"),
    ("bmp", lambda: corpus.other_format("BMP"), "BMP", "a BMP image"),
    ("tiff", lambda: corpus.other_format("TIFF"), "TIFF", "a TIFF image"),
    ("avif", lambda: corpus.other_format("AVIF"), "AVIF", "an AVIF image"),
    ("avif_header", lambda: corpus.AVIF_HEADER, "AVIF", "an AVIF image"),
    ("heic", lambda: corpus.HEIC, "HEIC", "a HEIC image"),
    ("heif", lambda: corpus.HEIF, "HEIF", "a HEIF image"),
    ("pdf", lambda: corpus.PDF, "PDF", "a PDF document"),
    ("html", lambda: corpus.HTML, "HTML", "an HTML page"),
    (
        "html_with_bom",
        lambda: b"\xef\xbb\xbf  <html><body>Sign in</body></html>",
        "HTML",
        "an HTML page",
    ),
    ("svg", lambda: b'<?xml version="1.0"?>\n<svg xmlns="x"/>', "SVG", "an SVG drawing"),
    (
        "xml",
        lambda: b'<?xml version="1.0"?><Error><Code>AuthFailed</Code></Error>',
        "XML",
        "an XML document",
    ),
    ("base64_jpeg", corpus.base64_jpeg, "base64 JPEG", "a JPEG written out as base64 text"),
    (
        "data_uri",
        lambda: b"data:image/jpeg;base64," + corpus.base64_jpeg(),
        "base64 JPEG",
        "a JPEG written out as base64 text",
    ),
    ("plain_text", lambda: "Photo follows \u2013 see attachment\n".encode(), "text", "a text file"),
    ("psd", lambda: b"8BPS\x00\x01" + bytes(30), "PSD", "a Photoshop document"),
    ("zip", lambda: b"PK\x03\x04" + bytes(30), "ZIP", "a ZIP archive"),
    (
        "mp4",
        lambda: b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + bytes(16),
        "MP4",
        "an MP4/QuickTime video",
    ),
    (
        "jpeg_2000",
        lambda: b"\x00\x00\x00\x0cjP  \r\n\x87\n" + bytes(20),
        "JPEG 2000",
        "a JPEG 2000 image",
    ),
    (
        "png_then_jpeg_polyglot",
        lambda: corpus.other_format("PNG") + corpus.baseline((64, 48)),
        "PNG",
        "a PNG image",
    ),
    (
        "html_then_jpeg_polyglot",
        lambda: corpus.HTML + corpus.baseline((64, 48)),
        "HTML",
        "an HTML page",
    ),
]


@pytest.mark.parametrize(
    ("build", "name"),
    [pytest.param(build, name, id=case) for case, build, name, _ in WRONG_FORMATS],
)
def test_wrong_formats_are_named_by_their_magic(build: Callable[[], bytes], name: str) -> None:
    assert sniff_format(build()) == name


@pytest.mark.parametrize(
    ("build", "phrase"),
    [pytest.param(build, phrase, id=case) for case, build, _, phrase in WRONG_FORMATS],
)
def test_wrong_format_renamed_jpg_is_rejected_as_not_jpeg_naming_the_format(
    build: Callable[[], bytes], phrase: str
) -> None:
    with pytest.raises(InvalidPhoto) as caught:
        read_structure(build())
    assert caught.value.code == "not_jpeg"
    assert caught.value.message.startswith(f"this is {phrase}")
    assert "not a JPEG" in caught.value.message


def test_png_renamed_jpg_is_rejected_as_png_with_advice() -> None:
    with pytest.raises(InvalidPhoto) as caught:
        read_structure(corpus.other_format("PNG"))
    assert caught.value.message == "this is a PNG image, not a JPEG; export or save it as JPEG"


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(corpus.baseline((64, 48)), id="jpeg"),
        pytest.param(b"\xff\xd8\xff", id="jpeg_signature_only"),
        pytest.param(bytes(range(256)), id="binary_noise"),
        pytest.param(b"\x00\x01\x02\x03", id="short_binary"),
        pytest.param(b"hello \x00 world", id="text_with_nul"),
    ],
)
def test_jpegs_and_unknown_bytes_are_not_named(data: bytes) -> None:
    assert sniff_format(data) is None


def test_empty_file_is_named_empty_and_rejected_as_empty_file() -> None:
    assert sniff_format(b"") == "empty"
    with pytest.raises(InvalidPhoto) as caught:
        read_structure(b"")
    assert caught.value.code == "empty_file"


def test_text_cut_inside_a_multibyte_character_is_still_text() -> None:
    text = ("é" * 600).encode()  # 1200 bytes: the 1 KiB probe ends inside a character
    assert sniff_format(text[:1023]) == "text"


def test_unknown_signature_is_rejected_as_not_jpeg_quoting_its_first_bytes() -> None:
    with pytest.raises(InvalidPhoto) as caught:
        read_structure(b"\x00\x01\x02\x03 rest")
    assert caught.value.code == "not_jpeg"
    assert "00 01 02 03" in caught.value.message
