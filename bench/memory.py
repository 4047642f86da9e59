"""Peak memory of one drop, end to end through ``sync_photo`` on Azurite and the emulator.

Two drops, each handled in a fresh process (``python -m bench.memory child KIND``) that imports
the app and warms it on a small drop first, resets the kernel's peak-RSS mark, and reports the
peak RSS above the RSS it had just before the measured drop:

* ``largest``: the largest photo the default policy accepts (64 megapixels, under the 25 MB
  blob cap): downloaded, checked, decoded at reduced scale, re-encoded, uploaded;
* ``oversized``: a blob 10x the blob cap (250 MB): refused from its properties. Every response
  the blob client receives is counted, so "never downloaded" is checked, not assumed.
"""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # not imported at run time: the child's memory is what is measured
    from azure.core.pipeline import PipelineResponse
    from azure.core.pipeline.transport import HttpRequest, HttpResponse

    from bench.stack import BenchStack

LARGE_NAME = "user0001@contoso.com.jpg"
OVERSIZED_NAME = "user0002@contoso.com.jpg"
WARM_NAME = "user0003@contoso.com.jpg"


def _largest_jpeg(max_bytes: int) -> bytes:
    """64 MP from a tiled 2000x2000 photo-like image, at the highest quality under the cap."""
    import numpy as np
    from PIL import Image

    from bench import images

    tile = images._pixels((2000, 2000), 64, 4.0)
    pixels = np.tile(tile, (4, 4, 1))
    image = Image.fromarray(pixels)
    for quality in (90, 85, 80, 75, 70):
        out = io.BytesIO()
        image.save(out, "JPEG", quality=quality, subsampling=2)
        if out.tell() <= max_bytes:
            return out.getvalue()
    raise RuntimeError("could not make a 64 MP JPEG under the blob cap")


def prepare(connection_string: str, container: str, max_blob_bytes: int) -> dict[str, Any]:
    from azure.storage.blob import ContainerClient

    from bench import images

    drops = ContainerClient.from_connection_string(connection_string, container)
    large = _largest_jpeg(max_blob_bytes)
    drops.upload_blob(LARGE_NAME, large, overwrite=True)
    drops.upload_blob(WARM_NAME, images.good_jpeg(), overwrite=True)
    oversized = 10 * max_blob_bytes
    chunk = b"\xff\xd8" + bytes(1024 * 1024 - 2)

    def stream() -> Iterator[bytes]:
        sent = 0
        while sent < oversized:
            part = chunk[: oversized - sent] if sent else chunk
            sent += len(part)
            yield part if sent == len(part) else bytes(len(part))

    drops.upload_blob(OVERSIZED_NAME, stream(), length=oversized, overwrite=True,
                      max_concurrency=2)
    return {"largest_bytes": len(large), "largest_pixels": 8000 * 8000,
            "oversized_bytes": oversized}


def child(kind: str) -> int:
    from azure.storage.blob import BlobClient

    import function_app
    from bench.common import peak_rss_kib, reset_peak_rss, rss_kib

    connection = os.environ["PhotoStorage"]  # noqa: SIM112 - the binding's setting name
    container = os.environ["PHOTO_DROP_CONTAINER"]
    functions = {f.get_function_name(): f.get_user_function()
                 for f in function_app.app.get_functions()}
    functions["sync_photo"](BlobClient.from_connection_string(connection, container, WARM_NAME))
    responses: list[tuple[str, str, int]] = []

    def seen(response: PipelineResponse[HttpRequest, HttpResponse]) -> None:
        request = response.http_request
        length = int(response.http_response.headers.get("Content-Length") or 0)
        responses.append((request.method, request.url, length))

    name = LARGE_NAME if kind == "largest" else OVERSIZED_NAME
    blob = BlobClient.from_connection_string(connection, container, name,
                                             raw_response_hook=seen)
    reset_ok = reset_peak_rss()
    before = rss_kib()
    functions["sync_photo"](blob)
    peak = peak_rss_kib() - before if reset_ok else None
    downloads = [(m, length) for m, url, length in responses
                 if m == "GET" and "comp=" not in url]
    recorded = BlobClient.from_connection_string(connection, container, name)
    metadata = recorded.get_blob_properties().metadata or {}
    status = metadata.get("photosync_reason") or metadata.get("photosync_status")
    sys.stdout.write(json.dumps({
        "kind": kind, "peak_rss_delta_kib": peak, "rss_before_kib": before,
        "outcome": status, "blob_requests": len(responses),
        "download_requests": len(downloads),
        "bytes_downloaded": sum(length for _, length in downloads)}) + "\n")
    return 0


def run(stack: BenchStack) -> dict[str, Any]:
    from bench.common import PYTHON, run_json
    from photo_core.photos import ImagePolicy

    cap = ImagePolicy().max_input_bytes
    made = prepare(stack.connection_string, "hr-photos", cap)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PHOTO_")}
    env.update(stack.settings())
    results = {kind: run_json(PYTHON, ["-m", "bench.memory", "child", kind], env=env,
                              timeout=300) for kind in ("largest", "oversized")}
    return {**made, "blob_cap_bytes": cap, **results}


if __name__ == "__main__":
    if sys.argv[1:2] == ["child"]:
        sys.exit(child(sys.argv[2]))
    from bench.stack import BenchStack

    with BenchStack(users=8, host=False) as running:
        print(json.dumps(run(running), indent=2))
