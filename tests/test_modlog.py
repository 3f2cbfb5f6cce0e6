"""The moderation log's persistent buttons (ban, delete result, appeal, approve/deny) against the fake Discord.

Each button is pressed on a message posted by an earlier run of the bot: the bot is restarted in between, so
the test proves the ``DynamicItem`` registration, not an in-memory view.
"""

from __future__ import annotations

import pytest

from bot.modlog import NOT_A_MODERATOR, appeal_offer, forget_me_prompt
from storage import JobStatus
from tests.fakediscord import World
from tests.plugins.reelbot import ReelHarness
from tests.videomod_support import (
    LOG_CHANNEL_ID,
    answer,
    channel,
    click,
    custom_ids,
    fields,
    guild_id,
    log_posts,
    member,
    modal,
    post_refusal_like_video_create,
    services,
    submit,
    text,
    videomod,
    world_with_log_channel,
)

RULE_PROMPT = "a pineapple pizza orbiting the moon"


@pytest.fixture
def fake_discord_world() -> World:
    return world_with_log_channel()


async def set_log_channel(reelbot: ReelHarness) -> None:
    iid = await videomod(reelbot, "log-channel", {"channel": channel(reelbot, "mod-log")})
    await text(reelbot, iid)


async def audit_actions(reelbot: ReelHarness) -> list[str]:
    return [e.action for e in reversed(await services(reelbot).audit.entries(guild_id(reelbot), limit=100))]


async def local_refusal(reelbot: ReelHarness, prompt: str = RULE_PROMPT) -> int:
    """alice's prompt refused by a guild rule, remembered as /video create does it (refusal id)."""
    bot = reelbot.bot
    assert bot is not None
    gid = guild_id(reelbot)
    if not await bot.rule_store.list_rules(gid):
        await bot.guard.add_rule(gid, "term", "pineapple pizza", added_by=member(reelbot, "mod").id)
    iid = await reelbot.slash(
        "video", {"prompt": prompt, "seconds": 4}, subcommand="create", member=member(reelbot, "alice")
    )
    assert "moderators don't allow" in await text(reelbot, iid)
    refusal = (await bot.rule_store.recent_refusals(gid, limit=1))[0]
    general = channel(reelbot, "general")
    await services(reelbot).appeals.remember_request(
        refusal.id, channel_id=general.id, model="sora-2", size="1280x720", seconds=4
    )
    return refusal.id


async def appeal(reelbot: ReelHarness, refusal_id: int, explanation: str) -> list[str]:
    """alice presses Appeal, fills the form; returns the Approve/Deny custom ids of the log post."""
    before = len(reelbot.fake.channel_messages(LOG_CHANNEL_ID, include_ephemeral=False))
    iid = await click(reelbot, f"reelbot:appeal:open:{refusal_id}", as_="alice")
    form = await modal(reelbot, iid)
    assert form["components"][0]["components"][0]["custom_id"] == "explanation"
    sid = await submit(reelbot, form["custom_id"], {"explanation": explanation}, as_="alice")
    assert "Your appeal was sent to the moderators" in await text(reelbot, sid)
    post = (await log_posts(reelbot, before + 1))[-1]
    embed = post.embeds[0]
    assert embed["title"] == "📨 Appeal of a refused prompt"
    assert fields(embed)["Rule"] == "`guild:term:1`" and fields(embed)["Category"] == "`guild_rule`"
    assert fields(embed)["Member's explanation"] == (explanation or "—") and "pineapple" in fields(embed)["Prompt"]
    return custom_ids(post.components)


def dm_texts(reelbot: ReelHarness, name: str) -> list[str]:
    user = member(reelbot, name).user
    dm = reelbot.fake.world.dm_channels.get(user.id)
    return [m.content for m in reelbot.fake.channel_messages(dm.id)] if dm else []


# ------------------------------------------------------------------ ban


