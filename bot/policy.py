"""The guild policy service: where, by whom and how members may generate, and generation bans.

Nothing here imports discord.py.  :meth:`PolicyService.check` answers one request with the sentence the
member should read, or None; it reads SQLite on every call, so a moderator's change applies to the very next
request.  The setters validate, write the change and its audit row in one transaction and return the
audit entry (the cog restates it and posts it to the moderation log).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Final, TypeVar

from bot.cache import AsyncCache
from bot.catalog import Catalog
from storage.audit import Action, AuditEntry
from storage.policy import ALLOW_KINDS, Ban, GuildPolicy, PolicyStore

T = TypeVar("T")

__all__ = ["FEATURES", "PolicyError", "PolicyService"]

FEATURES: Final = ("reference_images", "remix")
MAX_REASON_CHARS: Final = 300
MAX_RETENTION_DAYS: Final = 3650

_FEATURE_WORDS = {"reference_images": "Reference images are", "remix": "Remixing is"}


class PolicyError(ValueError):
    """A moderator's change that cannot be made; ``str(exc)`` says why."""


def _when(ts: float) -> str:
    return f"<t:{int(ts)}:f> (<t:{int(ts)}:R>)"


def _names(values: Iterable[str]) -> str:
    return ", ".join(f"`{v}`" for v in values)


def _mentions(ids: Iterable[int], prefix: str) -> str:
    return ", ".join(f"<{prefix}{i}>" for i in sorted(ids))


