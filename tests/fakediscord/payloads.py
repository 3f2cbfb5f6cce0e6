"""World model (guilds, channels, roles, members, messages) and gateway payload builders for the fake Discord.

Everything here is plain data: ``to_dict()`` renders the Discord API shape discord.py 2.7 parses.  The builders
(``slash_command``, ``component_click``, ``modal_submit``, ``autocomplete``) return INTERACTION_CREATE payloads;
pass ``world=fake.world`` when the test changed the fake's world, otherwise they use ``World.default()``, which has
the same (fixed) ids as the fake's default world.
"""

from __future__ import annotations

import itertools
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import discord

DISCORD_EPOCH_MS = 1_420_070_400_000
MIB = 1024 * 1024
DEFAULT_UPLOAD_LIMIT = 10 * MIB
PREMIUM_UPLOAD_LIMITS = {0: 10 * MIB, 1: 10 * MIB, 2: 50 * MIB, 3: 100 * MIB}
TOKEN_LIFETIME = 15 * 60.0  # seconds an interaction token stays valid
CALLBACK_WINDOW = 3.0  # seconds Discord waits for the initial response

EPHEMERAL = 1 << 6
LOADING = 1 << 7

ALL_PERMISSIONS = discord.Permissions.all().value
EVERYONE_PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    read_message_history=True,
    embed_links=True,
    attach_files=True,
    add_reactions=True,
    use_application_commands=True,
).value
BOT_PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    send_messages_in_threads=True,
    embed_links=True,
    attach_files=True,
    read_message_history=True,
).value
MODERATOR_PERMISSIONS = discord.Permissions(manage_guild=True, manage_messages=True).value

_increment = itertools.count()
_FIXED_BASE_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z, creation time of the default world


def snowflake(at: float | None = None) -> int:
    """A unique snowflake whose timestamp is ``at`` (epoch seconds, default now)."""
    ms = int((time.time() if at is None else at) * 1000)
    return ((ms - DISCORD_EPOCH_MS) << 22) | (next(_increment) % 4096)


def snowflake_time(value: int) -> float:
    """Epoch seconds encoded in a snowflake."""
    return ((int(value) >> 22) + DISCORD_EPOCH_MS) / 1000


def _fixed_id(n: int) -> int:
    return (_FIXED_BASE_MS + n * 1000 - DISCORD_EPOCH_MS) << 22


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


def new_token() -> str:
    return "fake-" + secrets.token_urlsafe(48)


# ---------------------------------------------------------------------------------------------------------- world


@dataclass
class FakeUser:
    id: int
    username: str
    bot: bool = False
    global_name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "username": self.username,
            "discriminator": "0",
            "global_name": self.global_name,
            "avatar": None,
            "bot": self.bot,
            "public_flags": 0,
        }


@dataclass
class FakeRole:
    id: int
    name: str
    permissions: int = 0
    position: int = 0
    managed: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "name": self.name,
            "permissions": str(self.permissions),
            "position": self.position,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "managed": self.managed,
            "mentionable": False,
            "flags": 0,
            "icon": None,
            "unicode_emoji": None,
        }


@dataclass
class FakeChannel:
    """A guild text channel (type 0) or a DM channel (type 1, ``recipients``)."""

    id: int
    name: str = ""
    type: int = 0
    guild_id: int | None = None
    position: int = 0
    topic: str | None = None
    nsfw: bool = False
    recipients: list[FakeUser] = field(default_factory=list)

    @property
    def is_dm(self) -> bool:
        return self.type == 1

    def to_dict(self) -> dict[str, Any]:
        if self.is_dm:
            return {
                "id": str(self.id),
                "type": 1,
                "recipients": [u.to_dict() for u in self.recipients],
                "last_message_id": None,
            }
        data: dict[str, Any] = {
            "id": str(self.id),
            "type": self.type,
            "name": self.name,
            "position": self.position,
            "topic": self.topic,
            "nsfw": self.nsfw,
            "parent_id": None,
            "permission_overwrites": [],
            "rate_limit_per_user": 0,
            "last_message_id": None,
        }
        if self.guild_id is not None:
            data["guild_id"] = str(self.guild_id)
        return data


