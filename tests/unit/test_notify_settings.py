"""Notification settings: optional, validated with the rest, and the webhook URL a secret."""

from __future__ import annotations

import pytest

from photo_core.domain.errors import SettingsError
from photo_core.domain.notices import NoticeFormat, NoticeKind
from photo_core.settings import Settings

TEAMS_URL = ("https://prod-01.westeurope.logic.azure.com:443/workflows/0123abcd/triggers/manual"
             "/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0"
             "&sig=s3cr3tS1gnatur3")


def problems(env: dict[str, str]) -> list[str]:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env(env)
    return raised.value.problems


def test_nothing_is_sent_without_a_webhook_and_rejects_are_the_default() -> None:
    notify = Settings.from_env({}).notify
    assert not notify.enabled
    assert notify.kinds == frozenset({NoticeKind.REJECTED})
    assert notify.format is NoticeFormat.TEAMS
    assert (notify.max_items, notify.schedule, notify.digest_schedule) == \
        (10, "0 * * * * *", "0 0 7 * * *")


def test_a_teams_workflow_url_is_taken_and_never_shown() -> None:
    settings = Settings.from_env({"PHOTO_NOTIFY_WEBHOOK_URL": TEAMS_URL,
                                  "PHOTO_NOTIFY_FORMAT": "JSON",
                                  "PHOTO_NOTIFY_ON": "rejected, poison,waiting",
                                  "PHOTO_NOTIFY_MAX_ITEMS": "25"})
    assert settings.notify.webhook_url == TEAMS_URL
    assert settings.notify.format is NoticeFormat.JSON
    assert settings.notify.kinds == frozenset(NoticeKind)
    assert "s3cr3tS1gnatur3" not in repr(settings)
    assert "0123abcd" not in repr(settings)


@pytest.mark.parametrize("url", [
    TEAMS_URL.replace("https:", "http:"),  # a notice names people: not in the clear
    "ftp://example.com/hook?sig=s3cr3tS1gnatur3",
    "https:///no-host?sig=s3cr3tS1gnatur3",
    "https://user:s3cr3tS1gnatur3@example.com/hook",
    "https://example.com:port/hook?sig=s3cr3tS1gnatur3",
    "not a url s3cr3tS1gnatur3",
])
def test_a_webhook_url_that_is_not_https_is_refused_without_its_value(url: str) -> None:
    found = problems({"PHOTO_NOTIFY_WEBHOOK_URL": url})
    assert found == ["PHOTO_NOTIFY_WEBHOOK_URL must be an https URL (http only to this "
                     "machine, for the local stack's receiver); its value is not shown"]
    assert all("s3cr3t" not in p for p in found)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8123/hook?sig=x", "http://localhost/hook",
                                 "http://[::1]:9/hook"])
def test_plain_http_is_taken_for_this_machine_only(url: str) -> None:
    assert Settings.from_env({"PHOTO_NOTIFY_WEBHOOK_URL": url}).notify.enabled


@pytest.mark.parametrize(("env", "problem"), [
    ({"PHOTO_NOTIFY_FORMAT": "slack"}, "PHOTO_NOTIFY_FORMAT='slack' is not one of: teams, json"),
    ({"PHOTO_NOTIFY_ON": "rejected,everything"}, "PHOTO_NOTIFY_ON='rejected,everything' is not "
     "a comma-separated list of: rejected, poison, waiting"),
    ({"PHOTO_NOTIFY_ON": ","}, "PHOTO_NOTIFY_ON=',' is not a comma-separated list of: "
     "rejected, poison, waiting"),
    ({"PHOTO_NOTIFY_MAX_ITEMS": "26"}, "PHOTO_NOTIFY_MAX_ITEMS=26 is outside 1..25: a Teams "
     "message holds at most 28 KB"),
    ({"PHOTO_NOTIFY_SCHEDULE": "*/5 * * * *"}, "PHOTO_NOTIFY_SCHEDULE='*/5 * * * *' is not an "
     "NCRONTAB expression with six fields (second minute hour day month weekday)"),
    ({"PHOTO_NOTIFY_LOOKBACK_DAYS": "0"}, "PHOTO_NOTIFY_LOOKBACK_DAYS=0 is outside 1..31"),
])
def test_each_bad_notify_setting_is_named(env: dict[str, str], problem: str) -> None:
    assert problems(env) == [problem]


def test_poison_notices_need_the_queue_endpoint_of_an_identity_based_connection() -> None:
    env = {"PHOTO_NOTIFY_WEBHOOK_URL": TEAMS_URL, "PHOTO_NOTIFY_ON": "poison",
           "PhotoStorage__blobServiceUri": "https://acct.blob.core.windows.net",
           "PhotoStorage__tableServiceUri": "https://acct.table.core.windows.net"}
    assert problems(env) == ["PHOTO_NOTIFY_ON=poison needs PhotoStorage__queueServiceUri (the "
                             "account of the blob trigger's poison queue)"]
    env["PhotoStorage__queueServiceUri"] = "https://acct.queue.core.windows.net"
    assert Settings.from_env(env).storage.queue_service_uri == env["PhotoStorage__queueServiceUri"]
