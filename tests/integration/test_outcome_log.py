"""The outcome log against real Azurite: a new deployment reports nothing rather than failing,
and its first outcome is kept even when it comes before any state row made the table."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from azure.data.tables import TableClient

from devstack.azurite import Azurite
from photo_core.adapters.outcome_log import TableOutcomeLog
from photo_core.domain.naming import UserRef, UserRefKind
from photo_core.domain.outcomes import Outcome, Status

pytestmark = pytest.mark.integration


def fresh_table(azurite: Azurite) -> TableClient:
    return TableClient.from_connection_string(azurite.connection_string,
                                              f"log{uuid.uuid4().hex[:12]}")


def test_a_log_whose_table_does_not_exist_yet_reports_nothing(azurite: Azurite) -> None:
    now = datetime.now(UTC)
    assert list(TableOutcomeLog(fresh_table(azurite)).between(now - timedelta(days=2), now)) == []


def test_the_first_outcome_of_a_new_deployment_is_kept(azurite: Azurite) -> None:
    log = TableOutcomeLog(fresh_table(azurite))
    at = datetime.now(UTC)
    log.append(Outcome(Status.REJECTED, "bad name.jpg", "a space", at,
                       reason="invalid_characters"))
    found = list(log.between(at - timedelta(minutes=1), at + timedelta(minutes=1)))
    assert [(o.blob_name, o.reason) for o in found] == [("bad name.jpg", "invalid_characters")]


def test_an_outcome_keeps_whom_the_photo_went_to_and_by_which_mapping(azurite: Azurite) -> None:
    log = TableOutcomeLog(fresh_table(azurite))
    at = datetime.now(UTC)
    bob = UserRef(UserRefKind.UPN, "bob@contoso.com")
    log.append(Outcome(Status.UPLOADED, "HR-7.jpg", "done", at, user="HR-7", target=bob,
                       mapping_version='"0x8DC1"'))
    [found] = log.between(at - timedelta(minutes=1), at + timedelta(minutes=1))
    assert (found.user, found.target, found.mapping_version) == ("HR-7", bob, '"0x8DC1"')
