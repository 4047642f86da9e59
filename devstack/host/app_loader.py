"""Find, import and index the function app (``module:attribute``, default ``function_app:app``).

The app folder (where host.json and local.settings.json live, as for Core Tools) is found
without importing the module, because the settings must be in the environment before the
import: the app may read them at import time. ``get_functions()`` can be called only once per
app object, so when the module was imported before (a test that starts a second host in the
same process), it is reloaded to get a fresh app object.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

import azure.functions as func

from devstack.host.bindings import BindingError, FunctionSpec, read_function
from devstack.host.routes import RouteError
from devstack.host.settings import SettingsError
from devstack.host.timers import ScheduleError

logger = logging.getLogger(__name__)


class AppLoadError(RuntimeError):
    """The app cannot be found or imported, or is not a FunctionApp."""


@dataclass(frozen=True)
class LoadedApp:
    functions: list[FunctionSpec]
    disabled: dict[str, str]  # function name -> why the local host cannot run it


def split_reference(reference: str) -> tuple[str, str]:
    module, _, attribute = reference.partition(":")
    if not module:
        raise AppLoadError(f"--app {reference!r} must look like module:attribute")
    return module, attribute or "app"


def app_directory(reference: str) -> Path:
    """The folder of the app's module, located without importing it."""
    module, _ = split_reference(reference)
    if "" not in sys.path and str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))  # `python -m` does this; embedding may not
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError) as exc:
        raise AppLoadError(f"cannot find the app module {module!r}: {exc}") from None
    if spec is None or spec.origin is None:
        raise AppLoadError(f"cannot find the app module {module!r} (run from the app's folder)")
    return Path(spec.origin).resolve().parent


def load_app(reference: str) -> LoadedApp:
    """Import the app and read every function's bindings."""
    module_name, attribute = split_reference(reference)
    try:
        reload = module_name in sys.modules
        module = importlib.import_module(module_name)
        if reload:
            module = importlib.reload(module)
    except Exception as exc:
        logger.exception("Importing %s failed", module_name)
        raise AppLoadError(f"importing {module_name!r} failed: {exc}") from exc
    app = getattr(module, attribute, None)
    if not isinstance(app, func.FunctionApp):
        raise AppLoadError(f"{reference}: {attribute!r} is not an azure.functions.FunctionApp")
    functions: list[FunctionSpec] = []
    disabled: dict[str, str] = {}
    for function in app.get_functions():
        try:
            functions.append(read_function(function))
        except (BindingError, RouteError, ScheduleError, SettingsError) as exc:
            name = function.get_function_name() or "?"
            disabled[name] = str(exc)
            logger.error("Function '%s' is disabled: %s", name, exc)  # a reason, no traceback
    return LoadedApp(functions, disabled)
