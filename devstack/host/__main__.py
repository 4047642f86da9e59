"""``python -m devstack.host``: run the app under the local host until SIGTERM or Ctrl-C.

When it serves, one JSON line goes to stdout (``base_url``, ``api_url``, ``host_id``,
``master_key``, ``host_key``, ``function_keys``, ``blobs_extension_key``, ``webhook_url`` per
Event Grid blob trigger, ``eventgrid_extension_key``, ``eventgrid_webhook_url`` per Event Grid
trigger, ``functions``, ``disabled``) so that scripts can read the URLs and keys; everything
else, the app's logging included, goes to stderr through the root logger.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from azure.core.exceptions import AzureError

from devstack.host.app_loader import AppLoadError, app_directory
from devstack.host.keys import HOST_ID_SETTING
from devstack.host.runtime import DEFAULT_STATE_DIR, HostStartError, start_host
from devstack.host.settings import DEFAULT_HTTP_PORT, SettingsError, read_local_settings
from devstack.host.storage import StorageSettingError


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m devstack.host",
        description="Run an Azure Functions Python app (v2 model) locally, without Core Tools.")
    parser.add_argument("--app", default="function_app:app", help="module:attribute of the app")
    parser.add_argument("--settings", type=Path,
                        help="local.settings.json (default: next to the app)")
    parser.add_argument("--host-json", type=Path, help="host.json (default: next to the app)")
    parser.add_argument("--port", type=int,
                        help="HTTP port (default: Host.LocalHttpPort, else 7071; 0 = any free)")
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR,
                        help="where keys and the watcher's memory live (default %(default)s)")
    parser.add_argument("--no-watch", action="store_true",
                        help="do not poll blob containers (deliver events yourself)")
    parser.add_argument("--watch-interval", type=float, default=0.5, help="seconds between polls")
    parser.add_argument("--host-id", help=f"host id (default: {HOST_ID_SETTING}, else stored)")
    parser.add_argument("--retry-delay", type=float, default=1.0,
                        help="first backoff after a failed blob invocation or Event Grid "
                             "delivery, in seconds")
    parser.add_argument("--eventgrid-max-attempts", type=int, default=10,
                        help="delivery attempts of a watcher's Event Grid event before it is "
                             "dead-lettered (default %(default)s)")
    parser.add_argument("--stop-timeout", type=float, default=30.0,
                        help="how long a stop waits for running invocations")
    parser.add_argument("--verbose", action="store_true", help="debug logging")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("azure", "urllib3"):  # request logs carry URLs and headers; keep them out
        logging.getLogger(noisy).setLevel(logging.WARNING)
    stop = threading.Event()

    def on_signal(number: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        port = args.port
        if port is None:
            settings = args.settings or app_directory(args.app) / "local.settings.json"
            port = read_local_settings(settings).http_port or DEFAULT_HTTP_PORT
        host = start_host(
            args.app, settings=args.settings, host_json=args.host_json, port=port,
            state_dir=args.state_dir, watch=not args.no_watch, watch_interval=args.watch_interval,
            host_id=args.host_id, retry_delay=args.retry_delay,
            eventgrid_max_attempts=args.eventgrid_max_attempts)
    except (AppLoadError, HostStartError, SettingsError, StorageSettingError, ValueError,
            OSError, AzureError) as exc:
        print(f"devstack.host: cannot start: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(json.dumps(host.info, sort_keys=True) + "\n")
    sys.stdout.flush()
    stop.wait()
    logging.getLogger("devstack.host").info("Stopping (running invocations may finish)")
    host.stop(args.stop_timeout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
