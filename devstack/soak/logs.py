"""Reading the host's and the emulator's logs: tracebacks, retries, redeliveries, leaks.

Both log through the root logger as ``%(asctime)s %(levelname)s %(name)s: %(message)s``; a
record is that line plus its continuation lines (a traceback). The rule for an *unhandled
exception* (``problems``): every record at ERROR or above, or carrying a traceback, is a
problem unless it is one of these two expected kinds:

1. a redelivery request: a host's ``Executed 'Functions.sync_photo' (Failed, ...)`` (or
   ``photo_deleted``) record whose final exception is one of the product's transient errors,
   ``Throttled``, ``ServiceUnavailable`` (``photo_core.domain.errors``), ``UserBusy``
   (``photo_core.use_cases.claims``) or ``ClaimLost`` (``photo_core.use_cases.lease``). The
   function raises these on purpose so that the platform delivers the drop (or the deletion)
   again.
2. a storage outage: a final exception ``azure.core.exceptions.ServiceRequestError`` or
   ``ServiceResponseError`` (or their ``...TimeoutError`` kinds: storage unreachable,
   connection dropped or stalled), or the product's ``photo_core.use_cases.ports.StateUnavailable``
   (the state table did not answer), logged inside an
   outage window (Azurite's restart, the state table's stall), from the moment the soak stops
   storage until ``OUTAGE_GRACE_S`` after it answers again (the Storage SDK's default retries
   can take about a minute to give up on a request that started during the outage).

3. a frozen host's overrun: the local host's "ran ...s, longer than functionTimeout" for an
   invocation of the host the soak froze (SIGSTOP), logged from the freeze until
   ``OUTAGE_GRACE_S`` after it: the freeze, not the product, made it long.

Anything else (any other exception type, a traceback from any other place, a poisoned drop,
another run over ``functionTimeout``, an emulator bug) is listed with its first line.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

OUTAGE_GRACE_S = 90.0
TRANSIENT = frozenset({"photo_core.domain.errors.Throttled",
                       "photo_core.domain.errors.ServiceUnavailable",
                       "photo_core.use_cases.claims.UserBusy",
                       "photo_core.use_cases.lease.ClaimLost"})
STORAGE_OUTAGE = frozenset({"azure.core.exceptions.ServiceRequestError",
                            "azure.core.exceptions.ServiceResponseError",
                            "azure.core.exceptions.ServiceRequestTimeoutError",
                            "azure.core.exceptions.ServiceResponseTimeoutError",
                            "photo_core.use_cases.ports.StateUnavailable"})
_RECORD = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) "
                     r"(DEBUG|INFO|WARNING|ERROR|CRITICAL) (\S+?): (.*)$")
_EXCEPTION_LINE = re.compile(r"^([A-Za-z_][\w.]*)(?::|$)")
_EXECUTING = re.compile(r"^Executing 'Functions\.sync_photo' \(Reason='New blob detected"
                        r"\(\w+\): [^/]+/(.*) \(attempt (\d+)\)', Id=([\w-]+)\)")
_EXECUTED = re.compile(r"^Executed 'Functions\.sync_photo' \((Succeeded|Failed), Id=([\w-]+)")
_RETRY = re.compile(r"; retry \d+ in [\d.]+s$")


@dataclass
class Record:
    source: str
    time: datetime
    level: str
    logger: str
    message: str
    extra: list[str] = field(default_factory=list)

    @property
    def exception(self) -> str | None:
        """The final exception's qualified type name, if the record carries a traceback."""
        starts = [i for i, line in enumerate(self.extra)
                  if line.startswith("Traceback (most recent call last):")]
        if not starts:
            return None
        for line in self.extra[starts[-1] + 1:]:
            if line.startswith(" ") or not line.strip():
                continue
            match = _EXCEPTION_LINE.match(line)
            return match.group(1) if match else line[:80]
        return "?"

    def describe(self) -> str:
        exc = f" [{self.exception}]" if self.exception else ""
        return f"{self.source} {self.time:%H:%M:%S} {self.level} {self.logger}: " \
               f"{self.message[:160]}{exc}"


def read_records(path: Path, source: str) -> list[Record]:
    records: list[Record] = []
    if not path.exists():
        return records
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        match = _RECORD.match(line)
        if match:
            stamp = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f")
            records.append(Record(source, stamp, match.group(2), match.group(3),
                                  match.group(4)))
        elif records:
            records[-1].extra.append(line)
    return records


