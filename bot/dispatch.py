"""The local queue in front of the provider: a global cap on jobs in flight, a create rate limit, and fair
release across guilds.

Jobs wait in SQLite with status ``queued`` (so a restart loses none). Whenever capacity frees up, the
dispatcher releases them **round robin across guilds**: one job from each guild in turn, oldest first
within a guild. A burst from one busy server therefore cannot starve the others. A provider 429 pauses
all releases until its ``Retry-After`` has passed.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Callable, Iterable

from bot.jobs import JobService
from storage.jobs import Job, JobStatus

log = logging.getLogger(__name__)


def fair_order(jobs: Iterable[Job], *, after_guild: int | None = None) -> list[Job]:
    """Queued jobs in release order: round robin over guilds (starting after ``after_guild``), FIFO inside each."""
    by_guild: dict[int, collections.deque[Job]] = collections.defaultdict(collections.deque)
    for job in sorted(jobs, key=lambda j: j.id):
        by_guild[job.guild_id].append(job)
    guilds = sorted(by_guild)
    if after_guild is not None:
        later = [g for g in guilds if g > after_guild]
        guilds = later + [g for g in guilds if g <= after_guild]
    ordered: list[Job] = []
    while by_guild:
        for guild in list(guilds):
            queue = by_guild.get(guild)
            if not queue:
                continue
            ordered.append(queue.popleft())
            if not queue:
                del by_guild[guild]
        guilds = [g for g in guilds if g in by_guild]
    return ordered


class RateWindow:
    """At most ``per_minute`` events in any sliding 60-second window (None: unlimited)."""

    def __init__(self, per_minute: int | None, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self._events: collections.deque[float] = collections.deque()
        self.paused_until = 0.0

    def _trim(self, now: float) -> None:
        while self._events and now - self._events[0] >= 60.0:
            self._events.popleft()

    def available(self) -> bool:
        now = self.clock()
        if now < self.paused_until:
            return False
        if self.per_minute is None:
            return True
        self._trim(now)
        return len(self._events) < self.per_minute

    def take(self) -> None:
        self._events.append(self.clock())

    def pause(self, seconds: float) -> None:
        self.paused_until = max(self.paused_until, self.clock() + max(1.0, seconds))


class Dispatcher:
    def __init__(
        self,
        service: JobService,
        *,
        max_in_flight: int | None = None,
        requests_per_minute: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.service = service
        self.store = service.store
        self.max_in_flight = max_in_flight
        self.rate = RateWindow(requests_per_minute, clock)
        self._last_guild: int | None = None
        self._starting = 0
        self._slot_lock = asyncio.Lock()

    async def in_flight(self) -> int:
        """Jobs rendering at the provider plus submissions starting right now."""
        return await self.store.count_by_status(JobStatus.SUBMITTED) + self._starting

    async def _reserve_slot(self) -> bool:
        """Take a submission slot if the cap and the rate allow; the check and the take are atomic."""
        async with self._slot_lock:
            if not self.rate.available():
                return False
            if self.max_in_flight is not None and await self.in_flight() >= self.max_in_flight:
                return False
            self._starting += 1
            self.rate.take()
            return True

    async def offer(self, job_id: int) -> Job:
        """Submit a fresh ``pending`` job now if it may go, else put it in the queue (``queued``)."""
        if await self.store.count_by_status(JobStatus.QUEUED) == 0 and await self._reserve_slot():
            return await self._submit(job_id)
        await self.store.transition(
            job_id,
            JobStatus.PENDING,
            JobStatus.QUEUED,
            error_code="waiting",
            error_message="Waiting for a free slot at the video provider.",
        )
        job = await self.store.get(job_id)
        assert job is not None
        return job

    async def release(self) -> list[Job]:
        """Submit queued jobs fairly while there is capacity; returns the jobs that changed."""
        changed: list[Job] = []
        while True:
            queued = [j for j in await self.store.list_active() if j.status == JobStatus.QUEUED]
            queued = [j for j in queued if j.id not in self.service.submitting]
            if not queued or not await self._reserve_slot():
                break
            job = fair_order(queued, after_guild=self._last_guild)[0]
            result = await self._submit(job.id)
            changed.append(result)
            if result.status == JobStatus.QUEUED:  # the provider said "busy": stop for now
                break
        return changed

    async def positions(self) -> dict[int, tuple[int, int]]:
        """job id → (position, queue length), in the order jobs will be released."""
        queued = [j for j in await self.store.list_active() if j.status == JobStatus.QUEUED]
        order = fair_order(queued, after_guild=self._last_guild)
        return {job.id: (index + 1, len(order)) for index, job in enumerate(order)}

    async def _submit(self, job_id: int) -> Job:
        """Submit with a slot already reserved by ``_reserve_slot``."""
        try:
            job = await self.service.submit(job_id)
        finally:
            self._starting -= 1
        self._last_guild = job.guild_id  # the next release starts with the guild after this one
        if job.status == JobStatus.QUEUED and job.error_code == "rate_limited":
            retry = self.service.last_retry_after or 10.0
            log.info("provider is rate limiting; pausing submissions for %.0f s", retry)
            self.rate.pause(retry)
        return job
