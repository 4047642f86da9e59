"""The blob and table adapters against a real Azurite, and one sync through all real parts."""

from __future__ import annotations

import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

import pytest
from azure.data.tables import TableClient
from azure.storage.blob import BlobServiceClient, ContainerClient, ContentSettings

from devstack.azurite import DEV_ACCOUNT, DEV_KEY, Azurite
from photo_core.adapters.blob_drop import TAG_REASON, TAG_STATUS, AzureBlobDrop
from photo_core.adapters.state_table import TableStateStore
from photo_core.bootstrap import bootstrap
from photo_core.domain.clock import SYSTEM_CLOCK
from photo_core.domain.naming import NamingRules
from photo_core.domain.outcomes import Outcome, Status
from photo_core.photos import ImagePolicy
from photo_core.use_cases.ports import Disposal, DropChanged, StateConflict, UserState
from photo_core.use_cases.sync import SyncDeps, SyncOptions, sync_drop
from tests.integration.loopback import SilentServer
from tests.integration.test_photo_api import admin, settings_for
from tests.photos import jpeg
from tests.unit.fakes import FakePhotoApi
from tests.waiting import wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def container(azurite: Azurite) -> ContainerClient:
    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    client = service.create_container(f"drop-{uuid.uuid4().hex[:12]}")
    return client


@pytest.fixture
def store(azurite: Azurite) -> TableStateStore:
    table = TableClient.from_connection_string(azurite.connection_string,
                                               f"state{uuid.uuid4().hex[:12]}")
    return TableStateStore(table)


def outcome(status: Status, name: str, reason: str | None = None) -> Outcome:
    return Outcome(status=status, blob_name=name, message="done", at=datetime.now(UTC),
                   reason=reason, content_sha256="ab" * 32)


def test_a_drop_reads_properties_then_exactly_that_version(container: ContainerClient) -> None:
    blob = container.upload_blob("hr/jane@contoso.com.jpg", b"first")
    drop = AzureBlobDrop(container.get_blob_client(blob.blob_name))
    info = drop.info()
    assert (info.name, info.size) == ("hr/jane@contoso.com.jpg", 5)
    assert info.created is not None and info.created <= info.last_modified
    assert drop.read() == b"first"
    container.upload_blob(blob.blob_name, b"second", overwrite=True)
    with pytest.raises(DropChanged):
        drop.read()


def test_an_outcome_goes_into_tags_and_metadata_for_operators(
        container: ContainerClient) -> None:
    client = container.upload_blob("jane@contoso.com.jpg", jpeg(),
                                   metadata={"hr_batch": "42", "photosync_status": "forged"})
    drop = AzureBlobDrop(client)
    drop.info()
    shown = drop.record(outcome(Status.REJECTED, "jane@contoso.com.jpg", "not_jpeg"))
    assert client.get_blob_tags() == {TAG_STATUS: "rejected", TAG_REASON: "not_jpeg"}
    props = client.get_blob_properties()
    assert props.metadata["hr_batch"] == "42"
    assert props.metadata["photosync_status"] == "rejected"  # ours, not what HR wrote there
    assert shown.etag == props.etag  # the version that carries the outcome, for the record
    # Index tags, listed with the blob. Azure also finds them with the query the README shows
    # ("photosync-status" = 'rejected'); Azurite 3.35, the newest that runs on Node 20, cannot
    # parse a quoted tag key with a '-' in a query (Azurite issue 2515, fixed in 3.36).
    listed = {b.name: b.tags for b in container.list_blobs(include=["tags"])}
    assert listed == {"jane@contoso.com.jpg": {TAG_STATUS: "rejected", TAG_REASON: "not_jpeg"}}


def test_an_outcome_is_not_stamped_on_content_uploaded_meanwhile(
        container: ContainerClient) -> None:
    client = container.upload_blob("jane@contoso.com.jpg", b"old")
    drop = AzureBlobDrop(client)
    drop.info()
    container.upload_blob("jane@contoso.com.jpg", b"new", overwrite=True)
    shown = drop.record(outcome(Status.UPLOADED, "jane@contoso.com.jpg"))
    assert (shown.changed, shown.gone, shown.etag) == (True, False, None)
    assert "photosync_status" not in (client.get_blob_properties().metadata or {})
    assert client.get_blob_tags() == {}


def test_move_copies_with_the_outcome_then_removes_the_drop(container: ContainerClient,
                                                            azurite: Azurite) -> None:
    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    target = service.create_container(f"moved-{uuid.uuid4().hex[:12]}")
    client = container.upload_blob("x/jane@contoso.com.jpg", b"data")
    drop = AzureBlobDrop(client)
    drop.info()
    content = drop.read()
    drop.record(outcome(Status.UPLOADED, "x/jane@contoso.com.jpg"))
    drop.dispose(Disposal.MOVE, target.container_name, content)
    moved = target.get_blob_client("x/jane@contoso.com.jpg")
    assert moved.download_blob().readall() == b"data"
    assert moved.get_blob_tags()[TAG_STATUS] == "uploaded"
    assert not client.exists()


