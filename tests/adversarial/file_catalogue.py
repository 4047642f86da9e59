"""The catalogue of bad and tricky FILES dropped as ``jane.doe@contoso.com.jpg``.

Every entry is built in code (no binary files in the repository), deterministically, from the
shared corpus in ``tests/unit/jpeg_corpus.py`` plus byte surgery written here. Each says what
photo-sync must do with it under the default ``ImagePolicy``:

* ``reject`` with a reason code (the ``InvalidPhoto.code``, and the recorded outcome's reason);
* ``accept`` with the output size (upright) and a subset of the action codes it must report.

``bug`` names a product defect the entry currently exposes (see docs/adversarial.md); such an
entry's tests fail until the product is fixed, and they are meant to.
"""

from __future__ import annotations

import base64
import io
import json
import random
import struct
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Literal

from PIL import Image

from tests.adversarial import cost_files as costly
from tests.unit import jpeg_corpus as corpus

Verdict = Literal["accept", "reject"]

MIB = 1024 * 1024
SOI, EOI = b"\xff\xd8", b"\xff\xd9"
SOF0, DHT, DQT, SOS, DRI, COM = 0xC0, 0xC4, 0xDB, 0xDA, 0xDD, 0xFE

BUG_EMPTY_HUFFMAN = "B1"  # regression: ValueError escaped on a Huffman table with no codes
BUG_SILENT_DAMAGE = "B2"  # regression: damaged scan data was uploaded (libjpeg warnings ignored)
BUG_ZERO_QUANT = "B3"  # regression: a quantisation table of zeros was accepted
BUG_DECODE_COST = "B5"  # regression: cheap files that cost gigabytes or minutes were decoded


@dataclass(frozen=True)
class FileCase:
    """One catalogue entry; ``build`` returns the file's bytes."""

    id: str
    what: str
    build: Callable[[], bytes] = field(repr=False)
    verdict: Verdict
    reason: str | None = None
    size: tuple[int, int] | None = None
    actions: frozenset[str] = frozenset()
    upright_drawing: bool = False  # output shows corpus.drawing's corners the right way up
    bug: str | None = None

    @property
    def spec(self) -> str:
        """The entry as a sentence-like test id."""
        if self.verdict == "reject":
            return f"{self.id}_is_rejected_as_{self.reason}"
        assert self.size is not None
        return f"{self.id}_is_accepted_as_{self.size[0]}x{self.size[1]}"


def reject(
    id: str, what: str, build: Callable[[], bytes], reason: str, *, bug: str | None = None
) -> FileCase:
    return FileCase(id, what, build, "reject", reason=reason, bug=bug)


def accept(
    id: str,
    what: str,
    build: Callable[[], bytes],
    size: tuple[int, int],
    actions: Sequence[str] = (),
    *,
    upright_drawing: bool = False,
    bug: str | None = None,
) -> FileCase:
    return FileCase(
        id,
        what,
        build,
        "accept",
        size=size,
        actions=frozenset(actions),
        upright_drawing=upright_drawing,
        bug=bug,
    )


# --- builders -------------------------------------------------------------------------------


@cache
def photo() -> bytes:
    """The reference photo: corpus.baseline(), 320x240, JFIF, no restart markers."""
    return corpus.baseline()


def segment(marker: int, payload: bytes) -> bytes:
    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


def span(marker: int, data: bytes | None = None) -> tuple[int, int]:
    """(offset, end) of the first header segment with ``marker``."""
    data = photo() if data is None else data
    return next((start, end) for m, start, end in corpus.header_segments(data) if m == marker)


def cut_into(marker: int, into: int) -> Callable[[], bytes]:
    """The photo cut ``into`` bytes after the start of its first ``marker`` segment."""
    return lambda: photo()[: span(marker)[0] + into]


def huffman_tables(data: bytes) -> list[tuple[int, int, bytes, bytes]]:
    """(class, id, counts, symbols) of every table in every header DHT segment."""
    tables = []
    for marker, start, end in corpus.header_segments(data):
        pos = start + 4
        while marker == DHT and pos < end:
            counts = data[pos + 1 : pos + 17]
            symbols = data[pos + 17 : pos + 17 + sum(counts)]
            tables.append((data[pos] >> 4, data[pos] & 0x0F, counts, symbols))
            pos += 17 + sum(counts)
    return tables


