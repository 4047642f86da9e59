"""Notices on the wire: the Teams envelope and card, the JSON document, HR's strings kept inert
and bounded, and every message under Teams' 28 KB limit."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from photo_core.domain.notices import Notice, NoticeFormat, NoticeKind, coalesce
from photo_core.domain.outcomes import Outcome, Status
from photo_core.use_cases.digest import build_digest
from photo_core.use_cases.notice_format import (
    CARD_CONTENT_TYPE,
    LIMITS,
    MAX_MESSAGE_BYTES,
    digest_document,
    notice_document,
    size,
)
from photo_core.use_cases.notify_ports import NoticeRecord, NoticeState

NOW = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)


def notice(blob: str = "jane@contoso.com.jpg", message: str = "export it as JPEG",
           user: str | None = "jane@contoso.com", n: int = 0) -> Notice:
    return Notice(NoticeKind.REJECTED, blob, f'"0x{n}"', message, NOW - timedelta(minutes=n),
                  user=user, reason="not_jpeg", dropped_at=NOW - timedelta(minutes=n + 1))


def card(document: dict[str, Any]) -> dict[str, Any]:
    content: dict[str, Any] = document["attachments"][0]["content"]
    return content


def elements(items: list[Any]) -> list[dict[str, Any]]:
    """Every element of a card body, containers opened."""
    found = []
    for item in items:
        found.append(item)
        found += elements(item.get("items", []))
    return found


def test_teams_notices_use_the_envelope_teams_workflows_take() -> None:
    document = notice_document(coalesce([notice()], 10), NoticeFormat.TEAMS, NOW)
    assert document["type"] == "message"
    [attachment] = document["attachments"]
    assert attachment["contentType"] == CARD_CONTENT_TYPE == \
        "application/vnd.microsoft.card.adaptive"
    assert card(document)["type"] == "AdaptiveCard"
    assert card(document)["version"] == "1.4"  # Teams renders up to 1.5
    assert card(document)["fallbackText"] == "1 photo drop needs attention"


def test_hr_strings_are_only_in_text_runs_which_cards_never_read_as_markdown() -> None:
    blob = "[click here](https://evil.example)**urgent**_x_.jpg"
    message = "# heading <b>bold</b> [link](https://evil.example)"
    document = notice_document(coalesce([notice(blob, message, user="a*b*@contoso.com")], 10),
                               NoticeFormat.TEAMS, NOW)
    blocks = elements(card(document)["body"])
    markdown = " ".join(b["text"] for b in blocks if b["type"] == "TextBlock")
    runs = [r["text"] for b in blocks if b["type"] == "RichTextBlock" for r in b["inlines"]]
    for hr_text in (blob, message, "a*b*@contoso.com"):
        assert hr_text not in markdown
        assert hr_text in runs
    assert all(r["type"] == "TextRun" for b in blocks if b["type"] == "RichTextBlock"
               for r in b["inlines"])


def test_control_and_direction_characters_show_as_escapes_and_long_names_are_cut() -> None:
    sneaky = "jane\u202egpj.exe\x1b[2J" + "x" * 1000 + ".jpg"
    document = notice_document(coalesce([notice(sneaky, "y" * 5000)], 10),
                               NoticeFormat.JSON, NOW)
    [drop] = document["drops"]
    assert "\u202e" not in drop["file"] and "\\u202e" in drop["file"]
    assert "\x1b" not in drop["file"] and "\\x1b" in drop["file"]
    assert len(drop["file"]) == LIMITS["file"] and drop["file"].endswith("xxx.jpg")
    assert len(drop["message"]) == LIMITS["message"]


@pytest.mark.parametrize("fmt", list(NoticeFormat))
def test_a_message_never_exceeds_28_kb_it_lists_fewer_drops_and_counts_more(
        fmt: NoticeFormat) -> None:
    wide = "\U0001f4f7"  # four bytes in UTF-8, one character: the limits count characters
    heavy = [notice(wide * 300, wide * 600, user=wide * 200, n=n) for n in range(25)]
    document = notice_document(coalesce(heavy, 25), fmt, NOW)
    assert size(document) <= MAX_MESSAGE_BYTES
    text = json.dumps(document)
    if fmt is NoticeFormat.JSON:
        assert 0 < len(document["drops"]) < 25
        assert document["more"] == 25 - len(document["drops"])
    else:
        assert "more: the full list is in the report" in text


def test_the_json_document_follows_its_documented_schema() -> None:
    batch = coalesce([notice(n=n) for n in range(3)], 2, earlier_not_sent=4)
    document = notice_document(batch, NoticeFormat.JSON, NOW)
    assert set(document) == {"schema", "type", "title", "generatedAt", "drops", "more",
                             "earlierNotSent", "report"}
    assert (document["schema"], document["type"]) == ("photo-sync.notice/1", "notice")
    assert (len(document["drops"]), document["more"], document["earlierNotSent"]) == (2, 1, 4)
    assert set(document["drops"][0]) == {"kind", "file", "user", "reason", "message",
                                         "droppedAt", "recordedAt"}
    assert document["generatedAt"] == "2026-11-28T09:30:00Z"
    assert set(document["report"]) == {"command", "endpoint"}
    assert document["report"]["endpoint"].startswith("/api/reports/outcomes?since=2026-11-28T")


def test_the_digest_card_has_its_counts_and_three_lists() -> None:
    outcomes = [Outcome(Status.UPLOADED, "a@contoso.com.jpg", "ok", NOW - timedelta(hours=1),
                        user="a@contoso.com"),
                Outcome(Status.REJECTED, "b@contoso.com.jpg", "export it as JPEG",
                        NOW - timedelta(hours=2), reason="not_jpeg", user="b@contoso.com",
                        blob_etag='"1"')]
    unsent = NoticeRecord(notice("c@contoso.com.jpg"), NoticeState.NOT_SENT, NOW, "http 500")
    digest = build_digest(outcomes, NOW, 7, not_sent=[unsent])
    document = digest_document(digest, NoticeFormat.TEAMS, NOW, 10)
    text = [b.get("text", "") for b in elements(card(document)["body"])]
    runs = [r["text"] for b in elements(card(document)["body"]) if b["type"] == "RichTextBlock"
            for r in b["inlines"]]
    assert text[0] == "photo-sync daily digest for 2026-11-28"
    assert "Last 24 hours: 1 uploaded, 1 rejected." in text
    assert "Rejects still unresolved (last 7 days): 1" in text
    assert "Drops over a day old without an outcome: 0" in text
    assert "Notices that could not be sent: 1" in text
    assert "b@contoso.com.jpg" in runs and "not sent: http 500" in runs
    json_doc = digest_document(digest, NoticeFormat.JSON, NOW, 10)
    assert json_doc["noticesNotSent"]["drops"][0]["notSentBecause"] == "http 500"
    assert json_doc["unresolvedRejects"]["count"] == 1


def test_the_digest_lists_a_dry_runs_would_rejects_only_on_a_day_one_ran() -> None:
    would = Outcome(Status.WOULD_REJECT, "b@contoso.com.jpg", "export it as JPEG",
                    NOW - timedelta(hours=2), reason="not_jpeg", user="b@contoso.com",
                    blob_etag='"1"')
    heading = "Would be rejected (dry run, last 24 hours): 1"
    for outcomes, listed in (([would], True), ([], False)):
        digest = build_digest(outcomes, NOW, 7)
        document = digest_document(digest, NoticeFormat.TEAMS, NOW, 10)
        text = [b.get("text", "") for b in elements(card(document)["body"])]
        assert (heading in text) is listed
        json_doc = digest_document(digest, NoticeFormat.JSON, NOW, 10)
        assert json_doc["wouldBeRejected"]["count"] == int(listed)
