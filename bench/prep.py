"""Photo preparation: photo-sync's ``prepare_photo`` against plain Pillow, time and peak memory.

Each (implementation, photo) pair runs in a fresh process, so memory figures are not polluted by
the other runs: the process imports what it needs, runs the operation once to warm up (lazy
imports, allocator), resets the kernel's peak-RSS mark, and measures the peak RSS above the RSS
it had just before one more run (the growth), and the whole process's peak RSS beside it (what
the instance must hold: the interpreter and every library the implementation loaded). Then it
times ``reps`` runs and reports the median.

Implementations:

* ``photo_sync``: ``photo_core.photos.prepare_photo`` with the default policy (max
  side 1024, quality 90): header checks, lossless strip or one strict decode at reduced
  scale, resize, rotate, encode;
* ``baseline``: Pillow the plain way: ``Image.open``, ``ImageOps.exif_transpose``, ``load``,
  ``thumbnail((1024, 1024))``, ``save`` as JPEG at quality 90 (run in .venv-bench);
* ``reencode``: a full decode and re-encode of the same photo by photo-sync itself (its own
  re-encode path at full size: header walk, strict decode, baseline JPEG at the policy quality
  with optimised tables, ICC kept): what the lossless strip avoids for an already-good photo;
* ``pillow_reencode``: the same with plain Pillow (open, load, save at quality 90), for
  reference.

``python -m bench.prep IMPL FILE [--reps N]`` prints one JSON line.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

MAX_SIDE = 1024
QUALITY = 90


def _photo_sync() -> Callable[[bytes], bytes]:
    from photo_core.photos import ImagePolicy, prepare_photo

    policy = ImagePolicy()
    return lambda data: prepare_photo(data, policy).data


def _reencode() -> Callable[[bytes], bytes]:
    from photo_core.photos import ImagePolicy, imaging
    from photo_core.photos.jpeg import read_structure
    from photo_core.photos.jpeg_strip import strip_metadata

    policy = ImagePolicy()

    def run(data: bytes) -> bytes:
        info = read_structure(data)
        stripped = strip_metadata(data, info)
        return imaging._reencode(
            stripped, info, policy, [], ["re-encode"], info.oriented_size).data

    return run


def _baseline() -> Callable[[bytes], bytes]:
    from PIL import Image, ImageOps

    def run(data: bytes) -> bytes:
        image: Image.Image = Image.open(io.BytesIO(data))
        image = ImageOps.exif_transpose(image)
        image.load()
        image.thumbnail((MAX_SIDE, MAX_SIDE))
        out = io.BytesIO()
        image.save(out, "JPEG", quality=QUALITY)
        return out.getvalue()

    return run


def _pillow_reencode() -> Callable[[bytes], bytes]:
    from PIL import Image

    def run(data: bytes) -> bytes:
        image = Image.open(io.BytesIO(data))
        image.load()
        out = io.BytesIO()
        image.save(out, "JPEG", quality=QUALITY)
        return out.getvalue()

    return run


IMPLEMENTATIONS = {"photo_sync": _photo_sync, "baseline": _baseline, "reencode": _reencode,
                   "pillow_reencode": _pillow_reencode}


def main(argv: list[str] | None = None) -> int:
    from bench.common import peak_rss_kib, reset_peak_rss, rss_kib

    parser = argparse.ArgumentParser()
    parser.add_argument("impl", choices=sorted(IMPLEMENTATIONS))
    parser.add_argument("file", type=Path)
    parser.add_argument("--reps", type=int, default=7)
    args = parser.parse_args(argv)
    data = args.file.read_bytes()
    run = IMPLEMENTATIONS[args.impl]()
    out = run(data)  # warm up: lazy imports, codec tables, allocator
    reset_ok = reset_peak_rss()
    before = rss_kib()
    run(data)
    process_peak = peak_rss_kib() if reset_ok else None
    peak = max(process_peak - before, 0) if process_peak is not None else None
    times = []
    for _ in range(max(1, args.reps)):
        started = time.perf_counter()
        run(data)
        times.append(time.perf_counter() - started)
    times.sort()
    result = {"impl": args.impl, "input_bytes": len(data), "output_bytes": len(out),
              "median_ms": round(times[len(times) // 2] * 1000, 2),
              "min_ms": round(times[0] * 1000, 2), "reps": len(times),
              "peak_rss_delta_kib": peak, "process_peak_rss_kib": process_peak,
              "rss_before_kib": before}
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
