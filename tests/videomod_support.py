"""Shared helpers for the /videomod and moderation-log tests (a world with a #mod-log channel, private answers)."""

from __future__ import annotations

from typing import Any

from bot.modlog import ModerationServices, services_of
from tests.fakediscord import (
    EPHEMERAL,
    FakeChannel,
    FakeMember,
    FakeMessage,
    RecordedRequest,
    World,
    component_click,
    modal_submit,
    snowflake,
)
from tests.plugins.reelbot import ReelHarness

LOG_CHANNEL_ID = snowflake()


def world_with_log_channel() -> World:
    world = World.default()
    guild = world.guild
    guild.channels.append(FakeChannel(LOG_CHANNEL_ID, "mod-log", guild_id=guild.id, position=1))
    return world


def member(reelbot: ReelHarness, name: str) -> FakeMember:
    return reelbot.fake.world.guild.member(name)


def channel(reelbot: ReelHarness, name: str) -> FakeChannel:
    return reelbot.fake.world.guild.channel(name)


def services(reelbot: ReelHarness) -> ModerationServices:
    assert reelbot.bot is not None
    return services_of(reelbot.bot)


def guild_id(reelbot: ReelHarness) -> int:
    return reelbot.fake.world.guild.id


async def videomod(
    reelbot: ReelHarness,
    sub: str,
    options: dict[str, Any] | None = None,
    *,
    group: str | None = None,
    as_: str = "mod",
) -> int:
    """Run ``/videomod [group] sub`` as ``as_`` (``mod`` has Manage Server, ``alice`` has not)."""
    return await reelbot.slash("videomod", options or {}, subcommand=sub, group=group, member=member(reelbot, as_))


def _is_private_answer(r: RecordedRequest, interaction_id: int) -> bool:
    if r.interaction_id != interaction_id or r.method != "POST" or r.payload is None:
        return False
    if r.path.endswith("/callback"):
        return r.payload.get("type") == 4
    return r.path.startswith("/webhooks/")


async def answer(reelbot: ReelHarness, interaction_id: int) -> dict[str, Any]:
    """The private answer to an interaction (response or followup): content, embeds, components, flags."""
    record = await reelbot.fake.wait_for(lambda r: _is_private_answer(r, interaction_id), timeout=10)
    payload = record.payload
    data: dict[str, Any] = payload.get("data", payload) if record.path.endswith("/callback") else payload
    flags = data.get("flags") or 0
    deferred_privately = any(
        r.path.endswith("/callback") and r.payload.get("type") == 5 and (r.payload.get("data") or {}).get("flags", 0)
        for r in reelbot.fake.interaction_requests(interaction_id)
    )
    assert flags & EPHEMERAL or deferred_privately, f"answers must be private: {data}"
    data["_record"] = record
    return data


async def text(reelbot: ReelHarness, interaction_id: int) -> str:
    return str((await answer(reelbot, interaction_id)).get("content") or "")


def fields(embed: dict[str, Any]) -> dict[str, str]:
    return {f["name"]: f["value"] for f in embed.get("fields", [])}


def custom_ids(components: list[dict[str, Any]]) -> list[str]:
    return [c["custom_id"] for row in components for c in row.get("components", []) if "custom_id" in c]


async def log_posts(reelbot: ReelHarness, count: int) -> list[FakeMessage]:
    """Wait until #mod-log holds ``count`` public messages (private answers to clicks there don't count)."""

    def posts() -> list[FakeMessage]:
        return reelbot.fake.channel_messages(LOG_CHANNEL_ID, include_ephemeral=False)

    await reelbot.fake.wait_for(lambda _: len(posts()) >= count, timeout=10)
    return posts()


async def click(reelbot: ReelHarness, custom_id: str, *, as_: str = "mod", message: FakeMessage | None = None) -> int:
    """Press a button (on ``message``, or on a synthesized old bot message) as ``as_``."""
    payload = component_click(custom_id, message, world=reelbot.fake.world, member=member(reelbot, as_))
    return await reelbot.fake.send_interaction(payload)


async def modal(reelbot: ReelHarness, interaction_id: int) -> dict[str, Any]:
    """The modal the bot opened in answer to an interaction (callback type 9)."""
    record = await reelbot.fake.wait_for(
        lambda r: r.interaction_id == interaction_id and r.path.endswith("/callback"), timeout=10
    )
    assert record.payload["type"] == 9, f"expected a modal, got {record.payload}"
    data: dict[str, Any] = record.payload["data"]
    return data


async def submit(reelbot: ReelHarness, custom_id: str, values: dict[str, str], *, as_: str) -> int:
    payload = modal_submit(custom_id, values, world=reelbot.fake.world, member=member(reelbot, as_))
    return await reelbot.fake.send_interaction(payload)


async def post_refusal_like_video_create(reelbot: ReelHarness, refusal_id: int) -> None:
    """Post a refusal to the log as /video create does once the lead wires it (``bot.moderation``); until then,
    do it here."""
    if getattr(reelbot.bot, "moderation", None) is None:
        await services(reelbot).log.post_refusal(refusal_id)
