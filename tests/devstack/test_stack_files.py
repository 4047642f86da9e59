"""The local stack's files hold keys and connection strings: owner-only, and no CORS."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from devstack.stack import StackInfo, local_settings_values, write_local_settings
from photo_core.settings import Settings

EMULATOR = {"graph_base": "https://127.0.0.1:8443/v1.0", "authority": "https://127.0.0.1:8443/t",
            "ca_cert": __file__, "tenant": "t", "client_id": "c", "client_secret": "s3cr3t"}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_local_settings_are_owner_only_and_allow_no_cross_origin_callers(tmp_path: Path) -> None:
    path = tmp_path / "local.settings.json"
    path.write_text("{}")
    path.chmod(0o644)  # an older stack's world-readable file is replaced, not kept
    write_local_settings(path, local_settings_values("UseDevelopmentStorage=true", EMULATOR))
    assert mode(path) == 0o600
    document = json.loads(path.read_text())
    assert "Host" not in document and "CORS" not in json.dumps(document)
    assert [p.name for p in tmp_path.iterdir()] == ["local.settings.json"]  # no temporary left


def test_stack_json_is_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "stack.json"
    StackInfo("UseDevelopmentStorage=true", "https://127.0.0.1:1/api", "https://127.0.0.1:1",
              "master-key", {"photo_lookup": "key"}, "hr-photos", EMULATOR).save(path)
    assert mode(path) == 0o600
    assert json.loads(path.read_text())["master_key"] == "master-key"


def test_the_stack_names_the_emulator_as_its_api_and_login_host_so_settings_accept_it() -> None:
    values = local_settings_values("UseDevelopmentStorage=true", EMULATOR)
    assert values["PHOTO_API_HOST_OVERRIDE"] == "127.0.0.1"
    assert values["PHOTO_AUTHORITY_HOST_OVERRIDE"] == "127.0.0.1"
    settings = Settings.from_env(values)
    assert settings.api.base_url == EMULATOR["graph_base"]
    assert settings.auth.authority == EMULATOR["authority"]
