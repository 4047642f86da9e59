"""A small version of ``make soak`` for every ``make test``: about 60 drops, every fault kind
(lost answers included), an Azurite restart, a state table stall under an upload in flight, a
host kill, a second host whose clock is off, a mapping edit and deletions, then the soak's own
checks and a leak check over every log line (the hosts', the emulator's, and all logging in
this process)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from devstack.soak import FAULT_KINDS, SoakConfig, SoakResult, markdown, run_soak
from devstack.soak.logs import find_leaks, leak_needles

pytestmark = pytest.mark.integration

DROPS = 60


class Recorder(logging.Handler):
    """Every record any logger emits in this process, formatted with its traceback."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture(scope="module")
def soak(tmp_path_factory: pytest.TempPathFactory) -> tuple[SoakResult, list[str]]:
    recorder = Recorder()
    root = logging.getLogger()
    previous = root.level
    root.addHandler(recorder)
    root.setLevel(logging.DEBUG)
    try:
        state: Path = tmp_path_factory.mktemp("soak")
        result = run_soak(SoakConfig(drops=DROPS, users=20, uploaders=4, seed=7, rate=3.0,
                                     deadline_s=420.0, state_dir=state))
    finally:
        root.removeHandler(recorder)
        root.setLevel(previous)
    return result, recorder.lines


def test_nothing_is_lost_or_misassigned_and_every_check_passes(
        soak: tuple[SoakResult, list[str]]) -> None:
    result, _ = soak
    report = markdown(result)
    assert result.table["drops"] == DROPS + len(result.run.events.redropped), report
    assert result.table["lost"] == 0, report
    assert result.table["misassigned"] == 0, report
    assert [c.name for c in result.checks if not c.ok] == [], report
    assert result.ok, report


def test_every_fault_kind_and_both_restarts_happened(soak: tuple[SoakResult, list[str]]) -> None:
    result, _ = soak
    events, table = result.run.events, result.table
    assert events.azurite_down is not None and events.azurite_up is not None
    assert events.host_killed is not None and events.host_up is not None
    assert events.killed_in_flight >= 1, "the host must die with work in flight"
    assert events.redropped, "HR re-drops a blob that was in flight while the host is down"
    assert table["redelivered"] >= 1 and table["retried"] >= 1, markdown(result)
    faults = next(c for c in result.checks if c.name == "faults_exercised")
    assert faults.ok, faults.failures
    injected = result.run.stats["faults"]
    assert sum(injected.get(kind, 0) for kind in FAULT_KINDS) > 0, injected  # the random ones


def test_no_secret_token_or_photo_bytes_in_any_log_line(
        soak: tuple[SoakResult, list[str]]) -> None:
    result, lines = soak
    tokens = result.run.tokens
    assert tokens, "the emulator issued tokens during the soak"
    names = {p.name for p in result.log_files}
    assert {"host.log", "emulator.log", "soak.log"} <= names
    texts = {"logging in the test process": "\n".join(lines).encode(),
             **{p.name: p.read_bytes() for p in result.log_files}}
    assert len(lines) > 20 and all(texts.values())
    photos = [r.drop.content for r in result.run.records]
    needles = leak_needles(result.secret, tokens, photos)
    assert find_leaks(texts, needles) == []
    # The scanner finds what it looks for (so an empty answer above means something).
    planted = {"planted": b"x " + result.secret.encode() + b" " + tokens[-1].encode() +
               repr(photos[0][:4]).encode()}
    found = find_leaks(planted, needles)
    assert any("client secret" in f for f in found) and any("token" in f for f in found)
    assert any("JPEG start (escaped)" in f for f in found)
