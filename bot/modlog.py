"""The moderation log channel, the persistent buttons on its messages, and the moderator actions they run.

* :class:`ModerationServices` bundles the moderation services of one bot (policy, audit, appeals, job
  moderation, privacy, the log).  :func:`register_persistent_items` builds them once per bot, registers the
  persistent buttons and returns them; call it at ``setup_hook`` time (it is idempotent, and the
  ``cogs.videomod`` extension calls it too).  :func:`services_of` finds them again from any interaction.
* :class:`ModLog` posts refusals, moderator actions and appeals to a guild's log channel as embeds.
* Persistent buttons (``discord.ui.DynamicItem``; the ``custom_id`` carries only small ids, never a
  provider's video id, so it stays far below Discord's 100 characters):

  ``reelbot:ban:<guild>:<user>``              ban the member from generating (asks reason and duration)
  ``reelbot:delete:<job>``                    delete the job's posted result (asks: refund or keep the charge)
  ``reelbot:appeal:open:<refusal>``           the member appeals a local refusal (asks for an explanation)
  ``reelbot:appeal:(approve|deny):<refusal>`` a moderator decides the appeal
  ``reelbot:forget:<guild>:<user>``           the member confirms ``/video forget-me``

  They keep working after a restart.  Every moderator button checks Manage Server again when pressed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import re
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import discord

from bot import embeds
from bot.jobs import JobRequestError, VideoRequest
from bot.policy import PolicyError, PolicyService
from bot.privacy import ForgetReport, PrivacyService
from bot.providers import NotFoundError, NotSupportedError, ProviderError
from bot.quotas import QuotaExceeded
from storage.appeals import Appeal, AppealStore, RefusedRequest
from storage.audit import Action, AuditEntry, AuditStore
from storage.jobs import Job, JobStatus
from storage.moderation import ModerationStore
from storage.policy import PolicyStore
from storage.privacy import PrivacyStore
from storage.rules import Refusal

if TYPE_CHECKING:
    from bot.client import ReelBot

log = logging.getLogger(__name__)

COLOUR_ACTION = discord.Colour.blurple()
COLOUR_REFUSAL = discord.Colour.orange()
COLOUR_APPEAL = discord.Colour.gold()
COLOUR_APPROVED = discord.Colour.green()
COLOUR_DENIED = discord.Colour.red()
MAX_EXPLANATION_CHARS = 500
NOT_A_MODERATOR = "Only members with the **Manage Server** permission can do this."
# Actions whose log post offers to ban the member concerned.
_OFFER_BAN = frozenset({"jobs.cancel", "jobs.delete", "member.unban"})


class ModerationError(JobRequestError):
    """A moderator's request that cannot be carried out; ``str(exc)`` is the private answer."""


def is_moderator(interaction: discord.Interaction) -> bool:
    return interaction.guild_id is not None and interaction.permissions.manage_guild


# ---------------------------------------------------------------------------------------------- wording


_ACTION_WORDS = {
    "policy.pause": "paused generation",
    "policy.resume": "resumed generation",
    "policy.max_seconds": "set the longest video",
    "policy.reference_images": "switched reference images",
    "policy.remix": "switched remix",
    "policy.retention": "set data retention",
    "log_channel": "set the moderation log channel",
    "member.ban": "banned a member from generating",
    "member.unban": "lifted a generation ban",
    "member.forget": "erased their own data (forget-me)",
    "quota.set": "set a quota limit",
    "quota.clear": "cleared a quota limit",
    "quota.concurrency": "set the jobs-at-once limit",
    "quota.cooldown": "set the cooldown between videos",
    "quota.grant": "granted extra allowance",
    "quota.reset": "reset a member's usage",
    "rules.add": "added a content rule",
    "rules.remove": "removed a content rule",
    "jobs.cancel": "cancelled a job",
    "jobs.delete": "deleted a posted result",
    "appeal.approve": "approved an appeal",
    "appeal.deny": "denied an appeal",
    "retention.sweep": "erased old data (retention)",
}
_LIST_WORDS = {"allow": "added to the allowed {kind}s", "remove": "removed from the allowed {kind}s"}


def action_words(action: str) -> str:
    """``policy.channel.allow`` → "added to the allowed channels" and so on; look-ups read "looked at …"."""
    if action in _ACTION_WORDS:
        return _ACTION_WORDS[action]
    parts = action.split(".")
    if len(parts) == 3 and parts[0] == "policy":
        kind, verb = parts[1], parts[2]
        if verb == "clear":
            return f"lifted the {kind} restriction"
        if verb in _LIST_WORDS:
            return _LIST_WORDS[verb].format(kind=kind)
    return f"ran `/videomod {action.replace('.', ' ')}`"


