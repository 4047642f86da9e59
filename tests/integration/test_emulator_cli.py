"""Starting the emulator: the CLI, its start-up JSON, certificates, signals, in-process use."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests

from devstack.emulator.config import EmulatorConfig
from devstack.emulator.demo import DEMO_TENANT
from devstack.emulator.server import start
from tests.integration.emulator_fixture import (
    REPO_ROOT,
    client_token,
    emulator_session,
    start_emulator,
)

pytest_plugins = ["tests.integration.emulator_fixture"]
pytestmark = pytest.mark.integration

REQUIRED_FIELDS = {
    "graph_base", "outlook_base", "authority", "tenant", "ca_cert", "client_id", "client_secret",
    "client_cert", "client_cert_thumbprint", "identity_endpoint", "identity_header",
    "mi_client_id", "admin_base", "port", "pid", "full_client_id", "full_client_secret",
    "noroles_client_id", "noroles_client_secret",
}


def test_start_up_json_certificates_reuse_and_sigterm(tmp_path: Path) -> None:
    with start_emulator(tmp_path) as first:
        assert set(first) >= REQUIRED_FIELDS
        port = first["port"]
        assert first["graph_base"] == f"https://127.0.0.1:{port}/v1.0"
        assert first["outlook_base"] == f"https://127.0.0.1:{port}/api/v2.0"
        assert first["authority"] == f"https://127.0.0.1:{port}/{DEMO_TENANT}"
        assert first["identity_endpoint"] == f"https://127.0.0.1:{port}/msi/token"
        assert first["admin_base"] == f"https://127.0.0.1:{port}/admin"
        assert Path(first["ca_cert"]).is_absolute()
        assert first["client_cert_thumbprint"] == first["client_cert_thumbprint"].upper()
        assert len(first["client_cert_thumbprint"]) == 40
        pem = Path(first["client_cert"]).read_text(encoding="ascii")
        assert pem.index("PRIVATE KEY") < pem.index("BEGIN CERTIFICATE")
        ca_before = Path(first["ca_cert"]).read_bytes()
        proc = first.process
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    with start_emulator(tmp_path) as second:
        assert Path(second["ca_cert"]).read_bytes() == ca_before
        assert second["client_cert_thumbprint"] == first["client_cert_thumbprint"]
        assert second["identity_header"] != first["identity_header"]
        # Tokens signed before the restart still verify: the signing key was reused too.
        with emulator_session(second) as s:
            assert s.get(second["jwks_uri"], timeout=10).json()["keys"]
        proc = second.process
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0


@pytest.fixture(scope="module")
def shared_state(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """One state directory for this module's instances: certificates are made only once."""
    return ["--state-dir", str(tmp_path_factory.mktemp("cli-state"))]


def test_printed_json_alone_is_enough(tmp_path: Path, shared_state: list[str]) -> None:
    """What a curl user does: --cacert ca_cert, token endpoint, then Graph."""
    with start_emulator(tmp_path, *shared_state, "--throttle-rate", "1",
                        "--throttle-retry-after", "9", "--retry-after-format", "seconds") as info:
        token = requests.post(
            info["token_endpoint"], verify=info["ca_cert"], timeout=10,
            data={"grant_type": "client_credentials", "client_id": info["client_id"],
                  "client_secret": info["client_secret"],
                  "scope": "https://graph.microsoft.com/.default"},
        )
        session = requests.Session()
        session.trust_env = False  # REQUESTS_CA_BUNDLE would override verify=
        r = session.get(f"{info['graph_base']}/users/adele.vance@contoso.com/photo",
                        verify=info["ca_cert"], timeout=10,
                        headers={"Authorization": f"Bearer {token.json()['access_token']}"})
        assert r.status_code == 429  # the start-up flag is in force
        assert r.headers["Retry-After"] == "9"
        with emulator_session(info) as s:
            settings = s.get(f"{info['admin_base']}/faults", timeout=10).json()
        assert settings["throttle_rate"] == 1.0


