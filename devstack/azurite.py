"""Run Azurite (Microsoft's Storage emulator, pinned in package.json) for the devstack and tests.

Azurite stands in for the storage account locally: the drop container, the host's queues and
blob receipts, and the state table. It is started on free loopback ports (port 0; the chosen
ports are read from what Azurite prints), so parallel test runs and a developer's own Azurite
never collide. ``restart()`` keeps the ports and the data folder, because soak tests stop and
restart storage under a running host and expect it to come back at the same address with its
data. Without ``location`` the data lives in a temporary folder that survives restarts of the
same ``Azurite`` object and is removed by ``stop()``.
"""

from __future__ import annotations

import collections
import os
import re
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path
from types import TracebackType

from devstack.procs import terminate

#: The storage emulators' published development account (documented by Microsoft; not a secret).
DEV_ACCOUNT = "devstoreaccount1"
DEV_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
_REPO_ROOT = Path(__file__).resolve().parent.parent
_LISTENING = re.compile(
    r"Azurite (Blob|Queue|Table) service is successfully listening at https?://[^\s:]+:(\d+)"
)


def dev_connection_string(host: str, blob_port: int, queue_port: int, table_port: int) -> str:
    """The development account's full connection string for Azurite at these ports."""
    return (
        f"DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT};AccountKey={DEV_KEY};"
        f"BlobEndpoint=http://{host}:{blob_port}/{DEV_ACCOUNT};"
        f"QueueEndpoint=http://{host}:{queue_port}/{DEV_ACCOUNT};"
        f"TableEndpoint=http://{host}:{table_port}/{DEV_ACCOUNT};"
    )


_LOGGED_REQUEST = re.compile(r"ContextMiddleware: RequestMethod=(\w+) RequestURL=\w+://[^/\s]+(/\S*)")


def logged_requests(debug_log: Path, offset: int = 0) -> list[tuple[str, str]]:
    """``(method, path and query)`` of every request Azurite wrote to ``debug_log`` after byte
    ``offset`` (take ``debug_log.stat().st_size`` before the requests to count)."""
    with debug_log.open("rb") as handle:
        handle.seek(offset)
        text = handle.read().decode("utf-8", "replace")
    return [(m.group(1), m.group(2)) for m in _LOGGED_REQUEST.finditer(text)]


class AzuriteError(RuntimeError):
    """Azurite could not be found, did not start in time, or died while starting."""


class Azurite:
    """One Azurite process with blob, queue and table services on loopback.

    Use as a context manager, or call ``start()`` and ``stop()``. ``connection_string`` is valid
    once started and stays valid across ``restart()``.
    """

    def __init__(
        self,
        location: Path | None = None,
        *,
        root: Path = _REPO_ROOT,
        host: str = "127.0.0.1",
        startup_timeout: float = 30.0,
        debug_log: Path | None = None,
    ) -> None:
        self._executable = root / "node_modules" / ".bin" / "azurite"
        self._given_location = location
        self._location: Path | None = location
        self._temp_location = False
        self.host = host
        self.startup_timeout = startup_timeout
        self.debug_log = debug_log  # Azurite's own log of every request, when set
        self.ports: dict[str, int] = {"Blob": 0, "Queue": 0, "Table": 0}
        self._process: subprocess.Popen[str] | None = None
        self._output: collections.deque[str] = collections.deque(maxlen=200)
        self._reader: threading.Thread | None = None
        self._listening: set[str] = set()

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> Azurite:
        """Start Azurite and wait until all three services listen; return self."""
        if self._process is not None:
            raise AzuriteError("Azurite is already running")
        if not os.access(self._executable, os.X_OK):
            raise AzuriteError(
                f"Azurite is not installed ({self._executable} is missing): run `make` or "
                "`npm ci` in the repository root"
            )
        if self._location is None:
            self._location = Path(tempfile.mkdtemp(prefix="azurite-"))
            self._temp_location = True
        self._location.mkdir(parents=True, exist_ok=True)
        command = [
            str(self._executable),
            "--location", str(self._location),
            "--blobHost", self.host, "--blobPort", str(self.ports["Blob"]),
            "--queueHost", self.host, "--queuePort", str(self.ports["Queue"]),
            "--tableHost", self.host, "--tablePort", str(self.ports["Table"]),
            "--skipApiVersionCheck", "--loose", "--silent", "--disableTelemetry",
        ]
        if self.debug_log is not None:
            command += ["--debug", str(self.debug_log)]
        self._output.clear()
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # a Ctrl-C in the terminal is ours to forward, not Node's
        )
        ready = threading.Event()
        self._listening.clear()
        self._reader = threading.Thread(
            target=self._read_output, args=(self._process, ready), name="azurite-output",
            daemon=True,
        )
        self._reader.start()
        finished = ready.wait(self.startup_timeout)
        if not (finished and len(self._listening) == 3):
            self.stop(remove_temp=False)
            what = "exited while starting" if finished else (
                f"did not start within {self.startup_timeout:.0f}s")
            raise AzuriteError(f"Azurite {what}; its output:\n{self.output()}")
        return self

    def stop(self, *, timeout: float = 10.0, remove_temp: bool = True) -> None:
        """Stop Azurite gracefully (it saves its data on SIGTERM), then kill if it hangs."""
        process, self._process = self._process, None
        terminate(process, timeout, kill_wait=timeout)
        if process is not None and process.stdout is not None:
            if self._reader is not None:
                self._reader.join(timeout)
            process.stdout.close()
        if remove_temp and self._temp_location and self._location is not None:
            shutil.rmtree(self._location, ignore_errors=True)
            self._location = self._given_location
            self._temp_location = False
            self.ports = {"Blob": 0, "Queue": 0, "Table": 0}

    def restart(self) -> None:
        """Stop and start again on the same ports with the same data folder."""
        self.stop(remove_temp=False)
        self.start()

    def __enter__(self) -> Azurite:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- what clients need ----------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def location(self) -> Path | None:
        return self._location

    def endpoint(self, service: str) -> str:
        """``http://127.0.0.1:<port>/devstoreaccount1`` for "Blob", "Queue" or "Table"."""
        port = self.ports[service]
        if not port:
            raise AzuriteError("Azurite has not been started")
        return f"http://{self.host}:{port}/{DEV_ACCOUNT}"

    @property
    def connection_string(self) -> str:
        """A full connection string; ``UseDevelopmentStorage=true`` cannot carry our ports."""
        if not all(self.ports.values()):
            raise AzuriteError("Azurite has not been started")
        return dev_connection_string(self.host, self.ports["Blob"], self.ports["Queue"],
                                     self.ports["Table"])

    def output(self) -> str:
        """The last lines Azurite printed (for error messages)."""
        return "\n".join(self._output)

    def _read_output(self, process: subprocess.Popen[str], ready: threading.Event) -> None:
        """Drain Azurite's output (so its pipe never fills) and note the ports it listens on."""
        assert process.stdout is not None
        for line in process.stdout:
            self._output.append(line.rstrip())
            match = _LISTENING.search(line)
            if match:
                self.ports[match.group(1)] = int(match.group(2))
                self._listening.add(match.group(1))
                if len(self._listening) == 3:
                    ready.set()
        ready.set()  # the process ended: let start() report it at once rather than time out

