"""The Pillow side of photo normalisation: strict decode, colour conversion, resize, encode.

Kept apart from :mod:`photo_core.photos.imaging` (which decides *what* to do from the header alone)
so the decisions stay testable without pixels and Pillow is imported only when a photo is
actually decoded: each function imports it on first use, which keeps function cold starts
and ``import photo_core`` cheap.

Strictness: ``ImageFile.LOAD_TRUNCATED_IMAGES`` is never touched (it stays False, so Pillow
raises on data that ends early), only the JPEG plugin may open the bytes, and every Pillow
failure becomes ``InvalidPhoto``. Pillow silences libjpeg's own warnings ("corrupt JPEG data:
premature end of data segment", "bad Huffman code") and pads what is missing, so a photo cut
mid-scan with an end marker appended would come out half grey. ``verify`` therefore decodes
every scan once with libjpeg-turbo in strict mode (simplejpeg), where those warnings are
errors, at 1/8 scale: all entropy-coded data is still read, but little memory is used.
"""

from __future__ import annotations

import io
import struct
from typing import TYPE_CHECKING, Any

from photo_core.domain.errors import InvalidPhoto
from photo_core.photos.jpeg_frame import ceil_div

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["decode", "decode_scaled", "draft_size", "encode", "icc_profile", "libjpeg_scaled",
           "orient", "resize", "strict_decode_size", "to_rgb", "verify"]

# Verification wants only the decode's errors, not its pixels: 3-component photos are decoded
# to grayscale there, so libjpeg skips the IDCT and colour conversion of the chroma planes
# (their entropy-coded data, where damage shows, is decoded all the same). CMYK has no gray
# conversion in libjpeg.
_VERIFY_COLOURSPACE = {1: "GRAY", 3: "GRAY", 4: "CMYK"}
VERIFY_SCALE = 8

# EXIF orientation -> the Pillow transpose that makes the stored image upright, and its story.
_ORIENTATIONS: dict[int, tuple[str, str]] = {
    2: ("FLIP_LEFT_RIGHT", "mirrored left-right"),
    3: ("ROTATE_180", "rotated 180°"),
    4: ("FLIP_TOP_BOTTOM", "mirrored top-bottom"),
    5: ("TRANSPOSE", "mirrored along the main diagonal (rotated 90° and mirrored)"),
    6: ("ROTATE_270", "rotated 90° clockwise"),
    7: ("TRANSVERSE", "mirrored along the anti-diagonal (rotated 90° and mirrored)"),
    8: ("ROTATE_90", "rotated 90° counter-clockwise"),
}


def orientation_story(orientation: int) -> str:
    return _ORIENTATIONS[orientation][1]


def decode(data: bytes, draft_to: tuple[int, int] | None = None) -> Image.Image:
    """Fully decode a JPEG, at a reduced DCT scale (1/2, 1/4, 1/8) when ``draft_to`` allows.

    ``draft_to`` is the wanted size in stored orientation; libjpeg then decodes straight to
    the smallest scale still at least that big, so a 24-megapixel photo never exists in
    memory at full size. Every scan is still read, so damage anywhere is still caught.
    """
    from PIL import Image

    try:
        image = Image.open(io.BytesIO(data), formats=("JPEG",))
        if draft_to is not None:
            image.draft(None, draft_to)
        image.load()
    except Image.DecompressionBombError as exc:
        raise InvalidPhoto(
            f"the image is too large to decode safely: {exc}", code="decompression_bomb"
        ) from exc
    except OSError as exc:  # includes UnidentifiedImageError
        if "truncated" in str(exc):
            raise InvalidPhoto(
                "the image data ends early; the file was cut short", code="truncated"
            ) from exc
        raise InvalidPhoto(
            f"the image data cannot be decoded ({exc})", code="corrupt_image"
        ) from exc
    except (SyntaxError, ValueError, EOFError, IndexError, KeyError, struct.error) as exc:
        raise InvalidPhoto(
            f"the image data cannot be decoded ({exc})", code="corrupt_image"
        ) from exc
    return image


def verify(data: bytes | memoryview, components: int) -> tuple[int, int]:
    """Decode every scan strictly at 1/8 scale; return the decoded (width, height).

    Raises ``InvalidPhoto`` (``truncated`` or ``corrupt_image``) for any damage libjpeg
    notices, including what it would otherwise only warn about."""
    # the smallest scale libjpeg offers: 1/8
    pixels = _strict_decode(data, _VERIFY_COLOURSPACE.get(components, "RGB"), 1, 1)
    height, width = pixels.shape[:2]
    return int(width), int(height)