def with_huffman_tables(data: bytes, tables: list[tuple[int, int, bytes, bytes]]) -> bytes:
    """Drop every DHT segment and put ``tables`` in one DHT segment where the first was."""
    payload = b"".join(bytes((tc << 4 | th,)) + c + s for tc, th, c, s in tables)
    first = span(DHT, data)[0]
    rest = corpus.remove_segments(data, DHT)
    return rest[:first] + segment(DHT, payload) + rest[first:]


def empty_dc_table() -> bytes:
    """DC table 0, used by the luma component, redefined with no codes at all."""
    tables = [(0, 0, bytes(16), b"") if t[:2] == (0, 0) else t for t in huffman_tables(photo())]
    return with_huffman_tables(photo(), tables)


def ac_symbols_reversed() -> bytes:
    """Every AC table keeps its code lengths but lists its symbols in reverse: a structurally
    valid table that decodes the scan into nonsense (libjpeg: "bad Huffman code")."""
    tables = [
        (tc, th, c, s[::-1] if tc == 1 else s) for tc, th, c, s in huffman_tables(photo())
    ]
    return with_huffman_tables(photo(), tables)


def huffman_byte(offset_in_table: int, value: int) -> Callable[[], bytes]:
    """Set one byte of the first DHT table (0 = class/id, 1..16 = counts, 17.. = symbols)."""

    def build() -> bytes:
        data = bytearray(photo())
        data[span(DHT)[0] + 4 + offset_in_table] = value
        return bytes(data)

    return build


def quant_bytes(offset_in_segment: int, value: bytes) -> Callable[[], bytes]:
    """Overwrite bytes of the first DQT segment (0..1 = marker, 2..3 = length, 4 = Pq/Tq)."""

    def build() -> bytes:
        data = bytearray(photo())
        start = span(DQT)[0] + offset_in_segment
        data[start : start + len(value)] = value
        return bytes(data)

    return build


def scan_cut_and_eoi_patched() -> bytes:
    """Cut halfway through the scan of a photo without restart markers, then EOI appended,
    as a careless repair tool or a resumed upload would leave it."""
    return corpus.cut_scan_and_patch_eoi(photo(), 0.5)


def restart_markers_removed() -> bytes:
    """A restart interval is declared but every RSTn marker was removed from the scan."""
    data = corpus.with_restarts()
    start = corpus.scan_data_start(data)
    scan = bytearray(data[start:-2])
    for code in range(0xD0, 0xD8):
        scan = scan.replace(bytes((0xFF, code)), b"")
    return data[:start] + bytes(scan) + EOI


@cache
def honest_gray(width: int, height: int) -> bytes:
    """A real (fully coded) grayscale gradient JPEG of this size; big sizes stay small."""
    return corpus.encode(Image.linear_gradient("L").resize((width, height)), quality=75)


@cache
def noisy_6000x4000() -> bytes:
    """A 24-megapixel camera-like photo over 4 MB (noise compresses badly)."""
    data = corpus.noisy((6000, 4000), quality=90)
    assert 4 * MIB < len(data) < 25 * MIB
    return data


def bomb(width: int, height: int, garbage: bool = False) -> Callable[[], bytes]:
    """A 64x48 photo whose frame header claims ``width`` x ``height``."""

    def build() -> bytes:
        data = corpus.set_size(corpus.baseline((64, 48)), width, height)
        if garbage:
            start = corpus.scan_data_start(data)
            data = data[:start] + random.Random(11).randbytes(50_000)
        return data

    return build


def zip_archive() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("payload/readme.txt", "not a photo\n" * 20)
    return out.getvalue()


def exif_tiff(
    entries: Sequence[tuple[int, int, int, int]],
    *,
    ifd: int = 8,
    count: int | None = None,
    next_ifd: int = 0,
) -> bytes:
    """An APP1 EXIF payload, big-endian TIFF: IFD0 at ``ifd`` with (tag, type, count, value)
    entries (value left-justified in its 4 bytes, as a SHORT is), ``count`` overriding the
    declared number of entries, and ``next_ifd`` as the next-IFD pointer."""
    body = struct.pack(">H", len(entries) if count is None else count)
    for tag, kind, n, value in entries:
        packed = struct.pack(">HH", value, 0) if kind == 3 else struct.pack(">I", value)
        body += struct.pack(">HHI", tag, kind, n) + packed
    body += struct.pack(">I", next_ifd)
    header = b"MM\x00*" + struct.pack(">I", ifd)
    return b"Exif\x00\x00" + header + (body if ifd == 8 else b"")


