"""``python -m devstack.soak.host --clock-offset-s S <devstack.host arguments>``: the local
functions host, with photo-sync's wall clock off by ``S`` seconds, as on a machine whose clock
is wrong. The soak runs a second host this way beside the first (the same host id, so the two
share the work queue like two instances of one app). Only what photo-sync reads through its
``Clock`` moves; monotonic time and the host's own clocks do not.
"""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta

from photo_core.domain import clock


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.soak.host", add_help=False)
    parser.add_argument("--clock-offset-s", type=float, default=0.0,
                        help="seconds photo-sync's wall clock is off (negative: behind)")
    known, rest = parser.parse_known_args(argv)
    from devstack.host.__main__ import main as host_main

    if {"-h", "--help"} & set(rest):  # this option, then every option of the host itself
        print(parser.format_help())
        return host_main(["--help"])
    clock.SYSTEM_CLOCK = clock.SystemClock(offset=timedelta(seconds=known.clock_offset_s))
    return host_main(rest)


if __name__ == "__main__":
    sys.exit(main())