@dataclass
class FakeMember:
    user: FakeUser
    roles: list[int] = field(default_factory=list)  # role ids, without @everyone
    nick: str | None = None
    joined_at: float = _FIXED_BASE_MS / 1000

    @property
    def id(self) -> int:
        return self.user.id

    def to_dict(self, *, permissions: int | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {
            "user": self.user.to_dict(),
            "roles": [str(r) for r in self.roles],
            "nick": self.nick,
            "avatar": None,
            "joined_at": iso(self.joined_at),
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": None,
        }
        if permissions is not None:
            data["permissions"] = str(permissions)
        return data


@dataclass
class FakeGuild:
    id: int
    name: str
    owner_id: int
    premium_tier: int = 0
    preferred_locale: str = "en-US"
    max_upload_bytes: int | None = None  # explicit per-guild override of the premium-tier limit
    channels: list[FakeChannel] = field(default_factory=list)
    roles: list[FakeRole] = field(default_factory=list)  # include @everyone (id == guild id)
    members: list[FakeMember] = field(default_factory=list)

    @property
    def upload_limit(self) -> int:
        if self.max_upload_bytes is not None:
            return self.max_upload_bytes
        return PREMIUM_UPLOAD_LIMITS.get(self.premium_tier, DEFAULT_UPLOAD_LIMIT)

    def channel(self, name_or_id: str | int) -> FakeChannel:
        return _pick(self.channels, name_or_id, lambda c: c.name)

    def role(self, name_or_id: str | int) -> FakeRole:
        return _pick(self.roles, name_or_id, lambda r: r.name)

    def member(self, name_or_id: str | int) -> FakeMember:
        return _pick(self.members, name_or_id, lambda m: m.user.username)

    def get_member(self, user_id: int) -> FakeMember | None:
        return next((m for m in self.members if m.id == user_id), None)

    def permissions_for(self, member: FakeMember) -> int:
        """Guild-level permissions (no channel overwrites): owner/administrator get everything."""
        if member.id == self.owner_id:
            return ALL_PERMISSIONS
        value = 0
        for role in self.roles:
            if role.id == self.id or role.id in member.roles:
                value |= role.permissions
        if value & discord.Permissions.administrator.flag:
            return ALL_PERMISSIONS
        return value

    def to_dict(self) -> dict[str, Any]:
        """The GUILD_CREATE payload."""
        return {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "owner_id": str(self.owner_id),
            "premium_tier": self.premium_tier,
            "premium_subscription_count": 0,
            "preferred_locale": self.preferred_locale,
            "features": [],
            "roles": [r.to_dict() for r in self.roles],
            "emojis": [],
            "stickers": [],
            "channels": [c.to_dict() for c in self.channels],
            "members": [m.to_dict() for m in self.members],
            "member_count": len(self.members),
            "large": False,
            "unavailable": False,
            "joined_at": iso(_FIXED_BASE_MS / 1000),
            "threads": [],
            "voice_states": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "system_channel_id": None,
        }


@dataclass
class FakeApplication:
    id: int
    name: str
    bot: FakeUser
    owner: FakeUser
    flags: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "name": self.name,
            "description": "",
            "icon": None,
            "bot_public": True,
            "bot_require_code_grant": False,
            "owner": self.owner.to_dict(),
            "verify_key": "0" * 64,
            "flags": self.flags,
            "bot": self.bot.to_dict(),
            "team": None,
            "tags": [],
            "redirect_uris": [],
        }


