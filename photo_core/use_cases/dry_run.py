"""Dry runs: what a real run would do with a drop, found out without writing anything.

A dry run checks the name and the photo as a real run does. What only the photo service knows,
whether the user exists and can hold a photo, it asks the service the way a real run meets it,
minus the write: it reads the user's photo metadata. That read needs no permission the app lacks
(``ProfilePhoto.ReadWrite.All``, which uploads need, includes reading photos), and Graph answers
it with the same errors an upload gets for a user who does not exist, has no mailbox or has one
on premises; a user without a photo yet is an answer ("no photo"), not an error. One refusal
is left that only a write shows: the tenant's photo-update policy (``photo_update_policy``).

A dry run's rejections are ``would-reject`` outcomes: it records nothing on the blob or in the
user's state, and reports must not count what it found as rejections that happened.
"""

from __future__ import annotations

from dataclasses import replace

from photo_core.domain.errors import PermanentError
from photo_core.domain.naming import UserRef
from photo_core.domain.outcomes import Outcome, Status
from photo_core.domain.retry import Deadline, within
from photo_core.use_cases.ports import PhotoApi


def would_reject(api: PhotoApi, target: UserRef,
                 deadline: Deadline | None = None) -> PermanentError | None:
    """The permanent error a real upload for ``target`` would end in, as far as a read can tell
    (``None``: it would be uploaded). Transient failures propagate, as in a real run."""
    try:
        with within(deadline):
            api.get_metadata(target)
    except PermanentError as exc:
        return exc
    return None


def as_dry_run(outcome: Outcome) -> Outcome:
    """The outcome a dry run records: a rejection becomes ``would-reject``, with its reason."""
    if outcome.status is Status.REJECTED:
        return replace(outcome, status=Status.WOULD_REJECT)
    return outcome