ORIENTATION, EXIF_IFD, GPS_IFD = 0x0112, 0x8769, 0x8825
SHORT, LONG = 3, 4


def stored_for(orientation: int, upright: tuple[int, int] = (240, 160)) -> Image.Image:
    """The stored pixels a camera writes so that ``orientation`` shows corpus.drawing upright
    (the inverse transposes corpus.oriented uses)."""
    inverse = {
        1: None,
        3: Image.Transpose.ROTATE_180,
        6: Image.Transpose.ROTATE_90,
    }[orientation]
    image = corpus.drawing(upright)
    return image if inverse is None else image.transpose(inverse)


def with_exif(image: Image.Image, payload: bytes) -> bytes:
    return corpus.insert_segment(corpus.encode(image), 0xE1, payload)


def looping_exif() -> bytes:
    """Orientation 6, with the EXIF and GPS sub-IFD pointers and the next-IFD pointer all
    pointing back at IFD0 itself: a reader that follows them never ends."""
    payload = exif_tiff(
        [(ORIENTATION, SHORT, 1, 6), (EXIF_IFD, LONG, 1, 8), (GPS_IFD, LONG, 1, 8)], next_ifd=8
    )
    return with_exif(stored_for(6), payload)


def app_segments(count: int, marker: int = 0xE4) -> Callable[[], bytes]:
    """The photo with ``count`` small APPn segments after its JFIF header."""

    def build() -> bytes:
        start = span(0xE0)[1]
        block = segment(marker, b"Ducky\x00") * count
        return photo()[:start] + block + photo()[start:]

    return build


def with_app(payload_and_length: bytes) -> Callable[[], bytes]:
    """An APP5 segment with a hand-written length field (and payload) right after SOI."""
    return lambda: SOI + b"\xff\xe5" + payload_and_length + photo()[2:]


