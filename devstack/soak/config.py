"""What one soak run is: its size, seed, pace, deadline, fault rates and the product settings
it overrides (see docs/soak.md for why each value)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devstack.stack import DEFAULT_STATE_DIR

FAULT_KINDS = ("throttle", "error", "reset", "spike", "token_error", "lost_answer")
# One of each fault kind first, so even a short run sees them all; then the random rates.
FAULT_SCRIPT: list[dict[str, Any]] = [
    {"status": 429, "retry_after": 1, "method": "PATCH"}, {"status": 503, "target": "token"},
    {"status": 503, "method": "PATCH"}, {"reset": True, "method": "PATCH"},
    {"delay_ms": 1500, "method": "PATCH"}, {"lose_answer": True, "method": "PATCH"}]
SCRIPT_KINDS = {"throttle", "token_error", "error", "reset", "spike", "lost_answer"}
MAPPING_BLOB = "hr-mapping/ids.csv"  # PHOTO_ID_MAPPING_BLOB: HR ids, in a container of its own


@dataclass(frozen=True)
class SoakConfig:
    drops: int = 1000
    uploaders: int = 4
    users: int | None = None  # default: drops // 5, at least 20
    seed: int = 1
    deadline_s: float | None = None  # default: 240 s + 0.6 s per drop
    state_dir: Path = DEFAULT_STATE_DIR / "soak"
    json_out: Path | None = None
    rate: float = 8.0  # drops per second, all uploaders together
    function_timeout_s: int = 60
    retry_budget_s: int = 10
    retry_max_attempts: int = 3
    token_lifetime_s: int = 330
    faults: dict[str, Any] = field(default_factory=lambda: {
        "throttle_rate": 0.10, "throttle_retry_after": 1, "error_rate": 0.05,
        "reset_rate": 0.02, "spike_rate": 0.05, "spike_ms": 1500, "token_error_rate": 0.05,
        "lost_answer_rate": 0.03})
    restart_azurite: bool = True
    kill_host: bool = True
    # The first host's photo-sync reads a wall clock this far off (behind storage's and the
    # second host's); a second host (the same host id: it shares the work queue) reads the
    # right one.
    clock_offset_s: float | None = -20.0
    second_host: bool = True
    # Halfway, the state table stops answering the hosts for longer than a claim lives, while
    # an upload is held at the photo API longer than its caller waits for the answer.
    stall_table_s: float | None = 36.0
    stalled_upload_ms: int = 15_000
    # Then the first host freezes (SIGSTOP) this long with an upload out: its claims lapse
    # under it, and its upload is answered after its claim ended.
    freeze_s: float | None = 35.0

    @property
    def user_count(self) -> int:
        return self.users if self.users is not None else max(20, self.drops // 5)

    @property
    def deadline(self) -> float:
        return self.deadline_s if self.deadline_s is not None else 240.0 + 0.6 * self.drops

    def app_settings(self) -> dict[str, str]:
        """Overrides of ``devstack.stack.local_settings_values`` for the host."""
        return {"PHOTO_RETRY_BUDGET_SECONDS": str(self.retry_budget_s),
                "PHOTO_RETRY_MAX_ATTEMPTS": str(self.retry_max_attempts),
                # HR deletes drops during the run, and the photos they gave must go
                "PHOTO_DELETE_ON_BLOB_DELETE": "true",
                "PHOTO_ID_MAPPING_BLOB": MAPPING_BLOB,
                # the nightly reconcile would re-process what events missed: not during a soak
                "PHOTO_RECONCILE_SCHEDULE": "0 0 0 1 1 *"}
