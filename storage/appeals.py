"""Appeals of locally refused prompts, and what each refused request asked for."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

import aiosqlite

from storage.audit import Action, AuditEntry, write_audit
from storage.db import Database
from storage.rules import Refusal


@dataclass(frozen=True, slots=True)
class RefusedRequest:
    """A refused request as the member made it (for resubmission after an approved appeal)."""

    refusal_id: int
    channel_id: int
    model: str
    size: str
    seconds: int
    had_image: bool = False


@dataclass(frozen=True, slots=True)
class Appeal:
    id: int
    refusal_id: int
    guild_id: int
    user_id: int
    explanation: str | None
    status: str  # pending | approved | denied
    log_channel_id: int | None
    log_message_id: int | None
    decided_by: int | None
    decided_at: float | None
    job_id: int | None
    created_at: float

    @classmethod
    def from_row(cls, row: Mapping[str, Any] | aiosqlite.Row) -> Appeal:
        return cls(**{f.name: row[f.name] for f in fields(cls)})


class AppealStore:
    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.clock = clock

    # ------------------------------------------------------------------ refused requests

    async def remember_request(
        self, refusal_id: int, *, channel_id: int, model: str, size: str, seconds: int, had_image: bool = False
    ) -> None:
        await self.db.execute(
            """INSERT INTO refusal_requests (refusal_id, channel_id, model, size, seconds, had_image)
               VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (refusal_id) DO NOTHING""",
            (refusal_id, channel_id, model, size, seconds, int(had_image)),
        )

    async def refused_request(self, refusal_id: int) -> RefusedRequest | None:
        row = await self.db.fetchone("SELECT * FROM refusal_requests WHERE refusal_id = ?", (refusal_id,))
        if row is None:
            return None
        return RefusedRequest(**{**dict(row), "had_image": bool(row["had_image"])})

    async def refusal(self, refusal_id: int) -> Refusal | None:
        row = await self.db.fetchone("SELECT * FROM refusals WHERE id = ?", (refusal_id,))
        return Refusal(**dict(row)) if row else None

    # ------------------------------------------------------------------ appeals

    async def create(self, refusal: Refusal, explanation: str | None) -> Appeal | None:
        """Open an appeal of ``refusal``; None when it was appealed before."""
        now = self.clock()
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                """INSERT INTO appeals (refusal_id, guild_id, user_id, explanation, status, created_at)
                   VALUES (?, ?, ?, ?, 'pending', ?) ON CONFLICT (refusal_id) DO NOTHING""",
                (refusal.id, refusal.guild_id, refusal.user_id, explanation, now),
            )
            created = cur.rowcount == 1
            await cur.close()
        return await self.by_refusal(refusal.id) if created else None

    async def by_refusal(self, refusal_id: int) -> Appeal | None:
        row = await self.db.fetchone("SELECT * FROM appeals WHERE refusal_id = ?", (refusal_id,))
        return Appeal.from_row(row) if row else None

    async def set_log_message(self, appeal_id: int, channel_id: int, message_id: int) -> None:
        await self.db.execute(
            "UPDATE appeals SET log_channel_id = ?, log_message_id = ? WHERE id = ?",
            (channel_id, message_id, appeal_id),
        )

    async def decide(self, appeal_id: int, status: str, action: Action) -> tuple[Appeal, AuditEntry] | None:
        """Move a pending appeal to ``approved``/``denied`` with its audit row; None when already decided."""
        if status not in ("approved", "denied"):
            raise ValueError(f"an appeal is approved or denied, not {status!r}")
        now = self.clock()
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                """UPDATE appeals SET status = ?, decided_by = ?, decided_at = ?
                   WHERE id = ? AND status = 'pending'""",
                (status, action.actor_id, now, appeal_id),
            )
            moved = cur.rowcount == 1
            await cur.close()
            if not moved:
                return None
            entry = await write_audit(conn, await self._guild_of(conn, appeal_id), action, now)
        appeal = await self.get(appeal_id)
        assert appeal is not None
        return appeal, entry

    async def withdraw(self, appeal_id: int) -> None:
        """Drop a pending appeal that never reached the moderators (the log post failed)."""
        await self.db.execute("DELETE FROM appeals WHERE id = ? AND status = 'pending'", (appeal_id,))

    async def set_job(self, appeal_id: int, job_id: int) -> None:
        await self.db.execute("UPDATE appeals SET job_id = ? WHERE id = ?", (job_id, appeal_id))

    async def get(self, appeal_id: int) -> Appeal | None:
        row = await self.db.fetchone("SELECT * FROM appeals WHERE id = ?", (appeal_id,))
        return Appeal.from_row(row) if row else None

    async def pending(self, guild_id: int) -> list[Appeal]:
        rows = await self.db.fetchall(
            "SELECT * FROM appeals WHERE guild_id = ? AND status = 'pending' ORDER BY created_at", (guild_id,)
        )
        return [Appeal.from_row(r) for r in rows]

    @staticmethod
    async def _guild_of(conn: aiosqlite.Connection, appeal_id: int) -> int:
        async with conn.execute("SELECT guild_id FROM appeals WHERE id = ?", (appeal_id,)) as cur:
            row = await cur.fetchone()
        assert row is not None
        return int(row[0])
