"""One frozen settings object, read from environment variables and validated once.

Every problem is collected before anything is raised, so an operator fixing a deployment sees the
whole list in one go instead of one error per restart. Secret values are excluded from ``repr`` and
never appear in messages: a message names the setting, not its value.
"""

from __future__ import annotations

import enum
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import urlsplit

from photo_core.adapters.photo_api_settings import ApiSettings, AuthMode, AuthSettings
from photo_core.adapters.url_host import UnsafeUrl, endpoint
from photo_core.domain.budget import BUDGET
from photo_core.domain.dialects import (
    API_HOSTS,
    CLOUD_ENDPOINTS,
    SERVICE_UPLOAD_LIMIT_BYTES,
    UNSUPPORTED_API_HOSTS,
    Cloud,
    Dialect,
    default_base_url,
    default_scope,
)
from photo_core.domain.errors import SettingsError
from photo_core.domain.naming import NamingRules, UserRef, parse_user_reference
from photo_core.domain.notices import NoticeKind
from photo_core.domain.retry import RetryPolicy
from photo_core.photos import DEFAULT_MAX_DECODE_MB, DEFAULT_MAX_DECODE_MEGABLOCKS, ImagePolicy
from photo_core.use_cases.notify_settings import NotifySettings, read_notify
from photo_core.use_cases.ports import Disposal

STORAGE_CONNECTION = "PhotoStorage"  # the binding's connection name: a setting prefix
_CONTAINER_NAME = re.compile(r"[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}")
IMAGE_SETTING_NAMES = {
    "min_side": "PHOTO_MIN_SIDE",
    "max_side": "PHOTO_MAX_SIDE",
    "max_upload_bytes": "PHOTO_MAX_UPLOAD_BYTES",
    "max_pixels": "PHOTO_MAX_PIXELS",
    "jpeg_quality": "PHOTO_JPEG_QUALITY",
    "max_input_bytes": "PHOTO_MAX_BLOB_BYTES",
    "max_decode_bytes": "PHOTO_MAX_DECODE_MB",
    "max_decode_work": "PHOTO_MAX_DECODE_WORK",
}
_TABLE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]{2,62}")
_SETTING_NAME = re.compile(r"\s*[A-Za-z]+\s*")
# A tenant id (GUID) or domain: it becomes a path segment of the authority URL.
_TENANT = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,253}[A-Za-z0-9])?")

MAX_RECONCILE_WORKERS = 32  # concurrent drops in one reconcile: the photo API throttles beyond
# Every time limit is a slice of the function timeout: see photo_core.domain.budget for why each is
# as long as it is.
_FITS_FUNCTION_TIMEOUT = "it must fit in the 5-minute function timeout (host.json)"


def _is_connection_string(value: str) -> bool:
    """Name=value pairs separated by ';', read the way the storage SDK reads them."""
    parts = value.rstrip(";").split(";")
    return all(_SETTING_NAME.fullmatch(part.partition("=")[0]) and "=" in part
               for part in parts)


@dataclass(frozen=True)
class StorageSettings:
    """Where drops arrive and where outcomes and state go.

    The connection follows the Functions convention for the ``PhotoStorage`` binding: a
    connection string in ``PhotoStorage`` locally, or identity-based ``PhotoStorage__*`` service
    URIs in Azure (no key anywhere)."""

    connection_string: str | None = field(default=None, repr=False)
    blob_service_uri: str | None = None
    table_service_uri: str | None = None
    queue_service_uri: str | None = None  # the poison queue, for notices about it
    credential: str | None = None
    client_id: str | None = None
    drop_container: str = "hr-photos"
    rejected_container: str = "hr-photos-rejected"
    processed_container: str = "hr-photos-processed"
    state_table: str = "photosyncstate"
    processed_action: Disposal = Disposal.KEEP
    rejected_action: Disposal = Disposal.KEEP
    dry_run: bool = False
    delete_photo_on_blob_delete: bool = False

    @property
    def configured(self) -> bool:
        return bool(self.connection_string or (self.blob_service_uri and self.table_service_uri))


