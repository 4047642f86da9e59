"""Decide whether an HR photo can go to Microsoft 365, and make it upload-ready.

The order of checks is the point: everything that can be decided from the header (size caps,
decompression bombs, too-small photos, damaged data the segment walk can see) is decided
before a single pixel is decoded, so hostile or broken files cost almost nothing. Then the
photo is decoded exactly once: in full when it goes out untouched (to prove it decodes), or at
a reduced DCT scale straight towards its final size when it must be re-encoded (when one of
libjpeg's scales lands just under the size limit, that scale *is* the final size).

Photos are changed only when needed. A photo that is upright, YCbCr or grayscale, within the
size limits and a standard JPEG leaves with its compressed data byte-for-byte intact, only its
metadata (EXIF with GPS, XMP, IPTC, comments) stripped: no generation loss. Anything else is
re-encoded once, as a baseline JPEG at the policy quality, keeping its ICC profile.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from photo_core.domain.errors import InvalidPhoto
from photo_core.domain.sizes import file_too_large
from photo_core.photos import imaging_codec as codec
from photo_core.photos.jpeg import JpegInfo, read_structure
from photo_core.photos.jpeg_cost import Decode, DecodeCost, decode_cost
from photo_core.photos.jpeg_frame import ceil_div
from photo_core.photos.jpeg_strip import Stripped, strip_metadata

__all__ = ["Action", "ImagePolicy", "PreparedPhoto", "prepare_photo"]

_QUALITY_FLOOR = 60  # below this, shrinking the photo looks better than more artefacts
_QUALITY_STEP = 10
_SHRINK = 0.8
_MAX_ATTEMPTS = 16
# How much under ``max_side`` a downscaled photo may come out so that libjpeg's DCT scaling
# (n/8, applied while decoding) gets it there on its own: a 4000x3000 photo decoded at 2/8
# is 1000x750, which then needs no Lanczos pass to 1024x768 (that pass cost a 12-megapixel
# photo about 20 ms, over a fifth of its whole preparation). 10% does not show: the largest
# size Microsoft 365 serves profile photos at is 648 px (dialects.STANDARD_SIZES). Outside
# that band the photo is resampled to fit ``max_side`` exactly, as before.
_DCT_SCALE_SLACK = 0.10
# Decode-cost limits (docs/photo-checks.md, "Decode cost"): 200 MB of estimated working memory
# leaves room in a 256 MB share for the interpreter (about 50 MB); 140 million block decodes is
# under 2 s of CPU on the reference machine, twice a 24-megapixel progressive photo.
DEFAULT_MAX_DECODE_MB = 200
DEFAULT_MAX_DECODE_MEGABLOCKS = 140


@dataclass(frozen=True, slots=True)
class ImagePolicy:
    """Limits for accepted photos. Field names are the settings' names; see settings.py.

    ``max_side`` bounds the longest side of the *output*; ``max_pixels`` bounds the *input*
    header before any decode (decompression-bomb guard); ``min_side`` bounds the shorter side
    of the upright input. ``max_decode_bytes`` and ``max_decode_work`` bound what decoding it
    will cost, estimated from the header (:mod:`photo_core.photos.jpeg_cost`): the pixel count alone
    does not, since a progressive file holds all its coefficients and may have hundreds of
    scans. The defaults keep one photo within its share of a 2048 MB instance running 8 at once
    (256 MB) and about 2 s of CPU. Construction never fails (settings collect problems via
    :meth:`problems`); ``prepare_photo`` raises ``ValueError`` for a policy with problems.
    """

    min_side: int = 48
    max_side: int = 1024
    max_upload_bytes: int = 4 * 1024 * 1024
    max_pixels: int = 64_000_000
    jpeg_quality: int = 90
    max_input_bytes: int = 25 * 1024 * 1024
    max_decode_bytes: int = DEFAULT_MAX_DECODE_MB * 1024 * 1024
    max_decode_work: int = DEFAULT_MAX_DECODE_MEGABLOCKS * 1_000_000

    def problems(self) -> tuple[str, ...]:
        """Every inconsistency in this policy (empty when usable), for settings and the CLI
        to report all at once; ``prepare_photo`` refuses a policy that has any."""
        checks = (
            (self.min_side < 1, f"min_side must be at least 1 (got {self.min_side})"),
            (
                self.max_side < self.min_side,
                f"max_side ({self.max_side}) must be at least min_side ({self.min_side})",
            ),
            (
                self.max_upload_bytes < 1024,
                f"max_upload_bytes must be at least 1024 (got {self.max_upload_bytes})",
            ),
            (
                self.max_pixels < self.min_side**2,
                f"max_pixels ({self.max_pixels}) must allow a min_side x min_side photo",
            ),
            (
                not 1 <= self.jpeg_quality <= 100,
                f"jpeg_quality must be 1..100 (got {self.jpeg_quality})",
            ),
            (
                self.max_input_bytes < 1,
                f"max_input_bytes must be positive (got {self.max_input_bytes})",
            ),
            (
                self.max_decode_bytes < 1 or self.max_decode_work < 1,
                "max_decode_bytes and max_decode_work must be positive",
            ),
        )
        return tuple(text for bad, text in checks if bad)


@dataclass(frozen=True, slots=True)
class Action:
    """One change made to the photo: a stable ``code`` and a ``reason`` for humans."""

    code: str
    reason: str


@dataclass(frozen=True, slots=True)
class PreparedPhoto:
    """An upload-ready JPEG. ``width``/``height`` are the output's (upright); ``source_*`` are
    the input's as stored in its header (before EXIF orientation). ``sha256`` is hex, of
    ``data``. ``actions`` is empty when the input was already exactly upload-ready."""

    data: bytes = field(repr=False)
    width: int
    height: int
    source_width: int
    source_height: int
    actions: tuple[Action, ...]
    sha256: str


def prepare_photo(data: bytes, policy: ImagePolicy) -> PreparedPhoto:
    """Validate ``data`` as a profile photo and return it upload-ready, or raise InvalidPhoto.

    Pure: no I/O, no global state. See the module docstring for the order of decisions.
    Raises ``ValueError`` (a configuration error, not a photo problem) if ``policy`` has
    :meth:`ImagePolicy.problems`.
    """
    problems = policy.problems()
    if problems:
        raise ValueError("invalid image policy: " + "; ".join(problems))
    plan = _decide(data, policy)
    info, stripped = plan.info, plan.stripped
    if plan.refused is not None:
        _verify(stripped.source, info)  # damaged data is reported before a policy problem
        raise plan.refused
    if not plan.why:
        out = stripped.data
        _verify(out, info)  # every scan, strictly, at 1/8 scale: exactly the bytes sent
        return _prepared(out, (info.width, info.height), info, _strip_actions(stripped))
    return _reencode(stripped, info, policy, plan.actions, plan.why, plan.target)


def photo_cost(data: bytes, policy: ImagePolicy) -> DecodeCost:
    """What :func:`prepare_photo` will spend decoding ``data``, decided as it decides it: from
    the header, before any decode. Raises ``InvalidPhoto`` for what it refuses before
    decoding (the cost limits included); damage only a decoder finds is not looked for."""
    return _decide(data, policy).cost


@dataclass(frozen=True, slots=True)
class _Plan:
    """Everything decided before the first decode. ``refused`` is a policy problem found by
    the plan, raised once the data has been verified (a damaged file is reported as such)."""

    info: JpegInfo
    stripped: Stripped
    actions: list[Action]
    why: list[str]
    target: tuple[int, int]
    refused: InvalidPhoto | None
    cost: DecodeCost


def _decide(data: bytes, policy: ImagePolicy) -> _Plan:
    if len(data) > policy.max_input_bytes:
        raise file_too_large(len(data), policy.max_input_bytes)
    info = read_structure(data)
    _check_pixels(info, policy, len(data))  # the pixel cap first: a bomb is refused as a bomb
    _check_header(info, policy)
    _check_image_data(info)
    stripped = strip_metadata(data, info)
    try:
        actions, why, target = _plan(info, stripped.size, policy)
    except InvalidPhoto as refused:
        cost = check_decode_cost(info, None, policy, len(data))
        return _Plan(info, stripped, [], [], info.oriented_size, refused, cost)
    cost = check_decode_cost(info, target if why else None, policy, len(data))
    return _Plan(info, stripped, actions, why, target, None, cost)


def planned_cost(info: JpegInfo, target: tuple[int, int] | None, input_bytes: int
                 ) -> DecodeCost:
    """What the decodes :func:`prepare_photo` will run cost: the strict verification at 1/8
    alone (``target`` None: the photo goes out as it is), or the decode towards ``target``
    (upright output size) and the re-encode; CMYK/YCCK photos are verified, then decoded by
    Pillow in draft mode."""
    size = (info.width, info.height)
    cmyk = info.colour_space in ("cmyk", "ycck")
    verify = Decode(codec.libjpeg_scaled(size, 1), 4 if cmyk else 1)
    if target is None:  # the metadata-free copy is what is verified and sent
        return decode_cost(info, (verify,), None, 2 * input_bytes)
    stored = (target[1], target[0]) if info.orientation >= 5 else target
    if cmyk:  # Pillow decodes the metadata-free copy
        draft = codec.draft_size(size, stored if target != info.oriented_size else None)
        decodes: tuple[Decode, ...] = (verify, Decode(draft, 4, pillow=True))
        return decode_cost(info, decodes, target, 2 * input_bytes)
    channels = 1 if info.components == 1 else 3
    decodes = (Decode(codec.strict_decode_size(size, stored), channels),)
    copies = 2 if info.has_icc else 1  # the ICC profile is read from the copy
    return decode_cost(info, decodes, target, copies * input_bytes)


def check_decode_cost(info: JpegInfo, target: tuple[int, int] | None, policy: ImagePolicy,
                      input_bytes: int) -> DecodeCost:
    """Refuse a photo whose decode would cost more than the policy allows, from its header.

    Kept apart from the pixel cap (``too_many_pixels`` or ``decompression_bomb``, checked
    first): that one is about the size the header declares, this one about what the declared
    structure costs."""
    cost = planned_cost(info, target, input_bytes)
    if info.process == "progressive":
        kind = f"a progressive JPEG of {info.scans} scans"
    else:
        kind = f"a sequential JPEG of {info.scans} scan(s)"
    shape = f"{info.width}x{info.height} pixels, {info.components} colour component(s)"
    if cost.memory_bytes > policy.max_decode_bytes:
        fix = ("save it as a standard (baseline, not progressive) JPEG, or with fewer pixels"
               if info.process == "progressive" or info.scans > 1
               else "save it with fewer pixels")
        raise InvalidPhoto(
            f"decoding this photo would need about {_size(cost.memory_bytes)} of memory, over "
            f"the {_size(policy.max_decode_bytes)} limit ({kind}, {shape}); {fix}",
            code="decode_too_much_memory",
        )
    if cost.work > policy.max_decode_work:
        raise InvalidPhoto(
            f"decoding this photo would take about {cost.work / 1e6:.0f} million block "
            f"decodes, over the limit of {policy.max_decode_work / 1e6:g} million ({kind}, "
            f"{shape}); save it as a standard (baseline, not progressive) JPEG",
            code="decode_too_much_work",
        )
    return cost


def _verify(data: bytes | memoryview, info: JpegInfo) -> None:
    scaled = codec.verify(data, info.components)
    scale = codec.VERIFY_SCALE
    expected = (ceil_div(info.width, scale), ceil_div(info.height, scale))
    if scaled != expected:
        raise InvalidPhoto(
            f"the image data does not match its {info.width}x{info.height} header",
            code="corrupt_image",
        )


# A Huffman-coded JPEG spends at least one bit on every 8x8 block of every component (the code
# of its DC difference; arithmetic coding, which can spend less, is refused before this), and
# whatever the sampling, the components' blocks cover at least half the picture (9/16 at worst).
# So W x H pixels need at least W*H/1024 bytes of image data. libjpeg's most compressible photo,
# a flat grey one at quality 1 with optimised tables, takes four times that; a header-declared
# bomb's data is a thousandth of it or less.
_PIXELS_PER_IMAGE_BYTE = 1024


def _check_pixels(info: JpegInfo, policy: ImagePolicy, size: int) -> None:
    """The pixel cap, from the header alone (nothing over it is decoded). A real photo over it
    is ``too_many_pixels``; ``decompression_bomb`` is for a header declaring more pixels than
    its image data could ever hold."""
    if info.pixels <= policy.max_pixels:
        return
    declared = (f"{info.width}x{info.height} pixels ({info.pixels / 1e6:.1f} megapixels), over "
                f"the {policy.max_pixels / 1e6:g} megapixel limit (PHOTO_MAX_PIXELS)")
    image_bytes = max(0, (info.eoi_offset or size) - info.scan_offset)
    least = info.pixels // _PIXELS_PER_IMAGE_BYTE
    if image_bytes < least:
        raise InvalidPhoto(
            f"the header declares {declared}, but the file holds only {image_bytes:,} bytes of "
            f"image data where a JPEG that size needs at least {least:,}: a decompression "
            "bomb, not a photo; it was not decoded",
            code="decompression_bomb",
        )
    raise InvalidPhoto(
        f"the photo is {declared}; it was not decoded: export it at a smaller size (profile "
        "photos are shown at 648x648 at most) before dropping it",
        code="too_many_pixels",
    )


def _check_header(info: JpegInfo, policy: ImagePolicy) -> None:
    width, height = info.oriented_size
    if min(width, height) < policy.min_side:
        raise InvalidPhoto(
            f"the photo is {width}x{height} pixels; both sides must be at least "
            f"{policy.min_side} px",
            code="too_small",
        )
    if info.precision != 8:
        raise InvalidPhoto(
            f"this is a {info.precision}-bit JPEG, which cannot be converted here; export "
            "it as a standard 8-bit JPEG",
            code="unsupported_jpeg",
        )


def _check_image_data(info: JpegInfo) -> None:
    if info.problem is not None:
        raise InvalidPhoto(info.problem.message, code=info.problem.code)
    if info.eoi_offset is None:
        raise InvalidPhoto(
            "the file ends inside the image data (no end-of-image marker); it was cut short "
            "while copying or uploading",
            code="truncated",
        )
    if not info.scans_complete:
        raise InvalidPhoto(
            f"the image data is incomplete: after {info.scans} scan(s) the file ends although "
            "parts of the image were never sent; it was cut short",
            code="truncated",
        )


def _plan(
    info: JpegInfo, stripped_size: int, policy: ImagePolicy
) -> tuple[list[Action], list[str], tuple[int, int]]:
    """From the header alone: actions so far, why a re-encode is needed, upright target."""
    actions: list[Action] = []
    why: list[str] = []
    if info.orientation != 1:
        story = codec.orientation_story(info.orientation)
        actions.append(Action("rotated", f"EXIF orientation {info.orientation}: {story}"))
        why.append("apply the orientation")
    if info.colour_space in ("cmyk", "ycck"):
        why.append("convert it to RGB")
    elif info.colour_space == "rgb":
        why.append("store it as standard YCbCr (it was RGB-coded)")
    if info.process == "extended":
        why.append("make it baseline (it was extended-sequential)")
    width, height = target = info.oriented_size
    if max(width, height) > policy.max_side:
        target = _fit(target, policy.max_side)
        if min(target) < policy.min_side:
            raise InvalidPhoto(
                f"the photo is {width}x{height}; scaled to {policy.max_side} px on its longest "
                f"side it would be {target[0]}x{target[1]}, under {policy.min_side} px; crop it",
                code="extreme_aspect_ratio",
            )
        if info.colour_space not in ("cmyk", "ycck"):  # Pillow decodes those, at 1/2^k only
            target = _dct_scaled(info.oriented_size, policy) or target
        actions.append(
            Action(
                "downscaled",
                f"{width}x{height} is over the {policy.max_side} px longest side; "
                f"scaled to {target[0]}x{target[1]}",
            )
        )
        why.append("downscale it")
    elif stripped_size > policy.max_upload_bytes:
        why.append(
            f"bring {_size(stripped_size)} under the {_size(policy.max_upload_bytes)} upload limit"
        )
    return actions, why, target


def _reencode(
    stripped: Stripped,
    info: JpegInfo,
    policy: ImagePolicy,
    actions: list[Action],
    why: list[str],
    target: tuple[int, int],
) -> PreparedPhoto:
    def stored(size: tuple[int, int]) -> tuple[int, int]:
        return (size[1], size[0]) if info.orientation >= 5 else size

    planned = target
    cmyk = info.colour_space in ("cmyk", "ycck")
    icc: bytes | None = None  # a CMYK profile does not describe the RGB result: none kept
    if cmyk:  # Pillow: Adobe inversion and CMYK ICC conversion; verified strictly first
        _verify(stripped.data, info)
        image = codec.decode(stripped.data,
                             stored(target) if target != info.oriented_size else None)
    else:  # one strict libjpeg-turbo pass: verification and decode at the needed scale
        image = codec.decode_scaled(stripped.source, (info.width, info.height), stored(target),
                                    grayscale=info.components == 1)
        icc = codec.icc_profile(stripped.data) if info.has_icc else None
    if image.width < stored(target)[0] or image.height < stored(target)[1]:
        raise InvalidPhoto(
            f"the image decodes as {image.size}, not as its header says", code="corrupt_image"
        )
    if cmyk:
        image, how = codec.to_rgb(image, adobe=info.adobe_transform is not None)
        label = "CMYK" if info.colour_space == "cmyk" else "YCCK (Adobe CMYK)"
        actions.append(Action("converted_to_rgb", f"{label} JPEG converted to RGB {how}"))
    elif image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    quality = policy.jpeg_quality
    floor = min(_QUALITY_FLOOR, quality)
    upright = codec.orient(codec.resize(image, stored(target)), info.orientation)
    for _ in range(_MAX_ATTEMPTS):
        out = codec.encode(upright, quality, icc)
        if len(out) <= policy.max_upload_bytes:
            break
        if quality > floor:  # first trade quality, down to the floor ...
            quality = max(floor, quality - _QUALITY_STEP)
            continue
        target = _fit(target, int(max(target) * _SHRINK))  # ... then pixels
        if min(target) < policy.min_side:
            break
        upright = codec.orient(codec.resize(image, stored(target)), info.orientation)
    if len(out) > policy.max_upload_bytes:
        raise InvalidPhoto(
            f"the photo cannot be made smaller than {_size(policy.max_upload_bytes)} without "
            f"going under {policy.min_side} px; export it as a simpler, smaller JPEG",
            code="cannot_fit",
        )
    limit = _size(policy.max_upload_bytes)
    if target != planned:
        actions = [a for a in actions if a.code != "downscaled"]
        width, height = info.oriented_size
        actions.append(
            Action(
                "downscaled",
                f"{width}x{height} scaled to {target[0]}x"
                f"{target[1]} to fit the {limit} upload limit",
            )
        )
    if quality != policy.jpeg_quality:
        actions.append(
            Action(
                "quality_reduced",
                f"quality {policy.jpeg_quality} came out over "
                f"the {limit} upload limit; used quality {quality}",
            )
        )
    actions.append(
        Action(
            "reencoded", f"re-encoded as a baseline JPEG at quality {quality} to " + ", ".join(why)
        )
    )
    return _prepared(out, target, info, (*actions, *_strip_actions(stripped)))


def _strip_actions(stripped: Stripped) -> tuple[Action, ...]:
    actions = []
    if stripped.removed:
        actions.append(Action("metadata_stripped", "removed " + ", ".join(stripped.removed)))
    if stripped.trailing_bytes_removed:
        actions.append(
            Action(
                "trailing_bytes_removed",
                f"removed {stripped.trailing_bytes_removed} bytes after the end-of-image marker",
            )
        )
    return tuple(actions)


def _prepared(
    out: bytes, size: tuple[int, int], info: JpegInfo, actions: tuple[Action, ...]
) -> PreparedPhoto:
    return PreparedPhoto(
        data=out,
        width=size[0],
        height=size[1],
        source_width=info.width,
        source_height=info.height,
        actions=actions,
        sha256=hashlib.sha256(out).hexdigest(),
    )


def _dct_scaled(size: tuple[int, int], policy: ImagePolicy) -> tuple[int, int] | None:
    """The largest libjpeg scale of ``size`` (n/8, sides rounded up as libjpeg does) that fits
    ``policy.max_side``, if it is within ``_DCT_SCALE_SLACK`` of it and keeps ``min_side``:
    decoding at that scale gives the output size directly, with no resample.

    1/8 is left out: there libjpeg keeps only each 8x8 block's average (its DC coefficient), a
    box filter that looks soft and aliased next to Lanczos; from 2/8 up the scaled inverse DCT
    still draws on the low-frequency AC coefficients."""
    for n in range(7, 1, -1):
        scaled = codec.libjpeg_scaled(size, n)
        if max(scaled) <= policy.max_side:
            close = max(scaled) >= policy.max_side * (1 - _DCT_SCALE_SLACK)
            return scaled if close and min(scaled) >= policy.min_side else None
    return None


def _fit(size: tuple[int, int], longest: int) -> tuple[int, int]:
    """Scale ``size`` so its longest side is ``longest``, keeping the aspect ratio (rounded)."""
    width, height = size
    if width >= height:
        return longest, max(1, (height * longest + width // 2) // width)
    return max(1, (width * longest + height // 2) // height), longest


def _size(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.1f} MB"
    if n >= 1024:
        return f"{n / 1024:.0f} KB"
    return f"{n} bytes"