def test_a_move_uses_the_process_wide_client_for_the_target_container(
        container: ContainerClient, azurite: Azurite) -> None:
    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    target = service.create_container(f"moved-{uuid.uuid4().hex[:12]}")
    asked: list[str] = []

    def containers(name: str) -> ContainerClient:
        asked.append(name)
        return service.get_container_client(name)

    client = container.upload_blob("jane@contoso.com.jpg", b"data")
    drop = AzureBlobDrop(client, containers)
    drop.info()
    content = drop.read()
    drop.record(outcome(Status.REJECTED, "jane@contoso.com.jpg", "not_jpeg"))
    drop.dispose(Disposal.MOVE, target.container_name, content)
    assert asked == [target.container_name]
    moved = target.get_blob_client("jane@contoso.com.jpg")
    assert moved.get_blob_tags() == {TAG_STATUS: "rejected", TAG_REASON: "not_jpeg"}
    assert not client.exists()


def test_delete_removes_only_the_processed_version(container: ContainerClient) -> None:
    client = container.upload_blob("jane@contoso.com.jpg", b"v1")
    drop = AzureBlobDrop(client)
    drop.info()
    container.upload_blob("jane@contoso.com.jpg", b"v2", overwrite=True)
    drop.dispose(Disposal.DELETE, None, None)
    assert client.download_blob().readall() == b"v2"


def test_state_rows_are_created_once_and_updated_only_from_the_version_read(
        store: TableStateStore) -> None:
    user = "upn:guest_fabrikam.com#EXT#@contoso.onmicrosoft.com"
    assert store.get(user) is None
    first = store.put(UserState(user=user, attempts=1), None)
    with pytest.raises(StateConflict):
        store.put(UserState(user=user), None)
    when = datetime(2026, 11, 28, 10, 30, tzinfo=UTC)
    second = store.put(UserState(user=user, attempts=2, source_modified=when,
                                 last_status="uploaded"), first)
    with pytest.raises(StateConflict):
        store.put(UserState(user=user, attempts=3), first)
    state, version = store.get(user) or (None, None)
    assert version == second
    assert state == UserState(user=user, attempts=2, source_modified=when,
                              last_status="uploaded")


def test_one_drop_through_real_storage_and_the_emulator(
        container: ContainerClient, store: TableStateStore, emu: dict[str, Any]) -> None:
    photo = jpeg("#aa3366")
    client = container.upload_blob("alex.wilber@contoso.com.jpg", photo)
    services = bootstrap(settings_for(emu))
    deps = SyncDeps(api=services.photo_api, state=store, clock=SYSTEM_CLOCK, owner="test")
    options = SyncOptions(naming=NamingRules(), image=ImagePolicy())
    result = sync_drop(AzureBlobDrop(client), options, deps)
    assert result.status is Status.UPLOADED
    assert admin(emu, "GET", "/users/alex.wilber@contoso.com/photo").content == photo
    assert client.get_blob_tags()[TAG_STATUS] == "uploaded"
    row = store.get("upn:alex.wilber@contoso.com")
    assert row is not None and row[0].last_status == "uploaded"
    again = sync_drop(AzureBlobDrop(client), options, deps)
    assert again.status is Status.UPLOADED and again.message.startswith("already processed")


def test_a_blob_over_the_cap_is_never_downloaded(container: ContainerClient, azurite: Azurite,
                                                 store: TableStateStore) -> None:
    from azure.storage.blob import BlobClient

    container.upload_blob("alex.wilber@contoso.com.jpg", b"\xff\xd8" + b"\0" * 50_000)
    requests_seen: list[str] = []
    client = BlobClient.from_connection_string(
        azurite.connection_string, container.container_name, "alex.wilber@contoso.com.jpg",
        raw_request_hook=lambda r: requests_seen.append(
            f"{r.http_request.method} {r.http_request.headers.get('x-ms-range', '')}"),
    )

    class NoApi:
        def __getattr__(self, name: str) -> Any:
            raise AssertionError(f"the photo API must not be called ({name})")

    deps = SyncDeps(api=NoApi(), state=store, clock=SYSTEM_CLOCK, owner="test")
    options = SyncOptions(naming=NamingRules(), image=ImagePolicy(max_input_bytes=10_000))
    result = sync_drop(AzureBlobDrop(client), options, deps)
    assert (result.status, result.reason) == (Status.REJECTED, "file_too_large")
    assert all(not line.startswith("GET") for line in requests_seen), requests_seen
    assert any(line.startswith("HEAD") for line in requests_seen)


