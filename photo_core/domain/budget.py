"""Where an invocation's time goes: one policy for every time limit that must fit another.

host.json's ``functionTimeout`` (5 minutes) kills an invocation that runs longer, and a killed
drop is redelivered with nothing recorded. So the limits are slices of that one budget, and
each slice says why it exists. Settings validate against it, the handlers end a drop's photo
API calls by it, the claims and the state table's client take their timings from it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TimeBudget:
    """The function timeout, divided (all in seconds)."""

    # host.json's functionTimeout: beyond it the host kills the invocation.
    function_timeout: float = 300.0
    # One photo API call may start its last attempt just inside the retry budget and then wait
    # out a connect and a read timeout; this much of the timeout is kept for that last attempt
    # and the rest of the drop (download, image work, blob and table writes).
    last_attempt: float = 60.0
    # After a drop's last photo API call: the claim's release, the outcome on the blob, the
    # drop's record, the outcome log and the disposal.
    wrap_up: float = 20.0
    # A read timeout over two minutes only delays the retry of an answer that is not coming.
    max_read_timeout: float = 120.0
    # Azure's front end cuts an HTTP response off at 230 s; whoever waits on a lookup is better
    # served by a prompt 503 with Retry-After than by a long silence.
    default_lookup: float = 10.0
    max_lookup: float = 60.0
    # The per-user claim is a lease of this lifetime, renewed three times per lifetime while its
    # holder lives: a crashed holder's claim frees within it.
    claim_lifetime: float = 30.0
    # How long a drop waits for another drop's claim: longer than a lifetime, so a crashed
    # holder's claim frees before the drops waiting for it give up.
    claim_wait: float = 45.0
    claim_poll: float = 0.5
    # A drop counts as possibly its user's newest while its properties are read (one request:
    # milliseconds), for this long at most: a stalled read must not hold the user's other
    # drops for their whole claim wait.
    unknown_turn: float = 2.0
    # The state table client's timeouts (with one retry): a renewal that stalls must give up
    # in time for the next one to land inside the claim's lifetime, or one stalled connection
    # would let the claim lapse while its holder waits on it (the SDK's defaults wait minutes).
    storage_connect_timeout: float = 2.0
    storage_read_timeout: float = 4.0
    storage_retries: int = 1
    # After a failed renewal, the next is tried this soon (not a whole interval later).
    renewal_retry: float = 1.0
    # Reconcile pauses new work for a throttled drop's Retry-After, never longer than this.
    max_throttle_pause: float = 120.0

    @property
    def max_retry_budget(self) -> float:
        """The ceiling of ``PHOTO_RETRY_BUDGET_SECONDS`` (and of the reconcile deadline)."""
        return self.function_timeout - self.last_attempt

    @property
    def api_window(self) -> float:
        """How long after an invocation starts its photo API calls must be done, so that the
        outcome is still recorded inside the function timeout."""
        return self.function_timeout - self.wrap_up

    @property
    def renew_every(self) -> float:
        return self.claim_lifetime / 3

    @property
    def storage_call(self) -> float:
        """The longest one state-table call can take, its retry included."""
        return (self.storage_retries + 1) * (self.storage_connect_timeout +
                                              self.storage_read_timeout)

    def worst_api_call(self, retry_budget: float, connect: float, read: float) -> float:
        """A photo API call's worst case: its last attempt starts just inside the retry
        budget and then waits out both timeouts."""
        return retry_budget + connect + read

    def __post_init__(self) -> None:
        if not self.claim_lifetime < self.claim_wait:
            raise ValueError("waiting drops must wait longer than a claim lives")
        if not self.renew_every + self.storage_call + self.renewal_retry < self.claim_lifetime:
            raise ValueError("after one stalled renewal, the next must still land inside the "
                             "claim's lifetime")


BUDGET = TimeBudget()
