"""Shared pytest configuration.  Fixtures live in tests/plugins/, one module per subsystem."""

pytest_plugins = [
    "tests.plugins.simulator",
    "tests.plugins.fake_discord",
    "tests.plugins.reelbot",
    "tests.plugins.storage",
]
