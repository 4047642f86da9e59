"""The directory model (tenant, users, app registrations) and its JSON file format.

The directory is what makes the emulator answer like a tenant: who exists, who has a mailbox,
which apps may authenticate with which credentials, and which app roles their tokens carry. It
is loaded from a JSON file (format in ``docs/emulator.md``) or built in (``demo.py``). Loading
fails with a message naming the entry and field at fault, because a typo in a test fixture
should cost seconds, not an afternoon.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import uuid
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from cryptography import x509

from devstack.emulator import images
from devstack.emulator.certs import load_pem_certificates, thumbprint_sha1
from devstack.emulator.web import utc_now_iso

# --- the model ------------------------------------------------------------------------------


@dataclass
class Photo:
    data: bytes
    content_type: str
    width: int
    height: int
    etag: str  # 8 upper-case hex digits, unquoted
    updated_at: str
    upload_count: int = 0

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def summary(self) -> dict[str, Any]:
        return {
            "sha256": self.sha256, "size": len(self.data), "contentType": self.content_type,
            "width": self.width, "height": self.height, "etag": self.etag,
            "updatedAt": self.updated_at, "uploadCount": self.upload_count,
        }


# Where a user's mailbox is, which decides where Graph keeps (or refuses) their photo:
#  exchangeOnline  the photo lives in the mailbox, with its HD sizes (48x48 ... 648x648);
#  onPremises      404 MailboxNotHostedInExchangeOnline: the photo is set on premises;
#  none            no mailbox: 404 ErrorNonExistentMailbox (Graph's known issues, "Photo
#                  restrictions"), unless photoInEntraId, when Graph keeps the photo in
#                  Microsoft Entra ID instead (the profilePhoto resource page: "accessed from
#                  Exchange Online or Microsoft Entra ID ... In Microsoft Entra ID, photos can
#                  be any dimension"): it is stored as uploaded, with no HD sizes.
MAILBOX_KINDS: Final = ("exchangeOnline", "onPremises", "none")
# The tenant's photoUpdateSettings source (Graph beta, /admin/people/photoUpdateSettings):
# "onPremises" disables cloud updates "for both admins and users".
PHOTO_UPDATE_SOURCES: Final = ("cloud", "onPremises")


@dataclass
class User:
    id: str
    user_principal_name: str
    mail: str | None
    display_name: str
    employee_id: str | None
    mailbox: str = "exchangeOnline"  # one of MAILBOX_KINDS
    photo_in_entra_id: bool = False  # with mailbox "none": Graph keeps the photo in Entra ID
    photo: Photo | None = None

    @property
    def has_mailbox(self) -> bool:
        return self.mailbox == "exchangeOnline"

    def mailbox_fields(self) -> dict[str, Any]:
        """The mailbox fields of the file format (and of the admin API's user summaries)."""
        return {"mailbox": self.mailbox, "photoInEntraId": self.photo_in_entra_id,
                "hasMailbox": self.has_mailbox}

    def graph_fields(self) -> dict[str, Any]:
        return {
            "id": self.id, "userPrincipalName": self.user_principal_name, "mail": self.mail,
            "displayName": self.display_name, "employeeId": self.employee_id,
        }


@dataclass(frozen=True)
class Application:
    client_id: str
    object_id: str
    display_name: str
    secrets: tuple[str, ...]
    certificates: tuple[x509.Certificate, ...]
    managed_identity: bool
    roles: tuple[str, ...]


@dataclass
class Directory:
    tenant: str
    users: list[User] = field(default_factory=list)
    applications: list[Application] = field(default_factory=list)
    photo_update_source: str = "cloud"  # one of PHOTO_UPDATE_SOURCES

    def find_user(self, key: str, *, allow_mail: bool = False) -> User | None:
        """By object id or UPN (case-insensitive); Outlook also takes the mail address and the
        ``{id}@{tenant}`` form it prints in ``@odata.id``."""
        wanted = key.casefold()
        tenant_suffix = "@" + self.tenant
        if allow_mail and wanted.endswith(tenant_suffix):
            wanted = wanted[: -len(tenant_suffix)]
        for user in self.users:
            if wanted in (user.id, user.user_principal_name.casefold()):
                return user
            if allow_mail and user.mail is not None and wanted == user.mail.casefold():
                return user
        return None

    def app(self, client_id: str) -> Application | None:
        wanted = client_id.lower()
        return next((a for a in self.applications if a.client_id == wanted), None)

    def managed_identities(self) -> list[Application]:
        return [a for a in self.applications if a.managed_identity]


class DirectoryError(ValueError):
    """The directory document is malformed; the message names the entry and field."""


# --- loading -----------------------------------------------------------------------------------

_USER_FIELDS: Final = {"id", "userPrincipalName", "mail", "displayName", "employeeId",
                       "mailbox", "photoInEntraId", "hasMailbox", "photo"}
_APP_FIELDS: Final = {"clientId", "objectId", "displayName", "secrets", "certificates",
                      "managedIdentity", "roles"}


def load_directory_file(path: Path, demo_cert: x509.Certificate) -> Directory:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DirectoryError(f"{path}: cannot read the directory file ({exc.strerror})") from exc
    except json.JSONDecodeError as exc:
        raise DirectoryError(f"{path}: not valid JSON ({exc})") from exc
    return parse_directory(doc, demo_cert=demo_cert, base_dir=path.parent, source=str(path))


def parse_directory(
    doc: Any, *, demo_cert: x509.Certificate, base_dir: Path | None, source: str = "directory"
) -> Directory:
    """Validate and build a ``Directory``. ``base_dir`` resolves relative photo files (None:
    relative paths are refused, e.g. for documents posted to the admin API)."""
    p = _Parser(source, demo_cert, base_dir)
    obj = p.mapping(doc, "", {"tenant", "users", "applications", "photoUpdateSettings"})
    directory = Directory(tenant=p.guid(obj.get("tenant"), "tenant"),
                          photo_update_source=p.photo_update_source(
                              obj.get("photoUpdateSettings")))
    for i, raw in enumerate(p.items(obj.get("users", []), "users")):
        user = p.user(raw, f"users[{i}]")
        if directory.find_user(user.id) or directory.find_user(user.user_principal_name):
            raise p.error(f"users[{i}]", "duplicates the id or userPrincipalName of another user")
        directory.users.append(user)
    for i, raw in enumerate(p.items(obj.get("applications", []), "applications")):
        app = p.application(raw, f"applications[{i}]", directory.tenant)
        if directory.app(app.client_id):
            raise p.error(f"applications[{i}].clientId", "duplicates another application")
        directory.applications.append(app)
    return directory


class _Parser:
    def __init__(self, source: str, demo_cert: x509.Certificate, base_dir: Path | None) -> None:
        self.source, self.demo_cert, self.base_dir = source, demo_cert, base_dir

    def error(self, where: str, problem: str) -> DirectoryError:
        return DirectoryError(f"{self.source}: {where or 'top level'}: {problem}")

    def mapping(self, value: Any, where: str, known: set[str]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.error(where, "must be a JSON object")
        unknown = sorted(set(value) - known)
        if unknown:
            raise self.error(where, f"unknown field(s) {unknown}; known: {sorted(known)}")
        return value

    def items(self, value: Any, where: str) -> list[Any]:
        if not isinstance(value, list):
            raise self.error(where, "must be a JSON array")
        return value

    def guid(self, value: Any, where: str) -> str:
        if isinstance(value, str):
            try:
                return str(uuid.UUID(value))
            except ValueError:
                pass
        raise self.error(where, f"must be a GUID string, got {value!r}")

    def text(self, value: Any, where: str, *, optional: bool = False) -> str | None:
        if value is None and optional:
            return None
        if not isinstance(value, str) or not value.strip():
            kind = "a non-empty string or null" if optional else "a non-empty string"
            raise self.error(where, f"must be {kind}, got {value!r}")
        return value

    def flag(self, value: Any, where: str) -> bool:
        if not isinstance(value, bool):
            raise self.error(where, f"must be true or false, got {value!r}")
        return value

    def choice(self, value: Any, where: str, allowed: tuple[str, ...]) -> str:
        if value not in allowed:
            raise self.error(where, f"must be one of {list(allowed)}, got {value!r}")
        return str(value)

    def photo_update_source(self, raw: Any) -> str:
        if raw is None:
            return "cloud"
        obj = self.mapping(raw, "photoUpdateSettings", {"source"})
        return self.choice(obj.get("source", "cloud"), "photoUpdateSettings.source",
                           PHOTO_UPDATE_SOURCES)

    def mailbox(self, obj: dict[str, Any], where: str) -> tuple[str, bool]:
        """``mailbox`` and ``photoInEntraId``; ``hasMailbox`` (the older field) still reads:
        true is an Exchange Online mailbox, false one on premises, as it always answered."""
        if "hasMailbox" in obj and "mailbox" in obj:
            raise self.error(where, "give mailbox or hasMailbox (the older field), not both")
        if "hasMailbox" in obj:
            legacy = self.flag(obj["hasMailbox"], f"{where}.hasMailbox")
            kind = "exchangeOnline" if legacy else "onPremises"
        else:
            kind = self.choice(obj.get("mailbox", "exchangeOnline"), f"{where}.mailbox",
                               MAILBOX_KINDS)
        in_entra = self.flag(obj.get("photoInEntraId", False), f"{where}.photoInEntraId")
        if in_entra and kind != "none":
            raise self.error(f"{where}.photoInEntraId",
                             'only a user whose mailbox is "none" has a photo in Entra ID')
        return kind, in_entra

    def strings(self, value: Any, where: str) -> tuple[str, ...]:
        items = self.items(value, where)
        return tuple(str(self.text(v, f"{where}[{i}]")) for i, v in enumerate(items))

    def user(self, raw: Any, where: str) -> User:
        obj = self.mapping(raw, where, _USER_FIELDS)
        upn = str(self.text(obj.get("userPrincipalName"), f"{where}.userPrincipalName"))
        if "@" not in upn or "/" in upn:
            raise self.error(f"{where}.userPrincipalName", f"must look like name@domain: {upn!r}")
        mailbox, in_entra = self.mailbox(obj, where)
        return User(
            id=self.guid(obj.get("id"), f"{where}.id"),
            user_principal_name=upn,
            mail=self.text(obj.get("mail"), f"{where}.mail", optional=True),
            display_name=str(self.text(obj.get("displayName", upn.split("@")[0]),
                                       f"{where}.displayName")),
            employee_id=self.text(obj.get("employeeId"), f"{where}.employeeId", optional=True),
            mailbox=mailbox,
            photo_in_entra_id=in_entra,
            photo=self.photo(obj.get("photo"), f"{where}.photo"),
        )

    def photo(self, raw: Any, where: str) -> Photo | None:
        if raw is None:
            return None
        obj = self.mapping(raw, where, {"width", "height", "color", "file", "base64"})
        if "file" in obj:
            name = str(self.text(obj["file"], f"{where}.file"))
            path = Path(name)
            if not path.is_absolute():
                if self.base_dir is None:
                    raise self.error(f"{where}.file", "must be an absolute path here")
                path = self.base_dir / path
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise self.error(f"{where}.file", f"cannot read {path} ({exc.strerror})") from exc
        elif "base64" in obj:
            try:
                data = base64.b64decode(str(obj["base64"]), validate=True)
            except (binascii.Error, ValueError) as exc:
                raise self.error(f"{where}.base64", "is not valid base64") from exc
        else:
            width, height = obj.get("width", 96), obj.get("height", 96)
            if not (isinstance(width, int) and isinstance(height, int)
                    and 1 <= width <= 4096 and 1 <= height <= 4096):
                raise self.error(where, "width and height must be integers in 1..4096")
            color = str(self.text(obj.get("color", "#2f6fb0"), f"{where}.color"))
            try:
                data = images.demo_jpeg(width, height, color)
            except ValueError as exc:
                raise self.error(f"{where}.color", f"is not a colour Pillow knows: {color!r}") \
                    from exc
        try:
            info = images.inspect(data)
        except images.ImageInvalid as exc:
            raise self.error(where, str(exc)) from exc
        return Photo(data, info.content_type, info.width, info.height,
                     etag=f"{zlib.crc32(data):08X}", updated_at=utc_now_iso())

    def application(self, raw: Any, where: str, tenant: str) -> Application:
        obj = self.mapping(raw, where, _APP_FIELDS)
        client_id = self.guid(obj.get("clientId"), f"{where}.clientId")
        object_id = (
            self.guid(obj["objectId"], f"{where}.objectId") if obj.get("objectId") is not None
            else str(uuid.uuid5(uuid.NAMESPACE_URL, f"urn:emulator:sp:{tenant}:{client_id}"))
        )
        certs: list[x509.Certificate] = []
        for i, entry in enumerate(self.items(obj.get("certificates", []), f"{where}.certificates")):
            text = str(self.text(entry, f"{where}.certificates[{i}]"))
            if text == "demo":
                certs.append(self.demo_cert)
                continue
            try:
                found = load_pem_certificates(text)
            except ValueError as exc:
                raise self.error(f"{where}.certificates[{i}]",
                                 'must be "demo" or a PEM certificate') from exc
            certs.extend(found)
        managed = self.flag(obj.get("managedIdentity", False), f"{where}.managedIdentity")
        secrets = self.strings(obj.get("secrets", []), f"{where}.secrets")
        if managed and (secrets or certs):
            raise self.error(where, "a managed identity has no secrets or certificates")
        return Application(
            client_id=client_id,
            object_id=object_id,
            display_name=str(self.text(obj.get("displayName", client_id), f"{where}.displayName")),
            secrets=secrets,
            certificates=tuple(certs),
            managed_identity=managed,
            roles=self.strings(obj.get("roles", []), f"{where}.roles"),
        )


# --- export ------------------------------------------------------------------------------------


def export_directory(directory: Directory, demo_cert: x509.Certificate) -> dict[str, Any]:
    """The directory in file format (photos inline as base64), so it can be posted back."""
    from cryptography.hazmat.primitives import serialization

    def cert_entry(cert: x509.Certificate) -> str:
        if cert == demo_cert:
            return "demo"
        return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")

    return {
        "tenant": directory.tenant,
        "photoUpdateSettings": {"source": directory.photo_update_source},
        "users": [
            {**u.graph_fields(), "mailbox": u.mailbox, "photoInEntraId": u.photo_in_entra_id,
             "photo": None if u.photo is None
             else {"base64": base64.b64encode(u.photo.data).decode("ascii")}}
            for u in directory.users
        ],
        "applications": [
            {"clientId": a.client_id, "objectId": a.object_id, "displayName": a.display_name,
             "secrets": list(a.secrets), "certificates": [cert_entry(c) for c in a.certificates],
             "managedIdentity": a.managed_identity, "roles": list(a.roles)}
            for a in directory.applications
        ],
    }


def app_summary(app: Application) -> dict[str, Any]:
    """Admin view of an app: no secrets, certificate thumbprints only."""
    return {
        "clientId": app.client_id, "objectId": app.object_id, "displayName": app.display_name,
        "managedIdentity": app.managed_identity, "roles": list(app.roles),
        "secretCount": len(app.secrets),
        "certificateThumbprints": [thumbprint_sha1(c) for c in app.certificates],
    }