class PolicyService:
    def __init__(self, store: PolicyStore, *, catalog: Catalog | None = None, clock: Callable[[], float] = time.time):
        self.store = store
        self.catalog = catalog
        self.clock = clock
        # /video create checks the policy before answering Discord, so reads must not wait on SQLite: each
        # guild's policy and bans are cached here and dropped whenever this service writes them.
        self._policies: AsyncCache[int, GuildPolicy] = AsyncCache(store.get)
        self._bans: AsyncCache[int, dict[int, Ban]] = AsyncCache(self._load_bans)

    async def warm(self, guild_id: int) -> None:
        """Load a guild's policy and bans into the cache (at start-up, before the first command)."""
        await self._policies.get(guild_id)
        await self._bans.get(guild_id)

    async def _load_bans(self, guild_id: int) -> dict[int, Ban]:
        return {ban.user_id: ban for ban in await self.store.bans(guild_id, active_at=self.clock())}

    async def _write(self, write: Callable[..., Awaitable[T]], guild_id: int, *args: Any, **kwargs: Any) -> T:
        try:
            return await write(guild_id, *args, **kwargs)
        finally:
            self._policies.invalidate(guild_id)
            self._bans.invalidate(guild_id)

    # ------------------------------------------------------------------ the check

    async def policy(self, guild_id: int) -> GuildPolicy:
        return await self._policies.get(guild_id)

    async def check(
        self,
        guild_id: int,
        channel_id: int,
        user_id: int,
        role_ids: Iterable[int],
        model: str,
        size: str,
        seconds: int,
        has_image: bool,
        is_remix: bool = False,
        *,
        parent_channel_id: int | None = None,
    ) -> str | None:
        """None when the request may go ahead, else the one sentence that tells the member why not.

        Order: ban, pause, channel, role, model, size, length, reference image, remix — the first that
        applies is reported.  A thread counts as its parent channel (``parent_channel_id``).
        """
        ban = await self.active_ban(guild_id, user_id)
        if ban is not None:
            until = f" until {_when(ban.expires_at)}" if ban.expires_at is not None else ""
            return f"🚫 A moderator has stopped you from generating videos in this server{until}. Reason: {ban.reason}"
        policy = await self.policy(guild_id)
        return refusal(policy, channel_id, role_ids, model, size, seconds, has_image, is_remix, parent_channel_id)

    # ------------------------------------------------------------------ bans

    async def active_ban(self, guild_id: int, user_id: int) -> Ban | None:
        ban = (await self._bans.get(guild_id)).get(user_id)
        return ban if ban is not None and ban.active(self.clock()) else None

    async def bans(self, guild_id: int) -> list[Ban]:
        return await self.store.bans(guild_id, active_at=self.clock())

    async def ban(
        self, guild_id: int, user_id: int, *, reason: str, duration_seconds: float | None, actor_id: int
    ) -> AuditEntry:
        reason = _reason(reason) or "No reason given."
        if duration_seconds is not None and duration_seconds <= 0:
            raise PolicyError("A ban's duration must be positive.")
        expires_at = None if duration_seconds is None else self.clock() + duration_seconds
        details = {"reason": reason, "expires_at": expires_at}
        action = Action(actor_id, "member.ban", target_id=user_id, details=details)
        return await self._write(self.store.set_ban, guild_id, user_id, reason, expires_at, action)

    async def unban(self, guild_id: int, user_id: int, *, actor_id: int) -> AuditEntry:
        entry = await self._write(
            self.store.lift_ban, guild_id, user_id, Action(actor_id, "member.unban", target_id=user_id)
        )
        if entry is None:
            raise PolicyError(f"<@{user_id}> is not banned from generating videos here.")
        return entry

    # ------------------------------------------------------------------ allow-lists

    async def allow(self, guild_id: int, kind: str, value: str, *, actor_id: int) -> AuditEntry:
        """Add to the channel / role / model / size allow-list (the first entry turns the restriction on)."""
        value = self._valid_value(kind, value)
        action = Action(actor_id, f"policy.{kind}.allow", target_id=_target(kind, value), details={kind: value})
        entry = await self._write(self.store.allow, guild_id, kind, value, action)
        if entry is None:
            raise PolicyError(f"{_shown(kind, value)} is already on the list.")
        return entry

    async def disallow(self, guild_id: int, kind: str, value: str, *, actor_id: int) -> AuditEntry:
        _check_kind(kind)
        action = Action(actor_id, f"policy.{kind}.remove", target_id=_target(kind, value), details={kind: value})
        entry = await self._write(self.store.disallow, guild_id, kind, value, action)
        if entry is None:
            raise PolicyError(f"{_shown(kind, value)} is not on the list.")
        return entry

    async def clear(self, guild_id: int, kind: str, *, actor_id: int) -> AuditEntry:
        _check_kind(kind)
        entry = await self._write(self.store.disallow, guild_id, kind, None, Action(actor_id, f"policy.{kind}.clear"))
        if entry is None:
            raise PolicyError(f"There is no {kind} restriction to clear.")
        return entry

    def _valid_value(self, kind: str, value: str) -> str:
        _check_kind(kind)
        value = value.strip()
        catalog = self.catalog
        if kind == "model" and catalog is not None and catalog.get(value) is None:
            raise PolicyError(f"`{value}` is not in the catalog. Models: {_names(m.id for m in catalog.models)}.")
        if kind == "size" and catalog is not None:
            sizes = sorted({s for m in catalog.models for s in m.sizes})
            if value not in sizes:
                raise PolicyError(f"No model renders `{value}`. Sizes: {_names(sizes)}.")
        if kind in ("channel", "role") and not value.isdigit():
            raise PolicyError(f"A {kind} is given by its id, not {value!r}.")
        return value

    # ------------------------------------------------------------------ settings

    async def set_max_seconds(self, guild_id: int, seconds: int | None, *, actor_id: int) -> AuditEntry:
        if seconds is not None and seconds <= 0:
            raise PolicyError("The longest duration must be at least one second.")
        action = Action(actor_id, "policy.max_seconds", details={"max_seconds": seconds})
        return await self._write(self.store.update_settings, guild_id, action, max_seconds=seconds)

    async def set_feature(self, guild_id: int, feature: str, enabled: bool, *, actor_id: int) -> AuditEntry:
        if feature not in FEATURES:
            raise PolicyError(f"Unknown feature {feature!r}.")
        action = Action(actor_id, f"policy.{feature}", details={"enabled": enabled})
        return await self._write(self.store.update_settings, guild_id, action, **{feature: int(enabled)})

    async def pause(self, guild_id: int, reason: str, *, actor_id: int) -> AuditEntry:
        reason = _reason(reason) or "Paused by the moderators."
        action = Action(actor_id, "policy.pause", details={"reason": reason})
        return await self._write(self.store.update_settings, guild_id, action, paused=1, pause_reason=reason)

    async def resume(self, guild_id: int, *, actor_id: int) -> AuditEntry:
        if not (await self.store.get(guild_id)).paused:
            raise PolicyError("Generation is not paused.")
        action = Action(actor_id, "policy.resume")
        return await self._write(self.store.update_settings, guild_id, action, paused=0, pause_reason=None)

    async def set_log_channel(self, guild_id: int, channel_id: int | None, *, actor_id: int) -> AuditEntry:
        action = Action(actor_id, "log_channel", target_id=channel_id, details={"channel_id": channel_id})
        return await self._write(self.store.update_settings, guild_id, action, log_channel_id=channel_id)

    async def set_retention(self, guild_id: int, days: int | None, *, actor_id: int) -> AuditEntry:
        if days is not None and not 1 <= days <= MAX_RETENTION_DAYS:
            raise PolicyError(f"Retention is 1 to {MAX_RETENTION_DAYS} days (or off).")
        action = Action(actor_id, "policy.retention", details={"days": days})
        return await self._write(self.store.update_settings, guild_id, action, retention_days=days)


