"""HR's notices in the local stack: run the notification timers now, and read what the local
webhook receiver got, as text (``python -m devstack notices``, and the end of ``make run``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import requests

from devstack.stack import StackInfo
from photo_core.domain.inert_text import printable

NOTICE_TIMEOUT_S = 60.0


def _session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    return session


def messages(info: StackInfo) -> list[dict[str, Any]]:
    """What the receiver accepted, oldest first (``{"at", "body"}``)."""
    if not info.webhook_control:
        raise SystemExit("this stack has no webhook receiver: restart it with `make run`")
    response = _session().get(f"{info.webhook_control}/messages", timeout=10)
    response.raise_for_status()
    found: list[dict[str, Any]] = response.json()["messages"]
    return found


def run_timer(info: StackInfo, name: str) -> None:
    """Run a timer function now through the host's admin route (as Core Tools offers)."""
    response = _session().post(f"{info.base_url}/admin/functions/{name}", json={},
                               headers={"x-functions-key": info.master_key}, timeout=30)
    if response.status_code not in (202, 409):  # 409: it is running already
        raise SystemExit(f"the host did not run {name}: HTTP {response.status_code}")


def kind(body: dict[str, Any]) -> str:
    """``notice`` or ``digest``, for a card or a JSON document."""
    if body.get("type") in ("notice", "digest"):
        return str(body["type"])
    card = _card(body)
    title = _texts(card.get("body", [])[:1]) if card else []
    return "digest" if title and "digest" in title[0] else "notice"


def _card(body: dict[str, Any]) -> dict[str, Any] | None:
    attachments = body.get("attachments") or []
    content = attachments[0].get("content") if attachments else None
    return content if isinstance(content, dict) else None


def _texts(elements: list[Any]) -> list[str]:
    """The lines an Adaptive Card shows, in order: TextBlocks, and RichTextBlocks' runs."""
    lines: list[str] = []
    for element in elements:
        if not isinstance(element, dict):
            continue
        if element.get("type") == "TextBlock":
            lines.append(str(element.get("text", "")))
        elif element.get("type") == "RichTextBlock":
            lines.append("".join(str(run.get("text", "")) for run in element.get("inlines", [])
                                 if isinstance(run, dict)))
        elif element.get("type") == "Container":
            lines += _texts(element.get("items", []))
    return lines


def lines(body: dict[str, Any]) -> list[str]:
    """A message as text lines: the card's, or the JSON document's title and drops."""
    card = _card(body)
    if card is not None:
        return [printable(line) for line in _texts(card.get("body", []))]
    shown = [str(body.get("title", ""))]
    for drop in body.get("drops", []):
        shown.append(f"{drop.get('file')}  {drop.get('reason')}  for {drop.get('user')}: "
                     f"{drop.get('message')}")
    if body.get("more"):
        shown.append(f"...and {body['more']} more")
    return [printable(line) for line in shown]


def wait_for(info: StackInfo, wanted: Callable[[list[dict[str, Any]]], bool],
             timeout: float = NOTICE_TIMEOUT_S) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    found = messages(info)
    while not wanted(found) and time.monotonic() < deadline:
        time.sleep(0.5)
        found = messages(info)
    return found


def show(found: list[dict[str, Any]], out: Callable[[str], None] = print) -> None:
    for message in found:
        body = message["body"]
        out(f"--- {kind(body)} received {message['at'][:19]}")
        for line in lines(body):
            out(f"  {line}")


def notify_now(info: StackInfo) -> list[dict[str, Any]]:
    """Run the notice timer, then the digest timer (as their schedules would), and wait until
    the receiver has a notice and a digest."""
    run_timer(info, "notify")
    wait_for(info, lambda found: any(kind(m["body"]) == "notice" for m in found))
    run_timer(info, "notify_digest")
    return wait_for(info, lambda found: any(kind(m["body"]) == "digest" for m in found))


def mentioned(found: list[dict[str, Any]], names: list[str]) -> set[str]:
    """Which of ``names`` the notices (not the digest) list."""
    text = "\n".join(line for m in found if kind(m["body"]) == "notice"
                     for line in lines(m["body"]))
    return {name for name in names if printable(name) in text}
