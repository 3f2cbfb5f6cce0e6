"""What moderators read and change about jobs: listings, removed results, released charges and usage sums."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import aiosqlite

from storage.audit import Action, AuditEntry, write_audit
from storage.db import Database
from storage.jobs import Job, JobStatus

RESULT_REMOVED_NOTE = "result deleted by a moderator"


@dataclass(frozen=True, slots=True)
class DayUsage:
    day: str  # YYYY-MM-DD (UTC)
    jobs: int
    seconds: int
    usd: float


@dataclass(frozen=True, slots=True)
class MemberUsage:
    user_id: int
    jobs: int
    seconds: int
    usd: float


async def release_charge(conn: aiosqlite.Connection, job_id: int, now: float) -> bool:
    """Refund a delivered job's charge (ledger ``committed`` → ``released``); False when there was none to release.

    Only a committed charge moves: a reserved one belongs to a running job, a released one is refunded already.
    """
    cur = await conn.execute(
        "UPDATE ledger SET state = 'released', settled_at = ? WHERE job_id = ? AND state = 'committed'",
        (now, job_id),
    )
    released = cur.rowcount == 1
    await cur.close()
    return released


class ModerationStore:
    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.clock = clock

    # ------------------------------------------------------------------ listings

    async def list_jobs(
        self,
        guild_id: int,
        *,
        status: JobStatus | None = None,
        user_id: int | None = None,
        active_only: bool = False,
        limit: int = 10,
        offset: int = 0,
    ) -> list[Job]:
        """A guild's jobs, newest first, optionally of one status (or every unfinished one) and one member."""
        rows = await self.db.fetchall(
            _LIST_FILTERED,
            (*_filter_params(guild_id, status, user_id, active_only), limit, offset),
        )
        return [Job.from_row(r) for r in rows]

    async def count_jobs(
        self, guild_id: int, *, status: JobStatus | None = None, user_id: int | None = None, active_only: bool = False
    ) -> int:
        row = await self.db.fetchone(_COUNT_FILTERED, _filter_params(guild_id, status, user_id, active_only))
        return int(row[0]) if row else 0

    async def search_jobs(self, guild_id: int, text: str, *, limit: int = 25) -> list[Job]:
        """Recent jobs of a guild whose number or prompt contains ``text`` (for autocomplete)."""
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        rows = await self.db.fetchall(
            """SELECT * FROM jobs WHERE guild_id = ?
                 AND (CAST(id AS TEXT) LIKE ? ESCAPE '\\' OR prompt LIKE ? ESCAPE '\\')
               ORDER BY id DESC LIMIT ?""",
            (guild_id, pattern, pattern, limit),
        )
        return [Job.from_row(r) for r in rows]

    async def guild_job(self, guild_id: int, job_id: int) -> Job | None:
        row = await self.db.fetchone("SELECT * FROM jobs WHERE id = ? AND guild_id = ?", (job_id, guild_id))
        return Job.from_row(row) if row else None

    async def ledger_state(self, job_id: int) -> str | None:
        """The job's charge state (reserved / committed / released), or None when it was never charged."""
        row = await self.db.fetchone("SELECT state FROM ledger WHERE job_id = ?", (job_id,))
        return str(row[0]) if row else None

    # ------------------------------------------------------------------ removing a posted result

    async def remove_result(self, job: Job, *, release: bool, action: Action) -> tuple[bool, AuditEntry]:
        """Forget the job's posted result and local files, optionally refund its charge, and audit it: one
        transaction.  Returns (charge released, audit entry)."""
        now = self.clock()
        async with self.db.transaction() as conn:
            await conn.execute(
                """UPDATE jobs SET result_message_id = NULL, video_path = NULL, thumbnail_path = NULL,
                                   delivery_note = ?, updated_at = ?
                   WHERE id = ?""",
                (RESULT_REMOVED_NOTE, now, job.id),
            )
            released = await release_charge(conn, job.id, now) if release else False
            entry = await write_audit(conn, job.guild_id, action, now)
        return released, entry

    # ------------------------------------------------------------------ usage

    async def daily_usage(self, guild_id: int, since: float) -> list[DayUsage]:
        """Delivered videos per UTC day since ``since``: count, video-seconds and list-price spend."""
        rows = await self.db.fetchall(
            """SELECT date(finished_at, 'unixepoch') AS day, COUNT(*) AS jobs,
                      COALESCE(SUM(seconds), 0) AS seconds, COALESCE(SUM(price_usd), 0) AS usd
                 FROM jobs
                WHERE guild_id = ? AND finished_at IS NOT NULL AND finished_at >= ? AND status = 'delivered'
                GROUP BY day ORDER BY day""",
            (guild_id, since),
        )
        return [DayUsage(str(r["day"]), int(r["jobs"]), int(r["seconds"]), round(float(r["usd"]), 6)) for r in rows]

    async def top_members(self, guild_id: int, since: float, *, limit: int = 5) -> list[MemberUsage]:
        rows = await self.db.fetchall(
            """SELECT user_id, COUNT(*) AS jobs, COALESCE(SUM(seconds), 0) AS seconds,
                      COALESCE(SUM(price_usd), 0) AS usd
                 FROM jobs
                WHERE guild_id = ? AND finished_at IS NOT NULL AND finished_at >= ? AND status = 'delivered'
                GROUP BY user_id ORDER BY usd DESC, seconds DESC, user_id LIMIT ?""",
            (guild_id, since, limit),
        )
        return [
            MemberUsage(int(r["user_id"]), int(r["jobs"]), int(r["seconds"]), round(float(r["usd"]), 6)) for r in rows
        ]


# Optional filters as bound parameters (NULL / 0 = no filter), so the SQL text never changes.
_COUNT_FILTERED = """SELECT COUNT(*) FROM jobs
 WHERE guild_id = ? AND (? IS NULL OR status = ?) AND (? IS NULL OR user_id = ?)
   AND (? = 0 OR status IN ('pending', 'queued', 'submitted', 'completed', 'delivering'))"""
_LIST_FILTERED = """SELECT * FROM jobs
 WHERE guild_id = ? AND (? IS NULL OR status = ?) AND (? IS NULL OR user_id = ?)
   AND (? = 0 OR status IN ('pending', 'queued', 'submitted', 'completed', 'delivering'))
 ORDER BY id DESC LIMIT ? OFFSET ?"""


def _filter_params(
    guild_id: int, status: JobStatus | None, user_id: int | None, active_only: bool
) -> tuple[int | str | None, ...]:
    value = None if status is None else status.value
    return (guild_id, value, value, user_id, user_id, int(active_only))
