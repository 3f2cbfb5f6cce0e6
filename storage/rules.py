"""Per-guild extra content rules and the record of refusals."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from storage.db import Database


@dataclass(frozen=True, slots=True)
class GuildRule:
    id: int
    guild_id: int
    kind: str  # "term" | "regex"
    pattern: str
    added_by: int
    created_at: float


@dataclass(frozen=True, slots=True)
class Refusal:
    id: int
    guild_id: int
    user_id: int
    source: str  # local | moderation | provider | image
    category: str | None
    rule: str | None
    prompt: str
    job_id: int | None
    created_at: float


class RuleStore:
    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.clock = clock

    # ------------------------------------------------------------------ guild rules

    async def add(self, guild_id: int, kind: str, pattern: str, added_by: int) -> GuildRule | None:
        """Store a rule (validate it first); None when the guild already has exactly this rule."""
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                """INSERT INTO guild_rules (guild_id, kind, pattern, added_by, created_at) VALUES (?, ?, ?, ?, ?)
                   ON CONFLICT (guild_id, kind, pattern) DO NOTHING""",
                (guild_id, kind, pattern, added_by, self.clock()),
            )
            inserted = cur.rowcount == 1
            rule_id = cur.lastrowid
            await cur.close()
        if not inserted:
            return None
        row = await self.db.fetchone("SELECT * FROM guild_rules WHERE id = ?", (rule_id,))
        assert row is not None
        return GuildRule(**dict(row))

    async def remove(self, guild_id: int, rule_id: int) -> GuildRule | None:
        row = await self.db.fetchone("SELECT * FROM guild_rules WHERE id = ? AND guild_id = ?", (rule_id, guild_id))
        if row is None:
            return None
        await self.db.execute("DELETE FROM guild_rules WHERE id = ? AND guild_id = ?", (rule_id, guild_id))
        return GuildRule(**dict(row))

    async def list_rules(self, guild_id: int) -> list[GuildRule]:
        rows = await self.db.fetchall("SELECT * FROM guild_rules WHERE guild_id = ? ORDER BY id", (guild_id,))
        return [GuildRule(**dict(r)) for r in rows]

    # ------------------------------------------------------------------ refusals

    async def record_refusal(
        self,
        *,
        guild_id: int,
        user_id: int,
        source: str,
        category: str | None,
        rule: str | None,
        prompt: str,
        job_id: int | None = None,
    ) -> int:
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                """INSERT INTO refusals (guild_id, user_id, source, category, rule, prompt, job_id, created_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
                (guild_id, user_id, source, category, rule, prompt, job_id, self.clock()),
            )
            refusal_id = cur.lastrowid
            await cur.close()
        assert refusal_id is not None
        return refusal_id

    async def refusals_since(self, guild_id: int, user_id: int, since: float) -> list[Refusal]:
        rows = await self.db.fetchall(
            "SELECT * FROM refusals WHERE guild_id = ? AND user_id = ? AND created_at >= ? ORDER BY created_at",
            (guild_id, user_id, since),
        )
        return [Refusal(**dict(r)) for r in rows]

    async def recent_refusals(self, guild_id: int, *, limit: int = 20, offset: int = 0) -> list[Refusal]:
        rows = await self.db.fetchall(
            "SELECT * FROM refusals WHERE guild_id = ? ORDER BY id DESC LIMIT ? OFFSET ?",
            (guild_id, limit, offset),
        )
        return [Refusal(**dict(r)) for r in rows]
