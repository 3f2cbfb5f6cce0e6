"""Everything the bot posts about a job: the status message, the result, the failure notice.

Two paths, chosen per call:

* **interaction path** — while the member's interaction token is alive (15 minutes) the status message is
  the deferred response (edited through the token) and the result a followup;
* **channel path** — after the token has expired, after a restart, or when the token is refused, the
  status message is edited with the bot token and the result is a normal channel message.  Channel posts
  carry a per-job ``nonce`` (Discord drops a repeat with the same nonce) and, when an earlier attempt may
  have posted already, the channel's recent history is searched for the job first, so no video is posted
  twice.

Results larger than the upload limit (read at run time) are replaced by the thumbnail with a clear note.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import discord

from bot import embeds
from bot.media import probe_video
from bot.tracker import DeliveryResult, DeliveryState
from bot.transcode import FitResult, fit_to_size
from storage.jobs import Job, JobStatus, JobStore

log = logging.getLogger(__name__)

# Discord JSON error codes we branch on.
UNKNOWN_CHANNEL = 10003
UNKNOWN_MESSAGE = 10008
MISSING_ACCESS = 50001
CANNOT_DM = 50007
MISSING_PERMISSIONS = 50013
INVALID_WEBHOOK_TOKEN = 50027
ENTITY_TOO_LARGE = 40005

# Edits of messages older than an hour have their own, small rate limit (30046): stop progress edits then.
PROGRESS_EDIT_MAX_AGE_SECONDS = 3600
HISTORY_SEARCH_LIMIT = 100
QUEUE_EDIT_INTERVAL_SECONDS = 15.0


def job_nonce(job_id: int) -> str:
    """A per-job message nonce (Discord allows 25 characters)."""
    return f"reelbot-job-{job_id}"[:25]


class Delivery:
    """The tracker's observer: renders job changes into Discord messages."""

    def __init__(
        self,
        client: discord.Client,
        store: JobStore,
        *,
        simulated: bool,
        edit_interval_seconds: float = 5.0,
        default_upload_limit_bytes: int = 10 * 1024 * 1024,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.store = store
        self.simulated = simulated
        self.edit_interval_seconds = edit_interval_seconds
        self.default_upload_limit_bytes = default_upload_limit_bytes
        self.clock = clock
        self._interactions: dict[int, discord.Interaction] = {}
        self._last_edit: dict[int, float] = {}
        self._positions: dict[int, tuple[int, int]] = {}
        self.mentions = discord.AllowedMentions(everyone=False, roles=False, users=True, replied_user=False)

    # ------------------------------------------------------------------ interactions

    def attach(self, job_id: int, interaction: discord.Interaction) -> None:
        """Remember the live interaction of a job so updates can use its token while it lasts."""
        self._interactions[job_id] = interaction

    def _live(self, job_id: int) -> discord.Interaction | None:
        interaction = self._interactions.get(job_id)
        if interaction is not None and interaction.is_expired():
            self._interactions.pop(job_id, None)
            return None
        return interaction

    def forget(self, job_id: int) -> None:
        """Stop updating a job's messages (its interaction and edit throttle are dropped)."""
        self._interactions.pop(job_id, None)
        self._last_edit.pop(job_id, None)
        self._positions.pop(job_id, None)

    def _channel(self, job: Job) -> Any:
        """The job's channel from the cache, or a partial one (enough to send, edit and read history)."""
        cached = self.client.get_channel(job.channel_id)
        if cached is not None:
            return cached
        return self.client.get_partial_messageable(job.channel_id, guild_id=job.guild_id)

    def upload_limit(self, job: Job) -> int:
        interaction = self._live(job.id)
        if interaction is not None:
            return int(interaction.filesize_limit)
        guild = self.client.get_guild(job.guild_id)
        if guild is not None:
            return int(guild.filesize_limit)
        return job.upload_limit_bytes or self.default_upload_limit_bytes

    # ------------------------------------------------------------------ status message

    async def show_status(self, job: Job, *, force: bool = False, position: tuple[int, int] | None = None) -> None:
        """Create or edit the job's status message, at most once per edit interval unless forced."""
        now = self.clock()
        interval = self.edit_interval_seconds
        if position is not None and job.status == JobStatus.QUEUED:
            # A place in the queue changes with every release; showing each step is not worth the requests.
            interval = max(interval, QUEUE_EDIT_INTERVAL_SECONDS)
        if not force and now - self._last_edit.get(job.id, 0.0) < interval:
            return
        if position is not None and self._positions.get(job.id) == position and not force:
            return  # nothing new to show
        if position is not None:
            self._positions[job.id] = position
        embed = embeds.status_embed(job, now=now, simulated=self.simulated, position=position)
        interaction = self._live(job.id)
        if interaction is not None:
            try:
                message = await interaction.edit_original_response(content=None, embed=embed)
            except discord.HTTPException as exc:
                if exc.code == INVALID_WEBHOOK_TOKEN or exc.status == 401:
                    self._interactions.pop(job.id, None)
                else:
                    log.info("status edit via token failed for job %s: %s", job.id, exc)
                    return
            else:
                self._last_edit[job.id] = now
                if job.status_message_id != message.id:
                    await self.store.update(job.id, status_message_id=message.id)
                return
        await self._edit_status_by_channel(job, embed, force=force)
        self._last_edit[job.id] = now

    async def _edit_status_by_channel(self, job: Job, embed: discord.Embed, *, force: bool) -> None:
        channel = self._channel(job)
        if job.status_message_id is None:
            if not force:
                return
            try:
                message = await channel.send(embed=embed, allowed_mentions=self.mentions)
            except discord.HTTPException as exc:
                log.info("cannot post a status message for job %s: %s", job.id, exc)
                return
            await self.store.update(job.id, status_message_id=message.id)
            return
        age = (discord.utils.utcnow() - discord.utils.snowflake_time(job.status_message_id)).total_seconds()
        if age > PROGRESS_EDIT_MAX_AGE_SECONDS and not force:
            return
        try:
            await channel.get_partial_message(job.status_message_id).edit(embed=embed)
        except discord.HTTPException as exc:
            log.info("status edit via channel failed for job %s: %s", job.id, exc)

    async def on_progress(self, job: Job, *, position: tuple[int, int] | None = None) -> None:
        await self.show_status(job, position=position)

    async def on_ended(self, job: Job) -> None:
        """A job failed, was refused or was cancelled: final status, and tell the member why."""
        await self.show_status(job, force=True)
        if job.status in (JobStatus.FAILED, JobStatus.REFUSED):
            await self._post_failure(job)
        self.forget(job.id)

    async def _post_failure(self, job: Job) -> None:
        embed = embeds.failure_embed(job, simulated=self.simulated)
        content = f"<@{job.user_id}>"
        interaction = self._live(job.id)
        if interaction is not None:
            try:
                await interaction.followup.send(content=content, embed=embed, allowed_mentions=self.mentions)
                return
            except discord.HTTPException as exc:
                log.info("failure notice via token failed for job %s: %s", job.id, exc)
        try:
            await self._channel(job).send(
                content=content, embed=embed, allowed_mentions=self.mentions, nonce=job_nonce(job.id)
            )
        except discord.HTTPException as exc:
            log.warning("could not tell the member about failed job %s: %s", job.id, exc)

    # ------------------------------------------------------------------ results

    async def deliver(self, job: Job, *, resumed: bool) -> DeliveryResult:
        if job.video_path is None or not Path(job.video_path).exists():
            return DeliveryResult(DeliveryState.RETRY, note="video file missing")
        interaction = self._live(job.id)
        if interaction is None and resumed:
            existing = await self._find_posted(job)
            if existing is not None:
                return await self._finish(job, existing, note="found an earlier post after a restart")
        limit = self.upload_limit(job)
        oversize = (job.video_bytes or Path(job.video_path).stat().st_size) > limit
        fitted = await self._fit(job, limit) if oversize else None
        try:
            message = await self._post_result(job, interaction, oversize=oversize, limit=limit, fitted=fitted)
        except discord.HTTPException as exc:
            if exc.status != 413 and exc.code != ENTITY_TOO_LARGE:
                return await self._after_post_error(job, exc)
            if oversize:
                return await self._hold(job, "Even the thumbnail is over this channel's upload limit.")
            # Discord's limit was lower than the one we were told: fall back like an oversize video.
            log.info("job %s: upload refused as too large; posting the thumbnail instead", job.id)
            oversize, limit, fitted = True, 0, None  # 0: the real limit is unknown, only that Discord refused
            try:
                message = await self._post_result(job, interaction, oversize=True, limit=limit)
            except discord.HTTPException as again:
                return await self._after_post_error(job, again)
        note: str | None = None
        if fitted is not None:
            note = f"re-encoded to fit: {fitted.size_bytes} bytes, {fitted.width}x{fitted.height}"
        elif oversize:
            note = "thumbnail: over upload limit"
        return await self._finish(job, message.id, note=note)

    async def _fit(self, job: Job, limit: int) -> FitResult | None:
        """A copy of the video re-encoded under ``limit`` bytes (made once per limit), or None."""
        assert job.video_path is not None
        source = Path(job.video_path)
        target = source.with_name(f"{source.stem}-fit-{limit}.mp4")
        if target.exists() and target.stat().st_size <= limit:
            info = await asyncio.to_thread(probe_video, target)
            return FitResult(target, target.stat().st_size, info.width, info.height)
        fitted = await asyncio.to_thread(fit_to_size, source, target, limit)
        if fitted is None:
            log.info("job %s: no watchable copy fits %d bytes; posting the thumbnail", job.id, limit)
        return fitted

    async def _post_result(
        self,
        job: Job,
        interaction: discord.Interaction | None,
        *,
        oversize: bool,
        limit: int,
        fitted: FitResult | None = None,
    ) -> discord.Message:
        files, embed = self._result_payload(job, oversize=oversize, limit=limit, fitted=fitted)
        content = f"<@{job.user_id}> your video is ready!"
        if interaction is not None:
            try:
                return await interaction.followup.send(
                    content=content, embed=embed, files=files, allowed_mentions=self.mentions, wait=True
                )
            except discord.HTTPException as exc:
                if exc.status not in (401, 403, 404) and exc.code not in (INVALID_WEBHOOK_TOKEN,):
                    raise
                log.info("result via token failed for job %s (%s); using the channel", job.id, exc)
                self._interactions.pop(job.id, None)
                files, embed = self._result_payload(job, oversize=oversize, limit=limit, fitted=fitted)
        return await self._channel(job).send(
            content=content, embed=embed, files=files, allowed_mentions=self.mentions, nonce=job_nonce(job.id)
        )

    def _result_payload(
        self, job: Job, *, oversize: bool, limit: int, fitted: FitResult | None = None
    ) -> tuple[list[discord.File], discord.Embed]:
        assert job.video_path is not None
        if not oversize:
            embed = embeds.result_embed(job, simulated=self.simulated)
            return [discord.File(job.video_path, filename=f"reelbot-job-{job.id}.mp4")], embed
        size = job.video_bytes or Path(job.video_path).stat().st_size
        if fitted is not None:
            note = (
                f"The original is {embeds.format_bytes(size)}, over this channel's {embeds.format_bytes(limit)} "
                f"upload limit, so this copy was re-encoded to {embeds.format_bytes(fitted.size_bytes)} "
                f"({fitted.width}x{fitted.height})."
            )
            embed = embeds.result_embed(job, simulated=self.simulated, oversize_note=note, note_title="Re-encoded")
            return [discord.File(fitted.path, filename=f"reelbot-job-{job.id}.mp4")], embed
        over = (
            f"over this channel's {embeds.format_bytes(limit)} upload limit"
            if limit
            else "more than Discord accepted in this channel"
        )
        note = (
            f"The video is {embeds.format_bytes(size)}, {over}, so here is its thumbnail. The full video is kept "
            f"by the bot (job #{job.id}); a server with a higher boost level can receive it."
        )
        embed = embeds.result_embed(job, simulated=self.simulated, oversize_note=note)
        files: list[discord.File] = []
        if job.thumbnail_path and Path(job.thumbnail_path).exists():
            name = f"reelbot-job-{job.id}{Path(job.thumbnail_path).suffix}"
            files.append(discord.File(job.thumbnail_path, filename=name))
            embed.set_image(url=f"attachment://{name}")
        return files, embed

    async def _after_post_error(self, job: Job, exc: discord.HTTPException) -> DeliveryResult:
        if exc.code in (UNKNOWN_CHANNEL, MISSING_ACCESS, MISSING_PERMISSIONS) or exc.status in (403, 404):
            reason = (
                "the channel no longer exists"
                if exc.code == UNKNOWN_CHANNEL or exc.status == 404
                else "the bot may not post there"
            )
            dm = await self._deliver_by_dm(job, reason)
            if dm is not None:
                return await self._finish(job, dm, note=f"sent by DM because {reason}")
            return await self._hold(job, f"Could not post in the channel: {reason}, and the member's DMs are closed.")
        log.warning("posting job %s failed (%s); retrying later", job.id, exc)
        return DeliveryResult(DeliveryState.RETRY, note=str(exc))

    async def _deliver_by_dm(self, job: Job, reason: str) -> int | None:
        try:
            user = self.client.get_user(job.user_id) or await self.client.fetch_user(job.user_id)
            limit = self.default_upload_limit_bytes
            oversize = (job.video_bytes or 0) > limit
            files, embed = self._result_payload(job, oversize=oversize, limit=limit)
            message = await user.send(
                content=f"Your video from job #{job.id} is ready — it comes here because {reason}.",
                embed=embed,
                files=files,
            )
        except discord.HTTPException as exc:
            log.info("DM fallback failed for job %s: %s", job.id, exc)
            return None
        return message.id

    async def _hold(self, job: Job, reason: str) -> DeliveryResult:
        log.warning("job %s is held: %s", job.id, reason)
        return DeliveryResult(DeliveryState.HELD, note=reason)

    async def _finish(self, job: Job, message_id: int, *, note: str | None) -> DeliveryResult:
        done = await self.store.get(job.id) or job
        final = replace(done, status=JobStatus.DELIVERED, result_message_id=message_id)
        await self.show_status(final, force=True)
        self.forget(job.id)
        return DeliveryResult(DeliveryState.DELIVERED, message_id=message_id, note=note)

    async def _find_posted(self, job: Job) -> int | None:
        """Search the channel's recent messages for this job's result (posted before a crash)."""
        me = self.client.user
        if me is None:
            return None
        after = discord.Object(id=discord.utils.time_snowflake(dt.datetime.fromtimestamp(job.created_at, dt.UTC)))
        marker = f"Job #{job.id} "
        try:
            async for message in self._channel(job).history(limit=HISTORY_SEARCH_LIMIT, after=after):
                if message.author.id == me.id and any(
                    e.title == embeds.RESULT_TITLE and (e.footer.text or "").startswith(marker) for e in message.embeds
                ):
                    return message.id
        except discord.HTTPException as exc:
            log.info("history search for job %s failed: %s", job.id, exc)
        return None
