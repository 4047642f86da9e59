"""When HR deletes a photo blob: optionally remove the user's profile photo too.

Off by default (``PHOTO_DELETE_ON_BLOB_DELETE``): deleting a file in a container is easy to do
by mistake, and a missing photo is worse than a stale one. When on, the photo is removed only
if the deleted blob is the one the user's current photo came from, and no blob of that name has
been uploaded again since: deleting an old or superseded drop, or replacing a file by deleting
and re-uploading it, never removes anyone's photo.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from photo_core.errors import PermanentError
from photo_core.naming import NamingRules, UserRef, parse_blob_name
from photo_core.outcomes import Outcome, Status
from photo_core.ports import StateConflict
from photo_core.sync import SyncDeps, append_to_log

logger = logging.getLogger(__name__)

BLOB_DELETED = "Microsoft.Storage.BlobDeleted"
_SUBJECT = re.compile(r"/blobServices/default/containers/(?P<container>[^/]+)/blobs/(?P<name>.+)")


@dataclass(frozen=True)
class DeletionOptions:
    enabled: bool
    drop_container: str
    naming: NamingRules


def blob_deleted(event_type: str, subject: str, options: DeletionOptions, deps: SyncDeps,
                 blob_exists: Callable[[str], bool]) -> Outcome | None:
    """React to one deletion event; ``None`` when there is nothing to do (and says why in the
    log). Transient failures raise, so Event Grid delivers the event again."""
    match = _SUBJECT.fullmatch(subject)
    if event_type != BLOB_DELETED or match is None:
        return None
    if match["container"] != options.drop_container:
        return None
    name = match["name"]
    if not options.enabled:
        logger.info("drop %s was deleted; deletion sync is off, so no photo is removed", name)
        return None
    ref = parse_blob_name(name, options.naming)
    if not isinstance(ref, UserRef):
        return None
    current = deps.state.get(ref.key)
    if current is None or current[0].last_blob_name != name or \
            current[0].last_status not in (Status.UPLOADED.value, Status.UNCHANGED.value):
        logger.info("deleted drop %s is not the source of %s's photo; nothing removed",
                    name, ref.value)
        return None
    if blob_exists(name):
        logger.info("drop %s was uploaded again after its deletion; photo kept", name)
        return None
    state, version = current
    target = (deps.resolver.resolve(ref) if deps.resolver else ref)
    try:
        deps.api.delete_photo(target)
        outcome = Outcome(Status.PHOTO_DELETED, name, "HR deleted the drop; the profile photo "
                          "was removed", deps.now(), user=ref.value)
    except PermanentError as exc:
        outcome = Outcome(Status.REJECTED, name, exc.message, deps.now(), reason=exc.code,
                          user=ref.value)
    try:
        deps.state.put(replace(state, last_status=outcome.status.value,
                               last_reason=outcome.reason, last_message=outcome.message,
                               content_sha256=None, uploaded_at=None, updated_at=outcome.at),
                       version)
    except StateConflict:
        logger.warning("state of %s changed while its photo was being deleted", ref.value)
    append_to_log(deps, outcome)
    logger.info("drop %s deleted: %s", name, outcome.status.value)
    return outcome
