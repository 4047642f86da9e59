"""A loopback TCP proxy the soak puts between the functions hosts and Azurite's table service,
so it can stall the state table for the product alone: the claims' renewals then time out one
after another, as they would behind a stalled connection or a storage front end that hangs,
while blobs and the hosts' own queues keep working.

While stalled, nothing moves: a request sent meanwhile hangs until its client gives up, and
when the stall ends the connection is cut with what it held, so nothing sent during a stall
ever reaches the table (and an answer the table sent just before it is lost on the way).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time

logger = logging.getLogger("devstack.soak")

_CHUNK = 65536


class StallableProxy:
    """Forwards every connection to ``127.0.0.1:target``; ``port`` is where it listens."""

    def __init__(self, target: int) -> None:
        self._target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._flowing = threading.Event()
        self._flowing.set()
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self.stalls: list[tuple[float, float]] = []  # monotonic (start, end) of each stall
        threading.Thread(target=self._accept, name="table-proxy", daemon=True).start()

    def stall(self, seconds: float) -> None:
        """Hold all traffic for ``seconds`` (blocks for as long)."""
        started = time.monotonic()
        logger.info("disruption: the state table stops answering for %.0f s", seconds)
        self._flowing.clear()
        try:
            self._closed.wait(seconds)
        finally:
            self._flowing.set()
            self.stalls.append((started, time.monotonic()))
            logger.info("disruption: the state table answers again")

    def close(self) -> None:
        self._closed.set()
        self._flowing.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            sockets, self._sockets = set(self._sockets), set()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self._target), timeout=10)
            except OSError:
                client.close()  # Azurite is down (restarting): the client sees a refusal
                continue
            upstream.settimeout(None)
            with self._lock:
                self._sockets |= {client, upstream}
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True,
                                 name="table-proxy-pump").start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(_CHUNK)
                if not data:
                    break
                if not self._flowing.is_set():
                    self._flowing.wait()
                    break  # it arrived during the stall: dropped with the connection
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                with self._lock:
                    self._sockets.discard(sock)
                with contextlib.suppress(OSError):
                    sock.close()
