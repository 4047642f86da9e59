"""The soak's verdict: what was dropped (the uploaders' records) against what the stack did
(blob tags and metadata, the state table, the emulator's users and upload history).

Definitions (also in docs/soak.md):

* A blob name's *final version* is its last successful upload; its outcome is read from the
  blob's tags. Earlier versions of the name were overwritten by HR; the blob carries only its
  latest version's outcome, so theirs is read from the product's outcome log (by blob name
  and ETag), and a version with no entry there was *replaced* before it was processed (its
  event found newer content, ``overwritten``, or it was never delivered on its own).
* A user's *expected photo* is the normalised form of their newest valid drop: the valid drop
  with the latest ``Last-Modified`` (ties of one name broken by upload order); none once HR
  deleted that drop (deletion sync removes the photo it gave, and restores no older one),
  until a newer drop. An HR id's drop is for whom the mapping named when it was dropped.
* *Lost*: a final version without an outcome tag.
* *Misassigned*: an upload (``/admin/uploads``) whose sha256 is not the normalised form of a
  valid drop named for that user, plus every user whose stored photo is not the expected one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from devstack.soak.drops import DropRecord
from photo_core.adapters.blob_drop import TAG_REASON, TAG_STATUS

UNCHANGED_REASONS = {"same_content", "superseded"}


@dataclass
class Check:
    name: str
    failures: list[str] = field(default_factory=list)
    note: str = ""

    @property
    def ok(self) -> bool:
        return not self.failures

    def fail(self, text: str) -> None:
        self.failures.append(text)


@dataclass
class Observed:
    blobs: dict[str, dict[str, Any]]  # name -> {"tags", "metadata", "md5"}
    state_rows: dict[str, dict[str, Any]]  # user (lower case) -> entity
    users: dict[str, dict[str, Any] | None]  # upn (lower case) -> stored photo or None
    uploads: list[dict[str, Any]]
    poison: list[dict[str, Any]]
    work_queue: int | None
    # the product's outcome log (state table, ``log-*`` partitions): (blob, ETag) -> outcome
    outcome_log: dict[tuple[str, str], tuple[str, str | None]] = field(default_factory=dict)
    # the subjects of the host's Event Grid deliveries (deletions) still pending, dead-lettered
    deliveries_pending: list[str] = field(default_factory=list)
    dead_lettered: list[str] = field(default_factory=list)


@dataclass
class Verdict:
    checks: list[Check]
    counts: dict[str, int]
    lost: list[str]
    misassigned: list[str]


def final_versions(records: list[DropRecord]) -> dict[str, DropRecord]:
    """blob name -> its last upload, for every name whose last event is not a deletion."""
    final: dict[str, DropRecord] = {}
    for record in sorted((r for r in records if r.uploaded), key=lambda r: r.seq):
        if record.drop.deletion:
            final.pop(record.drop.name, None)
        else:
            final[record.drop.name] = record
    return final


def expected_photos(records: list[DropRecord], order: Check) -> dict[str, DropRecord | None]:
    """user -> their newest valid drop, or None when HR deleted it (see the module's
    docstring). Two valid drops of one user under different names in the same
    ``Last-Modified`` second would have no defined order: flagged in ``order``."""
    newest: dict[str, DropRecord] = {}
    expected: dict[str, DropRecord | None] = {}
    for record in sorted((r for r in records if r.uploaded and
                          (r.drop.valid or r.drop.deletion)), key=lambda r: r.seq):
        user = record.drop.user
        assert user is not None
        previous = newest.get(user)
        if record.drop.deletion:
            if previous is not None and previous.drop.name == record.drop.name:
                expected[user] = None  # its photo goes, and no older one comes back
            continue
        assert record.last_modified is not None
        if previous is not None and previous.last_modified == record.last_modified and \
                previous.drop.name != record.drop.name and \
                previous.drop.expected_sha != record.drop.expected_sha:
            order.fail(f"drops {previous.drop.index} and {record.drop.index} for {user} share "
                       "a Last-Modified second under different names")
        if previous is None or previous.last_modified is None or \
                record.last_modified >= previous.last_modified:
            newest[user] = expected[user] = record
    return expected


def verdict(records: list[DropRecord], users: list[str], seen: Observed) -> Verdict:
    order = Check("drops_ordered")
    outcomes, rejects, state = Check("every_drop_has_outcome"), Check("rejected_reasons"), \
        Check("valid_outcomes")
    photos, table, assign = Check("final_photos"), Check("state_table"), Check("no_misassigned")
    poison, queue, content = Check("poison_queue_empty"), Check("work_queue_drained"), \
        Check("blobs_as_dropped")
    uploaded = [r for r in records if r.uploaded and not r.drop.deletion]
    planned = [r for r in records if not r.drop.deletion]
    if len(uploaded) != len(planned):
        order.fail(f"{len(planned) - len(uploaded)} planned drop(s) were never uploaded")
    final = final_versions(records)
    newest = expected_photos(records, order)
    counts = {"drops": len(uploaded), "uploaded": 0, "unchanged": 0, "rejected": 0,
              "replaced": 0, "same_content": 0, "superseded": 0}
    finals = {id(r) for r in final.values()}
    for record in uploaded:
        if id(record) in finals:
            continue
        logged = seen.outcome_log.get((record.drop.name, str(record.etag).strip('"')))
        status, reason = logged if logged else ("replaced", None)
        counts[status] = counts.get(status, 0) + 1
        if status == "unchanged" and reason in UNCHANGED_REASONS:
            counts[str(reason)] += 1
        drop = record.drop
        expect = (drop.expected_status, drop.expected_reason)
        if logged and not drop.valid and (status, reason) != expect:
            rejects.fail(f"drop {drop.index} {drop.name!r} ({drop.kind}, since overwritten): "
                         f"{status}/{reason}, expected {expect[0]}/{expect[1]}")
        elif logged and drop.valid and status not in ("uploaded", "unchanged"):
            state.fail(f"drop {drop.index} {drop.name!r} ({drop.kind}, since overwritten): "
                       f"{status}/{reason}")
    lost: list[str] = []
    for name, record in sorted(final.items()):
        drop, blob = record.drop, seen.blobs.get(name)
        if blob is None:
            outcomes.fail(f"drop {drop.index} {name!r}: the blob is gone")
            lost.append(f"drop {drop.index} {name!r}: blob gone")
            continue
        if blob["md5"] and blob["md5"] != hashlib.md5(drop.content).digest():  # noqa: S324
            content.fail(f"drop {drop.index} {name!r}: content differs from the last upload")
        status, reason = blob["tags"].get(TAG_STATUS), blob["tags"].get(TAG_REASON)
        meta = blob["metadata"]
        if status is None:
            why = "metadata says " + meta["photosync_status"] if "photosync_status" in meta \
                else "no metadata either"
            outcomes.fail(f"drop {drop.index} {name!r} ({drop.kind}): no outcome tag ({why})")
            lost.append(f"drop {drop.index} {name!r}: no outcome")
            continue
        if status in counts:
            counts[status] += 1
        if reason in UNCHANGED_REASONS and status == "unchanged":
            counts[reason] += 1
        if not drop.valid:
            expect = (drop.expected_status, drop.expected_reason)
            if (status, reason) != expect:
                rejects.fail(f"drop {drop.index} {name!r} ({drop.kind}): {status}/{reason}, "
                             f"expected {expect[0]}/{expect[1]}")
            continue
        if status == "rejected" or (status == "unchanged" and reason not in UNCHANGED_REASONS) \
                or status not in ("uploaded", "unchanged"):
            state.fail(f"drop {drop.index} {name!r} ({drop.kind}): {status}/{reason}")
        if meta.get("photosync_sha256") not in (None, drop.expected_sha):
            state.fail(f"drop {drop.index} {name!r}: recorded sha256 is not its normalised "
                       "content's")
        named = drop.user if drop.kind != "hr_id" else drop.name.rsplit("/", 1)[-1][:-4]
        if meta.get("photosync_user", named or "").lower() != (named or "").lower():
            state.fail(f"drop {drop.index} {name!r}: recorded for user "
                       f"{meta.get('photosync_user')!r}, named for {named!r}")
        if newest.get(drop.user or "") is record and reason == "superseded":
            state.fail(f"drop {drop.index} {name!r}: the user's newest drop was 'superseded'")
    wrong: list[str] = []
    for user in users:
        want = newest.get(user)
        photo = seen.users.get(user)
        have = photo["sha256"] if photo else None
        if want is None and have is not None:
            why = "its newest drop was deleted" if user in newest else "no valid drop was made"
            wrong.append(f"{user}: has a photo, but {why}")
            photos.fail(f"{user}: has a photo {str(have)[:12]}, but {why}")
        elif want is not None and have != want.drop.expected_sha:
            wrong.append(f"{user}: stored photo is not drop {want.drop.index}'s")
            photos.fail(f"{user}: stored photo {str(have)[:12]} is not the newest valid drop "
                        f"{want.drop.index} ({want.drop.name!r}, "
                        f"{str(want.drop.expected_sha)[:12]})")
        row = seen.state_rows.get(user)  # by UPN; an HR id's row is the id's, not theirs
        if want is not None and want.drop.kind != "hr_id" and \
                (row is None or row.get("content_sha256") != want.drop.expected_sha):
            table.fail(f"{user}: state row content_sha256 is not drop {want.drop.index}'s")
    for user, row in sorted(seen.state_rows.items()):
        if row.get("lock_owner") or row.get("lock_drop"):
            table.fail(f"{user}: claim still held (lock_drop {row.get('lock_drop')!r})")
    allowed: dict[str, set[str]] = {}
    for record in uploaded:
        if record.drop.valid and record.drop.user and record.drop.expected_sha:
            allowed.setdefault(record.drop.user, set()).add(record.drop.expected_sha)
    misassigned = [f"upload {u.get('sha256', '')[:12]} to {u.get('userPrincipalName')}"
                   for u in seen.uploads
                   if u.get("sha256") not in allowed.get(
                       str(u.get("userPrincipalName", "")).lower(), set())] + wrong
    assign.failures.extend(misassigned)
    for message in seen.poison:
        name = str(message.get("BlobName"))
        tagged = TAG_STATUS in seen.blobs.get(name, {}).get("tags", {})
        poison.fail(f"poisoned: {name!r} (ETag {message.get('ETag')}); "
                    f"{'it has an outcome' if tagged else 'no outcome: lost'}")
    if seen.work_queue:
        queue.fail(f"{seen.work_queue} message(s) still in the host's work queue")
    for subject in seen.deliveries_pending:
        queue.fail(f"deletion event not delivered yet: {subject}")
    for subject in seen.dead_lettered:
        queue.fail(f"deletion event dead-lettered (never handled): {subject}")
    extra = sorted(set(seen.blobs) - set(final))
    if extra:
        content.fail(f"{len(extra)} blob(s) nobody dropped, e.g. {extra[:3]}")
    checks = [order, outcomes, rejects, state, photos, table, assign, poison, queue, content]
    return Verdict(checks, counts, lost, misassigned)
