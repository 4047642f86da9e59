"""Blob name to user reference: pure, strict, and safe to put in a URL.

A blob name is untrusted input typed by people and exported by HR systems. This module decides
which user a name refers to, or rejects it with a specific reason, and builds the one URL path
segment that addresses that user in each API dialect. Nothing a blob name contains can change the
request path outside that segment: every character outside a small safe set is percent-encoded,
and the characters that would matter to OData (the quote) are escaped as OData requires.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from urllib.parse import quote

from photo_core.domain.dialects import Dialect
from photo_core.domain.inert_text import printable

PHOTO_EXTENSIONS = (".jpg", ".jpeg")
MAX_BLOB_NAME_LENGTH = 1024  # Azure's own limit for a blob name
MAX_LOCAL_PART_LENGTH = 64  # Entra ID: user name part of a UPN
MAX_DOMAIN_LENGTH = 48  # Entra ID: domain part of a UPN
MAX_UPN_LENGTH = 113  # 64 + "@" + 48
MAX_EMPLOYEE_ID_LENGTH = 16  # Entra ID employeeId
MAX_HR_ID_LENGTH = 64

# Entra ID allows these in the user name part of a UPN: letters, digits and ' . - _ ! # ^ ~.
# `$` also occurs (synchronised accounts) and forces the OData key form in Graph paths.
_LOCAL_PART = re.compile(r"[A-Za-z0-9'._!#^~$-]+")
_DOMAIN_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_GUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
_EMPLOYEE_ID = re.compile(r"[A-Za-z0-9._-]+")


class UserRefKind(enum.Enum):
    """How a reference names a user; employee ids must be resolved before a photo call."""

    UPN = "upn"
    OBJECT_ID = "object_id"
    EMPLOYEE_ID = "employee_id"
    HR_ID = "hr_id"  # an id of HR's own, resolved through the mapping file


@dataclass(frozen=True)
class UserRef:
    """A validated reference to one directory user."""

    kind: UserRefKind
    value: str

    @property
    def key(self) -> str:
        """Case-insensitive identity of the reference, for state and de-duplication."""
        return f"{self.kind.value}:{self.value.lower()}"

    def __str__(self) -> str:
        return self.value

    @property
    def stored(self) -> str:
        """``kind:value`` with the value's case kept, for the state row (see :meth:`parse`)."""
        return f"{self.kind.value}:{self.value}"

    @classmethod
    def parse(cls, stored: str) -> UserRef | None:
        """A reference written by :attr:`stored`; ``None`` for anything else."""
        kind, sep, value = stored.partition(":")
        if not sep or not value:
            return None
        try:
            return cls(UserRefKind(kind), value)
        except ValueError:
            return None


@dataclass(frozen=True)
class NameRejection:
    """Why a blob name names no user. ``code`` is stable; ``message`` is for people."""

    code: str
    message: str


@dataclass(frozen=True)
class NamingRules:
    """Which stem forms are accepted beyond UPNs and object ids.

    ``default_domain`` turns a bare alias (``jane.doe``) into ``jane.doe@<domain>``.
    ``employee_id_mode`` makes a bare stem an employee id instead; ``mapping_mode`` makes it an HR
    id looked up in the mapping file. The three are exclusive, because ``123456`` could be any of
    them and guessing could put a photo on the wrong person.
    """

    default_domain: str | None = None
    employee_id_mode: bool = False
    mapping_mode: bool = False


def parse_blob_name(name: str, rules: NamingRules | None = None) -> UserRef | NameRejection:
    """Derive the user a dropped photo is for, or say precisely why the name is not usable."""
    rules = rules or NamingRules()
    if len(name) > MAX_BLOB_NAME_LENGTH:
        return NameRejection("name_too_long", f"blob name is {len(name)} characters long")
    bad = _first_control_character(name)
    if bad is not None:
        return NameRejection(
            "invalid_characters", f"blob name contains the control character {bad!r}"
        )
    if "\\" in name:
        return NameRejection("path_trick", "blob name contains a backslash")
    segments = name.split("/")
    if any(s in (".", "..") for s in segments):
        return NameRejection("path_trick", "blob name contains a '.' or '..' path segment")
    file_name = segments[-1]
    if not file_name:
        return NameRejection("empty_name", "blob name ends with '/' and names no file")
    stem, extension = _split_extension(file_name)
    if extension is None:
        shown = printable(file_name.rsplit(".", 1)[-1]) if "." in file_name else ""
        what = f"ends in .{shown}" if shown else "has no file extension"
        return NameRejection(
            "wrong_extension", f"{file_name!r} {what}; photo-sync takes .jpg or .jpeg files"
        )
    if not stem:
        return NameRejection("empty_name", f"{file_name!r} has nothing before the extension")
    return parse_user_reference(stem, rules)


