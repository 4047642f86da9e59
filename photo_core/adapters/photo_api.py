"""The user-photo API over HTTP (Graph v1.0 and Outlook v2.0): the adapter of ``ports.PhotoApi``.

The adapter owns the wire: URL building (through ``naming.user_path``, the only place a user
reference becomes a path), the bearer token, retries within the time budget (and within the
deadline of the enclosing work, when there is one: see ``retry.within``), and the mapping of
every status to a typed outcome. It never follows redirects, so the token is only ever sent to
the configured API host.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

import requests

from photo_core.adapters.photo_api_settings import ApiSettings
from photo_core.domain.clock import Clock
from photo_core.domain.dialects import (
    DIALECTS,
    EMPLOYEE_ID_PERMISSION,
    SERVICE_UPLOAD_LIMIT_BYTES,
    Dialect,
    PhotoMetadata,
    parse_metadata,
    parse_size,
)
from photo_core.domain.errors import (
    AmbiguousUser,
    AuthFailure,
    Forbidden,
    InvalidPhoto,
    MailboxOnPremises,
    NoMailbox,
    PermanentError,
    PhotoUpdatePolicy,
    RejectedByService,
    ServiceUnavailable,
    Throttled,
    TlsUntrusted,
    TransientError,
    UnsupportedOperation,
    UserNotFound,
    untrusted_certificate,
)
from photo_core.domain.naming import UserRef, odata_string_literal, user_path
from photo_core.domain.retry import (
    Deadline,
    RetryPolicy,
    current_deadline,
    is_retryable_status,
    parse_retry_after,
)
from photo_core.use_cases.ports import DirectoryUser, PhotoContent

logger = logging.getLogger(__name__)

# 404 codes that mean the user itself is missing, or has no mailbox to hold a photo. Any other
# 404 on a read means "no photo" (the code for that has varied over the years).
USER_NOT_FOUND_CODES = frozenset(
    {"Request_ResourceNotFound", "ResourceNotFound", "ErrorInvalidUser"}
)
# No Exchange Online mailbox at all: Graph's known issues ("Photo restrictions") document
# ErrorNonExistentMailbox, "The SMTP address has no mailbox associated with it";
# MailboxNotEnabledForRESTAPI is what a user without an Exchange Online licence meets in the
# field. Only a mailbox (a licence) gives such a user a photo Graph keeps in Exchange.
NO_MAILBOX_CODES = frozenset({"ErrorNonExistentMailbox", "MailboxNotEnabledForRESTAPI"})
# A mailbox outside Exchange Online, in practice on premises (Graph's message: "The mailbox is
# either inactive, soft-deleted, or is hosted on-premise"): its photo is set where it lives.
ON_PREMISES_CODES = frozenset({"MailboxNotHostedInExchangeOnline"})
# A write the tenant's photo-update policy refuses. Microsoft documents the policies (Graph
# beta photoUpdateSettings, GET /beta/admin/people/photoUpdateSettings: with source onPremises
# "updates through cloud services are disabled for both admins and users"; earlier the Outlook
# on the web mailbox policy's SetPhotoEnabled) but not the answer a refused update gets. The
# shape is assumed: a 403 whose code is PhotoUpdateNotAllowed (what the emulator sends), or
# whose message names the policy. Any other 403 is a missing permission.
PHOTO_POLICY_CODES = frozenset({"PhotoUpdateNotAllowed"})
_PHOTO_POLICY_WORDS = ("photoupdatesettings", "setphotoenabled", "photo update policy")


class TokenProvider(Protocol):
    """Port: hands out a bearer token for the photo API.

    ``invalidate`` drops a cached token the API rejected (revoked, or roles changed since it was
    issued) so the next ``get_token`` fetches a fresh one.
    """

    def get_token(self) -> str: ...

    def invalidate(self) -> None: ...


class HttpPhotoApi:
    """Adapter over one pooled ``requests.Session`` per process."""

    def __init__(
        self,
        *,
        session: requests.Session,
        tokens: TokenProvider,
        api: ApiSettings,
        retry: RetryPolicy,
        clock: Clock,
        rand: Callable[[], float],
    ) -> None:
        self._session = session
        self._tokens = tokens
        self._api = api
        self._spec = DIALECTS[api.dialect]
        self._retry = retry
        self._clock = clock
        self._rand = rand

    # --- operations ---------------------------------------------------------------------

    def get_metadata(self, user: UserRef) -> PhotoMetadata | None:
        resp = self._call("GET", user_path(user, self._api.dialect) + "/photo", read=True)
        if resp is None:
            return None
        return parse_metadata(_json(resp), self._api.dialect)

    def get_photo(self, user: UserRef, size: str | None = None) -> PhotoContent | None:
        path = user_path(user, self._api.dialect)
        if size is None:
            path += "/photo/$value"
        elif self._api.dialect is Dialect.GRAPH:
            path += f"/photos/{quote(parse_size(size), safe='')}/$value"
        else:
            raise UnsupportedOperation("the Outlook v2.0 API serves only the largest photo")
        resp = self._call("GET", path, read=True, headers={"Accept": "image/*"})
        if resp is None:
            return None
        return PhotoContent(
            data=resp.content,
            content_type=resp.headers.get("Content-Type", "application/octet-stream"),
            etag=resp.headers.get("ETag"),
        )

    def list_sizes(self, user: UserRef) -> list[PhotoMetadata]:
        if self._api.dialect is Dialect.OUTLOOK:
            largest = self.get_metadata(user)
            return [largest] if largest else []
        resp = self._call("GET", user_path(user, self._api.dialect) + "/photos", read=True)
        if resp is None:
            return []
        sizes = (parse_metadata(item, Dialect.GRAPH) for item in _json(resp).get("value", []))
        return [m for m in sizes if m is not None]

    def set_photo(self, user: UserRef, jpeg: bytes) -> None:
        if not jpeg or len(jpeg) > SERVICE_UPLOAD_LIMIT_BYTES:
            raise InvalidPhoto(
                f"upload is {len(jpeg)} bytes; the service takes 1 byte to 4 MB",
                code="too_large_for_upload",
            )
        path = user_path(user, self._api.dialect) + "/photo/$value"
        self._call(
            self._api.upload_method,
            path,
            read=False,
            data=jpeg,
            headers={"Content-Type": "image/jpeg"},
        )

    def delete_photo(self, user: UserRef) -> None:
        if self._api.dialect is not Dialect.GRAPH:
            raise UnsupportedOperation("the Outlook v2.0 API cannot delete photos")
        path = user_path(user, self._api.dialect) + "/photo/$value"
        # As a read: a 404 that is not about the user means there is no photo, which is fine.
        self._call("DELETE", path, read=True, permission=self._spec.write_permission)

    def find_user_by_employee_id(self, employee_id: str) -> DirectoryUser:
        if self._api.dialect is not Dialect.GRAPH:
            raise UnsupportedOperation("employee id lookup needs the Graph dialect")
        query = "&".join(
            f"{key}={quote(value, safe=chr(39))}"
            for key, value in (
                ("$filter", f"employeeId eq {odata_string_literal(employee_id)}"),
                ("$select", "id,userPrincipalName,employeeId"),
                ("$count", "true"),
            )
        )
        resp = self._call(
            "GET",
            f"/users?{query}",
            read=True,
            permission=EMPLOYEE_ID_PERMISSION,
            headers={"ConsistencyLevel": "eventual"},
        )
        found = _json(resp).get("value", []) if resp is not None else []
        # Defence in depth: only users whose employeeId really matches can receive a photo.
        matches = [
            u for u in found
            if str(u.get("employeeId", "")).lower() == employee_id.lower() and u.get("id")
        ]
        if not matches:
            raise UserNotFound(f"no user has employeeId {employee_id!r}")
        if len(matches) > 1:
            raise AmbiguousUser(
                f"{len(matches)} users have employeeId {employee_id!r}; none was chosen"
            )
        return DirectoryUser(str(matches[0]["id"]), str(matches[0].get("userPrincipalName", "")))

    # --- the wire -----------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        read: bool,
        permission: str | None = None,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> requests.Response | None:
        """Send with retries and map the final status; ``None`` means a read found no photo."""
        permission = permission or (
            self._spec.read_permission if read else self._spec.write_permission
        )
        resp = self._send_with_retries(method, path, data=data, headers=headers or {})
        if 200 <= resp.status_code < 300:
            return resp
        _raise_for_status(resp, method=method, read=read, permission=permission)
        return None

    def _send_with_retries(
        self, method: str, path: str, *, data: bytes | None, headers: Mapping[str, str]
    ) -> requests.Response:
        url = self._api.base_url + path
        deadline = current_deadline()
        started = self._clock.monotonic()
        attempts = 0
        token_refreshed = False
        failure: TransientError | None = None
        while True:
            attempts += 1
            retry_after: float | None = None
            timeout = self._timeouts(deadline, method, path, failure)
            try:
                resp = self._send_once(method, url, data=data, headers=headers, timeout=timeout)
            except TransientError as exc:
                failure = exc
            else:
                if resp.status_code == 401 and not token_refreshed:
                    # A cached token can be revoked or predate a role grant: refresh once.
                    token_refreshed = True
                    self._tokens.invalidate()
                    attempts -= 1
                    continue
                if not is_retryable_status(resp.status_code):
                    return resp
                retry_after = parse_retry_after(resp.headers.get("Retry-After"), self._clock.now())
                failure = _transient_for(resp, retry_after)
            delay = self._retry.next_delay(
                attempts_made=attempts,
                elapsed=self._clock.monotonic() - started,
                retry_after=retry_after,
                rand=self._rand,
                remaining=deadline.remaining() if deadline is not None else None,
            )
            if delay is None:
                raise failure
            logger.warning(
                "%s %s: %s (%s); retry %d in %.2fs",
                method, _operation(path), failure.code, failure.message, attempts, delay,
            )
            self._clock.sleep(delay)

    def _timeouts(
        self, deadline: Deadline | None, method: str, path: str, failure: TransientError | None
    ) -> tuple[float, float]:
        """Connect and read timeouts for the next attempt: the configured ones, cut to what is
        left of the deadline, so that one slow answer cannot carry the work past it. With the
        deadline spent, the last failure (or, before any, a ``ServiceUnavailable``) is raised."""
        connect, read = self._api.connect_timeout, self._api.read_timeout
        if deadline is None:
            return connect, read
        left = deadline.remaining()
        if left <= 0:
            raise failure or ServiceUnavailable(
                f"{method} {_operation(path)} not sent: the {deadline.seconds:g}s time budget "
                "was spent"
            )
        return min(connect, left), min(read, left)

    def _send_once(
        self,
        method: str,
        url: str,
        *,
        data: bytes | None,
        headers: Mapping[str, str],
        timeout: tuple[float, float],
    ) -> requests.Response:
        try:
            token = self._tokens.get_token()
        except ServiceUnavailable as exc:
            # The token provider calls every unreachable identity endpoint transient; one whose
            # certificate does not verify (same session, same PHOTO_CA_BUNDLE) never recovers.
            rejected = untrusted_certificate(exc)
            if rejected is None:
                raise
            raise _tls_untrusted("the identity platform", rejected) from exc
        try:
            return self._session.request(
                method,
                url,
                data=data,
                headers={**headers, "Authorization": f"Bearer {token}"},
                timeout=timeout,
                allow_redirects=False,
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            # requests' SSLError is a ConnectionError: a reset handshake may well succeed next
            # time, but a certificate that does not verify is configuration, and permanent.
            rejected = untrusted_certificate(exc)
            if rejected is not None:
                raise _tls_untrusted(
                    f"the photo API ({urlsplit(url).netloc})", rejected
                ) from exc
            raise ServiceUnavailable(
                f"photo API unreachable ({type(exc).__name__})"
            ) from exc
        except (requests.exceptions.ChunkedEncodingError,
                requests.exceptions.ContentDecodingError) as exc:
            # The connection broke, or the body was mangled, after the status line: the answer
            # is unknown, so this is a failed attempt like a reset, not a bug.
            raise ServiceUnavailable(
                f"photo API answer cut off ({type(exc).__name__})"
            ) from exc


def _tls_untrusted(server: str, rejected: BaseException) -> TlsUntrusted:
    reason = getattr(rejected, "verify_message", None) or "certificate verify failed"
    return TlsUntrusted(
        f"the TLS certificate of {server} did not verify ({reason}): set PHOTO_CA_BUNDLE to the "
        "CA that issued it, or unset it to trust the public CAs; behind a TLS-inspecting proxy, "
        "trust the proxy's CA"
    )


def _transient_for(resp: requests.Response, retry_after: float | None) -> TransientError:
    detail = _describe(resp)
    if resp.status_code == 429:
        return Throttled(f"photo API throttled the request: {detail}", retry_after=retry_after)
    return ServiceUnavailable(f"photo API failed: {detail}")


def _raise_for_status(resp: requests.Response, *, method: str, read: bool, permission: str) -> None:
    """Turn a final non-2xx answer into the typed error it means, or return for "no photo"."""
    status, code = resp.status_code, _service_code(resp)
    detail = _describe(resp)
    if status in (400, 404):
        _raise_for_mailbox(code, detail)
    if status == 404:
        if code in USER_NOT_FOUND_CODES or not read:
            raise UserNotFound(
                "the directory has no such user: check that the file is named after the "
                "person's sign-in name (or object id) and that their account exists; the "
                f"service answered {detail}")
        return
    if status == 401:
        raise AuthFailure(
            f"photo API rejected the access token (check PHOTO_CLOUD and PHOTO_API_DIALECT "
            f"match the API): {detail}"
        )
    if status == 403:
        raise _refused(resp, code, method=method, permission=permission)
    if 300 <= status < 400:
        raise RejectedByService(
            f"photo API answered a redirect, which is not followed: {detail}",
            status=status, service_code=code, code="unexpected_redirect",
        )
    if status == 413:
        raise RejectedByService(
            f"photo API refused the photo as too large: {detail}",
            status=status, service_code=code, code="photo_too_large",
        )
    raise RejectedByService(
        f"photo API refused {method}: {detail}", status=status, service_code=code
    )


def _refused(resp: requests.Response, code: str | None, *, method: str,
             permission: str) -> PermanentError:
    """A 403: the tenant's photo-update policy refusing a write, or a missing permission."""
    detail = _describe(resp)
    writes = method != "GET"
    if writes and _refused_by_photo_policy(resp, code):
        return PhotoUpdatePolicy(
            "the tenant's photo-update policy refuses cloud changes to this user's photo: "
            "check Graph's photoUpdateSettings (GET /beta/admin/people/photoUpdateSettings; "
            "source onPremises means photos come from on-premises Active Directory, and "
            "allowedRoles limits who may change them) and the Outlook on the web mailbox "
            f"policy's SetPhotoEnabled, and change the photo where that policy says: {detail}"
        )
    hint = "" if not writes else (
        "; if the app has it, the tenant's photo-update policy (photoUpdateSettings) may be "
        "refusing cloud updates"
    )
    return Forbidden(
        f"the app lacks the {permission} application permission (grant it with admin "
        f"consent){hint}: {detail}",
        permission=permission,
    )


