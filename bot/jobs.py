"""The job service: turns a validated request into a tracked provider job, and ends jobs.

Nothing here imports discord.py.  The order is always: write the row (``pending``), then call the
provider, then record the provider id (``submitted``).  A crash between the two leaves a ``pending``
row that the tracker reconciles on start-up instead of re-sending blindly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from bot.catalog import Catalog
from bot.providers import (
    InvalidRequestError,
    ModerationBlockedError,
    NotFoundError,
    NotSupportedError,
    ProviderError,
    RateLimitedError,
    Video,
    VideoStatus,
)
from bot.providers.openai import ReferenceImage
from bot.quotas import Charge, QuotaExceeded, QuotaService
from storage.jobs import Job, JobStatus, JobStore, NewJob

log = logging.getLogger(__name__)

# How far back (seconds) a reconcile looks before the row's creation time, for clock skew.
RECONCILE_SLACK_SECONDS = 120


class VideoProvider(Protocol):
    """What the job service and tracker need from a provider client (see bot.providers.openai)."""

    async def create(
        self, *, prompt: str, model: str, size: str, seconds: int, image: ReferenceImage | None = None
    ) -> Video: ...

    async def remix(self, video_id: str, prompt: str) -> Video: ...

    async def retrieve(self, video_id: str) -> Video: ...

    async def delete(self, video_id: str) -> bool: ...

    def iter_videos(
        self, *, order: str = "desc", page_size: int = 100, max_pages: int | None = None
    ) -> AsyncIterator[Video]: ...

    async def download(
        self, video_id: str, dest: Path, *, variant: str = "video", max_bytes: int | None = None
    ) -> int: ...

    async def find_recent_match(
        self, *, prompt: str, model: str, size: str, seconds: int, created_after: int
    ) -> Video | None: ...


class JobRequestError(Exception):
    """A request the member must change; ``str(exc)`` is the message to show them."""


@dataclass(frozen=True, slots=True)
class VideoRequest:
    guild_id: int
    channel_id: int
    user_id: int
    prompt: str
    model: str
    size: str
    seconds: int
    interaction_id: int | None = None
    reference: ReferenceImage | None = None
    upload_limit_bytes: int | None = None
    role_ids: tuple[int, ...] = ()
    remix_of_job_id: int | None = None


@dataclass(frozen=True, slots=True)
class SubmitOutcome:
    job: Job
    created: bool  # False when the interaction was seen before (idempotent replay)


class JobService:
    def __init__(
        self,
        store: JobStore,
        provider: VideoProvider,
        catalog: Catalog,
        *,
        provider_name: str,
        media_dir: Path,
        clock: Callable[[], float] = time.time,
        on_refused: Callable[[Job], Awaitable[None]] | None = None,
        quotas: QuotaService | None = None,
    ) -> None:
        self.quotas = quotas
        self.store = store
        self.on_refused = on_refused
        self.last_retry_after: float | None = None
        self.provider = provider
        self.catalog = catalog
        self.provider_name = provider_name
        self.media_dir = media_dir
        self.clock = clock
        # Jobs whose create call (or reconcile) is in flight in this process: nobody else may send them.
        self.submitting: set[int] = set()
        # Fresh rows still owned by the command that recorded them: the tracker leaves them alone.
        self.held: set[int] = set()

    # ------------------------------------------------------------------ create

    def validate(self, model: str, size: str, seconds: int) -> None:
        problem = self.catalog.validate_request(model, size, seconds)
        if problem:
            raise JobRequestError(problem)

    async def record(self, request: VideoRequest) -> SubmitOutcome:
        """Validate and write the ``pending`` row (idempotent on ``interaction_id``); no provider call yet."""
        self.validate(request.model, request.size, request.seconds)
        price = self.catalog.price_usd(request.model, request.size, request.seconds)
        new = NewJob(
            guild_id=request.guild_id,
            channel_id=request.channel_id,
            user_id=request.user_id,
            prompt=request.prompt,
            model=request.model,
            size=request.size,
            seconds=request.seconds,
            provider=self.provider_name,
            price_usd=price,
            interaction_id=request.interaction_id,
            has_reference_image=request.reference is not None,
            upload_limit_bytes=request.upload_limit_bytes,
            remix_of_job_id=request.remix_of_job_id,
        )
        try:
            # One BEGIN IMMEDIATE transaction: the row and its reserved charge exist together or not at all,
            # so no interleaving of concurrent commands can overspend a limit.
            async with self.store.db.transaction() as conn:
                job, created = await self.store.insert(conn, new)
                if created and self.quotas is not None:
                    charge = Charge(request.guild_id, request.user_id, request.role_ids, request.seconds, price)
                    await self.quotas.reserve(conn, job.id, charge)
        except QuotaExceeded as exc:
            raise JobRequestError(f"⛔ {exc}") from exc
        if created:
            self.held.add(job.id)
        if created and request.reference is not None:
            path = await asyncio.to_thread(self._save_reference, job.id, request.reference)
            await self.store.update(job.id, reference_path=str(path))
        return SubmitOutcome(job, created=created)

    async def create(self, request: VideoRequest) -> SubmitOutcome:
        """``record`` then ``submit``: the whole path from request to provider job."""
        outcome = await self.record(request)
        if not outcome.created:
            return outcome
        try:
            return SubmitOutcome(await self.submit(outcome.job.id, reference=request.reference), created=True)
        finally:
            self.release_hold(outcome.job.id)

    def _save_reference(self, job_id: int, image: ReferenceImage) -> Path:
        folder = self.media_dir / "references"
        folder.mkdir(parents=True, exist_ok=True)
        suffix = {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp"}.get(image.content_type, ".bin")
        path = folder / f"job-{job_id}{suffix}"
        path.write_bytes(image.data)
        return path

    def _load_reference(self, job: Job) -> ReferenceImage | None:
        if not job.reference_path:
            return None
        path = Path(job.reference_path)
        content_type = {".png": "image/png", ".jpg": "image/jpeg", ".webp": "image/webp"}.get(path.suffix)
        if content_type is None or not path.exists():
            return None
        return ReferenceImage(data=path.read_bytes(), filename=f"reference{path.suffix}", content_type=content_type)

    async def submit(self, job_id: int, *, reference: ReferenceImage | None = None) -> Job:
        """Send a ``pending``/``queued`` job to the provider and record the outcome on the row.

        The job is claimed (``submitting``) before the first await and stays claimed until its row says
        ``submitted``, so no second caller can send it again in between.
        """
        if job_id in self.submitting:
            return await self._reload(job_id)
        self.submitting.add(job_id)
        try:
            job = await self._reload(job_id)
            if job.status not in (JobStatus.PENDING, JobStatus.QUEUED):
                return job
            return await self._submit_claimed(job, reference)
        finally:
            self.submitting.discard(job_id)

    async def _submit_claimed(self, job: Job, reference: ReferenceImage | None) -> Job:
        job_id = job.id
        try:
            if job.has_reference_image and reference is None:
                reference = await asyncio.to_thread(self._load_reference, job)
                if reference is None:
                    await self.end(
                        job,
                        JobStatus.FAILED,
                        "reference_missing",
                        "The reference image was lost before the job could be sent. Please run the command again.",
                    )
                    return await self._reload(job_id)
            if job.remix_of_job_id is not None:
                source = await self.store.get(job.remix_of_job_id)
                if source is None or source.provider_video_id is None:
                    await self.end(job, JobStatus.FAILED, "source_missing", "The video to remix no longer exists.")
                    return await self._reload(job_id)
                video = await self.provider.remix(source.provider_video_id, job.prompt)
            else:
                video = await self.provider.create(
                    prompt=job.prompt, model=job.model, size=job.size, seconds=job.seconds, image=reference
                )
        except NotSupportedError:
            await self.end(
                job,
                JobStatus.FAILED,
                "not_supported",
                "This video provider does not offer remixing, so nothing was made and nothing was charged.",
            )
            return await self._reload(job_id)
        except RateLimitedError as exc:
            # Not accepted by the provider: wait in our own queue and try again later.
            self.last_retry_after = exc.retry_after
            await self.store.transition(
                job_id,
                (JobStatus.PENDING, JobStatus.QUEUED),
                JobStatus.QUEUED,
                error_code="rate_limited",
                error_message=exc.user_hint,
            )
            return await self._reload(job_id)
        except ModerationBlockedError as exc:
            await self.end(job, JobStatus.REFUSED, exc.code or "moderation_blocked", _refusal_text())
            return await self._reload(job_id)
        except (InvalidRequestError, NotFoundError) as exc:
            await self.end(job, JobStatus.FAILED, exc.code or "invalid_request", _safe_message(exc))
            return await self._reload(job_id)
        except ProviderError as exc:
            # Transport trouble, server errors, or an uncertain create: leave the row as it is; the tracker
            # reconciles it later (asking the provider first) rather than re-sending blindly.
            log.warning("submit of job %s did not complete: %s", job_id, exc)
            await self.store.update(job_id, error_code=exc.code or "provider_unavailable", error_message=exc.user_hint)
            return await self._reload(job_id)
        await self._adopt(job, video)
        return await self._reload(job_id)

    async def _adopt(self, job: Job, video: Video) -> None:
        """Record the provider's job on the row; if the row moved on meanwhile, delete the orphan."""
        moved = await self.store.transition(
            job.id,
            (JobStatus.PENDING, JobStatus.QUEUED),
            JobStatus.SUBMITTED,
            provider_video_id=video.id,
            submitted_at=self.clock(),
            progress=video.progress,
            error_code=None,
            error_message=None,
        )
        if not moved:
            log.error("job %s changed while its create was in flight; deleting provider video %s", job.id, video.id)
            with contextlib.suppress(ProviderError):
                await self.provider.delete(video.id)
            return
        if video.status.terminal:
            await self.apply_remote(await self._reload(job.id), video)

    async def reconcile(self, job_id: int) -> Job:
        """Resolve a ``pending`` row that no live request owns (left by a crash or a failed create).

        The provider is asked first: a job it already has is adopted; otherwise the row joins the local
        queue (``queued``) and is submitted in its turn — never sent blindly.
        """
        if job_id in self.submitting or job_id in self.held:
            return await self._reload(job_id)
        self.submitting.add(job_id)
        try:
            job = await self._reload(job_id)
            if job.status != JobStatus.PENDING:
                return job
            try:
                video = await self._find_existing(job)
            except ProviderError as exc:
                log.info("cannot reconcile job %s yet: %s", job_id, exc)
                return job
            if video is not None:
                await self._adopt(job, video)
            else:
                await self.store.transition(
                    job_id,
                    JobStatus.PENDING,
                    JobStatus.QUEUED,
                    error_code="waiting",
                    error_message="Waiting for a free slot at the video provider.",
                )
            return await self._reload(job_id)
        finally:
            self.submitting.discard(job_id)

    def release_hold(self, job_id: int) -> None:
        """The command that recorded a job has offered it (or given up): the tracker may take over."""
        self.held.discard(job_id)

    async def _find_existing(self, job: Job) -> Video | None:
        try:
            return await self.provider.find_recent_match(
                prompt=job.prompt,
                model=job.model,
                size=job.size,
                seconds=job.seconds,
                created_after=int(job.created_at) - RECONCILE_SLACK_SECONDS,
            )
        except NotSupportedError:
            return None

    # ------------------------------------------------------------------ remote state

    async def apply_remote(self, job: Job, video: Video) -> Job:
        """Fold the provider's view of a submitted job into the row."""
        if job.status != JobStatus.SUBMITTED:
            return job
        if video.status == VideoStatus.COMPLETED:
            await self.store.transition(
                job.id,
                JobStatus.SUBMITTED,
                JobStatus.COMPLETED,
                progress=100,
                completed_at=self.clock(),
                poll_failures=0,
            )
        elif video.status == VideoStatus.FAILED:
            error = video.error
            code = error.code if error else "failed"
            if code == "moderation_blocked":
                await self.end(job, JobStatus.REFUSED, code, _refusal_text())
            else:
                message = error.message if error else "The provider could not generate this video."
                await self.end(job, JobStatus.FAILED, code, message)
        elif video.progress != job.progress or job.poll_failures:
            await self.store.update(job.id, progress=video.progress, poll_failures=0)
        return await self._reload(job.id)

    # ------------------------------------------------------------------ ending jobs

    async def cancel(self, job_id: int, *, by_user_id: int | None = None) -> Job:
        """Discard a job: nothing will be posted; the remote video is deleted where the provider allows.

        ``by_user_id`` restricts the cancel to the job's owner (moderators pass None).
        """
        job = await self.store.get(job_id)
        if job is None or (by_user_id is not None and job.user_id != by_user_id):
            raise JobRequestError(f"You have no job #{job_id}.")
        if not job.active:
            raise JobRequestError(f"Job #{job_id} has already ended ({job.status.value}); nothing to cancel.")
        if job.status == JobStatus.DELIVERING:
            raise JobRequestError(f"Job #{job_id} is being posted right now and can no longer be cancelled.")
        moved = await self.store.transition(
            job_id,
            (JobStatus.PENDING, JobStatus.QUEUED, JobStatus.SUBMITTED, JobStatus.COMPLETED),
            JobStatus.DISCARDED,
            error_code="cancelled",
            error_message="Cancelled by request.",
        )
        if not moved:
            raise JobRequestError(f"Job #{job_id} changed state while cancelling; check `/video status`.")
        note = await self._delete_remote(job)
        if note:
            await self.store.update(job_id, delivery_note=note)
        return await self._reload(job_id)

    async def _delete_remote(self, job: Job) -> str | None:
        if not job.provider_video_id:
            return None
        try:
            await self.provider.delete(job.provider_video_id)
        except NotSupportedError:
            return "The provider does not offer deleting videos, so its copy expires on its own."
        except ProviderError as exc:
            log.info("could not delete remote video for job %s: %s", job.id, exc)
            return "The provider's copy could not be deleted now; it expires on its own."
        return "The provider's copy was deleted."

    async def end(self, job: Job, status: JobStatus, code: str, message: str) -> None:
        """End a not-yet-completed job with a reason the member will see."""
        moved = await self.store.transition(
            job.id,
            (JobStatus.PENDING, JobStatus.QUEUED, JobStatus.SUBMITTED),
            status,
            error_code=code,
            error_message=message,
        )
        if moved and status == JobStatus.REFUSED and self.on_refused is not None:
            try:
                await self.on_refused(await self._reload(job.id))
            except Exception:
                log.exception("could not record the provider's refusal of job %s", job.id)

    async def _reload(self, job_id: int) -> Job:
        job = await self.store.get(job_id)
        assert job is not None
        return job


def _refusal_text() -> str:
    return "The video provider's content rules refused this prompt. Try describing it differently."


def _safe_message(exc: ProviderError) -> str:
    text = exc.message.strip() or exc.user_hint
    return text if len(text) <= 300 else text[:297] + "…"
