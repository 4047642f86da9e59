"""The webhook's address is a secret: urllib3's debug log, which writes every request's path
and query, never shows it once the webhook is wired."""

from __future__ import annotations

import logging

import pytest
import requests

from photo_core.adapters.webhook import REDACTED, redact_in_http_logs

URL = ("https://prod-01.westeurope.logic.azure.com:443/workflows/0123abcd/triggers/manual/paths/"
       "invoke?api-version=2016-06-01&sig=s3cr3tS1gnatur3")
PATH = URL.split(":443", 1)[1]


def test_urllib3_request_lines_show_no_part_of_the_address(
        caplog: pytest.LogCaptureFixture) -> None:
    redact_in_http_logs(URL)
    redact_in_http_logs(URL)  # once per address, however often the app is wired
    pool = logging.getLogger("urllib3.connectionpool")
    assert sum(1 for f in pool.filters if getattr(f, "secrets", None)) >= 1
    with caplog.at_level(logging.DEBUG, logger="urllib3"):
        # urllib3's own format for a request line (connectionpool._make_request)
        pool.debug('%s://%s:%s "%s %s %s" %s %s', "https", "prod-01.westeurope.logic.azure.com",
                   443, "POST", PATH, "HTTP/1.1", 202, 0)
        pool.debug("Starting new HTTPS connection (%d): %s:%s", 1, "example.com", 443)
    text = caplog.text
    assert "s3cr3tS1gnatur3" not in text and "0123abcd" not in text
    assert f'"POST {REDACTED} HTTP/1.1" 202' in text
    assert "Starting new HTTPS connection (1): example.com:443" in text


@pytest.mark.parametrize("url", [
    # requests sends %7E as ~ (requote_uri), so the request line is not the configured text
    "https://prod-01.westeurope.logic.azure.com/workflows/abc7/triggers/manual/paths/invoke"
    "?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sig=AbC%7EdEf",
    # and quotes what must be quoted: a space in the path, a bare | in the query
    "https://hooks.example.com/in coming/abc7?sig=Ab|Cd",
])
def test_the_request_line_requests_actually_sends_is_blanked(
        url: str, caplog: pytest.LogCaptureFixture) -> None:
    redact_in_http_logs(url)
    prepared = requests.Request("POST", url).prepare()
    host = prepared.url.split("/")[2]  # type: ignore[union-attr]
    pool = logging.getLogger("urllib3.connectionpool")
    with caplog.at_level(logging.DEBUG, logger="urllib3"):
        pool.debug('%s://%s:%s "%s %s %s" %s %s', "https", host, 443, "POST",
                   prepared.path_url, "HTTP/1.1", 202, 0)
    assert "abc7" not in caplog.text and "dEf" not in caplog.text and "Cd" not in caplog.text
    assert f'"POST {REDACTED} HTTP/1.1" 202' in caplog.text
