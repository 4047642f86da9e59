"""Drops concentrated on few mailboxes: an HR re-export, 400 drops over 50 users.

HR writes the export in ``rounds`` (8 by default): each round writes one new photo for every
user, into a folder of its own (``export-<run>-<round>/<upn>.jpg``; photo-sync names the user
from the file name), a second apart, so every user's drops have a well-defined newest one.
The drops are then handed over user by user, each user's 8 together, as an export that writes
each employee's files in turn delivers them: the case where per-mailbox limits bite. The
emulator allows ``limit`` (4) concurrent requests per app per mailbox and answers 429 with
``Retry-After: 1`` beyond it.

* photo-sync: the blob-trigger function on a pool of ``P`` threads (``bench.function_only``);
  one drop per user holds the user's claim, the others wait for it, and a drop older than the
  user's newest applied one is superseded instead of uploaded.
* baseline: the msgraph-sdk script with the same ``P`` (``bench.baseline_graph``), whose
  middleware retries a 429 after its ``Retry-After``.

Afterwards every user's photo in the emulator is checked against what each side would have
uploaded from that user's newest drop, and every upload against the user it was for: a drop
whose photo ended on no one (lost) or on the wrong person (misassigned), or a user left with
an older photo than the newest drop, is counted.
"""

from __future__ import annotations

import hashlib
import time
from typing import TYPE_CHECKING, Any

from bench import images
from bench.stack import upn

if TYPE_CHECKING:
    from bench.stack import BenchStack

DROPS = 400
USERS = 50


def make_rounds(run: int, users: int, rounds: int) -> list[list[tuple[str, bytes]]]:
    """One list of drops per round, each with one new photo per user."""
    seed = 1_000_000 + run * users * rounds
    return [[(f"export-{run}-{r}/{upn(u)}.jpg", images.drop_jpeg(seed + r * users + u))
             for u in range(users)] for r in range(rounds)]


def upload_rounds(stack: BenchStack, rounds: list[list[tuple[str, bytes]]]) -> None:
    """Each round in a later second than the one before (Last-Modified has whole seconds)."""
    from bench.bulk import upload_drops

    for drops in rounds:
        second = int(time.time())
        upload_drops(stack, drops)
        while int(time.time()) == second:
            time.sleep(0.05)


def by_user(rounds: list[list[tuple[str, bytes]]]) -> list[str]:
    """The order drops are handed over: each user's drops together, oldest first."""
    users = len(rounds[0])
    return [rounds[r][u][0] for u in range(users) for r in range(len(rounds))]


def check(stack: BenchStack, rounds: list[list[tuple[str, bytes]]], prepare: str,
          uploads_since: int) -> dict[str, Any]:
    """Each user's final photo against the newest drop's, and each upload against its user.

    ``prepare``: ``photo_sync`` (prepare_photo) or ``baseline`` (plain Pillow) decides what the
    newest drop becomes on upload. ``uploads_since``: the index in the emulator's upload history
    where this run's uploads begin."""
    expected_final: dict[str, str] = {}
    sent_by_user: dict[str, set[str]] = {}
    for drops in rounds:
        for name, data in drops:
            user = name.rsplit("/", 1)[-1].removesuffix(".jpg")
            digest = _prepared_sha256(data, prepare)
            expected_final[user] = digest  # rounds are oldest first: the last one wins
            sent_by_user.setdefault(user, set()).add(digest)
    finals = {user: _photo_sha256(stack, user) for user in expected_final}
    uploads = stack.admin("GET", "/uploads")["value"][uploads_since:]
    misassigned = sum(1 for u in uploads
                      if u["sha256"] not in sent_by_user.get(u["userPrincipalName"], set()))
    stale = sum(1 for user, digest in expected_final.items()
                if finals[user] is not None and finals[user] != digest)
    missing = sum(1 for digest in finals.values() if digest is None)
    return {"users": len(expected_final), "users_with_newest_photo":
            len(expected_final) - stale - missing, "users_with_older_photo": stale,
            "users_without_photo": missing, "misassigned_uploads": misassigned,
            "uploads": len(uploads)}


def _prepared_sha256(data: bytes, prepare: str) -> str:
    if prepare == "photo_sync":
        from photo_core.photos import ImagePolicy, prepare_photo

        return prepare_photo(data, ImagePolicy()).sha256
    from bench.baseline_graph import _prepare

    return hashlib.sha256(_prepare(data)).hexdigest()


def _photo_sha256(stack: BenchStack, user: str) -> str | None:
    with stack.emulator_session() as session:
        resp = session.get(f"{stack.emulator['admin_base']}/users/{user}/photo", timeout=30)
    if resp.status_code == 404:
        return None
    resp.raise_for_status()
    return hashlib.sha256(resp.content).hexdigest()


def run(stack: BenchStack, parallelism: int, repeats: int, rounds: int = DROPS // USERS,
        users: int = USERS) -> list[dict[str, Any]]:
    """``repeats`` times: photo-sync, then the baseline, each on an export of its own (both
    exports written in the same rounds, each repeat's after the one before, so a repeat's
    drops are always the newest), each handed over and checked."""
    from bench import bulk, function_only

    results = []
    for r in range(repeats):
        ours, theirs = make_rounds(2 * r, users, rounds), make_rounds(2 * r + 1, users, rounds)
        warm = (f"warm-{r}/{upn(users)}.jpg", images.drop_jpeg(5_000_000 + r))
        bulk.upload_drops(stack, [warm])
        upload_rounds(stack, [ours[n] + theirs[n] for n in range(rounds)])
        since = len(stack.admin("GET", "/uploads")["value"])
        mine = function_only.invoke(stack, by_user(ours), parallelism, warm[0])
        mine["check"] = check(stack, ours, "photo_sync", since + 1)  # after the warm-up's
        since = len(stack.admin("GET", "/uploads")["value"])
        base = bulk.baseline(stack, by_user(theirs), parallelism, stack.workdir)
        base.pop("series", None)
        base["check"] = check(stack, theirs, "baseline", since)
        results.append({"drops": users * rounds, "users": users, "parallelism": parallelism,
                        "photo_sync": mine, "baseline": base})
    return results
