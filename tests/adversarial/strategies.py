"""Hypothesis strategies for hostile inputs: mutated JPEGs and hostile blob names.

The JPEG mutations start from small valid JPEGs of every structure (the corpus fuzz seeds plus
a JFIF baseline) and apply what damage looks like in the wild: bit flips, byte insertions and
deletions, cuts, segment lengths that lie, segments swapped or repeated, marker bytes written
over data, and coding tables with corrupted counts or values. Positions favour the header.
"""

from __future__ import annotations

import struct
from functools import cache

from hypothesis import settings
from hypothesis import strategies as st

from tests.unit import jpeg_corpus as corpus

# Reproducible in CI: the same examples every run, no example database. No Hypothesis deadline:
# it is wall time, which a busy machine stretches; the tests bound each input's CPU time instead
# (PARSER_CPU_SECONDS, PREPARE_CPU_SECONDS).
PARSER_SETTINGS = settings(max_examples=500, deadline=None, derandomize=True, database=None)
PREPARE_SETTINGS = settings(max_examples=200, deadline=None, derandomize=True, database=None)
NAME_SETTINGS = settings(max_examples=500, deadline=None, derandomize=True, database=None)
PARSER_CPU_SECONDS = 0.2
PREPARE_CPU_SECONDS = 2.0

OPS = (
    "flip", "set", "insert", "delete", "cut", "trail", "length", "swap", "repeat", "marker",
    "table_byte", "empty_table",
)


@cache
def seeds() -> tuple[bytes, ...]:
    return (*corpus.fuzz_seeds(), corpus.baseline((48, 48)))


def _segments(data: bytes) -> list[tuple[int, int, int]]:
    """Header segments whose bytes are all present (corpus.header_segments may run past)."""
    return [s for s in corpus.header_segments(data) if s[2] <= len(data) and s[2] - s[1] >= 4]


def _mutate(data: bytearray, op: str, where: int, value: int) -> bytearray:
    size = max(1, len(data))
    at = where % size
    segments = _segments(bytes(data))
    if op == "flip" and data:
        data[at] ^= 1 << (value % 8)
    elif op == "set" and data:
        data[at] = value
    elif op == "insert":
        data[at:at] = bytes([value]) * (1 + where % 7)
    elif op == "delete":
        del data[at : at + 1 + value % 16]
    elif op == "cut":
        del data[at:]
    elif op == "trail":
        data += bytes([value]) * (1 + where % 300)
    elif op == "marker":
        data[at : at + 2] = bytes((0xFF, value))
    elif op == "length" and segments:
        _, start, end = segments[where % len(segments)]
        true = end - start - 2
        lie = (0, 1, 2, true - 1, true + 1, true + 100, 0xFFFF, value << 8 | value)[value % 8]
        data[start + 2 : start + 4] = struct.pack(">H", lie % 0x10000)
    elif op in ("swap", "repeat") and len(segments) >= 2:
        a = segments[where % len(segments)]
        b = segments[(where + 1 + value) % len(segments)]
        (_, a0, a1), (_, b0, b1) = sorted((a, b), key=lambda s: s[1])
        if op == "repeat":
            data[a1:a1] = data[a0:a1]
        elif a1 <= b0:
            data[a0:b1] = data[b0:b1] + data[a1:b0] + data[a0:a1]
    elif op in ("table_byte", "empty_table"):
        tables = [s for s in segments if s[0] in (0xC4, 0xDB) and s[2] - s[1] > 4]
        if tables:
            marker, start, end = tables[where % len(tables)]
            if op == "table_byte":
                data[start + 4 + (where // 7) % (end - start - 4)] = value
            elif marker == 0xC4:  # first table of the segment: no codes at all
                counts = data[start + 5 : start + 21]
                payload = data[start + 4 : start + 5] + bytes(16)
                payload += data[start + 21 + sum(counts) : end]
                data[start:end] = b"\xff\xc4" + struct.pack(">H", len(payload) + 2) + payload
    return data


@st.composite
def mutated_jpegs(draw: st.DrawFn, max_edits: int = 4) -> bytes:
    data = bytearray(draw(st.sampled_from(seeds())))
    edits = draw(
        st.lists(
            st.tuples(
                st.sampled_from(OPS),
                st.one_of(st.integers(0, 700), st.integers(0, 1 << 16)),
                st.integers(0, 255),
            ),
            min_size=1,
            max_size=max_edits,
        )
    )
    for op, where, value in edits:
        data = _mutate(data, op, where, value)
    return bytes(data)


def jpeg_like_bytes() -> st.SearchStrategy[bytes]:
    """Arbitrary bytes, bytes after a JPEG signature, and bytes after a real JPEG header."""
    header = corpus.baseline((64, 48))[: corpus.scan_data_start(corpus.baseline((64, 48)))]
    return st.one_of(
        st.binary(max_size=4096),
        st.binary(max_size=4096).map(lambda tail: b"\xff\xd8\xff" + tail),
        st.binary(max_size=4096).map(lambda tail: header + tail),
    )


# --- names ----------------------------------------------------------------------------------

_TRICKY = (
    "a", "Z", "0", ".", "..", "'", "''", "$", "#", "#EXT#", "_", "-", "!", "^", "~", "%", "%2F",
    "%40", "%00", "/", "\\", "?", "&", "=", "+", " ", "@", "@@", "\x00", "\n", "\r", "\t",
    "\x7f", "\x85", "\u0430", "\u03bf", "\uff20", "\uff0e", "\u200b", "\u200d", "\u202e",
    "\ufeff", "\u212a", "\u0130", "\u00df", "\ud800", "jane", "contoso", "com",
)
_EXTENSIONS = (".jpg", ".JPG", ".jpeg", ".JpEg", ".jpg.", ".jpg ", ".png", ".jpg.png", "", ".")


def hostile_names() -> st.SearchStrategy[str]:
    """Any unicode (surrogates and unassigned code points included), and names assembled from
    tricky pieces: a folder prefix, a user name, '@' or a look-alike, a domain, an extension."""
    piece = st.sampled_from(_TRICKY)
    part = st.lists(piece, max_size=8).map("".join)
    assembled = st.builds(
        lambda folder, local, at, domain, ext: f"{folder}{local}{at}{domain}{ext}",
        st.sampled_from(("", "hr/", "../", "./", "a/b/", "%2E%2E/", "hr\\", "/")),
        part,
        st.sampled_from(("@", "@@", "\uff20", "", "%40")),
        st.one_of(st.just("contoso.com"), part.map(lambda p: p + ".com"), part),
        st.sampled_from(_EXTENSIONS),
    )
    anything = st.text(st.characters(exclude_categories=()), max_size=200)
    long = st.integers(1000, 1100).map(lambda n: "a" * n + ".jpg")
    return st.one_of(anything, assembled, long)