def decode_scaled(
    data: bytes | memoryview,
    header_size: tuple[int, int],
    at_least: tuple[int, int],
    grayscale: bool,
) -> Image.Image:
    """Decode an RGB or grayscale JPEG once, strictly, at the smallest DCT scale (n/8) whose
    size is still ``at_least`` (stored orientation), straight into a Pillow image.

    This is the verification and the decode in one pass: libjpeg-turbo reads every scan in
    strict mode (damage raises ``InvalidPhoto`` as in :func:`verify`) and writes only the
    scaled pixels, so a 12-megapixel photo headed for 1024 px never exists at full size and its
    entropy-coded data is decoded once, not twice. ``header_size`` is the frame header's
    (width, height): the decoded size must be that size at one of libjpeg's scales.
    CMYK/YCCK photos are not for this path (Pillow's Adobe handling and ICC conversion)."""
    from PIL import Image

    pixels = _strict_decode(data, "GRAY" if grayscale else "RGB", *at_least)
    height, width = (int(n) for n in pixels.shape[:2])
    if not _is_libjpeg_scale(header_size, (width, height)):
        raise InvalidPhoto(
            f"the image data does not match its {header_size[0]}x{header_size[1]} header",
            code="corrupt_image",
        )
    limit = Image.MAX_IMAGE_PIXELS
    if limit is not None and width * height > 2 * limit:  # what Pillow's decode would refuse
        raise InvalidPhoto(
            f"the image is too large to decode safely: {width}x{height} pixels",
            code="decompression_bomb",
        )
    if grayscale:
        return Image.fromarray(pixels.reshape(height, width), "L")
    return Image.fromarray(pixels, "RGB")


def icc_profile(data: bytes) -> bytes | None:
    """The ICC profile of a JPEG, read from its header the way Pillow reads it (no decode)."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data), formats=("JPEG",)) as image:
            icc = image.info.get("icc_profile")
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, struct.error):
        return None
    return icc if isinstance(icc, bytes) and icc else None


def _strict_decode(
    data: bytes | memoryview, colourspace: str, min_width: int, min_height: int
) -> Any:
    import simplejpeg

    try:
        return simplejpeg.decode_jpeg(
            data, colorspace=colourspace,
            min_width=min_width, min_height=min_height, strict=True,
        )
    except ValueError as exc:
        reason = str(exc).strip()
        if "premature end" in reason.lower():
            raise InvalidPhoto(
                f"the image data ends early ({reason}); the file was cut short",
                code="truncated",
            ) from exc
        raise InvalidPhoto(f"the image data is damaged ({reason})", code="corrupt_image") from exc


def libjpeg_scaled(size: tuple[int, int], n: int) -> tuple[int, int]:
    """``size`` decoded at libjpeg's scale n/8: each side rounded up, as libjpeg sizes its
    output."""
    width, height = size
    return ceil_div(width * n, 8), ceil_div(height * n, 8)


def strict_decode_size(size: tuple[int, int], at_least: tuple[int, int]) -> tuple[int, int]:
    """The size :func:`decode_scaled` decodes ``size`` at: the smallest scale n/8 that is
    still ``at_least`` on both sides (simplejpeg's choice, made before decoding)."""
    for n in range(1, 8):
        scaled = libjpeg_scaled(size, n)
        if scaled[0] >= min(at_least[0], size[0]) and scaled[1] >= min(at_least[1], size[1]):
            return scaled
    return size


def draft_size(size: tuple[int, int], draft_to: tuple[int, int] | None) -> tuple[int, int]:
    """The size :func:`decode` decodes ``size`` at: Pillow's draft mode picks the largest
    scale 1/2^k (k <= 3) with both sides still at least ``draft_to``."""
    if draft_to is None:
        return size
    ratio = min(size[0] // draft_to[0], size[1] // draft_to[1])
    scale = next(s for s in (8, 4, 2, 1) if ratio >= s or s == 1)
    return ceil_div(size[0], scale), ceil_div(size[1], scale)


def _is_libjpeg_scale(header: tuple[int, int], decoded: tuple[int, int]) -> bool:
    """True when ``decoded`` is ``header`` at one of libjpeg's scales n/8."""
    return any(libjpeg_scaled(header, n) == decoded for n in range(1, 9))


def to_rgb(image: Image.Image, adobe: bool) -> tuple[Image.Image, str]:
    """Convert a decoded CMYK/YCCK image to RGB; say how.

    Pillow decodes every 4-component JPEG as Adobe-style *inverted* CMYK, which is what
    Photoshop (and Pillow itself) write and what an Adobe APP14 marker announces. A CMYK JPEG
    without that marker stores plain CMYK, so it is inverted back first (as browsers do). The
    embedded ICC profile, when it is a usable CMYK profile, does the conversion to sRGB;
    otherwise the naive formula is used (colours may shift, but the photo stays usable).
    """
    from PIL import ImageChops, ImageCms

    icc = image.info.get("icc_profile")
    if not adobe:
        image = ImageChops.invert(image)
    if isinstance(icc, bytes) and icc:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            if source.profile.xcolor_space.strip() == "CMYK":
                converted = ImageCms.profileToProfile(
                    image, source, ImageCms.createProfile("sRGB"), outputMode="RGB"
                )
                if converted is not None:
                    return converted, "using its embedded ICC profile"
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
            pass
    return image.convert("RGB"), "with the standard formula (no usable CMYK ICC profile)"


def resize(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    from PIL import Image

    if image.size == size:
        return image
    return image.resize(size, Image.Resampling.LANCZOS)


def orient(image: Image.Image, orientation: int) -> Image.Image:
    from PIL import Image

    if orientation not in _ORIENTATIONS:
        return image
    return image.transpose(Image.Transpose[_ORIENTATIONS[orientation][0]])


def encode(image: Image.Image, quality: int, icc: bytes | None) -> bytes:
    """Baseline (sequential) JPEG, optimised Huffman tables, no metadata except ICC."""
    out = io.BytesIO()
    image.save(
        out, "JPEG", quality=quality, optimize=True, progressive=False, icc_profile=icc or None
    )
    return out.getvalue()
