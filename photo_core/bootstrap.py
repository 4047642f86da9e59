"""Composition root: the only place that builds clients from settings.

Entry points (the function app, the CLI, the devstack) call ``bootstrap()`` once per process and
keep the result, so the HTTP connection pool and the token cache live across invocations. Nothing
here runs at import time.
"""

from __future__ import annotations

from dataclasses import dataclass

import requests
from requests.adapters import HTTPAdapter

from photo_core.auth import MsalTokenProvider, TokenProvider
from photo_core.photo_api import HttpPhotoApi, PhotoApi
from photo_core.retry import SystemClock, system_random
from photo_core.settings import ApiSettings, Settings

POOL_CONNECTIONS = 4
POOL_MAXSIZE = 32  # above the host's blob parallelism, so no request waits for a connection


@dataclass(frozen=True)
class Services:
    settings: Settings
    session: requests.Session
    tokens: TokenProvider
    photo_api: PhotoApi


def build_session(api: ApiSettings) -> requests.Session:
    """One pooled session for the photo API and the identity platform.

    With a private CA (the local emulator), ``trust_env`` is turned off: requests otherwise lets
    ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` from the environment replace ``Session.verify``,
    and the configured CA would silently not be used. Retries are ours, not urllib3's.
    """
    session = requests.Session()
    if api.ca_bundle:
        session.trust_env = False
        session.verify = api.ca_bundle
    adapter = HTTPAdapter(pool_connections=POOL_CONNECTIONS, pool_maxsize=POOL_MAXSIZE,
                          max_retries=0)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = "photo-sync/0.1"
    return session


def bootstrap(settings: Settings | None = None) -> Services:
    """Wire settings and adapters. Reads the environment when no settings are given."""
    settings = settings or Settings.from_env()
    session = build_session(settings.api)
    tokens = MsalTokenProvider(settings.auth, settings.api, session)
    api = HttpPhotoApi(
        session=session,
        tokens=tokens,
        api=settings.api,
        retry=settings.retry,
        clock=SystemClock(),
        rand=system_random,
    )
    return Services(settings=settings, session=session, tokens=tokens, photo_api=api)
