"""The tracker: one background loop that moves every non-terminal job forward.

Each pass reads the active rows from SQLite (never from memory), so a restarted bot resumes exactly
where the last one stopped:

* ``pending``/``queued`` rows not being submitted right now are (re)submitted — ``pending`` ones
  after asking the provider whether it already has them;
* ``submitted`` rows are polled (one list call for many jobs where the provider offers it,
  otherwise one retrieve per job) and their progress is shown;
* ``completed`` rows are claimed (``completed → delivering``, a guarded UPDATE: exactly one winner),
  downloaded and handed to the observer that posts them; ``delivering`` rows left by a crash are
  delivered again — the observer makes that idempotent.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from bot.jobs import JobService

if TYPE_CHECKING:
    from bot.dispatch import Dispatcher
from bot.providers import NotFoundError, NotSupportedError, ProviderError, Video
from storage.jobs import Job, JobStatus

log = logging.getLogger(__name__)

# A provider that says "not found" this many polls in a row has lost the job.
NOT_FOUND_LIMIT = 3
# A pending row this old (seconds) that no live command owns is reconciled with the provider.
PENDING_GRACE_SECONDS = 30.0


class DeliveryState(enum.Enum):
    DELIVERED = "delivered"
    RETRY = "retry"  # transient trouble: try again next pass
    HELD = "held"  # cannot be posted (channel gone, no permission): keep the file, stop retrying


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    state: DeliveryState
    message_id: int | None = None
    note: str | None = None


class JobObserver(Protocol):
    """The delivery side (bot.delivery) as the tracker sees it."""

    async def on_progress(self, job: Job, *, position: tuple[int, int] | None = None) -> None:
        """A job moved on; ``position`` is (place, queue length) while it waits in the local queue."""
        ...

    async def on_ended(self, job: Job) -> None: ...

    async def deliver(self, job: Job, *, resumed: bool) -> DeliveryResult:
        """Post the result.  ``resumed``: an earlier attempt may already have posted it."""
        ...


class Tracker:
    def __init__(
        self,
        service: JobService,
        observer: JobObserver,
        *,
        media_dir: Path,
        poll_interval_seconds: float = 10.0,
        job_timeout_seconds: float = 3 * 3600,
        max_concurrent_deliveries: int = 2,
        max_concurrent_polls: int = 8,
        clock: Callable[[], float] = time.time,
        dispatcher: Dispatcher | None = None,
    ) -> None:
        self.service = service
        self.dispatcher = dispatcher
        self.store = service.store
        self.provider = service.provider
        self.observer = observer
        self.media_dir = media_dir
        self.poll_interval_seconds = poll_interval_seconds
        self.job_timeout_seconds = job_timeout_seconds
        self.clock = clock
        self.list_supported = True
        self._poll_gate = asyncio.Semaphore(max_concurrent_polls)
        self._delivery_gate = asyncio.Semaphore(max_concurrent_deliveries)
        self._inflight: set[int] = set()
        self._not_found: dict[int, int] = {}
        self._attempted: set[int] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self.passes = 0
        self.started_at = clock()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        if self._loop_task is None:
            self._loop_task = asyncio.create_task(self._run(), name="reelbot-tracker")

    async def stop(self) -> None:
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
            self._loop_task = None
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def wake(self) -> None:
        """Run a pass now instead of waiting for the poll interval."""
        self._wake.set()

    async def _run(self) -> None:
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("tracker pass failed; retrying next interval")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_interval_seconds)
            self._wake.clear()

    async def drain(self) -> None:
        """Wait for the deliveries started by earlier passes (tests and shutdown use this)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # ------------------------------------------------------------------ one pass

    async def run_once(self) -> None:
        self.passes += 1
        jobs = [j for j in await self.store.list_active() if j.id not in self._inflight]
        to_submit = [j for j in jobs if j.status in (JobStatus.PENDING, JobStatus.QUEUED)]
        to_poll = [j for j in jobs if j.status == JobStatus.SUBMITTED]
        to_deliver = [j for j in jobs if j.status in (JobStatus.COMPLETED, JobStatus.DELIVERING)]

        now = self.clock()
        for job in to_submit:
            if job.id in self.service.submitting or job.id in self.service.held:
                continue  # a live command or create owns it
            if job.status == JobStatus.PENDING:
                fresh = job.created_at > self.started_at and now - job.created_at < PENDING_GRACE_SECONDS
                if not fresh:  # left by an earlier process, or a create that ended uncertainly
                    await self._guarded(job.id, self._reconcile(job))
            elif self.dispatcher is None:
                await self._guarded(job.id, self._resubmit(job))
        if to_poll:
            await self._poll(to_poll)
        if self.dispatcher is not None:
            await self._release_queue()  # after polling, so slots freed this pass are refilled at once
        for job in to_deliver + [j for j in await self._reload_all(to_poll) if j.status == JobStatus.COMPLETED]:
            if job.held_reason or job.id in self._inflight:
                continue
            self._inflight.add(job.id)
            task = asyncio.create_task(self._deliver(job), name=f"reelbot-deliver-{job.id}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _guarded(self, job_id: int, work: Awaitable[None]) -> None:
        """Run ``work`` for a job while keeping other passes' hands off it."""
        self._inflight.add(job_id)
        try:
            await work
        finally:
            self._inflight.discard(job_id)

    async def _release_queue(self) -> None:
        assert self.dispatcher is not None
        for job in await self.dispatcher.release():
            await self._notify(job)
        positions = await self.dispatcher.positions()
        for job_id, position in positions.items():
            queued = await self.store.get(job_id)
            if queued is None:
                continue
            try:
                await self.observer.on_progress(queued, position=position)
            except Exception:
                log.exception("observer failed for queued job %s", job_id)

    async def _resubmit(self, job: Job) -> None:
        before = job.status
        job = await self.service.submit(job.id)
        if job.status != before or job.status == JobStatus.SUBMITTED:
            await self._notify(job)

    async def _reconcile(self, job: Job) -> None:
        updated = await self.service.reconcile(job.id)
        if updated.status != job.status:
            await self._notify(updated)

    async def _reload_all(self, jobs: list[Job]) -> list[Job]:
        fresh = [await self.store.get(j.id) for j in jobs]
        return [j for j in fresh if j is not None]

    # ------------------------------------------------------------------ polling

    async def _poll(self, jobs: list[Job]) -> None:
        remote = await self._list_remote({j.provider_video_id for j in jobs if j.provider_video_id})
        await asyncio.gather(
            *(self._guarded(j.id, self._poll_one(j, remote.get(j.provider_video_id or ""))) for j in jobs)
        )

    async def _list_remote(self, wanted: set[str]) -> dict[str, Video]:
        """Statuses of many jobs from the list endpoint, where the provider offers it.

        Only worth it for several jobs; what the list does not show is retrieved one by one.
        """
        found: dict[str, Video] = {}
        if not self.list_supported or len(wanted) < 3:
            return found
        try:
            async for video in self.provider.iter_videos(order="desc", page_size=100, max_pages=3):
                if video.id in wanted:
                    found[video.id] = video
                    if len(found) == len(wanted):
                        break
        except NotSupportedError:
            log.info("provider has no list endpoint; polling each job instead")
            self.list_supported = False
        except ProviderError as exc:
            log.info("list call failed (%s); polling each job instead", exc)
        return found

    async def _poll_one(self, job: Job, video: Video | None) -> None:
        assert job.provider_video_id is not None
        if video is None:
            try:
                async with self._poll_gate:
                    video = await self.provider.retrieve(job.provider_video_id)
            except NotFoundError:
                count = self._not_found.get(job.id, 0) + 1
                self._not_found[job.id] = count
                if count >= NOT_FOUND_LIMIT:
                    self._not_found.pop(job.id, None)
                    await self.service.end(
                        job,
                        JobStatus.FAILED,
                        "not_found",
                        "The provider no longer knows this job, so it could not be finished.",
                    )
                    await self._notify(await self._must_get(job.id))
                return
            except ProviderError as exc:
                log.info("poll of job %s failed: %s", job.id, exc)
                await self.store.update(job.id, poll_failures=job.poll_failures + 1)
                return
        self._not_found.pop(job.id, None)
        updated = await self.service.apply_remote(job, video)
        if updated.status == JobStatus.SUBMITTED and self._timed_out(updated):
            await self.service.end(
                updated,
                JobStatus.FAILED,
                "timeout",
                "The provider took too long to render this video, so the bot gave up on it.",
            )
            updated = await self._must_get(job.id)
        if updated.status != job.status or updated.progress != job.progress:
            await self._notify(updated)

    def _timed_out(self, job: Job) -> bool:
        started = job.submitted_at or job.created_at
        return self.clock() - started > self.job_timeout_seconds

    async def _notify(self, job: Job) -> None:
        try:
            if job.status in (JobStatus.FAILED, JobStatus.REFUSED, JobStatus.DISCARDED):
                await self.observer.on_ended(job)
            elif job.status != JobStatus.COMPLETED:
                await self.observer.on_progress(job)
        except Exception:
            log.exception("observer failed for job %s", job.id)

    # ------------------------------------------------------------------ delivery

    async def _deliver(self, job: Job) -> None:
        try:
            async with self._delivery_gate:
                await self._deliver_claimed(job)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("delivery of job %s failed; will retry", job.id)
            await self.store.transition(job.id, JobStatus.DELIVERING, JobStatus.COMPLETED)
        finally:
            self._inflight.discard(job.id)

    async def _deliver_claimed(self, job: Job) -> None:
        # A row left 'delivering' by an earlier process, or a retry here, may already have been posted.
        resumed = job.status == JobStatus.DELIVERING or job.id in self._attempted
        if job.status == JobStatus.COMPLETED and not await self.store.transition(
            job.id, JobStatus.COMPLETED, JobStatus.DELIVERING
        ):
            return  # someone else claimed it, or it was cancelled
        job = await self._must_get(job.id)
        if job.status != JobStatus.DELIVERING:
            return
        if not await self._download(job):
            return
        job = await self._must_get(job.id)
        self._attempted.add(job.id)
        result = await self.observer.deliver(job, resumed=resumed)
        if result.state is DeliveryState.DELIVERED:
            await self.store.transition(
                job.id,
                JobStatus.DELIVERING,
                JobStatus.DELIVERED,
                result_message_id=result.message_id,
                delivery_note=result.note,
            )
        elif result.state is DeliveryState.HELD:
            await self.store.transition(
                job.id, JobStatus.DELIVERING, JobStatus.COMPLETED, held_reason=result.note or "could not be posted"
            )
        else:
            await self.store.transition(job.id, JobStatus.DELIVERING, JobStatus.COMPLETED)

    async def _download(self, job: Job) -> bool:
        """Fetch the video (and thumbnail) once; True when the files are on disk."""
        if job.video_path and Path(job.video_path).exists():
            return True
        assert job.provider_video_id is not None
        folder = self.media_dir / "results"
        video_path = folder / f"job-{job.id}.mp4"
        thumb_path = folder / f"job-{job.id}.webp"
        folder.mkdir(parents=True, exist_ok=True)
        try:
            size = await self.provider.download(job.provider_video_id, video_path, variant="video")
        except NotFoundError:
            await self.store.transition(
                job.id,
                JobStatus.DELIVERING,
                JobStatus.FAILED,
                error_code="expired",
                error_message="The provider's copy of the video expired before the bot could fetch it.",
            )
            await self._notify(await self._must_get(job.id))
            return False
        except ProviderError as exc:
            log.info("download of job %s failed (%s); retrying next pass", job.id, exc)
            await self.store.transition(job.id, JobStatus.DELIVERING, JobStatus.COMPLETED)
            return False
        thumbnail: str | None = None
        try:
            await self.provider.download(job.provider_video_id, thumb_path, variant="thumbnail")
            thumbnail = str(thumb_path)
        except ProviderError as exc:
            log.info("no thumbnail for job %s: %s", job.id, exc)
        await self.store.update(job.id, video_path=str(video_path), thumbnail_path=thumbnail, video_bytes=size)
        return True

    async def _must_get(self, job_id: int) -> Job:
        job = await self.store.get(job_id)
        assert job is not None
        return job
