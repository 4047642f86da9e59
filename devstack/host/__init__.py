"""photo-sync's local Azure Functions host: a stand-in for Core Tools' host, not for Azure's.

Core Tools cannot be installed everywhere (its installer downloads a binary), so the devstack
runs the same ``function_app.py`` with this small host, anywhere Python runs: HTTP triggers
with function keys under ``/api``, blob triggers fed by Event Grid ``BlobCreated`` deliveries
(with a durable queue in Azurite, blob receipts and a poison queue), Event Grid triggers on
their own webhook, a watcher that turns new and deleted Azurite blobs into such deliveries
(``BlobCreated``, ``BlobDeleted``), and timers. See ``docs/functions-host.md``.

Embed it with ``start_host(...)`` (returns a ``RunningHost``) or run ``python -m devstack.host``.
Importing this package performs no I/O.
"""

from devstack.host.runtime import RunningHost, start_host

__all__ = ["RunningHost", "start_host"]