def test_an_outcome_left_without_its_tags_still_counts_and_gets_them_back(
        container: ContainerClient, store: TableStateStore) -> None:
    """An invocation that died between the metadata and the tags: the redelivery must not
    process the drop again (its Last-Modified and ETag moved with the metadata write)."""
    client = container.upload_blob("jane@contoso.com.jpg", jpeg())
    api = FakePhotoApi()
    deps = SyncDeps(api=api, state=store, clock=SYSTEM_CLOCK,
                    owner="first")
    options = SyncOptions(naming=NamingRules(), image=ImagePolicy())
    assert sync_drop(AzureBlobDrop(client), options, deps).status is Status.UPLOADED
    client.set_blob_tags({})  # as if the tags had never been written
    again = sync_drop(AzureBlobDrop(client), options, replace(deps, owner="redelivery"))
    assert again.message.startswith("already processed")
    assert len(api.uploads) == 1
    assert client.get_blob_tags() == {TAG_STATUS: "uploaded", TAG_REASON: "none"}


def test_a_drop_with_ten_tags_of_its_own_keeps_them_and_its_outcome_is_in_the_metadata(
        container: ContainerClient) -> None:
    hr_tags = {f"hr{i}": "x" for i in range(9)}
    client = container.upload_blob("jane@contoso.com.jpg", jpeg(), tags=hr_tags)
    drop = AzureBlobDrop(client)
    drop.info()
    drop.record(outcome(Status.UPLOADED, "jane@contoso.com.jpg"))  # no room for two more tags
    assert client.get_blob_tags() == hr_tags
    assert client.get_blob_properties().metadata["photosync_status"] == "uploaded"
    again = AzureBlobDrop(client)
    again.info()
    again.ensure_tags(Status.UPLOADED, None)  # a redelivery does not fail on it either
    assert client.get_blob_tags() == hr_tags


def test_a_drop_deleted_before_it_is_read_ends_with_nothing_to_do(
        container: ContainerClient, store: TableStateStore) -> None:
    client = container.upload_blob("jane@contoso.com.jpg", jpeg())
    client.delete_blob()
    deps = SyncDeps(api=FakePhotoApi(), state=store, clock=SYSTEM_CLOCK, owner="x")
    result = sync_drop(AzureBlobDrop(client), SyncOptions(naming=NamingRules(),
                                                          image=ImagePolicy()), deps)
    assert (result.status, result.reason) == (Status.UNCHANGED, "gone")
    assert store.get("upn:jane@contoso.com") is None


@pytest.mark.parametrize("name", [" jane@contoso.com.jpg", "jane@contoso.com.jpg ",
                                  "hr batch/jane@contoso.com.jpg"])
def test_an_outcome_marker_survives_spaces_at_either_end_of_a_name(
        container: ContainerClient, name: str) -> None:
    client = container.upload_blob(name, jpeg())
    drop = AzureBlobDrop(client)
    drop.info()
    drop.record(outcome(Status.REJECTED, name, "invalid_characters"))
    metadata = container.get_blob_client(name).get_blob_properties().metadata
    assert unquote(metadata["photosync_blob"]) == name


def test_a_copy_of_a_processed_blob_is_a_new_drop_not_an_already_processed_one(
        container: ContainerClient, azurite: Azurite, store: TableStateStore) -> None:
    """Copy Blob carries metadata (and, when asked, tags): a processed drop copied back to be
    applied again must be, marker or not. It is a blob created anew."""
    name = "jane@contoso.com.jpg"
    processed = BlobServiceClient.from_connection_string(azurite.connection_string)\
        .create_container(f"done-{uuid.uuid4().hex[:12]}")
    api = FakePhotoApi()
    deps = SyncDeps(api=api, state=store, clock=SYSTEM_CLOCK, owner="first")
    options = SyncOptions(naming=NamingRules(), image=ImagePolicy(), processed=Disposal.MOVE,
                          processed_container=processed.container_name)
    container.upload_blob(name, jpeg())
    assert sync_drop(AzureBlobDrop(container.get_blob_client(name)), options,
                     deps).status is Status.UPLOADED
    original = processed.get_blob_client(name)
    assert original.get_blob_properties().metadata["photosync_status"] == "uploaded"
    time.sleep(1.1)  # creation times have one-second resolution
    copy = container.get_blob_client(name)
    copy.start_copy_from_url(original.url, requires_sync=True, tags="COPY")
    assert copy.get_blob_properties().metadata == original.get_blob_properties().metadata
    again = sync_drop(AzureBlobDrop(copy), SyncOptions(naming=NamingRules(),
                                                      image=ImagePolicy()),
                      replace(deps, owner="copy"))
    assert not again.message.startswith("already processed")  # decided as the drop it is
    assert (again.status, again.reason) == (Status.UNCHANGED, "same_content")


