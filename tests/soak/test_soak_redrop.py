"""The soak's re-drop while the host is down: HR uploads a blob's last content again. What the
checks expect of it is only right if it is the blob's last upload, and not an HR id's blob
(whose user the mapping edit may have changed since)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

from devstack.soak.drops import DropRecord, Uploaders
from devstack.soak.plan import make_plan


class OfflineUploaders(Uploaders):
    """The uploaders with storage taken out: an upload always succeeds at once."""

    def _upload(self, client: Any, record: DropRecord) -> dict[str, Any] | None:
        return {"etag": f'"{record.drop.index}"', "last_modified": datetime.now(UTC)}

    def _client(self) -> Any:
        return None


def uploaders() -> OfflineUploaders:
    return OfflineUploaders(make_plan(60, 20, 7), "", "hr-photos", threads=1, rate=100.0,
                            deadline=time.monotonic() + 60, on_upload=lambda _: None)


def test_an_hr_id_blob_is_never_re_dropped() -> None:
    hr = uploaders()
    record = next(r for r in hr.records if r.drop.kind == "hr_id")
    hr._record(record, hr._upload(None, record))
    planned = len(hr.records)
    assert not hr.redroppable(record.drop.name)  # the kill holds another upload instead
    assert hr.redrop(record.drop.name) is None
    assert len(hr.records) == planned


def test_a_re_drop_waits_for_the_blobs_running_batch_and_copies_its_last_upload() -> None:
    hr = uploaders()
    burst = next(b for b in hr._batches if len(b.drops) >= 2 and
                 len({d.name for d in b.drops}) == 1 and b.drops[0].kind == "overwrite")
    first, last = (hr.records[d.index] for d in (burst.drops[0], burst.drops[-1]))
    assert not hr.redroppable(first.drop.name)  # never uploaded: nothing to upload again
    hr._record(first, hr._upload(None, first))
    assert hr.redroppable(first.drop.name)
    hr._running.add(burst.key)  # the burst is uploading: its first version is done
    redropped: list[DropRecord | None] = []
    worker = threading.Thread(target=lambda: redropped.append(hr.redrop(first.drop.name)))
    worker.start()
    time.sleep(0.2)
    assert not redropped, "the re-drop must wait for the running batch"
    for drop in burst.drops[1:]:
        hr._record(hr.records[drop.index], hr._upload(None, hr.records[drop.index]))
    with hr._lock:
        hr._done(burst.key)
    worker.join(30)
    again = redropped[0]
    assert again is not None and again.drop.content == last.drop.content
    assert again.drop.expected_sha == last.drop.expected_sha
