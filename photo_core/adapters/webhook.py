"""Adapter: posting a notice to the webhook, implementing the ``Webhook`` port.

Its retries are photo-sync's one retry policy (``photo_core.domain.retry``) with a small
budget of its own: 429 and 5xx and timeouts are tried again, ``Retry-After`` is honoured, and a
wait longer than the budget ends the attempt with the time the webhook asked for (the notifier
then sends nothing before it). Redirects are not followed. Each attempt ends within its connect
plus read timeout, and the whole send within the budget, however slowly the webhook answers
(``http_deadline``: a read timeout alone bounds only the wait for each next byte).

The webhook's address is a secret: a Teams workflow URL carries its signature in the query.
So no failure is described with the HTTP library's exception text (it quotes the URL); a
failure is ``http 500`` or ``timed out``. And urllib3's debug log, which writes every request's
path and query, is given a filter that blanks the address before a record is formatted.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from contextlib import suppress
from typing import Any
from urllib.parse import urlsplit

import requests

from photo_core.adapters.http_deadline import DeadlineAdapter, deadline
from photo_core.domain.clock import Clock
from photo_core.domain.retry import RetryPolicy, is_retryable_status, parse_retry_after
from photo_core.use_cases.notify_ports import Delivery

logger = logging.getLogger(__name__)

REDACTED = "[webhook address]"
URLLIB3_LOGGERS = ("urllib3.connectionpool", "urllib3.connection", "urllib3.util.retry")


class HttpWebhook:
    """Posts to the webhook through ``session``, which must be its own: the webhook mounts the
    adapter that enforces its time limits on it."""

    def __init__(self, session: requests.Session, url: str, policy: RetryPolicy,
                 timeouts: tuple[float, float], clock: Clock,
                 rand: Callable[[], float]) -> None:
        adapter = DeadlineAdapter()
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        self._session = session
        self._url = url
        self._policy = policy
        self._timeouts = timeouts
        self._clock = clock
        self._rand = rand

    def __repr__(self) -> str:
        return f"HttpWebhook({REDACTED})"

    def send(self, document: dict[str, Any]) -> Delivery:
        body = json.dumps(document, ensure_ascii=False).encode("utf-8")
        started = self._clock.monotonic()
        attempts = 0
        while True:
            attempts += 1
            left = self._policy.budget_seconds - (self._clock.monotonic() - started)
            problem, retry_after, retryable = self._post(body, min(sum(self._timeouts), left))
            if problem is None:
                return Delivery(True, attempts=attempts)
            delay = self._policy.next_delay(
                attempts_made=attempts, elapsed=self._clock.monotonic() - started,
                retry_after=retry_after, rand=self._rand) if retryable else None
            if delay is None:
                logger.warning("webhook: the message was not sent after %d attempt(s): %s",
                               attempts, problem)
                return Delivery(False, problem, retry_after, attempts)
            logger.info("webhook: %s; trying again in %.1fs", problem, delay)
            self._clock.sleep(delay)

    def _post(self, body: bytes, limit: float) -> tuple[str | None, float | None, bool]:
        """(problem or None, the Retry-After it asked for, whether to try again); the attempt
        is cut off after ``limit`` seconds, answer included."""
        with deadline(limit) as watch:
            try:
                response = self._session.post(
                    self._url, data=body, timeout=self._timeouts, allow_redirects=False,
                    headers={"Content-Type": "application/json; charset=utf-8"})
            except requests.Timeout:
                return "timed out", None, True
            except Exception as exc:  # its text quotes the URL: only its kind
                if watch.fired:  # what a cut-off connection raises varies (reset, TLS EOF)
                    return "timed out", None, True
                if not isinstance(exc, requests.RequestException):
                    raise
                return f"connection failed ({type(exc).__name__})", None, True
        with response:
            status = response.status_code
            wait = parse_retry_after(response.headers.get("Retry-After"), self._clock.now())
        if 200 <= status < 300:
            return None, None, False
        if 300 <= status < 400:
            return f"http {status} (a redirect; not followed)", None, False
        return f"http {status}", wait, is_retryable_status(status)


class RedactAddress(logging.Filter):
    """Blanks the webhook's address in any record it sees: from its path on to the end of the
    URL, in the form configured and in the form requests sends (which re-quotes it: ``%7E``
    goes out as ``~``, a space as ``%20``), so no spelling of the path or query survives; the
    query alone is blanked too, in both forms (for a webhook at ``/``, it is all there is)."""

    def __init__(self, url: str) -> None:
        super().__init__()
        forms = [urlsplit(url)]
        with suppress(requests.RequestException, ValueError):
            forms.append(urlsplit(requests.Request("POST", url).prepare().url or url))
        paths = {f.path for f in forms if len(f.path) > 1}
        queries = {f.query for f in forms if f.query}
        self.secrets = (url,)  # what it was made for, so it is installed once per address
        spans = [re.escape(p) + r"[^\s\"']*" for p in sorted(paths, key=len, reverse=True)]
        spans += [re.escape(q) for q in sorted(queries, key=len, reverse=True)]
        self._pattern = re.compile("|".join(spans)) if spans else None

    def filter(self, record: logging.LogRecord) -> bool:
        if self._pattern is None:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a record that cannot be formatted is not ours to fix
            return True
        redacted = self._pattern.sub(REDACTED, message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def redact_in_http_logs(url: str) -> None:
    """Install ``RedactAddress`` for ``url`` on urllib3's loggers (once per address)."""
    for name in URLLIB3_LOGGERS:
        target = logging.getLogger(name)
        present = [f for f in target.filters if isinstance(f, RedactAddress)]
        if not any(url in f.secrets for f in present):
            target.addFilter(RedactAddress(url))
