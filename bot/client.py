"""The bot class: wires settings, storage, the provider, the tracker and the cogs together."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import secrets
from typing import Any

import aiohttp
import discord
from discord import app_commands
from discord.ext import commands

from bot.delivery import Delivery
from bot.dispatch import Dispatcher
from bot.guard import ContentGuard, CooldownPolicy, ModerationConfig
from bot.jobs import JobRequestError, JobService
from bot.modlog import ModerationServices, register_persistent_items
from bot.providers.openai import VideosClient
from bot.quotas import QuotaService
from bot.settings import Settings
from bot.tracker import Tracker
from storage import Database, JobStore
from storage.jobs import Job
from storage.meta import MetaStore
from storage.quotas import QuotaStore
from storage.rules import RuleStore

log = logging.getLogger(__name__)

EXTENSIONS = ("cogs.video", "cogs.videomod")
RETENTION_INTERVAL_SECONDS = 3600


async def reply_ephemeral(interaction: discord.Interaction, text: str, **kwargs: Any) -> None:
    """Answer privately, whatever has been sent already.

    Not answered yet → ephemeral response; deferred publicly → the public "thinking…" message is removed
    and the answer goes out as an ephemeral followup; token expired → nothing can reach the member.
    """
    try:
        if not interaction.response.is_done():
            await interaction.response.send_message(text, ephemeral=True, **kwargs)
            return
        if interaction.is_expired():
            return
        with contextlib.suppress(discord.HTTPException):
            await interaction.delete_original_response()
        await interaction.followup.send(text, ephemeral=True, **kwargs)
    except discord.HTTPException as exc:
        log.info("could not answer interaction %s: %s", interaction.id, exc)


class ReelTree(app_commands.CommandTree["ReelBot"]):
    """One error handler for every app command: known errors become clear ephemeral answers."""

    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        original = getattr(error, "original", error)
        if isinstance(original, JobRequestError):
            message = str(original)
        elif isinstance(error, app_commands.CommandOnCooldown):
            message = f"Slow down — try again in {error.retry_after:.0f} s."
        elif isinstance(error, app_commands.MissingPermissions):
            missing = ", ".join(p.replace("_", " ").title() for p in error.missing_permissions)
            message = f"You need the {missing} permission to use this command."
        elif isinstance(error, app_commands.BotMissingPermissions):
            missing = ", ".join(p.replace("_", " ").title() for p in error.missing_permissions)
            message = f"I need the {missing} permission in this channel."
        elif isinstance(error, app_commands.NoPrivateMessage):
            message = "This command works only inside a server."
        elif isinstance(error, app_commands.TransformerError):
            message = f"`{error.value}` is not a valid value for this option."
        elif isinstance(error, app_commands.CommandNotFound):
            message = "This command is out of date; Discord will refresh it shortly. Please try again in a minute."
        elif isinstance(error, app_commands.CheckFailure):
            message = str(error) or "You can't use this command here."
        else:
            incident = secrets.token_hex(4)
            log.error(
                "unhandled error in /%s (incident %s)",
                interaction.command and interaction.command.qualified_name,
                incident,
                exc_info=original,
            )
            message = f"Something went wrong on the bot's side (incident `{incident}`). Nothing was charged."
        await reply_ephemeral(interaction, message)


class ReelBot(commands.Bot):
    def __init__(self, settings: Settings, **kwargs: Any) -> None:
        intents = discord.Intents.default()
        intents.message_content = False
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            tree_cls=ReelTree,
            allowed_mentions=discord.AllowedMentions(everyone=False, roles=False, users=True),
            help_command=None,
            **kwargs,
        )
        self.settings = settings
        self.catalog = settings.catalog()
        self.simulated = settings.video_provider == "simulator"
        self.http_session: aiohttp.ClientSession | None = None
        self.db = Database(settings.database_path)
        self.store = JobStore(self.db)
        self.meta = MetaStore(self.db)
        self.rule_store = RuleStore(self.db)
        self.quotas = QuotaService(
            QuotaStore(self.db),
            defaults=settings.quota_defaults(),
            daily_spend_cap_usd=settings.daily_spend_cap_usd,
        )
        self.guard = ContentGuard(self.rule_store)
        # Policy, bans, audit, appeals, privacy and the moderation log; also registers the persistent buttons.
        self.moderation: ModerationServices = register_persistent_items(self)
        self._retention_task: asyncio.Task[None] | None = None
        self.simulator: Any = None
        self.provider: VideosClient | None = None
        self.jobs: JobService | None = None
        self.delivery: Delivery | None = None
        self.tracker: Tracker | None = None
        self.dispatcher: Dispatcher | None = None
        self._tracker_starter: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ lifecycle

    async def setup_hook(self) -> None:
        settings = self.settings
        self.http_session = aiohttp.ClientSession()
        await self.db.open()
        base_url = await self._provider_base_url()
        self.provider = VideosClient(
            self.http_session,
            base_url,
            settings.video_api_key,
            auth_header=settings.video_api_auth_header,
            timeout_seconds=settings.video_request_timeout_seconds,
            max_retries=settings.video_max_retries,
        )
        settings.media_dir.mkdir(parents=True, exist_ok=True)
        self.jobs = JobService(
            self.store,
            self.provider,
            self.catalog,
            provider_name=settings.video_provider,
            media_dir=settings.media_dir,
            on_refused=self._record_provider_refusal,
            quotas=self.quotas,
        )
        self.guard = ContentGuard(
            self.rule_store,
            session=self.http_session,
            moderation=self._moderation_config(base_url),
            cooldown=CooldownPolicy(
                count=settings.refusal_cooldown_count,
                window_seconds=settings.refusal_cooldown_window_seconds,
                cooldown_seconds=settings.refusal_cooldown_seconds,
            ),
        )
        from bot import rules

        await asyncio.to_thread(rules.warm_up)
        self.delivery = Delivery(
            self,
            self.store,
            simulated=self.simulated,
            edit_interval_seconds=settings.progress_edit_interval_seconds,
            default_upload_limit_bytes=settings.default_upload_limit_bytes,
        )
        self.dispatcher = Dispatcher(
            self.jobs,
            max_in_flight=settings.provider_max_concurrent_jobs,
            requests_per_minute=settings.provider_requests_per_minute,
        )
        self.tracker = Tracker(
            self.jobs,
            self.delivery,
            media_dir=settings.media_dir,
            poll_interval_seconds=settings.poll_interval_seconds,
            max_concurrent_deliveries=settings.max_concurrent_downloads,
            dispatcher=self.dispatcher,
        )
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        await self.sync_commands()
        self._tracker_starter = asyncio.create_task(self._start_tracker_when_ready())
        self._retention_task = asyncio.create_task(self._retention_loop())

    async def _provider_base_url(self) -> str:
        settings = self.settings
        if settings.video_provider == "openai":
            settings.require_provider()
            assert settings.video_api_base_url is not None
            return settings.video_api_base_url
        if settings.video_api_base_url:  # a simulator started separately (python -m bot simulator)
            return settings.video_api_base_url
        from bot.simulator import SimulatorConfig, SimulatorServer

        self.simulator = SimulatorServer(
            SimulatorConfig(
                catalog=self.catalog,
                job_seconds=settings.simulator_job_seconds,
                failure_rate=settings.simulator_failure_rate,
                fps=settings.simulator_fps,
                media_dir=settings.media_dir / "simulator",
            )
        )
        url: str = await self.simulator.start("127.0.0.1", 0)
        log.info("built-in simulator serving the Videos API at %s", url)
        return url

    def _moderation_config(self, provider_base_url: str) -> ModerationConfig | None:
        settings = self.settings
        if not settings.moderation_enabled:
            return None
        return ModerationConfig(
            base_url=settings.moderation_base_url or provider_base_url,
            api_key=settings.moderation_api_key or settings.video_api_key,
            model=settings.moderation_model,
            timeout_seconds=settings.moderation_timeout_seconds,
            fail_open=settings.moderation_fail_open,
        )

    async def _record_provider_refusal(self, job: Job) -> None:
        from bot.rules import Verdict

        verdict = Verdict(
            allowed=False, category="moderation", reason=job.error_message or "", rule=f"provider:{job.error_code}"
        )
        refusal_id = await self.guard.record(job.guild_id, job.user_id, "provider", verdict, job.prompt, job_id=job.id)
        await self.moderation.log.post_refusal(refusal_id)

    async def _retention_loop(self) -> None:
        """Hourly: erase what each guild's retention setting says is too old (finished jobs, refusals, media)."""
        await self.wait_until_ready()
        while not self.is_closed():
            try:
                await self.moderation.privacy.apply_retention()
            except Exception:
                log.exception("retention sweep failed; trying again in an hour")
            await asyncio.sleep(RETENTION_INTERVAL_SECONDS)

    async def _start_tracker_when_ready(self) -> None:
        await self.wait_until_ready()
        # Commands read each guild's policy and rules before answering Discord: have them in memory first.
        for guild in self.guilds:
            await self.moderation.policy.warm(guild.id)
            await self.guard.compiled_rules(guild.id)
        assert self.tracker is not None
        active = await self.store.list_active()
        if active:
            log.info("resuming %d unfinished job(s)", len(active))
        self.tracker.start()

    async def close(self) -> None:
        if self._tracker_starter is not None:
            self._tracker_starter.cancel()
        if self._retention_task is not None:
            self._retention_task.cancel()
        if self.tracker is not None:
            await self.tracker.stop()
        await super().close()
        if self.simulator is not None:
            await self.simulator.stop()
        if self.http_session is not None:
            await self.http_session.close()
        await self.db.close()

    # ------------------------------------------------------------------ command sync

    def command_payload(self) -> list[dict[str, Any]]:
        return [command.to_dict(self.tree) for command in self.tree.get_commands()]

    async def sync_commands(self) -> None:
        """Sync slash commands only when their definition changed since the last sync.

        Discord allows 200 command creates per guild per day; syncing on every start wastes them.  A
        development guild (``DISCORD_DEV_GUILD_ID``) gets a copy of the commands, which shows at once.
        """
        payload = json.dumps(self.command_payload(), sort_keys=True)
        digest = hashlib.sha256(payload.encode()).hexdigest()
        guild_id = self.settings.discord_dev_guild_id
        key = f"commands_digest:{guild_id or 'global'}"
        if await self.meta.get(key) == digest:
            log.info("slash commands unchanged; not syncing")
            return
        if guild_id:
            guild = discord.Object(id=guild_id)
            self.tree.copy_global_to(guild=guild)
            await self.tree.sync(guild=guild)
        else:
            await self.tree.sync()
        await self.meta.set(key, digest)
        log.info("slash commands synced (%s)", f"guild {guild_id}" if guild_id else "global")

    # ------------------------------------------------------------------ events

    async def on_ready(self) -> None:
        assert self.user is not None
        log.info("logged in as %s (%s) in %d guild(s)", self.user, self.user.id, len(self.guilds))
