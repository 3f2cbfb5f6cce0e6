"""Per-guild generation policy (settings + allow-lists) and generation bans.

Every write takes the moderator's :class:`~storage.audit.Action` and writes its audit row in the same
transaction as the change.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiosqlite

from storage.audit import Action, AuditEntry, write_audit
from storage.db import Database

ALLOW_KINDS = ("channel", "role", "model", "size")

# Columns of guild_settings a caller may set; anything else is a programming error.
SETTING_COLUMNS = frozenset(
    {"paused", "pause_reason", "max_seconds", "reference_images", "remix", "log_channel_id", "retention_days"}
)


@dataclass(frozen=True, slots=True)
class GuildPolicy:
    """A guild's whole policy; the defaults (no row) restrict nothing."""

    guild_id: int
    paused: bool = False
    pause_reason: str | None = None
    channels: frozenset[int] = frozenset()
    roles: frozenset[int] = frozenset()
    models: tuple[str, ...] = ()
    sizes: tuple[str, ...] = ()
    max_seconds: int | None = None
    reference_images: bool = True
    remix: bool = True
    log_channel_id: int | None = None
    retention_days: int | None = None
    updated_at: float | None = None


@dataclass(frozen=True, slots=True)
class Ban:
    guild_id: int
    user_id: int
    reason: str
    banned_by: int
    banned_at: float
    expires_at: float | None

    def active(self, now: float) -> bool:
        return self.expires_at is None or self.expires_at > now


def _assignments(values: Mapping[str, Any]) -> tuple[str, list[Any]]:
    unknown = set(values) - SETTING_COLUMNS
    if unknown:
        raise ValueError(f"not a guild setting: {sorted(unknown)}")
    names = sorted(values)
    return ", ".join(f"{name} = ?" for name in names), [values[name] for name in names]