@dataclass
class World:
    application: FakeApplication
    guilds: list[FakeGuild]
    dm_channels: dict[int, FakeChannel] = field(default_factory=dict)  # recipient user id -> DM channel
    extra_users: list[FakeUser] = field(default_factory=list)  # users known to the API but in no guild

    @classmethod
    def default(cls) -> World:
        """App + bot user, guild "Test Guild" with #general, members alice (regular), mod (Manage Server),
        the bot (managed role with send/embed/attach) and owner.  Ids are fixed, so two default worlds agree."""
        bot_user = FakeUser(_fixed_id(1), "reelbot", bot=True)
        owner = FakeUser(_fixed_id(2), "owner")
        alice = FakeUser(_fixed_id(3), "alice")
        mod = FakeUser(_fixed_id(4), "mod")
        guild_id = _fixed_id(10)
        mod_role = FakeRole(_fixed_id(12), "Moderator", MODERATOR_PERMISSIONS, position=2)
        bot_role = FakeRole(_fixed_id(13), "ReelBot", BOT_PERMISSIONS, position=1, managed=True)
        guild = FakeGuild(
            id=guild_id,
            name="Test Guild",
            owner_id=owner.id,
            channels=[FakeChannel(_fixed_id(11), "general", guild_id=guild_id)],
            roles=[FakeRole(guild_id, "@everyone", EVERYONE_PERMISSIONS), mod_role, bot_role],
            members=[
                FakeMember(alice),
                FakeMember(mod, roles=[mod_role.id]),
                FakeMember(bot_user, roles=[bot_role.id]),
                FakeMember(owner),
            ],
        )
        app = FakeApplication(_fixed_id(0), "ReelBot", bot=bot_user, owner=owner)
        return cls(application=app, guilds=[guild])

    @property
    def bot_user(self) -> FakeUser:
        return self.application.bot

    @property
    def guild(self) -> FakeGuild:
        """The first guild."""
        return self.guilds[0]

    def find_guild(self, guild_id: int) -> FakeGuild | None:
        return next((g for g in self.guilds if g.id == guild_id), None)

    def find_channel(self, channel_id: int) -> FakeChannel | None:
        for guild in self.guilds:
            for channel in guild.channels:
                if channel.id == channel_id:
                    return channel
        return next((c for c in self.dm_channels.values() if c.id == channel_id), None)

    def find_user(self, user_id: int) -> FakeUser | None:
        users = [self.bot_user, self.application.owner, *self.extra_users]
        users += [m.user for g in self.guilds for m in g.members]
        return next((u for u in users if u.id == user_id), None)

    def dm_channel(self, user: FakeUser) -> FakeChannel:
        """The bot's DM channel with ``user`` (created on first use, like POST /users/@me/channels)."""
        if user.id not in self.dm_channels:
            self.dm_channels[user.id] = FakeChannel(snowflake(), type=1, recipients=[user])
        return self.dm_channels[user.id]


def _pick(items: Sequence[Any], name_or_id: str | int, name_of: Any) -> Any:
    for item in items:
        if item.id == name_or_id or name_of(item) == name_or_id:
            return item
    raise KeyError(name_or_id)


# ------------------------------------------------------------------------------------------------------- messages


@dataclass
class FakeAttachment:
    """An attachment: uploaded by the bot (bytes kept in ``data``) or registered for the bot to download."""

    id: int
    filename: str
    size: int
    url: str
    content_type: str | None = None
    description: str | None = None
    data: bytes = field(default=b"", repr=False)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "filename": self.filename,
            "size": self.size,
            "url": self.url,
            "proxy_url": self.url,
            "content_type": self.content_type,
        }
        if self.description is not None:
            data["description"] = self.description
        return data


def attachment(
    filename: str,
    *,
    size: int | None = None,
    data: bytes = b"",
    content_type: str | None = None,
    url: str | None = None,
) -> FakeAttachment:
    """An attachment for an option value that the fake does NOT serve (use ``fake.add_attachment`` for that)."""
    att_id = snowflake()
    return FakeAttachment(
        id=att_id,
        filename=filename,
        size=len(data) if size is None else size,
        url=url or f"https://cdn.discordapp.com/ephemeral-attachments/{att_id}/{filename}",
        content_type=content_type,
        data=data,
    )


@dataclass
class FakeMessage:
    """A message stored by the fake (channel posts, interaction responses, followups)."""

    id: int
    channel_id: int
    author: FakeUser
    guild_id: int | None = None
    content: str = ""
    embeds: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[FakeAttachment] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    flags: int = 0
    nonce: str | int | None = None
    type: int = 0
    webhook_id: int | None = None
    interaction_id: int | None = None
    interaction_metadata: dict[str, Any] | None = None
    edited_at: float | None = None

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & EPHEMERAL)

    @property
    def loading(self) -> bool:
        """True while this is a deferred "is thinking…" message that has not been edited yet."""
        return bool(self.flags & LOADING)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "channel_id": str(self.channel_id),
            "type": self.type,
            "author": self.author.to_dict(),
            "content": self.content,
            "timestamp": iso(snowflake_time(self.id)),
            "edited_timestamp": iso(self.edited_at) if self.edited_at else None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [a.to_dict() for a in self.attachments],
            "embeds": self.embeds,
            "components": self.components,
            "pinned": False,
            "flags": self.flags,
        }
        if self.nonce is not None:
            data["nonce"] = self.nonce
        if self.webhook_id is not None:
            data["webhook_id"] = str(self.webhook_id)
            data["application_id"] = str(self.webhook_id)
        if self.interaction_metadata is not None:
            data["interaction_metadata"] = self.interaction_metadata
        return data


