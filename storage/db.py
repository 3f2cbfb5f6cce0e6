"""One aiosqlite connection, WAL, foreign keys, and numbered forward-only migrations.

Migrations are ``storage/migrations/NNNN_name.sql`` files applied in order at start-up; the applied
version is kept in the database itself (``PRAGMA user_version``), so any copy of the file knows its
own schema.  A migration runs inside one transaction together with the version bump.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import aiosqlite

log = logging.getLogger(__name__)

_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


class MigrationError(RuntimeError):
    """The database is newer than this code, or a migration file is malformed."""


def available_migrations() -> list[tuple[int, str, str]]:
    """(version, file name, SQL) for every migration shipped with the package, in order."""
    found = []
    for entry in resources.files("storage.migrations").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    versions = [v for v, _, _ in found]
    if versions != list(range(1, len(versions) + 1)):
        raise MigrationError(f"migration numbers must run 1..n without gaps, found {versions}")
    return found


class Database:
    """Owner of the single SQLite connection.

    aiosqlite serialises statements on its own thread; ``transaction()`` additionally holds an
    asyncio lock so that the statements of one transaction are never interleaved with another
    coroutine's, and opens it with ``BEGIN IMMEDIATE`` so the write lock is taken up front.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._conn: aiosqlite.Connection | None = None
        self._tx_lock = asyncio.Lock()

    @property
    def conn(self) -> aiosqlite.Connection:
        if self._conn is None:
            raise RuntimeError("database is not open")
        return self._conn

    async def open(self) -> None:
        if self.path != Path(":memory:"):
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = await aiosqlite.connect(self.path, isolation_level=None)
        self._conn.row_factory = aiosqlite.Row
        await self._conn.execute("PRAGMA journal_mode=WAL")
        await self._conn.execute("PRAGMA foreign_keys=ON")
        await self._conn.execute("PRAGMA synchronous=NORMAL")
        await self._conn.execute("PRAGMA busy_timeout=5000")
        try:
            await self.migrate()
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def __aenter__(self) -> Database:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def schema_version(self) -> int:
        async with self.conn.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def migrate(self) -> int:
        """Apply every pending migration; return the resulting version."""
        migrations = available_migrations()
        current = await self.schema_version()
        latest = migrations[-1][0] if migrations else 0
        if current > latest:
            raise MigrationError(
                f"database {self.path} is at schema version {current}, newer than this code ({latest})"
            )
        for version, name, sql in migrations:
            if version <= current:
                continue
            log.info("applying migration %s", name)
            async with self.transaction() as conn:
                # executescript would COMMIT the open transaction; run statement by statement instead.
                for statement in _split_sql(sql):
                    await conn.execute(statement)
                await conn.execute(f"PRAGMA user_version = {int(version)}")
        return await self.schema_version()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """``BEGIN IMMEDIATE`` … ``COMMIT`` (or ``ROLLBACK`` on any exception)."""
        async with self._tx_lock:
            await self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                await self.conn.execute("ROLLBACK")
                raise
            else:
                await self.conn.execute("COMMIT")

    async def execute(self, sql: str, params: Iterable[Any] = ()) -> int:
        """Run one write statement outside an explicit transaction; returns rows changed."""
        async with self._tx_lock:
            cur = await self.conn.execute(sql, tuple(params))
            count = cur.rowcount
            await cur.close()
            return count

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> aiosqlite.Row | None:
        async with self.conn.execute(sql, tuple(params)) as cur:
            return await cur.fetchone()

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[aiosqlite.Row]:
        async with self.conn.execute(sql, tuple(params)) as cur:
            return list(await cur.fetchall())


def _split_sql(script: str) -> list[str]:
    """Split a migration into statements (our migrations hold no semicolons inside literals or triggers)."""
    without_comments = "\n".join(line.split("--", 1)[0] for line in script.splitlines())
    return [s.strip() for s in without_comments.split(";") if s.strip()]
