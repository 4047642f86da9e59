"""``python -m devstack.soak_host --clock-offset-s S <devstack.host arguments>``: the local
functions host, with photo-sync's wall clock off by ``S`` seconds, as on a machine whose clock
is wrong. The soak runs a second host this way beside the first (the same host id, so the two
share the work queue like two instances of one app). Only what photo-sync reads through its
``Clock`` moves; monotonic time and the host's own clocks do not.
"""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta

from photo_core import clock


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.soak_host", add_help=False)
    parser.add_argument("--clock-offset-s", type=float, required=True)
    known, rest = parser.parse_known_args(argv)
    clock.SYSTEM_CLOCK = clock.SystemClock(offset=timedelta(seconds=known.clock_offset_s))
    from devstack.host.__main__ import main as host_main

    return host_main(rest)


if __name__ == "__main__":
    sys.exit(main())