# ------------------------------------------------------------------------------------------------ interactions


def _option(name: str, value: Any, resolved: dict[str, dict[str, Any]], guild: FakeGuild | None) -> dict[str, Any]:
    """One leaf option; object values also fill ``resolved`` (users, members, roles, channels, attachments)."""
    if isinstance(value, dict) and "type" in value:
        return {"name": name, **value}
    if isinstance(value, bool):
        return {"name": name, "type": 5, "value": value}
    if isinstance(value, int):
        return {"name": name, "type": 4, "value": value}
    if isinstance(value, float):
        return {"name": name, "type": 10, "value": value}
    if isinstance(value, str):
        return {"name": name, "type": 3, "value": value}
    if isinstance(value, FakeAttachment):
        resolved.setdefault("attachments", {})[str(value.id)] = value.to_dict()
        return {"name": name, "type": 11, "value": str(value.id)}
    if isinstance(value, FakeMember):
        resolved.setdefault("users", {})[str(value.id)] = value.user.to_dict()
        member = value.to_dict(permissions=guild.permissions_for(value) if guild else None)
        del member["user"]
        resolved.setdefault("members", {})[str(value.id)] = member
        return {"name": name, "type": 6, "value": str(value.id)}
    if isinstance(value, FakeUser):
        resolved.setdefault("users", {})[str(value.id)] = value.to_dict()
        return {"name": name, "type": 6, "value": str(value.id)}
    if isinstance(value, FakeRole):
        resolved.setdefault("roles", {})[str(value.id)] = value.to_dict()
        return {"name": name, "type": 8, "value": str(value.id)}
    if isinstance(value, FakeChannel):
        resolved.setdefault("channels", {})[str(value.id)] = {**value.to_dict(), "permissions": str(ALL_PERMISSIONS)}
        return {"name": name, "type": 7, "value": str(value.id)}
    raise TypeError(f"unsupported option value for {name!r}: {value!r}")


def _nest(leaf: list[dict[str, Any]], subcommand: str | None, group: str | None) -> list[dict[str, Any]]:
    if subcommand is None:
        if group is not None:
            raise ValueError("a subcommand group needs a subcommand")
        return leaf
    options = [{"name": subcommand, "type": 1, "options": leaf}]
    if group is not None:
        options = [{"name": group, "type": 2, "options": options}]
    return options


def _interaction(
    itype: int,
    data: dict[str, Any],
    *,
    world: World | None,
    guild: FakeGuild | None,
    channel: FakeChannel | None,
    member: FakeMember | None,
    permissions: int | None,
    app_permissions: int | None,
    locale: str,
    attachment_size_limit: int | None,
    age: float,
    message: dict[str, Any] | None = None,
) -> dict[str, Any]:
    world = world or World.default()
    if channel is None:
        guild = guild or world.guild
        channel = guild.channels[0]
    elif channel.is_dm:
        guild = None
    elif guild is None:
        guild = next(g for g in world.guilds if channel in g.channels)

    payload: dict[str, Any] = {
        "id": str(snowflake(time.time() - age)),
        "application_id": str(world.application.id),
        "type": itype,
        "data": data,
        "token": new_token(),
        "version": 1,
        "locale": locale,
        "entitlements": [],
        "channel": channel.to_dict(),
        "channel_id": str(channel.id),
    }
    if message is not None:
        payload["message"] = message
    if guild is not None:
        invoker = member or next(m for m in guild.members if not m.user.bot)
        bot_member = guild.get_member(world.bot_user.id)
        bot_perms = guild.permissions_for(bot_member) if bot_member else 0
        payload |= {
            "guild_id": str(guild.id),
            "guild": {"id": str(guild.id), "locale": guild.preferred_locale, "features": []},
            "guild_locale": guild.preferred_locale,
            "member": invoker.to_dict(
                permissions=guild.permissions_for(invoker) if permissions is None else permissions
            ),
            "app_permissions": str(bot_perms if app_permissions is None else app_permissions),
            "authorizing_integration_owners": {"0": str(guild.id)},
            "context": 0,
            "attachment_size_limit": attachment_size_limit or guild.upload_limit,
        }
    else:
        user = member.user if member else channel.recipients[0]
        payload |= {
            "user": user.to_dict(),
            "app_permissions": str(BOT_PERMISSIONS if app_permissions is None else app_permissions),
            "authorizing_integration_owners": {"0": "0"},
            "context": 1,
            "attachment_size_limit": attachment_size_limit or DEFAULT_UPLOAD_LIMIT,
        }
    return payload


