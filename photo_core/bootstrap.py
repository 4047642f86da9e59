"""Composition root: the only place that builds clients from settings.

Entry points (the function app, the CLI, the devstack) call ``bootstrap()`` or ``app_services()``
once per process and keep the result, so the HTTP connection pool and the token cache live across
invocations. Nothing here runs at import time.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import requests
from requests.adapters import HTTPAdapter

from photo_core.adapters.auth import MsalTokenProvider
from photo_core.adapters.http_env import NetworkEnv, sdk_options
from photo_core.adapters.photo_api import HttpPhotoApi, TokenProvider
from photo_core.adapters.photo_api_settings import ApiSettings
from photo_core.domain import clock as clocks
from photo_core.domain.budget import BUDGET, TimeBudget
from photo_core.domain.clock import Clock
from photo_core.domain.retry import Deadline, system_random
from photo_core.settings import Settings, StorageSettings
from photo_core.use_cases.directory import Resolver, UserResolver
from photo_core.use_cases.drop_context import SyncOptions
from photo_core.use_cases.lookup import LookupResult
from photo_core.use_cases.lookup_cache import LookupCache
from photo_core.use_cases.ports import OutcomeLog, PhotoApi, StateStore
from photo_core.use_cases.turns import Turns

if TYPE_CHECKING:
    from azure.data.tables import TableClient
    from azure.storage.blob import BlobServiceClient, ContainerClient
    from azure.storage.queue import QueueClient

    from photo_core.use_cases.notifier import NotifyDeps

POOL_CONNECTIONS = 4
POOL_MAXSIZE = 32  # above the host's blob parallelism, so no request waits for a connection


@dataclass(frozen=True)
class Services:
    settings: Settings
    session: requests.Session
    tokens: TokenProvider
    photo_api: PhotoApi
    # The process's one clock: the photo API client's too, so deadlines are measured on the
    # clock it reads.
    clock: Clock

    def lookup_deadline(self) -> Deadline:
        """A deadline for one lookup request: ``PHOTO_LOOKUP_BUDGET_SECONDS`` from now."""
        return Deadline.after(self.settings.lookup_budget_seconds, self.clock)

    def drop_deadline(self) -> Deadline:
        """A deadline for one drop's photo API calls together: ``PHOTO_RETRY_BUDGET_SECONDS``
        from now. An employee or HR id drop makes two calls (resolve, upload); each waiting out
        a budget of its own could outlast the function timeout, and the host would kill the
        drop mid-upload instead of it raising for a clean redelivery."""
        return Deadline.after(self.settings.retry.budget_seconds, self.clock)


@dataclass(frozen=True)
class AppServices(Services):
    state: StateStore
    log: OutcomeLog
    resolver: UserResolver
    lookup_cache: LookupCache[LookupResult]
    table: TableClient
    blobs: BlobServiceClient  # one pool and credential for every container
    drop_container: ContainerClient
    sync_options: SyncOptions
    # The drops of this process waiting for each user's claim, shared by its invocations.
    turns: Turns


def build_session(api: ApiSettings) -> requests.Session:
    """One pooled session for the photo API and the identity platform.

    With a private CA (the local emulator), ``trust_env`` is turned off: requests otherwise lets
    ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` from the environment replace ``Session.verify``,
    and the configured CA would silently not be used. Without one, the environment is read once
    (:mod:`photo_core.adapters.http_env`). Retries are ours, not urllib3's.
    """
    session = requests.Session()
    network = NetworkEnv.read()
    if api.ca_bundle:
        session.trust_env = False
        session.verify = api.ca_bundle
    elif not network.trust_env:  # no proxy configured: skip the per-request environment walk
        session.trust_env = False
        session.verify = network.ca_bundle or True
    adapter = HTTPAdapter(pool_connections=POOL_CONNECTIONS, pool_maxsize=POOL_MAXSIZE,
                          max_retries=0)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = "photo-sync/0.1"
    return session


#: The storage SDK logs every request and response, headers included, at INFO: the level the
#: Python worker sets on the root logger and ships to Application Insights. A dozen such lines
#: per drop would drown its own and be paid for; its warnings and errors still come through.
SDK_REQUEST_LOGGER = "azure.core.pipeline.policies.http_logging_policy"


def bootstrap(settings: Settings | None = None) -> Services:
    """Wire the photo API client. Reads the environment when no settings are given."""
    settings = settings or Settings.from_env()
    logging.getLogger(SDK_REQUEST_LOGGER).setLevel(logging.WARNING)
    session = build_session(settings.api)
    tokens = MsalTokenProvider(settings.auth, settings.api, session)
    clock = clocks.SYSTEM_CLOCK  # read here, not at import: a local host may set its own
    api = HttpPhotoApi(
        session=session,
        tokens=tokens,
        api=settings.api,
        retry=settings.retry,
        clock=clock,
        rand=system_random,
    )
    return Services(settings=settings, session=session, tokens=tokens, photo_api=api,
                    clock=clock)


def bootstrap_app(settings: Settings | None = None) -> AppServices:
    """Everything the function app needs: the photo API plus storage-backed state."""
    from photo_core.adapters.outcome_log import TableOutcomeLog
    from photo_core.adapters.state_table import TableStateStore

    settings = settings or Settings.from_env(require_storage=True)
    core = bootstrap(settings)
    table = build_table_client(settings.storage)
    storage = settings.storage
    options = SyncOptions(
        naming=settings.naming,
        image=settings.image,
        processed=storage.processed_action,
        processed_container=storage.processed_container,
        rejected=storage.rejected_action,
        rejected_container=storage.rejected_container,
        dry_run=storage.dry_run,
        delete_on_blob_delete=storage.delete_photo_on_blob_delete,
    )
    blobs = build_blob_service(storage)
    directory = settings.directory
    mapping = None
    if directory.mapping_blob:
        from photo_core.adapters.blob_drop import mapping_fetcher

        container, _, path = directory.mapping_blob.partition("/")
        mapping = mapping_fetcher(blobs.get_container_client(container), path)
    resolver = Resolver(core.photo_api, employee_ttl=directory.employee_id_cache_seconds,
                        mapping=mapping, mapping_ttl=directory.mapping_cache_seconds,
                        clock=core.clock)
    return AppServices(
        settings=settings, session=core.session, tokens=core.tokens, photo_api=core.photo_api,
        clock=core.clock, state=TableStateStore(table), log=TableOutcomeLog(table),
        resolver=resolver,
        lookup_cache=LookupCache(settings.lookup_cache_seconds, clock=core.clock), table=table,
        blobs=blobs, drop_container=blobs.get_container_client(storage.drop_container),
        sync_options=options, turns=Turns(core.clock),
    )


def build_table_client(storage: StorageSettings, budget: TimeBudget = BUDGET) -> TableClient:
    """Table client for the state table: a connection string locally, a managed identity in
    Azure (``PhotoStorage__credential=managedidentity`` and optionally ``__clientId``). Its
    timeouts and retries are the budget's: a claim is renewed through it, and a call that hangs
    for the SDK's default minutes would let the claim lapse under its holder."""
    from azure.data.tables import TableClient

    options = {**sdk_options(), "connection_timeout": budget.storage_connect_timeout,
               "read_timeout": budget.storage_read_timeout,
               "retry_total": budget.storage_retries}
    if storage.connection_string:
        return TableClient.from_connection_string(storage.connection_string, storage.state_table,
                                                  **options)
    assert storage.table_service_uri, "validated by settings"
    return TableClient(storage.table_service_uri, storage.state_table,
                       credential=_identity_credential(storage), **options)


def build_blob_service(storage: StorageSettings) -> BlobServiceClient:
    """The blob service client on the same connection as the blob trigger's ``PhotoStorage``.
    Container and blob clients taken from it share its connection pool and credential."""
    from azure.storage.blob import BlobServiceClient

    if storage.connection_string:
        return BlobServiceClient.from_connection_string(storage.connection_string,
                                                        **sdk_options())
    assert storage.blob_service_uri, "validated by settings"
    return BlobServiceClient(storage.blob_service_uri, credential=_identity_credential(storage),
                             **sdk_options())


def build_container_client(storage: StorageSettings, container: str) -> ContainerClient:
    """A container client on the same connection as the blob trigger's ``PhotoStorage``."""
    return build_blob_service(storage).get_container_client(container)


def _identity_credential(storage: StorageSettings) -> Any:
    from azure.identity import DefaultAzureCredential, ManagedIdentityCredential

    if (storage.credential or "").lower() == "managedidentity":
        if storage.client_id:
            return ManagedIdentityCredential(client_id=storage.client_id)
        return ManagedIdentityCredential()
    return DefaultAzureCredential()


def build_notify(app: AppServices) -> NotifyDeps:
    """The notifier's dependencies, on the app's own table, containers and clock. The webhook's
    address is blanked in urllib3's debug log before its first request."""
    from photo_core.adapters.blob_drop import AzureDropSource
    from photo_core.adapters.notice_table import TableNoticeBook
    from photo_core.adapters.webhook import HttpWebhook, redact_in_http_logs
    from photo_core.domain.notices import NoticeKind
    from photo_core.use_cases.notifier import NotifyDeps

    notify = app.settings.notify
    webhook = None
    if notify.webhook_url:
        redact_in_http_logs(notify.webhook_url)
        # A session of its own: the photo API's may trust only the emulator's CA.
        webhook = HttpWebhook(build_session(ApiSettings()), notify.webhook_url, notify.retry,
                              (notify.connect_timeout, notify.read_timeout), app.clock,
                              system_random)
    poison = None
    if notify.enabled and NoticeKind.POISON in notify.kinds:
        from photo_core.adapters.poison_queue import QueuePoisonSource

        storage = app.settings.storage
        poison = QueuePoisonSource(build_poison_queue(storage), storage.drop_container)
    return NotifyDeps(log=app.log, book=TableNoticeBook(app.table), webhook=webhook,
                      now=app.clock.now, poison=poison, state=app.state,
                      drops=AzureDropSource(app.drop_container, app.blobs.get_container_client))


def build_poison_queue(storage: StorageSettings) -> QueueClient:
    """The blob trigger's poison queue, on the ``PhotoStorage`` connection (the deployment
    points it and ``AzureWebJobsStorage``, where the host keeps the queue, at one account)."""
    from azure.storage.queue import QueueClient

    from photo_core.adapters.poison_queue import POISON_QUEUE

    if storage.connection_string:
        return QueueClient.from_connection_string(storage.connection_string, POISON_QUEUE,
                                                  **sdk_options())
    assert storage.queue_service_uri, "validated by settings"
    return QueueClient(storage.queue_service_uri, POISON_QUEUE,
                       credential=_identity_credential(storage), **sdk_options())


_services: AppServices | None = None
_services_lock = threading.Lock()
_notify: NotifyDeps | None = None


def app_services() -> AppServices:
    """The process-wide services, built on first use (never at import: in Functions an import
    failure would silently remove every function)."""
    global _services
    if _services is None:
        with _services_lock:
            if _services is None:
                _services = bootstrap_app()
    return _services


def notify_services() -> NotifyDeps:
    """The process-wide notifier dependencies, built on first use like ``app_services``."""
    global _notify
    if _notify is None:
        services = app_services()
        with _services_lock:
            if _notify is None:
                _notify = build_notify(services)
    return _notify


def reset_app_services() -> None:
    """Forget the process-wide services, so the next call reads settings again (for hosts that
    reload the app with new settings, and for tests)."""
    global _services, _notify
    with _services_lock:
        _services = None
        _notify = None
