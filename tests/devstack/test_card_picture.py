"""The docs' card pictures are drawn from the committed sample of what the local webhook got."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from devstack.card_picture import main
from devstack.notices import kind, lines
from devstack.webhook_receiver import envelope_problem
from photo_core.use_cases.notice_format import CARD_VERSION

SAMPLE = Path(__file__).resolve().parents[2] / "docs" / "notifications" / "sample-messages.json"


def test_the_committed_sample_is_a_notice_and_a_digest_teams_would_take() -> None:
    messages = json.loads(SAMPLE.read_text(encoding="utf-8"))
    assert [kind(m["body"]) for m in messages] == ["notice", "digest"]
    for message in messages:
        assert envelope_problem(message["body"]) is None
        assert message["body"]["attachments"][0]["content"]["version"] == CARD_VERSION
    assert lines(messages[0]["body"])[0] == "3 photo drops need attention"


def test_a_card_is_drawn_from_the_sample(tmp_path: Path) -> None:
    for extra, name in (([], "notice.png"), (["--digest"], "digest.png")):
        assert main([str(SAMPLE), str(tmp_path / name), *extra]) == 0
        with Image.open(tmp_path / name) as picture:
            assert picture.width == 760 and picture.height > 300
