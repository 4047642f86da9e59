"""Blob name → user: accepted forms, specific rejections, and URL safety."""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import unquote, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from photo_core.domain.dialects import Dialect
from photo_core.domain.naming import (
    NameRejection,
    NamingRules,
    UserRef,
    UserRefKind,
    parse_blob_name,
    parse_user_reference,
    user_path,
)

ALIASES = NamingRules(default_domain="contoso.com")
EMPLOYEE_IDS = NamingRules(employee_id_mode=True)
SURROGATES: tuple[Literal["Cs"]] = ("Cs",)  # the Unicode category, typed as hypothesis wants


@pytest.mark.parametrize(
    ("name", "rules", "kind", "value"),
    [
        ("jane.doe@contoso.com.jpg", None, UserRefKind.UPN, "jane.doe@contoso.com"),
        ("Jane.Doe@Contoso.com.JPG", None, UserRefKind.UPN, "Jane.Doe@Contoso.com"),
        ("jane.doe@contoso.com.jpeg", None, UserRefKind.UPN, "jane.doe@contoso.com"),
        ("jane.doe@contoso.com.JpEg", None, UserRefKind.UPN, "jane.doe@contoso.com"),
        ("hr/2026/11/jane.doe@contoso.com.jpg", None, UserRefKind.UPN, "jane.doe@contoso.com"),
        ("o'brien@contoso.com.jpg", None, UserRefKind.UPN, "o'brien@contoso.com"),
        ("a_b-c!d#e^f~g@contoso.com.jpg", None, UserRefKind.UPN, "a_b-c!d#e^f~g@contoso.com"),
        ("$svc@contoso.com.jpg", None, UserRefKind.UPN, "$svc@contoso.com"),
        (
            "guest_fabrikam.com#EXT#@contoso.onmicrosoft.com.jpg",
            None,
            UserRefKind.UPN,
            "guest_fabrikam.com#EXT#@contoso.onmicrosoft.com",
        ),
        (
            "6F9619FF-8B86-D011-B42D-00C04FC964FF.jpg",
            None,
            UserRefKind.OBJECT_ID,
            "6f9619ff-8b86-d011-b42d-00c04fc964ff",
        ),
        ("jane.doe.jpg", ALIASES, UserRefKind.UPN, "jane.doe@contoso.com"),
        ("123456.jpg", EMPLOYEE_IDS, UserRefKind.EMPLOYEE_ID, "123456"),
        ("E-1234_x.jpg", EMPLOYEE_IDS, UserRefKind.EMPLOYEE_ID, "E-1234_x"),
        ("jane@contoso.com.jpg", EMPLOYEE_IDS, UserRefKind.UPN, "jane@contoso.com"),
    ],
)
def test_accepted_blob_names_name_one_user(
    name: str, rules: NamingRules | None, kind: UserRefKind, value: str
) -> None:
    assert parse_blob_name(name, rules) == UserRef(kind, value)


@pytest.mark.parametrize(
    ("name", "rules", "code"),
    [
        ("jane.doe@contoso.com.png", None, "wrong_extension"),
        ("jane.doe@contoso.com", None, "wrong_extension"),
        ("jane.doe@contoso.com.jpg.png", None, "wrong_extension"),
        ("jane.doe@contoso.com.jpgx", None, "wrong_extension"),
        (".jpg", None, "empty_name"),
        ("hr/.JPEG", None, "empty_name"),
        ("hr/", None, "empty_name"),
        ("a" * 1025, None, "name_too_long"),
        ("a" * 65 + "@contoso.com.jpg", None, "name_too_long"),
        ("jane@" + "d" * 45 + ".com.jpg", None, "name_too_long"),
        ("jane doe@contoso.com.jpg", None, "invalid_characters"),
        ("jane%40contoso.com@contoso.com.jpg", None, "invalid_characters"),
        ("jane\x00@contoso.com.jpg", None, "invalid_characters"),
        ("jane\n@contoso.com.jpg", None, "invalid_characters"),
        ("j\u0430ne@contoso.com.jpg", None, "invalid_characters"),  # Cyrillic a
        ("jane+hr@contoso.com.jpg", None, "invalid_characters"),
        ("hr/../x@contoso.com.jpg", None, "path_trick"),
        ("hr/..@contoso.com.jpg", None, "invalid_upn"),
        ("../jane@contoso.com.jpg", None, "path_trick"),
        ("hr/./jane@contoso.com.jpg", None, "path_trick"),
        ("hr\\jane@contoso.com.jpg", None, "path_trick"),
        ("@contoso.com.jpg", None, "invalid_upn"),
        ("jane@.jpg", None, "invalid_upn"),
        ("jane@localhost.jpg", None, "invalid_upn"),
        ("jane@con_toso.com.jpg", None, "invalid_upn"),
        (".jane@contoso.com.jpg", None, "invalid_upn"),
        ("ja..ne@contoso.com.jpg", None, "invalid_upn"),
        ("jane.doe.jpg", None, "not_a_user_reference"),
        ("12345678901234567.jpg", EMPLOYEE_IDS, "name_too_long"),
        ("12'34.jpg", EMPLOYEE_IDS, "invalid_characters"),
    ],
)
def test_unusable_blob_names_are_rejected_with_a_specific_reason(
    name: str, rules: NamingRules | None, code: str
) -> None:
    result = parse_blob_name(name, rules)
    assert isinstance(result, NameRejection)
    assert result.code == code
    assert result.message


