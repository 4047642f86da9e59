"""Everything one running emulator remembers, behind one lock.

Handlers run on many threads (one per connection), and tests read the bookkeeping (uploads,
issued tokens, stats) through the admin API to assert on what a client actually did, so all
mutable state lives here with a single re-entrant lock, and ``reset`` can put it all back.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import secrets
import threading
import zlib
from pathlib import Path
from typing import Any

from devstack.emulator import demo, images
from devstack.emulator.certs import CertBundle
from devstack.emulator.config import EmulatorConfig
from devstack.emulator.directory import (
    Directory,
    Photo,
    User,
    load_directory_file,
    parse_directory,
)
from devstack.emulator.limits import FaultInjector, FaultSettings, Limiter
from devstack.emulator.tokens import IssuedToken, TokenSigner
from devstack.emulator.web import utc_now_iso

log = logging.getLogger(__name__)


def _clone(directory: Directory) -> Directory:
    """Independent copy: users are copied; apps and photos are immutable in practice (an update
    replaces the ``Photo`` object rather than changing it)."""
    return Directory(
        tenant=directory.tenant,
        users=[dataclasses.replace(u) for u in directory.users],
        applications=list(directory.applications),
    )


class EmulatorState:
    def __init__(self, config: EmulatorConfig, certs: CertBundle) -> None:
        self.config = config
        self.certs = certs
        self.signer = TokenSigner(certs.signing_key, certs.signing_cert)
        # Printed at start-up as the App Service ``IDENTITY_HEADER``; never logged.
        self.identity_header = secrets.token_urlsafe(24)
        self.public_base = ""  # https://host:port, set once the socket is bound
        self.lock = threading.RLock()
        self.is_demo = config.directory_file is None
        if config.directory_file is None:
            initial = parse_directory(demo.demo_directory_doc(), demo_cert=certs.client_cert,
                                      base_dir=None, source="demo directory")
        else:
            initial = load_directory_file(config.directory_file, certs.client_cert)
        self._initial = initial
        self.directory = _clone(initial)
        self.faults = FaultInjector(config.faults)
        self.limiter = Limiter()
        self._delays = threading.Condition()
        self._delay_generation = 0
        self._delayed = 0
        self.tokens: list[dict[str, Any]] = []
        self.uploads: list[dict[str, Any]] = []
        self._etag_counter = 0
        self._reset_stats()

    # --- lifecycle ------------------------------------------------------------------------

    def _reset_stats(self) -> None:
        self.requests: dict[str, collections.Counter[str]] = collections.defaultdict(
            collections.Counter)
        self.throttled: collections.Counter[str] = collections.Counter()
        self.faults_injected: collections.Counter[str] = collections.Counter()
        self.started_at = utc_now_iso()

    def reset(self) -> None:
        """Back to how this instance started: directory, faults and limits as configured at
        start-up; uploads, tokens and counters cleared."""
        with self.lock:
            self.directory = _clone(self._initial)
            self.faults.configure(self.config.faults, reseed=True)
            self.limiter.reset()
            self.tokens.clear()
            self.uploads.clear()
            self._reset_stats()
        self.release_delays()
        log.info("state reset to the start-up directory and fault settings")

    def pause(self, ms: int) -> None:
        """Injected latency: sleep ``ms``, unless ``release_delays`` cuts it short (tests hold a
        request in flight as long as they need, then let it go without waiting on a clock)."""
        if ms <= 0:
            return
        with self._delays:
            generation = self._delay_generation
            self._delayed += 1
            try:
                self._delays.wait_for(lambda: self._delay_generation != generation, ms / 1000.0)
            finally:
                self._delayed -= 1

    def release_delays(self) -> int:
        """End every injected delay now; returns how many requests were waiting."""
        with self._delays:
            waiting = self._delayed
            self._delay_generation += 1
            self._delays.notify_all()
        return waiting

    def replace_directory(self, doc: Any) -> Directory:
        directory = parse_directory(doc, demo_cert=self.certs.client_cert, base_dir=None,
                                    source="posted directory")
        with self.lock:
            self.directory = directory
        log.info("directory replaced: %d users, %d applications",
                 len(directory.users), len(directory.applications))
        return directory

    def configure_faults(self, patch: Any) -> FaultSettings:
        with self.lock:
            settings = self.faults.settings.updated(patch)
            reseed = isinstance(patch, dict) and "seed" in patch
            self.faults.configure(settings, reseed=reseed)
        log.info("fault settings changed: %s", sorted(patch) if isinstance(patch, dict) else "")
        return settings

    # --- bookkeeping ----------------------------------------------------------------------

    def record_request(self, operation: str, status: str) -> None:
        with self.lock:
            self.requests[operation][status] += 1

    def record_faults(self, kinds: tuple[str, ...]) -> None:
        if kinds:
            with self.lock:
                self.faults_injected.update(kinds)

    def record_throttle(self, limit: str) -> None:
        with self.lock:
            self.throttled[limit] += 1

    def record_token(self, issued: IssuedToken, grant: str) -> None:
        c = issued.claims
        with self.lock:
            self.tokens.append({
                "access_token": issued.token, "clientId": c["appid"],
                "appDisplayName": c["app_displayname"], "resource": c["aud"],
                "roles": c.get("roles", []), "grant": grant, "issuedAt": c["iat"] + 300,
                "expiresAt": c["exp"], "uti": c["uti"],
            })

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {
                "startedAt": self.started_at,
                "requests": {op: dict(c) for op, c in sorted(self.requests.items())},
                "throttled": sum(self.throttled.values()),
                "throttledByLimit": dict(self.throttled),
                "faults": dict(self.faults_injected),
                "tokensIssued": len(self.tokens),
                "uploads": len(self.uploads),
                "inFlight": self.limiter.in_flight(),
                "delayed": self._delayed,
                "pendingScript": len(self.faults.pending_script()),
            }

    # --- photos ---------------------------------------------------------------------------

    def store_photo(
        self, user: User, data: bytes, info: images.ImageInfo, *, app_id: str, dialect: str,
        method: str, record_upload: bool = True,
    ) -> Photo:
        """Set ``user``'s photo; ``record_upload=False`` for admin seeding, which is not an
        upload by a client and so stays out of ``/admin/uploads``."""
        with self.lock:
            self._etag_counter += 1
            etag = f"{zlib.crc32(data + self._etag_counter.to_bytes(8, 'big')):08X}"
            previous = user.photo.upload_count if user.photo else 0
            photo = Photo(data, info.content_type, info.width, info.height, etag=etag,
                          updated_at=utc_now_iso(), upload_count=previous + 1)
            user.photo = photo
            if record_upload:
                self.uploads.append({
                    "userId": user.id, "userPrincipalName": user.user_principal_name,
                    "sha256": photo.sha256, "size": len(data), "width": info.width,
                    "height": info.height, "contentType": info.content_type, "etag": etag,
                    "appId": app_id, "dialect": dialect, "method": method,
                    "time": photo.updated_at,
                })
        log.info("photo stored for user %s by app %s (%d bytes, %dx%d, %s %s)",
                 user.id, app_id, len(data), info.width, info.height, dialect, method)
        return photo

    def info(self) -> dict[str, Any]:
        """The start-up JSON line: everything a client needs, nothing it must guess."""
        base = self.public_base
        tenant = self.directory.tenant
        apps = [a for a in self.directory.applications if not a.managed_identity]
        main = next((a for a in apps if self.certs.client_cert in a.certificates),
                    apps[0] if apps else None)
        mis = self.directory.managed_identities()
        out: dict[str, Any] = {
            "graph_base": f"{base}/v1.0",
            "outlook_base": f"{base}/api/v2.0",
            "authority": f"{base}/{tenant}",
            "token_endpoint": f"{base}/{tenant}/oauth2/v2.0/token",
            "jwks_uri": f"{base}/{tenant}/discovery/v2.0/keys",
            "tenant": tenant,
            "graph_resource": "https://graph.microsoft.com",
            "outlook_resource": "https://outlook.office.com",
            "ca_cert": str(self.certs.ca_cert_path),
            "client_id": main.client_id if main else None,
            "client_secret": main.secrets[0] if main and main.secrets else None,
            "client_cert": str(self.certs.client_cert_path),
            "client_cert_thumbprint": self.certs.client_thumbprint_sha1,
            "client_cert_thumbprint_sha256": self.certs.client_thumbprint_sha256,
            "identity_endpoint": f"{base}/msi/token",
            "identity_header": self.identity_header,
            "mi_client_id": mis[0].client_id if mis else None,
            "admin_base": f"{base}/admin",
            "state_dir": str(Path(self.config.state_dir).resolve()),
            "demo_directory": self.is_demo,
        }
        if self.is_demo:
            out.update({
                "full_client_id": demo.DEMO_FULL_APP_ID,
                "full_client_secret": demo.DEMO_FULL_APP_SECRET,
                "noroles_client_id": demo.DEMO_NOROLES_APP_ID,
                "noroles_client_secret": demo.DEMO_NOROLES_APP_SECRET,
                "readonly_client_id": demo.DEMO_READONLY_APP_ID,
                "readonly_client_secret": demo.DEMO_READONLY_APP_SECRET,
            })
        return out
