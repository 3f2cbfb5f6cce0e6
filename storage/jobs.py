"""The jobs table: typed rows, idempotent inserts and guarded status transitions."""

from __future__ import annotations

import enum
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any

import aiosqlite

from storage.db import Database


class JobStatus(enum.StrEnum):
    PENDING = "pending"  # row written, not yet sent to the provider
    QUEUED = "queued"  # waiting for provider capacity in our own queue
    SUBMITTED = "submitted"  # provider id known; provider says queued / in progress
    COMPLETED = "completed"  # provider finished; result not yet posted
    DELIVERING = "delivering"  # a worker claimed the delivery
    DELIVERED = "delivered"  # result message id stored
    FAILED = "failed"
    REFUSED = "refused"
    DISCARDED = "discarded"


ACTIVE_STATUSES = frozenset(
    {JobStatus.PENDING, JobStatus.QUEUED, JobStatus.SUBMITTED, JobStatus.COMPLETED, JobStatus.DELIVERING}
)
TERMINAL_STATUSES = frozenset({JobStatus.DELIVERED, JobStatus.FAILED, JobStatus.REFUSED, JobStatus.DISCARDED})

# How a job's terminal status settles its reserved charge in the ledger.
_LEDGER_SETTLEMENT = {
    JobStatus.DELIVERED: "committed",
    JobStatus.FAILED: "released",
    JobStatus.REFUSED: "released",
    JobStatus.DISCARDED: "released",
}


@dataclass(frozen=True, slots=True)
class Job:
    id: int
    guild_id: int
    channel_id: int
    user_id: int
    interaction_id: int | None
    prompt: str
    model: str
    size: str
    seconds: int
    price_usd: float
    has_reference_image: bool
    remix_of_job_id: int | None
    provider: str
    provider_video_id: str | None
    status: JobStatus
    progress: int
    error_code: str | None
    error_message: str | None
    status_message_id: int | None
    result_message_id: int | None
    upload_limit_bytes: int | None
    video_path: str | None
    thumbnail_path: str | None
    video_bytes: int | None
    delivery_note: str | None
    held_reason: str | None
    reference_path: str | None
    poll_failures: int
    created_at: float
    submitted_at: float | None
    completed_at: float | None
    finished_at: float | None
    updated_at: float

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @classmethod
    def from_row(cls, row: Mapping[str, Any] | aiosqlite.Row) -> Job:
        data = {f.name: row[f.name] for f in fields(cls)}
        data["status"] = JobStatus(data["status"])
        data["has_reference_image"] = bool(data["has_reference_image"])
        return cls(**data)


@dataclass(frozen=True, slots=True)
class NewJob:
    guild_id: int
    channel_id: int
    user_id: int
    prompt: str
    model: str
    size: str
    seconds: int
    provider: str
    price_usd: float = 0.0
    interaction_id: int | None = None
    has_reference_image: bool = False
    remix_of_job_id: int | None = None
    upload_limit_bytes: int | None = None


# Columns a caller may set through ``update``/``transition``; anything else is a programming error.
_UPDATABLE = frozenset(
    {
        "provider_video_id",
        "progress",
        "error_code",
        "error_message",
        "status_message_id",
        "result_message_id",
        "upload_limit_bytes",
        "video_path",
        "thumbnail_path",
        "video_bytes",
        "delivery_note",
        "held_reason",
        "reference_path",
        "poll_failures",
        "submitted_at",
        "completed_at",
        "finished_at",
        "channel_id",
    }
)


def _assignments(values: Mapping[str, Any]) -> tuple[str, list[Any]]:
    unknown = set(values) - _UPDATABLE
    if unknown:
        raise ValueError(f"not updatable: {sorted(unknown)}")
    names = sorted(values)
    # Column names come only from the fixed whitelist above; values are bound parameters.
    return ", ".join(f"{name} = ?" for name in names), [values[name] for name in names]