@dataclass(frozen=True)
class DirectorySettings:
    """How HR ids become users: the optional mapping file (``container/path.csv`` in the
    ``PhotoStorage`` account) and how long answers are cached."""

    mapping_blob: str | None = None
    mapping_cache_seconds: float = 300.0
    employee_id_cache_seconds: float = 3600.0


@dataclass(frozen=True)
class ReconcileSettings:
    """The nightly reconcile: when (an NCRONTAB schedule, read by the timer binding itself), how
    many drops at once, and for how long one run may start new drops (it resumes next run)."""

    schedule: str = "0 0 2 * * *"
    workers: int = 4
    deadline_seconds: float = 240.0


@dataclass(frozen=True)
class Settings:
    api: ApiSettings = field(default_factory=ApiSettings)
    auth: AuthSettings = field(default_factory=AuthSettings)
    naming: NamingRules = field(default_factory=NamingRules)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    image: ImagePolicy = field(default_factory=ImagePolicy)
    storage: StorageSettings = field(default_factory=StorageSettings)
    reconcile: ReconcileSettings = field(default_factory=ReconcileSettings)
    directory: DirectorySettings = field(default_factory=DirectorySettings)
    notify: NotifySettings = field(default_factory=NotifySettings)
    lookup_cache_seconds: float = 30.0
    lookup_budget_seconds: float = BUDGET.default_lookup

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, *, require_storage: bool = False
    ) -> Settings:
        """Read and validate every setting; raise ``SettingsError`` listing all problems.

        ``require_storage`` is for the function app, which cannot work without its storage
        connection; the CLI and the client tests need only the photo API settings."""
        reader = _Reader(os.environ if env is None else env)
        return reader.settings(require_storage=require_storage)


E = TypeVar("E", bound=enum.Enum)
N = TypeVar("N", int, float)


