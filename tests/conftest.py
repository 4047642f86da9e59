"""Shared fixtures: real services for integration tests, started once per session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import settings

from devstack.azurite import Azurite

pytest_plugins = ["tests.integration.emulator_fixture"]

# Hypothesis's deadline is wall time, which a busy machine stretches: off for every test. Tests
# that bound a cost assert CPU time instead (tests/cpu.py).
settings.register_profile("photo-sync", deadline=None)
settings.load_profile("photo-sync")


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    """One Azurite (in-memory location in a temp folder) for the session; tests use unique
    container and table names so they do not see each other's data."""
    with Azurite() as running:
        yield running