def test_a_rejection_message_names_the_offending_character() -> None:
    result = parse_blob_name("j\u0430ne@contoso.com.jpg")
    assert isinstance(result, NameRejection)
    assert "U+0430" in result.message


def test_user_key_is_case_insensitive() -> None:
    a = parse_user_reference("Jane.Doe@Contoso.com")
    b = parse_user_reference("jane.doe@contoso.com")
    assert isinstance(a, UserRef) and isinstance(b, UserRef)
    assert a.key == b.key


@pytest.mark.parametrize(
    ("value", "dialect", "path"),
    [
        ("jane.doe@contoso.com", Dialect.GRAPH, "/users/jane.doe@contoso.com"),
        ("o'brien@contoso.com", Dialect.GRAPH, "/users/o%27brien@contoso.com"),
        ("g#EXT#@contoso.com", Dialect.GRAPH, "/users/g%23EXT%23@contoso.com"),
        ("$svc@contoso.com", Dialect.GRAPH, "/users('%24svc@contoso.com')"),
        ("$o'b@contoso.com", Dialect.GRAPH, "/users('%24o%27%27b@contoso.com')"),
        ("jane.doe@contoso.com", Dialect.OUTLOOK, "/users('jane.doe@contoso.com')"),
        ("o'brien@contoso.com", Dialect.OUTLOOK, "/users('o%27%27brien@contoso.com')"),
    ],
)
def test_user_path_escapes_for_each_dialect(value: str, dialect: Dialect, path: str) -> None:
    assert user_path(UserRef(UserRefKind.UPN, value), dialect) == path


def test_employee_ids_cannot_be_addressed_before_resolution() -> None:
    with pytest.raises(ValueError, match="resolve"):
        user_path(UserRef(UserRefKind.EMPLOYEE_ID, "123"), Dialect.GRAPH)


BASE = "https://graph.example.test/v1.0"


def _assert_one_user_segment(ref: UserRef, dialect: Dialect) -> None:
    url = BASE + user_path(ref, dialect) + "/photo/$value"
    parts = urlsplit(url)
    assert parts.netloc == "graph.example.test"
    assert parts.query == "" and parts.fragment == ""
    segments = parts.path.split("/")
    assert segments[:2] == ["", "v1.0"]
    if segments[2] == "users":  # path form: /users/<segment>/photo/$value
        assert segments[4:] == ["photo", "$value"], url
        assert unquote(segments[3]) == ref.value
    else:  # key form: /users('<literal>')/photo/$value
        assert segments[3:] == ["photo", "$value"], url
        assert segments[2].startswith("users('") and segments[2].endswith("')")
        literal = unquote(segments[2][len("users('") : -len("')")])
        assert re.fullmatch(r"(?:[^']|'')*", literal), "a lone quote would end the key"
        assert literal.replace("''", "'") == ref.value
    assert "/" not in ref.value


@settings(max_examples=400, deadline=None)
@given(
    name=st.text(
        alphabet=st.characters(codec="utf-8", exclude_categories=SURROGATES), max_size=140
    ),
    dialect=st.sampled_from(Dialect),
    rules=st.sampled_from([None, ALIASES, EMPLOYEE_IDS]),
)
def test_no_blob_name_can_leave_the_user_segment(
    name: str, dialect: Dialect, rules: NamingRules | None
) -> None:
    for candidate in (name, name + ".jpg", name + "@contoso.com.jpg"):
        result = parse_blob_name(candidate, rules)
        if isinstance(result, UserRef) and result.kind is not UserRefKind.EMPLOYEE_ID:
            _assert_one_user_segment(result, dialect)


@settings(max_examples=300, deadline=None)
@given(
    local=st.text(alphabet="abcXYZ019'._!#^~$-/?%&=+@ \\", min_size=1, max_size=30),
    dialect=st.sampled_from(Dialect),
)
def test_upn_like_names_with_url_metacharacters_stay_in_one_segment(
    local: str, dialect: Dialect
) -> None:
    result = parse_blob_name(f"{local}@contoso.com.jpg")
    if isinstance(result, UserRef):
        assert not set(result.value) & set("/?%&=+ \\")
        _assert_one_user_segment(result, dialect)


def test_a_wrong_extension_is_quoted_printably_in_its_message() -> None:
    """An unassigned or control character in the extension shows as an escape, never raw."""
    result = parse_blob_name(".\U000116ca", NamingRules())
    assert isinstance(result, NameRejection) and result.code == "wrong_extension"
    assert result.message.isprintable(), result.message
