"""One version of a drop as the sync sees it, and the outcomes made for it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from photo_core.domain.naming import UserRef
from photo_core.domain.outcomes import Outcome, Status
from photo_core.photos import PreparedPhoto
from photo_core.use_cases.directory import Resolution
from photo_core.use_cases.drop_context import SyncDeps
from photo_core.use_cases.ports import DropInfo, DropRecord


@dataclass(frozen=True)
class DropVersion:
    """A drop blob's version: storage's properties, what was decided for its name before, and,
    once read, its bytes, their hash and the content's time (``photo_core.use_cases.ordering``)."""

    info: DropInfo
    record: DropRecord | None
    content: bytes | None = None
    raw_sha256: str | None = None
    made: datetime | None = None

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def key(self) -> str:
        """The claim's and the intent's name for this version."""
        return f"{self.info.name}|{self.info.etag}"

    @property
    def time(self) -> datetime:
        """Its content time; before the content is read, the best storage gives."""
        return self.made or self.info.created or self.info.last_modified


def outcome_for(version: DropVersion, deps: SyncDeps, status: Status, reason: str | None,
                message: str, ref: UserRef | None, prepared: PreparedPhoto | None = None,
                resolution: Resolution | None = None) -> Outcome:
    return Outcome(
        status=status, blob_name=version.name, message=message, at=deps.clock.now(),
        reason=reason, user=ref.value if ref else None, blob_etag=version.info.etag,
        content_sha256=prepared.sha256 if prepared else None,
        actions=tuple(a.code for a in prepared.actions) if prepared else (),
        source_modified=version.time, target=resolution.user if resolution else None,
        mapping_version=resolution.version if resolution else None,
    )


def rejected(version: DropVersion, deps: SyncDeps, code: str, message: str,
             ref: UserRef | None = None, *, retry_later: bool = False) -> Outcome:
    """A permanent failure: rejected, or, for a failure of photo-sync's own configuration,
    deferred (kept, and retried by every reconcile until it ends)."""
    if retry_later:
        return outcome_for(version, deps, Status.DEFERRED, code, f"{message} (photo-sync's "
                           "configuration: the drop is kept and retried by the next reconcile "
                           "once it is fixed)", ref)
    return outcome_for(version, deps, Status.REJECTED, code, message, ref)


def describe(prepared: PreparedPhoto) -> str:
    done = "; ".join(a.reason for a in prepared.actions) or "uploaded as provided"
    return f"{prepared.width}x{prepared.height}, {len(prepared.data)} bytes: {done}"
