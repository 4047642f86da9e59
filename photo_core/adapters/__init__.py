"""Adapters: the ports implemented over Azure Storage, the photo API over HTTP, MSAL, and the
environment (proxies, CA bundles, local.settings.json)."""
