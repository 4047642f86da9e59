"""The local host runs functions on as many threads as the Python worker would, and no more."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from devstack.host.bindings import FunctionSpec, HttpTrigger
from devstack.host.invoke import Invoker, worker_threads
from devstack.host.routes import compile_route

WAIT_S = 60.0  # generous: the suite runs with both cores busy


def _spec(function: Any) -> FunctionSpec:
    trigger = HttpTrigger(route=compile_route("x"), methods=None, auth_level="anonymous")
    return FunctionSpec("probe", function, "req", trigger, wants_context=False)


def test_without_the_setting_the_pool_is_pythons_default() -> None:
    assert worker_threads({}) == min(32, (__import__("os").cpu_count() or 1) + 4)


def test_the_setting_sizes_the_pool() -> None:
    assert worker_threads({"PYTHON_THREADPOOL_THREAD_COUNT": "12"}) == 12


@pytest.mark.parametrize("value", ["0", "-3", "twelve", "1.5"])
def test_a_setting_that_is_not_a_positive_whole_number_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="PYTHON_THREADPOOL_THREAD_COUNT"):
        worker_threads({"PYTHON_THREADPOOL_THREAD_COUNT": value})


def test_invocations_beyond_the_pool_wait_for_a_thread() -> None:
    """Three callers, two threads: the third runs only once one of the first two is done."""
    invoker = Invoker(".", threads=2)
    running = 0
    most = 0
    lock = threading.Lock()
    release = threading.Event()
    two_in = threading.Barrier(3)  # the two first invocations and the test

    def function(req: Any) -> None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
            first_two = req < 2
        if first_two:
            two_in.wait(WAIT_S)
            release.wait(WAIT_S)
        with lock:
            running -= 1

    spec = _spec(function)
    callers = [threading.Thread(target=invoker.call, args=(spec, n, "test")) for n in range(2)]
    for caller in callers:
        caller.start()
    two_in.wait(WAIT_S)  # both threads of the pool are taken
    third = threading.Thread(target=invoker.call, args=(spec, 2, "test"))
    third.start()
    third.join(0.5)
    assert third.is_alive(), "a third invocation ran while both threads were taken"
    release.set()
    for thread in [*callers, third]:
        thread.join(WAIT_S)
    assert not third.is_alive() and most == 2
