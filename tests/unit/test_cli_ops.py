"""`python -m photo_core reconcile|report`: flags refused up front, storage failures in one line."""

from __future__ import annotations

import argparse
import io

import pytest
from azure.core.exceptions import AzureError, ServiceRequestError

from photo_core.entrypoints.cli import main
from photo_core.entrypoints.cli_ops import _table, shown_endpoint, storage_failure, workers

SAS_URL = "https://acct.blob.core.windows.net/hr-photos?sv=2024-11-04&sig=SECRETSIG"


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


@pytest.mark.parametrize(
    ("flag", "value", "says"),
    [
        ("--limit", "0", "0 must be at least 1"),
        ("--limit", "-5", "-5 must be at least 1"),
        ("--workers", "0", "0 must be at least 1"),
        ("--workers", "-2", "-2 must be at least 1"),
    ],
)
def test_reconcile_refuses_a_count_below_one_before_touching_settings_or_storage(
    flag: str, value: str, says: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PhotoStorage", raising=False)  # were the flag let through: no storage
    status, out, err = run("reconcile", flag, value)
    assert (status, out) == (2, "")
    assert f"argument {flag}: {says}" in err
    assert "setting problem" not in err  # refused by argparse, not by the settings check


def test_a_connection_failure_names_the_endpoint_without_its_sas_token() -> None:
    # The SDK's text for a refused connection carries the request URL, query and all.
    exc = ServiceRequestError(f"Max retries exceeded with url: {SAS_URL}")
    exc.__cause__ = ConnectionRefusedError(111, "Connection refused")
    line = storage_failure(exc, [SAS_URL])
    assert line.startswith("cannot reach storage at https://acct.blob.core.windows.net/hr-photos "
                           "(Connection refused)")
    assert "SECRETSIG" not in line and "sv=" not in line
    assert "\n" not in line


def test_the_endpoints_a_command_uses_are_each_named_once() -> None:
    table = "http://127.0.0.1:10002/devstoreaccount1"
    line = storage_failure(AzureError("odd"), [SAS_URL, table, table])
    assert line == (f"storage at https://acct.blob.core.windows.net/hr-photos and {table} "
                    "failed: AzureError")


def test_a_shown_endpoint_keeps_scheme_host_port_and_path_only() -> None:
    assert shown_endpoint("https://user:pw@acct.table.core.windows.net:443/t/?sig=x#f") == \
        "https://acct.table.core.windows.net:443/t"


def test_reconcile_refuses_more_workers_than_the_setting_allows() -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="more than 32"):
        workers("33")
    assert workers("32") == 32


def test_a_table_cell_never_sends_control_characters_to_the_terminal() -> None:
    out = io.StringIO()
    _table(out, [("blob", "reason"), ("evil\x1b[2J\r.jpg", "not_jpeg")])
    assert "\x1b" not in out.getvalue() and "\r" not in out.getvalue()
    assert "evil\\x1b[2J\\x0d.jpg" in out.getvalue()
    out = io.StringIO()
    _table(out, [("blob",), ("gpj.\u202eevil",)])
    assert "gpj.\\u202eevil" in out.getvalue()


@pytest.mark.parametrize("extra", [["--since", "24h"], ["--until", "1h"], ["--format", "csv"]])
def test_the_digest_refuses_a_window_or_csv_before_touching_settings_or_storage(
        extra: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PhotoStorage", raising=False)
    status, out, err = run("report", "--digest", *extra)
    assert (status, out) == (2, "")
    assert "--digest covers the day before now, as a table or json" in err
