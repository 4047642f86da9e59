"""devstack.azurite: free ports, a working connection string, restart with data, clear errors."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient
from azure.storage.queue import QueueClient

from devstack.azurite import Azurite, AzuriteError, logged_requests
from tests.waiting import wait_for

pytestmark = pytest.mark.integration


def test_services_answer_on_the_connection_string(tmp_path: Path) -> None:
    with Azurite(tmp_path / "data") as azurite:
        ports = azurite.ports
        assert len(set(ports.values())) == 3
        assert all(port > 0 for port in ports.values())
        connection = azurite.connection_string
        assert f"BlobEndpoint=http://127.0.0.1:{ports['Blob']}/devstoreaccount1" in connection

        blobs = BlobServiceClient.from_connection_string(connection)
        blobs.create_container("box").upload_blob("b.txt", b"hello")
        queue = QueueClient.from_connection_string(connection, "jobs")
        queue.create_queue()
        queue.send_message("m")
        tables = TableServiceClient.from_connection_string(connection)
        tables.create_table("things").create_entity({"PartitionKey": "p", "RowKey": "r", "v": 1})

        assert blobs.get_blob_client("box", "b.txt").download_blob().readall() == b"hello"
        assert [m.content for m in queue.peek_messages()] == ["m"]
        assert tables.get_table_client("things").get_entity("p", "r")["v"] == 1


def test_restart_keeps_ports_and_data_in_a_given_location(tmp_path: Path) -> None:
    with Azurite(tmp_path / "data") as azurite:
        before = dict(azurite.ports)
        connection = azurite.connection_string
        BlobServiceClient.from_connection_string(connection).create_container(
            "kept").upload_blob("x", b"1")

        azurite.restart()

        assert azurite.ports == before
        assert azurite.connection_string == connection
        blob = BlobServiceClient.from_connection_string(connection).get_blob_client("kept", "x")
        assert blob.download_blob().readall() == b"1"


def test_a_temporary_location_survives_restart_and_is_removed_on_stop() -> None:
    azurite = Azurite().start()
    try:
        location = azurite.location
        assert location is not None
        BlobServiceClient.from_connection_string(azurite.connection_string).create_container(
            "kept")
        azurite.restart()
        assert BlobServiceClient.from_connection_string(
            azurite.connection_string).get_container_client("kept").exists()
    finally:
        azurite.stop()
    assert not location.exists()
    assert not azurite.running


def test_a_missing_installation_says_how_to_install(tmp_path: Path) -> None:
    with pytest.raises(AzuriteError, match=r"npm ci"):
        Azurite(root=tmp_path).start()


def test_a_process_that_dies_while_starting_reports_its_output(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        azurite = Azurite(tmp_path / "data")
        azurite.ports["Blob"] = taken.getsockname()[1]
        with pytest.raises(AzuriteError, match="EADDRINUSE"):
            azurite.start()
    assert not azurite.running


def test_a_debug_log_names_every_request_from_a_given_offset(tmp_path: Path) -> None:
    log = tmp_path / "debug.log"
    with Azurite(tmp_path / "data", debug_log=log) as azurite:
        container = BlobServiceClient.from_connection_string(
            azurite.connection_string).create_container("box")
        # Azurite writes its log behind its answers: the offset is taken once the container's
        # request is in it, or that request would be counted among those after the offset
        wait_for(lambda: ("PUT", "/devstoreaccount1/box?restype=container")
                 in logged_requests(log) or None, what="the container's request in the log")
        offset = log.stat().st_size
        container.upload_blob("a b.txt", b"hello")
        container.get_blob_client("a b.txt").get_blob_properties()

        def both() -> list[tuple[str, str]] | None:
            found = logged_requests(log, offset)
            return found if len(found) >= 2 else None

        requests = wait_for(both, what="two requests in the debug log")

    assert requests == [("PUT", "/devstoreaccount1/box/a%20b.txt"),
                        ("HEAD", "/devstoreaccount1/box/a%20b.txt")]