def problems(records: Iterable[Record], outages: list[tuple[datetime, datetime]],
             freezes: Sequence[tuple[str, datetime, datetime]] = ()) -> list[Record]:
    """Records that are unhandled exceptions or unexpected errors (rule in the docstring)."""
    windows = [(start - timedelta(seconds=1), end + timedelta(seconds=OUTAGE_GRACE_S))
               for start, end in outages]
    frozen = [(source, start, end + timedelta(seconds=OUTAGE_GRACE_S))
              for source, start, end in freezes]
    found = []
    for record in records:
        if "longer than functionTimeout" in record.message and any(
                record.source == source and start <= record.time <= end
                for source, start, end in frozen):
            continue
        exc = record.exception
        if exc is None and record.level not in ("ERROR", "CRITICAL"):
            continue
        if exc in TRANSIENT and record.logger == "devstack.host.functions" and \
                record.message.startswith(("Executed 'Functions.sync_photo' (Failed",
                                           "Executed 'Functions.photo_deleted' (Failed")):
            continue
        if exc in STORAGE_OUTAGE and any(a <= record.time <= b for a, b in windows):
            continue
        found.append(record)
    return found


@dataclass
class HostActivity:
    invocations: int = 0
    redeliveries: int = 0  # invocations with attempt >= 2 (dequeue count of the message)
    failed: int = 0
    in_call_retries: int = 0  # the product's own retries inside one invocation
    lapsed_claims: int = 0  # uploads that outlived their claim (the photo marked unknown)
    outcomes: dict[str, int] = field(default_factory=dict)


def host_activity(records: Iterable[Record]) -> HostActivity:
    activity = HostActivity()
    for record in records:
        if (match := _EXECUTING.match(record.message)) is not None:
            activity.invocations += 1
            activity.redeliveries += int(match.group(2)) >= 2
        elif (done := _EXECUTED.match(record.message)) is not None:
            activity.failed += done.group(1) == "Failed"
        elif record.level == "WARNING" and _RETRY.search(record.message):
            activity.in_call_retries += 1
        elif record.logger == "photo_core.use_cases.release" and \
                "an upload for" in record.message and "outlived its claim" in record.message:
            activity.lapsed_claims += 1
        elif record.logger == "photo_core.use_cases.finish" and record.message.startswith("drop "):
            status = record.message.rsplit(": ", 1)[-1].split(" ")[0]
            activity.outcomes[status] = activity.outcomes.get(status, 0) + 1
    return activity


def in_flight(path: Path, offset: int) -> list[str]:
    """Blob names of ``sync_photo`` invocations started but not finished, in the log from
    ``offset`` on."""
    running: dict[str, str] = {}
    with path.open("rb") as log:
        log.seek(offset)
        for raw in log.read().decode("utf-8", errors="replace").splitlines():
            match = _RECORD.match(raw)
            if not match:
                continue
            if (start := _EXECUTING.match(match.group(4))) is not None:
                running[start.group(3)] = start.group(1)
            elif (end := _EXECUTED.match(match.group(4))) is not None:
                running.pop(end.group(2), None)
    return sorted(set(running.values()))


def leak_needles(secret: str, tokens: Iterable[str],
                 photos: Iterable[bytes]) -> list[tuple[str, bytes]]:
    """What must never be in a log: the client secret, every issued token (and its signature
    alone), and photo bytes: the JPEG start ``FF D8 FF`` raw, escaped, as latin-1 text and as
    base64 (``/9j/``), and from inside every photo a 48-byte run as base64 (aligned, so it
    matches any base64 of the whole photo) and a 32-byte run as hex. (A bare ``ffd8ff`` is not
    searched: GUIDs in the logs would match it by chance.)"""
    needles: list[tuple[str, bytes]] = [("client secret", secret.encode())]
    for n, token in enumerate(tokens):
        needles.append((f"token #{n}", token.encode()))
        needles.append((f"token #{n} signature", token.rsplit(".", 1)[-1].encode()))
    needles += [("JPEG start (raw)", b"\xff\xd8\xff"),
                ("JPEG start (escaped)", b"\\xff\\xd8\\xff"),
                ("JPEG start (as latin-1 text)", "\xff\xd8\xff".encode()),
                ("JPEG start (base64)", b"/9j/")]
    for n, data in enumerate(photos):
        if len(data) >= 400:
            needles.append((f"photo #{n} (base64)", base64.b64encode(data)[200:264]))
            needles.append((f"photo #{n} (hex)", data[150:182].hex().encode()))
            needles.append((f"photo #{n} (HEX)", data[150:182].hex().upper().encode()))
    return needles


def find_leaks(texts: dict[str, bytes], needles: list[tuple[str, bytes]]) -> list[str]:
    """``where: what`` for every needle found in any of ``texts`` (name -> raw bytes)."""
    return [f"{where}: {what}" for where, text in texts.items() for what, needle in needles
            if needle and needle in text]
