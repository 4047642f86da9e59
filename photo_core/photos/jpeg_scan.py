"""Walk a JPEG's entropy-coded data: where each scan ends, restart markers, completeness.

Split from the header reader (:mod:`photo_core.photos.jpeg`, the public face) because this part is
about the *image data*: where each scan's compressed bytes start and end, whether the restart
markers inside them are in order and as many as the frame needs, and whether the scans cover
the whole image. Those checks are cheap (regular expressions jump over the data at C speed,
once per scan unless it has restart markers; nothing is decoded) and they catch what Pillow
lets through silently: a scan cut short and patched with an end marker decodes without error
in Pillow, which pads the rest.

Problems found in the image data are *returned* (``ScanWalk.problem``) rather than raised, so
that a caller can still act on the header first, e.g. refuse a decompression bomb as a bomb
even when the bytes after its header are garbage.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from photo_core.domain.errors import InvalidPhoto
from photo_core.photos.jpeg_frame import (
    COM,
    DHT,
    DQT,
    DRI,
    EOI,
    SOS,
    Frame,
    Problem,
    Scan,
    Segment,
    ceil_div,
    check_dht,
    check_dqt,
    parse_scan_header,
    skip_fill,
)

MAX_SEGMENTS = 4096
MAX_SCANS = 1000
# Where a scan's entropy-coded data ends: a run of 0xFF (a marker plus optional fill bytes)
# followed by anything but stuffing (00) or a restart marker (D0-D7). The pattern matches the
# last 0xFF of the run and the marker code; the walk then steps back over the fill bytes. It
# starts with a literal byte, so the regex engine scans for 0xFF at C speed (about 1 GB/s,
# 40x faster than a pattern that starts with a lookbehind) and the search stays linear.
_SCAN_END = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
# Any marker, restart markers included. Without a restart interval (most photos) a restart
# marker is itself a defect, so one search with this pattern finds the scan's end and shows
# that no restart marker comes before it: the entropy-coded data is read once, not twice.
_ANY_MARKER = re.compile(rb"\xff[^\x00\xff]")
# With a restart interval: the restart markers' codes, collected in one pass and then counted
# per kind in that short string (eight ``bytes.count`` passes over a 5 MB scan took 30 ms).
_RESTART_CODES = re.compile(rb"\xff([\xd0-\xd7])")
_WINDOW = 1 << 16
_RST0, _RST7 = 0xD0, 0xD7


@dataclass(frozen=True, slots=True)
class ScanWalk:
    """Result of walking the image data: ``eoi_offset`` is None when the bytes ran out (or a
    problem stopped the walk) before the end-of-image marker."""

    scans: int
    complete: bool
    eoi_offset: int | None
    segments: tuple[Segment, ...]
    problem: Problem | None
    headers: tuple[Scan, ...] = ()


def walk_scans(
    data: bytes, frame: Frame, first: Scan, sos: int, pos: int, interval: int
) -> ScanWalk:
    """Walk from the first scan's data (at ``pos``; its SOS marker at ``sos``) to EOI."""
    return _Walker(data, frame, interval).walk(first, sos, pos)