class _Reader:
    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.problems: list[str] = []

    def text(self, name: str) -> str | None:
        value = self.env.get(name, "").strip()
        return value or None

    def required(self, name: str, why: str) -> str | None:
        value = self.text(name)
        if value is None:
            self.problems.append(f"{name} is required {why}")
        return value

    def choice(self, name: str, kind: type[E], default: E) -> E:
        value = self.text(name)
        if value is None:
            return default
        try:
            return kind(value.lower())
        except ValueError:
            allowed = ", ".join(m.value for m in kind)
            self.problems.append(f"{name}={value!r} is not one of: {allowed}")
            return default

    def number(
        self, name: str, default: N, convert: Callable[[str], N], low: float, high: float,
        why: str | None = None,
    ) -> N:
        """The setting as a number in ``low..high``; ``why`` explains the range in the message
        when it is not obvious."""
        value = self.text(name)
        if value is None:
            return default
        try:
            number = convert(value)
        except ValueError:
            self.problems.append(f"{name}={value!r} is not a number")
            return default
        if not low <= number <= high:
            because = f": {why}" if why else ""
            self.problems.append(f"{name}={value} is outside {low:g}..{high:g}{because}")
            return default
        return number

    def flag(self, name: str) -> bool:
        value = self.text(name)
        if value is None:
            return False
        if value.lower() in ("1", "true", "yes", "on"):
            return True
        if value.lower() not in ("0", "false", "no", "off"):
            self.problems.append(f"{name}={value!r} is not true or false")
        return False

    def schedule(self, name: str, default: str) -> str:
        """An NCRONTAB schedule, which a timer binding reads as ``%name%``."""
        schedule = self.text(name) or default
        if len(schedule.split()) != 6:
            self.problems.append(
                f"{name}={schedule!r} is not an NCRONTAB expression with six fields (second "
                "minute hour day month weekday)")
        return schedule

    def https_url(self, name: str, default: str) -> tuple[str, str]:
        """The setting as a plain https URL without query or fragment, and the host the HTTP
        client sends to (``adapters.url_host``: a URL two parsers could read two hosts from is
        refused); the host is empty when the URL is refused."""
        value = (self.text(name) or default).rstrip("/")
        try:
            point = endpoint(value)
        except UnsafeUrl as exc:
            self.problems.append(f"{name} is refused: {exc}")
            return value, ""
        if point.scheme != "https" or not point.host or point.has_query or point.has_fragment:
            self.problems.append(f"{name} must be an https URL without query or fragment")
        return value, point.host

    def settings(self, *, require_storage: bool = False) -> Settings:
        api = self.api()
        storage = self.storage(require_storage)
        auth = self.auth(api.cloud)
        naming = self.naming(api.dialect)
        r = RetryPolicy()
        retry = RetryPolicy(
            max_attempts=self.number("PHOTO_RETRY_MAX_ATTEMPTS", r.max_attempts, int, 1, 20),
            budget_seconds=self.number("PHOTO_RETRY_BUDGET_SECONDS", r.budget_seconds, float,
                                       0, BUDGET.max_retry_budget, _FITS_FUNCTION_TIMEOUT),
            backoff_max=self.number("PHOTO_RETRY_BACKOFF_MAX_SECONDS", r.backoff_max, float,
                                    0, 600),
        )
        d = ImagePolicy()
        image = ImagePolicy(
            min_side=self.number("PHOTO_MIN_SIDE", d.min_side, int, 1, 10_000),
            max_side=self.number("PHOTO_MAX_SIDE", d.max_side, int, 48, 20_000),
            max_upload_bytes=self.number("PHOTO_MAX_UPLOAD_BYTES", d.max_upload_bytes, int,
                                         16 * 1024, SERVICE_UPLOAD_LIMIT_BYTES),
            max_pixels=self.number("PHOTO_MAX_PIXELS", d.max_pixels, int, 1, 1_000_000_000),
            jpeg_quality=self.number("PHOTO_JPEG_QUALITY", d.jpeg_quality, int, 50, 95),
            max_input_bytes=self.number("PHOTO_MAX_BLOB_BYTES", d.max_input_bytes, int,
                                        1024, 1024**3),
            # in MB (2^20 bytes, as Azure counts instance memory) and millions of block decodes
            max_decode_bytes=self.number("PHOTO_MAX_DECODE_MB", DEFAULT_MAX_DECODE_MB, int,
                                         16, 16_384) * 2**20,
            max_decode_work=self.number("PHOTO_MAX_DECODE_WORK",
                                        DEFAULT_MAX_DECODE_MEGABLOCKS, int,
                                        1, 100_000) * 1_000_000,
        )
        for problem in image.problems():
            for field_name, setting in IMAGE_SETTING_NAMES.items():
                problem = re.sub(rf"\b{field_name}\b", setting, problem)
            self.problems.append(problem)
        reconcile = self.reconcile()
        directory = self.directory()
        lookup_cache = self.number("PHOTO_LOOKUP_CACHE_SECONDS", Settings.lookup_cache_seconds,
                                   float, 0, 3600)
        lookup_budget = self.number(
            "PHOTO_LOOKUP_BUDGET_SECONDS", BUDGET.default_lookup, float, 1, BUDGET.max_lookup,
            "a lookup must answer well before Azure's front end cuts it off (230 s)")
        notify = read_notify(self)
        if notify.enabled and NoticeKind.POISON in notify.kinds and storage.configured and \
                not (storage.connection_string or storage.queue_service_uri):
            self.problems.append("PHOTO_NOTIFY_ON=poison needs PhotoStorage__queueServiceUri "
                                 "(the account of the blob trigger's poison queue)")
        self.fits_function_timeout(retry, api)
        if self.problems:
            raise SettingsError(self.problems)
        return Settings(api=api, auth=auth, naming=naming, retry=retry, image=image,
                        storage=storage, reconcile=reconcile, directory=directory, notify=notify,
                        lookup_cache_seconds=lookup_cache, lookup_budget_seconds=lookup_budget)

    def fits_function_timeout(self, retry: RetryPolicy, api: ApiSettings) -> None:
        """Each limit may be in range and their sum still not fit: the last attempt of a call
        can start just inside the retry budget and then wait out both timeouts."""
        worst = BUDGET.worst_api_call(retry.budget_seconds, api.connect_timeout,
                                      api.read_timeout)
        if worst > BUDGET.function_timeout:
            self.problems.append(
                f"PHOTO_RETRY_BUDGET_SECONDS ({retry.budget_seconds:g}) + "
                f"PHOTO_HTTP_CONNECT_TIMEOUT_SECONDS ({api.connect_timeout:g}) + "
                f"PHOTO_HTTP_READ_TIMEOUT_SECONDS ({api.read_timeout:g}) is {worst:g}s: "
                f"{_FITS_FUNCTION_TIMEOUT}, since a call's last attempt may start just inside "
                "the budget and then wait out both timeouts")

    def reconcile(self) -> ReconcileSettings:
        d = ReconcileSettings()
        return ReconcileSettings(
            schedule=self.schedule("PHOTO_RECONCILE_SCHEDULE", d.schedule),
            workers=self.number("PHOTO_RECONCILE_WORKERS", d.workers, int, 1,
                                MAX_RECONCILE_WORKERS),
            deadline_seconds=self.number("PHOTO_RECONCILE_DEADLINE_SECONDS", d.deadline_seconds,
                                         float, 10, BUDGET.max_retry_budget,
                                         _FITS_FUNCTION_TIMEOUT),
        )

    def storage(self, required: bool) -> StorageSettings:
        prefix = STORAGE_CONNECTION
        d = StorageSettings()
        names = {}
        for setting, default, pattern in (
            ("PHOTO_DROP_CONTAINER", d.drop_container, _CONTAINER_NAME),
            ("PHOTO_REJECTED_CONTAINER", d.rejected_container, _CONTAINER_NAME),
            ("PHOTO_PROCESSED_CONTAINER", d.processed_container, _CONTAINER_NAME),
            ("PHOTO_STATE_TABLE", d.state_table, _TABLE_NAME),
        ):
            names[setting] = self.text(setting) or default
            if not pattern.fullmatch(names[setting]):
                self.problems.append(f"{setting}={names[setting]!r} is not a valid storage name")
        rejected = self.choice("PHOTO_REJECTED_ACTION", Disposal, Disposal.KEEP)
        if rejected is Disposal.DELETE:
            self.problems.append("PHOTO_REJECTED_ACTION cannot be delete: HR needs the file "
                                 "to see what was wrong; use keep or move")
        connection = self.text(prefix)
        if connection and not _is_connection_string(connection):
            self.problems.append(f"{prefix} is not a storage connection string (Name=value "
                                 "pairs separated by ';'); its value is not shown")
        storage = StorageSettings(
            connection_string=connection,
            blob_service_uri=self.text(f"{prefix}__blobServiceUri")
            or self.text(f"{prefix}__serviceUri"),
            table_service_uri=self.text(f"{prefix}__tableServiceUri"),
            queue_service_uri=self.text(f"{prefix}__queueServiceUri"),
            credential=self.text(f"{prefix}__credential"),
            client_id=self.text(f"{prefix}__clientId"),
            drop_container=names["PHOTO_DROP_CONTAINER"],
            rejected_container=names["PHOTO_REJECTED_CONTAINER"],
            processed_container=names["PHOTO_PROCESSED_CONTAINER"],
            state_table=names["PHOTO_STATE_TABLE"],
            processed_action=self.choice("PHOTO_PROCESSED_ACTION", Disposal, Disposal.KEEP),
            rejected_action=rejected,
            dry_run=self.flag("PHOTO_DRY_RUN"),
            delete_photo_on_blob_delete=self.flag("PHOTO_DELETE_ON_BLOB_DELETE"),
        )
        keeps_drops = storage.processed_action is storage.rejected_action is Disposal.KEEP
        if storage.delete_photo_on_blob_delete and not keeps_drops:
            self.problems.append(
                "PHOTO_DELETE_ON_BLOB_DELETE needs PHOTO_PROCESSED_ACTION=keep and "
                "PHOTO_REJECTED_ACTION=keep: photo-sync's own deletes and moves must not delete "
                "profile photos")
        if required and not storage.configured:
            self.problems.append(
                f"{prefix} (a connection string) or {prefix}__blobServiceUri and "
                f"{prefix}__tableServiceUri (identity-based) are required"
            )
        return storage

    def api(self) -> ApiSettings:
        d = ApiSettings()
        dialect = self.choice("PHOTO_API_DIALECT", Dialect, d.dialect)
        cloud = self.choice("PHOTO_CLOUD", Cloud, d.cloud)
        method = (self.text("PHOTO_UPLOAD_METHOD") or d.upload_method).upper()
        if method not in ("PATCH", "PUT"):
            self.problems.append(f"PHOTO_UPLOAD_METHOD={method!r} is not PATCH or PUT")
        ca_bundle = self.text("PHOTO_CA_BUNDLE")
        if ca_bundle and not os.path.isfile(ca_bundle):
            self.problems.append("PHOTO_CA_BUNDLE does not name a readable file")
        base_url, host = self.https_url("PHOTO_API_BASE_URL", default_base_url(dialect, cloud))
        if host in UNSUPPORTED_API_HOSTS:
            self.problems.append(f"PHOTO_API_BASE_URL is {host}, a Microsoft cloud photo-sync "
                                 "has no PHOTO_CLOUD for")
        served_by = API_HOSTS.get(host)
        if served_by is not None and served_by != (cloud, dialect):
            self.problems.append(
                f"PHOTO_API_BASE_URL is a {served_by[1].value} host of the {served_by[0].value} "
                f"cloud, but PHOTO_CLOUD={cloud.value} and PHOTO_API_DIALECT={dialect.value}: "
                "the token would be for another API, and sent to it")
        # a Microsoft host of another cloud or dialect is refused above, with its own reason
        expected = host if served_by else urlsplit(default_base_url(dialect, cloud)).hostname
        self.host_override("PHOTO_API_BASE_URL", "PHOTO_API_HOST_OVERRIDE", host, expected or "",
                           f"the app's token for the {dialect.value} API of the {cloud.value} "
                           "cloud")
        return ApiSettings(
            dialect=dialect,
            cloud=cloud,
            base_url=base_url,
            scope=default_scope(dialect, cloud),
            upload_method=method,
            connect_timeout=self.number("PHOTO_HTTP_CONNECT_TIMEOUT_SECONDS", d.connect_timeout,
                                        float, 0.1, 60),
            read_timeout=self.number("PHOTO_HTTP_READ_TIMEOUT_SECONDS", d.read_timeout, float,
                                     0.1, BUDGET.max_read_timeout, _FITS_FUNCTION_TIMEOUT),
            ca_bundle=ca_bundle,
        )

    def host_override(self, name: str, override_name: str, host: str, expected: str,
                      sent: str) -> None:
        """A credential goes wherever ``name`` points, so a host other than ``expected`` (the
        cloud's own: a look-alike such as ``graph.microsoft.com.evil.example``, a typo, a proxy,
        the local emulator) is refused unless ``override_name`` names exactly that host: sending
        ``sent`` elsewhere must be a second, deliberate setting, not a look-alike URL."""
        override = (self.text(override_name) or "").lower().rstrip(".")
        if not host:
            return  # the URL itself was refused; that problem is listed already
        if override and override != host:
            self.problems.append(
                f"{override_name} is {override!r} but {name}'s host is {host!r}: the override "
                f"must name the host {name} uses")
        elif host not in (expected, override):
            self.problems.append(
                f"{name}'s host {host!r} is not {expected}, and {sent} would be sent to it; to "
                f"use another host on purpose (an emulator, a proxy), also set "
                f"{override_name}={host}")

    def auth(self, cloud: Cloud) -> AuthSettings:
        mode = self.choice("PHOTO_AUTH_MODE", AuthMode, AuthMode.MANAGED_IDENTITY)
        credentials = [name for name in ("PHOTO_CLIENT_SECRET", "PHOTO_CLIENT_CERTIFICATE",
                                         "PHOTO_CLIENT_CERTIFICATE_PATH") if self.text(name)]
        if credentials and self.text("PHOTO_AUTH_MODE") is None:
            # The default, managed identity, would ignore them: say so instead of guessing.
            self.problems.append(
                f"{' and '.join(credentials)} set but PHOTO_AUTH_MODE is not: the default, "
                "managed_identity, would not use it; set PHOTO_AUTH_MODE=client_secret (or "
                "certificate), or remove it")
        if mode is AuthMode.MANAGED_IDENTITY:
            return AuthSettings(mode=mode, client_id=self.text("PHOTO_CLIENT_ID"))
        why = f"when PHOTO_AUTH_MODE is {mode.value}"
        tenant = self.required("PHOTO_TENANT_ID", why)
        if tenant and not _TENANT.fullmatch(tenant):
            self.problems.append(f"PHOTO_TENANT_ID={tenant!r} is not a tenant id or domain")
            tenant = None
        client_id = self.required("PHOTO_CLIENT_ID", why)
        default_authority = f"{CLOUD_ENDPOINTS[cloud].login}/{tenant or 'organizations'}"
        authority, host = self.https_url("PHOTO_AUTHORITY", default_authority)
        self.host_override("PHOTO_AUTHORITY", "PHOTO_AUTHORITY_HOST_OVERRIDE", host,
                           urlsplit(CLOUD_ENDPOINTS[cloud].login).hostname or "",
                           "the app's client secret or certificate assertion")
        secret = cert_path = cert_pem = None
        if mode is AuthMode.CLIENT_SECRET:
            secret = self.required("PHOTO_CLIENT_SECRET", why)
        else:
            cert_path = self.text("PHOTO_CLIENT_CERTIFICATE_PATH")
            cert_pem = self.text("PHOTO_CLIENT_CERTIFICATE")
            if not cert_path and not cert_pem:
                self.problems.append(
                    "PHOTO_CLIENT_CERTIFICATE_PATH or PHOTO_CLIENT_CERTIFICATE is required " + why
                )
            elif cert_path and not os.path.isfile(cert_path):
                self.problems.append("PHOTO_CLIENT_CERTIFICATE_PATH does not name a readable file")
        return AuthSettings(
            mode=mode,
            authority=authority,
            tenant_id=tenant,
            client_id=client_id,
            client_secret=secret,
            certificate_path=cert_path,
            certificate_pem=cert_pem,
            certificate_password=self.text("PHOTO_CLIENT_CERTIFICATE_PASSWORD"),
        )

    def naming(self, dialect: Dialect) -> NamingRules:
        domain = self.text("PHOTO_DEFAULT_DOMAIN")
        employee_ids = self.flag("PHOTO_EMPLOYEE_ID_MODE")
        mapping = self.text("PHOTO_ID_MAPPING_BLOB")
        if domain:
            probe = parse_user_reference(f"probe@{domain}")
            if not isinstance(probe, UserRef):
                self.problems.append(f"PHOTO_DEFAULT_DOMAIN is not a domain: {probe.message}")
        modes = [name for name, on in (("PHOTO_DEFAULT_DOMAIN", domain),
                                       ("PHOTO_EMPLOYEE_ID_MODE", employee_ids),
                                       ("PHOTO_ID_MAPPING_BLOB", mapping)) if on]
        if len(modes) > 1:
            self.problems.append(
                f"{' and '.join(modes)} cannot be set together: a bare name such as 123456 "
                "could then be an alias, an employee id or an HR id"
            )
        if employee_ids and dialect is not Dialect.GRAPH:
            self.problems.append("PHOTO_EMPLOYEE_ID_MODE needs PHOTO_API_DIALECT=graph")
        return NamingRules(default_domain=domain, employee_id_mode=employee_ids,
                           mapping_mode=bool(mapping))

    def directory(self) -> DirectorySettings:
        d = DirectorySettings()
        mapping = self.text("PHOTO_ID_MAPPING_BLOB")
        if mapping:
            container, _, path = mapping.partition("/")
            if not _CONTAINER_NAME.fullmatch(container) or not path:
                self.problems.append(
                    f"PHOTO_ID_MAPPING_BLOB={mapping!r} must be <container>/<path of the CSV>")
        return DirectorySettings(
            mapping_blob=mapping,
            mapping_cache_seconds=self.number("PHOTO_ID_MAPPING_CACHE_SECONDS",
                                              d.mapping_cache_seconds, float, 0, 86_400),
            employee_id_cache_seconds=self.number("PHOTO_EMPLOYEE_ID_CACHE_SECONDS",
                                                  d.employee_id_cache_seconds, float, 0, 86_400),
        )
