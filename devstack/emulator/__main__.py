"""``python -m devstack.emulator``: run the emulator until SIGTERM/SIGINT.

Prints exactly one JSON line on stdout once it is ready to serve (everything a client needs:
base URLs, authority, CA path, demo credentials), then logs to stderr only, so callers can read
one line and move on. A stand-in for local development and tests, not Microsoft's service.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from devstack.emulator.config import DEFAULT_STATE_DIR, MAX_PHOTO_BYTES, EmulatorConfig
from devstack.emulator.directory import DirectoryError
from devstack.emulator.limits import FaultConfigError, FaultSettings

_HELP = {
    "seed": "seed of the fault-injection RNG (same seed, same fault sequence)",
    "latency_ms": "latency added to every photo/user API call",
    "spike_rate": "probability (0..1) of an extra latency spike",
    "spike_ms": "length of a latency spike",
    "throttle_rate": "probability of an injected 429",
    "throttle_retry_after": "Retry-After seconds of injected 429s",
    "error_rate": "probability of an injected 5xx",
    "error_status": "status of injected 5xx errors",
    "error_retry_after": "Retry-After seconds on injected 5xx (None: no header)",
    "reset_rate": "probability of dropping the connection without a response",
    "lost_answer_rate": "probability that a write (an upload) is applied and its answer then "
                        "lost (the connection dropped instead)",
    "token_error_rate": "probability that the token and MSI endpoints answer 503",
    "retry_after_format": "form of Retry-After headers",
    "concurrency_limit": "concurrent requests per app per mailbox",
    "concurrency_retry_after": "Retry-After seconds when over the concurrency limit",
    "mailbox_request_limit": "requests per app per mailbox per window",
    "mailbox_window_s": "length of that window in seconds",
    "upload_bytes_limit": "uploaded bytes per app per mailbox per window",
    "upload_window_s": "length of that window in seconds",
    "app_request_limit": "requests per app per window (0 = no limit)",
    "app_window_s": "length of that window in seconds",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m devstack.emulator",
        description="photo-sync's local HTTPS emulator of the Microsoft identity platform and "
                    "the Graph/Outlook user-photo APIs (a stand-in, not Microsoft's service).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default %(default)s)")
    parser.add_argument("--port", type=int, default=0, help="port (0 = a free port, the default)")
    parser.add_argument("--directory", type=Path, help="directory JSON file (default: the demo)")
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR,
                        help="where certificates live (default %(default)s)")
    parser.add_argument("--token-lifetime", type=int, default=3600,
                        help="access-token lifetime in seconds (default %(default)s)")
    parser.add_argument("--max-photo-bytes", type=int, default=MAX_PHOTO_BYTES,
                        help="photo upload limit (default %(default)s = 4 MB)")
    parser.add_argument("--log-level", default="INFO",
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    faults = parser.add_argument_group("faults and limits (also settable via POST /admin/faults)")
    for f in dataclasses.fields(FaultSettings):
        if f.name == "script":
            continue
        default = f.default
        kwargs: dict[str, Any] = {"dest": f.name, "default": default,
                                  "help": f"{_HELP.get(f.name, '')} (default %(default)s)"}
        if f.name == "retry_after_format":
            kwargs["choices"] = ["seconds", "http-date"]
        elif isinstance(default, float):
            kwargs["type"] = float
        else:
            kwargs["type"] = int
        faults.add_argument("--" + f.name.replace("_", "-"), **kwargs)
    faults.add_argument("--script", help="JSON list of scripted outcomes, or @FILE holding one")
    return parser


def config_from_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> EmulatorConfig:
    patch = {f.name: getattr(args, f.name) for f in dataclasses.fields(FaultSettings)
             if f.name != "script"}
    if args.script:
        text = args.script
        try:
            if text.startswith("@"):
                text = Path(text[1:]).read_text(encoding="utf-8")
            patch["script"] = json.loads(text)
        except (OSError, json.JSONDecodeError) as exc:
            parser.error(f"--script: {exc}")
    try:
        settings = FaultSettings().updated(patch)
    except FaultConfigError as exc:
        parser.error(str(exc))
    if args.token_lifetime < 60:
        parser.error("--token-lifetime must be at least 60 seconds")
    return EmulatorConfig(
        host=args.host, port=args.port, state_dir=args.state_dir,
        directory_file=args.directory, faults=settings, token_lifetime_s=args.token_lifetime,
        max_photo_bytes=args.max_photo_bytes,
    )


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=args.log_level,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = config_from_args(parser, args)
    from devstack.emulator.server import start  # after logging is configured

    try:
        running = start(config)
    except DirectoryError as exc:
        print(f"emulator: directory error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"emulator: cannot start on {config.host}:{config.port}: {exc}", file=sys.stderr)
        return 1

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    sys.stdout.write(json.dumps(running.info, sort_keys=True) + "\n")
    sys.stdout.flush()
    while not stop.wait(0.5):
        pass
    running.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
