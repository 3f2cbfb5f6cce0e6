"""Members' own data: ``/video forget-me`` and the per-guild retention sweep.  No discord.py here.

:meth:`PrivacyService.forget_member` cancels the member's running jobs, erases their finished jobs, refused
prompts and appeals in the guild, deletes the local media files, and returns the Discord messages that showed
those jobs (the cog deletes them).  :meth:`PrivacyService.apply_retention` erases, in every guild with a
``retention_days`` setting, finished jobs and refusals older than that (never a running job); run it hourly.

Jobs whose charge may still count toward a quota window are scrubbed instead of deleted (see
:mod:`storage.privacy`): erasing must not hand a member a fresh quota.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from storage.jobs import JobStatus, JobStore
from storage.policy import PolicyStore
from storage.privacy import PrivacyStore, PurgedJob, PurgeResult

log = logging.getLogger(__name__)

DAY = 86_400
# The longest quota window (30 days) plus a day of slack: ledger rows newer than this are never deleted.
BILLING_WINDOW_SECONDS = 31 * DAY


@dataclass(frozen=True, slots=True)
class ForgetReport:
    jobs_deleted: int
    jobs_scrubbed: int  # kept without prompt or media while their charge still counts toward a quota
    jobs_cancelled: int
    jobs_in_delivery: tuple[int, ...]  # being posted right now: not erased, ask again in a minute
    refusals_deleted: int
    appeals_deleted: int
    files_deleted: int
    messages: tuple[tuple[int, int], ...]  # (channel id, message id) of status and result posts to delete

    @property
    def jobs_erased(self) -> int:
        return self.jobs_deleted + self.jobs_scrubbed


@dataclass(frozen=True, slots=True)
class RetentionReport:
    guild_id: int
    retention_days: int
    jobs_erased: int
    refusals_deleted: int
    files_deleted: int


class PrivacyService:
    def __init__(
        self,
        store: PrivacyStore,
        policy_store: PolicyStore,
        *,
        media_dir: Path,
        job_store: JobStore | None = None,
        cancel: Callable[[int], Awaitable[Any]] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.policy_store = policy_store
        self.media_dir = media_dir
        self.job_store = job_store
        self.cancel = cancel  # e.g. ``lambda job_id: bot.jobs.cancel(job_id)`` (moderator-style discard)
        self.clock = clock

    async def forget_member(self, guild_id: int, user_id: int) -> ForgetReport:
        cancelled, in_delivery = await self._stop_running_jobs(guild_id, user_id)
        now = self.clock()
        result = await self.store.forget_member(guild_id, user_id, billing_since=now - BILLING_WINDOW_SECONDS, now=now)
        files = await self._delete_files(result.jobs)
        return ForgetReport(
            jobs_deleted=result.jobs_deleted,
            jobs_scrubbed=result.jobs_scrubbed,
            jobs_cancelled=cancelled,
            jobs_in_delivery=tuple(in_delivery),
            refusals_deleted=result.refusals_deleted,
            appeals_deleted=result.appeals_deleted,
            files_deleted=files,
            messages=_messages(result),
        )

    async def apply_retention(self, now: float | None = None) -> list[RetentionReport]:
        """Erase what every guild's retention setting says is too old; one report per guild that had any."""
        now = self.clock() if now is None else now
        reports = []
        for guild_id, days in await self.policy_store.guilds_with_retention():
            result = await self.store.purge_guild(
                guild_id, now - days * DAY, billing_since=now - BILLING_WINDOW_SECONDS, now=now
            )
            if result.empty:
                continue
            files = await self._delete_files(result.jobs)
            reports.append(RetentionReport(guild_id, days, len(result.jobs), result.refusals_deleted, files))
            log.info(
                "retention (%d days) in guild %s: %d job(s), %d refusal(s), %d file(s) erased",
                days,
                guild_id,
                len(result.jobs),
                result.refusals_deleted,
                files,
            )
        await self.policy_store.purge_expired_bans(now)
        return reports

    # ------------------------------------------------------------------ helpers

    async def _stop_running_jobs(self, guild_id: int, user_id: int) -> tuple[int, list[int]]:
        if self.job_store is None:
            return 0, []
        running = [j for j in await self.job_store.list_active() if j.guild_id == guild_id and j.user_id == user_id]
        cancelled, in_delivery = 0, []
        for job in running:
            if job.status == JobStatus.DELIVERING or self.cancel is None:
                in_delivery.append(job.id)
                continue
            try:
                await self.cancel(job.id)
                cancelled += 1
            except Exception as exc:  # it moved on meanwhile (e.g. started posting): report it, erase the rest
                log.info("forget-me could not cancel job %s: %s", job.id, exc)
                in_delivery.append(job.id)
        return cancelled, in_delivery

    async def _delete_files(self, jobs: Iterable[PurgedJob]) -> int:
        paths = [path for job in jobs for path in self._files_of(job)]
        return await asyncio.to_thread(_unlink_all, paths)

    def _files_of(self, job: PurgedJob) -> list[Path]:
        """The job's recorded files plus any leftovers named after it, but only inside the media folder."""
        root = self.media_dir.resolve()
        found = {Path(p) for p in job.files}
        for folder in ("results", "references"):
            found.update((self.media_dir / folder).glob(f"job-{job.id}.*"))
        inside = []
        for path in found:
            resolved = path.resolve()
            if resolved.is_relative_to(root):
                inside.append(resolved)
            else:
                log.warning("not deleting %s for job %s: outside the media folder", path, job.id)
        return inside


def _unlink_all(paths: Iterable[Path]) -> int:
    deleted = 0
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            deleted += 1
    return deleted


def _messages(result: PurgeResult) -> tuple[tuple[int, int], ...]:
    found: list[tuple[int, int]] = []
    for job in result.jobs:
        for message_id in (job.status_message_id, job.result_message_id):
            if message_id is not None and (job.channel_id, message_id) not in found:
                found.append((job.channel_id, message_id))
    return tuple(found)
