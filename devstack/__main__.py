"""``python -m devstack``: run the local stack, and poke at it from the keyboard.

    run                    start everything, drop the sample HR batch, serve until Ctrl-C
    demo                   the same, then exit: 0 when every sample ended as expected
    drop FILE --as UPN     upload a photo into the drop container as HR would
    lookup UPN             ask the lookup endpoint about a user
    status [-n N]          the latest outcomes recorded on dropped blobs
    notices [--json]       what HR was told: the local webhook receiver's notices and digests
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from devstack import notices
from devstack.procs import stop_on_sigterm
from devstack.samples import Sample, sample_batch
from devstack.stack import DEFAULT_STATE_DIR, LocalStack, StackInfo
from photo_core.adapters.blob_drop import META_PREFIX, TAG_REASON, TAG_STATUS

OUTCOME_TIMEOUT_S = 90.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR,
                        help="where the running stack keeps its files (default .devstack)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="start the stack with a sample HR drop; Ctrl-C stops it")
    sub.add_parser("demo", help="start, drop the samples, check the outcomes, stop")
    drop = sub.add_parser("drop", help="upload a photo as HR would")
    drop.add_argument("file", type=Path)
    drop.add_argument("--as", dest="user", required=True, help="UPN the photo is for")
    lookup = sub.add_parser("lookup", help="call the lookup endpoint")
    lookup.add_argument("user")
    status = sub.add_parser("status", help="latest outcomes in the drop container")
    status.add_argument("-n", type=int, default=20)
    notices = sub.add_parser("notices", help="notices and digests the local webhook received")
    notices.add_argument("--json", action="store_true", help="the raw messages, as received")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.command in ("run", "demo"):
        return _run(args.state_dir, keep_serving=args.command == "run")
    if args.command == "drop":
        return _drop(args.state_dir, args.file, args.user)
    info = StackInfo.load(args.state_dir)
    if args.command == "lookup":
        return _lookup(info, args.user)
    if args.command == "notices":
        return _notices(info, raw=args.json)
    return _status(info, args.n)


def _run(state_dir: Path, *, keep_serving: bool) -> int:
    stack = LocalStack(state_dir)
    stop_on_sigterm()
    print("starting Azurite, the photo API emulator and the functions host ...", flush=True)
    try:
        info = stack.start()
        samples = sample_batch()
        _upload_all(info, samples)
        results = _wait_for_outcomes(info, [s.blob_name for s in samples])
        ok = _print_table(samples, results)
        ok = _print_notices(info, samples) and ok
        if not keep_serving:  # the stack stops on return: its commands would not answer
            print("\nthe stack has stopped; `make run` starts it, keeps it running and prints "
                  "commands to try against it")
            return 0 if ok else 1
        print(commands(info, state_dir))
        print("the stack keeps running; Ctrl-C stops it", flush=True)
        threading.Event().wait()
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        stack.stop()


def commands(info: StackInfo, state_dir: Path) -> str:
    """What to try against the running stack, ready to paste into a shell: the variables the
    commands in README.md and docs/ use (one host key for every photo API route, as on Azure),
    then commands as those documents print them."""
    python = shlex.quote(_shown(Path(sys.executable)))
    state = "" if state_dir.resolve() == DEFAULT_STATE_DIR.resolve() else \
        f" --state-dir {shlex.quote(_shown(state_dir))}"
    variables = {"API": info.api_url.rstrip("/"), "KEY": info.host_key, "BASE": info.base_url,
                 "MASTER_KEY": info.master_key}
    lines = [
        "",
        "set these in your shell for the commands below and in README.md and docs/:",
        "  export " + " ".join(f"{name}={shlex.quote(value)}" for name, value in variables.items()),
        "look a user up:",
        '  curl -s "$API/users/adele.vance@contoso.com/photo?code=$KEY"',
        "fetch the photo, one size of it:",
        '  curl -s -o adele.jpg "$API/users/adele.vance@contoso.com/photo/\\$value?size=240x240'
        '&code=$KEY"',
        "today's outcomes:",
        '  curl -s "$API/reports/outcomes?since=24h&code=$KEY"',
        "run the nightly reconcile now:",
        """  curl -s -X POST "$BASE/admin/functions/reconcile" -H "x-functions-key: $MASTER_KEY" """
        "-d '{}'",
        "drop a photo as HR would, and see what became of it:",
        f"  {python} -m devstack{state} drop ~/Pictures/me.jpg --as alex.wilber@contoso.com",
        f"  {python} -m devstack{state} status",
        "what HR was told (the local webhook receiver):",
        f"  {python} -m devstack{state} notices",
    ]
    return "\n".join(lines)


def _shown(path: Path) -> str:
    """A path as typed from the current folder: relative when it is under it."""
    absolute = path.absolute()
    try:
        return str(absolute.relative_to(Path.cwd()))
    except ValueError:
        return str(absolute)


def _container(info: StackInfo) -> Any:
    from azure.storage.blob import ContainerClient

    return ContainerClient.from_connection_string(info.connection_string, info.drop_container)


def _upload_all(info: StackInfo, samples: list[Sample]) -> None:
    container = _container(info)
    for sample in samples:
        container.upload_blob(sample.blob_name, sample.content, overwrite=True)


def _wait_for_outcomes(info: StackInfo, names: list[str]) -> dict[str, dict[str, str]]:
    container = _container(info)
    results: dict[str, dict[str, str]] = {}
    deadline = time.monotonic() + OUTCOME_TIMEOUT_S
    while len(results) < len(names) and time.monotonic() < deadline:
        for name in names:
            if name not in results:
                tags = container.get_blob_client(name).get_blob_tags()
                if TAG_STATUS in tags:
                    results[name] = tags
        time.sleep(0.3)
    return results


def _print_table(samples: list[Sample], results: dict[str, dict[str, str]]) -> bool:
    ok = True
    print(f"\n{'blob':34} {'outcome':10} {'reason':16} {'as expected':11}  what")
    for s in samples:
        tags = results.get(s.blob_name, {})
        status = tags.get(TAG_STATUS, "(none)")
        reason = tags.get(TAG_REASON, "none")
        expected = status == s.expect_status and reason == (s.expect_reason or "none")
        ok = ok and expected
        print(f"{s.blob_name:34} {status:10} {reason:16} {'yes' if expected else 'NO':11}  "
              f"{s.what}")
    print(f"\n{sum(1 for s in samples if s.blob_name in results)}/{len(samples)} drops have an "
          f"outcome; {'all as expected' if ok else 'SOME NOT AS EXPECTED'}")
    return ok


def _print_notices(info: StackInfo, samples: list[Sample]) -> bool:
    """Run the notification timers now and show what the local webhook got: the rejects in
    one coalesced notice, and the digest."""
    print("\nwhat HR was told (the local webhook receiver, as a Teams channel would get it):")
    found = notices.notify_now(info)
    notices.show(found)
    rejected = [s.blob_name for s in samples if s.expect_status == "rejected"]
    told = notices.mentioned(found, rejected)
    digests = sum(1 for m in found if notices.kind(m["body"]) == "digest")
    print(f"\n{len(told)}/{len(rejected)} rejects in "
          f"{len(found) - digests} notice(s), {digests} digest(s)")
    return len(told) == len(rejected) and digests == 1


def _notices(info: StackInfo, *, raw: bool) -> int:
    found = notices.messages(info)
    if raw:
        print(json.dumps(found, indent=2, ensure_ascii=False))
    else:
        notices.show(found)
        print(f"{len(found)} message(s)")
    return 0


def _drop(state_dir: Path, file: Path, user: str) -> int:
    """Upload ``file`` as HR would and print its outcome: status, reason code and message."""
    try:
        content = file.read_bytes()
    except OSError as exc:
        print(f"python -m devstack drop: cannot read {file}: {exc.strerror or exc}",
              file=sys.stderr)
        return 2
    info = StackInfo.load(state_dir)
    name = f"{user}{file.suffix.lower() or '.jpg'}"
    container = _container(info)
    container.upload_blob(name, content, overwrite=True)
    result = _wait_for_outcomes(info, [name]).get(name, {TAG_STATUS: "pending"})
    metadata = container.get_blob_client(name).get_blob_properties().metadata or {}
    message = unquote(metadata.get(f"{META_PREFIX}message", ""))
    print(json.dumps({"blob": name, **result, **({"message": message} if message else {})}))
    return 0


def _lookup(info: StackInfo, user: str) -> int:
    import requests

    url = f"{info.api_url}users/{quote(user, safe='@')}/photo"
    session = requests.Session()
    session.trust_env = False
    key = info.host_key or info.function_keys.get("photo_lookup", "")
    response = session.get(url, params={"code": key}, timeout=60)
    print(json.dumps(response.json(), indent=2))
    return 0 if response.ok else 1


def _status(info: StackInfo, count: int) -> int:
    container = _container(info)
    blobs = sorted(container.list_blobs(include=["metadata"]), key=lambda b: b.last_modified,
                   reverse=True)[:count]
    for blob in blobs:
        meta = {k.removeprefix(META_PREFIX): unquote(v) for k, v in (blob.metadata or {}).items()
                if k.startswith(META_PREFIX)}
        print(f"{blob.last_modified:%H:%M:%S} {blob.name:40} {meta.get('status', 'pending'):10}"
              f" {meta.get('reason', '')} {meta.get('message', '')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