async def test_ban_button_on_an_old_log_message_works_after_a_restart(reelbot: ReelHarness) -> None:
    await set_log_channel(reelbot)
    refusal_id = await local_refusal(reelbot)
    await post_refusal_like_video_create(reelbot, refusal_id)
    alice = member(reelbot, "alice")
    [posted] = [m for m in await log_posts(reelbot, 3) if m.embeds[0]["title"] == "🚫 Prompt refused"]
    [ban_id] = custom_ids(posted.components)
    assert ban_id == f"reelbot:ban:{guild_id(reelbot)}:{alice.id}"

    await reelbot.restart()
    iid = await click(reelbot, ban_id, as_="alice", message=posted)
    assert await text(reelbot, iid) == NOT_A_MODERATOR
    iid = await click(reelbot, ban_id, as_="mod", message=posted)
    form = await modal(reelbot, iid)
    sid = await submit(reelbot, form["custom_id"], {"reason": "pizza spam", "duration": "1d"}, as_="mod")
    confirmation = await text(reelbot, sid)
    assert confirmation.startswith(f"🔨 <@{alice.id}> may not generate videos in this server until <t:")
    [ban] = await services(reelbot).policy.bans(guild_id(reelbot))
    assert (ban.user_id, ban.reason, ban.banned_by) == (alice.id, "pizza spam", member(reelbot, "mod").id)
    assert await audit_actions(reelbot) == ["log_channel", "member.ban"]
    action = (await log_posts(reelbot, 4))[-1].embeds[0]
    assert action["title"] == "🛠️ Banned a member from generating"


# ------------------------------------------------------------------ delete result


async def test_delete_result_button_works_after_a_restart_and_keeps_the_charge(reelbot: ReelHarness) -> None:
    await set_log_channel(reelbot)
    await reelbot.slash(
        "video", {"prompt": "a paper boat", "seconds": 4}, subcommand="create", member=member(reelbot, "alice")
    )
    job = await reelbot.wait_job(1, JobStatus.DELIVERED)
    assert job.result_message_id is not None
    await reelbot.restart()

    iid = await click(reelbot, f"reelbot:delete:{job.id}", as_="alice")
    assert await text(reelbot, iid) == NOT_A_MODERATOR
    iid = await click(reelbot, f"reelbot:delete:{job.id}", as_="mod")
    question = await answer(reelbot, iid)
    assert "Refund the member's charge, or keep it?" in question["content"]
    [_release_id, keep_id, _cancel_id] = custom_ids(question["components"])
    [prompt_message] = reelbot.fake.interaction_messages(iid)
    cid = await click(reelbot, keep_id, as_="mod", message=prompt_message)
    report = await reelbot.fake.wait_for(
        lambda r: r.interaction_id == cid and r.method == "PATCH" and "was deleted" in str(r.payload), timeout=10
    )
    assert "The member's charge was kept." in report.payload["content"]
    assert reelbot.fake.message(job.result_message_id) is None
    assert reelbot.fake.find("DELETE", f"/messages/{job.result_message_id}")
    cleared = await reelbot.job(job.id)
    assert cleared.result_message_id is None and cleared.delivery_note == "result deleted by a moderator"
    assert await services(reelbot).jobs.ledger_state(job.id) == "committed"
    assert await audit_actions(reelbot) == ["log_channel", "jobs.delete"]
    action = (await log_posts(reelbot, 3))[-1].embeds[0]
    assert action["title"] == "🛠️ Deleted a posted result" and "charge: keep" in fields(action)["Details"]


# ------------------------------------------------------------------ appeals