def parse_user_reference(text: str, rules: NamingRules | None = None) -> UserRef | NameRejection:
    """Validate a user reference without a file extension (a blob stem or a lookup argument)."""
    rules = rules or NamingRules()
    if not text:
        return NameRejection("empty_name", "the user reference is empty")
    bad = _first_control_character(text)
    if bad is not None:
        return NameRejection("invalid_characters", f"contains the control character {bad!r}")
    if _GUID.fullmatch(text):
        return UserRef(UserRefKind.OBJECT_ID, text.lower())
    if "@" in text:
        return _parse_upn(text)
    invalid = _first_outside(text, _LOCAL_PART)
    bare_ids = rules.employee_id_mode or rules.mapping_mode
    if invalid is not None and not bare_ids:
        # Say what is wrong with the name itself before suggesting a naming mode: a look-alike
        # "@" or an encoded "%40" would be rejected in every mode.
        return NameRejection(
            "invalid_characters",
            f"{text!r} contains {_describe(invalid)}, which cannot be in a user principal name",
        )
    if rules.employee_id_mode:
        return _parse_employee_id(text)
    if rules.mapping_mode:
        return _parse_employee_id(text, UserRefKind.HR_ID, MAX_HR_ID_LENGTH)
    if rules.default_domain:
        return _parse_upn(f"{text}@{rules.default_domain}")
    return NameRejection(
        "not_a_user_reference",
        f"{text!r} is not a UPN (name@domain) or an object id; set PHOTO_DEFAULT_DOMAIN to "
        "accept bare aliases or PHOTO_EMPLOYEE_ID_MODE to accept employee ids",
    )


def _parse_upn(upn: str) -> UserRef | NameRejection:
    if len(upn) > MAX_UPN_LENGTH:
        return NameRejection("name_too_long", f"UPN is {len(upn)} characters (limit 113)")
    local, _, domain = upn.rpartition("@")
    if not local or not domain:
        return NameRejection("invalid_upn", f"{upn!r} needs a user name and a domain around '@'")
    if len(local) > MAX_LOCAL_PART_LENGTH:
        return NameRejection("name_too_long", f"user name part of {upn!r} is over 64 characters")
    if len(domain) > MAX_DOMAIN_LENGTH:
        return NameRejection("name_too_long", f"domain part of {upn!r} is over 48 characters")
    invalid = _first_outside(local, _LOCAL_PART)
    if invalid is not None:
        return NameRejection(
            "invalid_characters",
            f"{upn!r} contains {_describe(invalid)}, which cannot be in a user principal name",
        )
    if local.startswith(".") or local.endswith(".") or ".." in local:
        return NameRejection("invalid_upn", f"{upn!r} has a misplaced '.' in its user name")
    labels = domain.split(".")
    if len(labels) < 2 or not all(_DOMAIN_LABEL.fullmatch(label) for label in labels):
        invalid = _first_outside(domain, re.compile(r"[A-Za-z0-9.-]+"))
        detail = f"contains {_describe(invalid)}" if invalid else "is not a domain name"
        return NameRejection("invalid_upn", f"domain {domain!r} {detail}")
    return UserRef(UserRefKind.UPN, upn)


def _parse_employee_id(text: str, kind: UserRefKind = UserRefKind.EMPLOYEE_ID,
                       limit: int = MAX_EMPLOYEE_ID_LENGTH) -> UserRef | NameRejection:
    what = "employee id" if kind is UserRefKind.EMPLOYEE_ID else "HR id"
    if len(text) > limit:
        return NameRejection("name_too_long", f"{what} {text!r} is over {limit} characters")
    invalid = _first_outside(text, _EMPLOYEE_ID)
    if invalid is not None:
        return NameRejection("invalid_characters", f"{what} {text!r} contains {_describe(invalid)}")
    return UserRef(kind, text)


def user_path(ref: UserRef, dialect: Dialect) -> str:
    """The path from the API base to the user entity: ``/users/<one segment>`` or
    ``/users('<key>')``, fully escaped. Employee ids must be resolved to a user first."""
    if ref.kind in (UserRefKind.EMPLOYEE_ID, UserRefKind.HR_ID):
        raise ValueError("resolve an employee or HR id to a user before addressing its photo")
    if dialect is Dialect.OUTLOOK or ref.value.startswith("$"):
        # OData key form: a quote inside the literal is doubled, then the literal is encoded.
        literal = ref.value.replace("'", "''")
        return f"/users('{quote(literal, safe='@')}')"
    return f"/users/{quote(ref.value, safe='@')}"


def odata_string_literal(value: str) -> str:
    """An OData string literal for a ``$filter`` (quotes doubled, not yet URL-encoded)."""
    return "'" + value.replace("'", "''") + "'"


def _split_extension(file_name: str) -> tuple[str, str | None]:
    lowered = file_name.lower()
    for ext in PHOTO_EXTENSIONS:
        if lowered.endswith(ext):
            return file_name[: -len(ext)], ext
    return file_name, None


def _first_control_character(text: str) -> str | None:
    return next((c for c in text if ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0), None)


def _first_outside(text: str, allowed: re.Pattern[str]) -> str | None:
    return next((c for c in text if not allowed.fullmatch(c)), None)


def _describe(char: str) -> str:
    if char.isascii():
        return f"the character {char!r}"
    return f"the non-ASCII character {char!r} (U+{ord(char):04X})"
