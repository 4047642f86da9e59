"""From HR's identifiers to directory users: employee ids through Graph, HR ids through a
mapping file, each cached for a bounded time.

Both answers change rarely and a bulk load asks the same question thousands of times, so each is
cached; a bounded time-to-live keeps a re-hired or renamed person from being served stale data
for long. Only definite answers are cached: a miss or an ambiguity is asked again next time.
"""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from photo_core.domain.clock import SYSTEM_CLOCK, Clock
from photo_core.domain.errors import AmbiguousUser, PermanentError
from photo_core.domain.naming import NameRejection, UserRef, UserRefKind, parse_user_reference
from photo_core.use_cases.ports import PhotoApi

MAX_MAPPING_BYTES = 10 * 1024 * 1024


class MappingUnavailable(PermanentError):
    """The mapping file is missing or cannot be read; the message says which and why."""

    code = "mapping_unavailable"
    retry_later = True


class NotInMapping(PermanentError):
    """The HR id is not in the mapping file (or maps to something that is not a UPN)."""

    code = "not_in_mapping"
    retry_later = True  # HR may add the row: each reconcile asks again


class MappingChanged(PermanentError):
    """The drop was made before the mapping file gave its HR id to someone else: whom it was
    for is not whom the id names now, so it is held; a file dropped again after the change
    goes to whom the id names."""

    code = "mapping_changed"


@dataclass(frozen=True)
class Resolution:
    """Whom a reference names, and for an HR id, by which mapping: its version, when storage
    wrote it (``since``), and whom the id named before that version changed it, if this process
    saw the earlier one (``before``)."""

    user: UserRef
    version: str | None = None
    since: datetime | None = None
    before: UserRef | None = None


class UserResolver(Protocol):
    """Port: turn any user reference into one the photo API can address."""

    def resolve(self, ref: UserRef) -> UserRef:
        """For a lookup: cached answers within their time-to-live are good enough."""
        ...

    def resolve_for_upload(self, ref: UserRef) -> Resolution:
        """Right before a photo goes to the user: the mapping file is read again when it has
        changed (a conditional read, cheap when it has not), whatever its time-to-live."""
        ...


@dataclass(frozen=True)
class MappingSnapshot:
    entries: dict[str, str]
    version: str | None
    ambiguous: frozenset[str] = frozenset()
    modified: datetime | None = None  # storage's Last-Modified of this version of the file


class Resolver:
    """Employee ids via the photo API's directory lookup, HR ids via the mapping file. An HR id
    the cached mapping does not hold is asked of the file again before it is refused (a new
    hire added within the time-to-live); an upload always checks the file's version first."""

    def __init__(self, api: PhotoApi, *, employee_ttl: float,
                 mapping: Callable[[str | None], MappingSnapshot | None] | None = None,
                 mapping_ttl: float = 300.0,
                 clock: Clock = SYSTEM_CLOCK) -> None:
        self._api = api
        self._employee_ttl = employee_ttl
        self._fetch_mapping = mapping
        self._mapping_ttl = mapping_ttl
        self._clock = clock
        self._employees: dict[str, tuple[float, str]] = {}
        self._mapping: MappingSnapshot | None = None
        self._mapping_checked = float("-inf")
        self._before: dict[str, str] = {}  # HR id -> whom it named before the last change
        self._lock = threading.Lock()

    def resolve(self, ref: UserRef) -> UserRef:
        return self._resolve(ref, fresh=False).user

    def resolve_for_upload(self, ref: UserRef) -> Resolution:
        return self._resolve(ref, fresh=True)

    def _resolve(self, ref: UserRef, *, fresh: bool) -> Resolution:
        if ref.kind is UserRefKind.EMPLOYEE_ID:
            return Resolution(UserRef(UserRefKind.OBJECT_ID, self._employee(ref.value)))
        if ref.kind is UserRefKind.HR_ID:
            return self._mapped(ref.value, fresh)
        return Resolution(ref)

    def _employee(self, employee_id: str) -> str:
        key = employee_id.lower()
        now = self._clock.monotonic()
        with self._lock:
            hit = self._employees.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        user_id = self._api.find_user_by_employee_id(employee_id).id
        with self._lock:
            self._employees[key] = (now + self._employee_ttl, user_id)
        return user_id

    def _mapped(self, hr_id: str, fresh: bool) -> Resolution:
        key = hr_id.lower()
        snapshot = self._current_mapping(fresh)
        if key not in snapshot.entries and key not in snapshot.ambiguous and not fresh:
            snapshot = self._current_mapping(True)  # added since it was cached?
        if key in snapshot.ambiguous:
            raise AmbiguousUser(f"HR id {hr_id!r} maps to several users in the mapping file")
        upn = snapshot.entries.get(key)
        if upn is None:
            raise NotInMapping(f"HR id {hr_id!r} is not in the mapping file")
        ref = parse_user_reference(upn)
        if isinstance(ref, NameRejection) or ref.kind is not UserRefKind.UPN:
            raise NotInMapping(f"HR id {hr_id!r} maps to {upn!r}, which is not a UPN")
        with self._lock:
            before = self._before.get(key)
        earlier = parse_user_reference(before) if before else None
        return Resolution(ref, snapshot.version, snapshot.modified,
                          earlier if isinstance(earlier, UserRef) else None)

    def _current_mapping(self, fresh: bool) -> MappingSnapshot:
        if self._fetch_mapping is None:
            raise MappingUnavailable("no mapping file is configured (PHOTO_ID_MAPPING_BLOB)")
        now = self._clock.monotonic()
        with self._lock:
            if self._mapping is not None and not fresh and \
                    now - self._mapping_checked < self._mapping_ttl:
                return self._mapping
            known = self._mapping
        fresh_snapshot = self._fetch_mapping(known.version if known else None)
        with self._lock:
            if fresh_snapshot is not None and known is not None:
                self._note_changes(known, fresh_snapshot)
            self._mapping = fresh_snapshot or known
            self._mapping_checked = now
            assert self._mapping is not None, "the fetch returns a snapshot the first time"
            return self._mapping

    def _note_changes(self, old: MappingSnapshot, new: MappingSnapshot) -> None:
        """Remember, per id the new version gives to someone else, whom it named (the lock is
        held)."""
        for key, upn in old.entries.items():
            if new.entries.get(key, upn).lower() != upn.lower():
                self._before[key] = upn


