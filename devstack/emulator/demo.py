"""The built-in demo tenant, served when no ``--directory`` is given.

Fixed GUIDs, UPNs and demo secrets so that docs, tests and the other devstack parts can name
them (the table in ``docs/emulator.md`` lists them). Each user exists to exercise one case:
a photo, no photo, an apostrophe in the UPN, a mailbox on premises, no mailbox (Graph refuses
their photo), no mailbox with the photo kept in Entra ID, a shared employeeId, a non-square
photo. The secrets are published demo values for a local stand-in, never real credentials.
"""

from __future__ import annotations

from typing import Any, Final

DEMO_TENANT: Final = "d0d0cafe-0000-4000-8000-000000000000"
DEMO_DOMAIN: Final = "contoso.com"
DEMO_APP_ID: Final = "d0d0cafe-00a0-4000-8000-000000000001"
DEMO_APP_SECRET: Final = "demo~secret~photo-sync-app"  # noqa: S105 - published demo value
DEMO_FULL_APP_ID: Final = "d0d0cafe-00a0-4000-8000-000000000002"
DEMO_FULL_APP_SECRET: Final = "demo~secret~photo-sync-full"  # noqa: S105
DEMO_MI_CLIENT_ID: Final = "d0d0cafe-00a0-4000-8000-000000000003"
DEMO_NOROLES_APP_ID: Final = "d0d0cafe-00a0-4000-8000-000000000004"
DEMO_NOROLES_APP_SECRET: Final = "demo~secret~no-roles"  # noqa: S105
DEMO_READONLY_APP_ID: Final = "d0d0cafe-00a0-4000-8000-000000000005"
DEMO_READONLY_APP_SECRET: Final = "demo~secret~read-only"  # noqa: S105


def _uid(n: int) -> str:
    return f"d0d0cafe-0001-4000-8000-{n:012d}"


def _spid(n: int) -> str:
    return f"d0d0cafe-0050-4000-8000-{n:012d}"


EXO, ON_PREMISES, NONE = "exchangeOnline", "onPremises", "none"
ENTRA = "none+entra"  # no mailbox; Graph keeps the photo in Entra ID

# (id, upn, mail, displayName, employeeId, mailbox, photo)
_DEMO_USERS: Final[list[tuple[str, str, str | None, str, str | None, str, Any]]] = [
    (_uid(1), "adele.vance@contoso.com", "adele.vance@contoso.com", "Adele Vance", "100001",
     EXO, {"width": 96, "height": 96, "color": "#2f6fb0"}),
    (_uid(2), "alex.wilber@contoso.com", "alex.wilber@contoso.com", "Alex Wilber", "100002",
     EXO, None),
    (_uid(3), "o'brien@contoso.com", "o'brien@contoso.com", "Conor O'Brien", "100003",
     EXO, None),
    (_uid(4), "nestor.wilke@contoso.com", "nestor.wilke@contoso.com",
     "Nestor Wilke (mailbox on premises)", "100004", ON_PREMISES, None),
    (_uid(5), "lee.gu@contoso.com", "lee.gu@contoso.com", "Lee Gu", "200200", EXO, None),
    (_uid(6), "lidia.holloway@contoso.com", "lidia.holloway@contoso.com", "Lidia Holloway",
     "200200", EXO, None),
    (_uid(7), "megan.bowen@contoso.com", "megan.bowen@contoso.com", "Megan Bowen", None,
     EXO, {"width": 720, "height": 540, "color": "#7a3b8f"}),
    (_uid(8), "diego.siciliani@contoso.com", None, "Diego Siciliani (no mailbox)", "100008",
     NONE, None),
    (_uid(9), "isaiah.langer@contoso.com", None,
     "Isaiah Langer (no mailbox, photo in Entra ID)", "100009", ENTRA, None),
]


def _mailbox(kind: str) -> dict[str, Any]:
    if kind == ENTRA:
        return {"mailbox": NONE, "photoInEntraId": True}
    return {"mailbox": kind}


def demo_directory_doc() -> dict[str, Any]:
    """The built-in demo directory, in the same JSON format a ``--directory`` file uses."""
    return {
        "tenant": DEMO_TENANT,
        "users": [
            {"id": i, "userPrincipalName": upn, "mail": mail, "displayName": name,
             "employeeId": emp, **_mailbox(mailbox), "photo": photo}
            for (i, upn, mail, name, emp, mailbox, photo) in _DEMO_USERS
        ],
        "applications": [
            {"clientId": DEMO_APP_ID, "objectId": _spid(1), "displayName": "photo-sync (demo)",
             "secrets": [DEMO_APP_SECRET], "certificates": ["demo"], "managedIdentity": False,
             "roles": ["ProfilePhoto.ReadWrite.All", "User.ReadBasic.All"]},
            {"clientId": DEMO_FULL_APP_ID, "objectId": _spid(2),
             "displayName": "photo-sync (employee-id lookups)",
             "secrets": [DEMO_FULL_APP_SECRET], "certificates": [], "managedIdentity": False,
             "roles": ["ProfilePhoto.ReadWrite.All", "User.Read.All"]},
            {"clientId": DEMO_MI_CLIENT_ID, "objectId": _spid(3),
             "displayName": "photo-sync function app (managed identity)",
             "secrets": [], "certificates": [], "managedIdentity": True,
             "roles": ["ProfilePhoto.ReadWrite.All", "User.Read.All"]},
            {"clientId": DEMO_NOROLES_APP_ID, "objectId": _spid(4), "displayName": "no roles",
             "secrets": [DEMO_NOROLES_APP_SECRET], "certificates": [], "managedIdentity": False,
             "roles": []},
            {"clientId": DEMO_READONLY_APP_ID, "objectId": _spid(5), "displayName": "read only",
             "secrets": [DEMO_READONLY_APP_SECRET], "certificates": [],
             "managedIdentity": False, "roles": ["ProfilePhoto.Read.All", "User.ReadBasic.All"]},
        ],
    }