def slash_command(
    name: str,
    options: Mapping[str, Any] | None = None,
    *,
    subcommand: str | None = None,
    group: str | None = None,
    attachments: Mapping[str, FakeAttachment] | None = None,
    world: World | None = None,
    guild: FakeGuild | None = None,
    channel: FakeChannel | None = None,
    member: FakeMember | None = None,
    permissions: int | None = None,
    app_permissions: int | None = None,
    attachment_size_limit: int | None = None,
    locale: str = "en-US",
    command_id: int | None = None,
    guild_command: bool = False,
    age: float = 0.0,
) -> dict[str, Any]:
    """An APPLICATION_COMMAND (type 2) interaction for ``/[group] name [subcommand] options``.

    ``options`` maps option names to values: ``str``/``int``/``float``/``bool`` are typed as such, FakeMember/
    FakeUser/FakeRole/FakeChannel/FakeAttachment become resolved objects, a dict with ``type`` passes through.
    ``attachments`` is merged into ``options``. Defaults: first guild, its first channel, the first non-bot member,
    that member's role permissions, the bot member's permissions as ``app_permissions``,
    ``attachment_size_limit`` = the guild's upload limit (10 MiB by default). ``age`` (seconds) back-dates the
    interaction id: ``age > TOKEN_LIFETIME`` makes the fake answer its token routes with 401/50027.
    ``guild_command=True`` sets ``data.guild_id`` (needed for commands registered only to that guild).
    """
    resolved: dict[str, dict[str, Any]] = {}
    world = world or World.default()
    target_guild = _target_guild(world, guild, channel)
    merged = {**(options or {}), **(attachments or {})}
    leaf = [_option(k, v, resolved, target_guild) for k, v in merged.items()]
    data: dict[str, Any] = {
        "id": str(command_id or snowflake()),
        "name": name,
        "type": 1,
        "options": _nest(leaf, subcommand, group),
    }
    if resolved:
        data["resolved"] = resolved
    if guild_command and target_guild is not None:
        data["guild_id"] = str(target_guild.id)
    return _interaction(
        2,
        data,
        world=world,
        guild=guild,
        channel=channel,
        member=member,
        permissions=permissions,
        app_permissions=app_permissions,
        locale=locale,
        attachment_size_limit=attachment_size_limit,
        age=age,
    )


def autocomplete(
    name: str,
    options: Mapping[str, Any],
    *,
    focused: str,
    subcommand: str | None = None,
    group: str | None = None,
    world: World | None = None,
    guild: FakeGuild | None = None,
    channel: FakeChannel | None = None,
    member: FakeMember | None = None,
    locale: str = "en-US",
    guild_command: bool = False,
) -> dict[str, Any]:
    """An APPLICATION_COMMAND_AUTOCOMPLETE (type 4) interaction; ``focused`` names the option being typed
    (sent as a string with ``focused: true``, as Discord does for partial input)."""
    resolved: dict[str, dict[str, Any]] = {}
    world = world or World.default()
    target_guild = _target_guild(world, guild, channel)
    leaf = []
    for key, value in options.items():
        if key == focused:
            leaf.append({"name": key, "type": 3, "value": str(value), "focused": True})
        else:
            leaf.append(_option(key, value, resolved, target_guild))
    if focused not in options:
        raise ValueError(f"focused option {focused!r} is not in options")
    data: dict[str, Any] = {"id": str(snowflake()), "name": name, "type": 1, "options": _nest(leaf, subcommand, group)}
    if guild_command and target_guild is not None:
        data["guild_id"] = str(target_guild.id)
    return _interaction(
        4,
        data,
        world=world,
        guild=guild,
        channel=channel,
        member=member,
        permissions=None,
        app_permissions=None,
        locale=locale,
        attachment_size_limit=None,
        age=0.0,
    )


