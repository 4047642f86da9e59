"""Adapter: a dropped blob in Azure Storage, implementing the ``Drop`` port.

Every write is conditional on the ETag of the version that was read, so an outcome can never be
stamped on content HR uploaded after processing began. Outcomes are written on the blob for
operators, in two places: index tags (``photosync-status``, ``photosync-reason``) that can be
queried across the container, and metadata with the details. Writing metadata changes the ETag;
tags do not. Neither is ever read back to decide anything: HR can write both (the state
table's drop records are photo-sync's record).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING
from urllib.parse import quote

from azure.core import MatchConditions
from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError

from photo_core.domain.outcomes import Outcome, Status
from photo_core.use_cases.ports import (
    Disposal,
    DropChanged,
    DropGone,
    DropInfo,
    Shown,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from azure.storage.blob import BlobClient, ContainerClient

    from photo_core.use_cases.directory import MappingSnapshot
    from photo_core.use_cases.reconcile import Listing

logger = logging.getLogger(__name__)

META_PREFIX = "photosync_"
TAG_STATUS = "photosync-status"
TAG_REASON = "photosync-reason"
MAX_BLOB_TAGS = 10  # Azure's limit of index tags per blob
OUR_TAGS = (TAG_STATUS, TAG_REASON)
_META_SAFE = " @.'-_:,;()=+!~*"


#: The container client for a container name, from the process's blob service client.
Containers = Callable[[str], "ContainerClient"]


class AzureBlobDrop:
    """One drop blob; properties are read once and reused (no double reads). ``containers``
    gives the client for the processed/rejected container a drop is moved to (the process's
    pooled one; without it, a client of its own is built for each move)."""

    def __init__(self, blob: BlobClient, containers: Containers | None = None) -> None:
        self._blob = blob
        self._containers = containers
        self._etag: str | None = None
        self._metadata: dict[str, str] = {}
        self._tags: dict[str, str] | None = None
        self._superseded = False
        self._tag_count = 0

    @property
    def name(self) -> str:
        return str(self._blob.blob_name)

    def info(self) -> DropInfo:
        try:
            props = self._blob.get_blob_properties()
        except ResourceNotFoundError as exc:
            raise DropGone(self._blob.blob_name) from exc
        self._etag = quoted_etag(props.etag)
        self._metadata = dict(props.metadata or {})
        self._tag_count = props.tag_count or 0
        self._tags = None
        return DropInfo(name=self._blob.blob_name, size=props.size, etag=self._etag,
                        last_modified=props.last_modified, created=props.creation_time)

    def read(self) -> bytes:
        try:
            stream = self._blob.download_blob(
                etag=self._etag, match_condition=MatchConditions.IfNotModified, max_concurrency=1
            )
            return stream.readall()
        except (ResourceModifiedError, ResourceNotFoundError) as exc:
            raise DropChanged(self._blob.blob_name) from exc

    def record(self, outcome: Outcome) -> Shown:
        # Whatever HR put under our prefix goes: the blob shows photo-sync's outcome only.
        metadata = {k: v for k, v in self._metadata.items() if not k.startswith(META_PREFIX)}
        metadata.update(outcome_metadata(outcome))
        try:
            result = self._blob.set_blob_metadata(
                metadata, etag=self._etag, match_condition=MatchConditions.IfNotModified
            )
        except (ResourceModifiedError, ResourceNotFoundError) as exc:
            # A conditional write on a deleted blob: Azurite answers 412 as for a changed one
            gone = isinstance(exc, ResourceNotFoundError) or not self._blob.exists()
            logger.info("drop %s %s before its outcome was written", self._blob.blob_name,
                        "was deleted" if gone else "changed (the new version gets its own)")
            self._superseded = True
            return Shown(changed=not gone, gone=gone)
        new_etag = result.get("etag")
        self._etag = quoted_etag(str(new_etag)) if new_etag else self._etag
        self._metadata = metadata
        try:
            self._write_tags(outcome.status, outcome.reason)
        except ResourceNotFoundError:
            logger.info("drop %s was deleted as its outcome was written", self._blob.blob_name)
            self._superseded = True
            return Shown(etag=self._etag, gone=True)
        return Shown(etag=self._etag)

    def ensure_tags(self, status: Status, reason: str | None) -> None:
        try:
            tags = self._current_tags()
            if (tags.get(TAG_STATUS), tags.get(TAG_REASON)) == (status.value, reason or "none"):
                return
            self._write_tags(status, reason)
        except ResourceNotFoundError:
            logger.info("drop %s was deleted; its outcome stays in the state table",
                        self._blob.blob_name)
            return
        logger.info("drop %s: set its outcome tags to its recorded outcome", self._blob.blob_name)

    def _current_tags(self) -> dict[str, str]:
        """The blob's tags, read at most once (only when it has any)."""
        if self._tags is None:
            self._tags = dict(self._blob.get_blob_tags()) if self._tag_count else {}
        return self._tags

    def _write_tags(self, status: Status, reason: str | None) -> None:
        """Set the outcome tags, keeping any tags of HR's own. A blob may carry at most
        ``MAX_BLOB_TAGS``; when HR's own leave no room for ours, the outcome stays in the
        metadata only (a failed drop over tags would be retried into the poison queue)."""
        tags = {**self._current_tags(), TAG_STATUS: status.value, TAG_REASON: reason or "none"}
        if len(tags) > MAX_BLOB_TAGS:
            logger.warning("drop %s carries %d index tags of its own; no room for the outcome "
                           "tags (its outcome is in its metadata)", self._blob.blob_name,
                           len(tags) - len(OUR_TAGS))
            return
        self._blob.set_blob_tags(tags)
        self._tags = tags

    def dispose(self, disposal: Disposal, target_container: str | None,
                content: bytes | None) -> None:
        if disposal is Disposal.KEEP or self._superseded:
            return  # a blob HR replaced meanwhile is left for its new version's own outcome
        if disposal is Disposal.MOVE:
            if content is None or not target_container:
                logger.info("drop %s stays in place: it was never downloaded, so it is not moved",
                            self._blob.blob_name)
                return
            target = self._sibling(target_container)
            # The metadata and tags just written: the copy carries the same outcome.
            target.upload_blob(content, overwrite=True, metadata=self._metadata,
                               tags=self._current_tags())
        try:
            self._blob.delete_blob(etag=self._etag, match_condition=MatchConditions.IfNotModified)
        except (ResourceModifiedError, ResourceNotFoundError):
            logger.info("drop %s changed before it could be removed; left in place",
                        self._blob.blob_name)

    def _sibling(self, container: str) -> BlobClient:
        if self._containers is not None:
            return self._containers(container).get_blob_client(self._blob.blob_name)
        from azure.storage.blob import BlobClient

        url = self._blob.url
        marker = f"/{quote(self._blob.container_name)}/"
        account_url = url[: url.index(marker)]
        return BlobClient(account_url, container, self._blob.blob_name,
                          credential=self._blob.credential)