def _value(key: str, value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    if key.endswith("_at") and isinstance(value, int | float):
        return f"<t:{int(value)}:f>"
    if key in ("channel", "channel_id") and str(value).isdigit():
        return f"<#{value}>"
    if key in ("role", "role_id") and str(value).isdigit():
        return f"<@&{value}>"
    if key in ("member_id", "user_id") and str(value).isdigit():
        return f"<@{value}>"
    if key == "job_id":
        return f"#{value}"
    text = str(value)
    return text if len(text) <= 200 else text[:199] + "…"


def details_text(details: dict[str, Any]) -> str:
    return " · ".join(f"{key.replace('_', ' ')}: {_value(key, value)}" for key, value in details.items())


def actor(user_id: int) -> str:
    return "reelbot" if user_id == 0 else f"<@{user_id}>"


def target_mention(action: str, target_id: int) -> str:
    """An audit row's target as a mention: a channel, a role or (the default) a member."""
    if action == "log_channel" or ".channel." in action:
        return f"<#{target_id}>"
    if ".role." in action:
        return f"<@&{target_id}>"
    return f"<@{target_id}>"


def action_line(entry: AuditEntry) -> str:
    line = f"{actor(entry.actor_id)} {action_words(entry.action)}"
    if entry.target_id is not None:
        line += f" · {target_mention(entry.action, entry.target_id)}"
    if entry.details:
        line += f" — {details_text(entry.details)}"
    return line


def _timestamp(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, dt.UTC)


def _spoiler(text: str, limit: int = 900) -> str:
    return "||" + embeds.preview(text, limit).replace("||", "|\u200b|") + "||"


def refusal_embed(refusal: Refusal) -> discord.Embed:
    embed = discord.Embed(title="🚫 Prompt refused", colour=COLOUR_REFUSAL, timestamp=_timestamp(refusal.created_at))
    embed.add_field(name="Member", value=f"<@{refusal.user_id}>", inline=True)
    embed.add_field(name="Checked by", value=refusal.source, inline=True)
    embed.add_field(name="Category", value=f"`{refusal.category or '—'}`", inline=True)
    embed.add_field(name="Rule", value=f"`{refusal.rule or '—'}`", inline=True)
    if refusal.job_id:
        embed.add_field(name="Job", value=f"#{refusal.job_id}", inline=True)
    embed.add_field(name="Prompt", value=_spoiler(refusal.prompt), inline=False)
    embed.set_footer(text=f"Refusal #{refusal.id}")
    return embed


def action_embed(entry: AuditEntry) -> discord.Embed:
    embed = discord.Embed(
        title=f"🛠️ {action_words(entry.action).capitalize()}",
        colour=COLOUR_ACTION,
        timestamp=_timestamp(entry.created_at),
    )
    embed.add_field(name="By", value=actor(entry.actor_id), inline=True)
    if entry.target_id is not None:
        embed.add_field(name="Concerning", value=target_mention(entry.action, entry.target_id), inline=True)
    if entry.details:
        embed.add_field(name="Details", value=details_text(entry.details)[:1024], inline=False)
    embed.set_footer(text=f"Audit #{entry.id} · {entry.action}")
    return embed


def appeal_embed(appeal: Appeal, refusal: Refusal) -> discord.Embed:
    colour = {"approved": COLOUR_APPROVED, "denied": COLOUR_DENIED}.get(appeal.status, COLOUR_APPEAL)
    embed = discord.Embed(title="📨 Appeal of a refused prompt", colour=colour, timestamp=_timestamp(appeal.created_at))
    embed.add_field(name="Member", value=f"<@{appeal.user_id}>", inline=True)
    embed.add_field(name="Category", value=f"`{refusal.category or '—'}`", inline=True)
    embed.add_field(name="Rule", value=f"`{refusal.rule or '—'}`", inline=True)
    embed.add_field(name="Prompt", value=_spoiler(refusal.prompt), inline=False)
    embed.add_field(name="Member's explanation", value=embeds.preview(appeal.explanation or "—", 1000), inline=False)
    if appeal.status == "pending":
        embed.add_field(name="Status", value="⏳ waiting for a moderator", inline=False)
    else:
        by = f" by <@{appeal.decided_by}>" if appeal.decided_by else ""
        when = f" <t:{int(appeal.decided_at)}:R>" if appeal.decided_at else ""
        job = f" · job #{appeal.job_id}" if appeal.job_id else ""
        embed.add_field(name="Status", value=f"{appeal.status.capitalize()}{by}{when}{job}", inline=False)
    embed.set_footer(text=f"Appeal #{appeal.id} · refusal #{refusal.id}")
    return embed


# ---------------------------------------------------------------------------------------------- the log


class ModLog:
    """Posts to a guild's moderation log channel.  A post that fails is logged, never raised."""

    def __init__(self, bot: ReelBot, policy: PolicyService, jobs: ModerationStore) -> None:
        self.bot = bot
        self.policy = policy
        self.jobs = jobs
        self.mentions = discord.AllowedMentions.none()

    async def channel_id(self, guild_id: int) -> int | None:
        return (await self.policy.policy(guild_id)).log_channel_id

    async def send(
        self, guild_id: int, embed: discord.Embed, view: discord.ui.View | None = None
    ) -> discord.Message | None:
        channel_id = await self.channel_id(guild_id)
        if channel_id is None:
            return None
        channel = self.bot.get_partial_messageable(channel_id, guild_id=guild_id)
        try:
            if view is None:
                return await channel.send(embed=embed, allowed_mentions=self.mentions)
            return await channel.send(embed=embed, view=view, allowed_mentions=self.mentions)
        except discord.HTTPException as exc:
            log.warning("cannot post to the moderation log of guild %s: %s", guild_id, exc)
            return None

    async def post_refusal(self, refusal_id: int) -> discord.Message | None:
        """Post one recorded refusal with a Ban button (call it right after the refusal is recorded).

        Never raises: the member's answer must not depend on the moderation log.
        """
        try:
            row = await self.jobs.db.fetchone("SELECT * FROM refusals WHERE id = ?", (refusal_id,))
            if row is None:
                return None
            refusal = Refusal(**dict(row))
            job = await self.jobs.guild_job(refusal.guild_id, refusal.job_id) if refusal.job_id else None
            view = buttons(refusal.guild_id, member_id=refusal.user_id, job=job)
            return await self.send(refusal.guild_id, refusal_embed(refusal), view)
        except Exception:
            log.exception("could not post refusal %s to the moderation log", refusal_id)
            return None

    async def post_action(self, entry: AuditEntry) -> discord.Message | None:
        """Post a moderator's change (look-ups are not posted).  Never raises."""
        if not entry.change:
            return None
        try:
            member_id = entry.target_id if entry.action in _OFFER_BAN else None
            return await self.send(entry.guild_id, action_embed(entry), buttons(entry.guild_id, member_id=member_id))
        except Exception:
            log.exception("could not post audit entry %s to the moderation log", entry.id)
            return None


def buttons(guild_id: int, *, member_id: int | None = None, job: Job | None = None) -> discord.ui.View | None:
    """A persistent view with Ban (when a member is concerned) and Delete result (when a job was posted)."""
    view = discord.ui.View(timeout=None)
    if member_id is not None:
        view.add_item(BanButton(guild_id, member_id))
    if job is not None and job.result_message_id is not None:
        view.add_item(DeleteResultButton(job.id))
    return view if view.children else None


def decided_buttons(appeal: Appeal, job: Job | None) -> discord.ui.View:
    """After a decision: Ban member, plus Delete result for the job an approval started (usable once posted)."""
    view = discord.ui.View(timeout=None)
    view.add_item(BanButton(appeal.guild_id, appeal.user_id))
    if job is not None and job.status not in (JobStatus.REFUSED, JobStatus.FAILED, JobStatus.DISCARDED):
        view.add_item(DeleteResultButton(job.id))
    return view


# ---------------------------------------------------------------------------------------------- services


@dataclass(slots=True)
class ModerationServices:
    policy: PolicyService
    audit: AuditStore
    appeals: AppealStore
    jobs: ModerationStore
    privacy: PrivacyService
    log: ModLog


_SERVICES: weakref.WeakKeyDictionary[discord.Client, ModerationServices] = weakref.WeakKeyDictionary()


def build_services(bot: ReelBot) -> ModerationServices:
    """The moderation services over the bot's database (no I/O; the database may still be closed)."""
    policy_store = PolicyStore(bot.db)
    policy = PolicyService(policy_store, catalog=bot.catalog)
    jobs = ModerationStore(bot.db)

    async def cancel(job_id: int) -> Job:
        assert bot.jobs is not None
        job = await bot.jobs.cancel(job_id)
        if bot.delivery is not None:
            bot.delivery.forget(job_id)
        return job

    privacy = PrivacyService(
        PrivacyStore(bot.db), policy_store, media_dir=bot.settings.media_dir, job_store=bot.store, cancel=cancel
    )
    return ModerationServices(
        policy=policy,
        audit=AuditStore(bot.db),
        appeals=AppealStore(bot.db),
        jobs=jobs,
        privacy=privacy,
        log=ModLog(bot, policy, jobs),
    )


def register_persistent_items(bot: ReelBot, services: ModerationServices | None = None) -> ModerationServices:
    """Build (once) the bot's moderation services and register the persistent buttons; returns the services."""
    existing = _SERVICES.get(bot)
    if existing is not None and services is None:
        return existing
    services = services or build_services(bot)
    _SERVICES[bot] = services
    bot.add_dynamic_items(BanButton, DeleteResultButton, AppealButton, AppealDecisionButton, ForgetButton)
    return services


def services_of(client: discord.Client) -> ModerationServices:
    services = _SERVICES.get(client)
    if services is None:
        raise RuntimeError("moderation services are not registered on this bot")
    return services


def _bot(interaction: discord.Interaction) -> ReelBot:
    return cast("ReelBot", interaction.client)


async def answer(interaction: discord.Interaction, text: str, **kwargs: Any) -> None:
    """A private answer, whether or not the interaction was acknowledged already."""
    try:
        if interaction.response.is_done():
            await interaction.followup.send(text, ephemeral=True, **kwargs)
        else:
            await interaction.response.send_message(text, ephemeral=True, **kwargs)
    except discord.HTTPException as exc:
        log.info("could not answer interaction %s: %s", interaction.id, exc)


# ---------------------------------------------------------------------------------------------- actions


_DURATION = re.compile(r"(\d+)\s*([mhdw])", re.IGNORECASE)
_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400}