_ID_COLUMNS = ("id", "employeeid", "hrid")
_UPN_COLUMNS = ("upn", "userprincipalname")


def parse_mapping(data: bytes, version: str | None) -> MappingSnapshot:
    """CSV with a header row naming an id column and a UPN column (``id,upn``; also accepted:
    ``employeeId``, ``hrId``, ``userPrincipalName``). Ids are matched case-insensitively."""
    if len(data) > MAX_MAPPING_BYTES:
        raise MappingUnavailable(f"the mapping file is over {MAX_MAPPING_BYTES} bytes")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MappingUnavailable("the mapping file is not UTF-8 text") from exc
    # newline="": the csv module reads CR, CRLF and LF line ends itself (Excel's "CSV
    # (Macintosh)" ends lines with a bare CR), and newlines inside quoted fields stay whole.
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        return _read_mapping(reader, version)
    except csv.Error as exc:
        raise MappingUnavailable(
            f"the mapping file cannot be read as CSV at line {reader.reader.line_num} ({exc}); "
            "export it again as CSV from the HR system or Excel") from exc


def _read_mapping(reader: csv.DictReader[str], version: str | None) -> MappingSnapshot:
    names = [name.strip().lower() for name in reader.fieldnames or []]
    fields = dict(zip(names, reader.fieldnames or [], strict=True))
    ids = [n for n in _ID_COLUMNS if n in fields]
    upns = [n for n in _UPN_COLUMNS if n in fields]
    repeated = sorted({n for n in names if n and names.count(n) > 1})
    if repeated or len(ids) > 1 or len(upns) > 1:
        # csv.DictReader keeps the last of two same-named columns: which one HR meant to be
        # read cannot be known, so the file is refused rather than half read.
        which = repeated or (ids if len(ids) > 1 else upns)
        header = ",".join(reader.fieldnames or [])
        raise MappingUnavailable(
            f"the mapping file's header {header[:200]!a} is ambiguous: "
            f"{', '.join(which)} can be read in more than one way; keep one id column and one "
            "UPN column, each named once")
    id_column = fields[ids[0]] if ids else None
    upn_column = fields[upns[0]] if upns else None
    if id_column is None or upn_column is None:
        raise MappingUnavailable(
            "the mapping file needs a header row with an id column (id, employeeId or hrId) "
            "and a UPN column (upn or userPrincipalName)")
    entries: dict[str, str] = {}
    duplicates: set[str] = set()
    for row in reader:
        key = (row.get(id_column) or "").strip().lower()
        upn = (row.get(upn_column) or "").strip()
        if not key or not upn:
            continue
        if key in entries and entries[key].lower() != upn.lower():
            duplicates.add(key)
        entries[key] = upn
    for key in duplicates:  # two people for one id: refuse rather than guess
        del entries[key]
    return MappingSnapshot(entries, version, frozenset(duplicates))
