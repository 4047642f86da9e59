"""The catalogue of bad and tricky BLOB NAMES.

Each entry gives the name (written with escapes, so nothing invisible hides in this file), the
naming mode it is parsed under, and the expected result: the ``UserRef`` (kind and value) or the
``NameRejection`` code. ``bug`` names a product defect the entry currently exposes (see
docs/adversarial.md); its tests fail until the product is fixed, and they are meant to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from photo_core.domain.naming import NamingRules, UserRef, UserRefKind

Mode = Literal["default", "alias", "employee_id"]
RULES: dict[Mode, NamingRules] = {
    "default": NamingRules(),
    "alias": NamingRules(default_domain="contoso.com"),
    "employee_id": NamingRules(employee_id_mode=True),
}

# regression: a stem without "@" was "not a user reference" whatever it held
BUG_BARE_STEM_CHARACTERS = "B4"

UPN, OBJECT_ID, EMPLOYEE_ID = UserRefKind.UPN, UserRefKind.OBJECT_ID, UserRefKind.EMPLOYEE_ID


@dataclass(frozen=True)
class NameCase:
    id: str
    what: str
    name: str
    expected: UserRef | str  # a UserRef, or the rejection code
    mode: Mode = "default"
    bug: str | None = None

    @property
    def rules(self) -> NamingRules:
        return RULES[self.mode]

    @property
    def spec(self) -> str:
        if isinstance(self.expected, UserRef):
            return f"{self.id}_names_{self.expected.kind.value}"
        return f"{self.id}_is_rejected_as_{self.expected}"


def ok(id: str, what: str, name: str, kind: UserRefKind, value: str, mode: Mode = "default",
       bug: str | None = None) -> NameCase:
    return NameCase(id, what, name, UserRef(kind, value), mode, bug)


def no(id: str, what: str, name: str, code: str, mode: Mode = "default",
       bug: str | None = None) -> NameCase:
    return NameCase(id, what, name, code, mode, bug)


C = "@contoso.com.jpg"

NAMES: tuple[NameCase, ...] = (
    # quotes
    ok("apostrophe", "o'brien", "o'brien" + C, UPN, "o'brien@contoso.com"),
    ok("two_quotes_only", "a user name of two quotes", "''" + C, UPN, "''@contoso.com"),
    ok("one_quote_only", "a user name of one quote", "'" + C, UPN, "'@contoso.com"),
    ok("apostrophe_alias", "o'brien as a bare alias", "o'brien.jpg", UPN, "o'brien@contoso.com",
       "alias"),
    no("apostrophe_employee_id", "a quote in an employee id", "12'34.jpg", "invalid_characters",
       "employee_id"),
    # percent signs
    no("percent_2f", "an encoded slash", "jane%2Fdoe" + C, "invalid_characters"),
    no("percent_40_instead_of_at", "an encoded '@' (an export that URL-encoded the name)",
       "jane%40contoso.com.jpg", "invalid_characters", bug=BUG_BARE_STEM_CHARACTERS),
    no("percent_40_alias", "an encoded '@', alias mode", "jane%40contoso.com.jpg",
       "invalid_characters", "alias"),
    no("percent_00", "an encoded NUL", "jane%00" + C, "invalid_characters"),
    ok("percent_in_folder", "encoded dots in a folder prefix (folders are ignored)",
       "%2E%2E/jane" + C, UPN, "jane@contoso.com"),
    # dot segments and backslashes
    no("dotdot_segment", "a '..' folder", "hr/../jane" + C, "path_trick"),
    no("dot_segment", "a '.' folder", "hr/./jane" + C, "path_trick"),
    no("dotdot_first", "a leading '..' folder", "../jane" + C, "path_trick"),
    no("dotdot_only", "the name '..'", "..", "path_trick"),
    no("dotdot_stem_alias", "'..jpg' in alias mode: '.@contoso.com'", "..jpg", "invalid_upn",
       "alias"),
    ok("dots_as_employee_id", "'...jpg' in employee-id mode: the id '..' (only ever sent "
       "inside a quoted $filter literal, never in a path)", "...jpg", EMPLOYEE_ID, "..",
       "employee_id"),
    no("backslash_folder", "a backslash folder separator", "hr\\jane" + C, "path_trick"),
    no("backslash_dotdot", "a Windows-style '..' then a backslash", "..\\jane" + C, "path_trick"),
    # unicode look-alikes
    no("cyrillic_a_local", "Cyrillic \u0430 (U+0430) in the user name", "j\u0430ne" + C,
       "invalid_characters"),
    no("cyrillic_o_domain", "Cyrillic \u043e (U+043E) in the domain",
       "jane@c\u043entoso.com.jpg", "invalid_upn"),
    no("greek_omicron_domain", "Greek \u03bf (U+03BF) in the domain",
       "jane@c\u03bfntoso.com.jpg", "invalid_upn"),
    no("fullwidth_at", "fullwidth \uff20 (U+FF20) instead of '@'",
       "jane.doe\uff20contoso.com.jpg", "invalid_characters", bug=BUG_BARE_STEM_CHARACTERS),
    no("fullwidth_at_alias", "fullwidth \uff20 (U+FF20), alias mode",
       "jane.doe\uff20contoso.com.jpg", "invalid_characters", "alias"),
    no("fullwidth_dot_domain", "fullwidth \uff0e (U+FF0E) in the domain",
       "jane@contoso\uff0ecom.jpg", "invalid_upn"),
    no("fullwidth_dot_extension", "fullwidth \uff0e (U+FF0E) before 'jpg'",
       "jane@contoso.com\uff0ejpg", "wrong_extension"),
    no("fullwidth_letters", "fullwidth letters in the user name",
       "\uff4a\uff41\uff4e\uff45" + C, "invalid_characters"),
    no("kelvin_sign", "KELVIN SIGN U+212A (lower-cases to ASCII k)", "\u212aate" + C,
       "invalid_characters"),
    no("script_g_extension", "LATIN SMALL LETTER SCRIPT G (U+0261) in '.jpg'",
       "jane@contoso.com.jp\u0261", "wrong_extension"),
    # invisible characters
    no("zero_width_joiner", "U+200D inside the user name", "ja\u200dne" + C,
       "invalid_characters"),
    no("zero_width_space_leading", "U+200B before the user name", "\u200bjane" + C,
       "invalid_characters"),
    no("zero_width_space_domain", "U+200B at the end of the domain",
       "jane@contoso.com\u200b.jpg", "invalid_upn"),
    no("bom_leading", "a byte-order mark U+FEFF before the name", "\ufeffjane" + C,
       "invalid_characters"),
    no("rtl_override_fake_extension", "U+202E makes 'moc.osotnoc@enaj\u202egpj.' display as "
       "a .jpg", "moc.osotnoc@enaj\u202egpj.", "wrong_extension"),
    no("rtl_override_in_local", "U+202E inside the user name",
       "jane\u202egpj.moc" + C, "invalid_characters"),
    # control characters
    no("nul", "NUL in the user name", "jane\x00" + C, "invalid_characters"),
    no("nul_after_extension", "NUL after '.jpg'", "jane" + C + "\x00", "invalid_characters"),
    no("line_feed", "LF (log injection)", "jane\n" + C, "invalid_characters"),
    no("carriage_return", "CR before the extension", "jane@contoso.com\r.jpg",
       "invalid_characters"),
    no("tab", "TAB", "jane\t" + C, "invalid_characters"),
    no("del", "DEL U+007F", "ja\x7fne" + C, "invalid_characters"),
    no("c1_next_line", "C1 control NEL U+0085", "ja\x85ne" + C, "invalid_characters"),
    no("c1_csi", "C1 control CSI U+009B (terminal escape)", "\x9b31mjane" + C,
       "invalid_characters"),
    no("control_in_folder", "a control character in a folder prefix", "hr\x01/jane" + C,
       "invalid_characters"),
    # lengths
    no("name_over_1024", "1025 characters", "a" * 1021 + ".jpg", "name_too_long"),
    no("folders_over_1024", "a folder prefix pushing the name over 1024",
       "hr/" * 340 + "jane" + C, "name_too_long"),
    ok("local_part_64", "a user name of exactly 64 characters", "a" * 64 + C, UPN,
       "a" * 64 + "@contoso.com"),
    no("local_part_65", "a user name of 65 characters", "a" * 65 + C, "name_too_long"),
    no("domain_49", "a domain of 49 characters", "jane@" + "d" * 45 + ".com.jpg",
       "name_too_long"),
    ok("upn_113", "a UPN of exactly 113 characters (64 + @ + 48)",
       "a" * 64 + "@" + "b" * 44 + ".com.jpg", UPN, "a" * 64 + "@" + "b" * 44 + ".com"),
    no("upn_114", "a UPN of 114 characters", "a" * 64 + "@" + "b" * 45 + ".com.jpg",
       "name_too_long"),
    no("employee_id_17", "an employee id of 17 characters", "1" * 17 + ".jpg", "name_too_long",
       "employee_id"),
    # extensions
    no("double_extension_jpg_png", "'.jpg.png'", "jane" + C + ".png", "wrong_extension"),
    ok("double_extension_png_jpg", "'.png.jpg': the '.png' is part of the domain",
       "jane@contoso.com.png.jpg", UPN, "jane@contoso.com.png"),
    ok("upper_case_everything", "upper-case UPN and extension", "JANE@CONTOSO.COM.JPG", UPN,
       "JANE@CONTOSO.COM"),
    ok("mixed_case_jpeg", "'.JpEg'", "jane@contoso.com.JpEg", UPN, "jane@contoso.com"),
    no("trailing_dot", "'.jpg.'", "jane" + C + ".", "wrong_extension"),
    no("trailing_space", "'.jpg '", "jane" + C + " ", "wrong_extension"),
    no("space_before_extension", "'contoso.com .jpg'", "jane@contoso.com .jpg", "invalid_upn"),
    no("dot_before_extension", "'contoso.com..jpg': the domain ends in a dot",
       "jane@contoso.com..jpg", "invalid_upn"),
    no("only_extension", "'.jpg'", ".jpg", "empty_name"),
    no("only_extension_in_folder", "'hr/.JPEG'", "hr/.JPEG", "empty_name"),
    no("extension_without_dot", "'jpg'", "jpg", "wrong_extension"),
    no("no_extension", "a UPN without extension", "jane@contoso.com", "wrong_extension"),
    no("folder_only", "'hr/' (a folder marker)", "hr/", "empty_name"),
    # special UPN forms
    ok("dollar_upn", "a '$'-prefixed (synchronised) account", "$svc" + C, UPN,
       "$svc@contoso.com"),
    ok("dollar_only", "a user name that is only '$'", "$" + C, UPN, "$@contoso.com"),
    ok("dollar_and_quote", "'$' first and a quote inside", "$o'b" + C, UPN, "$o'b@contoso.com"),
    ok("guest_ext", "a guest UPN with #EXT#", "x_fabrikam.com#EXT#@contoso.onmicrosoft.com.jpg",
       UPN, "x_fabrikam.com#EXT#@contoso.onmicrosoft.com"),
    ok("folder_prefix", "folders before the name", "hr/2026/11/jane" + C, UPN,
       "jane@contoso.com"),
    ok("leading_slash", "a leading '/'", "/jane" + C, UPN, "jane@contoso.com"),
    ok("object_id_upper", "an upper-case object id", "6F9619FF-8B86-D011-B42D-00C04FC964FF.jpg",
       OBJECT_ID, "6f9619ff-8b86-d011-b42d-00c04fc964ff"),
    ok("object_id_looking_upn", "a GUID as a user name", "6f9619ff-8b86-d011-b42d-00c04fc964ff"
       + C, UPN, "6f9619ff-8b86-d011-b42d-00c04fc964ff@contoso.com"),
    ok("punycode_domain", "an IDN domain in punycode", "jane@xn--cntoso-yxa.com.jpg", UPN,
       "jane@xn--cntoso-yxa.com"),
    # URL metacharacters
    no("question_mark", "'?' in the user name", "jane?x" + C, "invalid_characters"),
    ok("hash_in_local", "'#' in the user name (allowed; must be escaped)", "jane#x" + C, UPN,
       "jane#x@contoso.com"),
    no("hash_in_domain", "'#' in the domain", "jane@contoso.com#x.jpg", "invalid_upn"),
    no("ampersand_equals", "'&' and '=' in the user name", "jane&x=1" + C, "invalid_characters"),
    no("plus_addressing", "plus addressing", "jane+hr" + C, "invalid_characters"),
    # '@' in the wrong places
    no("double_at", "'@@'", "jane@@contoso.com.jpg", "invalid_characters"),
    no("only_at_at", "'@@contoso.com'", "@@contoso.com.jpg", "invalid_characters"),
    no("no_user_name", "'@contoso.com'", "@contoso.com.jpg", "invalid_upn"),
    no("no_domain", "'jane@'", "jane@.jpg", "invalid_upn"),
    no("bare_name", "a bare alias with no mode on", "jane.doe.jpg", "not_a_user_reference"),
)

BY_ID = {case.id: case for case in NAMES}
assert len(BY_ID) == len(NAMES), "catalogue ids must be unique"
