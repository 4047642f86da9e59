"""The webhook's address is a secret: urllib3's debug log, which writes every request's path
and query, never shows it once the webhook is wired."""

from __future__ import annotations

import logging

import pytest

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
