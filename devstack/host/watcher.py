"""Turns new blob versions in Azurite into Event Grid deliveries, since Azurite emits none.

For each blob trigger, the watcher lists the trigger's container every ``interval`` seconds
and, for every blob version (name + ETag) it has not delivered yet, POSTs a ``BlobCreated``
event to the host's own webhook over HTTP with the ``blobs_extension`` key, after the
subscription validation handshake, exactly as an Event Grid subscription would. (Triggers
with the polling source, ``LogsAndContainerScan``, are queued directly, as the extension's
own scanner does.)

What has been delivered is remembered per function as {blob name: ETag} in
``<state-dir>/watcher.json``: bounded by the container's size, because names that disappear
from the listing are forgotten. On start the file is read and the container re-scanned: a
version that is neither remembered nor has a blob receipt is delivered, so drops made while
the host was down are not lost, while processed or poisoned blobs are not delivered again.
A failed delivery is retried on the next poll.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit, urlunsplit

import requests
from azure.core.exceptions import AzureError, ResourceNotFoundError
from azure.storage.blob import BlobProperties

from devstack.host.bindings import BlobTrigger, FunctionSpec
from devstack.host.blob_queue import BlobWorkItem, normalize_etag
from devstack.host.eventgrid import blob_created_event, validation_event
from devstack.host.storage import StorageSettingError, watch_blob_service

logger = logging.getLogger(__name__)

_BATCH = 100  # events per delivery


@dataclass(frozen=True)
class WatchTarget:
    spec: FunctionSpec
    trigger: BlobTrigger
    webhook_url: str | None  # None: a polling-source trigger, queued directly


class Watcher:
    """One thread polling every watched container."""

    def __init__(self, targets: list[WatchTarget], *, enqueue: Callable[[BlobWorkItem], None],
                 has_receipt: Callable[[BlobWorkItem], bool], state_path: Path,
                 interval: float = 0.5) -> None:
        self._targets = targets
        self._enqueue = enqueue
        self._has_receipt = has_receipt
        self._state_path = state_path
        self._interval = interval
        self._stop = threading.Event()
        self._session = requests.Session()
        self._session.trust_env = False  # loopback only: never through a proxy from the env
        self._seen: dict[str, dict[str, str]] = self._load()
        self._failing: set[str] = set()
        self._thread = threading.Thread(target=self._loop, name="blob-watcher", daemon=True)

    def start(self) -> None:
        if self._targets:
            self._thread.start()

    def stop(self, timeout: float) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._session.close()

    def _loop(self) -> None:
        targets = [t for t in self._targets if t.webhook_url is None or self._validate(t)]
        rescan = {t.spec.name for t in targets}  # until the first listing that succeeds
        while True:
            for target in targets:
                if self._stop.is_set():
                    return
                if self._poll(target, startup=target.spec.name in rescan):
                    rescan.discard(target.spec.name)
            if self._stop.wait(self._interval):
                return

    def _validate(self, target: WatchTarget) -> bool:
        """The subscription handshake: the webhook must echo the validation code."""
        code = str(uuid.uuid4())
        try:
            answer = self._post(target, [validation_event(code)], "SubscriptionValidation")
            if answer.status_code == 200 and answer.json().get("validationResponse") == code:
                return True
            logger.error("Webhook validation for %s failed (HTTP %d); not watching it",
                         target.spec.name, answer.status_code)
        except (requests.RequestException, ValueError) as exc:
            logger.error("Webhook validation for %s failed (%s); not watching it",
                         target.spec.name, type(exc).__name__)
        return False

    def _poll(self, target: WatchTarget, *, startup: bool) -> bool:
        """One listing and its deliveries; False when the container could not be listed."""
        name, trigger = target.spec.name, target.trigger
        try:
            container = watch_blob_service(trigger.connection).get_container_client(
                trigger.container)
            try:
                listed = [b for b in container.list_blobs()
                          if trigger.matches(trigger.container, str(b.name))]
            except ResourceNotFoundError:
                listed = []
            seen = self._seen.setdefault(name, {})
            current = {str(b.name): normalize_etag(str(b.etag)) for b in listed}
            fresh = [b for b in listed if seen.get(str(b.name)) != current[str(b.name)]]
            if startup:
                fresh = [b for b in fresh if not self._already_done(target, b, seen)]
            delivered = self._deliver(target, container.url, container.account_name or "",
                                      fresh)
            if name in self._failing:
                logger.info("Watching %s again", trigger.container)
                self._failing.discard(name)
        except (AzureError, StorageSettingError) as exc:
            if name not in self._failing:
                logger.warning("Cannot list container %s for %s (%s); retrying",
                               trigger.container, name, type(exc).__name__)
            self._failing.add(name)
            return False
        gone = set(seen) - set(current)
        for blob_name in gone:
            del seen[blob_name]
        for blob_name in delivered:
            seen[blob_name] = current[blob_name]
        if gone or delivered or startup:
            self._save()
        return True

    def _already_done(self, target: WatchTarget, blob: BlobProperties,
                      seen: dict[str, str]) -> bool:
        item = BlobWorkItem(target.spec.function_id, target.trigger.container, str(blob.name),
                            str(blob.etag))
        try:
            done = self._has_receipt(item)
        except AzureError:
            return False  # deliver: a duplicate is deduplicated by the receipt later
        if done:
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
                answer = self._post(target, events, "Notification")
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

    def _post(self, target: WatchTarget, events: list[dict[str, Any]], kind: str
              ) -> requests.Response:
        """POST to the webhook, the key in a header: urllib3's debug log shows URLs."""
        assert target.webhook_url is not None
        split = urlsplit(target.webhook_url)
        query = parse_qs(split.query)
        key = query.pop("code", [""])[0]
        url = urlunsplit(split._replace(query=urlencode(query, doseq=True)))
        return self._session.post(url, json=events, timeout=30,
                                  headers={"aeg-event-type": kind, "x-functions-key": key})

    def _load(self) -> dict[str, dict[str, str]]:
        try:
            document = json.loads(self._state_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return {str(k): {str(n): str(e) for n, e in v.items()} for k, v in document.items()
                if isinstance(v, dict)}

    def _save(self) -> None:
        temp = self._state_path.with_name(self._state_path.name + ".tmp")
        with contextlib.suppress(OSError):
            self._state_path.parent.mkdir(parents=True, exist_ok=True)
            temp.write_text(json.dumps(self._seen, sort_keys=True), encoding="utf-8")
            temp.replace(self._state_path)



def _blob_type(blob: BlobProperties) -> str:
    """"BlockBlob", as Event Grid spells it (the SDK gives an enum)."""
    kind = blob.blob_type
    return str(getattr(kind, "value", kind) or "BlockBlob")