class _Walker:
    def __init__(self, data: bytes, frame: Frame, interval: int) -> None:
        self.data, self.frame, self.interval = data, frame, interval
        self.segments: list[Segment] = []
        self.headers: list[Scan] = []
        self.scans = 0
        # Per component and coefficient: successive-approximation bit still to come (-1: none
        # seen yet). Sequential scans jump straight to 0. Complete when everything is 0.
        self.state = [[-1] * 64 for _ in frame.components]

    def walk(self, scan: Scan, sos: int, pos: int) -> ScanWalk:
        try:
            while True:
                self._cover(scan, sos)
                end = self._entropy_end(scan, pos)
                if end is None:
                    self.segments.append(Segment(SOS, sos, len(self.data), "SOS"))
                    return self._result(None, None)
                self.segments.append(Segment(SOS, sos, end, "SOS"))
                self.headers.append(scan)
                self.scans += 1
                following = self._between_scans(end)
                if following is None:
                    return self._result(None, None)
                marker, offset, after = following
                if marker == EOI:
                    return self._result(offset, None)
                if self.scans >= MAX_SCANS:
                    return self._result(None, _corrupt(f"more than {MAX_SCANS} scans"))
                seg_end = self._length_end(after)
                if seg_end is None:
                    return self._result(None, None)
                scan = parse_scan_header(self.data[after + 2 : seg_end], self.frame, offset)
                sos, pos = offset, seg_end
        except _Stop as stop:
            return self._result(None, stop.problem)
        except InvalidPhoto as exc:
            return self._result(None, Problem("corrupt_image", exc.message))

    def _result(self, eoi: int | None, problem: Problem | None) -> ScanWalk:
        complete = not any(map(any, self.state))  # every bit 0: none pending, none unseen (-1)
        return ScanWalk(self.scans, complete, eoi, tuple(self.segments), problem,
                        tuple(self.headers))

    def _cover(self, scan: Scan, offset: int) -> None:
        for index in scan.components:
            bits = self.state[index]
            if not self.frame.progressive:
                bits[:] = [0] * 64
                continue
            if scan.ss > 0 and bits[0] < 0:
                raise _Stop(_corrupt(f"scan at byte {offset} sends AC data before DC data"))
            for k in range(scan.ss, scan.se + 1):
                expected = bits[k] if bits[k] >= 0 else 0
                if scan.ah != expected:
                    raise _Stop(_corrupt(f"progressive scan at byte {offset} is out of order"))
                bits[k] = scan.al

    def _entropy_end(self, scan: Scan, pos: int) -> int | None:
        """Offset of the marker that ends this scan's data, None if the bytes run out first.

        Restart markers are counted per kind (inside entropy-coded data 0xFF is always stuffed,
        so FF Dn can only be a restart marker): in sequence, n markers hold each of RST0..RST7
        n // 8 or n // 8 + 1 times, the earlier kinds first. Without a restart interval none
        may appear, so the first marker of any kind is searched for: the scan's end, or a
        restart marker, the defect (then the end is searched for and the markers counted)."""
        data = self.data
        hit = (_SCAN_END if self.interval else _ANY_MARKER).search(data, pos)
        stray = False
        if hit is not None and _RST0 <= data[hit.start() + 1] <= _RST7:  # no interval set
            stray, hit = True, _SCAN_END.search(data, hit.end())
        if hit is None:
            return None
        end = hit.start()
        while end > pos and data[end - 1] == 0xFF:  # fill bytes before the marker, at C speed
            chunk = data[max(pos, end - 4096) : end]
            kept = chunk.rstrip(b"\xff")
            end -= len(chunk) - len(kept)
            if kept:
                break
        if not (self.interval or stray):  # the common case: one pass, nothing to count
            return end
        codes = _restart_codes(data, pos, end)
        restarts = len(codes)
        counts = [codes.count(code) for code in range(_RST0, _RST7 + 1)]
        if counts != [restarts // 8 + (k < restarts % 8) for k in range(8)]:
            raise _Stop(_corrupt(f"restart markers before byte {end} are out of sequence"))
        self._check_restarts(scan, restarts, end)
        return end

    def _check_restarts(self, scan: Scan, restarts: int, end: int) -> None:
        if self.interval == 0:
            if restarts:
                raise _Stop(_corrupt("restart markers appear but no restart interval is set"))
            return
        expected = ceil_div(self.frame.mcus(scan), self.interval) - 1
        if restarts < expected:
            raise _Stop(
                Problem(
                    "truncated",
                    f"the image data ends early (at byte {end}): {restarts + 1} of {expected + 1} "
                    "restart intervals are present; the file was cut short or damaged",
                )
            )
        if restarts > expected + 1:  # libjpeg tolerates one trailing restart marker
            raise _Stop(_corrupt(f"{restarts} restart markers where {expected} fit the image"))

    def _between_scans(self, pos: int) -> tuple[int, int, int] | None:
        """Step over the table/comment segments after a scan; return the next SOS or EOI."""
        data = self.data
        while True:
            if pos < len(data) and data[pos] != 0xFF:
                raise _Stop(_corrupt(f"expected a marker at byte {pos}, found 0x{data[pos]:02X}"))
            found = skip_fill(data, pos)
            if found is None:
                return None
            offset = found
            marker, after = data[offset + 1], offset + 2
            if marker in (SOS, EOI):
                return marker, offset, after
            if not (marker in (DHT, DQT, DRI, COM) or 0xE0 <= marker <= 0xEF):
                raise _Stop(_corrupt(f"unexpected marker FF {marker:02X} at byte {offset}"))
            end = self._length_end(after)
            if end is None:
                return None
            payload = data[after + 2 : end]
            if marker == DHT:
                check_dht(payload, offset)
            elif marker == DQT:
                check_dqt(payload, offset)
            elif marker == DRI:
                if len(payload) != 2:
                    raise _Stop(_corrupt(f"restart interval segment at byte {offset} is bad"))
                self.interval = int.from_bytes(payload, "big")
            kind = {DHT: "DHT", DQT: "DQT", DRI: "DRI", COM: "COM"}.get(marker)
            self.segments.append(Segment(marker, offset, end, kind or f"APP{marker - 0xE0}"))
            if len(self.segments) > MAX_SEGMENTS:
                raise _Stop(_corrupt(f"more than {MAX_SEGMENTS} marker segments"))
            pos = end

    def _length_end(self, pos: int) -> int | None:
        if pos + 2 > len(self.data):
            return None
        length = int.from_bytes(self.data[pos : pos + 2], "big")
        if length < 2:
            raise _Stop(_corrupt(f"segment at byte {pos - 2} declares length {length}"))
        return pos + length if pos + length <= len(self.data) else None


def _restart_codes(data: bytes, pos: int, end: int) -> bytes:
    """The codes (D0..D7) of the restart markers in ``data[pos:end]``, in order.

    Collected a window at a time, so that a flood of markers never becomes one huge list. A
    window that would end inside a run of 0xFF is stretched to the byte after the run, so no
    marker is split; ``data[end - 1]`` is not 0xFF (the walk stepped back over fill bytes), so
    the stretch stays inside the scan."""
    codes = bytearray()
    while pos < end:
        stop = min(pos + _WINDOW, end)
        if data[stop - 1] == 0xFF and stop < end:  # keep a marker (fill, FF, code) whole
            last = skip_fill(data, stop - 1)
            stop = end if last is None else min(last + 2, end)
        codes += b"".join(_RESTART_CODES.findall(data, pos, stop))
        pos = stop
    return bytes(codes)


class _Stop(Exception):
    """Internal control flow carrying a Problem; never escapes this module."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def _corrupt(what: str) -> Problem:
    return Problem("corrupt_image", f"the image data is corrupt: {what}")
