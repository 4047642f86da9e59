"""The image-data walk: one pass finds a scan's end, restart markers are counted wherever they
fall (window boundaries included), and every defect keeps its report."""

from __future__ import annotations

import pytest

from photo_core.photos.jpeg import read_structure
from tests.unit import jpeg_corpus as corpus

RST0 = b"\xff\xd0"
WINDOW = 1 << 16  # the walk collects restart markers this many bytes at a time


def _with_fill_before_first_restart(fill: int) -> bytes:
    """``with_restarts`` with ``fill`` extra 0xFF fill bytes before its first restart marker
    (fill bytes may precede any marker)."""
    data = corpus.with_restarts()
    first = data.index(RST0, corpus.scan_data_start(data))
    return data[:first] + b"\xff" * fill + data[first:]


@pytest.mark.parametrize(
    "past",
    [-1, 0, 1, 500],
    ids=["code_ends_window", "code_starts_window", "ff_starts_window", "fill_crosses_by_500"],
)
def test_a_restart_marker_across_a_window_boundary_is_counted(past: int) -> None:
    data = corpus.with_restarts()
    start = corpus.scan_data_start(data)
    first = data.index(RST0, start)
    # the marker's own 0xFF lands ``past`` bytes after the first window's last byte
    fill = start + WINDOW - 1 + past - first
    padded = _with_fill_before_first_restart(fill)
    assert padded[start + WINDOW - 1 + past : start + WINDOW + 1 + past] == RST0
    info = read_structure(padded)
    assert info.problem is None
    assert info.eoi_offset is not None and info.scans_complete


def test_restart_markers_in_a_scan_of_many_windows_are_all_counted() -> None:
    data = corpus.encode(corpus.drawing((1600, 1200)), restart_marker_blocks=1, quality=95)
    start = corpus.scan_data_start(data)
    assert len(data) - start > 2 * WINDOW
    info = read_structure(data)
    assert info.problem is None and info.scans_complete


def test_a_missing_restart_marker_deep_in_a_big_scan_is_found() -> None:
    data = corpus.encode(corpus.drawing((1600, 1200)), restart_marker_rows=1, quality=95)
    last = max(data.rfind(bytes((0xFF, code)), 0, len(data) - 2) for code in range(0xD0, 0xD8))
    info = read_structure(data[:last] + data[last + 2 :])
    assert info.problem is not None and info.problem.code == "truncated"


def test_restart_markers_without_an_interval_are_corrupt_data() -> None:
    info = read_structure(corpus.remove_segments(corpus.with_restarts(), 0xDD))
    assert info.problem is not None and info.problem.code == "corrupt_image"
    assert "no restart interval" in info.problem.message


def test_restart_markers_without_an_interval_and_out_of_order_say_out_of_sequence() -> None:
    data = corpus.remove_segments(corpus.restarts_out_of_order(), 0xDD)
    info = read_structure(data)
    assert info.problem is not None and "out of sequence" in info.problem.message


def test_restart_markers_without_an_interval_in_a_cut_scan_read_as_cut_short() -> None:
    data = corpus.remove_segments(corpus.with_restarts(), 0xDD)
    info = read_structure(data[: len(data) * 3 // 4])
    assert info.problem is None  # no end of the scan: nothing to judge the markers against
    assert info.eoi_offset is None


def test_the_scan_ends_at_the_first_marker_after_fill_bytes() -> None:
    data = corpus.baseline()
    info = read_structure(data[:-2] + b"\xff" * 7 + data[-2:])
    sos = next(s for s in info.segments if s.kind == "SOS")
    assert sos.end == len(data) - 2  # the fill bytes are not scan data
    assert info.eoi_offset == len(data) + 5
