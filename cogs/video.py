"""/video: create, status, history, cancel.  Thin adapters: parse, answer in time, call services."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot import embeds, rules
from bot.client import reply_ephemeral
from bot.jobs import JobRequestError, VideoRequest
from bot.modlog import appeal_offer, forget_me_prompt
from bot.providers.openai import ReferenceImage
from cogs._paging import Pager
from storage.jobs import Job, JobStatus

if TYPE_CHECKING:
    from bot.client import ReelBot

log = logging.getLogger(__name__)

MAX_PROMPT_CHARS = 4000
MAX_IMAGE_BYTES = 20 * 1024 * 1024
IMAGE_TYPES = {"image/png", "image/jpeg", "image/webp"}
HISTORY_PAGE_SIZE = 8


@app_commands.guild_only()
class VideoCog(commands.GroupCog, group_name="video", group_description="Generate AI videos from a prompt"):
    def __init__(self, bot: ReelBot) -> None:
        self.bot = bot
        self.catalog = bot.catalog
        self._offer_models()

    def _offer_models(self) -> None:
        """Turn the configured catalog into the ``model`` option's choices (autocomplete past 25 models)."""
        params = self.create._params  # discord.py 2.7: per-instance copy made when the cog was created
        if len(self.catalog.models) <= 25:
            choices: list[app_commands.Choice[str | int | float]] = [
                app_commands.Choice(name=m.label[:100], value=m.id) for m in self.catalog.models
            ]
            params["model"] = dataclasses.replace(params["model"], choices=choices)
        else:
            params["model"] = dataclasses.replace(params["model"], autocomplete=self._model_autocomplete)

    # ------------------------------------------------------------------ /video create

    @app_commands.command(name="create", description="Generate a video from a text prompt")
    @app_commands.describe(
        prompt="What should happen in the video",
        model="Video model (default: the first in the catalog)",
        size="Width x height, e.g. 1280x720 (landscape) or 720x1280 (portrait)",
        seconds="Length of the video in seconds",
        image="Optional first frame: PNG, JPEG or WebP, no people's faces",
    )
    async def create(
        self,
        interaction: discord.Interaction,
        prompt: app_commands.Range[str, 1, MAX_PROMPT_CHARS],
        model: str | None = None,
        size: str | None = None,
        seconds: int | None = None,
        image: discord.Attachment | None = None,
    ) -> None:
        assert interaction.guild_id is not None and interaction.channel_id is not None
        spec = self.catalog.get(model) if model else self.catalog.default_model
        if spec is None:
            raise JobRequestError(self.catalog.validate_request(model or "", "", 0) or "Unknown model.")
        size = size or spec.default_size or spec.sizes[0]
        seconds = seconds if seconds is not None else (spec.default_seconds or spec.seconds[0])
        problem = self.catalog.validate_request(spec.id, size, seconds)
        if problem:
            raise JobRequestError(problem)
        await self._generate(interaction, prompt, spec.id, size, seconds, image=image)

    async def _generate(
        self,
        interaction: discord.Interaction,
        prompt: str,
        model: str,
        size: str,
        seconds: int,
        *,
        image: discord.Attachment | None = None,
        remix_of: int | None = None,
    ) -> None:
        """The shared path of create and remix: policy, rules, defer, moderation, record, offer, show."""
        assert interaction.guild_id is not None and interaction.channel_id is not None
        guild_id, user_id = interaction.guild_id, interaction.user.id
        moderation = self.bot.moderation
        # Server policy first (pause, bans, channels, roles, models, sizes, length, images), so a paused or
        # banned member does not pile up refusals.
        blocked = await moderation.policy.check(
            guild_id,
            interaction.channel_id,
            user_id,
            _role_ids(interaction),
            model,
            size,
            seconds,
            has_image=image is not None,
            is_remix=remix_of is not None,
            parent_channel_id=getattr(interaction.channel, "parent_id", None),
        )
        if blocked is not None:
            raise JobRequestError(blocked)
        guard = self.bot.guard
        verdict = await guard.check_prompt(guild_id, prompt)
        if not verdict.allowed:
            refusal_id = await guard.record(guild_id, user_id, "local", verdict, prompt)
            await moderation.appeals.remember_request(
                refusal_id,
                channel_id=interaction.channel_id,
                model=model,
                size=size,
                seconds=seconds,
                had_image=image is not None,
            )
            note, appeal = await appeal_offer(self.bot, refusal_id)
            if appeal is None:
                await reply_ephemeral(interaction, f"🚫 {verdict.reason}{note}")
            else:
                await reply_ephemeral(interaction, f"🚫 {verdict.reason}{note}", view=appeal)
            await moderation.log.post_refusal(refusal_id)
            return
        if image is not None:
            self._check_attachment(image)

        # Everything below may take longer than Discord's 3-second window (it waits on SQLite or the network).
        await interaction.response.defer(thinking=True)
        until = await guard.cooldown_until(guild_id, user_id)
        if until is not None:
            raise JobRequestError(
                f"⏳ Several of your prompts were refused recently, so requests are paused for you until "
                f"<t:{int(until)}:t> (<t:{int(until)}:R>)."
            )
        verdict = await guard.moderate(prompt)
        if not verdict.allowed:
            refusal_id = await guard.record(guild_id, user_id, "moderation", verdict, prompt)
            await self.bot.moderation.log.post_refusal(refusal_id)
            raise JobRequestError(f"🚫 {verdict.reason}")
        reference = None
        if image is not None:
            reference = await self._reference_image(image, size, guild_id=guild_id, user_id=user_id, prompt=prompt)

        service = self.bot.jobs
        assert service is not None and self.bot.delivery is not None
        request = VideoRequest(
            guild_id=interaction.guild_id,
            channel_id=interaction.channel_id,
            user_id=interaction.user.id,
            prompt=prompt,
            model=model,
            size=size,
            seconds=seconds,
            interaction_id=interaction.id,
            reference=reference,
            upload_limit_bytes=interaction.filesize_limit,
            role_ids=_role_ids(interaction),
            remix_of_job_id=remix_of,
        )
        outcome = await service.record(request)
        if not outcome.created:
            await interaction.edit_original_response(
                content=f"This request was already received as job #{outcome.job.id}."
            )
            return
        job = outcome.job
        assert self.bot.dispatcher is not None
        try:
            self.bot.delivery.attach(job.id, interaction)
            await self.bot.delivery.show_status(job, force=True)
            job = await self.bot.dispatcher.offer(job.id)
        finally:
            service.release_hold(job.id)  # from here on the tracker owns the job
        if job.status == JobStatus.QUEUED:
            positions = await self.bot.dispatcher.positions()
            await self.bot.delivery.show_status(job, force=True, position=positions.get(job.id))
        elif job.status == JobStatus.REFUSED:
            # The provider's own refusal reads like a local one: private, with the reason.
            self.bot.delivery.forget(job.id)
            await reply_ephemeral(interaction, f"🚫 {job.error_message}")
        elif job.status == JobStatus.FAILED:
            await self.bot.delivery.on_ended(job)
        else:
            await self.bot.delivery.show_status(job, force=True)

    def _check_attachment(self, image: discord.Attachment) -> None:
        content_type = (image.content_type or "").split(";")[0].strip().lower()
        if content_type not in IMAGE_TYPES:
            raise JobRequestError("The image must be a PNG, JPEG or WebP file.")
        if image.size > MAX_IMAGE_BYTES:
            raise JobRequestError(
                f"The image is {embeds.format_bytes(image.size)}; the limit is {embeds.format_bytes(MAX_IMAGE_BYTES)}."
            )

    async def _reference_image(
        self, image: discord.Attachment, size: str, *, guild_id: int, user_id: int, prompt: str
    ) -> ReferenceImage:
        try:
            data = await image.read()
        except discord.HTTPException as exc:
            raise JobRequestError("I couldn't download the image from Discord. Please attach it again.") from exc
        verdict = await asyncio.to_thread(rules.check_image, data)
        if not verdict.allowed:
            refusal_id = await self.bot.guard.record(guild_id, user_id, "image", verdict, prompt)
            await self.bot.moderation.log.post_refusal(refusal_id)
            raise JobRequestError(f"🚫 {verdict.reason}")
        try:
            prepared, content_type = await asyncio.to_thread(rules.prepare_reference_image, data, size)
        except ValueError as exc:
            raise JobRequestError(f"🚫 That image can't be used as a first frame: {exc}") from exc
        suffix = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}[content_type]
        return ReferenceImage(data=prepared, filename=f"reference.{suffix}", content_type=content_type)

    # ------------------------------------------------------------------ autocomplete

    async def _model_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        text = current.lower()
        return [
            app_commands.Choice(name=m.label[:100], value=m.id)
            for m in self.catalog.models
            if text in m.id.lower() or text in m.label.lower()
        ][:25]

    @create.autocomplete("size")
    async def _size_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        spec = self.catalog.get(getattr(interaction.namespace, "model", None) or "") or self.catalog.default_model
        return [app_commands.Choice(name=f"{s} ({_orientation(s)})", value=s) for s in spec.sizes if current in s][:25]

    @create.autocomplete("seconds")
    async def _seconds_autocomplete(
        self, interaction: discord.Interaction, current: int | str
    ) -> list[app_commands.Choice[int]]:
        spec = self.catalog.get(getattr(interaction.namespace, "model", None) or "") or self.catalog.default_model
        typed = str(current or "")
        choices = []
        for s in spec.seconds:
            if typed and not str(s).startswith(typed):
                continue
            price = spec.price_per_second(spec.default_size or spec.sizes[0]) * s
            choices.append(app_commands.Choice(name=f"{s} seconds (≈ ${price:.2f})", value=s))
        return choices[:25]

    async def _job_autocomplete(
        self, interaction: discord.Interaction, current: int | str
    ) -> list[app_commands.Choice[int]]:
        if interaction.guild_id is None:
            return []
        jobs = await self.bot.store.search_for_member(interaction.guild_id, interaction.user.id, str(current or ""))
        return [app_commands.Choice(name=embeds.job_choice_name(j), value=j.id) for j in jobs]

    # ------------------------------------------------------------------ /video remix

    @app_commands.command(name="remix", description="Make a new video from a finished one, with a changed prompt")
    @app_commands.describe(
        job="The job number of a finished video in this server",
        prompt="The new prompt (describe the whole scene, including what should change)",
    )
    async def remix(
        self,
        interaction: discord.Interaction,
        job: app_commands.Range[int, 1],
        prompt: app_commands.Range[str, 1, MAX_PROMPT_CHARS],
    ) -> None:
        source = await self.bot.store.get(job)
        if (
            source is None
            or source.guild_id != interaction.guild_id
            or source.status != JobStatus.DELIVERED
            or source.provider_video_id is None
        ):
            raise JobRequestError(f"Job #{job} is not a finished video in this server, so it can't be remixed.")
        # A remix keeps the source's model, size and length (the protocol takes only a new prompt).
        await self._generate(interaction, prompt, source.model, source.size, source.seconds, remix_of=source.id)

    # ------------------------------------------------------------------ /video status

    @app_commands.command(name="status", description="Show the state of one of your video jobs")
    @app_commands.describe(job="The job number (start typing to pick one of yours)")
    async def status(self, interaction: discord.Interaction, job: app_commands.Range[int, 1]) -> None:
        found = await self._own_job(interaction, job)
        if found.held_reason and found.status == JobStatus.COMPLETED:
            await self.bot.store.update(found.id, channel_id=interaction.channel_id, held_reason=None)
            assert self.bot.tracker is not None
            self.bot.tracker.wake()
            await reply_ephemeral(
                interaction,
                f"Job #{found.id} finished, but its video could not be posted earlier ({found.held_reason}). "
                "I'll post it in this channel now.",
            )
            return
        position = None
        if found.status == JobStatus.QUEUED and self.bot.dispatcher is not None:
            position = (await self.bot.dispatcher.positions()).get(found.id)
        embed = embeds.status_embed(
            found, now=discord.utils.utcnow().timestamp(), simulated=self.bot.simulated, position=position
        )
        if found.result_message_id:
            url = f"https://discord.com/channels/{found.guild_id}/{found.channel_id}/{found.result_message_id}"
            embed.add_field(name="Result", value=f"[Jump to the video]({url})", inline=False)
        await interaction.response.send_message(embed=embed, ephemeral=True)

    status.autocomplete("job")(_job_autocomplete)

    async def _own_job(self, interaction: discord.Interaction, job_id: int) -> Job:
        found = await self.bot.store.get(job_id)
        if found is None or found.user_id != interaction.user.id or found.guild_id != interaction.guild_id:
            raise JobRequestError(f"You have no job #{job_id} in this server. `/video history` lists yours.")
        return found

    # ------------------------------------------------------------------ /video quota

    @app_commands.command(name="quota", description="What you and this server can still generate, and when it resets")
    async def quota(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        report = await self.bot.quotas.report(interaction.guild_id, interaction.user.id, _role_ids(interaction))
        await interaction.response.send_message(embed=embeds.quota_embed(report), ephemeral=True)

    # ------------------------------------------------------------------ /video history

    @app_commands.command(name="history", description="List your video jobs in this server")
    @app_commands.describe(page="Page number (newest first)")
    async def history(self, interaction: discord.Interaction, page: app_commands.Range[int, 1] = 1) -> None:
        assert interaction.guild_id is not None
        guild_id, user_id, store = interaction.guild_id, interaction.user.id, self.bot.store

        async def render(number: int) -> tuple[discord.Embed, int]:
            total = await store.count_for_member(guild_id, user_id)
            pages = max(1, -(-total // HISTORY_PAGE_SIZE))
            number = min(max(1, number), pages)
            jobs = await store.list_for_member(
                guild_id, user_id, limit=HISTORY_PAGE_SIZE, offset=(number - 1) * HISTORY_PAGE_SIZE
            )
            embed = discord.Embed(title="Your videos in this server", colour=embeds.COLOUR_MUTED)
            embed.description = "\n".join(embeds.job_line(j) for j in jobs) or "No videos yet — try `/video create`."
            embed.set_footer(text=f"Page {number} of {pages} · {total} job(s)")
            return embed, pages

        view = Pager(user_id, render, page)
        await interaction.response.send_message(embed=await view.first(), view=view, ephemeral=True)

    # ------------------------------------------------------------------ /video cancel

    @app_commands.command(name="cancel", description="Cancel one of your running video jobs")
    @app_commands.describe(job="The job number (start typing to pick one of yours)")
    async def cancel(self, interaction: discord.Interaction, job: app_commands.Range[int, 1]) -> None:
        found = await self._own_job(interaction, job)
        assert self.bot.jobs is not None and self.bot.delivery is not None
        ended = await self.bot.jobs.cancel(found.id, by_user_id=interaction.user.id)
        await self.bot.delivery.on_ended(ended)
        text = f"Job #{ended.id} is cancelled; nothing will be posted."
        if ended.delivery_note:
            text += f" {ended.delivery_note}"
        await reply_ephemeral(interaction, text)

    cancel.autocomplete("job")(_job_autocomplete)

    # ------------------------------------------------------------------ /video forget-me

    @app_commands.command(name="forget-me", description="Delete your prompts, jobs and posted videos in this server")
    async def forget_me(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        text, view = forget_me_prompt(interaction.guild_id, interaction.user.id)
        await interaction.response.send_message(text, view=view, ephemeral=True)


def _role_ids(interaction: discord.Interaction) -> tuple[int, ...]:
    roles = getattr(interaction.user, "roles", None) or []
    return tuple(role.id for role in roles)


def _orientation(size: str) -> str:
    width, _, height = size.partition("x")
    if not (width.isdigit() and height.isdigit()):
        return "custom"
    w, h = int(width), int(height)
    return "landscape" if w > h else "portrait" if h > w else "square"


async def setup(bot: ReelBot) -> None:
    await bot.add_cog(VideoCog(bot))
