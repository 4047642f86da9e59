"""Notices and digests on the wire: a plain JSON document, or an Adaptive Card for Teams.

``json`` (schema ``photo-sync.notice/1`` and ``photo-sync.digest/1``, see docs/notifications.md)
is for Power Automate, Logic Apps or any other receiver. ``teams`` wraps an Adaptive Card in the
envelope Teams workflow webhooks ("When a Teams webhook request is received") take:
``{"type": "message", "attachments": [{"contentType":
"application/vnd.microsoft.card.adaptive", "content": <card>}]}``. The card declares version
1.4: Teams renders up to 1.5, and nothing here needs more than 1.2.

Every string that came from HR (file name, user, message) is made printable and bounded, and on
the card it goes into a ``TextRun``, which Adaptive Cards never read as Markdown: a blob named
``[click](https://x).jpg`` or ``**urgent**.jpg`` shows as exactly that. A message stays under
Teams' 28 KB limit: when it would not, fewer drops are listed and more are counted. Pure.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from photo_core.domain.inert_text import bounded
from photo_core.domain.notices import Batch, Notice, NoticeFormat
from photo_core.use_cases.digest import Digest
from photo_core.use_cases.notify_ports import NoticeRecord

CARD_VERSION = "1.4"
CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
MAX_MESSAGE_BYTES = 27 * 1024  # Teams refuses a message over 28 KB
NOTICE_SCHEMA = "photo-sync.notice/1"
DIGEST_SCHEMA = "photo-sync.digest/1"
LIMITS = {"file": 200, "user": 120, "reason": 64, "message": 400, "problem": 80}
REPORT_ROUTE = "/api/reports/outcomes"


def _stamp(moment: datetime | None) -> str | None:
    return f"{moment:%Y-%m-%dT%H:%M:%SZ}" if moment else None


def _text(value: str | None, field: str) -> str | None:
    return bounded(value, LIMITS[field]) if value is not None else None


def drop_json(notice: Notice, problem: str | None = None) -> dict[str, Any]:
    """One drop in the JSON document: every HR string printable and bounded."""
    drop: dict[str, Any] = {
        "kind": notice.kind.value, "file": _text(notice.blob, "file"),
        "user": _text(notice.user, "user"), "reason": _text(notice.reason, "reason"),
        "message": _text(notice.message, "message"),
        "droppedAt": _stamp(notice.dropped_at), "recordedAt": _stamp(notice.at)}
    if problem is not None:
        drop["notSentBecause"] = _text(problem, "problem")
    return drop


def report_pointer(since: datetime | None) -> dict[str, str]:
    """Where the drops a message only counts are listed in full."""
    if since is None:
        return {"command": "python -m photo_core report --digest",
                "endpoint": f"{REPORT_ROUTE}?since=24h"}
    start = _stamp(since)
    return {"command": f"python -m photo_core report --since {start} --format csv",
            "endpoint": f"{REPORT_ROUTE}?since={start}&format=csv"}


def notice_title(total: int) -> str:
    return f"{total} photo drop{'s need' if total != 1 else ' needs'} attention"


def notice_document(batch: Batch, fmt: NoticeFormat, now: datetime) -> dict[str, Any]:
    """The message for one coalesced batch, listing as many drops as fit."""
    def build(listed: int) -> dict[str, Any]:
        shown = batch.listed[:listed]
        more = batch.total - len(shown)
        if fmt is NoticeFormat.JSON:
            return {"schema": NOTICE_SCHEMA, "type": "notice", "title": notice_title(batch.total),
                    "generatedAt": _stamp(now), "drops": [drop_json(n) for n in shown],
                    "more": more, "earlierNotSent": batch.earlier_not_sent,
                    "report": report_pointer(batch.since)}
        return _teams_notice(batch, shown, more)
    return _fitted(build, len(batch.listed))


def digest_document(digest: Digest, fmt: NoticeFormat, now: datetime,
                    max_items: int | None) -> dict[str, Any]:
    """The daily digest, each of its lists cut to ``max_items`` drops and to what fits in one
    message (``None``: every drop, for the command line)."""
    def build(listed: int) -> dict[str, Any]:
        if fmt is NoticeFormat.JSON:
            return _digest_json(digest, now, listed)
        return _teams_digest(digest, listed)
    if max_items is None:
        return build(max(len(digest.unresolved), len(digest.waiting), len(digest.not_sent),
                         len(digest.would_reject)))
    return _fitted(build, max_items)


def _fitted(build: Callable[[int], dict[str, Any]], listed: int) -> dict[str, Any]:
    document = build(listed)
    while listed > 0 and size(document) > MAX_MESSAGE_BYTES:
        listed -= 1
        document = build(listed)
    return document


def size(document: dict[str, Any]) -> int:
    """Bytes on the wire, as the webhook client sends it."""
    return len(json.dumps(document, ensure_ascii=False).encode("utf-8"))


def _digest_json(digest: Digest, now: datetime, listed: int) -> dict[str, Any]:
    def section(items: Sequence[Notice], problems: Sequence[str | None] = ()) -> dict[str, Any]:
        drops = [drop_json(n, problems[i] if problems else None)
                 for i, n in enumerate(items[:listed])]
        return {"count": len(items), "drops": drops}

    records = digest.not_sent
    return {
        "schema": DIGEST_SCHEMA, "type": "digest", "title": digest_title(digest),
        "generatedAt": _stamp(now), "since": _stamp(digest.since), "until": _stamp(digest.until),
        "lookbackDays": digest.lookback_days, "total": digest.total,
        "byStatus": digest.by_status, "byReason": digest.by_reason,
        "unresolvedRejects": section(digest.unresolved),
        "waitingDrops": section(digest.waiting),
        "noticesNotSent": section([r.notice for r in records], [r.problem for r in records]),
        "wouldBeRejected": section(digest.would_reject),
        "report": report_pointer(None),
    }


def digest_title(digest: Digest) -> str:
    return f"photo-sync daily digest for {digest.day}"


# -- the Adaptive Card -----------------------------------------------------------------------

def _envelope(body: list[dict[str, Any]], fallback: str) -> dict[str, Any]:
    card = {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "type": "AdaptiveCard", "version": CARD_VERSION, "fallbackText": fallback,
            "msteams": {"width": "Full"}, "body": body}
    return {"type": "message", "attachments": [
        {"contentType": CARD_CONTENT_TYPE, "contentUrl": None, "content": card}]}


def _heading(text: str) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "weight": "Bolder", "size": "Medium",
            "wrap": True}


def _section(text: str) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "weight": "Bolder", "wrap": True,
            "spacing": "Large"}


def _note(text: str, *, separator: bool = False) -> dict[str, Any]:
    block = {"type": "TextBlock", "text": text, "wrap": True, "isSubtle": True}
    return {**block, "separator": True} if separator else block


def _run(text: str, **style: Any) -> dict[str, Any]:
    """Literal text: a TextRun is never read as Markdown."""
    return {"type": "TextRun", "text": text, **style}


def _line(*runs: dict[str, Any]) -> dict[str, Any]:
    return {"type": "RichTextBlock", "inlines": list(runs)}


def _drop_card(notice: Notice, problem: str | None = None) -> dict[str, Any]:
    drop = drop_json(notice, problem)
    facts = [_run(drop["reason"] or notice.kind.value, fontType="Monospace", color="Attention")]
    if drop["user"]:
        facts += [_run("  for "), _run(drop["user"])]
    if drop["droppedAt"]:
        facts.append(_run(f"  dropped {drop['droppedAt'].replace('T', ' ')[:16]} UTC",
                          isSubtle=True))
    items = [_line(_run(drop["file"], weight="Bolder")), _line(*facts),
             _line(_run(drop["message"] or ""))]
    if problem is not None:
        items.append(_line(_run(f"not sent: {drop['notSentBecause']}", isSubtle=True)))
    return {"type": "Container", "separator": True, "spacing": "Medium", "items": items}


def _more(count: int, pointer: dict[str, str]) -> list[dict[str, Any]]:
    if count <= 0:
        return []
    return [_note(f"…and {count} more: the full list is in the report.", separator=True),
            _line(_run(pointer["command"], fontType="Monospace"))]


def _teams_notice(batch: Batch, shown: Sequence[Notice], more: int) -> dict[str, Any]:
    title = notice_title(batch.total)
    body = [_heading(title),
            _note("Each drop below says what went wrong and what to do about it.")]
    body += [_drop_card(n) for n in shown]
    body += _more(more, report_pointer(batch.since))
    if batch.earlier_not_sent:
        body.append(_note(f"{batch.earlier_not_sent} earlier notice(s) could not be sent; "
                          "they are in the daily digest.", separator=True))
    return _envelope(body, title)


def _teams_digest(digest: Digest, listed: int) -> dict[str, Any]:
    title = digest_title(digest)
    counts = ", ".join(f"{v} {k}" for k, v in digest.by_status.items()) or "no drops"
    body = [_heading(title), _note(f"Last 24 hours: {counts}.")]
    if digest.by_reason:
        reasons = ", ".join(f"{k} {v}" for k, v in list(digest.by_reason.items())[:8])
        body.append(_line(_run("Reasons: ", isSubtle=True), _run(bounded(reasons, 400))))
    pointer = report_pointer(None)
    sections: list[tuple[str, Sequence[Notice], Sequence[NoticeRecord]]] = [
        (f"Rejects still unresolved (last {digest.lookback_days} days)", digest.unresolved, ()),
        ("Drops over a day old without an outcome", digest.waiting, ()),
        ("Notices that could not be sent", [r.notice for r in digest.not_sent],
         digest.not_sent)]
    if digest.would_reject:  # only on a day a dry run ran
        sections.append(("Would be rejected (dry run, last 24 hours)", digest.would_reject, ()))
    for heading, items, records in sections:
        body.append(_section(f"{heading}: {len(items)}"))
        for i, notice in enumerate(items[:listed]):
            body.append(_drop_card(notice, records[i].problem or "unknown" if records else None))
        body += _more(len(items) - min(listed, len(items)), pointer)
    return _envelope(body, title)
