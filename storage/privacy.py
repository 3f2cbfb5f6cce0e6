"""Erasing members' data: ``/video forget-me`` and the per-guild retention sweep (SQL only).

Only finished jobs are touched.  A finished job with a ledger row newer than ``billing_since`` (a charge
that may still count toward a quota window, refunds included) is *scrubbed* instead of deleted: its prompt,
media paths and message ids are erased, and the row keeps only what billing and quotas need (member, model,
size, length, price).  Deleting it would cascade to the ledger, refund the member's quota and break the
guild's running totals.  Scrubbed rows are deleted by a later sweep once their charge has left every window.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import aiosqlite

from storage.audit import Action, write_audit
from storage.db import Database

ERASED_PROMPT = "(erased)"
FINISHED = ("delivered", "failed", "refused", "discarded")


@dataclass(frozen=True, slots=True)
class PurgedJob:
    """A job whose data was erased: the messages that showed it and the local files it had."""

    id: int
    channel_id: int
    status_message_id: int | None
    result_message_id: int | None
    files: tuple[str, ...]
    deleted: bool  # False = scrubbed (kept for billing)


@dataclass(slots=True)
class PurgeResult:
    jobs: list[PurgedJob] = field(default_factory=list)
    refusals_deleted: int = 0
    appeals_deleted: int = 0

    @property
    def jobs_deleted(self) -> int:
        return sum(1 for j in self.jobs if j.deleted)

    @property
    def jobs_scrubbed(self) -> int:
        return sum(1 for j in self.jobs if not j.deleted)

    @property
    def empty(self) -> bool:
        return not self.jobs and not self.refusals_deleted and not self.appeals_deleted

    def counts(self) -> dict[str, int]:
        return {
            "jobs_deleted": self.jobs_deleted,
            "jobs_scrubbed": self.jobs_scrubbed,
            "refusals_deleted": self.refusals_deleted,
            "appeals_deleted": self.appeals_deleted,
        }


_MEMBER_JOBS = """
SELECT j.id, j.channel_id, j.status_message_id, j.result_message_id, j.video_path, j.thumbnail_path,
       j.reference_path, j.prompt,
       EXISTS (SELECT 1 FROM ledger l WHERE l.job_id = j.id AND l.reserved_at >= ?) AS billed
  FROM jobs j
 WHERE j.guild_id = ? AND j.user_id = ? AND j.status IN ('delivered', 'failed', 'refused', 'discarded')
"""

_OLD_JOBS = """
SELECT j.id, j.channel_id, j.status_message_id, j.result_message_id, j.video_path, j.thumbnail_path,
       j.reference_path, j.prompt,
       EXISTS (SELECT 1 FROM ledger l WHERE l.job_id = j.id AND l.reserved_at >= ?) AS billed
  FROM jobs j
 WHERE j.guild_id = ? AND j.finished_at IS NOT NULL AND j.finished_at < ?
   AND j.status IN ('delivered', 'failed', 'refused', 'discarded')
"""


class PrivacyStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def forget_member(self, guild_id: int, user_id: int, *, billing_since: float, now: float) -> PurgeResult:
        """Erase a member's finished jobs, refusals and appeals in a guild, with an audit row: one transaction."""
        result = PurgeResult()
        async with self.db.transaction() as conn:
            async with conn.execute(_MEMBER_JOBS, (billing_since, guild_id, user_id)) as cur:
                rows = list(await cur.fetchall())
            result.jobs = await _purge_jobs(conn, rows, now)
            result.appeals_deleted = await _count_change(
                conn, "DELETE FROM appeals WHERE guild_id = ? AND user_id = ?", (guild_id, user_id)
            )
            result.refusals_deleted = await _count_change(
                conn, "DELETE FROM refusals WHERE guild_id = ? AND user_id = ?", (guild_id, user_id)
            )
            action = Action(actor_id=user_id, action="member.forget", target_id=user_id, details=result.counts())
            await write_audit(conn, guild_id, action, now)
        return result

    async def purge_guild(self, guild_id: int, cutoff: float, *, billing_since: float, now: float) -> PurgeResult:
        """Erase a guild's finished jobs and refusals older than ``cutoff`` (retention); audited when anything went."""
        result = PurgeResult()
        async with self.db.transaction() as conn:
            async with conn.execute(_OLD_JOBS, (billing_since, guild_id, cutoff)) as cur:
                rows = [r for r in await cur.fetchall() if not (r["billed"] and r["prompt"] == ERASED_PROMPT)]
            result.jobs = await _purge_jobs(conn, rows, now)
            result.appeals_deleted = await _count_change(
                conn,
                """DELETE FROM appeals WHERE refusal_id IN
                     (SELECT id FROM refusals WHERE guild_id = ? AND created_at < ?)""",
                (guild_id, cutoff),
            )
            result.refusals_deleted = await _count_change(
                conn, "DELETE FROM refusals WHERE guild_id = ? AND created_at < ?", (guild_id, cutoff)
            )
            if not result.empty:
                details = {**result.counts(), "older_than": cutoff}
                await write_audit(conn, guild_id, Action(actor_id=0, action="retention.sweep", details=details), now)
        return result


async def _purge_jobs(conn: aiosqlite.Connection, rows: list[aiosqlite.Row], now: float) -> list[PurgedJob]:
    purged = []
    for row in rows:
        files = tuple(p for p in (row["video_path"], row["thumbnail_path"], row["reference_path"]) if p)
        billed = bool(row["billed"])
        if billed:
            await conn.execute(
                """UPDATE jobs SET prompt = ?, error_message = NULL, video_path = NULL, thumbnail_path = NULL,
                                   reference_path = NULL, status_message_id = NULL, result_message_id = NULL,
                                   held_reason = NULL, delivery_note = 'erased', updated_at = ?
                   WHERE id = ?""",
                (ERASED_PROMPT, now, row["id"]),
            )
        else:
            await conn.execute("DELETE FROM jobs WHERE id = ?", (row["id"],))
        purged.append(
            PurgedJob(
                id=row["id"],
                channel_id=row["channel_id"],
                status_message_id=row["status_message_id"],
                result_message_id=row["result_message_id"],
                files=files,
                deleted=not billed,
            )
        )
    return purged


async def _count_change(conn: aiosqlite.Connection, sql: str, params: tuple[object, ...]) -> int:
    cur = await conn.execute(sql, params)
    count = cur.rowcount
    await cur.close()
    return count