class JobStore:
    def __init__(self, db: Database, clock: Any = time.time) -> None:
        self.db = db
        self.clock = clock

    async def insert(self, conn: aiosqlite.Connection, new: NewJob) -> tuple[Job, bool]:
        """Insert inside the caller's transaction.  Returns (job, created).

        The interaction id is the idempotency key: a second insert for the same interaction returns
        the first job and ``created=False`` instead of creating a second paid job.
        """
        now = self.clock()
        # One round trip in the common case: the insert returns the new row, or nothing when this
        # interaction was already recorded (the UNIQUE interaction_id makes it a no-op).
        rows = await conn.execute_fetchall(
            """INSERT INTO jobs (guild_id, channel_id, user_id, interaction_id, prompt, model, size, seconds,
                                 price_usd, has_reference_image, remix_of_job_id, provider, status,
                                 upload_limit_bytes, created_at, updated_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (interaction_id) DO NOTHING
               RETURNING *""",
            (
                new.guild_id,
                new.channel_id,
                new.user_id,
                new.interaction_id,
                new.prompt,
                new.model,
                new.size,
                new.seconds,
                new.price_usd,
                int(new.has_reference_image),
                new.remix_of_job_id,
                new.provider,
                JobStatus.PENDING.value,
                new.upload_limit_bytes,
                now,
                now,
            ),
        )
        for row in rows:
            return Job.from_row(row), True
        existing = await conn.execute_fetchall("SELECT * FROM jobs WHERE interaction_id = ?", (new.interaction_id,))
        assert existing, "insert was skipped but no job holds this interaction id"
        return Job.from_row(next(iter(existing))), False

    async def create(self, new: NewJob) -> tuple[Job, bool]:
        async with self.db.transaction() as conn:
            return await self.insert(conn, new)

    async def get(self, job_id: int) -> Job | None:
        row = await self.db.fetchone("SELECT * FROM jobs WHERE id = ?", (job_id,))
        return Job.from_row(row) if row else None

    async def get_by_interaction(self, interaction_id: int) -> Job | None:
        row = await self.db.fetchone("SELECT * FROM jobs WHERE interaction_id = ?", (interaction_id,))
        return Job.from_row(row) if row else None

    async def list_active(self) -> list[Job]:
        placeholders = ", ".join("?" for _ in ACTIVE_STATUSES)
        rows = await self.db.fetchall(
            f"SELECT * FROM jobs WHERE status IN ({placeholders}) ORDER BY id",  # noqa: S608 (placeholders only)
            [s.value for s in sorted(ACTIVE_STATUSES)],
        )
        return [Job.from_row(r) for r in rows]

    async def count_by_status(self, *statuses: JobStatus) -> int:
        placeholders = ", ".join("?" for _ in statuses)
        row = await self.db.fetchone(
            f"SELECT COUNT(*) FROM jobs WHERE status IN ({placeholders})",  # noqa: S608 (placeholders only)
            [s.value for s in statuses],
        )
        return int(row[0]) if row else 0

    async def list_for_member(self, guild_id: int, user_id: int, *, limit: int = 10, offset: int = 0) -> list[Job]:
        rows = await self.db.fetchall(
            "SELECT * FROM jobs WHERE guild_id = ? AND user_id = ? ORDER BY id DESC LIMIT ? OFFSET ?",
            (guild_id, user_id, limit, offset),
        )
        return [Job.from_row(r) for r in rows]

    async def count_for_member(self, guild_id: int, user_id: int) -> int:
        row = await self.db.fetchone(
            "SELECT COUNT(*) FROM jobs WHERE guild_id = ? AND user_id = ?", (guild_id, user_id)
        )
        return int(row[0]) if row else 0

    async def search_for_member(self, guild_id: int, user_id: int, text: str, *, limit: int = 25) -> list[Job]:
        """Recent jobs of a member whose id or prompt contains ``text`` (for autocomplete)."""
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        rows = await self.db.fetchall(
            """SELECT * FROM jobs WHERE guild_id = ? AND user_id = ?
                 AND (CAST(id AS TEXT) LIKE ? ESCAPE '\\' OR prompt LIKE ? ESCAPE '\\')
               ORDER BY id DESC LIMIT ?""",
            (guild_id, user_id, pattern, pattern, limit),
        )
        return [Job.from_row(r) for r in rows]

    async def update(self, job_id: int, **values: Any) -> None:
        """Set non-status columns (progress, message ids …) unconditionally."""
        if not values:
            return
        assignments, params = _assignments(values)
        await self.db.execute(
            f"UPDATE jobs SET {assignments}, updated_at = ? WHERE id = ?",  # noqa: S608 (whitelisted columns)
            [*params, self.clock(), job_id],
        )

    async def transition(
        self,
        job_id: int,
        expected: JobStatus | Iterable[JobStatus],
        new: JobStatus,
        **values: Any,
    ) -> bool:
        """Move a job to ``new`` only if its status is one of ``expected``; True when it moved.

        This single guarded UPDATE is what makes a double delivery impossible: of two workers (or a
        worker and a restarted bot) racing for the same job, exactly one sees ``True``.
        """
        expected_set = [expected] if isinstance(expected, JobStatus) else list(expected)
        if not expected_set:
            raise ValueError("expected must name at least one status")
        if new in TERMINAL_STATUSES and "finished_at" not in values:
            values["finished_at"] = self.clock()
        assignments, params = _assignments(values) if values else ("", [])
        set_clause = "status = ?, updated_at = ?" + (", " + assignments if assignments else "")
        placeholders = ", ".join("?" for _ in expected_set)
        now = self.clock()
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                f"UPDATE jobs SET {set_clause} WHERE id = ? AND status IN ({placeholders})",  # noqa: S608 (whitelist)
                [new.value, now, *params, job_id, *(s.value for s in expected_set)],
            )
            changed = cur.rowcount
            await cur.close()
            settle = _LEDGER_SETTLEMENT.get(new)
            if changed == 1 and settle is not None:
                # The charge moves with the job, in the same transaction: delivered → committed,
                # failed / refused / discarded → released.  Only a still-reserved charge is settled.
                await conn.execute(
                    "UPDATE ledger SET state = ?, settled_at = ? WHERE job_id = ? AND state = 'reserved'",
                    (settle, now, job_id),
                )
        return changed == 1
