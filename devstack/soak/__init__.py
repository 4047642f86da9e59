"""``python -m devstack.soak``: the fault-injected soak of the whole local stack.

Drops N photos from several "HR" uploaders into Azurite while the emulator injects throttling,
errors, connection resets, latency spikes and token failures, Azurite is restarted once and the
functions host is killed and restarted once; then checks every outcome, every user's photo and
the logs, prints a markdown table and exits non-zero if anything was lost, misassigned, or any
check failed. See docs/soak.md. Deterministic given ``--seed`` (the drops and the emulator's
fault RNG; thread timing still varies). Loopback only; bounded by ``--deadline-s``.
"""

from __future__ import annotations

import argparse
import json
import logging
import secrets
import sys
import time
from pathlib import Path
from typing import Any

from devstack.procs import stop_on_sigterm
from devstack.soak.config import FAULT_KINDS, FAULT_SCRIPT, SoakConfig
from devstack.soak.observe import guarded, observe, settle
from devstack.soak.plan import directory_document, make_plan
from devstack.soak.report import SoakResult, judge, markdown, product_version
from devstack.soak.run import RunOutput, Stack, drop_all, prepare_state_dir
from devstack.stack import DEFAULT_STATE_DIR

__all__ = ["FAULT_KINDS", "SoakConfig", "SoakResult", "main", "markdown", "run_soak"]
logger = logging.getLogger("devstack.soak")


def run_soak(config: SoakConfig) -> SoakResult:
    started = time.monotonic()
    deadline = started + config.deadline
    state = config.state_dir.resolve()
    prepare_state_dir(state)
    handler = logging.FileHandler(state / "soak.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root, quiet = logging.getLogger(), [logging.getLogger(n) for n in ("azure", "urllib3")]
    levels = [q.level for q in quiet]
    root.addHandler(handler)
    for q in quiet:
        q.setLevel(logging.WARNING)
    product = product_version()
    try:
        result = _run(config, state, started, deadline)
        result.product = product
        return result
    finally:
        root.removeHandler(handler)
        handler.close()
        for q, level in zip(quiet, levels, strict=True):
            q.setLevel(level)


def _run(config: SoakConfig, state: Path, started: float, deadline: float) -> SoakResult:
    plan = make_plan(config.drops, config.user_count, config.seed)
    secret = "soak~" + secrets.token_urlsafe(24)
    second = "soak~" + secrets.token_urlsafe(24)
    directory = directory_document(plan, secret, second)
    (state / "directory.json").write_text(json.dumps(directory), encoding="utf-8")
    logger.info("soak: %d drops for %d users from %d uploaders, seed %d, deadline %.0fs",
                len(plan.drops), len(plan.users), config.uploaders, config.seed, config.deadline)
    stack = Stack(state, plan, config.app_settings(), config.faults, FAULT_SCRIPT,
                  config.token_lifetime_s, config.function_timeout_s,
                  config.clock_offset_s,
                  (str(directory["applications"][1]["clientId"]), second)
                  if config.second_host else None)
    errors = stack.events.errors
    records: list[Any] = []
    observed, drop_seconds = None, 0.0
    stats: dict[str, Any] = {}
    tokens: list[str] = []
    try:
        stack.start()
        begun = time.monotonic()
        hr = drop_all(stack, plan, config, deadline - 30.0)
        records, drop_seconds = hr.records, time.monotonic() - begun
        logger.info("soak: %d drops made in %.0fs; waiting for outcomes", hr.uploaded,
                    drop_seconds)
        settle(stack, records, deadline - 20.0, config.function_timeout_s + 20.0)
        observed = guarded(lambda: observe(stack), errors, "observing the stack")
        stats = guarded(lambda: stack.admin("/stats"), errors, "reading emulator stats") or {}
        tokens = [t["access_token"] for t in
                  (guarded(lambda: stack.admin("/tokens"), errors, "reading tokens") or
                   {"value": []})["value"]]
    except Exception as exc:
        logger.exception("soak: the run failed")
        errors.append(f"run failed: {type(exc).__name__}: {exc}")
    finally:
        stack.stop()
    info = stack.emulator.info if stack.emulator else {}
    run = RunOutput(records, observed, stack.events, stats, tokens, info, drop_seconds)
    return judge(config, run, state, secret, started, [second])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.soak", description=__doc__)
    parser.add_argument("--drops", type=int, default=1000)
    parser.add_argument("--uploaders", type=int, default=4)
    parser.add_argument("--users", type=int, help="default: drops/5, at least 20")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--deadline-s", type=float, help="default: 240 + 0.6 per drop")
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR / "soak")
    parser.add_argument("--json", type=Path, dest="json_out", help="write the results here")
    parser.add_argument("--rate", type=float, default=8.0, help="drops per second")
    parser.add_argument("--function-timeout-s", type=int, default=60)
    args = parser.parse_args(argv)
    if args.drops < 1 or args.uploaders < 1 or args.rate <= 0:
        parser.error("--drops, --uploaders and --rate must be positive")
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = SoakConfig(drops=args.drops, uploaders=args.uploaders, users=args.users,
                        seed=args.seed, deadline_s=args.deadline_s, state_dir=args.state_dir,
                        json_out=args.json_out, rate=args.rate,
                        function_timeout_s=args.function_timeout_s)
    stop_on_sigterm()
    result = run_soak(config)
    print(markdown(result))
    if config.json_out is not None:
        config.json_out.write_text(json.dumps(result.to_json(), indent=2), encoding="utf-8")
    return 0 if result.ok else 1

