"""One error hierarchy for photo-sync, split by what the caller must do next.

* ``PermanentError``: retrying cannot help (bad name, bad JPEG, unknown user, missing permission,
  the service refused the photo). The drop is rejected and the reason recorded; the invocation
  returns normally so it never loops into the poison queue.
* ``TransientError``: the same request may well succeed later (throttling, 5xx, connection
  resets, timeouts). Raised out of the function so the platform retries the delivery.

Every error carries a stable ``code`` (snake_case, safe to store, index and query) and a human
message. Messages never contain secrets, tokens or photo bytes.
"""

from __future__ import annotations

import ssl


class PhotoSyncError(Exception):
    """Base of every error photo-sync raises on purpose."""

    code = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else self.code


class PermanentError(PhotoSyncError):
    """Retrying will not change the answer: reject the drop and record why.

    ``retry_later`` marks the failures of photo-sync's own configuration (credentials, the CA,
    the mapping file): a new file from HR cannot help, a fix on the admin side can, so a drop
    they stop is deferred for reconcile to retry, not rejected."""

    code = "rejected"
    retry_later = False


class TransientError(PhotoSyncError):
    """The operation may succeed if repeated later: let the platform redeliver."""

    code = "transient"


# --- configuration -----------------------------------------------------------------------


class SettingsError(PhotoSyncError):
    """Settings are missing or invalid. Lists every problem at once so one fix pass is enough."""

    code = "invalid_settings"

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        listed = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{len(self.problems)} setting problem(s):\n{listed}")


# --- input: names and photos ---------------------------------------------------------------


class InvalidPhoto(PermanentError):
    """The file is not an acceptable JPEG; ``code`` says why (e.g. ``not_jpeg``, ``too_small``)."""

    code = "invalid_photo"


class InvalidUserReference(PermanentError):
    """A user reference (from a blob name or a lookup URL) cannot name a user."""

    code = "invalid_user_reference"


# --- the photo API --------------------------------------------------------------------------


class UserNotFound(PermanentError):
    """The directory has no such user (or no single user matches an employee id)."""

    code = "user_not_found"


class AmbiguousUser(PermanentError):
    """Several directory users match one employee id; picking one could put a photo on the
    wrong person, so none is picked."""

    code = "ambiguous_user"


class NoMailbox(PermanentError):
    """The user exists but has no Exchange Online mailbox, and the service keeps no photo for
    users without one (Graph's known issue ``ErrorNonExistentMailbox``). Only a mailbox, that
    is a licence that includes Exchange Online, lets this user have a profile photo."""

    code = "no_mailbox"


class MailboxOnPremises(PermanentError):
    """The user's mailbox is in on-premises Exchange (``MailboxNotHostedInExchangeOnline``):
    the cloud photo API cannot write there, so the photo must be set on premises, where the
    mailbox is; retrying here cannot help."""

    code = "mailbox_on_premises"


class PhotoUpdatePolicy(PermanentError):
    """The tenant's photo-update policy refuses cloud updates of this photo: Graph's
    ``photoUpdateSettings`` (source ``onPremises``, or ``allowedRoles`` that leave the app out),
    or the older Outlook on the web mailbox policy ``SetPhotoEnabled``. The permission is there;
    an administrator must change the policy, or the photo be set where the policy says."""

    code = "photo_update_policy"


class Forbidden(PermanentError):
    """The app's token lacks the permission the operation needs; the message names it."""

    code = "forbidden"

    def __init__(self, message: str, *, permission: str) -> None:
        super().__init__(message)
        self.permission = permission


class RejectedByService(PermanentError):
    """The service refused the request for a reason retrying will not fix (4xx)."""

    code = "rejected_by_service"

    def __init__(
        self,
        message: str,
        *,
        status: int,
        service_code: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message, code=code)
        self.status = status
        self.service_code = service_code


class AuthFailure(PermanentError):
    """The identity platform refused our credentials (wrong secret, certificate, client id or
    tenant, or a managed identity that does not exist). Fixing configuration is the only cure."""

    code = "auth_failed"
    retry_later = True


class TlsUntrusted(PermanentError):
    """A server's TLS certificate did not verify against the CAs we trust: a wrong or missing
    ``PHOTO_CA_BUNDLE``, or a TLS-inspecting proxy re-signing traffic. Every retry meets the same
    certificate, so retrying would only hold the drop until it is poisoned."""

    code = "tls_untrusted"
    retry_later = True


class Throttled(TransientError):
    """The service asked us to slow down and the wait does not fit the time budget.

    ``retry_after`` is the service's requested wait in seconds (None when it gave none)."""

    code = "throttled"

    def __init__(self, message: str, *, retry_after: float | None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class UnsupportedOperation(PermanentError):
    """The configured dialect cannot do this (e.g. sized photos or employee ids on Outlook)."""

    code = "unsupported_operation"


class ServiceUnavailable(TransientError):
    """5xx, connection reset, timeout, or token endpoint outage, beyond the retry budget."""

    code = "service_unavailable"


def untrusted_certificate(exc: BaseException) -> ssl.SSLCertVerificationError | None:
    """The certificate-verification failure behind ``exc``, or ``None`` if it is not one.

    requests and urllib3 wrap the ssl module's error several times over (requests' ``SSLError``
    over urllib3's ``MaxRetryError`` over its own ``SSLError``), linked as cause or context, so
    the whole chain is searched. Other TLS failures (a handshake reset or timed out) have no
    verification error in their chain and stay transient.
    """
    pending: list[BaseException] = [exc]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError):
            return current
        pending.extend(e for e in (current.__cause__, current.__context__) if e is not None)
        pending.extend(a for a in current.args if isinstance(a, BaseException))
    return None
