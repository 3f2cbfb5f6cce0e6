"""The moderators' audit log, and the timeline that merges it with the record of refused prompts.

A change is written with :func:`write_audit` on the connection of the transaction that makes the change, so
the change and its audit row are committed together or not at all.  Look-ups (``change=False``) are
recorded too, and hidden from the timeline unless asked for.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiosqlite

from storage.db import Database


@dataclass(frozen=True, slots=True)
class Action:
    """What a moderator did, before it is written: ``action`` is dotted (``policy.pause``, ``member.ban``)."""

    actor_id: int
    action: str
    target_id: int | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    guild_id: int
    actor_id: int
    action: str
    target_id: int | None
    details: dict[str, Any]
    change: bool
    created_at: float

    @classmethod
    def from_row(cls, row: Mapping[str, Any] | aiosqlite.Row) -> AuditEntry:
        return cls(
            id=row["id"],
            guild_id=row["guild_id"],
            actor_id=row["actor_id"],
            action=row["action"],
            target_id=row["target_id"],
            details=json.loads(row["details"] or "{}"),
            change=bool(row["change"]),
            created_at=row["created_at"],
        )


@dataclass(frozen=True, slots=True)
class TimelineItem:
    """One line of ``/videomod audit``: a moderator action (``kind == "action"``) or a refusal."""

    kind: str  # "action" | "refusal"
    id: int
    user_id: int  # the moderator (action) or the refused member (refusal)
    created_at: float
    action: str | None = None
    target_id: int | None = None
    details: dict[str, Any] = field(default_factory=dict)
    source: str | None = None
    category: str | None = None
    rule: str | None = None
    prompt: str | None = None


def _json(details: Mapping[str, Any]) -> str:
    return json.dumps(dict(details), sort_keys=True, default=str, ensure_ascii=False)


async def write_audit(
    conn: aiosqlite.Connection, guild_id: int, action: Action, now: float, *, change: bool = True
) -> AuditEntry:
    """Insert one audit row on ``conn`` (inside the caller's transaction) and return it."""
    cur = await conn.execute(
        """INSERT INTO audit_log (guild_id, actor_id, action, target_id, details, change, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?)""",
        (guild_id, action.actor_id, action.action, action.target_id, _json(action.details), int(change), now),
    )
    entry_id = cur.lastrowid
    await cur.close()
    assert entry_id is not None
    return AuditEntry(
        id=entry_id,
        guild_id=guild_id,
        actor_id=action.actor_id,
        action=action.action,
        target_id=action.target_id,
        details=json.loads(_json(action.details)),
        change=change,
        created_at=now,
    )


_TIMELINE = """
SELECT 'action' AS kind, id, actor_id AS user_id, created_at, action, target_id, details,
       NULL AS source, NULL AS category, NULL AS rule, NULL AS prompt
  FROM audit_log
 WHERE guild_id = :guild AND (change = 1 OR :views = 1)
   AND (:member IS NULL OR actor_id = :member OR target_id = :member)
UNION ALL
SELECT 'refusal' AS kind, id, user_id, created_at, NULL, NULL, NULL, source, category, rule, prompt
  FROM refusals
 WHERE guild_id = :guild AND (:member IS NULL OR user_id = :member)
"""
_TIMELINE_PAGE = _TIMELINE + " ORDER BY created_at DESC, kind, id DESC LIMIT :limit OFFSET :offset"
_TIMELINE_COUNT = """
SELECT (SELECT COUNT(*) FROM audit_log
         WHERE guild_id = :guild AND (change = 1 OR :views = 1)
           AND (:member IS NULL OR actor_id = :member OR target_id = :member))
     + (SELECT COUNT(*) FROM refusals WHERE guild_id = :guild AND (:member IS NULL OR user_id = :member))
"""


class AuditStore:
    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.clock = clock

    async def record(self, guild_id: int, action: Action, *, change: bool = True) -> AuditEntry:
        """Write one audit row in its own transaction (for changes made elsewhere, and for look-ups)."""
        async with self.db.transaction() as conn:
            return await write_audit(conn, guild_id, action, self.clock(), change=change)

    async def get(self, entry_id: int) -> AuditEntry | None:
        row = await self.db.fetchone("SELECT * FROM audit_log WHERE id = ?", (entry_id,))
        return AuditEntry.from_row(row) if row else None

    async def entries(self, guild_id: int, *, limit: int = 50, include_views: bool = False) -> list[AuditEntry]:
        rows = await self.db.fetchall(
            "SELECT * FROM audit_log WHERE guild_id = ? AND (change = 1 OR ?) ORDER BY id DESC LIMIT ?",
            (guild_id, int(include_views), limit),
        )
        return [AuditEntry.from_row(r) for r in rows]

    async def timeline(
        self,
        guild_id: int,
        *,
        limit: int,
        offset: int = 0,
        member_id: int | None = None,
        include_views: bool = False,
    ) -> list[TimelineItem]:
        """Refusals and moderator actions of a guild, newest first."""
        rows = await self._named(
            _TIMELINE_PAGE,
            {"guild": guild_id, "member": member_id, "views": int(include_views), "limit": limit, "offset": offset},
        )
        return [
            TimelineItem(
                kind=r["kind"],
                id=r["id"],
                user_id=r["user_id"],
                created_at=r["created_at"],
                action=r["action"],
                target_id=r["target_id"],
                details=json.loads(r["details"]) if r["details"] else {},
                source=r["source"],
                category=r["category"],
                rule=r["rule"],
                prompt=r["prompt"],
            )
            for r in rows
        ]

    async def count_timeline(self, guild_id: int, *, member_id: int | None = None, include_views: bool = False) -> int:
        rows = await self._named(_TIMELINE_COUNT, {"guild": guild_id, "member": member_id, "views": int(include_views)})
        return int(rows[0][0]) if rows else 0

    async def _named(self, sql: str, params: Mapping[str, Any]) -> list[aiosqlite.Row]:
        """A read with named parameters (``Database.fetchall`` binds positional ones only)."""
        async with self.db.conn.execute(sql, dict(params)) as cur:
            return list(await cur.fetchall())
