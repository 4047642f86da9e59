"""Recognise the files HR most often drops by mistake, so a rejection can say what the file *is*.

"not a JPEG" sends someone hunting; "this is a PNG image, not a JPEG; export it as JPEG" tells
them what to do. Only magic numbers and a printable-text test are used: nothing is decoded, the
functions are total (any bytes in, a name or None out) and look at no more than the first
kilobyte, so they are cheap enough to run on every rejected drop.
"""

from __future__ import annotations

import re

__all__ = ["describe_format", "sniff_format"]

_TEXT_PROBE = 1024
_BASE64_RE = re.compile(rb"[A-Za-z0-9+/=\r\n]+")

# ISO-BMFF (HEIF family, MP4) brands: major or compatible brand -> reported name.
_FTYP_BRANDS: dict[bytes, str] = {
    b"avif": "AVIF",
    b"avis": "AVIF",
    b"heic": "HEIC",
    b"heix": "HEIC",
    b"heim": "HEIC",
    b"heis": "HEIC",
    b"hevc": "HEIC",
    b"hevx": "HEIC",
    b"mif1": "HEIF",
    b"msf1": "HEIF",
}

_EXPORT = "export or save it as JPEG"
_REDOWNLOAD = "it is probably an error page saved in place of the photo; fetch the photo again"
# Format name -> (how a message names it, what to do about it).
_DESCRIPTIONS: dict[str, tuple[str, str]] = {
    "PNG": ("a PNG image", _EXPORT),
    "GIF": ("a GIF image", _EXPORT),
    "WebP": ("a WebP image", _EXPORT),
    "HEIC": ("a HEIC image (the iPhone photo format)", _EXPORT),
    "HEIF": ("a HEIF image", _EXPORT),
    "AVIF": ("an AVIF image", _EXPORT),
    "MP4": ("an MP4/QuickTime video", "export a still photo as JPEG"),
    "PDF": ("a PDF document", "export the photo itself as JPEG"),
    "BMP": ("a BMP image", _EXPORT),
    "TIFF": ("a TIFF image", _EXPORT),
    "JPEG 2000": ("a JPEG 2000 image", "export it as a standard JPEG"),
    "JPEG XL": ("a JPEG XL image", "export it as a standard JPEG"),
    "PSD": ("a Photoshop document", _EXPORT),
    "ICO": ("a Windows icon", _EXPORT),
    "ZIP": ("a ZIP archive (or an Office document)", "export the photo itself as JPEG"),
    "HTML": ("an HTML page", _REDOWNLOAD),
    "SVG": ("an SVG drawing", _EXPORT),
    "XML": ("an XML document", _REDOWNLOAD),
    "base64 JPEG": ("a JPEG written out as base64 text", "decode the base64 to binary first"),
    "base64": ("base64-encoded text", "decode it to binary and check it is a JPEG"),
    "text": ("a text file", "send the photo itself, as JPEG"),
    "empty": ("an empty file", "send the photo again"),
}


def describe_format(name: str) -> str:
    """Message for a name from :func:`sniff_format`: "this is a PNG image, not a JPEG; ..."."""
    noun, advice = _DESCRIPTIONS.get(name, (f"a {name} file", _EXPORT))
    return f"this is {noun}, not a JPEG; {advice}"


def sniff_format(data: bytes) -> str | None:
    """Name the non-JPEG format ``data`` is in, or None.

    None means "starts like a JPEG, or nothing recognisable": the JPEG reader then decides.
    Names are stable: PNG, GIF, WebP, HEIC, HEIF, AVIF, MP4, PDF, BMP, TIFF, JPEG 2000, JPEG XL,
    PSD, ICO, ZIP, HTML, SVG, XML, base64 JPEG, base64, text, empty.
    """
    if not data:
        return "empty"
    if data.startswith(b"\xff\xd8\xff"):
        return None
    return _sniff_binary(data) or _sniff_text(data[:_TEXT_PROBE])


def _sniff_binary(data: bytes) -> str | None:
    head = data[:32]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "GIF"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "WebP"
    if head[4:8] == b"ftyp":
        return _sniff_ftyp(data)
    if head.startswith(b"%PDF-"):
        return "PDF"
    if head.startswith(b"BM") and len(head) >= 18:
        dib_header_size = int.from_bytes(head[14:18], "little")
        if dib_header_size in (12, 40, 52, 56, 64, 108, 124):
            return "BMP"
    if head.startswith((b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")):
        return "TIFF"
    if head.startswith((b"\x00\x00\x00\x0cjP  \r\n\x87\n", b"\xff\x4f\xff\x51")):
        return "JPEG 2000"
    if head.startswith((b"\xff\x0a", b"\x00\x00\x00\x0cJXL \r\n\x87\n")):
        return "JPEG XL"
    if head.startswith(b"8BPS"):
        return "PSD"
    if head.startswith(b"\x00\x00\x01\x00") and len(head) >= 6 and head[4:6] != b"\x00\x00":
        return "ICO"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "ZIP"
    return None


def _sniff_ftyp(data: bytes) -> str:
    """Read the ISO-BMFF ``ftyp`` box: major brand, then compatible brands, decide the name."""
    box_size = int.from_bytes(data[0:4], "big")
    end = min(len(data), box_size if 16 <= box_size <= 4096 else 16)
    brands = [data[8:12]] + [data[i : i + 4] for i in range(16, end - 3, 4)]
    for brand in brands:
        if brand in _FTYP_BRANDS:
            return _FTYP_BRANDS[brand]
    return "MP4"


def _sniff_text(probe: bytes) -> str | None:
    """Text, classified by its first characters. Markup (HTML, SVG, XML) is recognised by a
    printable opening alone, as browsers do, even if binary follows (an HTML+JPEG polyglot);
    plain text and base64 need the whole probe to be printable UTF-8 (or a UTF-16 BOM)."""
    if probe.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "text"
    text = _printable_prefix(probe)
    lowered = text.lstrip().lower()
    if lowered.startswith(("<!doctype html", "<html", "<head", "<body")):
        return "HTML"
    if lowered.startswith("<svg") or (lowered.startswith("<?xml") and "<svg" in lowered):
        return "SVG"
    if lowered.startswith("<?xml"):
        return "XML"
    if not text or len(text.encode()) < len(probe.removeprefix(b"\xef\xbb\xbf")) - 3:
        return None  # binary after some text: not a text file
    stripped = text.strip()
    ascii_bytes = stripped.encode("ascii", "replace")
    if stripped.startswith("data:image/jpeg;base64,") or (
        stripped.startswith("/9j/") and _BASE64_RE.fullmatch(ascii_bytes)
    ):
        return "base64 JPEG"
    if len(stripped) >= 64 and _BASE64_RE.fullmatch(ascii_bytes):
        return "base64"
    return "text"


def _printable_prefix(probe: bytes) -> str:
    """The longest leading run of printable characters (BOM removed), decoded as UTF-8."""
    try:
        text = probe.decode("utf-8")
    except UnicodeDecodeError as exc:
        text = probe[: exc.start].decode("utf-8")
    text = text.removeprefix("\ufeff")
    for index, char in enumerate(text):
        if not (char.isprintable() or char in "\t\n\r\f\v"):
            return text[:index]
    return text
