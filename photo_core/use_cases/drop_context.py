"""What every drop-side use case (sync, deletions, repair, reconcile) works with: the options
they share and the ports they are given, plus the two small helpers they all use."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from photo_core.domain.budget import BUDGET
from photo_core.domain.clock import Clock
from photo_core.domain.naming import NamingRules
from photo_core.domain.outcomes import Outcome
from photo_core.domain.retry import Deadline
from photo_core.photos import ImagePolicy
from photo_core.use_cases.claims import Claimant
from photo_core.use_cases.directory import UserResolver
from photo_core.use_cases.ports import Disposal, Drop, OutcomeLog, PhotoApi, StateStore
from photo_core.use_cases.turns import Turns

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SyncOptions:
    naming: NamingRules
    image: ImagePolicy
    processed: Disposal = Disposal.KEEP
    processed_container: str | None = None
    rejected: Disposal = Disposal.KEEP
    rejected_container: str | None = None
    # The claim's lifetime and how long a drop waits for another's (see TimeBudget).
    lock_seconds: float = BUDGET.claim_lifetime
    lock_wait_seconds: float = BUDGET.claim_wait
    dry_run: bool = False
    # PHOTO_DELETE_ON_BLOB_DELETE: a drop deleted while its photo was being uploaded takes the
    # photo with it (its deletion's event found nothing to remove yet).
    delete_on_blob_delete: bool = False


@dataclass(frozen=True)
class SyncDeps:
    api: PhotoApi
    state: StateStore
    clock: Clock
    owner: str  # this invocation's id, written into the per-user claim
    log: OutcomeLog | None = None  # where reports read outcomes from
    resolver: UserResolver | None = None  # employee and HR ids; uncached by default
    # The deadline one drop's photo API calls share (the resolution and the upload), made when
    # the first is about to be sent: the claim wait and the download do not spend it.
    api_deadline: Callable[[], Deadline] | None = None
    # Opens another drop of the container by name: to put a user's photo back when the live
    # one is unknown (without it, that is left to the next reconcile).
    drops: Callable[[str], Drop] | None = None
    # The process's drops waiting for each user's claim: newest first (``use_cases.turns``).
    turns: Turns | None = None


def claimant(deps: SyncDeps, options: SyncOptions) -> Claimant:
    """Who claims a user for a drop (or a deletion): this invocation, with the options'
    claim timings."""
    return Claimant(store=deps.state, owner=deps.owner, clock=deps.clock,
                    seconds=options.lock_seconds, wait_seconds=options.lock_wait_seconds,
                    turns=deps.turns)


def append_to_log(deps: SyncDeps, outcome: Outcome) -> None:
    """Append to the outcome log. The outcome is already on the blob and in the user's state,
    so a failing log costs a report line, never the drop: logged, not raised (raising would
    only have the platform deliver again a drop or deletion whose work is already done)."""
    if deps.log is None:
        return
    try:
        deps.log.append(outcome)
    except Exception:
        logger.exception("could not append the outcome of %s to the outcome log",
                         outcome.blob_name)