def component_click(
    custom_id: str,
    message: FakeMessage | Mapping[str, Any] | None = None,
    *,
    component_type: int = 2,
    values: Sequence[str] | None = None,
    world: World | None = None,
    guild: FakeGuild | None = None,
    channel: FakeChannel | None = None,
    member: FakeMember | None = None,
    locale: str = "en-US",
    age: float = 0.0,
) -> dict[str, Any]:
    """A MESSAGE_COMPONENT (type 3) interaction: a button click (``component_type=2``) or a select
    (``component_type=3`` etc. with ``values``) on ``message`` — a stored ``FakeMessage`` (e.g. from
    ``fake.channel_messages``), a raw message dict, or ``None`` for a synthesized bot message carrying the
    component (what a message from an earlier bot run looks like; the fake adopts it on type 6/7 callbacks)."""
    world = world or World.default()
    if channel is None and isinstance(message, FakeMessage):
        channel = world.find_channel(message.channel_id)
    target_channel = channel or (guild or world.guild).channels[0]
    if message is None:
        message = _synth_message(world, target_channel, custom_id, component_type, values)
    elif isinstance(message, FakeMessage):
        message = message.to_dict()
    data: dict[str, Any] = {"custom_id": custom_id, "component_type": component_type}
    if values is not None:
        data["values"] = list(values)
    return _interaction(
        3,
        data,
        world=world,
        guild=guild,
        channel=target_channel,
        member=member,
        permissions=None,
        app_permissions=None,
        locale=locale,
        attachment_size_limit=None,
        age=age,
        message=dict(message),
    )


def modal_submit(
    custom_id: str,
    components: Mapping[str, str] | Sequence[dict[str, Any]],
    *,
    message: FakeMessage | Mapping[str, Any] | None = None,
    world: World | None = None,
    guild: FakeGuild | None = None,
    channel: FakeChannel | None = None,
    member: FakeMember | None = None,
    locale: str = "en-US",
) -> dict[str, Any]:
    """A MODAL_SUBMIT (type 5) interaction.  ``components`` maps text-input custom ids to values (rendered as
    action rows with one text input each) or is a raw component list (e.g. type 18 labels).  discord.py routes
    it to the modal the SAME user opened, so use the same ``member`` as for the command that sent the modal."""
    if isinstance(components, Mapping):
        rows = [{"type": 1, "components": [{"type": 4, "custom_id": k, "value": v}]} for k, v in components.items()]
    else:
        rows = list(components)
    msg = message.to_dict() if isinstance(message, FakeMessage) else (dict(message) if message else None)
    return _interaction(
        5,
        {"custom_id": custom_id, "components": rows},
        world=world,
        guild=guild,
        channel=channel,
        member=member,
        permissions=None,
        app_permissions=None,
        locale=locale,
        attachment_size_limit=None,
        age=0.0,
        message=msg,
    )


def _target_guild(world: World, guild: FakeGuild | None, channel: FakeChannel | None) -> FakeGuild | None:
    if channel is not None and channel.is_dm:
        return None
    if guild is not None:
        return guild
    if channel is not None:
        return next((g for g in world.guilds if channel in g.channels), world.guild)
    return world.guild


def _synth_message(
    world: World, channel: FakeChannel, custom_id: str, component_type: int, values: Sequence[str] | None
) -> dict[str, Any]:
    component: dict[str, Any] = {"type": component_type, "custom_id": custom_id}
    if component_type == 2:
        component |= {"style": 1, "label": custom_id}
    elif component_type == 3:
        component["options"] = [{"label": v, "value": v} for v in values or []]
    message = FakeMessage(
        id=snowflake(time.time() - 60),
        channel_id=channel.id,
        guild_id=channel.guild_id,
        author=world.bot_user,
        components=[{"type": 1, "components": [component]}],
    )
    return message.to_dict()