async def test_appeal_is_offered_reviewed_after_a_restart_approved_and_submitted(reelbot: ReelHarness) -> None:
    refusal_id = await local_refusal(reelbot)
    assert reelbot.bot is not None
    note, view = await appeal_offer(reelbot.bot, refusal_id)
    assert view is None and "no moderation log channel" in note
    iid = await click(reelbot, f"reelbot:appeal:open:{refusal_id}", as_="alice")
    assert "Appeals are off here" in await text(reelbot, iid)

    await set_log_channel(reelbot)
    note, view = await appeal_offer(reelbot.bot, refusal_id)
    assert view is not None and [c.custom_id for c in view.children] == [f"reelbot:appeal:open:{refusal_id}"]  # type: ignore[attr-defined]
    iid = await click(reelbot, f"reelbot:appeal:open:{refusal_id}", as_="owner")
    assert "Only the member whose prompt was refused" in await text(reelbot, iid)

    await reelbot.restart()  # the member's Appeal button outlives the bot
    approve_id, deny_id = await appeal(reelbot, refusal_id, "Pineapple Pizza is my band's name.")
    assert (approve_id, deny_id) == (f"reelbot:appeal:approve:{refusal_id}", f"reelbot:appeal:deny:{refusal_id}")
    iid = await click(reelbot, f"reelbot:appeal:open:{refusal_id}", as_="alice")
    assert "already appealed" in await text(reelbot, iid)

    await reelbot.restart()  # and so do Approve / Deny on the log post
    [log_post] = [m for m in await log_posts(reelbot, 3) if m.components]
    iid = await click(reelbot, approve_id, as_="alice", message=log_post)
    assert await text(reelbot, iid) == NOT_A_MODERATOR
    iid = await click(reelbot, approve_id, as_="mod", message=log_post)
    summary = await text(reelbot, iid)
    assert summary.startswith("Approved: job #1 was submitted for")
    job = await reelbot.wait_job(1, JobStatus.DELIVERED)
    assert job.prompt == RULE_PROMPT and job.user_id == member(reelbot, "alice").id
    stored = await services(reelbot).appeals.by_refusal(refusal_id)
    assert stored is not None and (stored.status, stored.job_id) == ("approved", 1)
    assert stored.decided_by == member(reelbot, "mod").id
    edited = await reelbot.fake.wait_for(lambda r: r.interaction_id == iid and r.method == "PATCH", timeout=5)
    assert "Approved by" in str(edited.payload["embeds"])
    assert custom_ids(edited.payload["components"]) == [
        f"reelbot:ban:{guild_id(reelbot)}:{member(reelbot, 'alice').id}",
        "reelbot:delete:1",
    ], "a decided appeal keeps Ban member and Delete result (for the video it started)"
    assert any("approved your appeal" in t and "job #1" in t for t in dm_texts(reelbot, "alice"))
    assert "appeal.approve" in await audit_actions(reelbot)
    iid = await click(reelbot, deny_id, as_="mod")  # a second moderator, on a copy that still had the buttons
    assert "was approved already" in await text(reelbot, iid)


async def test_denied_appeal_tells_the_member_and_provider_rules_still_apply(reelbot: ReelHarness) -> None:
    await set_log_channel(reelbot)
    denied = await local_refusal(reelbot)
    _, deny_id = await appeal(reelbot, denied, "please")
    iid = await click(reelbot, deny_id, as_="mod")
    assert await text(reelbot, iid) == f"Denied. <@{member(reelbot, 'alice').id}> was told."
    assert any("kept the refusal" in t for t in dm_texts(reelbot, "alice"))
    assert (await services(reelbot).appeals.by_refusal(denied)).status == "denied"  # type: ignore[union-attr]

    provider_refuses = await local_refusal(reelbot, RULE_PROMPT + " [moderation-sync]")
    approve_id, _ = await appeal(reelbot, provider_refuses, "")
    iid = await click(reelbot, approve_id, as_="mod")
    assert "The provider refused the prompt anyway" in await text(reelbot, iid)
    assert (await reelbot.job(1)).status == JobStatus.REFUSED
    assert any("provider's own rules refused" in t for t in dm_texts(reelbot, "alice"))
    assert await audit_actions(reelbot) == ["log_channel", "appeal.deny", "appeal.approve"]


# ------------------------------------------------------------------ forget-me


async def test_forget_me_confirmation_erases_the_members_data_and_messages(reelbot: ReelHarness) -> None:
    alice = member(reelbot, "alice")
    gid = guild_id(reelbot)
    await reelbot.slash("video", {"prompt": "a paper boat", "seconds": 4}, subcommand="create", member=alice)
    job = await reelbot.wait_job(1, JobStatus.DELIVERED)
    refusal_id = await local_refusal(reelbot)
    text_shown, view = forget_me_prompt(gid, alice.id)
    assert "cannot be undone" in text_shown
    [button_id] = [c.custom_id for c in view.children]  # type: ignore[attr-defined]

    await reelbot.restart()  # the confirmation outlives a restart too
    iid = await click(reelbot, button_id, as_="owner")
    assert "someone else's data" in await text(reelbot, iid)
    assert (await reelbot.job(1)).prompt == "a paper boat"

    iid = await click(reelbot, button_id, as_="alice")
    done = await reelbot.fake.wait_for(
        lambda r: r.interaction_id == iid and r.method == "PATCH" and "Done." in str(r.payload), timeout=10
    )
    summary = done.payload["content"]
    assert "Erased 1 job(s), 1 refused prompt(s)" in summary and "kept without the prompt" in summary
    assert reelbot.fake.message(job.result_message_id or 0) is None
    erased = await reelbot.job(1)  # its charge still counts toward the quotas: kept, without the prompt
    assert erased.prompt == "(erased)" and erased.result_message_id is None and erased.video_path is None
    assert await services(reelbot).appeals.refusal(refusal_id) is None
    assert "member.forget" in await audit_actions(reelbot)