def test_logs_hold_no_secrets_or_tokens(emu: dict[str, Any]) -> None:
    tokens = [client_token(emu), client_token(emu, resource="https://outlook.office.com")]
    with emulator_session(emu) as s:
        s.get(emu["identity_endpoint"], timeout=10,
              params={"api-version": "2019-08-01", "resource": "https://graph.microsoft.com"},
              headers={"X-IDENTITY-HEADER": emu["identity_header"]})
        s.get(f"{emu['graph_base']}/users/adele.vance@contoso.com/photo/$value", timeout=10,
              headers={"Authorization": f"Bearer {tokens[0]}"})
        s.post(emu["token_endpoint"], timeout=10, data={
            "grant_type": "client_credentials", "client_id": emu["client_id"],
            "client_secret": "wrong-secret", "scope": "https://graph.microsoft.com/.default"})
        tokens += [t["access_token"] for t in
                   s.get(f"{emu['admin_base']}/tokens", timeout=10).json()["value"]]
    text = Path(emu["log_file"]).read_text(encoding="utf-8")
    assert "issued an app token" in text
    for secret in [*tokens, emu["client_secret"], emu["full_client_secret"], "wrong-secret",
                   emu["identity_header"]]:
        assert secret not in text


def test_custom_directory_file(tmp_path: Path, shared_state: list[str]) -> None:
    directory = {
        "tenant": "11111111-2222-4333-8444-555555555555",
        "users": [{"id": "11111111-0000-4000-8000-000000000001", "userPrincipalName":
                   "$weird@fabrikam.com", "mail": None, "displayName": "Dollar",
                   "employeeId": "7", "hasMailbox": True, "photo": {"width": 50, "height": 60}}],
        "applications": [{"clientId": "11111111-0000-4000-8000-0000000000aa",
                          "displayName": "fabrikam sync", "secrets": ["s3cret"],
                          "certificates": ["demo"], "managedIdentity": False,
                          "roles": ["ProfilePhoto.ReadWrite.All"]}],
    }
    path = tmp_path / "directory.json"
    path.write_text(json.dumps(directory), encoding="utf-8")
    with start_emulator(tmp_path, *shared_state, "--directory", str(path)) as info:
        assert info["tenant"] == directory["tenant"]
        assert info["client_id"] == "11111111-0000-4000-8000-0000000000aa"
        assert info["client_secret"] == "s3cret"
        assert info["mi_client_id"] is None
        assert "full_client_id" not in info
        token = client_token(info)
        with emulator_session(info) as s:
            r = s.get(f"{info['graph_base']}/users('$weird@fabrikam.com')/photo", timeout=10,
                      headers={"Authorization": f"Bearer {token}"})
        assert (r.json()["width"], r.json()["height"]) == (50, 60)


def test_bad_directory_file_fails_clearly(tmp_path: Path, shared_state: list[str]) -> None:
    path = tmp_path / "directory.json"
    path.write_text(json.dumps({"tenant": "11111111-2222-4333-8444-555555555555",
                                "users": [{"id": "x", "userPrincipalName": "a@b.c"}]}),
                    encoding="utf-8")
    # The fixture's failure path: no start-up line, so it raises with the exit code and stderr.
    with (pytest.raises(RuntimeError, match=r"(?s)exited with 2.*users\[0\]\.id"),
          start_emulator(tmp_path, *shared_state, "--directory", str(path))):
        pass


def test_bad_flags_are_refused(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "devstack.emulator", "--state-dir", str(tmp_path),
         "--error-rate", "3"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=30, check=False,
    )
    assert proc.returncode == 2
    assert "error_rate" in proc.stderr


def test_in_process_start(tmp_path: Path) -> None:
    with start(EmulatorConfig(state_dir=tmp_path / "state")) as running:
        info: dict[str, Any] = running.info
        with emulator_session(info) as s:
            r = s.get(f"{info['authority']}/v2.0/.well-known/openid-configuration", timeout=10)
            assert r.status_code == 200
            assert s.get(f"{info['admin_base']}/health", timeout=10).json() == {"status": "ok"}
        via_localhost = info["admin_base"].replace("127.0.0.1", "localhost")
        with emulator_session(info) as s:  # the certificate also names localhost
            assert s.get(f"{via_localhost}/health", timeout=10).status_code == 200
    with pytest.raises(requests.ConnectionError), emulator_session(info) as s:
        s.get(f"{info['admin_base']}/health", timeout=2)
