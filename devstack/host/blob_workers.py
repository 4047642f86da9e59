"""Workers that drain the blob trigger queue: invoke, then delete, retry or poison.

One dispatcher thread receives messages while a worker slot is free (``maxDegreeOfParallelism``
slots) and hands each to a worker. A message stays invisible while its invocation runs: it is
received with a visibility timeout of at least ``functionTimeout`` and renewed by a keeper
thread, so only a dead host lets it reappear (and the next host then picks it up). Per message:

* a receipt for the blob version exists: delete it (a duplicate delivery, already done);
* the same blob version is already running here under another message: delete this duplicate
  (the running one keeps its own message until it succeeds or is poisoned);
* success: write the receipt, then delete the message. Both happen on a completion thread
  after the worker slot is freed, so the next drop starts while they are under way (the slots
  bound running invocations, as ``maxDegreeOfParallelism`` does; the blob version stays leased
  until its receipt is written, so a duplicate delivery meanwhile is still recognised);
* failure (an exception, or a run longer than ``functionTimeout``, which Azure would have
  stopped): make it visible again after a short exponential backoff; at the
  ``poisonBlobThreshold``-th failed attempt move it to the poison queue instead.

Storage outages (Azurite restarted under a running host) are logged and retried; no message
is deleted unless its work is done or poisoned.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from azure.core.exceptions import AzureError
from azure.storage.queue import QueueMessage

from devstack.host.blob_queue import BlobTriggerStore, BlobWorkItem

logger = logging.getLogger(__name__)

#: Runs the function for one item; raises on failure.
Runner = Callable[[BlobWorkItem, int], None]
#: Threads writing receipts and deleting messages after successful invocations.
COMPLETION_THREADS = 2


@dataclass
class _Lease:
    message_id: str
    pop_receipt: str
    renew_at: float
    lock: threading.Lock = field(default_factory=threading.Lock)
    done: bool = False


@dataclass(frozen=True)
class WorkerOptions:
    parallelism: int
    poison_threshold: int
    visibility_timeout: int  # seconds, >= functionTimeout
    function_timeout: float | None
    retry_delay: float = 1.0  # first backoff; doubles per attempt, at most 60 s
    max_poll_interval: float = 1.0


class BlobWorkers:
    """The dispatcher, the worker pool and the visibility keeper for one host."""

    def __init__(self, store: BlobTriggerStore, known: set[str], run: Runner,
                 options: WorkerOptions) -> None:
        self._store, self._known, self._run, self._options = store, known, run, options
        # Daemon threads, not an executor: a hung invocation must not keep the process alive
        # after a bounded graceful stop (its message simply reappears for the next start).
        self._jobs: queue.SimpleQueue[tuple[BlobWorkItem, _Lease, int] | None] = (
            queue.SimpleQueue())
        self._workers = [threading.Thread(target=self._worker_loop, name=f"blob-worker-{n}",
                                          daemon=True) for n in range(options.parallelism)]
        self._completions: queue.SimpleQueue[tuple[BlobWorkItem, _Lease] | None] = (
            queue.SimpleQueue())
        self._completers = [threading.Thread(target=self._complete_loop,
                                             name=f"blob-completion-{n}", daemon=True)
                            for n in range(COMPLETION_THREADS)]
        self._leases: dict[tuple[str, str, str, str], _Lease] = {}
        self._running = 0  # invocations holding a slot (under _lock)
        self._lock = threading.Lock()
        self._slot_free = threading.Event()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._drained = threading.Event()
        self._dispatcher = threading.Thread(target=self._dispatch, name="blob-dispatcher",
                                            daemon=True)
        self._keeper = threading.Thread(target=self._keep, name="blob-visibility", daemon=True)

    def start(self) -> None:
        for worker in [*self._workers, *self._completers]:
            worker.start()
        self._dispatcher.start()
        self._keeper.start()

    def wake(self) -> None:
        """New work was queued: poll now rather than after the idle interval."""
        self._wake.set()

    def busy(self) -> int:
        """Blob versions in hand: running, or done and having their receipt written."""
        with self._lock:
            return len(self._leases)

    def running(self) -> int:
        with self._lock:
            return self._running

    def stop(self, timeout: float) -> None:
        """Stop receiving; let running invocations finish (bounded); leave the rest queued."""
        self._stopping.set()
        self._wake.set()
        self._slot_free.set()
        self._dispatcher.join(timeout)
        deadline = time.monotonic() + timeout
        while self.busy() and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.busy():
            logger.warning("Stopping with %d blob invocation(s) still running; their messages "
                           "reappear in the queue for the next start", self.busy())
        self._drained.set()
        self._keeper.join(timeout)
        for _ in self._workers:
            self._jobs.put(None)
        for _ in self._completers:
            self._completions.put(None)

    # -- dispatcher -----------------------------------------------------------------------------

    def _dispatch(self) -> None:
        idle = 0.05
        failing = False
        while not self._stopping.is_set():
            self._slot_free.clear()
            free = self._options.parallelism - self.running()
            if free <= 0:
                self._slot_free.wait(0.5)
                continue
            try:
                messages = self._store.receive(min(free, 32), self._options.visibility_timeout)
                if failing:
                    logger.info("Host storage is reachable again; resuming blob work")
                failing = False
            except AzureError as exc:
                if not failing:
                    logger.warning("Cannot read the blob trigger queue (%s); retrying",
                                   type(exc).__name__)
                failing = True
                self._stopping.wait(1.0)
                continue
            if not messages:
                self._wake.wait(idle)
                self._wake.clear()
                idle = min(idle * 2, self._options.max_poll_interval)
                continue
            idle = 0.05
            for message in messages:
                self._accept(message)

    def _accept(self, message: QueueMessage) -> None:
        raw = str(message.content)
        try:
            item = BlobWorkItem.from_message(raw)
        except ValueError:
            logger.error("Moving an unreadable blob trigger message to the poison queue")
            self._finish(message.id, message.pop_receipt, poison=(None, raw))
            return
        if item.function_id not in self._known:
            logger.warning("Dropping a queued blob for unknown function '%s' (removed or "
                           "renamed?)", item.function_id)
            self._finish(message.id, message.pop_receipt)
            return
        with self._lock:
            running = self._leases.get(item.key)
            if running is not None and running.message_id == message.id:
                with running.lock:  # our own message came back (a renewal failed): keep it
                    running.pop_receipt = str(message.pop_receipt)
                return
            if running is None and not self._stopping.is_set():
                lease = _Lease(message.id, str(message.pop_receipt), self._renew_time())
                self._leases[item.key] = lease
                self._running += 1
        if running is not None:
            logger.info("Blob %s/%s (ETag %s) is already being processed; dropping a duplicate "
                        "delivery", item.container, item.blob_name, item.etag)
            self._finish(message.id, message.pop_receipt)
            return
        if self._stopping.is_set():
            return  # left invisible until its timeout; the next start takes it
        self._jobs.put((item, lease, int(message.dequeue_count or 1)))

    # -- one item -------------------------------------------------------------------------------

    def _worker_loop(self) -> None:
        while (job := self._jobs.get()) is not None:
            self._work(*job)

    def _work(self, item: BlobWorkItem, lease: _Lease, attempt: int) -> None:
        succeeded = False
        try:
            succeeded = self._work_unguarded(item, lease, attempt)
        except Exception:
            logger.exception("Blob work for %s/%s failed in the host", item.container,
                             item.blob_name)
        finally:
            if succeeded:  # the receipt and the delete follow on a completion thread
                self._completions.put((item, lease))
            else:
                self._forget(item, lease)
            with self._lock:
                self._running -= 1
            self._slot_free.set()

    def _complete_loop(self) -> None:
        while (done := self._completions.get()) is not None:
            item, lease = done
            try:
                self._store.write_receipt(item)
                self._finish_lease(item, lease)
            except Exception:  # the message reappears after its visibility timeout; the
                # receipt check or the function itself then finds the work done
                logger.exception("Could not write the receipt of %s/%s", item.container,
                                 item.blob_name)
            finally:
                self._forget(item, lease)

    def _work_unguarded(self, item: BlobWorkItem, lease: _Lease, attempt: int) -> bool:
        """Run one item; True when the function succeeded (its receipt is yet to be written)."""
        threshold = self._options.poison_threshold
        if self._store.has_receipt(item):
            logger.info("Blob %s/%s (ETag %s) already has a receipt; skipping a duplicate "
                        "delivery", item.container, item.blob_name, item.etag)
            self._finish_lease(item, lease)
            return False
        if attempt > threshold:  # e.g. the host died in the middle of the last allowed attempt
            self._poison(item, lease, attempt - 1)
            return False
        started = time.monotonic()
        try:
            self._run(item, attempt)
            elapsed = time.monotonic() - started
            limit = self._options.function_timeout
            if limit is not None and elapsed > limit:
                raise TimeoutError(f"ran {elapsed:.1f}s, longer than functionTimeout {limit:g}s")
        except Exception as exc:
            if isinstance(exc, TimeoutError):
                logger.error("Blob %s/%s: %s", item.container, item.blob_name, exc)
            if attempt >= threshold:
                self._poison(item, lease, attempt)
            else:
                delay = min(self._options.retry_delay * 2 ** (attempt - 1), 60.0)
                logger.warning("Blob %s/%s failed (attempt %d of %d); retrying in %.1fs",
                               item.container, item.blob_name, attempt, threshold, delay)
                self._release_later(item, lease, delay)
            return False
        return True

    def _poison(self, item: BlobWorkItem, lease: _Lease, attempts: int) -> None:
        logger.error("Blob %s/%s failed %d time(s); moving it to the poison queue",
                     item.container, item.blob_name, attempts)
        self._store.poison(item, "")
        self._finish_lease(item, lease)

    # -- message bookkeeping ----------------------------------------------------------------------

    def _renew_time(self) -> float:
        return time.monotonic() + max(self._options.visibility_timeout / 3, 1.0)

    def _forget(self, item: BlobWorkItem, lease: _Lease) -> None:
        """Let go of the blob version (only this lease: a newer one for the same blob may
        exist). Idempotent."""
        with lease.lock:
            lease.done = True
        with self._lock:
            if self._leases.get(item.key) is lease:
                del self._leases[item.key]

    def _finish(self, message_id: str, pop_receipt: str | None,
                poison: tuple[BlobWorkItem | None, str] | None = None) -> None:
        try:
            if poison is not None:
                self._store.poison(*poison)
            self._store.delete(message_id, str(pop_receipt))
        except AzureError as exc:
            logger.warning("Could not delete queue message %s (%s)", message_id,
                           type(exc).__name__)

    def _finish_lease(self, item: BlobWorkItem, lease: _Lease) -> None:
        self._forget(item, lease)
        self._finish(lease.message_id, lease.pop_receipt)

    def _release_later(self, item: BlobWorkItem, lease: _Lease, delay: float) -> None:
        """Make the message visible again after ``delay`` (forgotten first: it may come back
        at once, and must then be taken as a new attempt, not as our own running message)."""
        self._forget(item, lease)
        try:
            self._store.extend(lease.message_id, lease.pop_receipt, max(int(delay + 0.5), 0))
        except AzureError as exc:
            logger.warning("Could not reschedule queue message %s (%s); it reappears after "
                           "its visibility timeout", lease.message_id, type(exc).__name__)

    def _keep(self) -> None:
        """Renew the invisibility of running messages until the pool has drained."""
        while not self._drained.wait(0.25):
            now = time.monotonic()
            with self._lock:
                due = [lease for lease in self._leases.values() if lease.renew_at <= now]
            for lease in due:
                with lease.lock:
                    if lease.done:
                        continue
                    try:
                        lease.pop_receipt = self._store.extend(
                            lease.message_id, lease.pop_receipt,
                            self._options.visibility_timeout)
                    except AzureError as exc:
                        logger.warning("Could not renew queue message %s (%s)",
                                       lease.message_id, type(exc).__name__)
                    lease.renew_at = self._renew_time()
