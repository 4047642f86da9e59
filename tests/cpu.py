"""CPU time: the one measure of speed a test may assert.

Wall time fails on a busy machine (both cores taken by other work stretch it threefold); the
CPU time this process spends on the work does not grow with the load beside it. Speed itself
belongs in ``make bench``, as ratios; a test only bounds cost, to catch the quadratic blow-up.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def cpu_budget(seconds: float, what: str = "the block") -> Iterator[None]:
    """Fail when the block uses more than ``seconds`` of this process's CPU time."""
    start = time.process_time()
    try:
        yield
    finally:  # an answer (or a raise) that came too late is a failure either way
        used = time.process_time() - start
        assert used <= seconds, f"{what} used {used:.2f} s of CPU, over its {seconds:g} s budget"
