"""An overall time limit for one HTTP request, which requests' timeouts alone do not give.

requests' read timeout bounds each wait for the next bytes, not the whole answer: a server that
trickles one byte a second (status line, headers or body) holds a request for as long as it
likes. Inside a ``deadline(seconds)`` block, a session with a ``DeadlineAdapter`` mounted has
its connections shut down when the time is up, from a timer thread: the blocked read ends at
once, the request fails, and ``Watch.fired`` says why. The connection classes only enlist their
sockets with the block's watch; nothing else about a request changes. (A SOCKS proxy's
connections are not watched: they keep the read timeout alone.)
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool


class Watch:
    """The sockets of one block's requests, shut down together when its time is up."""

    def __init__(self, seconds: float) -> None:
        self.fired = False
        self._lock = threading.Lock()
        self._watched: list[tuple[HTTPConnection, socket.socket | None]] = []
        self._timer = threading.Timer(max(0.0, seconds), self._fire)
        self._timer.daemon = True

    def enlist(self, connection: HTTPConnection, sock: socket.socket | None) -> None:
        with self._lock:
            self._watched.append((connection, sock))
            fired = self.fired
        if fired:  # a connection made after the deadline gets no time at all
            _shut(connection.sock, sock)

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            watched = list(self._watched)
        for connection, sock in watched:
            _shut(connection.sock, sock)


def _shut(*sockets: socket.socket | None) -> None:
    """Shut a socket down under any TLS layer (``SSLSocket.shutdown`` would first drop the TLS
    state another thread is reading through); a blocked read then returns at once."""
    for sock in sockets:
        if sock is not None:
            with suppress(OSError):  # already closed, or never connected
                socket.socket.shutdown(sock, socket.SHUT_RDWR)


_current: ContextVar[Watch | None] = ContextVar("photo_sync_http_watch", default=None)


@contextmanager
def deadline(seconds: float) -> Iterator[Watch]:
    """Requests made in this block through a ``DeadlineAdapter`` end within ``seconds``."""
    watch = Watch(seconds)
    token = _current.set(watch)
    watch._timer.start()
    try:
        yield watch
    finally:
        watch._timer.cancel()
        _current.reset(token)


def _enlist(connection: HTTPConnection, sock: socket.socket | None) -> None:
    watch = _current.get()
    if watch is not None:
        watch.enlist(connection, sock)


class _WatchedHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _enlist(self, sock)  # before a TLS handshake, which can trickle too
        return sock

    def request(self, *args: Any, **kwargs: Any) -> None:
        _enlist(self, None)  # a kept-alive connection, made in an earlier block
        super().request(*args, **kwargs)


class _WatchedHTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _enlist(self, sock)
        return sock

    def request(self, *args: Any, **kwargs: Any) -> None:
        _enlist(self, None)
        super().request(*args, **kwargs)


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_POOLS: dict[str, type[HTTPConnectionPool]] = {"http": _WatchedHTTPPool,
                                               "https": _WatchedHTTPSPool}


class DeadlineAdapter(HTTPAdapter):
    """requests' adapter (no retries of its own) whose connections a ``deadline`` block can
    cut off."""

    def __init__(self) -> None:
        super().__init__(pool_connections=1, pool_maxsize=2, max_retries=0)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if not proxy.lower().startswith("socks"):
            manager.pool_classes_by_scheme = _POOLS
        return manager
