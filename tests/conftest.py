"""Shared fixtures: the emulator fixtures are registered here so every test package can use them."""

pytest_plugins = ["tests.integration.emulator_fixture"]
