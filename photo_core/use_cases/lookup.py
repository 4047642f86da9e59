"""The lookup use case: a user's photo metadata and the last sync outcome, or the photo itself.

Every user reference is validated before any outbound call, so nothing a caller types can steer a
request to another path or host. A lookup answers an HTTP caller, so its photo API calls share
one short deadline (``PHOTO_LOOKUP_BUDGET_SECONDS``) instead of each having the drop path's
retry budget: a throttled or failing service becomes a prompt 503 or 502, not a wait of minutes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from photo_core.domain.dialects import PhotoMetadata, parse_size
from photo_core.domain.errors import (
    InvalidUserReference,
    MailboxOnPremises,
    NoMailbox,
    UserNotFound,
)
from photo_core.domain.naming import NameRejection, NamingRules, UserRef, parse_user_reference
from photo_core.domain.retry import Deadline, within
from photo_core.use_cases.ports import PhotoApi, PhotoContent, StateStore, UserState

if TYPE_CHECKING:
    from photo_core.use_cases.directory import UserResolver
    from photo_core.use_cases.lookup_cache import LookupCache


@dataclass(frozen=True)
class LookupResult:
    user: str
    photo: PhotoMetadata | None
    sizes: tuple[str, ...]
    state: UserState | None

    def to_json(self) -> dict[str, Any]:
        photo = self.photo
        return {
            "user": self.user,
            "hasPhoto": photo is not None,
            "contentType": photo.content_type if photo else None,
            "etag": photo.etag if photo else None,
            "width": photo.width if photo else None,
            "height": photo.height if photo else None,
            "sizes": list(self.sizes),
            "lastSync": _state_json(self.state),
        }

    @cached_property
    def etag(self) -> str:
        """A strong validator of the whole answer, for ``If-None-Match`` (computed once)."""
        body = json.dumps(self.to_json(), sort_keys=True).encode()
        return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def parse_reference(text: str, naming: NamingRules) -> UserRef:
    """The validated reference, or ``InvalidUserReference``; pure (nothing is sent upstream)."""
    ref = parse_user_reference(text, naming)
    if isinstance(ref, NameRejection):
        raise InvalidUserReference(ref.message, code=ref.code)
    return ref


def lookup_photo(text: str, naming: NamingRules, api: PhotoApi, state: StateStore,
                 resolver: UserResolver, cache: LookupCache[LookupResult] | None = None,
                 deadline: Deadline | None = None) -> LookupResult:
    """Photo metadata, sizes and the last sync outcome for one user.

    With a ``cache``, a current answer for the same reference is returned without any upstream
    call (not even an employee-id resolution), and a fresh answer is kept for the next caller.
    With a ``deadline``, every photo API call of the lookup (the resolution, metadata, sizes)
    must end before it: three calls must not each wait out a retry budget of their own.
    """
    ref = parse_reference(text, naming)
    key = f"{ref.kind.value}:{ref.value}"  # as typed: the answer echoes the caller's spelling
    started = None
    if cache is not None:
        hit = cache.get(key)
        if hit is not None:
            return hit.result
        started = cache.started()
    with within(deadline):
        target = resolver.resolve(ref)
        metadata = api.get_metadata(target)
        sizes = _sizes(api, target) if metadata else ()
    current = state.get(ref.key)
    result = LookupResult(ref.value, metadata, sizes, current[0] if current else None)
    if cache is not None:
        cache.put(key, result, started)
    return result


def _sizes(api: PhotoApi, target: UserRef) -> tuple[str, ...]:
    """The photo's HD sizes. They are Exchange Online's: a photo Graph keeps in Entra ID (a
    user without a mailbox) has none, and the sizes call may answer that the user has no
    mailbox although the photo itself was just read. That is "no sizes", not a failed lookup."""
    try:
        return tuple(m.size_id for m in api.list_sizes(target))
    except (NoMailbox, MailboxOnPremises):
        return ()


def photo_bytes(text: str, size: str | None, naming: NamingRules, api: PhotoApi,
                resolver: UserResolver, deadline: Deadline | None = None) -> PhotoContent:
    """The photo itself (one size of it, on Graph); the resolution and the read share
    ``deadline``, as in ``lookup_photo``."""
    if size is not None:
        try:
            size = parse_size(size)
        except ValueError as exc:
            raise InvalidUserReference(str(exc), code="invalid_size") from exc
    ref = parse_reference(text, naming)
    with within(deadline):
        target = resolver.resolve(ref)
        content = api.get_photo(target, size)
    if content is None:
        raise UserNotFound(f"{text} has no photo", code="no_photo")
    return content


def _state_json(state: UserState | None) -> dict[str, Any] | None:
    if state is None or state.last_status is None:
        return None
    return {
        "status": state.last_status,
        "reason": state.last_reason,
        "message": state.last_message,
        "time": state.updated_at.isoformat() if state.updated_at else None,
        "blob": state.last_blob_name,
        "contentSha256": state.content_sha256,
        "uploadedAt": state.uploaded_at.isoformat() if state.uploaded_at else None,
        "attempts": state.attempts,
    }
