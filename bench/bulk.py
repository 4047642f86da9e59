"""Bulk sync: N HR drops through the whole local stack, against the SDK baseline on the same drops.

photo-sync: the drops are uploaded to Azurite first, then Event Grid ``BlobCreated`` events are
posted to the host's blob webhook in batches of 100 (what Event Grid does for a bulk upload),
and the clock runs from the first event until every drop has its outcome recorded on the blob.
The host runs ``function_app.py`` with the repository's host.json, so the parallelism is the
product's ``extensions.blobs.maxDegreeOfParallelism``.

Baseline: the msgraph-sdk script (bench/baseline_graph.py, in .venv-bench) does the same job on
the same drops with the same parallelism, against the same Azurite and emulator (reset in
between), the way the SDK's docs suggest (asyncio, one client): download each drop with the
storage SDK, validate it with Pillow the plain way, upload it. It records no outcome, takes no
claim and keeps no state, so it is the fast path a user would write, not an equivalent.

Theoretical bound (photos per second): every drop needs ``calls`` photo API calls, each taking
at least the emulator's latency ``L`` while holding one of the mailbox's concurrency slots, and
the host runs at most ``P`` drops at once; at most ``limit`` calls per mailbox run at once, so
at most ``limit x M`` over ``M`` distinct mailboxes:

    bound = min(P, limit x M) / (calls x L)

Everything else (storage, image checks, TLS, Python) is counted as free, so the bound is an
upper limit no implementation on any machine can pass.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import images
from bench.common import BENCH_PYTHON, run_json
from bench.stack import DROP_CONTAINER, BenchStack, upn

CALLS_PER_DROP = 1  # photo-sync: one PATCH .../photo/$value per drop (UPN names, Graph)
EVENT_BATCH = 100


def host_parallelism() -> int:
    from bench.common import REPO

    document = json.loads((REPO / "host.json").read_text())
    return int(document.get("extensions", {}).get("blobs", {}).get("maxDegreeOfParallelism", 8))


def bound(parallelism: int, concurrency_limit: int, mailboxes: int, calls: int,
          latency_s: float) -> float:
    return min(parallelism, concurrency_limit * mailboxes) / (calls * latency_s)


def make_drops(count: int, users: int) -> list[tuple[str, bytes]]:
    """``count`` distinct upload-ready photos, drop i for user i mod ``users``."""
    return [(f"{upn(i % users)}.jpg", images.drop_jpeg(i)) for i in range(count)]


def upload_drops(stack: BenchStack, drops: list[tuple[str, bytes]]) -> list[dict[str, Any]]:
    """Upload every drop to Azurite; return one Event Grid BlobCreated event per drop."""
    from azure.storage.blob import ContainerClient

    container = ContainerClient.from_connection_string(stack.connection_string, DROP_CONTAINER)

    def put(item: tuple[str, bytes]) -> dict[str, Any]:
        name, data = item
        client = container.get_blob_client(name)
        result = client.upload_blob(data, overwrite=True)
        return {
            "id": f"bench-{name}-{time.monotonic_ns()}",
            "eventType": "Microsoft.Storage.BlobCreated",
            "subject": f"/blobServices/default/containers/{DROP_CONTAINER}/blobs/{name}",
            "eventTime": datetime.now(UTC).isoformat(), "dataVersion": "", "metadataVersion": "1",
            "topic": "/subscriptions/bench/resourceGroups/bench/providers/"
                     "Microsoft.Storage/storageAccounts/devstoreaccount1",
            "data": {"api": "PutBlob", "eTag": result["etag"], "contentLength": len(data),
                     "url": client.url, "blobType": "BlockBlob", "contentType": "image/jpeg"},
        }

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(put, drops))


def outcomes(stack: BenchStack) -> dict[str, str]:
    """blob name -> recorded status, for every drop that has one."""
    from azure.storage.blob import ContainerClient

    container = ContainerClient.from_connection_string(stack.connection_string, DROP_CONTAINER)
    found = {}
    for blob in container.list_blobs(include=["metadata"]):
        status = (blob.metadata or {}).get("photosync_status")
        if status:
            found[blob.name] = status
    return found


def run_photo_sync(stack: BenchStack, drops: list[tuple[str, bytes]], *, timeout: float = 240.0,
                   progress: Callable[[float, int], None] | None = None) -> dict[str, Any]:
    events = upload_drops(stack, drops)
    session = stack.host_session()
    webhook = stack.webhook()
    cpu_before = stack.cpu()
    trace_offset = stack.trace_file.stat().st_size if stack.trace_file.exists() else 0
    started = time.monotonic()
    posted: list[float] = []

    def deliver() -> None:  # as Event Grid does, alongside the work it causes
        for i in range(0, len(events), EVENT_BATCH):
            resp = session.post(webhook, json=events[i:i + EVENT_BATCH], timeout=60)
            resp.raise_for_status()
        posted.append(time.monotonic() - started)

    delivery = threading.Thread(target=deliver, name="event-grid", daemon=True)
    delivery.start()
    # Progress comes from the emulator's upload count (another process, cheap to ask); the
    # blob listing, which costs Azurite CPU the drops need, is read only once every photo is
    # uploaded (or progress stalls), until every drop has its outcome recorded.
    series: list[tuple[float, int]] = [(0.0, 0)]
    done: dict[str, str] = {}
    deadline = started + timeout
    last, stalled_since = -1, time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.1)
        uploads = int(stack.admin("GET", "/stats").get("uploads", 0))
        elapsed = time.monotonic() - started
        if uploads != last:
            last, stalled_since = uploads, time.monotonic()
        if uploads < len(drops) and time.monotonic() - stalled_since < 2.0:
            series.append((round(elapsed, 3), uploads))
            if progress:
                progress(elapsed, uploads)
            continue
        done = outcomes(stack)
        elapsed = time.monotonic() - started
        series.append((round(elapsed, 3), len(done)))
        if len(done) >= len(drops):
            break
    delivery.join(timeout=60)
    elapsed = series[-1][0]
    statuses: dict[str, int] = {}
    for status in done.values():
        statuses[status] = statuses.get(status, 0) + 1
    stats = stack.admin("GET", "/stats")
    cpu = {k: round(v - cpu_before.get(k, 0.0), 2) for k, v in stack.cpu().items()}
    timeline: dict[str, Any] = {}
    if stack.traced:
        keys = {f"{e['subject'].rsplit('/blobs/', 1)[1]}|{e['data']['eTag'].strip(chr(34))}"
                for e in events}
        timeline = breakdown(_traced(stack, trace_offset, keys), started, keys,
                             host_parallelism())
    return {
        "cpu_seconds": cpu, "timeline": timeline,
        "events_delivered_after_s": round(posted[0], 2) if posted else None,
        "drops": len(drops), "completed": len(done), "seconds": elapsed,
        "photos_per_second": len(done) / elapsed if elapsed else 0.0,
        "statuses": statuses, "throttled": stats.get("throttled", 0),
        "uploads": stats.get("uploads", 0), "series": series,
    }


def read_trace(path: Path, offset: int = 0) -> list[dict[str, Any]]:
    """The steps a traced host (bench.hosted) wrote from ``offset`` on."""
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as handle:
        handle.seek(offset)
        return [json.loads(line) for line in handle if line.strip()]


def _traced(stack: BenchStack, offset: int, keys: set[str], wait_s: float = 15.0
            ) -> list[dict[str, Any]]:
    """The trace of this run, once the host has written the end of every drop's work (a drop's
    outcome is on its blob a moment before its worker writes the receipt and the trace)."""
    deadline = time.monotonic() + wait_s
    while True:
        records = read_trace(stack.trace_file, offset)
        finished = {r["drop"] for r in records if r["kind"] == "work" and "function" in r}
        if keys <= finished or time.monotonic() > deadline:
            return records
        time.sleep(0.2)


def breakdown(records: list[dict[str, Any]], t0: float, keys: set[str], parallelism: int
              ) -> dict[str, Any]:
    """Where each drop's time went, in mean milliseconds per drop, from the moment the first
    event was posted (``t0``) to the end of the drop's work: event intake (until its event was
    queued), queue wait (until a worker took it), the host's receipt check, the function
    (storage requests, API requests, the rest), the host's receipt and message delete while
    the worker's slot is held, and the receipt written after the slot was freed.

    ``starved_by_intake_s``: seconds during which a worker slot was free, the queue was empty
    and events were still waiting to be taken in: the time the intake, not the functions,
    set the pace."""
    intake = {r["drop"]: r for r in records if r["kind"] == "intake" and r["drop"] in keys}
    receipts = {r["drop"]: r["seconds"] for r in records if r["kind"] == "receipt"}
    works = [r for r in records if r["kind"] == "work" and r["drop"] in keys]
    first_work: dict[str, dict[str, Any]] = {}
    for work in sorted(works, key=lambda r: r["started"]):
        first_work.setdefault(work["drop"], work)
    done = [w for w in works if "function" in w]
    if not intake or not done:
        return {}
    parts: dict[str, list[float]] = {k: [] for k in (
        "intake", "queue_wait", "host_receipt_check", "function_storage", "function_api",
        "function_other", "host_receipt_and_delete", "host_receipt_after_slot", "total")}
    for work in done:
        queued = intake.get(work["drop"])
        if queued is None:
            continue
        function = work["function"]
        parts["intake"].append(queued["ended"] - t0)
        parts["queue_wait"].append(work["started"] - queued["ended"])
        parts["host_receipt_check"].append(work.get("has_receipt", 0.0))
        parts["function_storage"].append(function["storage_s"])
        parts["function_api"].append(function["api_s"])
        parts["function_other"].append(function["own_s"])
        parts["host_receipt_and_delete"].append(work.get("write_receipt", 0.0)
                                                + work.get("delete", 0.0))
        parts["host_receipt_after_slot"].append(receipts.get(work["drop"], 0.0))
        parts["total"].append(work["ended"] - t0)
    per_drop = {k: round(1000 * sum(v) / len(v), 1) for k, v in parts.items() if v}
    calls = [w["function"] for w in done]
    receives = [r for r in records if r["kind"] == "receive" and r["started"] >= t0]
    return {
        "per_drop_ms": per_drop,
        "function_storage_calls": round(sum(c["storage_calls"] for c in calls) / len(calls), 2),
        "intake_done_after_s": round(max(r["ended"] for r in intake.values()) - t0, 2),
        "starved_by_intake_s": round(_starved(intake, first_work, t0, parallelism), 2),
        "invocations": len(works), "receives": len(receives),
        "messages_per_receive": round(sum(r["count"] for r in receives) / len(receives), 2)
        if receives else None,
    }


def _starved(intake: dict[str, dict[str, Any]], works: dict[str, dict[str, Any]], t0: float,
             parallelism: int) -> float:
    """Seconds with a free worker, an empty queue and events not yet taken in."""
    changes: list[tuple[float, int, int]] = []  # time, queued delta, busy delta
    for drop, taken in intake.items():
        changes.append((taken["ended"], 1, 0))
        work = works.get(drop)
        if work is not None:
            changes.append((work["started"], -1, 1))
            changes.append((work["ended"], 0, -1))
    changes.sort()
    last_intake = max(r["ended"] for r in intake.values())
    queued = busy = 0
    starved = 0.0
    previous = t0
    for at, dq, db in changes:
        if previous < last_intake and queued <= 0 and busy < parallelism:
            starved += min(at, last_intake) - previous
        queued, busy, previous = queued + dq, busy + db, at
    return starved


def run_baseline(stack: BenchStack, drops: list[tuple[str, bytes]], parallelism: int,
                 workdir: Path) -> dict[str, Any]:
    """The baseline on the same drops, in the same container (uploaded again if the run before
    moved or changed them)."""
    upload_drops(stack, drops)
    return baseline(stack, [name for name, _ in drops], parallelism, workdir)


def baseline(stack: BenchStack, names: list[str], parallelism: int, workdir: Path
             ) -> dict[str, Any]:
    """The baseline on blobs already in the drop container, in the order given."""
    manifest = {"connection_string": stack.connection_string, "container": DROP_CONTAINER,
                "drops": [{"user": name.rsplit("/", 1)[-1].removesuffix(".jpg"), "blob": name}
                          for name in names]}
    (workdir / "baseline-manifest.json").write_text(json.dumps(manifest))
    (workdir / "emulator.json").write_text(json.dumps(stack.emulator))
    before = stack.admin("GET", "/stats")
    result: dict[str, Any] = run_json(BENCH_PYTHON, [
        "-m", "bench.baseline_graph", "bulk", "--emulator", str(workdir / "emulator.json"),
        "--manifest", str(workdir / "baseline-manifest.json"),
        "--parallelism", str(parallelism)], timeout=600)
    stats = stack.admin("GET", "/stats")
    result["throttled"] = stats.get("throttled", 0) - before.get("throttled", 0)
    result["uploads"] = stats.get("uploads", 0) - before.get("uploads", 0)
    return result


def storage_requests_per_drop(count: int = 100, latency_ms: int = 0) -> dict[str, Any]:
    """Storage requests per drop, counted from Azurite's own request log in a short run of its
    own (the log slows Azurite, so the timed runs go without it): the function's (blob
    properties, state, claim, download, release, outcome metadata and tags, outcome log) and
    the host's (its blob-trigger queue and blob receipts). The bench's own uploads and listings
    are not counted."""
    from devstack.azurite import logged_requests

    drops = make_drops(count, count)
    with BenchStack(users=count, latency_ms=latency_ms, azurite_debug=True) as stack:
        offset = stack.azurite_log.stat().st_size
        run = run_photo_sync(stack, drops, timeout=120)
        time.sleep(0.5)  # Azurite writes its log asynchronously
        parts = {"function": 0, "host": 0}
        for method, path in logged_requests(stack.azurite_log, offset):
            part = _requester(method, path)
            if part in parts:
                parts[part] += 1
    completed = run["completed"] or 1
    per_drop = {part: round(n / completed, 2) for part, n in parts.items()}
    return {"drops": count, "completed": run["completed"], "per_drop": per_drop,
            "total": round(sum(parts.values()) / completed, 2)}


def _requester(method: str, path: str) -> str:
    """Who made a request Azurite logged: the host (its queues and receipts live under
    ``azure-webjobs-``), the bench (uploading drops, listing outcomes), the function, or
    ``account`` for a service-level request (counted for nobody)."""
    resource, _, query = path.partition("?")
    parts = resource.split("/")  # "", account, container, blob...
    if len(parts) < 3:
        return "account"  # service-level: nobody's per-drop work
    if parts[2].startswith("azure-webjobs"):
        return "host"
    if "comp=list" in query or (method == "PUT" and not query and DROP_CONTAINER in resource):
        return "bench"
    return "function"


def main(count: int = 500, users: int = 500, latency_ms: int = 40, limit: int = 4) -> None:
    parallelism = host_parallelism()
    drops = make_drops(count, users)
    with BenchStack(users=users, latency_ms=latency_ms, concurrency_limit=limit) as stack:
        lock = threading.Lock()

        def show(elapsed: float, n: int) -> None:
            with lock:
                print(f"  {elapsed:6.1f}s {n}", flush=True)

        ours = run_photo_sync(stack, drops, progress=show)
        print({k: v for k, v in ours.items() if k != "series"})
        stack.admin("POST", "/reset")
        base = run_baseline(stack, drops, parallelism, stack.workdir)
        print({k: v for k, v in base.items() if k != "series"})
    print("bound", bound(parallelism, limit, users, CALLS_PER_DROP, latency_ms / 1000))


if __name__ == "__main__":
    import sys

    main(*(int(a) for a in sys.argv[1:]))