def parse_duration(text: str | None) -> float | None:
    """``"7d"``, ``"12h"``, ``"1w 2d"``, ``"30m"`` → seconds; empty → None (permanent).  Raises ModerationError."""
    if text is None or not text.strip() or text.strip().lower() in ("permanent", "forever", "never"):
        return None
    cleaned = text.strip().lower()
    parts = _DURATION.findall(cleaned)
    if not parts or _DURATION.sub("", cleaned).strip(" ,"):
        raise ModerationError(f"`{text}` is not a duration. Use e.g. `30m`, `12h`, `7d` or `2w` (empty = permanent).")
    seconds = sum(int(n) * _UNIT_SECONDS[u.lower()] for n, u in parts)
    if seconds <= 0 or seconds > 10 * 365 * 86_400:
        raise ModerationError("A ban lasts between a minute and ten years (or leave it empty for a permanent ban).")
    return float(seconds)


def ban_summary(user_id: int, reason: str, expires_at: float | None) -> str:
    until = f" until <t:{int(expires_at)}:f> (<t:{int(expires_at)}:R>)" if expires_at else " until unbanned"
    return f"🔨 <@{user_id}> may not generate videos in this server{until}. Reason: {reason}"


async def ban_member(
    services: ModerationServices, guild_id: int, user_id: int, *, reason: str, duration: str | None, actor_id: int
) -> tuple[str, AuditEntry]:
    seconds = parse_duration(duration)
    try:
        entry = await services.policy.ban(guild_id, user_id, reason=reason, duration_seconds=seconds, actor_id=actor_id)
    except PolicyError as exc:
        raise ModerationError(str(exc)) from exc
    return ban_summary(user_id, entry.details["reason"], entry.details["expires_at"]), entry


