"""The whole local stack on one machine: Azurite, the photo API emulator, the functions host.

``LocalStack`` starts them in order, with a local webhook receiver for HR's notices (see
``devstack.webhook_receiver``), writes ``local.settings.json`` (Azurite and emulator values,
no real secrets: the Azurite key is its published development key and the emulator's client
secret is a demo value) the way Core Tools reads it, so ``func start`` works with the same file
where Core Tools is installed, and records what a second terminal needs in
``.devstack/stack.json`` (used by ``python -m devstack drop|lookup|status``).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from devstack.azurite import Azurite
from devstack.webhook_receiver import WebhookReceiver

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_STATE_DIR = REPO_ROOT / ".devstack"
STACK_FILE = "stack.json"
DROP_CONTAINER = "hr-photos"
#: The Python worker's thread pool, as the deployment sets it (PYTHON_THREADPOOL_THREAD_COUNT
#: in infra/modules/function-app.bicep): host.json's blob parallelism plus room for lookups.
#: The arithmetic is in docs/performance.md, "Concurrency per instance".
WORKER_THREADS = 12


def local_settings_values(connection_string: str, emulator: dict[str, Any],
                          webhook_url: str | None = None) -> dict[str, str]:
    """App settings for the local stack, in the names the deployed app uses; notices go to
    ``webhook_url`` (the stack's receiver) as Teams cards, when given."""
    notify = {"PHOTO_NOTIFY_WEBHOOK_URL": webhook_url, "PHOTO_NOTIFY_FORMAT": "teams"} \
        if webhook_url else {}
    return {
        "FUNCTIONS_WORKER_RUNTIME": "python",
        "PYTHON_THREADPOOL_THREAD_COUNT": str(WORKER_THREADS),
        "AzureWebJobsStorage": connection_string,
        "PhotoStorage": connection_string,
        "PHOTO_DROP_CONTAINER": DROP_CONTAINER,
        "PHOTO_API_BASE_URL": emulator["graph_base"],
        # the emulator is not Microsoft's Graph host: the token may go to it because this names it
        "PHOTO_API_HOST_OVERRIDE": urlsplit(emulator["graph_base"]).hostname or "",
        "PHOTO_AUTHORITY": emulator["authority"],
        # ... and its identity platform is not Microsoft's: the client secret may go to it too
        "PHOTO_AUTHORITY_HOST_OVERRIDE": urlsplit(emulator["authority"]).hostname or "",
        "PHOTO_CA_BUNDLE": emulator["ca_cert"],
        "PHOTO_AUTH_MODE": "client_secret",
        "PHOTO_TENANT_ID": emulator["tenant"],
        "PHOTO_CLIENT_ID": emulator["client_id"],
        "PHOTO_CLIENT_SECRET": emulator["client_secret"],
        "PHOTO_RETRY_BUDGET_SECONDS": "30",
        "PHOTO_RECONCILE_SCHEDULE": "0 0 2 * * *",
        # The timer bindings read these: they must be set, webhook or not.
        "PHOTO_NOTIFY_SCHEDULE": "0 * * * * *",
        "PHOTO_NOTIFY_DIGEST_SCHEDULE": "0 0 7 * * *",
        **notify,
    }


def write_local_settings(path: Path, values: dict[str, str]) -> None:
    """The app settings file: connection strings and the client secret, so owner-only. No
    ``Host.CORS``: nothing here calls the API from a browser, and ``*`` would let any web page
    the developer opens read the local stack's answers."""
    document = {"IsEncrypted": False, "Values": values}
    write_private(path, json.dumps(document, indent=2) + "\n")


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by its owner only (0600). The file is created with
    that mode (a temporary file beside it, then renamed over ``path``), so there is no moment
    at which the secrets are on disk readable by others, and an older world-readable file is
    replaced, not rewritten in place with its old mode."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@dataclass
class StackInfo:
    connection_string: str
    api_url: str
    base_url: str
    master_key: str
    function_keys: dict[str, str]
    drop_container: str
    emulator: dict[str, Any]
    webhook_control: str = ""  # the local webhook receiver's control routes (not its address)
    host_key: str = ""  # one key for every function-level route (a stack.json from before: none)

    def save(self, path: Path) -> None:
        """Keys and a connection string: owner-only, as local.settings.json."""
        write_private(path, json.dumps(self.__dict__, indent=2))

    @classmethod
    def load(cls, state_dir: Path = DEFAULT_STATE_DIR) -> StackInfo:
        path = state_dir / STACK_FILE
        if not path.exists():
            raise SystemExit("no local stack is running: start one with `make run`")
        return cls(**json.loads(path.read_text(encoding="utf-8")))


class LocalStack:
    """Start with ``start()``, stop with ``stop()`` (or use as a context manager).

    Each start is fresh: Azurite's folder is wiped, so a demo's outcomes do not depend on the
    previous run. The emulator keeps its generated CA between runs.
    """

    def __init__(self, state_dir: Path = DEFAULT_STATE_DIR, *, watch: bool = True,
                 settings_file: Path = REPO_ROOT / "local.settings.json",
                 extra_settings: dict[str, str] | None = None) -> None:
        self.state_dir = state_dir
        self.watch = watch
        self.settings_file = settings_file
        self.extra_settings = dict(extra_settings or {})
        self.azurite: Azurite | None = None
        self.receiver: WebhookReceiver | None = None
        self.emulator: Any = None
        self.host: Any = None
        self.info: StackInfo | None = None

    def start(self) -> StackInfo:
        from devstack.emulator.config import EmulatorConfig
        from devstack.emulator.server import start as start_emulator
        from devstack.host import start_host
        from photo_core.bootstrap import reset_app_services

        self.state_dir.mkdir(parents=True, exist_ok=True)
        azurite_dir = self.state_dir / "azurite"
        shutil.rmtree(azurite_dir, ignore_errors=True)
        self.azurite = Azurite(location=azurite_dir).start()
        self.emulator = start_emulator(EmulatorConfig(state_dir=self.state_dir / "emulator"))
        self.receiver = WebhookReceiver().start()
        settings_file = self.settings_file
        values = local_settings_values(self.azurite.connection_string, self.emulator.info,
                                       self.receiver.url)
        write_local_settings(settings_file, {**values, **self.extra_settings})
        _create_container(self.azurite.connection_string, DROP_CONTAINER)
        reset_app_services()  # the host reloads the app; its services must read these settings
        self.host = start_host(settings=settings_file, state_dir=self.state_dir / "host",
                               watch=self.watch)
        self.info = StackInfo(
            connection_string=self.azurite.connection_string,
            api_url=self.host.url(""),
            base_url=self.host.base_url,
            master_key=self.host.keys.master_key,
            function_keys=dict(self.host.keys.function_keys),
            drop_container=DROP_CONTAINER,
            emulator=dict(self.emulator.info),
            webhook_control=self.receiver.control_url,
            host_key=self.host.keys.host_key,
        )
        self.info.save(self.state_dir / STACK_FILE)
        return self.info

    def stop(self) -> None:
        for part in (self.host, self.receiver, self.emulator, self.azurite):
            if part is not None:
                part.stop()
        from photo_core.bootstrap import reset_app_services

        reset_app_services()
        (self.state_dir / STACK_FILE).unlink(missing_ok=True)

    def __enter__(self) -> LocalStack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _create_container(connection_string: str, name: str) -> None:
    from azure.core.exceptions import ResourceExistsError
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient.from_connection_string(connection_string)
    with contextlib.suppress(ResourceExistsError):
        service.create_container(name)
