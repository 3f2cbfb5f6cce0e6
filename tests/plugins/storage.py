"""Fixtures shared by the storage-backed unit tests: a manual clock and a database on a temporary file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.simulator import ManualClock
from storage import Database

CLOCK_START = 1_800_000_000.0


@pytest.fixture
def clock() -> ManualClock:
    """A clock the test moves by hand (``clock.advance(60)`` or ``clock.now = …``)."""
    return ManualClock(CLOCK_START)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    """A migrated SQLite database (WAL) on a temporary file, closed after the test."""
    async with Database(tmp_path / "test.db") as database:
        yield database