def hand_written_gray(precision: int, side: int = 48) -> bytes:
    """A complete flat-gray ``side`` x ``side`` grayscale JPEG assembled by hand, so that the
    sample precision can be 12 (Pillow cannot write 12-bit JPEGs). Each Huffman table has a
    single 1-bit code (DC: difference size 0; AC: end of block), so every 8x8 block is the two
    bits 00 and the scan data is side*side/64*2 zero bits. With precision 8 the same bytes are
    an ordinary JPEG Pillow decodes, which proves the construction."""
    assert side % 8 == 0
    frame = struct.pack(">BHHB", precision, side, side, 1) + b"\x01\x11\x00"
    one_code = bytes((1,)) + bytes(15)
    blocks = (side // 8) ** 2
    return (
        SOI
        + segment(DQT, b"\x00" + b"\x01" * 64)
        + segment(0xC1, frame)
        + segment(DHT, b"\x00" + one_code + b"\x00" + b"\x10" + one_code + b"\x00")
        + segment(SOS, b"\x01\x01\x00\x00\x3f\x00")
        + bytes(-(-2 * blocks // 8))
        + EOI
    )


def oriented(orientation: int) -> Callable[[], bytes]:
    return lambda: corpus.oriented(orientation)


def sof_byte(index: int, value: int, marker: int = SOF0) -> Callable[[], bytes]:
    """Set byte ``index`` of the frame header payload, after changing its marker."""
    return lambda: corpus.set_sof_byte(corpus.set_marker(photo(), SOF0, marker), index, value)


# --- the catalogue --------------------------------------------------------------------------

UPRIGHT = (240, 160)
ROTATED = ("rotated", "reencoded", "metadata_stripped")

FILES: tuple[FileCase, ...] = (
    # truncated at every stage of the file
    reject("cut_inside_soi", "only the first byte (FF) of the SOI marker", lambda: b"\xff",
           "not_jpeg"),
    reject("cut_after_soi", "SOI and nothing else", lambda: SOI, "truncated_header"),
    reject("cut_inside_app0", "cut 8 bytes into the JFIF APP0 segment", cut_into(0xE0, 8),
           "truncated_header"),
    reject("cut_inside_dqt", "cut 30 bytes into the first quantisation table",
           cut_into(DQT, 30), "truncated_header"),
    reject("cut_inside_dht", "cut 20 bytes into the first Huffman table", cut_into(DHT, 20),
           "truncated_header"),
    reject("cut_inside_sof", "cut 8 bytes into the frame header", cut_into(SOF0, 8),
           "truncated_header"),
    reject("cut_inside_sos_header", "cut 6 bytes into the scan header", cut_into(SOS, 6),
           "truncated_header"),
    reject("cut_mid_scan", "cut at 60% of the file, inside the entropy-coded data",
           lambda: corpus.cut(photo(), 0.6), "truncated"),
    reject("cut_mid_progressive_scan", "progressive photo cut at 60%",
           lambda: corpus.cut(corpus.progressive(), 0.6), "truncated"),
    reject("cut_just_before_eoi", "the last byte (D9 of EOI) missing",
           lambda: photo()[:-1], "truncated"),
    reject("eoi_missing", "the EOI marker missing, scan data complete",
           lambda: photo()[:-2], "truncated"),
    reject("cut_mid_scan_eoi_patched", "cut halfway through the scan, EOI appended "
           "(no restart markers to count)", scan_cut_and_eoi_patched, "truncated",
           bug=BUG_SILENT_DAMAGE),
    reject("cut_restart_scan_eoi_patched", "restart-marker photo cut mid-scan, EOI appended",
           lambda: corpus.cut_scan_and_patch_eoi(corpus.with_restarts()), "truncated"),
    reject("header_larger_than_data", "320x240 scan data under a frame header claiming "
           "640x480", lambda: corpus.set_size(photo(), 640, 480), "truncated",
           bug=BUG_SILENT_DAMAGE),
    # Huffman tables
    reject("dht_over_full", "a DC table claiming 200 codes of length 2 (only 3 fit)",
           corpus.corrupt_huffman_table, "corrupt_header"),
    reject("dht_empty_dc_table", "luma DC table redefined with 16 zero counts: no codes",
           empty_dc_table, "corrupt_header", bug=BUG_EMPTY_HUFFMAN),
    reject("dht_ac_symbols_reversed", "valid code lengths, AC symbols in reverse order: "
           "the scan decodes to nonsense", ac_symbols_reversed, "corrupt_image",
           bug=BUG_SILENT_DAMAGE),
    reject("dht_class_2", "table class 2 (only 0 = DC and 1 = AC exist)",
           huffman_byte(0, 0x20), "corrupt_header"),
    reject("dht_table_id_7", "table id 7 (0..3 exist)", huffman_byte(0, 0x07),
           "corrupt_header"),
    reject("dht_dc_symbol_over_15", "a DC symbol of 0x40 (DC sizes are 0..15)",
           huffman_byte(17, 0x40), "corrupt_header"),
    # quantisation tables
    reject("dqt_precision_2", "Pq = 2 (only 8- and 16-bit tables exist)",
           quant_bytes(4, b"\x20"), "corrupt_header"),
    reject("dqt_table_id_5", "Tq = 5 (0..3 exist)", quant_bytes(4, b"\x05"), "corrupt_header"),
    reject("dqt_length_short", "DQT length 60: too short for one 64-entry table",
           quant_bytes(2, struct.pack(">H", 60)), "corrupt_header"),
    reject("dqt_undefined_table", "the frame uses table 3, never defined",
           corpus.undefined_quant_table, "corrupt_image"),
    reject("dqt_all_zero", "table 0 with 64 zero entries (T.81 requires 1..255): every "
           "coefficient dequantises to 0", quant_bytes(5, bytes(64)), "corrupt_header",
           bug=BUG_ZERO_QUANT),
    # frame header: bombs, zero sizes, unsupported coding
    reject("bomb_60000x60000", "64x48 data, header claims 60000x60000 (3.6 gigapixels)",
           bomb(60000, 60000), "decompression_bomb"),
    reject("bomb_65535x65535", "header claims the JPEG maximum, 65535x65535",
           bomb(65535, 65535), "decompression_bomb"),
    reject("bomb_65535x65535_garbage_data", "65535x65535 header, 50 KB of random scan data",
           bomb(65535, 65535, garbage=True), "decompression_bomb"),
    reject("bomb_just_over_max_pixels", "header claims 8000x8001 = max_pixels + 8000",
           bomb(8000, 8001), "decompression_bomb"),
    accept("pixels_exactly_max", "a real 8000x8000 photo: exactly max_pixels (inclusive)",
           lambda: honest_gray(8000, 8000), (1024, 1024), ("downscaled", "reencoded")),
    accept("pixels_just_under_max", "a real 7999x8000 photo, just under max_pixels",
           lambda: honest_gray(7999, 8000), (1024, 1024), ("downscaled", "reencoded")),
    reject("zero_width", "frame header width 0", lambda: corpus.set_size(photo(), 0, 240),
           "zero_dimension"),
    reject("zero_height", "frame header height 0 (would need a DNL marker)",
           lambda: corpus.set_size(photo(), 320, 0), "zero_dimension"),
    reject("twelve_bit_patched", "a photo's frame header patched to SOF1 with 12-bit precision",
           sof_byte(0, 12, 0xC1), "unsupported_jpeg"),
    reject("twelve_bit_genuine", "a real 12-bit 48x48 grayscale JPEG, assembled by hand (Pillow "
           "cannot write 12-bit)", lambda: hand_written_gray(12), "unsupported_jpeg"),
    reject("sixteen_bit", "16-bit sample precision", sof_byte(0, 16, 0xC1), "unsupported_jpeg"),
    reject("two_components", "frame with 2 colour components", sof_byte(5, 2),
           "corrupt_header"),
    reject("lossless_sof3", "lossless JPEG (SOF3)",
           lambda: corpus.set_marker(photo(), SOF0, 0xC3), "unsupported_jpeg"),
    reject("arithmetic_sof9", "arithmetic-coded JPEG (SOF9)",
           lambda: corpus.set_marker(photo(), SOF0, 0xC9), "unsupported_jpeg"),
    reject("no_frame_header", "the SOF segment removed: scan data before any frame",
           lambda: corpus.remove_segments(photo(), SOF0), "no_frame_header"),
    reject("second_frame_header", "the SOF segment twice",
           lambda: corpus.duplicate_segment(photo(), SOF0), "corrupt_header"),
    # other formats renamed .jpg
    reject("png_renamed_jpg", "a PNG image", lambda: corpus.other_format("PNG"), "not_jpeg"),
    reject("gif_renamed_jpg", "a GIF image", lambda: corpus.other_format("GIF"), "not_jpeg"),
    reject("webp_renamed_jpg", "a WebP image", lambda: corpus.other_format("WEBP"), "not_jpeg"),
    reject("bmp_renamed_jpg", "a BMP image", lambda: corpus.other_format("BMP"), "not_jpeg"),
    reject("tiff_renamed_jpg", "a TIFF image", lambda: corpus.other_format("TIFF"), "not_jpeg"),
    reject("pdf_renamed_jpg", "a PDF document", lambda: corpus.PDF, "not_jpeg"),
    reject("heic_renamed_jpg", "an ISO-BMFF ftyp box with brand heic",
           lambda: corpus.HEIC, "not_jpeg"),
    reject("avif_renamed_jpg", "an ISO-BMFF ftyp box with brand avif",
           lambda: corpus.AVIF_HEADER, "not_jpeg"),
    reject("zip_renamed_jpg", "a ZIP archive", zip_archive, "not_jpeg"),
    reject("html_renamed_jpg", "an HTML error page", lambda: corpus.HTML, "not_jpeg"),
    reject("plain_text_renamed_jpg", "a line of plain text",
           lambda: b"Photo for Jane Doe, see attachment.\r\n", "not_jpeg"),
    reject("base64_jpeg_renamed_jpg", "a JPEG written out as base64 text", corpus.base64_jpeg,
           "not_jpeg"),
    reject("json_with_base64_jpeg", "a JSON document carrying the photo as base64",
           lambda: json.dumps({"photo": base64.b64encode(corpus.baseline((64, 48))).decode()})
           .encode(), "not_jpeg"),
    reject("empty_file", "0 bytes", lambda: b"", "empty_file"),
    reject("single_byte", "one byte, 'A'", lambda: b"A", "not_jpeg"),
    # polyglots and trailing bytes
    accept("jpeg_then_zip", "the photo followed by a ZIP archive (a JPEG+ZIP polyglot)",
           lambda: photo() + zip_archive(), (320, 240), ("trailing_bytes_removed",)),
    accept("jpeg_then_html", "the photo followed by an HTML page with a script",
           lambda: photo() + corpus.HTML + b"<script>alert(1)</script>", (320, 240),
           ("trailing_bytes_removed",)),
    reject("html_then_jpeg", "an HTML page with the photo after it", lambda: corpus.HTML +
           photo(), "not_jpeg"),
    reject("pdf_with_jpeg_inside", "a PDF whose body holds the photo",
           lambda: corpus.PDF + photo() + b"\n%%EOF\n", "not_jpeg"),
    reject("gifar", "a GIF followed by a ZIP (JAR) archive",
           lambda: corpus.other_format("GIF") + zip_archive(), "not_jpeg"),
    accept("trailing_bytes_small", "16 random bytes after EOI",
           lambda: photo() + random.Random(1).randbytes(16), (320, 240),
           ("trailing_bytes_removed",)),
    accept("trailing_bytes_megabytes", "5 MiB of random bytes after EOI",
           lambda: photo() + random.Random(2).randbytes(5 * MIB), (320, 240),
           ("trailing_bytes_removed",)),
    # colour spaces and coding processes
    accept("cmyk_adobe_inverted", "Adobe CMYK (inverted data, APP14 transform 0)", corpus.cmyk,
           (96, 64), ("converted_to_rgb", "reencoded")),
    accept("cmyk_plain_no_adobe", "plain CMYK without an Adobe marker",
           corpus.cmyk_without_adobe, (96, 64), ("converted_to_rgb", "reencoded")),
    accept("ycck_adobe", "Adobe YCCK (APP14 transform 2)", corpus.ycck, (96, 64),
           ("converted_to_rgb", "reencoded")),
    accept("grayscale", "one-component grayscale", corpus.grayscale, (320, 240)),
    accept("progressive", "progressive JPEG, 10 scans", corpus.progressive, (320, 240)),
    accept("extended_sequential", "SOF1 frame, 8-bit",
           lambda: corpus.set_marker(photo(), SOF0, 0xC1), (320, 240), ("reencoded",)),
    # EXIF orientation: every value, and hostile EXIF blocks
    *(
        accept(f"exif_orientation_{o}", f"EXIF orientation {o}: stored so that applying it "
               "gives the upright drawing", oriented(o), UPRIGHT,
               ROTATED if o > 1 else ("metadata_stripped",), upright_drawing=True)
        for o in range(1, 9)
    ),
    accept("exif_ifd_offset_huge", "EXIF IFD0 offset 0xFFFFFFF0, far past the segment",
           lambda: with_exif(stored_for(1), exif_tiff([], ifd=0xFFFFFFF0)), UPRIGHT,
           ("metadata_stripped",), upright_drawing=True),
    accept("exif_ifd_loop", "orientation 6; sub-IFD, GPS and next-IFD pointers loop back to "
           "IFD0", looping_exif, UPRIGHT, ROTATED, upright_drawing=True),
    accept("exif_entry_count_65535", "IFD0 declares 65535 entries, holds one (orientation 3)",
           lambda: with_exif(stored_for(3), exif_tiff([(ORIENTATION, SHORT, 1, 3)],
                                                      count=0xFFFF)),
           UPRIGHT, ROTATED, upright_drawing=True),
    accept("exif_orientation_9", "orientation 9 (not a valid value): ignored",
           lambda: with_exif(stored_for(1), exif_tiff([(ORIENTATION, SHORT, 1, 9)])), UPRIGHT,
           ("metadata_stripped",), upright_drawing=True),
    # APPn and COM segments
    reject("app_length_past_end", "APP5 declaring 65535 bytes, more than the whole file",
           with_app(b"\xff\xff"), "truncated_header"),
    reject("app_length_zero", "APP5 declaring length 0", with_app(b"\x00\x00"),
           "corrupt_header"),
    reject("app_length_one", "APP5 declaring length 1", with_app(b"\x00\x01"),
           "corrupt_header"),
    accept("app_segments_3000", "3000 APP4 segments", app_segments(3000), (320, 240),
           ("metadata_stripped",)),
    reject("app_segments_5000", "5000 APP4 segments (over the 4096-segment limit)",
           app_segments(5000), "corrupt_header"),
    accept("comment_64k", "a COM segment of the maximum 65533 bytes",
           lambda: corpus.insert_segment(photo(), COM, b"<" * 65533), (320, 240),
           ("metadata_stripped",)),
    accept("app_payload_all_ff", "an APP9 segment of 1000 0xFF bytes (fill-byte look-alike)",
           lambda: corpus.insert_segment(photo(), 0xE9, b"\xff" * 1000), (320, 240),
           ("metadata_stripped",)),
    # restart markers
    reject("restart_markers_out_of_order", "RST0 replaced by RST3",
           corpus.restarts_out_of_order, "corrupt_image"),
    reject("restart_markers_removed", "restart interval declared, every RSTn removed",
           restart_markers_removed, "truncated"),
    # size
    accept("huge_noisy_6000x4000", "24-megapixel noisy photo over 4 MB", noisy_6000x4000,
           (1024, 683), ("downscaled", "reencoded")),
    reject("tiny_47x47", "47x47: one pixel under min_side", lambda: corpus.baseline((47, 47)),
           "too_small"),
    accept("tiny_48x48", "48x48: exactly min_side", lambda: corpus.baseline((48, 48)), (48, 48)),
    reject("aspect_10000x50", "10000x50: downscaled it would be 1024x5",
           lambda: corpus.baseline((10000, 50)), "extreme_aspect_ratio"),
    reject("over_input_cap", "25 MiB + 1 byte (max_input_bytes)",
           lambda: SOI + bytes(25 * MIB - 1), "file_too_large"),
    # decode cost: cheap to send, expensive to decode (tests/adversarial/cost_files.py)
    reject("progressive_cmyk_8000x7999", "1.0 MB progressive CMYK under the pixel cap: 512 MB "
           "of coefficients held until the last scan", costly.cmyk_progressive_8000x7999,
           "decode_too_much_memory", bug=BUG_DECODE_COST),
    reject("progressive_444_8000x7999", "750 KB progressive 4:4:4 YCbCr: 384 MB of "
           "coefficients", costly.ycc444_progressive_8000x7999, "decode_too_much_memory",
           bug=BUG_DECODE_COST),
    reject("progressive_420_8000x7999", "progressive 4:2:0 at the pixel cap: 192 MB of "
           "coefficients", lambda: costly.flat_progressive(8000, 7999, "420"),
           "decode_too_much_memory", bug=BUG_DECODE_COST),
    reject("sequential_scan_per_component_8000x7999", "baseline 4:4:4 with one scan per "
           "component: buffered whole like a progressive file (384 MB)",
           lambda: costly.flat_sequential(8000, 7999, "444", interleaved=False),
           "decode_too_much_memory", bug=BUG_DECODE_COST),
    reject("many_scans_gray_8000x8000", "228 KB, 883 scans of end-of-band runs: every scan "
           "visits a million blocks", costly.eob_flood, "decode_too_much_work",
           bug=BUG_DECODE_COST),
    reject("many_scans_444_4000x4000", "999 scans over three components",
           lambda: costly.eob_flood(4000, 4000, "444", 999), "decode_too_much_work",
           bug=BUG_DECODE_COST),
    reject("many_scans_cmyk_3000x3000", "999 scans of CMYK, decoded twice (verified, then by "
           "Pillow)", lambda: costly.eob_flood(3000, 3000, "cmyk", 999),
           "decode_too_much_work", bug=BUG_DECODE_COST),
    accept("progressive_camera_12mp", "12 MP camera export, Pillow progressive=True (10 "
           "scans), 4:2:0, photo-like content", costly.camera_export, (1000, 750),
           ("downscaled", "reencoded")),
    accept("progressive_444_24mp", "24 MP progressive 4:4:4, 10 scans",
           lambda: costly.flat_progressive(6000, 4000, "444"), (1024, 683),
           ("downscaled", "reencoded")),
    accept("progressive_twenty_scans_12mp", "12 MP progressive 4:4:4 with a 20-scan "
           "optimiser-style script", lambda: costly.flat_progressive(4000, 3000, "444",
                                                                     costly.TWENTY_SCANS),
           (1000, 750), ("downscaled", "reencoded")),
)

BY_ID = {case.id: case for case in FILES}
assert len(BY_ID) == len(FILES), "catalogue ids must be unique"