# ---------------------------------------------------------------------------------------------- pure parts


def refusal(
    policy: GuildPolicy,
    channel_id: int,
    role_ids: Iterable[int],
    model: str,
    size: str,
    seconds: int,
    has_image: bool,
    is_remix: bool = False,
    parent_channel_id: int | None = None,
) -> str | None:
    """The member-facing refusal for a request under ``policy`` (bans aside), or None."""
    if policy.paused:
        reason = f" Reason: {policy.pause_reason}" if policy.pause_reason else ""
        return f"⏸️ Video generation is paused in this server.{reason}"
    if policy.channels and channel_id not in policy.channels and parent_channel_id not in policy.channels:
        return f"🚫 Videos can't be generated in this channel. Use {_mentions(policy.channels, '#')}."
    if policy.roles and not policy.roles.intersection(role_ids):
        return f"🚫 Generating videos here needs one of these roles: {_mentions(policy.roles, '@&')}."
    if policy.models and model not in policy.models:
        return f"🚫 This server allows only these models: {_names(policy.models)}."
    if policy.sizes and size not in policy.sizes:
        return f"🚫 This server allows only these sizes: {_names(policy.sizes)}."
    if policy.max_seconds is not None and seconds > policy.max_seconds:
        return f"🚫 This server allows videos up to {policy.max_seconds} seconds; you asked for {seconds}."
    if has_image and not policy.reference_images:
        return "🚫 Reference images are turned off in this server. Try again without the image."
    if is_remix and not policy.remix:
        return "🚫 Remixing is turned off in this server."
    return None


def describe(policy: GuildPolicy) -> list[tuple[str, str]]:
    """(label, value) lines for ``/videomod policy show``."""
    return [
        ("Generation", f"⏸️ paused — {policy.pause_reason}" if policy.paused else "▶️ running"),
        ("Channels", _mentions(policy.channels, "#") if policy.channels else "any channel"),
        ("Roles", _mentions(policy.roles, "@&") if policy.roles else "everyone"),
        ("Models", _names(policy.models) if policy.models else "every model in the catalog"),
        ("Sizes", _names(policy.sizes) if policy.sizes else "every size the model offers"),
        ("Longest video", f"{policy.max_seconds} s" if policy.max_seconds else "what the model offers"),
        ("Reference images", "on" if policy.reference_images else "off"),
        ("Remix", "on" if policy.remix else "off"),
        ("Moderation log", f"<#{policy.log_channel_id}>" if policy.log_channel_id else "off"),
        ("Retention", f"{policy.retention_days} days" if policy.retention_days else "kept until deleted"),
    ]


def feature_word(feature: str) -> str:
    """The sentence start for a feature switch: "Reference images are", "Remixing is"."""
    return _FEATURE_WORDS.get(feature, feature)


def _check_kind(kind: str) -> None:
    if kind not in ALLOW_KINDS:
        raise PolicyError(f"Unknown list {kind!r}; one of {', '.join(ALLOW_KINDS)}.")


def _target(kind: str, value: str) -> int | None:
    return int(value) if kind in ("channel", "role") and value.isdigit() else None


def _shown(kind: str, value: str) -> str:
    if kind == "channel":
        return f"<#{value}>"
    if kind == "role":
        return f"<@&{value}>"
    return f"`{value}`"


def _reason(reason: str | None) -> str:
    text = " ".join((reason or "").split())
    return text if len(text) <= MAX_REASON_CHARS else text[: MAX_REASON_CHARS - 1] + "…"
