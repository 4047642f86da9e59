"""Storage clients for the host, built from app settings the way the Functions host reads them.

Two kinds of connection matter. ``AzureWebJobsStorage`` is the host's own account (its blob
trigger queue, the poison queue and blob receipts). A binding's ``connection`` (``PhotoStorage``)
is resolved by the blob extension itself (``PhotoStorage`` as a connection string, else
``PhotoStorage__blobServiceUri`` / ``__serviceUri`` with a managed identity), so the watcher and
the ``InputStream``/``bytes`` arguments use the extension's own factory and see exactly the
account the function sees. Locally these settings hold Azurite's full connection string: the
Python SDK does not understand ``UseDevelopmentStorage=true``, which the host therefore expands
to Azurite's default ports for its own clients only.
"""

from __future__ import annotations

import importlib
import os
from typing import Any, cast

from azure.storage.blob import BlobServiceClient
from azure.storage.blob import ExponentialRetry as BlobRetry
from azure.storage.queue import ExponentialRetry as QueueRetry

from devstack.azurite import dev_connection_string
from photo_core.adapters.http_env import sdk_options

HOST_STORAGE = "AzureWebJobsStorage"
#: ``UseDevelopmentStorage=true``: Azurite on its default ports.
_DEFAULT_DEV_STORAGE = dev_connection_string("127.0.0.1", 10000, 10001, 10002)


class StorageSettingError(ValueError):
    """A connection setting is missing or cannot be used by the local host."""


def connection_string(setting: str) -> str:
    """The connection string held by ``setting`` (expanding ``UseDevelopmentStorage=true``)."""
    value = os.environ.get(setting, "").strip()
    if not value:
        hint = (" (identity-based connections such as "
                f"{setting}__blobServiceUri need Azure; locally use Azurite's connection string)")
        raise StorageSettingError(f"app setting '{setting}' is not set{hint}")
    if value.replace(" ", "").lower().startswith("usedevelopmentstorage=true"):
        return _DEFAULT_DEV_STORAGE
    return value


def blob_retry() -> BlobRetry:
    """Retries for the host's own blob calls: the SDK's default waits 15 s before the first
    retry, which turns a one-second Azurite restart into a long stall of the watcher."""
    return BlobRetry(initial_backoff=1, increment_base=2, retry_total=5, random_jitter_range=1)


def queue_retry() -> QueueRetry:
    """The same for the host's queue calls."""
    return QueueRetry(initial_backoff=1, increment_base=2, retry_total=5, random_jitter_range=1)


def watch_blob_service(connection: str) -> BlobServiceClient:
    """The client the watcher lists with: the binding's account, with the host's retries when
    the setting is a connection string (else the extension's own factory)."""
    value = os.environ.get(connection, "")
    if "AccountName=" in value or "BlobEndpoint=" in value:
        return BlobServiceClient.from_connection_string(value, retry_policy=blob_retry(),
                                                        **sdk_options())
    return binding_blob_service(connection)


def binding_blob_service(connection: str) -> BlobServiceClient:
    """The BlobServiceClient for a binding's connection, made by the blob extension's factory."""
    try:
        utils = importlib.import_module("azurefunctions.extensions.bindings.blob.utils")
    except ImportError:
        return BlobServiceClient.from_connection_string(connection_string(connection))
    try:
        client: Any = utils.service_client_factory(connection)
    except ValueError as exc:
        raise StorageSettingError(str(exc)) from None
    return cast(BlobServiceClient, client)
