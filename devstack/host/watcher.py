"""Turns changes in Azurite into Event Grid deliveries, since Azurite emits none.

Every ``interval`` seconds the watcher lists each container that a blob trigger watches (once
per container, however many triggers share it) and:

* **new blob versions** (name + ETag not delivered yet) become ``BlobCreated`` events POSTed to
  each matching trigger's own webhook over HTTP with the ``blobs_extension`` key, after the
  subscription validation handshake, exactly as an Event Grid subscription would. (Triggers
  with the polling source, ``LogsAndContainerScan``, are queued directly, as the extension's own
  scanner does.) A failed delivery is retried on the next poll.
* **blobs that disappeared** since the previous listing become one ``BlobDeleted`` event each,
  delivered to every Event Grid trigger function of the app (locally, every Event Grid function
  subscribes to the deletions in the watched containers) through ``event_outbox.EventOutbox``,
  which retries and dead-letters like Event Grid.

What has been delivered is remembered per function as {blob name: ETag}, and the last listing
of each container as {blob name: ETag, content type, blob type} with the container's own ETag,
in ``<state-dir>/watcher.json`` with the pending ``BlobDeleted`` deliveries. It is bounded by
the containers' size, because names that disappear from a listing are forgotten. On start the
file is read and each container re-scanned: a version that is neither remembered nor has a blob
receipt is delivered, so drops made while the host was down are not lost, while processed or
poisoned blobs are not delivered again; and a name in the remembered listing that is gone was
deleted while the host was down, so its ``BlobDeleted`` is raised then. A deletion is raised
exactly once: the event is queued and the listing updated in one atomic write of the file.

What polling cannot see: a blob created and deleted between two listings raises nothing, and a
blob deleted and re-created under the same name between two listings looks like an overwrite
(a new ``BlobCreated``, no ``BlobDeleted``). A container that disappears, or is re-created (its
ETag changes: a wiped Azurite, ``make run`` starting afresh), raises no ``BlobDeleted`` for the
blobs it had (Storage raises none for a deleted container either); the listing starts over.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit, urlunsplit

import requests
from azure.core.exceptions import AzureError, ResourceNotFoundError
from azure.storage.blob import BlobProperties, ContainerClient

from devstack.host.bindings import BlobTrigger, FunctionSpec
from devstack.host.blob_queue import BlobWorkItem, normalize_etag
from devstack.host.event_outbox import DEAD_LETTER_FILE, EventOutbox
from devstack.host.eventgrid import blob_created_event, blob_deleted_event, validation_event
from devstack.host.storage import StorageSettingError, watch_blob_service

logger = logging.getLogger(__name__)

_BATCH = 100  # BlobCreated events per delivery
_STATE_VERSION = 2
#: How long a delivery may take before it counts as failed (Event Grid waits 30 s).
DELIVERY_TIMEOUT = 30.0


@dataclass(frozen=True)
class WatchTarget:
    spec: FunctionSpec
    trigger: BlobTrigger
    webhook_url: str | None  # None: a polling-source trigger, queued directly


@dataclass(frozen=True)
class EventGridTarget:
    """An Event Grid trigger function: every deletion in a watched container goes to it."""

    name: str
    webhook_url: str


@dataclass
class _Container:
    """One watched container and the blob triggers on it.

    The client is built on the first poll that can build one and then kept: a client per poll
    would open a fresh connection to Storage every ``interval``. Its pool reconnects by itself
    after an Azurite restart."""

    connection: str
    name: str
    targets: list[WatchTarget] = field(default_factory=list)
    client: ContainerClient | None = None

    @property
    def key(self) -> str:
        return f"{self.connection}/{self.name}"

    def container_client(self) -> ContainerClient:
        if self.client is None:
            self.client = watch_blob_service(self.connection).get_container_client(self.name)
        return self.client


class Watcher:
    """One thread polling every watched container (and, with Event Grid functions, one thread
    delivering deletion events)."""

    def __init__(self, targets: list[WatchTarget], *, enqueue: Callable[[BlobWorkItem], None],
                 has_receipt: Callable[[BlobWorkItem], bool], state_path: Path,
                 interval: float = 0.5, eventgrid_targets: list[EventGridTarget] | None = None,
                 retry_delay: float = 1.0, max_delivery_attempts: int = 10) -> None:
        self._targets = targets
        self._eventgrid_targets = list(eventgrid_targets or [])
        self._enqueue = enqueue
        self._has_receipt = has_receipt
        self._state_path = state_path
        self._interval = interval
        self._stop = threading.Event()
        self._lock = threading.RLock()  # the state below, and the file
        self._session = _session()
        self._outbox_session = _session()
        self._outbox: EventOutbox | None = None
        if self._eventgrid_targets:
            self._outbox = EventOutbox(
                lock=self._lock, persist=self._save, post=self._post_event,
                dead_letter_path=state_path.with_name(DEAD_LETTER_FILE),
                max_attempts=max_delivery_attempts, retry_delay=retry_delay)
        self._seen: dict[str, dict[str, str]] = {}
        self._listed: dict[str, _Listing] = {}
        self._load()
        self._failing: set[str] = set()
        self._thread = threading.Thread(target=self._loop, name="blob-watcher", daemon=True)

    def start(self) -> None:
        if self._targets:
            self._thread.start()

    def stop(self, timeout: float) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        if self._outbox is not None:
            self._outbox.stop(timeout)
        self._session.close()
        self._outbox_session.close()

    def pending_events(self) -> int:
        """Event Grid deliveries not made yet (waiting for their first try or a retry)."""
        return self._outbox.pending() if self._outbox is not None else 0

    # -- the polling thread -----------------------------------------------------------------------

    def _loop(self) -> None:
        blob_targets = [t for t in self._targets
                        if t.webhook_url is None or self._validate(t.spec.name, t.webhook_url)]
        if self._outbox is not None:
            subscribers = {t.name: t.webhook_url for t in self._eventgrid_targets
                           if self._validate(t.name, t.webhook_url)}
            self._outbox.start(subscribers)
        containers: dict[tuple[str, str], _Container] = {}
        for target in self._targets:  # deletions are watched even where validation failed
            connection, name = target.trigger.connection, target.trigger.container
            group = containers.setdefault((connection, name), _Container(connection, name))
            if target in blob_targets:
                group.targets.append(target)
        rescan = {t.spec.name for t in blob_targets}  # until the first listing that succeeds
        while True:
            for group in containers.values():
                if self._stop.is_set():
                    return
                self._poll(group, rescan)
            if self._stop.wait(self._interval):
                return

    def _validate(self, name: str, webhook_url: str) -> bool:
        """The subscription handshake: the webhook must echo the validation code."""
        code = str(uuid.uuid4())
        try:
            answer = self._post(self._session, webhook_url, [validation_event(code)],
                                "SubscriptionValidation")
            if answer.status_code == 200 and answer.json().get("validationResponse") == code:
                return True
            logger.error("Webhook validation for %s failed (HTTP %d); not delivering to it",
                         name, answer.status_code)
        except (requests.RequestException, ValueError) as exc:
            logger.error("Webhook validation for %s failed (%s); not delivering to it",
                         name, type(exc).__name__)
        return False

    def _poll(self, group: _Container, rescan: set[str]) -> None:
        """One listing of a container, then its deliveries."""
        try:
            container = group.container_client()
            try:
                # The container's ETag tells a re-created container from the one listed before
                # (asked first: a container re-created after it was listed must not look old).
                incarnation: str | None = None
                if self._outbox is not None:
                    incarnation = normalize_etag(str(container.get_container_properties().etag))
                listed = list(container.list_blobs())
            except ResourceNotFoundError:
                listed, incarnation = [], None
        except (AzureError, StorageSettingError) as exc:
            if group.key not in self._failing:
                logger.warning("Cannot list container %s (%s); retrying", group.name,
                               type(exc).__name__)
            self._failing.add(group.key)
            return
        if group.key in self._failing:
            logger.info("Watching %s again", group.name)
            self._failing.discard(group.key)
        for target in group.targets:
            if self._poll_target(target, container, listed,
                                 startup=target.spec.name in rescan):
                rescan.discard(target.spec.name)
        if self._outbox is not None:
            self._detect_deletions(group, container, listed, incarnation)

    def _poll_target(self, target: WatchTarget, container: ContainerClient,
                     blobs: list[BlobProperties], *, startup: bool) -> bool:
        """Deliver the new versions for one trigger; False when that failed (retried)."""
        name, trigger = target.spec.name, target.trigger
        listed = [b for b in blobs if trigger.matches(trigger.container, str(b.name))]
        with self._lock:
            seen = self._seen.setdefault(name, {})
            current = {str(b.name): normalize_etag(str(b.etag)) for b in listed}
            fresh = [b for b in listed if seen.get(str(b.name)) != current[str(b.name)]]
        try:
            if startup:
                fresh = [b for b in fresh if not self._already_done(target, b, seen)]
            delivered = self._deliver(target, container.url, container.account_name or "",
                                      fresh)
        except (AzureError, StorageSettingError) as exc:
            logger.warning("Cannot deliver blob events for %s (%s); retrying", name,
                           type(exc).__name__)
            return False
        with self._lock:
            gone = set(seen) - set(current)
            for blob_name in gone:
                del seen[blob_name]
            for blob_name in delivered:
                seen[blob_name] = current[blob_name]
            if gone or delivered or startup:
                self._save()
        return True

    def _detect_deletions(self, group: _Container, container: ContainerClient,
                          blobs: list[BlobProperties], incarnation: str | None) -> None:
        """Raise ``BlobDeleted`` for every name of the previous listing that is gone.

        ``incarnation`` is the container's ETag, None when the container does not exist."""
        assert self._outbox is not None
        current = _Listing(incarnation or "", {str(b.name): _remembered(b) for b in blobs})
        with self._lock:
            before = self._listed.get(group.key)
            self._listed[group.key] = current
            if before is None or incarnation is None or before.container != incarnation:
                # No baseline yet (first start with an Event Grid function), or the container
                # is gone or is another one (re-created, a wiped Azurite): nothing to report,
                # start from this listing.
                if before is not None and before.blobs and incarnation is not None:
                    logger.info("Container %s was re-created; its earlier blobs raise no "
                                "BlobDeleted", group.name)
                if before != current:
                    self._save()
                return
            previous = before.blobs
            gone = [name for name in previous if name not in current.blobs]
            if gone:
                account = container.account_name or ""
                events = [blob_deleted_event(
                    account=account, container=group.name, blob_name=name,
                    url=f"{container.url}/{quote(name)}",
                    content_type=previous[name].get("contentType"),
                    blob_type=previous[name].get("blobType") or "BlockBlob") for name in gone]
                self._outbox.add(events, [t.name for t in self._eventgrid_targets])
                logger.info("%d blob(s) deleted from %s; raising BlobDeleted", len(gone),
                            group.name)
            if gone or previous != current.blobs:
                self._save()  # the events and the listing that raised them, in one write

    def _already_done(self, target: WatchTarget, blob: BlobProperties,
                      seen: dict[str, str]) -> bool:
        item = BlobWorkItem(target.spec.function_id, target.trigger.container, str(blob.name),
                            str(blob.etag))
        try:
            done = self._has_receipt(item)
        except AzureError:
            return False  # deliver: a duplicate is deduplicated by the receipt later
        if done:
            with self._lock:
                seen[str(blob.name)] = normalize_etag(str(blob.etag))
        return done

    def _deliver(self, target: WatchTarget, container_url: str, account: str,
                 blobs: list[BlobProperties]) -> list[str]:
        """Deliver events for ``blobs``; return the names that were accepted."""
        delivered: list[str] = []
        for start in range(0, len(blobs), _BATCH):
            batch = blobs[start:start + _BATCH]
            if target.webhook_url is None:
                for blob in batch:
                    self._enqueue(BlobWorkItem(target.spec.function_id, target.trigger.container,
                                               str(blob.name), str(blob.etag),
                                               _blob_type(blob)))
                    delivered.append(str(blob.name))
                continue
            events = [self._event(container_url, account, target.trigger.container, b)
                      for b in batch]
            try:
                answer = self._post(self._session, target.webhook_url, events, "Notification")
            except requests.RequestException as exc:
                logger.warning("Delivering blob events to %s failed (%s); retrying",
                               target.spec.name, type(exc).__name__)
                break
            if answer.status_code not in (200, 202):
                logger.warning("Delivering blob events to %s got HTTP %d; retrying",
                               target.spec.name, answer.status_code)
                break
            delivered.extend(str(b.name) for b in batch)
        return delivered

    @staticmethod
    def _event(container_url: str, account: str, container: str,
               blob: BlobProperties) -> dict[str, Any]:
        settings = blob.content_settings
        return blob_created_event(
            account=account, container=container, blob_name=str(blob.name),
            url=f"{container_url}/{quote(str(blob.name))}", etag=str(blob.etag),
            content_length=int(blob.size or 0),
            content_type=settings.content_type if settings else None,
            blob_type=_blob_type(blob), event_time=blob.last_modified,
        )

    # -- HTTP -------------------------------------------------------------------------------------

    @staticmethod
    def _post(session: requests.Session, webhook_url: str, events: list[dict[str, Any]],
              kind: str) -> requests.Response:
        """POST to a webhook, the key in a header: urllib3's debug log shows URLs."""
        split = urlsplit(webhook_url)
        query = parse_qs(split.query)
        key = query.pop("code", [""])[0]
        url = urlunsplit(split._replace(query=urlencode(query, doseq=True)))
        return session.post(url, json=events, timeout=DELIVERY_TIMEOUT,
                            headers={"aeg-event-type": kind, "x-functions-key": key})

    def _post_event(self, webhook_url: str, events: list[dict[str, Any]]) -> requests.Response:
        """The outbox's deliveries, on its own session (sessions are not shared by threads)."""
        return self._post(self._outbox_session, webhook_url, events, "Notification")

    # -- the state file ---------------------------------------------------------------------------

    def _load(self) -> None:
        try:
            document = json.loads(self._state_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        if not isinstance(document, dict):
            return
        if document.get("version") != _STATE_VERSION:  # the first layout: delivered only
            document = {"delivered": document}
        delivered = document.get("delivered")
        if isinstance(delivered, dict):
            self._seen = {str(k): {str(n): str(e) for n, e in v.items()}
                          for k, v in delivered.items() if isinstance(v, dict)}
        listed = document.get("listed")
        if isinstance(listed, dict) and self._outbox is not None:
            self._listed = {str(key): found for key, value in listed.items()
                            if (found := _Listing.from_json(value)) is not None}
        outbox = document.get("outbox")
        if isinstance(outbox, list) and self._outbox is not None:
            self._outbox.load(outbox)
        elif isinstance(outbox, list) and outbox:
            logger.warning("Dropping %d pending Event Grid deliveries: the app has no Event "
                           "Grid function any more", len(outbox))

    def _save(self) -> None:
        with self._lock:
            document: dict[str, Any] = {"version": _STATE_VERSION, "delivered": self._seen}
            if self._outbox is not None:
                document["listed"] = {key: listing.to_json()
                                      for key, listing in self._listed.items()}
                document["outbox"] = self._outbox.snapshot()
            text = json.dumps(document, sort_keys=True)
            temp = self._state_path.with_name(self._state_path.name + ".tmp")
            with contextlib.suppress(OSError):
                self._state_path.parent.mkdir(parents=True, exist_ok=True)
                temp.write_text(text, encoding="utf-8")
                temp.replace(self._state_path)


@dataclass(frozen=True)
class _Listing:
    """The last listing of a container: its ETag (which container) and its blobs."""

    container: str
    blobs: dict[str, dict[str, str]]  # name -> {"eTag", "contentType", "blobType"}

    def to_json(self) -> dict[str, Any]:
        return {"containerETag": self.container, "blobs": self.blobs}

    @classmethod
    def from_json(cls, document: Any) -> _Listing | None:
        if not isinstance(document, dict) or not isinstance(document.get("blobs"), dict):
            return None
        blobs = {str(name): {str(k): str(v) for k, v in blob.items()}
                 for name, blob in document["blobs"].items() if isinstance(blob, dict)}
        return cls(str(document.get("containerETag") or ""), blobs)


def _session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # loopback only: never through a proxy from the env
    return session


def _remembered(blob: BlobProperties) -> dict[str, str]:
    """What a BlobDeleted event needs to know about a blob once it is gone."""
    settings = blob.content_settings
    return {"eTag": normalize_etag(str(blob.etag)),
            "contentType": (settings.content_type if settings else None) or "",
            "blobType": _blob_type(blob)}


def _blob_type(blob: BlobProperties) -> str:
    """"BlockBlob", as Event Grid spells it (the SDK gives an enum)."""
    kind = blob.blob_type
    return str(getattr(kind, "value", kind) or "BlockBlob")