def _raise_for_mailbox(code: str | None, detail: str) -> None:
    """The user exists, but its photo cannot be in Exchange Online: two different fixes."""
    if code in NO_MAILBOX_CODES:
        raise NoMailbox(
            "the user has no Exchange Online mailbox, which Microsoft 365 needs to keep a "
            "profile photo for them: assign the user a licence that includes Exchange Online, "
            f"then retry the drop (reconcile --retry-rejected): {detail}"
        )
    if code in ON_PREMISES_CODES:
        raise MailboxOnPremises(
            "the user's mailbox is not in Exchange Online (it is on premises, or inactive or "
            "soft-deleted), and the cloud photo API cannot write there: set this photo on "
            "premises, where the mailbox is (Set-UserPhoto in the Exchange Management Shell), "
            f"or move the mailbox to Exchange Online and retry the drop: {detail}"
        )


def _refused_by_photo_policy(resp: requests.Response, code: str | None) -> bool:
    if code in PHOTO_POLICY_CODES:
        return True
    message = str(_error_body(resp).get("message") or "").lower()
    return any(word in message for word in _PHOTO_POLICY_WORDS)


def _json(resp: requests.Response) -> dict[str, Any]:
    try:
        payload = resp.json()
    except ValueError as exc:
        raise ServiceUnavailable(f"photo API sent a malformed body: {_describe(resp)}") from exc
    if not isinstance(payload, dict):
        raise ServiceUnavailable(f"photo API sent an unexpected body: {_describe(resp)}")
    return payload


def _error_body(resp: requests.Response) -> dict[str, Any]:
    """The ``error`` object of a Graph-shaped error answer; empty when there is none."""
    try:
        payload = resp.json()
    except ValueError:
        return {}
    error = payload.get("error") if isinstance(payload, dict) else None
    return error if isinstance(error, dict) else {}


def _service_code(resp: requests.Response) -> str | None:
    code = _error_body(resp).get("code")
    return str(code) if code else None


def _describe(resp: requests.Response) -> str:
    """Status, service error code and message, and request id: what support asks for."""
    error = _error_body(resp)
    parts = [str(resp.status_code)]
    parts += [str(error[k])[:200] for k in ("code", "message") if error.get(k)]
    request_id = resp.headers.get("request-id")
    if request_id:
        parts.append(f"request-id {request_id}")
    return " ".join(parts)


def _operation(path: str) -> str:
    """The path without the user segment: operation names for logs."""
    if path.startswith("/users?"):
        return "/users?$filter"
    _, sep, tail = path.partition("/photo")
    return "/users/{user}/photo" + tail if sep else path