class AzureDropSource:
    """Adapter for reconcile's ``DropSource``: listing reads no content and makes one request
    per page, not per blob (what was decided for each is in the state table, read likewise)."""

    def __init__(self, container: ContainerClient, containers: Containers | None = None) -> None:
        self._container = container
        self._containers = containers

    def list(self, prefix: str | None) -> Iterator[Listing]:
        from photo_core.use_cases.reconcile import Listing

        for blob in self._container.list_blobs(name_starts_with=prefix):
            yield Listing(blob.name, quoted_etag(str(blob.etag)), blob.last_modified,
                          blob.creation_time)

    def open(self, name: str) -> AzureBlobDrop:
        return AzureBlobDrop(self._container.get_blob_client(name), self._containers)


def mapping_fetcher(container: ContainerClient, path: str,
                    ) -> Callable[[str | None], MappingSnapshot | None]:
    """Fetch the HR id mapping CSV; with the last version's ETag, a conditional read that
    transfers nothing when the file has not changed (``None``: keep the cached one)."""
    from azure.core.exceptions import ResourceNotModifiedError

    from photo_core.use_cases.directory import MappingUnavailable, parse_mapping

    def fetch(version: str | None) -> MappingSnapshot | None:
        blob = container.get_blob_client(path)
        try:
            if version:
                download = blob.download_blob(etag=version,
                                              match_condition=MatchConditions.IfModified)
            else:
                download = blob.download_blob()
            snapshot = parse_mapping(download.readall(), download.properties.etag)
            return replace(snapshot, modified=download.properties.last_modified)
        except (ResourceNotModifiedError, ResourceModifiedError):
            # Azure answers a GET whose If-None-Match matches with 304; Azurite with 412
            return None
        except ResourceNotFoundError as exc:
            raise MappingUnavailable(
                f"the mapping file {container.container_name}/{path} does not exist") from exc

    return fetch


def quoted_etag(etag: str) -> str:
    """An ETag in one spelling: listings give it bare, properties in quotes."""
    return etag if etag.startswith('"') else f'"{etag}"'


def outcome_metadata(outcome: Outcome) -> dict[str, str]:
    """Outcome as blob metadata. Values are HTTP headers, so they are ASCII: percent-encoded."""
    fields = {
        "status": outcome.status.value,
        "reason": outcome.reason or "",
        "message": outcome.message[:512],
        "user": outcome.user or "",
        "sha256": outcome.content_sha256 or "",
        "at": outcome.at.isoformat(),
        "blob": outcome.blob_name,
        "actions": ",".join(outcome.actions),
        "modified": outcome.source_modified.isoformat() if outcome.source_modified else "",
    }
    return {META_PREFIX + k: _header_value(v) for k, v in fields.items() if v}


def _header_value(value: str) -> str:
    """Percent-encode for a metadata header. Spaces stay readable inside a value, but not at
    its ends: HTTP trims those, and a marker whose blob name lost a leading space would never
    match its blob again (the drop would be processed on every delivery)."""
    encoded = quote(value, safe=_META_SAFE)
    stripped = encoded.strip(" ")
    start = encoded.index(stripped) if stripped else len(encoded)
    lead, tail = encoded[:start], encoded[start + len(stripped):]
    return lead.replace(" ", "%20") + stripped + tail.replace(" ", "%20")
