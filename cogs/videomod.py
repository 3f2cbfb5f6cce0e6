"""/videomod: the moderators' console.  Guild-only, shown by default to Manage Server, and checked again at run time.

Every subcommand answers privately and writes an audit row: changes in the same transaction as the change where
the service allows it (policy, bans, results, appeals), right after it otherwise (quotas, rules, cancels);
look-ups as ``change = 0`` rows that ``/videomod audit`` shows on request.  Changes are also posted to the
moderation log channel when one is set.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import time
from typing import TYPE_CHECKING, Any, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot import charts, embeds
from bot.modlog import (
    ModerationError,
    ModerationServices,
    action_words,
    actor,
    ban_member,
    delete_result,
    details_text,
    register_persistent_items,
    target_mention,
)
from bot.policy import FEATURES, PolicyError, describe, feature_word
from bot.quotas import WindowUsage
from cogs._paging import Pager
from storage.audit import Action, AuditEntry, TimelineItem
from storage.jobs import Job, JobStatus

if TYPE_CHECKING:
    from bot.client import ReelBot

log = logging.getLogger(__name__)

PAGE_SIZE = 10
MAX_PATTERN_CHARS = 300
PERIOD_DAYS = {"week": 7, "month": 30, "quarter": 90}
DAY = 86_400

ListAction = Literal["allow", "remove", "clear"]

SCOPE_CHOICES = [
    app_commands.Choice(name="each member", value="user"),
    app_commands.Choice(name="the whole server", value="guild"),
]
WINDOW_CHOICES = [
    app_commands.Choice(name="per 24 hours", value="day"),
    app_commands.Choice(name="per 7 days", value="week"),
    app_commands.Choice(name="per 30 days", value="month"),
]
UNIT_CHOICES = [
    app_commands.Choice(name="videos", value="jobs"),
    app_commands.Choice(name="video-seconds", value="seconds"),
    app_commands.Choice(name="US dollars", value="usd"),
]
STATUS_CHOICES = [app_commands.Choice(name="active (not finished)", value="active")] + [
    app_commands.Choice(name=s.value, value=s.value) for s in JobStatus
]
_WINDOW_WORDS = {"day": "per 24 hours", "week": "per 7 days", "month": "per 30 days"}
_SCOPE_WORDS = {"user": "each member", "guild": "the whole server"}


class NotModerator(app_commands.CheckFailure):
    """Raised for a /videomod command run by a member without Manage Server (the tree shows the message)."""

    def __init__(self) -> None:
        super().__init__("Only members with the **Manage Server** permission can use `/videomod`.")


def amount_text(unit: str, amount: float | None) -> str:
    if amount is None:
        return "no limit"
    if unit == "usd":
        return f"${amount:,.2f}"
    noun = "video" if unit == "jobs" else "video-second"
    return f"{amount:g} {noun}{'' if amount == 1 else 's'}"


def _window_line(w: WindowUsage) -> str:
    left = "" if w.left is None else f", {amount_text(w.unit, w.left)} left"
    resets = f", frees up <t:{int(w.resets_at)}:R>" if w.resets_at and w.used else ""
    return f"{amount_text(w.unit, w.used)} of {amount_text(w.unit, w.limit)} {_WINDOW_WORDS[w.period]}{left}{resets}"


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class VideoModCog(
    commands.GroupCog, group_name="videomod", group_description="Moderate reelbot in this server (Manage Server)"
):
    policy_group = app_commands.Group(name="policy", description="Where, by whom and how members may generate")
    quota_group = app_commands.Group(name="quota", description="Quota limits, grants and usage")
    member_group = app_commands.Group(name="member", description="Ban and unban members from generating")
    rules_group = app_commands.Group(name="rules", description="This server's extra content rules")
    jobs_group = app_commands.Group(name="jobs", description="See, cancel and delete members' videos")

    def __init__(self, bot: ReelBot) -> None:
        self.bot = bot
        self.mod: ModerationServices = register_persistent_items(bot)

    # ------------------------------------------------------------------ the run-time permission check

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if interaction.guild_id is None:
            raise app_commands.NoPrivateMessage()
        if not interaction.permissions.manage_guild:
            raise NotModerator()
        return True

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def _guild(interaction: discord.Interaction) -> int:
        assert interaction.guild_id is not None
        return interaction.guild_id

    async def _changed(self, interaction: discord.Interaction, text: str, entry: AuditEntry, **kwargs: Any) -> None:
        """Confirm a change privately, then post it to the moderation log."""
        await _answer(interaction, text, **kwargs)
        await self.mod.log.post_action(entry)

    async def _audit(
        self, interaction: discord.Interaction, action: str, *, target_id: int | None = None, **details: Any
    ) -> AuditEntry:
        """Audit a change that its service made in its own transaction."""
        return await self.mod.audit.record(
            self._guild(interaction), Action(interaction.user.id, action, target_id=target_id, details=details)
        )

    async def _looked(self, interaction: discord.Interaction, target_id: int | None = None, **details: Any) -> None:
        """Audit a look-up (hidden from /videomod audit unless asked for)."""
        command = interaction.command.qualified_name if interaction.command else "videomod"
        action = ".".join(command.split()[1:]) or "videomod"
        await self.mod.audit.record(
            self._guild(interaction),
            Action(interaction.user.id, action, target_id=target_id, details=details),
            change=False,
        )

    # ================================================================== /videomod policy

    @policy_group.command(name="show", description="Show this server's generation policy")
    async def policy_show(self, interaction: discord.Interaction) -> None:
        guild_id = self._guild(interaction)
        policy = await self.mod.policy.policy(guild_id)
        embed = discord.Embed(title="🎛️ Generation policy", colour=embeds.COLOUR_MUTED)
        for label, value in describe(policy):
            embed.add_field(name=label, value=value[:1024], inline=True)
        bans = await self.mod.policy.bans(guild_id)
        embed.add_field(name="Banned members", value=str(len(bans)), inline=True)
        pending = await self.mod.appeals.pending(guild_id)
        embed.add_field(name="Open appeals", value=str(len(pending)), inline=True)
        embed.set_footer(text="Change it with /videomod policy … · quotas: /videomod quota limits")
        await self._looked(interaction)
        await _answer(interaction, "", embed=embed)

    async def _list_change(
        self, interaction: discord.Interaction, kind: str, action: ListAction, value: str | None, shown: str | None
    ) -> None:
        guild_id, actor_id = self._guild(interaction), interaction.user.id
        try:
            if action == "clear":
                entry = await self.mod.policy.clear(guild_id, kind, actor_id=actor_id)
            elif value is None:
                raise ModerationError(f"Pick the {kind} to {action}.")
            elif action == "allow":
                entry = await self.mod.policy.allow(guild_id, kind, value, actor_id=actor_id)
            else:
                entry = await self.mod.policy.disallow(guild_id, kind, value, actor_id=actor_id)
        except PolicyError as exc:
            raise ModerationError(str(exc)) from exc
        policy = await self.mod.policy.policy(guild_id)
        now = dict(describe(policy))[{"channel": "Channels", "role": "Roles", "model": "Models", "size": "Sizes"}[kind]]
        verb = {"allow": f"Added {shown}.", "remove": f"Removed {shown}.", "clear": f"Cleared the {kind} list."}[action]
        await self._changed(interaction, f"✅ {verb} Allowed {kind}s now: {now}.", entry)

    @policy_group.command(name="channel", description="Allow generation only in some channels (empty list = anywhere)")
    @app_commands.describe(
        action="allow: add to the list · remove: take off · clear: anywhere again", channel="Channel"
    )
    async def policy_channel(
        self,
        interaction: discord.Interaction,
        action: ListAction,
        channel: app_commands.AppCommandChannel | app_commands.AppCommandThread | None = None,
    ) -> None:
        value = str(channel.id) if channel else None
        await self._list_change(interaction, "channel", action, value, channel.mention if channel else None)

    @policy_group.command(name="role", description="Allow generation only to holders of some roles (empty = everyone)")
    @app_commands.describe(action="allow: add to the list · remove: take off · clear: everyone again", role="Role")
    async def policy_role(
        self, interaction: discord.Interaction, action: ListAction, role: discord.Role | None = None
    ) -> None:
        value = str(role.id) if role else None
        await self._list_change(interaction, "role", action, value, role.mention if role else None)

    @policy_group.command(name="model", description="Allow only some models (empty list = every model)")
    @app_commands.describe(action="allow: add to the list · remove: take off · clear: every model again", model="Model")
    async def policy_model(
        self, interaction: discord.Interaction, action: ListAction, model: str | None = None
    ) -> None:
        await self._list_change(interaction, "model", action, model, f"`{model}`" if model else None)

    @policy_group.command(name="size", description="Allow only some sizes (empty list = every size)")
    @app_commands.describe(action="allow: add to the list · remove: take off · clear: every size again", size="Size")
    async def policy_size(self, interaction: discord.Interaction, action: ListAction, size: str | None = None) -> None:
        await self._list_change(interaction, "size", action, size, f"`{size}`" if size else None)

    @policy_model.autocomplete("model")
    async def _model_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        text = current.lower()
        return [
            app_commands.Choice(name=m.label[:100], value=m.id)
            for m in self.bot.catalog.models
            if text in m.id.lower() or text in m.label.lower()
        ][:25]

    @policy_size.autocomplete("size")
    async def _size_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        sizes = sorted({s for m in self.bot.catalog.models for s in m.sizes})
        return [app_commands.Choice(name=s, value=s) for s in sizes if current in s][:25]

    @policy_group.command(
        name="max-seconds", description="Longest video members may ask for (0 = what the model offers)"
    )
    @app_commands.describe(seconds="Longest length in seconds; 0 removes the limit")
    async def policy_max_seconds(
        self, interaction: discord.Interaction, seconds: app_commands.Range[int, 0, 3600]
    ) -> None:
        try:
            entry = await self.mod.policy.set_max_seconds(
                self._guild(interaction), seconds or None, actor_id=interaction.user.id
            )
        except PolicyError as exc:
            raise ModerationError(str(exc)) from exc
        text = f"up to **{seconds} s**" if seconds else "as long as the model offers"
        await self._changed(interaction, f"✅ Members may now ask for videos {text}.", entry)

    async def _feature(self, interaction: discord.Interaction, feature: str, enabled: bool) -> None:
        assert feature in FEATURES
        entry = await self.mod.policy.set_feature(
            self._guild(interaction), feature, enabled, actor_id=interaction.user.id
        )
        state = "**on**" if enabled else "**off**"
        await self._changed(interaction, f"✅ {feature_word(feature)} now {state} in this server.", entry)

    @policy_group.command(name="images", description="Turn reference images (first frames) on or off")
    async def policy_images(self, interaction: discord.Interaction, enabled: bool) -> None:
        await self._feature(interaction, "reference_images", enabled)

    @policy_group.command(name="remix", description="Turn remixing of videos on or off")
    async def policy_remix(self, interaction: discord.Interaction, enabled: bool) -> None:
        await self._feature(interaction, "remix", enabled)

    @policy_group.command(name="pause", description="Pause all video generation in this server")
    @app_commands.describe(reason="Shown to members who try to generate")
    async def policy_pause(self, interaction: discord.Interaction, reason: app_commands.Range[str, 1, 300]) -> None:
        entry = await self.mod.policy.pause(self._guild(interaction), reason, actor_id=interaction.user.id)
        shown = entry.details["reason"]
        await self._changed(
            interaction,
            f"⏸️ Generation is paused in this server. Members are told: “{shown}”. "
            "Running jobs finish normally; `/videomod policy resume` turns it back on.",
            entry,
        )

    @policy_group.command(name="resume", description="Resume video generation in this server")
    async def policy_resume(self, interaction: discord.Interaction) -> None:
        try:
            entry = await self.mod.policy.resume(self._guild(interaction), actor_id=interaction.user.id)
        except PolicyError as exc:
            raise ModerationError(str(exc)) from exc
        await self._changed(interaction, "▶️ Generation is running again in this server.", entry)

    @policy_group.command(name="retention", description="Delete old prompts and job records after some days")
    @app_commands.describe(days="Keep prompts, refusals and finished jobs this many days; 0 keeps them until deleted")
    async def policy_retention(self, interaction: discord.Interaction, days: app_commands.Range[int, 0, 3650]) -> None:
        try:
            entry = await self.mod.policy.set_retention(
                self._guild(interaction), days or None, actor_id=interaction.user.id
            )
        except PolicyError as exc:
            raise ModerationError(str(exc)) from exc
        text = (
            f"🗓️ Prompts, refusals and finished jobs older than **{days} days** are now deleted automatically "
            "(checked every hour; running jobs are never touched)."
            if days
            else "🗓️ Retention is off: prompts and job records are kept until deleted."
        )
        await self._changed(interaction, text, entry)

    # ================================================================== /videomod log-channel

    @app_commands.command(name="log-channel", description="Where refusals, appeals and moderator actions are posted")
    @app_commands.describe(channel="The moderation log channel; leave empty to turn the log off")
    async def log_channel(self, interaction: discord.Interaction, channel: discord.TextChannel | None = None) -> None:
        guild_id = self._guild(interaction)
        if channel is not None:
            await interaction.response.defer(ephemeral=True, thinking=True)
            welcome = discord.Embed(
                title="📋 Moderation log",
                description="reelbot posts refusals, appeals and moderator actions here "
                f"(set by {interaction.user.mention}).",
                colour=embeds.COLOUR_MUTED,
            )
            try:
                await channel.send(embed=welcome, allowed_mentions=discord.AllowedMentions.none())
            except discord.HTTPException as exc:
                raise ModerationError(
                    f"I can't post in {channel.mention} ({exc.text or exc.status}). Give me View Channel, Send "
                    "Messages and Embed Links there, then try again."
                ) from exc
        entry = await self.mod.policy.set_log_channel(
            guild_id, channel.id if channel else None, actor_id=interaction.user.id
        )
        text = f"📋 The moderation log now goes to {channel.mention}." if channel else "📋 The moderation log is off."
        await self._changed(interaction, text, entry)

    # ================================================================== /videomod quota

    @quota_group.command(name="limits", description="Show this server's quota limits")
    async def quota_limits(self, interaction: discord.Interaction) -> None:
        limits = await self.bot.quotas.limits(self._guild(interaction))
        embed = discord.Embed(title="📏 Quota limits", colour=embeds.COLOUR_MUTED)
        for scope in ("user", "guild"):
            lines = [
                f"{amount_text(w.unit, w.amount)} {_WINDOW_WORDS[w.period]}"
                + (" (default)" if w.source == "default" else "")
                for w in limits.windows
                if w.scope == scope and w.amount is not None
            ]
            embed.add_field(name=f"For {_SCOPE_WORDS[scope]}", value="\n".join(lines) or "no limit", inline=False)
        overrides = [
            f"<@&{o.role_id}>: {o.key.replace('_', ' ')} → {'no limit' if o.amount is None else f'{o.amount:g}'}"
            for o in limits.role_overrides
        ]
        embed.add_field(name="Role overrides", value="\n".join(overrides)[:1024] or "none", inline=False)
        per_member = limits.max_concurrent_per_user or "no limit"
        at_once = f"per member {per_member}, per server {limits.max_concurrent_per_guild or 'no limit'}"
        embed.add_field(name="Jobs at once", value=at_once, inline=False)
        cooldown = f"{limits.user_cooldown_seconds:g} s" if limits.user_cooldown_seconds else "none"
        embed.add_field(name="Cooldown between a member's videos", value=cooldown, inline=False)
        if limits.daily_spend_cap_usd is not None:
            embed.add_field(name="Bot-wide daily cap", value=f"${limits.daily_spend_cap_usd:,.2f}", inline=False)
        await self._looked(interaction)
        await _answer(interaction, "", embed=embed)

    @quota_group.command(name="set", description="Set a quota limit for each member, the whole server, or a role")
    @app_commands.describe(
        scope="Who the limit applies to",
        window="Rolling window",
        unit="What is counted",
        amount="The limit; leave empty for no limit",
        role="Only for holders of this role (raises or lowers the per-member limit for them)",
    )
    @app_commands.choices(scope=SCOPE_CHOICES, window=WINDOW_CHOICES, unit=UNIT_CHOICES)
    async def quota_set(
        self,
        interaction: discord.Interaction,
        scope: str,
        window: str,
        unit: str,
        amount: app_commands.Range[float, 0.0, 1_000_000.0] | None = None,
        role: discord.Role | None = None,
    ) -> None:
        quotas = self.bot.quotas
        guild_id = self._guild(interaction)
        if role is not None and scope != "user":
            raise ModerationError("A role limit applies to each member holding the role: choose scope “each member”.")
        try:
            await quotas.set_limit(guild_id, scope, window, unit, amount, role_id=role.id if role else None)
        except ValueError as exc:
            raise ModerationError(str(exc)) from exc
        role_id = role.id if role else None
        entry = await self._audit(
            interaction, "quota.set", scope=scope, window=window, unit=unit, amount=amount, role_id=role_id
        )
        who = f"each member with {role.mention}" if role else _SCOPE_WORDS[scope]
        await self._changed(
            interaction,
            f"✅ Quota set: {who} may use **{amount_text(unit, amount)}** {_WINDOW_WORDS[window]}. "
            "It applies to the next request.",
            entry,
        )

    @quota_group.command(name="clear", description="Remove a limit you set (the default applies again)")
    @app_commands.choices(scope=SCOPE_CHOICES, window=WINDOW_CHOICES, unit=UNIT_CHOICES)
    async def quota_clear(
        self, interaction: discord.Interaction, scope: str, window: str, unit: str, role: discord.Role | None = None
    ) -> None:
        quotas = self.bot.quotas
        guild_id = self._guild(interaction)
        try:
            existed = await quotas.clear_limit(guild_id, scope, window, unit, role_id=role.id if role else None)
        except ValueError as exc:
            raise ModerationError(str(exc)) from exc
        if not existed:
            raise ModerationError("There is no such limit to clear; `/videomod quota limits` shows them.")
        entry = await self._audit(
            interaction,
            "quota.clear",
            scope=scope,
            window=window,
            unit=unit,
            role_id=role.id if role else None,
        )
        now = (await quotas.limits(guild_id)).window(scope, window, unit)
        text = (
            f"✅ Cleared the override for {role.mention}; the server's own limit applies to its holders again."
            if role
            else f"✅ Cleared: {_SCOPE_WORDS[scope]} is back to the default "
            f"({amount_text(unit, now.amount)} {_WINDOW_WORDS[window]})."
        )
        await self._changed(interaction, text, entry)

    @quota_group.command(name="concurrency", description="How many videos may render at once")
    @app_commands.describe(
        per_member="Jobs one member may have running at once (0 = no limit)",
        per_server="Jobs the whole server may have running at once (0 = no limit)",
        role="Only for holders of this role (per_member only)",
    )
    async def quota_concurrency(
        self,
        interaction: discord.Interaction,
        per_member: app_commands.Range[int, 0, 100] | None = None,
        per_server: app_commands.Range[int, 0, 1000] | None = None,
        role: discord.Role | None = None,
    ) -> None:
        quotas = self.bot.quotas
        if per_member is None and per_server is None:
            raise ModerationError("Give `per_member`, `per_server` or both.")
        if role is not None and per_server is not None:
            raise ModerationError("A role can only change the per-member number.")
        kwargs: dict[str, Any] = {}
        if per_member is not None:
            kwargs["per_user"] = per_member or None
        if per_server is not None:
            kwargs["per_guild"] = per_server or None
        try:
            await quotas.set_concurrency(self._guild(interaction), role_id=role.id if role else None, **kwargs)
        except ValueError as exc:
            raise ModerationError(str(exc)) from exc
        entry = await self._audit(
            interaction,
            "quota.concurrency",
            per_member=per_member,
            per_server=per_server,
            role_id=role.id if role else None,
        )
        parts = []
        if per_member is not None:
            who = f"each member with {role.mention}" if role else "each member"
            parts.append(f"{who} may run **{per_member or 'any number of'}** video(s) at once")
        if per_server is not None:
            parts.append(f"the server may run **{per_server or 'any number of'}** at once")
        await self._changed(interaction, "✅ " + "; ".join(parts) + ".", entry)

    @quota_group.command(name="cooldown", description="Seconds a member waits between two videos")
    @app_commands.describe(seconds="0 = no cooldown", role="Only for holders of this role")
    async def quota_cooldown(
        self,
        interaction: discord.Interaction,
        seconds: app_commands.Range[int, 0, 86_400],
        role: discord.Role | None = None,
    ) -> None:
        try:
            await self.bot.quotas.set_cooldown(
                self._guild(interaction), seconds or None, role_id=role.id if role else None
            )
        except ValueError as exc:
            raise ModerationError(str(exc)) from exc
        entry = await self._audit(
            interaction, "quota.cooldown", seconds=seconds,
            role_id=role.id if role else None,
        )  # fmt: skip
        who = f"Members with {role.mention}" if role else "Members"
        text = f"{who} now wait **{seconds} s** between videos." if seconds else f"{who} no longer wait between videos."
        await self._changed(interaction, "✅ " + text, entry)

    @quota_group.command(name="grant", description="Give a member extra allowance")
    @app_commands.describe(
        member="Who gets it", unit="What is granted", amount="How much extra", window="Which window it raises",
        days="Expires after this many days (empty = never)",
    )  # fmt: skip
    @app_commands.choices(unit=UNIT_CHOICES, window=WINDOW_CHOICES)
    async def quota_grant(
        self,
        interaction: discord.Interaction,
        member: discord.User,
        unit: str,
        amount: app_commands.Range[float, 0.01, 1_000_000.0],
        window: str,
        days: app_commands.Range[int, 1, 3650] | None = None,
    ) -> None:
        expires_at = time.time() + days * DAY if days else None
        try:
            grant = await self.bot.quotas.grant(
                self._guild(interaction), member.id, unit, amount, window, expires_at=expires_at
            )
        except ValueError as exc:
            raise ModerationError(str(exc)) from exc
        entry = await self._audit(
            interaction, "quota.grant", target_id=member.id, grant_id=grant.id, unit=unit, amount=amount,
            window=window, expires_at=expires_at,
        )  # fmt: skip
        until = f" until <t:{int(expires_at)}:f>" if expires_at else ""
        await self._changed(
            interaction,
            f"🎁 {member.mention} gets **{amount_text(unit, amount)}** extra {_WINDOW_WORDS[window]}{until} "
            "(on top of their limit; server limits still apply).",
            entry,
        )

    @quota_group.command(name="reset", description="Forgive a member's usage so far")
    async def quota_reset(self, interaction: discord.Interaction, member: discord.User) -> None:
        forgiven = await self.bot.quotas.reset_user(self._guild(interaction), member.id)
        entry = await self._audit(interaction, "quota.reset", target_id=member.id, forgiven=forgiven)
        await self._changed(
            interaction,
            f"🔄 {member.mention}'s usage was reset ({forgiven} charge(s) forgiven). Their own limits count from now; "
            "the server's totals still include what was spent.",
            entry,
        )

    @quota_group.command(name="usage", description="Show a member's quota usage")
    async def quota_usage(self, interaction: discord.Interaction, member: discord.User) -> None:
        roles = tuple(r.id for r in member.roles) if isinstance(member, discord.Member) else ()
        report = await self.bot.quotas.report(self._guild(interaction), member.id, roles)
        embed = discord.Embed(title="📊 Quota usage", description=f"{member.mention}", colour=embeds.COLOUR_MUTED)
        embed.add_field(
            name="Member's limits", value="\n".join(_window_line(w) for w in report.limited("user")) or "no limit",
            inline=False,
        )  # fmt: skip
        embed.add_field(
            name="Server's limits", value="\n".join(_window_line(w) for w in report.limited("guild")) or "no limit",
            inline=False,
        )  # fmt: skip
        at_once = f"{report.in_flight_user} of {report.max_concurrent_per_user or 'any number'}"
        embed.add_field(name="Running now", value=at_once, inline=True)
        if report.cooldown_until:
            embed.add_field(name="Cooling down until", value=f"<t:{int(report.cooldown_until)}:T>", inline=True)
        if report.grants:
            grants = [
                f"+{amount_text(g.unit, g.amount)} {_WINDOW_WORDS[g.period]}"
                + (f" until <t:{int(g.expires_at)}:d>" if g.expires_at else "")
                for g in report.grants
            ]
            embed.add_field(name="Grants", value="\n".join(grants)[:1024], inline=False)
        await self._looked(interaction, target_id=member.id)
        await _answer(interaction, "", embed=embed)

    # ================================================================== /videomod member

    @member_group.command(name="ban", description="Stop a member from generating videos here")
    @app_commands.describe(
        member="Who",
        reason="Shown to the member when they try",
        duration="e.g. 30m, 12h, 7d, 2w (empty = until unbanned)",
    )
    async def member_ban(
        self,
        interaction: discord.Interaction,
        member: discord.User,
        reason: app_commands.Range[str, 1, 300] | None = None,
        duration: app_commands.Range[str, 1, 40] | None = None,
    ) -> None:
        if member.bot:
            raise ModerationError("Bots don't generate videos.")
        text, entry = await ban_member(
            self.mod,
            self._guild(interaction),
            member.id,
            reason=reason or "No reason given.",
            duration=duration,
            actor_id=interaction.user.id,
        )
        await self._changed(interaction, text + " Their running jobs are not affected.", entry)

    @member_group.command(name="unban", description="Let a banned member generate again")
    async def member_unban(self, interaction: discord.Interaction, member: discord.User) -> None:
        try:
            entry = await self.mod.policy.unban(self._guild(interaction), member.id, actor_id=interaction.user.id)
        except PolicyError as exc:
            raise ModerationError(str(exc)) from exc
        await self._changed(interaction, f"✅ {member.mention} may generate videos again.", entry)

    @member_group.command(name="bans", description="List members banned from generating")
    async def member_bans(self, interaction: discord.Interaction) -> None:
        bans = await self.mod.policy.bans(self._guild(interaction))
        lines = [
            f"<@{b.user_id}> · by <@{b.banned_by}> <t:{int(b.banned_at)}:R> · "
            + (f"until <t:{int(b.expires_at)}:f>" if b.expires_at else "permanent")
            + f"\n> {embeds.preview(b.reason, 150)}"
            for b in bans
        ]
        embed = discord.Embed(title=f"🔨 Banned from generating ({len(bans)})", colour=embeds.COLOUR_MUTED)
        embed.description = embeds.preview("\n".join(lines), 4000) if lines else "Nobody is banned."
        await self._looked(interaction)
        await _answer(interaction, "", embed=embed)

    # ================================================================== /videomod rules

    @rules_group.command(name="add", description="Add a term or a regular expression to this server's rules")
    @app_commands.describe(kind="term: whole words, evasion-proof · regex: a regular expression", pattern="The rule")
    async def rules_add(
        self,
        interaction: discord.Interaction,
        kind: Literal["term", "regex"],
        pattern: app_commands.Range[str, 1, MAX_PATTERN_CHARS],
    ) -> None:
        try:
            rule = await self.bot.guard.add_rule(self._guild(interaction), kind, pattern, interaction.user.id)
        except ValueError as exc:
            raise ModerationError(f"❌ Not added. {exc}") from exc
        entry = await self._audit(interaction, "rules.add", rule_id=rule.id, kind=rule.kind, pattern=rule.pattern)
        await self._changed(
            interaction,
            f"✅ Rule #{rule.id} added: {rule.kind} `{rule.pattern}`. Prompts matching it are refused from now on.",
            entry,
        )

    @rules_group.command(name="remove", description="Remove one of this server's rules")
    @app_commands.describe(rule="The rule number (start typing to pick)")
    async def rules_remove(self, interaction: discord.Interaction, rule: app_commands.Range[int, 1]) -> None:
        removed = await self.bot.guard.remove_rule(self._guild(interaction), rule)
        if removed is None:
            raise ModerationError(f"This server has no rule #{rule}. `/videomod rules list` shows them.")
        entry = await self._audit(
            interaction, "rules.remove", rule_id=removed.id, kind=removed.kind, pattern=removed.pattern
        )
        await self._changed(interaction, f"✅ Rule #{removed.id} removed ({removed.kind} `{removed.pattern}`).", entry)

    @rules_remove.autocomplete("rule")
    async def _rule_autocomplete(
        self, interaction: discord.Interaction, current: int | str
    ) -> list[app_commands.Choice[int]]:
        if interaction.guild_id is None or not interaction.permissions.manage_guild:
            return []
        typed = str(current or "").lower()
        stored = await self.bot.rule_store.list_rules(interaction.guild_id)
        return [
            app_commands.Choice(name=f"#{r.id} · {r.kind} · {r.pattern}"[:100], value=r.id)
            for r in stored
            if typed in str(r.id) or typed in r.pattern.lower()
        ][:25]

    @rules_group.command(name="list", description="List this server's extra rules")
    async def rules_list(self, interaction: discord.Interaction) -> None:
        stored = await self.bot.rule_store.list_rules(self._guild(interaction))
        lines = [f"**#{r.id}** · {r.kind} `{r.pattern}` · by <@{r.added_by}> <t:{int(r.created_at)}:d>" for r in stored]
        embed = discord.Embed(title=f"📜 This server's rules ({len(stored)})", colour=embeds.COLOUR_MUTED)
        embed.description = (
            embeds.preview("\n".join(lines), 4000)
            if lines
            else "No extra rules; the built-in rules still apply. Add one with `/videomod rules add`."
        )
        embed.set_footer(text="The built-in rule packs always apply as well.")
        await self._looked(interaction)
        await _answer(interaction, "", embed=embed)

    @rules_group.command(name="test", description="Check a prompt against every rule and see which one matches")
    async def rules_test(self, interaction: discord.Interaction, prompt: app_commands.Range[str, 1, 4000]) -> None:
        guild_id = self._guild(interaction)
        verdict = await self.bot.guard.check_prompt(guild_id, prompt)
        if verdict.allowed:
            text = "✅ Allowed: no built-in or server rule matches this prompt."
        else:
            text = f"🚫 Refused — category `{verdict.category}`, rule `{verdict.rule}`"
            rule_id = _guild_rule_id(verdict.rule)
            if rule_id is not None:
                rules = {r.id: r for r in await self.bot.rule_store.list_rules(guild_id)}
                if rule_id in rules:
                    text += f" (this server's rule #{rule_id}: {rules[rule_id].kind} `{rules[rule_id].pattern}`)"
            text += f".\nThe member would read: “{verdict.reason}”"
        text += "\n-# Only the local rules were checked; the provider's own moderation may still refuse a prompt."
        await self._looked(interaction, allowed=verdict.allowed, rule=verdict.rule)
        await _answer(interaction, text)

    # ================================================================== /videomod jobs

    @jobs_group.command(name="list", description="List this server's video jobs")
    @app_commands.describe(
        status="Only jobs in this state", member="Only this member's jobs", page="Page (newest first)"
    )
    @app_commands.choices(status=STATUS_CHOICES)
    async def jobs_list(
        self,
        interaction: discord.Interaction,
        status: str | None = None,
        member: discord.User | None = None,
        page: app_commands.Range[int, 1] = 1,
    ) -> None:
        guild_id = self._guild(interaction)
        active = status == "active"
        chosen = None if status in (None, "active") else JobStatus(status)
        user_id = member.id if member else None
        store = self.mod.jobs

        async def render(number: int) -> tuple[discord.Embed, int]:
            total = await store.count_jobs(guild_id, status=chosen, user_id=user_id, active_only=active)
            pages = max(1, -(-total // PAGE_SIZE))
            number = min(max(1, number), pages)
            jobs = await store.list_jobs(
                guild_id, status=chosen, user_id=user_id, active_only=active, limit=PAGE_SIZE,
                offset=(number - 1) * PAGE_SIZE,
            )  # fmt: skip
            title = "🎞️ Jobs" + (f" · {status}" if status else "") + (f" · {member.display_name}" if member else "")
            embed = discord.Embed(title=title, colour=embeds.COLOUR_MUTED)
            embed.description = "\n".join(_job_line(j) for j in jobs) or "No jobs match."
            embed.set_footer(text=f"Page {number} of {pages} · {total} job(s)")
            return embed, pages

        view = Pager(interaction.user.id, render, page)
        await self._looked(interaction, target_id=user_id, status=status, page=page)
        await _answer(interaction, "", embed=await view.first(), view=view)

    @jobs_group.command(name="show", description="Show one job in detail")
    async def jobs_show(self, interaction: discord.Interaction, job: app_commands.Range[int, 1]) -> None:
        found = await self._job(interaction, job)
        embed = embeds.status_embed(found, now=time.time(), simulated=self.bot.simulated)
        charge = await self.mod.jobs.ledger_state(found.id)
        embed.add_field(name="Price (list)", value=f"${found.price_usd:.2f}", inline=True)
        embed.add_field(name="Charge", value=charge or "not recorded", inline=True)
        if found.result_message_id:
            url = f"https://discord.com/channels/{found.guild_id}/{found.channel_id}/{found.result_message_id}"
            embed.add_field(name="Result", value=f"[Jump to the video]({url})", inline=True)
        if found.delivery_note:
            embed.add_field(name="Note", value=found.delivery_note[:1024], inline=False)
        await self._looked(interaction, target_id=found.user_id, job_id=found.id)
        await _answer(interaction, "", embed=embed)

    @jobs_group.command(name="cancel", description="Cancel any running job in this server")
    async def jobs_cancel(self, interaction: discord.Interaction, job: app_commands.Range[int, 1]) -> None:
        found = await self._job(interaction, job)
        assert self.bot.jobs is not None and self.bot.delivery is not None
        ended = await self.bot.jobs.cancel(found.id)  # JobRequestError explains a finished job
        await self.bot.delivery.on_ended(ended)
        entry = await self._audit(interaction, "jobs.cancel", target_id=ended.user_id, job_id=ended.id)
        note = f" {ended.delivery_note}" if ended.delivery_note else ""
        await self._changed(
            interaction, f"✖️ Job #{ended.id} by <@{ended.user_id}> is cancelled; nothing will be posted.{note}", entry
        )

    @jobs_group.command(name="delete", description="Delete a posted video (message and provider copy)")
    @app_commands.describe(job="The job number", charge="Refund the member's quota charge, or keep it")
    async def jobs_delete(
        self, interaction: discord.Interaction, job: app_commands.Range[int, 1], charge: Literal["release", "keep"]
    ) -> None:
        found = await self._job(interaction, job)
        if found.result_message_id is None:
            raise ModerationError(f"Job #{found.id} has no posted result to delete (status: {found.status.value}).")
        await interaction.response.defer(ephemeral=True, thinking=True)
        report = await delete_result(self.bot, found, release=charge == "release", actor_id=interaction.user.id)
        await self._changed(interaction, f"🗑️ Job #{found.id}: " + " ".join(report.lines), report.entry)

    async def _job(self, interaction: discord.Interaction, job_id: int) -> Job:
        found = await self.mod.jobs.guild_job(self._guild(interaction), job_id)
        if found is None:
            raise ModerationError(f"There is no job #{job_id} in this server. `/videomod jobs list` shows them.")
        return found

    @jobs_show.autocomplete("job")
    @jobs_cancel.autocomplete("job")
    @jobs_delete.autocomplete("job")
    async def _job_autocomplete(
        self, interaction: discord.Interaction, current: int | str
    ) -> list[app_commands.Choice[int]]:
        if interaction.guild_id is None or not interaction.permissions.manage_guild:
            return []  # autocomplete skips the cog check: never show prompts to non-moderators
        jobs = await self.mod.jobs.search_jobs(interaction.guild_id, str(current or ""))
        return [app_commands.Choice(name=embeds.job_choice_name(j), value=j.id) for j in jobs]

    # ================================================================== /videomod audit

    @app_commands.command(name="audit", description="Page through refusals and moderator actions")
    @app_commands.describe(
        member="Only entries about this member",
        lookups="Also show look-ups (who viewed what)",
        page="Page (newest first)",
    )
    async def audit(
        self,
        interaction: discord.Interaction,
        member: discord.User | None = None,
        lookups: bool = False,
        page: app_commands.Range[int, 1] = 1,
    ) -> None:
        guild_id = self._guild(interaction)
        member_id = member.id if member else None
        store = self.mod.audit

        async def render(number: int) -> tuple[discord.Embed, int]:
            total = await store.count_timeline(guild_id, member_id=member_id, include_views=lookups)
            pages = max(1, -(-total // PAGE_SIZE))
            number = min(max(1, number), pages)
            items = await store.timeline(
                guild_id, limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE, member_id=member_id,
                include_views=lookups,
            )  # fmt: skip
            embed = discord.Embed(title="🧾 Audit log", colour=embeds.COLOUR_MUTED)
            if member:
                embed.description = f"About {member.mention}\n\n"
            embed.description = (embed.description or "") + (
                "\n".join(_timeline_line(i) for i in items) or "Nothing recorded yet."
            )
            embed.set_footer(text=f"Page {number} of {pages} · {total} entr{'y' if total == 1 else 'ies'}")
            return embed, pages

        view = Pager(interaction.user.id, render, page)
        await self._looked(interaction, target_id=member_id, page=page, lookups=lookups)
        await _answer(interaction, "", embed=await view.first(), view=view)

    # ================================================================== /videomod usage

    @app_commands.command(name="usage", description="Chart of spend and video-seconds per day, with top members")
    @app_commands.describe(period="How far back")
    async def usage(
        self, interaction: discord.Interaction, period: Literal["week", "month", "quarter"] = "month"
    ) -> None:
        guild_id = self._guild(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        days = PERIOD_DAYS[period]
        now = time.time()
        since = now - days * DAY
        daily = await self.mod.jobs.daily_usage(guild_id, since)
        top = await self.mod.jobs.top_members(guild_id, since)
        names = [(await self._display_name(interaction, m.user_id), m) for m in top]
        chart = charts.UsageChart(
            title=f"Video usage — last {days} days",
            days=daily,
            first_day=dt.datetime.fromtimestamp(since, dt.UTC).date(),
            last_day=dt.datetime.fromtimestamp(now, dt.UTC).date(),
            top=names,
        )
        png = await charts.usage_chart(chart)
        embed = _usage_embed(days, daily, names)
        embed.set_image(url="attachment://usage.png")
        await self._looked(interaction, period=period)
        await interaction.followup.send(
            embed=embed, file=discord.File(io.BytesIO(png), filename="usage.png"), ephemeral=True
        )

    async def _display_name(self, interaction: discord.Interaction, user_id: int) -> str:
        guild = interaction.guild
        member = guild.get_member(user_id) if guild else None
        if member is not None:
            return member.display_name
        user = self.bot.get_user(user_id)
        if user is None:
            try:
                user = await self.bot.fetch_user(user_id)
            except discord.HTTPException:
                return f"user {user_id}"
        return user.display_name


# ---------------------------------------------------------------------------------------------- rendering


def _job_line(job: Job) -> str:
    return embeds.job_line(job).replace("\n", f" · <@{job.user_id}>\n", 1)


def _timeline_line(item: TimelineItem) -> str:
    when = f"<t:{int(item.created_at)}:f>"
    if item.kind == "refusal":
        prompt = embeds.preview(item.prompt or "", 80).replace("||", "|")
        line = f"{when} 🚫 <@{item.user_id}> refused ({item.source}: `{item.category}` · `{item.rule}`) ||{prompt}||"
    else:
        icon = "🛠️" if item.action and not _is_lookup(item) else "👁️"
        line = f"{when} {icon} {actor(item.user_id)} {action_words(item.action or '')}"
        if item.target_id is not None:
            line += f" · {target_mention(item.action or '', item.target_id)}"
        if item.details:
            line += f" — {details_text(item.details)}"
    return embeds.preview(line, 380)


def _is_lookup(item: TimelineItem) -> bool:
    return action_words(item.action or "").startswith("ran ")


def _guild_rule_id(rule: str | None) -> int | None:
    parts = (rule or "").split(":")
    if len(parts) >= 3 and parts[0] == "guild" and parts[2].isdigit():
        return int(parts[2])
    return None


def _usage_embed(days: int, daily: list[Any], top: list[tuple[str, Any]]) -> discord.Embed:
    videos = sum(d.jobs for d in daily)
    seconds = sum(d.seconds for d in daily)
    spend = sum(d.usd for d in daily)
    embed = discord.Embed(title=f"📈 Usage — last {days} days", colour=embeds.COLOUR_WORKING)
    embed.add_field(name="Videos delivered", value=str(videos), inline=True)
    embed.add_field(name="Video-seconds", value=f"{seconds:,}", inline=True)
    embed.add_field(name="Estimated cost", value=f"${spend:,.2f}", inline=True)
    embed.add_field(name="Average per day", value=f"${spend / days:,.2f}", inline=True)
    embed.add_field(name="At this rate, per 30 days", value=f"≈ ${spend / days * 30:,.2f}", inline=True)
    lines = [f"{i}. {name} — ${u.usd:,.2f} · {u.seconds} s · {u.jobs} video(s)" for i, (name, u) in enumerate(top, 1)]
    embed.add_field(name="Top members", value="\n".join(lines)[:1024] or "nobody yet", inline=False)
    embed.set_footer(text="Cost = the catalog's list price of delivered videos; the provider's bill is authoritative.")
    return embed


async def _answer(interaction: discord.Interaction, text: str, **kwargs: Any) -> None:
    """Private answer: the response, or (after a defer) the followup that replaces "thinking…"."""
    if interaction.response.is_done():
        await interaction.followup.send(text, ephemeral=True, **kwargs)
    else:
        await interaction.response.send_message(text, ephemeral=True, **kwargs)


async def setup(bot: ReelBot) -> None:
    await bot.add_cog(VideoModCog(bot))
