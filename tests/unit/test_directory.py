"""Employee ids and HR ids to users: cached for a bounded time, refused when not definite."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import pytest

from photo_core.domain.errors import AmbiguousUser
from photo_core.domain.naming import UserRef, UserRefKind
from photo_core.use_cases.directory import (
    MappingSnapshot,
    MappingUnavailable,
    NotInMapping,
    Resolver,
    parse_mapping,
)
from photo_core.use_cases.ports import DirectoryUser
from tests.unit.fakes import FakeClock, FakePhotoApi


class CountingApi(FakePhotoApi):
    def __init__(self) -> None:
        super().__init__()
        self.lookups = 0

    def find_user_by_employee_id(self, employee_id: str) -> DirectoryUser:
        self.lookups += 1
        return super().find_user_by_employee_id(employee_id)


def test_employee_ids_are_looked_up_once_per_ttl() -> None:
    api, clock = CountingApi(), FakeClock()
    api.employees["123"] = [DirectoryUser("id-1", "jane@contoso.com")]
    resolver = Resolver(api, employee_ttl=60, clock=clock)
    ref = UserRef(UserRefKind.EMPLOYEE_ID, "123")
    assert resolver.resolve(ref) == UserRef(UserRefKind.OBJECT_ID, "id-1")
    resolver.resolve(ref)
    assert api.lookups == 1
    clock.advance(61)
    resolver.resolve(ref)
    assert api.lookups == 2


def test_upns_and_object_ids_pass_through() -> None:
    resolver = Resolver(FakePhotoApi(), employee_ttl=60)
    ref = UserRef(UserRefKind.UPN, "jane@contoso.com")
    assert resolver.resolve(ref) is ref


CSV = b"\xef\xbb\xbfhrId,userPrincipalName\nA-1,jane@contoso.com\na-2,joe@contoso.com\n" \
      b"B-7,x@contoso.com\nb-7,y@contoso.com\nC-9,not a upn\n,\n"


def test_the_mapping_file_maps_hr_ids_case_insensitively() -> None:
    snapshot = parse_mapping(CSV, '"v1"')
    resolver = Resolver(FakePhotoApi(), employee_ttl=0, mapping=lambda v: snapshot)
    assert resolver.resolve(UserRef(UserRefKind.HR_ID, "a-1")) == UserRef(
        UserRefKind.UPN, "jane@contoso.com")


@pytest.mark.parametrize(("hr_id", "error"), [
    ("Z-0", NotInMapping), ("B-7", AmbiguousUser), ("C-9", NotInMapping)])
def test_unmapped_ambiguous_or_broken_entries_are_refused(hr_id: str,
                                                         error: type[Exception]) -> None:
    resolver = Resolver(FakePhotoApi(), employee_ttl=0,
                        mapping=lambda v: parse_mapping(CSV, None))
    with pytest.raises(error):
        resolver.resolve(UserRef(UserRefKind.HR_ID, hr_id))


def test_the_mapping_is_refetched_after_its_ttl_and_kept_when_unchanged() -> None:
    clock, seen = FakeClock(), []

    def fetch(version: str | None) -> MappingSnapshot | None:
        seen.append(version)
        return parse_mapping(CSV, '"v1"') if version is None else None

    resolver = Resolver(FakePhotoApi(), employee_ttl=0, mapping=fetch, mapping_ttl=30,
                        clock=clock)
    ref = UserRef(UserRefKind.HR_ID, "A-1")
    resolver.resolve(ref)
    resolver.resolve(ref)
    clock.advance(31)
    assert resolver.resolve(ref).value == "jane@contoso.com"
    assert seen == [None, '"v1"']


@pytest.mark.parametrize("data", [b"id;upn\n1;a@b.com\n", b"\xff\xfe\x00junk", b"name,mail\n"])
def test_a_mapping_file_without_its_columns_is_unavailable_with_a_reason(data: bytes) -> None:
    with pytest.raises(MappingUnavailable):
        parse_mapping(data, None)


@pytest.mark.parametrize(("header", "named"), [
    ("id,upn,UPN", "upn"),  # csv.DictReader would keep the last: the wrong person's photo
    ("id, upn ,upn", "upn"),
    ("id,ID,upn", "id"),
    ("id,employeeId,upn", "id, employeeid"),
    ("hrId,upn,userPrincipalName", "upn, userprincipalname"),
])
def test_a_mapping_header_with_an_ambiguous_column_is_refused_naming_the_header(
        header: str, named: str) -> None:
    data = f"{header}\n1,jane@contoso.com,john@contoso.com\n".encode()
    with pytest.raises(MappingUnavailable) as refused:
        parse_mapping(data, None)
    assert refused.value.code == "mapping_unavailable"
    assert repr(header) in refused.value.message and named in refused.value.message


def test_without_a_mapping_file_hr_ids_cannot_resolve() -> None:
    with pytest.raises(MappingUnavailable, match="PHOTO_ID_MAPPING_BLOB"):
        Resolver(FakePhotoApi(), employee_ttl=0).resolve(UserRef(UserRefKind.HR_ID, "1"))


@pytest.mark.parametrize("newline", [b"\r", b"\r\n", b"\n"])
def test_a_mapping_file_reads_the_same_with_any_line_ending(newline: bytes) -> None:
    """Excel's "CSV (Macintosh)" ends lines with a bare CR."""
    data = newline.join([b"id,upn", b"12345,jane@contoso.com", b'"9,9",joe@contoso.com', b""])
    assert parse_mapping(data, None).entries == {"12345": "jane@contoso.com",
                                                 "9,9": "joe@contoso.com"}


