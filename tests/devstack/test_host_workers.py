"""The blob workers on an in-memory store: a slot is freed when the function returns, not when
its receipt is written, and the blob version stays claimed until the receipt is."""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass

from devstack.host.blob_queue import BlobWorkItem
from devstack.host.blob_workers import BlobWorkers, WorkerOptions

WAIT_S = 60.0  # generous: the suite runs with both cores busy
FUNCTION_ID = "Host.Functions.on_drop"


@dataclass
class _Message:
    id: str
    pop_receipt: str
    content: str
    dequeue_count: int = 1


class _Store:
    """The parts of BlobTriggerStore the workers use, in memory; ``write_receipt`` of the
    blob named ``slow_receipt`` waits for ``receipt_may_finish``."""

    def __init__(self, slow_receipt: str) -> None:
        self.slow_receipt = slow_receipt
        self.receipt_may_finish = threading.Event()
        self.receipt_started = threading.Event()
        self.visible: list[_Message] = []
        self.deleted: list[str] = []
        self.receipts: set[tuple[str, str, str, str]] = set()
        self._ids = itertools.count()
        self._lock = threading.Lock()

    def put(self, name: str, etag: str = "0x1") -> None:
        item = BlobWorkItem(FUNCTION_ID, "drops", name, etag)
        with self._lock:
            self.visible.append(_Message(f"m{next(self._ids)}", "r", item.to_message()))

    def receive(self, count: int, visibility_timeout: int) -> list[_Message]:
        with self._lock:
            taken, self.visible = self.visible[:count], self.visible[count:]
        return taken

    def delete(self, message_id: str, pop_receipt: str) -> None:
        with self._lock:
            self.deleted.append(message_id)

    def extend(self, message_id: str, pop_receipt: str, visibility_timeout: int) -> str:
        return pop_receipt

    def poison(self, item: BlobWorkItem | None, raw: str) -> None:
        raise AssertionError("nothing here should be poisoned")

    def has_receipt(self, item: BlobWorkItem) -> bool:
        with self._lock:
            return item.key in self.receipts

    def write_receipt(self, item: BlobWorkItem) -> None:
        if item.blob_name == self.slow_receipt:
            self.receipt_started.set()
            self.receipt_may_finish.wait(WAIT_S)
        with self._lock:
            self.receipts.add(item.key)


def _workers(store: _Store, run: object) -> BlobWorkers:
    options = WorkerOptions(parallelism=1, poison_threshold=3, visibility_timeout=300,
                            function_timeout=None, max_poll_interval=0.05)
    return BlobWorkers(store, {FUNCTION_ID}, run, options)  # type: ignore[arg-type]


def test_the_next_drop_runs_while_the_last_ones_receipt_is_written() -> None:
    store = _Store(slow_receipt="a.jpg")
    ran: list[str] = []
    b_ran = threading.Event()

    def run(item: BlobWorkItem, attempt: int) -> None:
        ran.append(item.blob_name)
        if item.blob_name == "b.jpg":
            b_ran.set()

    workers = _workers(store, run)
    store.put("a.jpg")
    store.put("b.jpg")
    workers.start()
    try:
        assert store.receipt_started.wait(WAIT_S)
        # One slot, and a.jpg's receipt is still being written: b.jpg runs all the same.
        assert b_ran.wait(WAIT_S)
        assert ran == ["a.jpg", "b.jpg"]
        assert workers.busy() >= 1  # a.jpg is still in hand until its receipt is written
    finally:
        store.receipt_may_finish.set()
        workers.stop(WAIT_S)
    assert len(store.deleted) == 2


def test_a_duplicate_delivered_while_the_receipt_is_written_does_not_run_again() -> None:
    store = _Store(slow_receipt="a.jpg")
    ran: list[str] = []
    workers = _workers(store, lambda item, attempt: ran.append(item.blob_name))
    store.put("a.jpg")
    workers.start()
    try:
        assert store.receipt_started.wait(WAIT_S)
        store.put("a.jpg")  # Event Grid delivers the same version again
        store.put("c.jpg")
        deadline = threading.Event()
        for _ in range(int(WAIT_S / 0.05)):
            if "c.jpg" in ran:
                break
            deadline.wait(0.05)
    finally:
        store.receipt_may_finish.set()
        workers.stop(WAIT_S)
    assert ran == ["a.jpg", "c.jpg"]
    assert len(store.deleted) == 3  # a.jpg, its duplicate, c.jpg
