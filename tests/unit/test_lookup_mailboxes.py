"""Lookups of users whose photo is not in an Exchange Online mailbox: a photo Graph keeps in
Entra ID has no HD sizes, and a sizes call that says "no mailbox" must not fail the lookup of a
photo that was just read; without a photo, the mailbox error is the lookup's answer."""

from __future__ import annotations

import pytest

from photo_core.domain.dialects import PhotoMetadata
from photo_core.domain.errors import MailboxOnPremises, NoMailbox, PhotoSyncError
from photo_core.domain.naming import NamingRules, UserRef
from photo_core.use_cases.directory import Resolver
from photo_core.use_cases.lookup import lookup_photo
from tests.unit.fakes import FakePhotoApi, FakeStateStore

USER = "isaiah.langer@contoso.com"


class EntraPhotoApi(FakePhotoApi):
    """The photo is read from Entra ID; the HD sizes call answers with a mailbox error."""

    def __init__(self, sizes_error: PhotoSyncError) -> None:
        super().__init__()
        self.photos[USER] = b"\xff\xd8jpeg"
        self.sizes_error = sizes_error

    def get_metadata(self, user: UserRef) -> PhotoMetadata | None:
        return PhotoMetadata("300x200", 300, 200, "image/jpeg", '"e"')

    def list_sizes(self, user: UserRef) -> list[PhotoMetadata]:
        raise self.sizes_error


@pytest.mark.parametrize("error", [NoMailbox("404 ErrorNonExistentMailbox"),
                                   MailboxOnPremises("404 MailboxNotHostedInExchangeOnline")])
def test_a_photo_without_hd_sizes_is_looked_up_with_none(error: PhotoSyncError) -> None:
    api = EntraPhotoApi(error)
    result = lookup_photo(USER, NamingRules(), api, FakeStateStore(),
                          Resolver(api, employee_ttl=0))
    assert result.photo is not None and (result.photo.width, result.photo.height) == (300, 200)
    assert result.sizes == ()
    assert result.to_json()["sizes"] == []


def test_without_a_photo_the_mailbox_error_is_the_answer() -> None:
    api = FakePhotoApi()
    api.errors[USER] = NoMailbox("404 ErrorNonExistentMailbox")
    with pytest.raises(NoMailbox):
        lookup_photo(USER, NamingRules(), api, FakeStateStore(), Resolver(api, employee_ttl=0))