@pytest.mark.parametrize(("data", "line"), [
    (b"id,upn\n1,a@contoso.com\n2," + b"x" * 200_000 + b"\n", 3),  # over csv's field limit
    (b"id,upn" + b"x" * 200_000 + b"\n1,a@contoso.com\n", 1),
])
def test_a_mapping_file_csv_cannot_read_is_unavailable_naming_the_line(
        data: bytes, line: int) -> None:
    with pytest.raises(MappingUnavailable, match=f"line {line}"):
        parse_mapping(data, None)


def test_a_drop_resolved_through_an_unreadable_mapping_is_deferred_with_a_reason() -> None:
    from photo_core.domain.naming import NamingRules
    from photo_core.domain.outcomes import Status
    from photo_core.photos import ImagePolicy
    from photo_core.use_cases.sync import SyncDeps, SyncOptions, sync_drop
    from tests.photos import jpeg
    from tests.unit.fakes import FakeClock, FakeDrop, FakeOutcomeLog, FakeStateStore

    unreadable = b"id,upn\n12345," + b"x" * 200_000 + b"\n"
    clock, api, log = FakeClock(), FakePhotoApi(), FakeOutcomeLog()
    resolver = Resolver(api, employee_ttl=0, mapping=lambda v: parse_mapping(unreadable, '"1"'))
    deps = SyncDeps(api=api, state=FakeStateStore(), clock=clock, owner="x", log=log,
                    resolver=resolver)
    drop = FakeDrop("12345.jpg", jpeg())
    outcome = sync_drop(drop, SyncOptions(naming=NamingRules(mapping_mode=True),
                                          image=ImagePolicy()), deps)
    # the mapping file is photo-sync's configuration: fixed, the drop is tried again
    assert (outcome.status, outcome.reason) == (Status.DEFERRED, "mapping_unavailable")
    assert "line 2" in outcome.message


class MappingFile:
    """The mapping blob, whose content HR replaces: a conditional read answers ``None`` when
    the version asked for is still the current one."""

    def __init__(self, text: str, modified: datetime) -> None:
        self.versions = [(text, modified)]
        self.reads = 0

    def change(self, text: str, modified: datetime) -> None:
        self.versions.append((text, modified))

    def __call__(self, known: str | None) -> MappingSnapshot | None:
        self.reads += 1
        current = f'"v{len(self.versions)}"'
        if known == current:
            return None
        text, modified = self.versions[-1]
        return replace(parse_mapping(text.encode(), current), modified=modified)


def test_a_mapping_re_pointed_within_its_ttl_is_seen_right_before_an_upload() -> None:
    clock = FakeClock()
    mapping = MappingFile("id,upn\nHR-1,a@contoso.com\n", clock.current)
    resolver = Resolver(FakePhotoApi(), employee_ttl=0, mapping=mapping, mapping_ttl=300,
                        clock=clock)
    ref = UserRef(UserRefKind.HR_ID, "HR-1")
    assert resolver.resolve(ref).value == "a@contoso.com"
    mapping.change("id,upn\nHR-1,b@contoso.com\n", clock.current)
    assert resolver.resolve(ref).value == "a@contoso.com"  # a lookup: cached for the TTL
    resolved = resolver.resolve_for_upload(ref)
    assert (resolved.user.value, resolved.version) == ("b@contoso.com", '"v2"')


def test_an_id_missing_from_the_cached_mapping_is_asked_again_before_it_is_refused() -> None:
    clock = FakeClock()
    mapping = MappingFile("id,upn\nHR-1,a@contoso.com\n", clock.current)
    resolver = Resolver(FakePhotoApi(), employee_ttl=0, mapping=mapping, mapping_ttl=300,
                        clock=clock)
    resolver.resolve(UserRef(UserRefKind.HR_ID, "HR-1"))
    mapping.change("id,upn\nHR-1,a@contoso.com\nHR-9,new.hire@contoso.com\n", clock.current)
    assert resolver.resolve(UserRef(UserRefKind.HR_ID, "HR-9")).value == "new.hire@contoso.com"
    with pytest.raises(NotInMapping):
        resolver.resolve(UserRef(UserRefKind.HR_ID, "HR-404"))
    assert mapping.reads == 3  # once, then once per miss (a conditional read)


def test_an_upload_resolution_says_what_the_id_named_before_the_mapping_last_changed() -> None:
    clock = FakeClock()
    mapping = MappingFile("id,upn\nHR-1,a@contoso.com\nHR-2,c@contoso.com\n", clock.current)
    resolver = Resolver(FakePhotoApi(), employee_ttl=0, mapping=mapping, clock=clock)
    resolver.resolve(UserRef(UserRefKind.HR_ID, "HR-1"))
    clock.advance(600)
    mapping.change("id,upn\nHR-1,b@contoso.com\nHR-2,c@contoso.com\n", clock.current)
    moved = resolver.resolve_for_upload(UserRef(UserRefKind.HR_ID, "HR-1"))
    kept = resolver.resolve_for_upload(UserRef(UserRefKind.HR_ID, "HR-2"))
    assert moved.before == UserRef(UserRefKind.UPN, "a@contoso.com")
    assert moved.since == clock.current and kept.before is None
