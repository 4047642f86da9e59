"""The "HR" uploaders: K threads putting the plan's batches into the drop container (and
deleting the drops the plan deletes).

Batches of one user (or of one nobody's blob name) run in plan order, one at a time, and the
next one starts at least ``USER_SPACING_S`` after the previous one finished: storage's
``Last-Modified`` has one-second resolution and the product orders *different* blob names of
one user by it, so "the newest valid drop" is only well defined with that gap. Quick
succession is exercised by overwrite bursts of one blob name, uploaded back to back.
Uploads are paced to ``rate`` per second overall, survive the Azurite restart (retried until
they succeed or the deadline passes), and only a successful upload is recorded as a drop.

A deletion waits until the drop it deletes has an outcome (so the photo it gave is live), then
deletes it. HR id drops of the second phase wait until the mapping file has been edited.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from azure.core.exceptions import AzureError
from azure.storage.blob import ContainerClient, ContentSettings, ExponentialRetry

from devstack.soak.plan import Batch, Drop, Plan
from photo_core.adapters.blob_drop import TAG_STATUS

logger = logging.getLogger("devstack.soak")

USER_SPACING_S = 1.1


@dataclass
class DropRecord:
    drop: Drop
    uploaded: bool = False  # done: uploaded, or (a deletion) deleted
    etag: str | None = None
    last_modified: datetime | None = None
    seq: int = 0  # global order of successful uploads and deletions
    upload_attempts: int = 0


class Uploaders:
    def __init__(self, plan: Plan, connection_string: str, container: str, *, threads: int,
                 rate: float, deadline: float, on_upload: Callable[[int], None]) -> None:
        self.records = [DropRecord(d) for d in plan.drops]
        self._batches = list(plan.batches)
        self._conn, self._container = connection_string, container
        self._threads, self._interval = threads, 1.0 / rate
        self._deadline, self._on_upload = deadline, on_upload
        self._lock = threading.Condition()
        self._next_batch = 0
        self._position: dict[int, int] = {}  # batch -> its turn among its key's batches
        counts: dict[str, int] = {}
        for batch in self._batches:
            self._position[batch.index] = counts.get(batch.key, 0)
            counts[batch.key] = self._position[batch.index] + 1
        self._keys = {batch.index: batch.key for batch in self._batches}
        self._running: set[str] = set()
        self._turn: dict[str, int] = {}
        self._ready_at: dict[str, float] = {}
        self._next_slot = time.monotonic()
        self.uploaded = 0
        self.retried_uploads = 0
        self.mapping_edited = threading.Event()  # HR id drops of the second phase wait for it
        # Closed while a disruption gets ready: uploads wait, so there is work left to be in
        # flight when it strikes (``resume`` opens it again).
        self._open = threading.Event()
        self._open.set()
        self._done_steps = 0

    def run(self) -> None:
        workers = [threading.Thread(target=self._work, name=f"hr-uploader-{n}", daemon=True)
                   for n in range(self._threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(max(0.0, self._deadline - time.monotonic()) + 30.0)

    def _client(self) -> ContainerClient:
        return ContainerClient.from_connection_string(
            self._conn, self._container, connection_timeout=5, read_timeout=15,
            retry_policy=ExponentialRetry(initial_backoff=1, increment_base=2, retry_total=2))

    def _work(self) -> None:
        client = self._client()
        while time.monotonic() < self._deadline:
            with self._lock:
                if self._next_batch >= len(self._batches):
                    return
                batch = self._batches[self._next_batch]
                self._next_batch += 1
            if not self._wait_turn(batch):
                return
            try:
                self._run_batch(client, batch)
            finally:
                with self._lock:
                    self._turn[batch.key] = self._position[batch.index] + 1
                    self._done(batch.key)

    def _done(self, key: str) -> None:
        self._running.discard(key)
        self._ready_at[key] = time.monotonic() + USER_SPACING_S
        self._lock.notify_all()

    def pause(self) -> None:
        self._open.clear()

    def resume(self) -> None:
        self._open.set()

    def _wait_turn(self, batch: Batch) -> bool:
        if batch.phase == 1 and not self.mapping_edited.wait(
                max(0.0, self._deadline - time.monotonic())):
            return False
        if not self._open.wait(max(0.0, self._deadline - time.monotonic())):
            return False
        with self._lock:
            while self._turn.get(batch.key, 0) != self._position[batch.index] or \
                    batch.key in self._running:
                if not self._lock.wait(max(0.0, self._deadline - time.monotonic())):
                    return False
            self._running.add(batch.key)
            ready = self._ready_at.get(batch.key, 0.0)
            slot = max(time.monotonic(), self._next_slot, ready)
            self._next_slot = slot + self._interval * len(batch.drops)
        time.sleep(max(0.0, slot - time.monotonic()))
        if time.monotonic() < self._deadline:
            return True
        with self._lock:
            self._done(batch.key)
        return False

    def owner(self, name: str) -> str | None:
        """The directory user a blob name was dropped for (None: nobody's)."""
        return next((r.drop.user for r in self.records if r.drop.name == name), None)

    def redroppable(self, name: str) -> bool:
        """Whether ``redrop`` would upload the blob ``name`` again (see there)."""
        with self._lock:
            return bool(self._uploads_to_redrop(name))

    def _uploads_to_redrop(self, name: str) -> list[DropRecord]:
        """The blob's uploads so far; none for an HR id's blob (under the lock)."""
        done = [r for r in self.records if r.uploaded and r.drop.name == name and
                not r.drop.deletion]
        return [] if any(r.drop.kind == "hr_id" for r in done) else done

    def redrop(self, name: str) -> DropRecord | None:
        """HR uploads the blob's last content again, now, between that user's batches (the same
        order and spacing rules): a new version of the blob, same bytes. The soak does this to
        the blobs in flight when it kills the host. Not for an HR id's blob (None): a drop by
        HR id is for whom the mapping names when it is made, and the mapping may have been
        edited since the blob's last upload."""
        with self._lock:
            while True:  # the blob's last upload: after any of its batches still running
                done = self._uploads_to_redrop(name)
                if not done:
                    return None
                last = max(done, key=lambda r: r.seq)
                key = self._keys[last.drop.batch]
                if key not in self._running:
                    break
                if not self._lock.wait(max(0.0, self._deadline - time.monotonic())):
                    return None
            self._running.add(key)
            ready = self._ready_at.get(key, 0.0)
            record = DropRecord(replace(last.drop, index=len(self.records)))
            self.records.append(record)
        try:
            time.sleep(max(0.0, ready - time.monotonic()))
            self._record(record, self._upload(self._client(), record))
        finally:
            with self._lock:
                self._done(key)
        return record if record.uploaded else None

    def _run_batch(self, client: ContainerClient, batch: Batch) -> None:
        for drop in batch.drops:  # an overwrite burst: back to back, no pacing in between
            record = self.records[drop.index]
            if drop.deletion:
                self._delete(client, record)
                return
            if not self._record(record, self._upload(client, record)):
                return

    def _record(self, record: DropRecord, result: dict[str, Any] | None) -> bool:
        if result is None:
            return False
        with self._lock:
            self.uploaded += 1
            self._done_steps += 1
            record.uploaded, record.seq = True, self._done_steps
            record.etag = str(result.get("etag"))
            record.last_modified = result["last_modified"]
            count = self.uploaded
        self._on_upload(count)
        return True

    def _delete(self, client: ContainerClient, record: DropRecord) -> None:
        """Delete the drop once it has an outcome (bounded by the deadline; a drop that never
        gets one is not deleted, and the checks then expect it to stay)."""
        blob = client.get_blob_client(record.drop.name)
        while time.monotonic() < self._deadline:
            try:
                if TAG_STATUS in blob.get_blob_tags():
                    blob.delete_blob()
                    break
            except AzureError as exc:
                logger.info("uploader: deletion of %r waits (%s)", record.drop.name,
                            type(exc).__name__)
            time.sleep(0.5)
        else:
            logger.warning("uploader: %r never had an outcome; not deleted", record.drop.name)
            return
        with self._lock:
            self._done_steps += 1
            record.uploaded, record.seq = True, self._done_steps

    def _upload(self, client: ContainerClient, record: DropRecord) -> dict[str, Any] | None:
        drop = record.drop
        settings = ContentSettings(content_type="image/jpeg")
        while True:
            record.upload_attempts += 1
            try:
                return client.get_blob_client(drop.name).upload_blob(
                    drop.content, overwrite=True, content_settings=settings)
            except AzureError as exc:
                if record.upload_attempts == 1:
                    logger.info("uploader: drop %d failed (%s); retrying until storage is back",
                                drop.index, type(exc).__name__)
                with self._lock:
                    self.retried_uploads += 1
                if time.monotonic() + 1.0 > self._deadline:
                    logger.warning("uploader: drop %d never uploaded before the deadline",
                                   drop.index)
                    return None
                time.sleep(0.5)
