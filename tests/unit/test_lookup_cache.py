"""The lookup cache: hits cost no upstream call, answers expire, errors are never kept."""

from __future__ import annotations

from typing import Any

import pytest

from photo_core.domain.errors import InvalidUserReference, Throttled
from photo_core.domain.naming import NamingRules, UserRef
from photo_core.use_cases.directory import Resolver
from photo_core.use_cases.lookup import LookupResult, lookup_photo
from photo_core.use_cases.lookup_cache import LookupCache
from tests.photos import jpeg
from tests.unit.fakes import FakeClock, FakePhotoApi, FakeStateStore


def look(text: str, api: FakePhotoApi, cache: LookupCache[LookupResult]) -> LookupResult:
    return lookup_photo(text, NAMING, api, FakeStateStore(), Resolver(api, employee_ttl=0), cache)

NAMING = NamingRules()
USER = "adele.vance@contoso.com"


class CountingApi(FakePhotoApi):
    """Counts every call that would go upstream."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def get_metadata(self, user: UserRef) -> Any:
        self.calls.append("metadata")
        return super().get_metadata(user)

    def list_sizes(self, user: UserRef) -> Any:
        self.calls.append("sizes")
        meta = FakePhotoApi.get_metadata(self, user)  # not counted twice
        return [meta] if meta else []


@pytest.fixture
def api() -> CountingApi:
    api = CountingApi()
    api.photos[USER] = jpeg()
    return api


def test_a_hit_makes_no_upstream_call_and_returns_the_same_answer(api: CountingApi) -> None:
    cache = LookupCache[LookupResult](30, clock=FakeClock())
    first = look(USER, api, cache)
    calls = list(api.calls)
    second = look(USER, api, cache)
    assert api.calls == calls == ["metadata", "sizes"]
    assert second == first and second.etag == first.etag


def test_answers_expire_after_the_ttl(api: CountingApi) -> None:
    clock = FakeClock()
    cache = LookupCache[LookupResult](30, clock=clock)
    look(USER, api, cache)
    clock.advance(29.9)
    look(USER, api, cache)
    assert api.calls.count("metadata") == 1
    clock.advance(0.2)
    look(USER, api, cache)
    assert api.calls.count("metadata") == 2


def test_a_ttl_of_zero_turns_the_cache_off(api: CountingApi) -> None:
    cache = LookupCache[LookupResult](0, clock=FakeClock())
    for _ in range(3):
        look(USER, api, cache)
    assert api.calls.count("metadata") == 3 and len(cache) == 0


def test_the_answer_echoes_each_callers_spelling(api: CountingApi) -> None:
    cache = LookupCache[LookupResult](30, clock=FakeClock())
    look(USER, api, cache)
    upper = look(USER.upper(), api, cache)
    assert upper.user == USER.upper()


def test_errors_are_not_kept(api: CountingApi) -> None:
    cache = LookupCache[LookupResult](30, clock=FakeClock())
    api.errors[USER] = Throttled("slow down", retry_after=1)
    with pytest.raises(Throttled):
        look(USER, api, cache)
    del api.errors[USER]
    assert look(USER, api, cache).photo is not None
    assert len(cache) == 1


def test_invalid_references_are_refused_before_the_cache_and_upstream(api: CountingApi) -> None:
    cache = LookupCache[LookupResult](30, clock=FakeClock())
    with pytest.raises(InvalidUserReference):
        look("../../admin", api, cache)
    assert api.calls == [] and len(cache) == 0


def test_the_cache_is_bounded_least_recently_used_first(api: CountingApi) -> None:
    cache = LookupCache[LookupResult](30, max_entries=2, clock=FakeClock())
    users = [f"u{i}@contoso.com" for i in range(3)]
    look(users[0], api, cache)
    look(users[1], api, cache)
    look(users[0], api, cache)  # u0 is now the most recent
    look(users[2], api, cache)  # evicts u1
    assert cache.get(f"upn:{users[0]}") is not None
    assert cache.get(f"upn:{users[1]}") is None
    assert len(cache) == 2


def test_forget_drops_every_answer_about_a_user(api: CountingApi) -> None:
    cache = LookupCache[LookupResult](30, clock=FakeClock())
    look(USER, api, cache)
    look(USER.upper(), api, cache)
    cache.forget(USER)
    assert len(cache) == 0
    look(USER, api, cache)
    assert api.calls.count("metadata") == 3


def test_an_answer_fetched_across_an_upload_is_returned_but_not_kept(api: CountingApi) -> None:
    """A lookup that began before this process uploaded a new photo may hold the old one."""
    clock = FakeClock()
    cache = LookupCache[LookupResult](30, clock=clock)

    class UploadMeanwhile(CountingApi):
        def get_metadata(self, user: UserRef) -> Any:
            answer = super().get_metadata(user)
            clock.advance(1)
            cache.forget(USER)  # the drop path, after its upload, while we were reading
            clock.advance(1)
            return answer

    racing = UploadMeanwhile()
    racing.photos[USER] = jpeg()
    look(USER, racing, cache)
    assert len(cache) == 0
    clock.advance(1)
    look(USER, api, cache)  # a lookup that began after the upload is kept as usual
    assert len(cache) == 1


def test_forget_leaves_other_users_alone_after_evictions_and_expiry(api: CountingApi) -> None:
    clock = FakeClock()
    cache = LookupCache[LookupResult](30, max_entries=3, clock=clock)
    users = [f"u{i}@contoso.com" for i in range(5)]
    for user in users:  # u0 and u1 are evicted on the way
        look(user, api, cache)
    cache.forget(users[0])  # evicted already: nothing to do
    cache.forget(users[3].upper())
    assert [cache.get(f"upn:{u}") is not None for u in users] == [False, False, True, False, True]
    clock.advance(31)  # u2 and u4 expire; forgetting them afterwards is harmless
    assert cache.get(f"upn:{users[2]}") is None
    cache.forget(users[2])
    look(users[3], api, cache)
    assert cache.get(f"upn:{users[3]}") is not None and len(cache) == 2


def test_a_bad_configuration_is_refused() -> None:
    with pytest.raises(ValueError, match="ttl_seconds"):
        LookupCache[LookupResult](-1)


def test_forget_all_drops_every_answer_and_keeps_none_fetched_before_it(
    api: CountingApi,
) -> None:
    clock = FakeClock()
    cache = LookupCache[LookupResult](30, clock=clock)
    look(USER, api, cache)
    started = cache.started()
    clock.advance(1)
    cache.forget_all()
    assert len(cache) == 0
    clock.advance(1)
    cache.put(f"upn:{USER}", look(USER, api, LookupCache[LookupResult](0)), started)  # began before
    assert len(cache) == 0