def test_an_edit_of_a_processed_drops_properties_is_not_a_new_drop(
        container: ContainerClient, store: TableStateStore) -> None:
    """Storage Explorer's 'edit properties' changes the ETag and Last-Modified, not the content:
    the drop is recognised, and keeps its content's time."""
    client = container.upload_blob("2025/jane@contoso.com.jpg", jpeg())
    created = client.get_blob_properties().creation_time
    api = FakePhotoApi()
    deps = SyncDeps(api=api, state=store, clock=SYSTEM_CLOCK, owner="first")
    options = SyncOptions(naming=NamingRules(), image=ImagePolicy())
    sync_drop(AzureBlobDrop(client), options, deps)
    time.sleep(1.1)
    client.set_http_headers(ContentSettings(content_type="image/jpeg"))
    client.set_blob_metadata({"approved": "yes"})
    again = sync_drop(AzureBlobDrop(client), options, replace(deps, owner="event"))
    assert again.message.startswith("already processed") and len(api.uploads) == 1
    record = store.get_drop("2025/jane@contoso.com.jpg")
    assert record is not None and record.made == created
    assert record.describes(client.get_blob_properties().etag)


def test_a_drop_processed_by_an_instance_whose_clock_is_behind_storage_is_not_processed_again(
        container: ContainerClient, store: TableStateStore) -> None:
    """Its outcome is dated by its own clock, a minute behind storage's: nothing compares the
    two, so a redelivery still finds the drop done (and nothing is processed twice)."""
    from photo_core.domain.clock import SystemClock

    behind = SystemClock(offset=-timedelta(minutes=1))
    client = container.upload_blob("jane@contoso.com.jpg", jpeg())
    api = FakePhotoApi()
    deps = SyncDeps(api=api, state=store, clock=behind, owner="first")
    options = SyncOptions(naming=NamingRules(), image=ImagePolicy())
    assert sync_drop(AzureBlobDrop(client), options, deps).status is Status.UPLOADED
    again = sync_drop(AzureBlobDrop(client), options, replace(deps, owner="redelivery"))
    assert again.message.startswith("already processed")
    assert len(api.uploads) == 1


def test_a_state_table_that_stops_answering_is_given_up_on_inside_a_claims_lifetime() -> None:
    """The claim is renewed through this client: with the SDK's default timeouts and retries a
    renewal could hang for minutes while the claim lapses. The budget bounds it instead."""
    from azure.core.exceptions import AzureError

    from photo_core.bootstrap import build_table_client
    from photo_core.domain.budget import TimeBudget
    from photo_core.settings import StorageSettings

    silent = SilentServer()  # a table endpoint that reads the request and never answers
    try:
        endpoint = f"http://127.0.0.1:{silent.port}/{DEV_ACCOUNT}"
        storage = StorageSettings(connection_string=(
            f"DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT};AccountKey={DEV_KEY};"
            f"TableEndpoint={endpoint};"))
        budget = TimeBudget(storage_connect_timeout=0.5, storage_read_timeout=0.5)
        assert budget.storage_call < budget.claim_lifetime
        table = build_table_client(storage, budget)
        with pytest.raises(AzureError):
            table.get_entity("upn:jane@contoso.com", "state")  # a read: retried, once
        # the server's thread may read the last request after the client gave up on it
        wait_for(lambda: silent.requests > budget.storage_retries or None,
                 what="the retried request at the silent table")
        assert silent.requests == budget.storage_retries + 1
    finally:
        silent.close()


def test_the_mapping_file_is_read_again_only_when_it_changed(container: ContainerClient) -> None:
    from photo_core.adapters.blob_drop import mapping_fetcher

    blob = container.upload_blob("ids.csv", b"id,upn\nHR-1,a@contoso.com\n")
    fetch = mapping_fetcher(container, "ids.csv")
    first = fetch(None)
    assert first is not None and first.entries == {"hr-1": "a@contoso.com"}
    assert first.modified == blob.get_blob_properties().last_modified
    assert fetch(first.version) is None  # unchanged: nothing transferred
    container.upload_blob("ids.csv", b"id,upn\nHR-1,b@contoso.com\n", overwrite=True)
    second = fetch(first.version)
    assert second is not None and second.entries == {"hr-1": "b@contoso.com"}


def test_outcome_tags_of_a_drop_deleted_meanwhile_are_not_an_error(
        container: ContainerClient) -> None:
    client = container.upload_blob("jane@contoso.com.jpg", jpeg(), tags={"hr": "1"})
    drop = AzureBlobDrop(client)
    drop.info()
    client.delete_blob()
    drop.ensure_tags(Status.UPLOADED, None)  # a redelivery of a drop HR deleted since
    assert drop.record(outcome(Status.UPLOADED, "jane@contoso.com.jpg")).gone
