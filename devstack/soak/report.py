"""The soak's verdict and report: the log checks, the fault and disruption checks, the
drop checks (``checks``), the markdown table and the JSON document."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from devstack.soak import logs as soak_logs
from devstack.soak.checks import Check, verdict
from devstack.soak.config import FAULT_KINDS, SCRIPT_KINDS, SoakConfig
from devstack.soak.drops import DropRecord
from devstack.soak.run import RunOutput
from devstack.stack import REPO_ROOT


@dataclass
class SoakResult:
    ok: bool
    table: dict[str, Any]
    checks: list[Check]
    run: RunOutput
    secret: str = field(repr=False)
    log_files: list[Path]
    config: SoakConfig
    product: dict[str, Any] = field(default_factory=dict)  # git state when the run started

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "table": self.table,
                "checks": [{"name": c.name, "ok": c.ok, "note": c.note,
                            "failures": c.failures[:50], "failure_count": len(c.failures)}
                           for c in self.checks],
                "events": {k: str(v) if v is not None else None
                           for k, v in asdict(self.run.events).items()},
                "emulator_stats": self.run.stats, "product": self.product,
                "config": {k: str(v) if isinstance(v, Path) else v
                           for k, v in asdict(self.config).items()},
                "drops": [_drop_json(r, self.run) for r in self.run.records]}


def _drop_json(record: DropRecord, run: RunOutput) -> dict[str, Any]:
    drop = record.drop
    blob = run.observed.blobs.get(drop.name, {}) if run.observed else {}
    return {"index": drop.index, "batch": drop.batch, "kind": drop.kind, "name": drop.name,
            "user": drop.user, "uploaded": record.uploaded, "seq": record.seq,
            "etag": record.etag, "last_modified": str(record.last_modified),
            "expected_reason": drop.expected_reason, "expected_sha": drop.expected_sha,
            "blob_tags": blob.get("tags"), "blob_md5_matches": blob.get("md5") ==
            hashlib.md5(drop.content).digest() if blob else None}  # noqa: S324


def judge(config: SoakConfig, run: RunOutput, state: Path, secret: str,
           started: float, more_secrets: list[str] | None = None) -> SoakResult:
    logs = {"host": state / "host.log", "emulator": state / "emulator.log",
            "soak": state / "soak.log", "host2": state / "host2.log"}
    records = [r for source, path in logs.items() for r in soak_logs.read_records(path, source)]
    activity = soak_logs.host_activity(r for r in records if r.source in ("host", "host2"))
    unhandled = Check("no_unhandled_exceptions", [
        r.describe() for r in soak_logs.problems(records, run.events.outages(),
                                                 run.events.freezes())])
    needles = soak_logs.leak_needles(secret, run.tokens, [r.drop.content for r in run.records])
    needles += [(f"client secret #{n + 2}", s.encode()) for n, s in
                enumerate(more_secrets or [])]
    leaks = Check("no_secrets_in_logs", soak_logs.find_leaks(
        {k: p.read_bytes() for k, p in logs.items() if p.exists()}, needles),
        note=f"{len(needles)} needles, {len(run.tokens)} tokens")
    faults = Check("faults_exercised")
    seen = run.stats.get("faults", {})
    script_done = run.events.script_done_before_kill or run.stats.get("pendingScript") == 0
    for kind in FAULT_KINDS:
        scripted = kind in SCRIPT_KINDS and script_done
        if not seen.get(kind) and not scripted:
            faults.fail(f"no {kind} fault was injected")
    events = run.events
    disruption = Check("disruptions", list(events.errors))
    if config.restart_azurite and events.azurite_up is None:
        disruption.fail("Azurite was not restarted")
    if config.kill_host and events.host_up is None:
        disruption.fail("the host was not killed and restarted")
    if config.kill_host and not events.redropped:
        disruption.fail("no blob in flight at the kill could be re-dropped")
    if config.kill_host and activity.redeliveries == 0:
        disruption.fail("no delivery was redelivered")
    if config.stall_table_s and (events.table_back is None or not events.stalled_upload_held):
        disruption.fail("the state table did not stall under an upload in flight")
    if config.freeze_s and (not events.host_frozen or activity.lapsed_claims == 0):
        disruption.fail("no upload of the frozen host outlived its claim")
    if events.mapping_edited is None:
        disruption.fail("the mapping file was not edited")
    if config.second_host and not any(
            r.source == "host2" and r.message.startswith("Executed 'Functions.sync_photo'")
            for r in records):
        disruption.fail("the second host processed no drop")
    checks = [disruption, faults, unhandled, leaks]
    counts: dict[str, int] = {}
    lost, misassigned = [f"{len(run.records) or config.drops} drops: the stack was never "
                         "observed"], []
    if run.observed is not None:
        judged = verdict(run.records, list(config_users(run)), run.observed)
        checks = judged.checks + checks
        counts, lost, misassigned = judged.counts, judged.lost, judged.misassigned
    table = {"drops": counts.get("drops", 0), "uploaded": counts.get("uploaded", 0),
             "unchanged": counts.get("unchanged", 0),
             "unchanged_same_content": counts.get("same_content", 0),
             "unchanged_superseded": counts.get("superseded", 0),
             "rejected": counts.get("rejected", 0), "replaced": counts.get("replaced", 0),
             "retried": activity.in_call_retries, "redelivered": activity.redeliveries,
             "failed_invocations": activity.failed, "invocations": activity.invocations,
             "uploads_to_emulator": len(run.observed.uploads) if run.observed else 0,
             "poisoned": len(run.observed.poison) if run.observed else 0,
             "lost": len(lost), "misassigned": len(misassigned),
             "unhandled_exceptions": len(unhandled.failures),
             "faults_injected": dict(seen), "tokens_issued": len(run.tokens),
             "killed_in_flight": events.killed_in_flight,
             "lapsed_claims": activity.lapsed_claims,
             "deleted": sum(1 for r in run.records if r.drop.deletion and r.uploaded),
             "table_stall_s": round((events.table_back - events.table_stalled).total_seconds(),
                                    1) if events.table_back and events.table_stalled else 0,
             "clock_offset_s": config.clock_offset_s,
             "redropped_while_host_down": len(events.redropped),
             "drop_phase_s": round(run.drop_seconds, 1),
             "wall_time_s": round(time.monotonic() - started, 1)}
    ok = not lost and not misassigned and all(c.ok for c in checks)
    return SoakResult(ok, table, checks, run, secret, [p for p in logs.values() if p.exists()],
                      config)


def config_users(run: RunOutput) -> list[str]:
    users = {r.drop.user for r in run.records if r.drop.user}
    if run.observed is not None:
        users |= set(run.observed.users)
    return sorted(users)


def markdown(result: SoakResult) -> str:
    t = result.table
    rows = [("drops", t["drops"]), ("deleted by HR", t["deleted"]), ("uploaded", t["uploaded"]),
            ("unchanged", f"{t['unchanged']} (same_content {t['unchanged_same_content']}, "
                          f"superseded {t['unchanged_superseded']})"),
            ("rejected", t["rejected"]),
            ("replaced (earlier versions of a re-uploaded name)", t["replaced"]),
            ("retried (in-call retries)", t["retried"]),
            ("redelivered (invocations with attempt >= 2)", t["redelivered"]),
            ("uploads that outlived their claim", t["lapsed_claims"]),
            ("poisoned", t["poisoned"]), ("lost", t["lost"]),
            ("misassigned", t["misassigned"]), ("wall time", f"{t['wall_time_s']} s")]
    lines = ["| metric | value |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows), ""]
    lines.append(f"faults injected: {t['faults_injected']}; tokens issued: "
                 f"{t['tokens_issued']}; uploads: {t['uploads_to_emulator']}; killed in "
                 f"flight: {t['killed_in_flight']} (re-dropped while the host was down: "
                 f"{t['redropped_while_host_down']}); state table stalled "
                 f"{t['table_stall_s']} s; the first host's clock off by "
                 f"{t['clock_offset_s']} s; drop phase {t['drop_phase_s']} s")
    lines.append("")
    for check in result.checks:
        lines.append(f"- [{'x' if check.ok else ' '}] {check.name}"
                     f"{': ' + str(len(check.failures)) + ' failure(s)' if check.failures else ''}")
        lines.extend(f"    - {text}" for text in check.failures[:10])
    lines.append(f"\nsoak {'PASSED' if result.ok else 'FAILED'}")
    return "\n".join(lines)


def product_version() -> dict[str, Any]:
    git = shutil.which("git")
    if git is None:
        return {}
    def out(*args: str) -> str:
        return subprocess.run([git, *args], cwd=REPO_ROOT, capture_output=True, text=True,
                              timeout=10, check=False).stdout.strip()
    return {"commit": out("rev-parse", "HEAD"),
            "modified": out("status", "--porcelain", "--", "photo_core", "function_app.py",
                            "host.json", "requirements.txt").splitlines()}
