"""Access tokens: minting them like the identity platform does, and checking them like Graph.

App-only tokens for Graph and Outlook are v1.0-style JWTs (``iss`` = ``https://sts.windows.net/
{tenant}/``) signed with RS256 by a key published in the JWKS; permissions travel in the
``roles`` claim. The photo handlers trust nothing but a token that verifies here, which is what
lets tests prove that the client sends the right token to the right API.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any, Final

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from devstack.emulator.directory import Application

GRAPH_RESOURCES: Final = (
    "https://graph.microsoft.com",
    "https://graph.microsoft.us",
    "https://dod-graph.microsoft.us",
    "https://microsoftgraph.chinacloudapi.cn",
    "00000003-0000-0000-c000-000000000000",
)
OUTLOOK_RESOURCES: Final = (
    "https://outlook.office.com",
    "https://outlook.office365.com",
    "00000002-0000-0ff1-ce00-000000000000",
)
RESOURCES: Final = GRAPH_RESOURCES + OUTLOOK_RESOURCES


def canonical_resource(value: str) -> str | None:
    """Map ``https://graph.microsoft.com/``, ``.../.default`` etc. to a known resource id."""
    text = value.strip()
    if text.endswith("/.default"):
        text = text[: -len("/.default")]
    text = text.rstrip("/")
    return next((r for r in RESOURCES if r.lower() == text.lower()), None)


def issuer_for(tenant: str) -> str:
    return f"https://sts.windows.net/{tenant}/"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_uint(n: int) -> str:
    return _b64url(n.to_bytes((n.bit_length() + 7) // 8, "big"))


class TokenInvalid(Exception):
    """The bearer token is not acceptable; ``str()`` is the message for the 401 body."""


@dataclass(frozen=True)
class IssuedToken:
    token: str
    claims: dict[str, Any]


class TokenSigner:
    def __init__(self, key: rsa.RSAPrivateKey, cert: x509.Certificate) -> None:
        self._key = key
        self._public = key.public_key()
        der = cert.public_bytes(serialization.Encoding.DER)
        self._der_b64 = base64.b64encode(der).decode("ascii")
        self.kid = _b64url(hashlib.sha1(der).digest())  # noqa: S324 - x5t is SHA-1 by spec

    def jwks(self, tenant: str) -> dict[str, Any]:
        numbers = self._public.public_numbers()
        return {
            "keys": [{
                "kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid, "x5t": self.kid,
                "n": _b64url_uint(numbers.n), "e": _b64url_uint(numbers.e),
                "x5c": [self._der_b64],
                "issuer": f"https://login.microsoftonline.com/{tenant}/v2.0",
            }]
        }

    def issue(
        self,
        *,
        tenant: str,
        app: Application,
        resource: str,
        lifetime_s: int,
        appidacr: str,
        roles: tuple[str, ...] | None = None,
    ) -> IssuedToken:
        now = int(time.time())
        claims: dict[str, Any] = {
            "aud": resource,
            "iss": issuer_for(tenant),
            # The real service backdates iat/nbf by five minutes to absorb clock skew.
            "iat": now - 300,
            "nbf": now - 300,
            "exp": now + lifetime_s,
            "aio": secrets.token_urlsafe(12),
            "app_displayname": app.display_name,
            "appid": app.client_id,
            "appidacr": appidacr,
            "azp": app.client_id,
            "azpacr": appidacr,
            "idp": issuer_for(tenant),
            "idtyp": "app",
            "oid": app.object_id,
            "rh": "0.emulator." + secrets.token_urlsafe(6),
            "sub": app.object_id,
            "tenant_region_scope": "NA",
            "tid": tenant,
            "uti": secrets.token_urlsafe(16),
            "ver": "1.0",
        }
        granted = app.roles if roles is None else roles
        if granted:  # the service omits the claim when the app holds no role
            claims["roles"] = list(granted)
        token = jwt.encode(
            claims, self._key, algorithm="RS256",
            headers={"typ": "JWT", "kid": self.kid, "x5t": self.kid},
        )
        return IssuedToken(token, claims)

    def validate(self, token: str, *, tenant: str, audiences: tuple[str, ...]) -> dict[str, Any]:
        """Verify signature, lifetime, issuer and audience; raise ``TokenInvalid`` with a
        Graph-like message otherwise."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError:
            raise TokenInvalid("IDX14100: JWT is not well formed.") from None
        if header.get("kid") != self.kid:
            raise TokenInvalid("Access token validation failure. Signing key not found.")
        try:
            claims: dict[str, Any] = jwt.decode(
                token, self._public, algorithms=["RS256"], audience=list(audiences),
                issuer=issuer_for(tenant),
                options={"require": ["exp", "nbf", "iat", "aud", "iss", "appid"]},
            )
        except jwt.ExpiredSignatureError:
            raise TokenInvalid("Lifetime validation failed, the token is expired.") from None
        except jwt.ImmatureSignatureError:
            raise TokenInvalid("Lifetime validation failed, the token is not yet valid.") \
                from None
        except jwt.InvalidAudienceError:
            raise TokenInvalid("Access token validation failure. Invalid audience.") from None
        except jwt.InvalidIssuerError:
            raise TokenInvalid("Access token validation failure. Invalid issuer.") from None
        except jwt.InvalidSignatureError:
            raise TokenInvalid("Access token validation failure. Invalid signature.") from None
        except jwt.InvalidTokenError as exc:
            raise TokenInvalid(f"Access token validation failure. {exc}") from None
        if claims.get("tid") != tenant:
            raise TokenInvalid("Access token validation failure. Invalid tenant.")
        return claims
