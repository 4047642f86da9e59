"""Every blob name in the catalogue names its user or is rejected with its reason.

Accepted names must also stay inside the user's own path segment in both dialects, and a drop
under any catalogued name must end in sync_drop as that user's upload or that rejection.
"""

from __future__ import annotations

import unicodedata

import pytest

from photo_core.domain.dialects import Dialect
from photo_core.domain.naming import NameRejection, UserRef, UserRefKind, parse_blob_name, user_path
from photo_core.domain.outcomes import Status
from tests.adversarial.name_catalogue import NAMES, NameCase
from tests.adversarial.support import NAME_CODES, assert_one_user_segment, run_sync
from tests.photos import jpeg

ALL = [pytest.param(case, id=case.spec) for case in NAMES]
ACCEPTED = [
    pytest.param(case, dialect, id=f"{case.id}-{dialect.value}")
    for case in NAMES
    if isinstance(case.expected, UserRef) and case.expected.kind is not UserRefKind.EMPLOYEE_ID
    for dialect in Dialect
]
LOOK_ALIKES = [
    pytest.param(case, id=case.id)
    for case in NAMES
    if case.expected in ("invalid_characters", "invalid_upn")
    and any(not c.isascii() and unicodedata.category(c) != "Cc" for c in case.name)
]
EMPLOYEE = "0b5c7e1a-0000-4000-8000-000000000001"


def _bug_note(case: NameCase) -> str:
    return f" (known product bug {case.bug}, see docs/adversarial.md)" if case.bug else ""


def test_the_catalogue_is_big_enough_and_uses_only_documented_codes() -> None:
    assert len(NAMES) >= 30
    codes = {case.expected for case in NAMES if isinstance(case.expected, str)}
    assert codes <= NAME_CODES
    assert codes == NAME_CODES, "every documented rejection code appears in the catalogue"


@pytest.mark.parametrize("case", ALL)
def test_the_name_gets_its_catalogued_result(case: NameCase) -> None:
    result = parse_blob_name(case.name, case.rules)
    if isinstance(case.expected, UserRef):
        assert result == case.expected, f"{result}{_bug_note(case)}"
    else:
        assert isinstance(result, NameRejection), f"accepted as {result!r}{_bug_note(case)}"
        assert result.code == case.expected, f"{result.code}: {result.message}{_bug_note(case)}"
        assert result.message and result.message.isprintable(), result.message


@pytest.mark.parametrize("case", LOOK_ALIKES)
def test_a_rejected_look_alike_is_named_by_its_code_point(case: NameCase) -> None:
    result = parse_blob_name(case.name, case.rules)
    assert isinstance(result, NameRejection)
    first = next(c for c in case.name if not c.isascii() and unicodedata.category(c) != "Cc")
    assert f"U+{ord(first):04X}" in result.message, f"{result.message}{_bug_note(case)}"


@pytest.mark.parametrize(("case", "dialect"), ACCEPTED)
def test_an_accepted_name_stays_in_the_user_path_segment(case: NameCase, dialect: Dialect) -> None:
    result = parse_blob_name(case.name, case.rules)
    assert isinstance(result, UserRef)
    assert_one_user_segment(result, dialect)


@pytest.mark.parametrize(
    ("value", "dialect", "path"),
    [
        ("''@contoso.com", Dialect.GRAPH, "/users/%27%27@contoso.com"),
        ("''@contoso.com", Dialect.OUTLOOK, "/users('%27%27%27%27@contoso.com')"),
        ("'@contoso.com", Dialect.OUTLOOK, "/users('%27%27@contoso.com')"),
        ("$@contoso.com", Dialect.GRAPH, "/users('%24@contoso.com')"),
        ("$o'b@contoso.com", Dialect.GRAPH, "/users('%24o%27%27b@contoso.com')"),
        ("jane#x@contoso.com", Dialect.GRAPH, "/users/jane%23x@contoso.com"),
        (
            "x_fabrikam.com#EXT#@contoso.onmicrosoft.com",
            Dialect.OUTLOOK,
            "/users('x_fabrikam.com%23EXT%23@contoso.onmicrosoft.com')",
        ),
    ],
)
def test_quotes_dollars_and_hashes_are_escaped_exactly(
    value: str, dialect: Dialect, path: str
) -> None:
    assert user_path(UserRef(UserRefKind.UPN, value), dialect) == path


@pytest.mark.parametrize("case", ALL)
def test_sync_ends_the_drop_as_that_users_upload_or_that_rejection(case: NameCase) -> None:
    run = run_sync(case.name, jpeg(), naming=case.rules, employees={"..": EMPLOYEE})
    outcome = run.outcome
    if isinstance(case.expected, str):
        assert (outcome.status, outcome.reason) == (Status.REJECTED, case.expected), (
            f"{outcome.reason}: {outcome.message}{_bug_note(case)}"
        )
        assert run.drop.reads == 0, "a bad name is refused before the blob is read"
        assert run.api.uploads == [] and run.state.rows == {}
        assert run.drop.recorded == outcome
        return
    assert outcome.status is Status.UPLOADED, f"{outcome.reason}: {outcome.message}"
    target = EMPLOYEE if case.expected.kind is UserRefKind.EMPLOYEE_ID else case.expected.value
    assert [user for user, _ in run.api.uploads] == [target]
    assert outcome.user == case.expected.value