class PolicyStore:
    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.clock = clock

    # ------------------------------------------------------------------ reads

    async def get(self, guild_id: int) -> GuildPolicy:
        row = await self.db.fetchone("SELECT * FROM guild_settings WHERE guild_id = ?", (guild_id,))
        allowed = await self.db.fetchall(
            "SELECT kind, value FROM guild_allow WHERE guild_id = ? ORDER BY kind, added_at, value", (guild_id,)
        )
        lists: dict[str, list[str]] = {kind: [] for kind in ALLOW_KINDS}
        for entry in allowed:
            lists[entry["kind"]].append(entry["value"])
        base: dict[str, Any] = {}
        if row is not None:
            base = {
                "paused": bool(row["paused"]),
                "pause_reason": row["pause_reason"],
                "max_seconds": row["max_seconds"],
                "reference_images": bool(row["reference_images"]),
                "remix": bool(row["remix"]),
                "log_channel_id": row["log_channel_id"],
                "retention_days": row["retention_days"],
                "updated_at": row["updated_at"],
            }
        return GuildPolicy(
            guild_id=guild_id,
            channels=frozenset(int(v) for v in lists["channel"]),
            roles=frozenset(int(v) for v in lists["role"]),
            models=tuple(lists["model"]),
            sizes=tuple(lists["size"]),
            **base,
        )

    async def guilds_with_retention(self) -> list[tuple[int, int]]:
        rows = await self.db.fetchall(
            "SELECT guild_id, retention_days FROM guild_settings WHERE retention_days IS NOT NULL ORDER BY guild_id"
        )
        return [(int(r[0]), int(r[1])) for r in rows]

    async def ban(self, guild_id: int, user_id: int) -> Ban | None:
        """The member's ban row (possibly expired), or None."""
        row = await self.db.fetchone(
            "SELECT * FROM member_bans WHERE guild_id = ? AND user_id = ?", (guild_id, user_id)
        )
        return Ban(**dict(row)) if row else None

    async def bans(self, guild_id: int, *, active_at: float) -> list[Ban]:
        rows = await self.db.fetchall(
            """SELECT * FROM member_bans WHERE guild_id = ? AND (expires_at IS NULL OR expires_at > ?)
               ORDER BY banned_at DESC""",
            (guild_id, active_at),
        )
        return [Ban(**dict(r)) for r in rows]

    # ------------------------------------------------------------------ writes (each with its audit row)

    async def update_settings(self, guild_id: int, action: Action, **values: Any) -> AuditEntry:
        assignments, params = _assignments(values)
        now = self.clock()
        async with self.db.transaction() as conn:
            await self._ensure_row(conn, guild_id, now)
            await conn.execute(
                f"UPDATE guild_settings SET {assignments}, updated_at = ? WHERE guild_id = ?",  # noqa: S608 (whitelist)
                [*params, now, guild_id],
            )
            return await write_audit(conn, guild_id, action, now)

    async def allow(self, guild_id: int, kind: str, value: str, action: Action) -> AuditEntry | None:
        """Add ``value`` to an allow-list; None (and no audit row) when it is listed already."""
        now = self.clock()
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                """INSERT INTO guild_allow (guild_id, kind, value, added_by, added_at) VALUES (?, ?, ?, ?, ?)
                   ON CONFLICT (guild_id, kind, value) DO NOTHING""",
                (guild_id, kind, value, action.actor_id, now),
            )
            added = cur.rowcount == 1
            await cur.close()
            if not added:
                return None
            await self._touch(conn, guild_id, now)
            return await write_audit(conn, guild_id, action, now)

    async def disallow(self, guild_id: int, kind: str, value: str | None, action: Action) -> AuditEntry | None:
        """Remove one value (or, with ``value=None``, every value) of an allow-list; None when nothing was listed."""
        now = self.clock()
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                "DELETE FROM guild_allow WHERE guild_id = ? AND kind = ? AND (? IS NULL OR value = ?)",
                (guild_id, kind, value, value),
            )
            removed = cur.rowcount
            await cur.close()
            if removed == 0:
                return None
            await self._touch(conn, guild_id, now)
            return await write_audit(conn, guild_id, action, now)

    async def set_ban(
        self, guild_id: int, user_id: int, reason: str, expires_at: float | None, action: Action
    ) -> AuditEntry:
        now = self.clock()
        async with self.db.transaction() as conn:
            await conn.execute(
                """INSERT INTO member_bans (guild_id, user_id, reason, banned_by, banned_at, expires_at)
                   VALUES (?, ?, ?, ?, ?, ?)
                   ON CONFLICT (guild_id, user_id) DO UPDATE SET reason = excluded.reason,
                       banned_by = excluded.banned_by, banned_at = excluded.banned_at,
                       expires_at = excluded.expires_at""",
                (guild_id, user_id, reason, action.actor_id, now, expires_at),
            )
            return await write_audit(conn, guild_id, action, now)

    async def lift_ban(self, guild_id: int, user_id: int, action: Action) -> AuditEntry | None:
        """Remove an active ban; None (and no audit row) when the member was not banned."""
        now = self.clock()
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                """DELETE FROM member_bans WHERE guild_id = ? AND user_id = ?
                     AND (expires_at IS NULL OR expires_at > ?)""",
                (guild_id, user_id, now),
            )
            removed = cur.rowcount
            await cur.close()
            # An expired row is history only: drop it either way.
            await conn.execute("DELETE FROM member_bans WHERE guild_id = ? AND user_id = ?", (guild_id, user_id))
            if removed == 0:
                return None
            return await write_audit(conn, guild_id, action, now)

    async def purge_expired_bans(self, now: float) -> int:
        return await self.db.execute("DELETE FROM member_bans WHERE expires_at IS NOT NULL AND expires_at <= ?", (now,))

    # ------------------------------------------------------------------ helpers

    @staticmethod
    async def _ensure_row(conn: aiosqlite.Connection, guild_id: int, now: float) -> None:
        await conn.execute(
            "INSERT INTO guild_settings (guild_id, updated_at) VALUES (?, ?) ON CONFLICT (guild_id) DO NOTHING",
            (guild_id, now),
        )

    async def _touch(self, conn: aiosqlite.Connection, guild_id: int, now: float) -> None:
        await self._ensure_row(conn, guild_id, now)
        await conn.execute("UPDATE guild_settings SET updated_at = ? WHERE guild_id = ?", (now, guild_id))
