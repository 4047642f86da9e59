"""The baseline: what a user would write instead, with the official Microsoft Graph SDK.

Runs in .venv-bench (msgraph-sdk, azure-identity; never in the product's requirements). It uses
the SDK the way its docs show: one ``GraphServiceClient`` per process with a client-secret
credential (``azure.identity.aio.ClientSecretCredential``, as the SDK is async), then
``users.by_user_id(u).photo.content.put(data)`` and ``users.by_user_id(u).photo.get()``. The only
departures are the ones any user pointing the SDK at another cloud makes, documented for national
clouds: the authority host, the Graph base URL (a ``GraphClientFactory`` client with that base
URL), and trusting the emulator's CA (``SSL_CERT_FILE``).

Subcommands print one JSON line:

* ``bulk``: the same job as photo-sync on a list of drops in blob storage, with N concurrent
  tasks (asyncio, the SDK's model): download each drop with the storage SDK (``aio``, one
  client), validate and prepare it with Pillow the plain way (open, ``exif_transpose``,
  ``load``, ``thumbnail``, save), upload it with ``photo.content.put``;
* ``cold``: a fresh process until its first photo metadata answer (imports, client, token, GET);
* ``lookup``: p50/p99 of ``photo.get()`` for one user, sequentially.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from typing import Any

T0 = time.perf_counter()  # before the SDK imports: the cold start counts them


def _client(info: dict[str, Any]) -> Any:
    import httpx
    from azure.identity.aio import ClientSecretCredential
    from kiota_authentication_azure.azure_identity_authentication_provider import (
        AzureIdentityAuthenticationProvider,
    )
    from msgraph import GraphRequestAdapter, GraphServiceClient
    from msgraph_core import GraphClientFactory

    authority_host = info["authority"].rsplit("/", 1)[0]
    credential = ClientSecretCredential(
        info["tenant"], info["client_id"], info["client_secret"], authority=authority_host,
        disable_instance_discovery=True)
    scopes = ["https://graph.microsoft.com/.default"]
    auth = AzureIdentityAuthenticationProvider(credential, scopes=scopes,
                                               allowed_hosts=["127.0.0.1"])
    http = GraphClientFactory.create_with_default_middleware(
        client=httpx.AsyncClient(base_url=info["graph_base"], timeout=60.0))
    adapter = GraphRequestAdapter(auth, client=http)
    adapter.base_url = info["graph_base"]
    return GraphServiceClient(request_adapter=adapter)


def _trust(info: dict[str, Any]) -> None:
    os.environ["SSL_CERT_FILE"] = info["ca_cert"]  # httpx and aiohttp read it


def _prepare(data: bytes, max_side: int = 1024, quality: int = 90) -> bytes:
    """Pillow the plain way, as in bench/prep.py's ``baseline``."""
    import io

    from PIL import Image, ImageOps

    image = ImageOps.exif_transpose(Image.open(io.BytesIO(data)))
    image.load()
    image.thumbnail((max_side, max_side))
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=quality)
    return out.getvalue()


async def _bulk(info: dict[str, Any], manifest: dict[str, Any], parallelism: int
                ) -> dict[str, Any]:
    from azure.storage.blob.aio import ContainerClient
    from kiota_abstractions.base_request_configuration import RequestConfiguration

    client = _client(info)
    container = ContainerClient.from_connection_string(manifest["connection_string"],
                                                       manifest["container"])
    # The SDK labels the body application/octet-stream, which Graph refuses (415): the header
    # must be set through the request configuration, as users of the SDK end up doing.
    config: Any = RequestConfiguration()
    config.headers.add("Content-Type", "image/jpeg")
    drops = [(item["user"], item["blob"]) for item in manifest["drops"]]
    gate = asyncio.Semaphore(parallelism)
    done: list[float] = []
    failures: list[str] = []
    started = time.perf_counter()

    async def one(user: str, blob: str) -> None:
        async with gate:
            try:
                stream = await container.download_blob(blob)
                data = _prepare(await stream.readall())
                await client.users.by_user_id(user).photo.content.put(
                    data, request_configuration=config)
            except Exception as exc:
                failures.append(f"{type(exc).__name__}: {str(exc)[:120]}")
            done.append(time.perf_counter() - started)

    async with container:
        await asyncio.gather(*(one(user, blob) for user, blob in drops))
    elapsed = time.perf_counter() - started
    photos = drops
    ok = len(photos) - len(failures)
    series = [(0.0, 0)]
    for n, t in enumerate(sorted(done), 1):
        if n % 10 == 0 or n == len(done):
            series.append((round(t, 3), n))
    return {"drops": len(photos), "completed": ok, "failures": len(failures),
            "failure_examples": sorted(set(failures))[:3], "seconds": elapsed,
            "photos_per_second": ok / elapsed if elapsed else 0.0, "series": series}


async def _cold(info: dict[str, Any], user: str) -> dict[str, Any]:
    client = _client(info)
    photo = await client.users.by_user_id(user).photo.get()
    return {"seconds": time.perf_counter() - T0, "width": photo.width if photo else None}


async def _lookup(info: dict[str, Any], user: str, count: int) -> dict[str, Any]:
    client = _client(info)
    await client.users.by_user_id(user).photo.get()  # token + connection warm
    times = []
    for _ in range(count):
        t = time.perf_counter()
        await client.users.by_user_id(user).photo.get()
        times.append(time.perf_counter() - t)
    return {"times": times}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["bulk", "cold", "lookup"])
    parser.add_argument("--emulator", required=True, help="the emulator's start-up JSON file")
    parser.add_argument("--manifest")
    parser.add_argument("--parallelism", type=int, default=8)
    parser.add_argument("--user", default="user0000@contoso.com")
    parser.add_argument("--count", type=int, default=200)
    args = parser.parse_args(argv)
    with open(args.emulator) as handle:
        info = json.load(handle)
    _trust(info)
    if args.command == "bulk":
        with open(args.manifest) as handle:
            manifest = json.load(handle)
        result = asyncio.run(_bulk(info, manifest, args.parallelism))
    elif args.command == "cold":
        result = asyncio.run(_cold(info, args.user))
    else:
        result = asyncio.run(_lookup(info, args.user, args.count))
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
