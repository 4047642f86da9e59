"""The soak's verdict on what the host left undone: a deletion whose Event Grid delivery is still
being retried (it holds the user's claim) or was dead-lettered (it never ran) fails the run."""

from __future__ import annotations

from devstack.soak.checks import Observed, verdict

SUBJECT = "/blobServices/default/containers/hr-photos/blobs/jean-luc.wilber3@contoso.com.jpg"


def drained(seen: Observed) -> list[str]:
    return next(c for c in verdict([], [], seen).checks if c.name == "work_queue_drained").failures


def observed(*, pending: list[str], dead: list[str]) -> Observed:
    return Observed(blobs={}, state_rows={}, users={}, uploads=[], poison=[], work_queue=0,
                    deliveries_pending=pending, dead_lettered=dead)


def test_a_host_with_nothing_left_to_deliver_is_drained() -> None:
    assert drained(observed(pending=[], dead=[])) == []


def test_a_deletion_still_waiting_for_a_retry_fails_the_run() -> None:
    assert drained(observed(pending=[SUBJECT], dead=[])) == [
        f"deletion event not delivered yet: {SUBJECT}"]


def test_a_dead_lettered_deletion_fails_the_run() -> None:
    assert drained(observed(pending=[], dead=[SUBJECT])) == [
        f"deletion event dead-lettered (never handled): {SUBJECT}"]