@dataclass(frozen=True, slots=True)
class DeleteReport:
    lines: tuple[str, ...]
    released: bool
    entry: AuditEntry


async def delete_result(bot: ReelBot, job: Job, *, release: bool, actor_id: int) -> DeleteReport:
    """Delete a job's posted result: the Discord message, the provider's copy (where allowed), the local files;
    release (refund) or keep the member's charge.  Audited.  Raises ModerationError when nothing was posted."""
    if job.result_message_id is None:
        raise ModerationError(f"Job #{job.id} has no posted result to delete (status: {job.status.value}).")
    services = services_of(bot)
    message_line = await _delete_message(bot, job)
    remote_line = await _delete_remote(bot, job)
    files = await _delete_local_files(bot.settings.media_dir, (job.video_path, job.thumbnail_path))
    action = Action(
        actor_id,
        "jobs.delete",
        target_id=job.user_id,
        details={"job_id": job.id, "charge": "release" if release else "keep", "files_deleted": files},
    )
    released, entry = await services.jobs.remove_result(job, release=release, action=action)
    if release:
        charge = (
            "The member's charge was released (refunded to their quota)."
            if released
            else "There was no committed charge to release, so the member's quota is unchanged."
        )
    else:
        charge = "The member's charge was kept."
    return DeleteReport((message_line, remote_line, charge), released, entry)


async def _delete_message(bot: ReelBot, job: Job) -> str:
    assert job.result_message_id is not None
    channel = bot.get_partial_messageable(job.channel_id, guild_id=job.guild_id)
    try:
        await channel.get_partial_message(job.result_message_id).delete()
    except discord.NotFound:
        return "The Discord message was already gone."
    except discord.Forbidden:
        return f"I may not delete the message in <#{job.channel_id}>; please delete it by hand."
    except discord.HTTPException as exc:
        return f"Discord did not delete the message ({exc.status}); please delete it by hand."
    return f"The video message in <#{job.channel_id}> was deleted."


async def _delete_remote(bot: ReelBot, job: Job) -> str:
    if not job.provider_video_id or bot.provider is None:
        return "The provider holds no copy."
    try:
        await bot.provider.delete(job.provider_video_id)
    except NotSupportedError:
        return "The provider does not offer deleting videos, so its copy expires on its own."
    except NotFoundError:
        return "The provider no longer has a copy."
    except ProviderError as exc:
        log.info("could not delete remote video of job %s: %s", job.id, exc)
        return "The provider's copy could not be deleted right now; it expires on its own."
    return "The provider's copy was deleted."


async def _delete_local_files(media_dir: Path, paths: Iterable[str | None]) -> int:
    root = media_dir.resolve()
    deleted = 0
    for raw in paths:
        if not raw:
            continue
        path = Path(raw).resolve()
        if not path.is_relative_to(root):
            continue
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            deleted += 1
    return deleted


