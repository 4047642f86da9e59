"""A lookup's photo API calls share one deadline: the resolution, the metadata and the sizes (or
the photo itself) all run under the deadline the lookup was given, and nothing else does."""

from __future__ import annotations

from photo_core.domain.dialects import PhotoMetadata
from photo_core.domain.naming import NamingRules, UserRef
from photo_core.domain.retry import Deadline, current_deadline
from photo_core.use_cases.directory import Resolver
from photo_core.use_cases.lookup import lookup_photo, photo_bytes
from photo_core.use_cases.ports import DirectoryUser, PhotoContent
from tests.unit.fakes import FakeClock, FakePhotoApi, FakeStateStore

NAMING = NamingRules(employee_id_mode=True)
EMPLOYEE = DirectoryUser("5b3a6f2e-0000-4000-8000-000000000001", "jane@contoso.com")


class WatchedApi(FakePhotoApi):
    """Records, per call, the deadline the call ran under."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, Deadline | None]] = []
        self.employees["100002"] = [EMPLOYEE]
        self.photos[EMPLOYEE.id] = b"\xff\xd8jpeg"

    def find_user_by_employee_id(self, employee_id: str) -> DirectoryUser:
        self.calls.append(("resolve", current_deadline()))
        return super().find_user_by_employee_id(employee_id)

    def get_metadata(self, user: UserRef) -> PhotoMetadata | None:
        self.calls.append(("metadata", current_deadline()))
        return super().get_metadata(user)

    def list_sizes(self, user: UserRef) -> list[PhotoMetadata]:
        self.calls.append(("sizes", current_deadline()))
        return super().list_sizes(user)

    def get_photo(self, user: UserRef, size: str | None = None) -> PhotoContent | None:
        self.calls.append(("photo", current_deadline()))
        return super().get_photo(user, size)


def test_every_call_of_a_lookup_runs_under_its_deadline() -> None:
    api = WatchedApi()
    deadline = Deadline.after(10, FakeClock())
    result = lookup_photo("100002", NAMING, api, FakeStateStore(),
                          Resolver(api, employee_ttl=0), deadline=deadline)
    assert result.sizes == ("120x120",)
    assert {name for name, _ in api.calls} == {"resolve", "metadata", "sizes"}
    assert all(seen is deadline for _, seen in api.calls)
    assert current_deadline() is None, "the deadline ends with the lookup"


def test_the_photo_itself_is_read_under_the_deadline_too() -> None:
    api = WatchedApi()
    deadline = Deadline.after(10, FakeClock())
    photo_bytes("100002", None, NAMING, api, Resolver(api, employee_ttl=0), deadline=deadline)
    assert api.calls == [("resolve", deadline), ("photo", deadline)]
    assert current_deadline() is None


def test_without_a_deadline_nothing_is_bounded_beyond_each_call() -> None:
    api = WatchedApi()
    lookup_photo("100002", NAMING, api, FakeStateStore(), Resolver(api, employee_ttl=0))
    assert {seen for _, seen in api.calls} == {None}