# ---------------------------------------------------------------------------------------------- appeals


async def appeal_offer(bot: ReelBot, refusal_id: int) -> tuple[str, discord.ui.View | None]:
    """What to add under a local refusal: an Appeal button, or a note that appeals are off here."""
    services = services_of(bot)
    refusal = await services.appeals.refusal(refusal_id)
    if refusal is None or refusal.source != "local":
        return "", None
    if await services.log.channel_id(refusal.guild_id) is None:
        return "\n-# Appeals are off here: this server has no moderation log channel.", None
    view = discord.ui.View(timeout=None)
    view.add_item(AppealButton(refusal_id))
    return "\n-# Think this is a mistake? Press **Appeal** and a moderator will review it.", view


class AppealModal(discord.ui.Modal, title="Appeal this refusal"):
    explanation: discord.ui.TextInput[AppealModal] = discord.ui.TextInput(
        label="Why should this prompt be allowed? (optional)",
        custom_id="explanation",
        style=discord.TextStyle.paragraph,
        required=False,
        max_length=MAX_EXPLANATION_CHARS,
    )

    def __init__(self, refusal_id: int) -> None:
        super().__init__(timeout=900)
        self.refusal_id = refusal_id

    async def on_submit(self, interaction: discord.Interaction) -> None:
        bot = _bot(interaction)
        services = services_of(bot)
        refusal = await services.appeals.refusal(self.refusal_id)
        if refusal is None:
            await answer(interaction, "This refusal no longer exists, so it can't be appealed.")
            return
        appeal = await services.appeals.create(refusal, self.explanation.value.strip() or None)
        if appeal is None:
            await answer(interaction, "You have already appealed this refusal.")
            return
        view = discord.ui.View(timeout=None)
        view.add_item(AppealDecisionButton("approve", refusal.id))
        view.add_item(AppealDecisionButton("deny", refusal.id))
        message = await services.log.send(refusal.guild_id, appeal_embed(appeal, refusal), view)
        if message is None:
            await services.appeals.withdraw(appeal.id)
            await answer(interaction, "I couldn't reach the moderators right now, so the appeal was not sent. Sorry!")
            return
        await services.appeals.set_log_message(appeal.id, message.channel.id, message.id)
        await answer(
            interaction, "📨 Your appeal was sent to the moderators. You'll hear back by DM (or here in the server)."
        )


class AppealButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=r"reelbot:appeal:open:(?P<refusal>\d+)"
):
    """On a member's private refusal: opens the appeal form.  Only the refused member may use it."""

    def __init__(self, refusal_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Appeal",
                emoji="📨",
                style=discord.ButtonStyle.secondary,
                custom_id=f"reelbot:appeal:open:{refusal_id}",
            )
        )
        self.refusal_id = refusal_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> AppealButton:
        return cls(int(match["refusal"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        services = services_of(interaction.client)
        refusal = await services.appeals.refusal(self.refusal_id)
        if refusal is None or refusal.guild_id != interaction.guild_id:
            await answer(interaction, "This refusal no longer exists, so it can't be appealed.")
            return
        if refusal.user_id != interaction.user.id:
            await answer(interaction, "Only the member whose prompt was refused can appeal it.")
            return
        if refusal.source != "local":
            await answer(
                interaction,
                "Only refusals by reelbot's own rules can be appealed (not the AI check's or the provider's).",
            )
            return
        existing = await services.appeals.by_refusal(refusal.id)
        if existing is not None:
            await answer(interaction, f"You have already appealed this refusal (status: {existing.status}).")
            return
        if await services.log.channel_id(refusal.guild_id) is None:
            await answer(interaction, "Appeals are off here: this server has no moderation log channel.")
            return
        await interaction.response.send_modal(AppealModal(refusal.id))


class AppealDecisionButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=r"reelbot:appeal:(?P<decision>approve|deny):(?P<refusal>\d+)",
):
    def __init__(self, decision: str, refusal_id: int) -> None:
        approve = decision == "approve"
        super().__init__(
            discord.ui.Button(
                label="Approve" if approve else "Deny",
                emoji="✅" if approve else "✖️",
                style=discord.ButtonStyle.success if approve else discord.ButtonStyle.danger,
                custom_id=f"reelbot:appeal:{decision}:{refusal_id}",
            )
        )
        self.decision = decision
        self.refusal_id = refusal_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> AppealDecisionButton:
        return cls(match["decision"], int(match["refusal"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        if not is_moderator(interaction):
            await answer(interaction, NOT_A_MODERATOR)
            return
        bot = _bot(interaction)
        services = services_of(bot)
        appeal = await services.appeals.by_refusal(self.refusal_id)
        refusal = await services.appeals.refusal(self.refusal_id)
        if appeal is None or refusal is None or appeal.guild_id != interaction.guild_id:
            await answer(interaction, "This appeal no longer exists (the member erased it, or retention did).")
            return
        if appeal.status != "pending":
            await answer(interaction, f"This appeal was {appeal.status} already.")
            return
        await interaction.response.defer()  # silent: the log message is edited below
        try:
            if self.decision == "approve":
                summary = await approve_appeal(bot, appeal, refusal, moderator_id=interaction.user.id)
            else:
                summary = await deny_appeal(bot, appeal, refusal, moderator_id=interaction.user.id)
        except ModerationError as exc:
            await answer(interaction, str(exc))
            return
        decided = await services.appeals.get(appeal.id)
        if decided is not None:
            job = await services.jobs.guild_job(decided.guild_id, decided.job_id) if decided.job_id else None
            with contextlib.suppress(discord.HTTPException):
                await interaction.edit_original_response(
                    embed=appeal_embed(decided, refusal), view=decided_buttons(decided, job)
                )
        await answer(interaction, summary)


async def approve_appeal(bot: ReelBot, appeal: Appeal, refusal: Refusal, *, moderator_id: int) -> str:
    """Submit the refused prompt on the member's behalf (the local rules are skipped, nothing else is).

    Returns the moderator's summary; the member is told the outcome either way.
    """
    services = services_of(bot)
    request = await services.appeals.refused_request(refusal.id)
    if request is None:
        raise ModerationError("I don't know what this member asked for (model, size, length), so I can't submit it.")
    role_ids = await _member_roles(bot, refusal.guild_id, refusal.user_id)
    blocked = await services.policy.check(
        refusal.guild_id, request.channel_id, refusal.user_id, role_ids, request.model, request.size,
        request.seconds, has_image=False,
    )  # fmt: skip
    if blocked is not None:
        raise ModerationError(f"The appeal stays open: I can't submit it now. The member would be told: {blocked}")
    action = Action(
        moderator_id,
        "appeal.approve",
        target_id=refusal.user_id,
        details={"appeal_id": appeal.id, "refusal_id": refusal.id},
    )
    if await services.appeals.decide(appeal.id, "approved", action) is None:
        raise ModerationError("Another moderator decided this appeal a moment ago.")
    guild = _guild_name(bot, refusal.guild_id)
    try:
        job = await _submit(bot, request, refusal, tuple(role_ids))
    except Exception as exc:  # a quota, the catalog, the provider: the member hears why
        if isinstance(exc, JobRequestError | QuotaExceeded):  # record() wraps QuotaExceeded; be safe either way
            reason = str(exc)
        else:
            log.exception("could not submit approved appeal %s", appeal.id)
            reason = "something went wrong on the bot's side"
        await notify_member(
            bot, refusal.user_id, request.channel_id,
            f"✅ A moderator approved your appeal in **{guild}**, but the video could not be started: {reason}",
        )  # fmt: skip
        return f"Approved, but the video could not be started: {reason}. The member was told."
    await services.appeals.set_job(appeal.id, job.id)
    without_image = " (without the reference image, which was not kept)" if request.had_image else ""
    if job.status == JobStatus.REFUSED:
        text = (
            f"A moderator approved your appeal in **{guild}**, but the video provider's own rules refused the prompt, "
            "so no video was made. Nothing was charged."
        )
        summary = f"Approved. The provider refused the prompt anyway (job #{job.id}); the member was told."
    elif job.status == JobStatus.FAILED:
        text = f"A moderator approved your appeal in **{guild}**, but the video failed: {job.error_message}"
        summary = f"Approved, but job #{job.id} failed: {job.error_message}"
    else:
        text = (
            f"✅ A moderator approved your appeal in **{guild}**: your video (job #{job.id}) is being made"
            f"{without_image} and will be posted in <#{request.channel_id}>."
        )
        summary = f"Approved: job #{job.id} was submitted for <@{refusal.user_id}> in <#{request.channel_id}>."
    await notify_member(bot, refusal.user_id, request.channel_id, text)
    return summary


async def _submit(bot: ReelBot, request: RefusedRequest, refusal: Refusal, role_ids: tuple[int, ...]) -> Job:
    """record (charges the quota) → status post in the channel → offer to the dispatcher → hand over to the tracker."""
    assert bot.jobs is not None and bot.dispatcher is not None and bot.delivery is not None
    outcome = await bot.jobs.record(
        VideoRequest(
            guild_id=refusal.guild_id,
            channel_id=request.channel_id,
            user_id=refusal.user_id,
            prompt=refusal.prompt,
            model=request.model,
            size=request.size,
            seconds=request.seconds,
            role_ids=role_ids,
        )
    )
    job = outcome.job
    try:
        await bot.delivery.show_status(job, force=True)
        job = await bot.dispatcher.offer(job.id)
    finally:
        bot.jobs.release_hold(job.id)
    if job.status in (JobStatus.REFUSED, JobStatus.FAILED):
        await bot.delivery.on_ended(job)
    else:
        await bot.delivery.show_status(job, force=True)
    return job


async def deny_appeal(bot: ReelBot, appeal: Appeal, refusal: Refusal, *, moderator_id: int) -> str:
    services = services_of(bot)
    action = Action(
        moderator_id,
        "appeal.deny",
        target_id=refusal.user_id,
        details={"appeal_id": appeal.id, "refusal_id": refusal.id},
    )
    if await services.appeals.decide(appeal.id, "denied", action) is None:
        raise ModerationError("Another moderator decided this appeal a moment ago.")
    request = await services.appeals.refused_request(refusal.id)
    guild = _guild_name(bot, refusal.guild_id)
    await notify_member(
        bot,
        refusal.user_id,
        request.channel_id if request else None,
        f"A moderator reviewed your appeal in **{guild}** and kept the refusal of your prompt.",
    )
    return f"Denied. <@{refusal.user_id}> was told."


async def notify_member(bot: ReelBot, user_id: int, channel_id: int | None, text: str) -> bool:
    """DM the member; if their DMs are closed, mention them in ``channel_id``.  True when it got through."""
    try:
        user = bot.get_user(user_id) or await bot.fetch_user(user_id)
        await user.send(text)
        return True
    except discord.HTTPException as exc:
        log.info("cannot DM member %s (%s); trying the channel", user_id, exc)
    if channel_id is None:
        return False
    try:
        await bot.get_partial_messageable(channel_id).send(
            f"<@{user_id}> {text}", allowed_mentions=discord.AllowedMentions(users=True, roles=False, everyone=False)
        )
        return True
    except discord.HTTPException as exc:
        log.warning("cannot tell member %s about their appeal: %s", user_id, exc)
        return False


async def _member_roles(bot: ReelBot, guild_id: int, user_id: int) -> list[int]:
    guild = bot.get_guild(guild_id)
    if guild is None:
        return []
    member = guild.get_member(user_id)
    if member is None:
        try:
            member = await guild.fetch_member(user_id)
        except discord.HTTPException:
            return []
    return [role.id for role in member.roles]


def _guild_name(bot: ReelBot, guild_id: int) -> str:
    guild = bot.get_guild(guild_id)
    return discord.utils.escape_markdown(guild.name) if guild else "the server"


# ---------------------------------------------------------------------------------------------- forget-me


def forget_me_prompt(guild_id: int, user_id: int) -> tuple[str, discord.ui.View]:
    """The private confirmation ``/video forget-me`` shows: what will go, and the button that does it."""
    view = discord.ui.View(timeout=None)
    view.add_item(ForgetButton(guild_id, user_id))
    text = (
        "This deletes **your prompts, your video jobs and the videos posted for you in this server**, cancels your "
        "running jobs and removes your refused prompts and appeals. It cannot be undone.\n"
        "-# Jobs whose cost still counts toward this server's limits (the last 30 days) keep only their size, length "
        "and price, without the prompt, until they age out. Dismiss this message to keep everything."
    )
    return text, view


def forget_summary(report: ForgetReport, messages_deleted: int) -> str:
    parts = [
        f"🧹 Done. Erased {report.jobs_erased} job(s), {report.refusals_deleted} refused prompt(s) and "
        f"{report.appeals_deleted} appeal(s); deleted {messages_deleted} message(s) and {report.files_deleted} file(s)."
    ]
    if report.jobs_cancelled:
        parts.append(f"{report.jobs_cancelled} running job(s) were cancelled first.")
    if report.jobs_scrubbed:
        parts.append(
            f"{report.jobs_scrubbed} of them are kept without the prompt while their cost counts toward this "
            "server's limits."
        )
    if report.jobs_in_delivery:
        ids = ", ".join(f"#{i}" for i in report.jobs_in_delivery)
        parts.append(f"Job(s) {ids} were being posted right now: run `/video forget-me` again in a minute.")
    return " ".join(parts)


class ForgetButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=r"reelbot:forget:(?P<guild>\d+):(?P<user>\d+)"
):
    """The confirmation of ``/video forget-me``.  Only the member it was shown to can press it."""

    def __init__(self, guild_id: int, user_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Delete my data",
                emoji="🧹",
                style=discord.ButtonStyle.danger,
                custom_id=f"reelbot:forget:{guild_id}:{user_id}",
            )
        )
        self.guild_id = guild_id
        self.user_id = user_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> ForgetButton:
        return cls(int(match["guild"]), int(match["user"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        if interaction.user.id != self.user_id or interaction.guild_id != self.guild_id:
            await answer(interaction, "This button deletes someone else's data; run `/video forget-me` for yours.")
            return
        bot = _bot(interaction)
        await interaction.response.edit_message(content="🧹 Deleting your data…", view=None)
        report = await services_of(bot).privacy.forget_member(self.guild_id, self.user_id)
        deleted = 0
        for channel_id, message_id in report.messages:
            channel = bot.get_partial_messageable(channel_id, guild_id=self.guild_id)
            try:
                await channel.get_partial_message(message_id).delete()
                deleted += 1
            except discord.NotFound:
                continue
            except discord.HTTPException as exc:
                log.info("forget-me could not delete message %s: %s", message_id, exc)
        with contextlib.suppress(discord.HTTPException):
            await interaction.edit_original_response(content=forget_summary(report, deleted))


# ---------------------------------------------------------------------------------------------- ban / delete


class BanModal(discord.ui.Modal, title="Ban from generating videos"):
    reason: discord.ui.TextInput[BanModal] = discord.ui.TextInput(
        label="Reason (shown to the member)", custom_id="reason", required=False, max_length=300
    )
    duration: discord.ui.TextInput[BanModal] = discord.ui.TextInput(
        label="Duration: 30m, 12h, 7d, 2w (empty = permanent)", custom_id="duration", required=False, max_length=40
    )

    def __init__(self, guild_id: int, user_id: int) -> None:
        super().__init__(timeout=900)
        self.guild_id = guild_id
        self.user_id = user_id

    async def on_submit(self, interaction: discord.Interaction) -> None:
        if not is_moderator(interaction) or interaction.guild_id != self.guild_id:
            await answer(interaction, NOT_A_MODERATOR)
            return
        services = services_of(interaction.client)
        try:
            text, entry = await ban_member(
                services,
                self.guild_id,
                self.user_id,
                reason=self.reason.value or "Banned from the moderation log.",
                duration=self.duration.value,
                actor_id=interaction.user.id,
            )
        except ModerationError as exc:
            await answer(interaction, str(exc))
            return
        await answer(interaction, text + "\nUndo with `/videomod member unban`.")
        await services.log.post_action(entry)


class BanButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=r"reelbot:ban:(?P<guild>\d+):(?P<user>\d+)"
):
    def __init__(self, guild_id: int, user_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Ban member",
                emoji="🔨",
                style=discord.ButtonStyle.danger,
                custom_id=f"reelbot:ban:{guild_id}:{user_id}",
            )
        )
        self.guild_id = guild_id
        self.user_id = user_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> BanButton:
        return cls(int(match["guild"]), int(match["user"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        if not is_moderator(interaction) or interaction.guild_id != self.guild_id:
            await answer(interaction, NOT_A_MODERATOR)
            return
        await interaction.response.send_modal(BanModal(self.guild_id, self.user_id))


class DeleteChoiceView(discord.ui.View):
    """The private follow-up of Delete result: refund the member's charge or keep it."""

    def __init__(self, job_id: int, moderator_id: int) -> None:
        super().__init__(timeout=300)
        self.job_id = job_id
        self.moderator_id = moderator_id

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        return interaction.user.id == self.moderator_id and is_moderator(interaction)

    @discord.ui.button(label="Delete and refund the charge", style=discord.ButtonStyle.danger)
    async def release(self, interaction: discord.Interaction, button: discord.ui.Button[DeleteChoiceView]) -> None:
        await self._delete(interaction, release=True)

    @discord.ui.button(label="Delete, keep the charge", style=discord.ButtonStyle.danger)
    async def keep(self, interaction: discord.Interaction, button: discord.ui.Button[DeleteChoiceView]) -> None:
        await self._delete(interaction, release=False)

    @discord.ui.button(label="Cancel", style=discord.ButtonStyle.secondary)
    async def cancel(self, interaction: discord.Interaction, button: discord.ui.Button[DeleteChoiceView]) -> None:
        self.stop()
        await interaction.response.edit_message(content="Nothing was deleted.", view=None)

    async def _delete(self, interaction: discord.Interaction, *, release: bool) -> None:
        self.stop()
        bot = _bot(interaction)
        services = services_of(bot)
        await interaction.response.edit_message(content=f"Deleting job #{self.job_id}'s result…", view=None)
        job = await services.jobs.guild_job(interaction.guild_id or 0, self.job_id)
        try:
            if job is None:
                raise ModerationError(f"There is no job #{self.job_id} in this server.")
            report = await delete_result(bot, job, release=release, actor_id=interaction.user.id)
        except ModerationError as exc:
            await interaction.edit_original_response(content=str(exc))
            return
        await interaction.edit_original_response(content="🗑️ " + " ".join(report.lines))
        await services.log.post_action(report.entry)


class DeleteResultButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=r"reelbot:delete:(?P<job>\d+)"
):
    def __init__(self, job_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Delete result",
                emoji="🗑️",
                style=discord.ButtonStyle.secondary,
                custom_id=f"reelbot:delete:{job_id}",
            )
        )
        self.job_id = job_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> DeleteResultButton:
        return cls(int(match["job"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        if not is_moderator(interaction):
            await answer(interaction, NOT_A_MODERATOR)
            return
        services = services_of(interaction.client)
        job = await services.jobs.guild_job(interaction.guild_id or 0, self.job_id)
        if job is None or job.result_message_id is None:
            await answer(interaction, f"Job #{self.job_id} has no posted result (any more).")
            return
        await answer(
            interaction,
            f"Delete job #{job.id}'s video (by <@{job.user_id}>)? This removes the Discord message and the provider's "
            "copy. Refund the member's charge, or keep it?",
            view=DeleteChoiceView(job.id, interaction.user.id),
        )
