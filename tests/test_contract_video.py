"""Contract tests: the production bot, through discord.py's own wire path, against the fake Discord.

Each test dispatches a real INTERACTION_CREATE over the fake gateway and asserts on what the bot actually sent
(callbacks, webhook edits, followups, channel messages with multipart files) and on the SQLite rows.
"""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import pytest
from PIL import Image

from storage import JobStatus
from tests.fakediscord.payloads import TOKEN_LIFETIME
from tests.plugins.reelbot import ReelHarness

SNAPSHOT = Path(__file__).parent / "snapshots" / "commands.json"
EPHEMERAL = 1 << 6


def png(width: int, height: int, colour: tuple[int, int, int] = (40, 140, 90)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, "PNG")
    return buffer.getvalue()


async def create(
    reelbot: ReelHarness, prompt: str = "a paper boat drifting down a rainy street", **options: object
) -> int:
    return await reelbot.slash("video", {"prompt": prompt, **options}, subcommand="create")


async def ephemeral_answer(reelbot: ReelHarness, interaction_id: int) -> str:
    """The text of the private answer to an interaction (immediate response or followup)."""
    record = await reelbot.fake.wait_for(
        lambda r: (
            r.interaction_id == interaction_id
            and r.method == "POST"
            and r.payload is not None
            and (
                (r.path.endswith("/callback") and r.payload.get("type") == 4)
                or (r.path.startswith("/webhooks/") and (r.payload.get("flags") or 0) & EPHEMERAL)
            )
        ),
        timeout=10,
    )
    payload = record.payload
    data = payload.get("data", payload)
    assert (data.get("flags") or 0) & EPHEMERAL, "refusals must be private"
    return str(data.get("content"))


# ------------------------------------------------------------------ happy path


async def test_create_posts_the_finished_mp4_mentioning_the_requester(reelbot: ReelHarness) -> None:
    iid = await create(reelbot, seconds=4, size="720x1280")
    first = await reelbot.fake.wait_for(lambda r: r.interaction_id == iid, timeout=5)
    assert first.path.endswith("/callback") and first.payload["type"] == 5, "the defer must be the first request"

    job = await reelbot.wait_job(1, JobStatus.DELIVERED)
    assert (job.size, job.seconds, job.interaction_id) == ("720x1280", 4, iid)
    [post] = reelbot.mp4_posts()
    [mp4] = [p for p in post.parts if (p.filename or "").endswith(".mp4")]
    assert mp4.size == job.video_bytes and mp4.data[4:8] == b"ftyp"
    payload = post.payload
    user_id = reelbot.fake.interactions[iid].payload["member"]["user"]["id"]
    assert f"<@{user_id}>" in payload["content"]
    mentions = payload["allowed_mentions"]
    assert not {"everyone", "roles"} & set(mentions.get("parse", [])), "only the requester may be pinged"
    assert mentions.get("roles", []) == []
    [embed] = payload["embeds"]
    assert embed["footer"]["text"].startswith("Job #1 · sora-2") and "simulated" in embed["footer"]["text"]
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Size"] == "720x1280" and fields["Length"] == "4 s" and fields["Job"] == "#1"
    assert job.result_message_id is not None and reelbot.fake.message(job.result_message_id) is not None


async def test_progress_edits_one_status_message_with_a_bar(reelbot: ReelHarness) -> None:
    reelbot.simulator.config.job_seconds = 1.5
    iid = await create(reelbot)
    await reelbot.wait_job(1, JobStatus.DELIVERED)
    edits = [r for r in reelbot.fake.interaction_requests(iid) if r.method == "PATCH" and "@original" in r.path]
    bars = [
        f["value"] for r in edits for e in r.payload.get("embeds", []) for f in e["fields"] if f["name"] == "Progress"
    ]
    assert bars and all("%" in b for b in bars)
    percents = [
        int(b.split()[-1].rstrip("%")) if b.split()[-1].endswith("%") else int(b.split("%")[0].split()[-1])
        for b in bars
    ]
    assert percents == sorted(percents), "progress never goes backwards"
    final = edits[-1].payload["embeds"][0]
    assert final["title"] == "🎬 Done."


async def test_acknowledgement_does_not_wait_for_the_provider(reelbot: ReelHarness) -> None:
    """The defer goes out while the provider is still holding the create request."""
    gate, entered = asyncio.Event(), asyncio.Event()
    original = reelbot.bot.provider.create  # type: ignore[union-attr]

    async def held_create(**kwargs: object):  # type: ignore[no-untyped-def]
        entered.set()
        await gate.wait()
        return await original(**kwargs)

    reelbot.bot.provider.create = held_create  # type: ignore[union-attr,method-assign]
    iid = await create(reelbot)
    await asyncio.wait_for(entered.wait(), timeout=5)  # the provider call is now in flight and held
    requests = reelbot.fake.interaction_requests(iid)
    assert requests[0].path.endswith("/callback") and requests[0].payload["type"] == 5
    assert any(r.method == "PATCH" and "Sending" in r.payload["embeds"][0]["title"] for r in requests)
    assert reelbot.simulator.jobs == {}
    gate.set()
    await reelbot.wait_job(1, JobStatus.DELIVERED)


# ------------------------------------------------------------------ refusals


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"seconds": 10}, "Lengths for it: 4, 8, 12"),
        ({"size": "1792x1024"}, "Sizes for it: 1280x720, 720x1280"),
        ({"model": "veo-9"}, "not offered here"),
        ({"model": "sora-2-pro", "size": "640x480"}, "`sora-2-pro` cannot render 640x480"),
    ],
)
async def test_bad_options_get_a_private_specific_answer(reelbot: ReelHarness, options: dict, fragment: str) -> None:
    iid = await create(reelbot, **options)
    assert fragment in await ephemeral_answer(reelbot, iid)
    assert await reelbot.bot.store.list_active() == []  # type: ignore[union-attr]
    assert reelbot.simulator.jobs == {}


async def test_image_of_wrong_type_is_refused_before_deferring(reelbot: ReelHarness) -> None:
    gif = reelbot.fake.add_attachment("cat.gif", b"GIF89a" + b"\0" * 32, content_type="image/gif")
    iid = await create(reelbot, image=gif)
    assert "PNG, JPEG or WebP" in await ephemeral_answer(reelbot, iid)
    assert reelbot.simulator.jobs == {}


async def test_reference_image_is_fitted_to_the_video_size_and_uploaded(reelbot: ReelHarness) -> None:
    image = reelbot.fake.add_attachment("first-frame.png", png(1000, 1000))
    iid = await create(reelbot, size="1280x720", image=image)
    job = await reelbot.wait_job(1, JobStatus.DELIVERED)
    assert job.has_reference_image and job.interaction_id == iid
    remote = reelbot.simulator.jobs[job.provider_video_id or ""]
    assert remote.request_content_type.startswith("multipart/")
    assert Image.open(io.BytesIO(remote.reference_image)).size == (1280, 720)


async def test_image_that_is_not_what_it_claims_is_refused_after_defer(reelbot: ReelHarness) -> None:
    fake_png = reelbot.fake.add_attachment("photo.png", b"this is not an image at all", content_type="image/png")
    iid = await create(reelbot, image=fake_png)
    answer = await ephemeral_answer(reelbot, iid)
    assert answer.startswith("🚫")
    assert reelbot.simulator.jobs == {}
    deletes = [r for r in reelbot.fake.interaction_requests(iid) if r.method == "DELETE" and "@original" in r.path]
    assert deletes, "the public 'thinking…' message is removed before the private answer"


async def test_provider_refusal_reads_like_a_local_refusal(reelbot: ReelHarness) -> None:
    iid = await create(reelbot, prompt="a calm lake at dawn [moderation-sync]")
    job = await reelbot.wait_job(1, JobStatus.REFUSED)
    answer = await ephemeral_answer(reelbot, iid)
    assert answer == f"🚫 {job.error_message}" and "content rules" in answer
    assert job.error_code == "moderation_blocked"
    [refusal] = await reelbot.bot.rule_store.recent_refusals(job.guild_id)  # type: ignore[union-attr]
    assert (refusal.source, refusal.job_id, refusal.rule) == ("provider", job.id, "provider:moderation_blocked")


async def test_provider_refusal_after_render_is_posted_with_the_same_reason(reelbot: ReelHarness) -> None:
    iid = await create(reelbot, prompt="a calm lake at dawn [moderation-async]")
    job = await reelbot.wait_job(1, JobStatus.REFUSED)
    notice = await reelbot.fake.wait_for(
        lambda r: r.interaction_id == iid and r.method == "POST" and r.path.startswith("/webhooks/"), timeout=5
    )
    embed = notice.payload["embeds"][0]
    assert embed["title"] == "🚫 Not allowed" and embed["description"] == job.error_message


async def test_provider_failure_posts_the_reason(reelbot: ReelHarness) -> None:
    reelbot.simulator.config.failure_rate = 1.0
    iid = await create(reelbot)
    job = await reelbot.wait_job(1, JobStatus.FAILED)
    notice = await reelbot.fake.wait_for(
        lambda r: r.interaction_id == iid and r.method == "POST" and r.path.startswith("/webhooks/"), timeout=5
    )
    assert notice.payload["embeds"][0]["description"] == job.error_message
    assert reelbot.mp4_posts() == []


# ------------------------------------------------------------------ delivery paths


async def test_oversize_video_posts_the_thumbnail_with_a_note(reelbot: ReelHarness) -> None:
    iid = await reelbot.slash(
        "video", {"prompt": "a paper boat drifting"}, subcommand="create", attachment_size_limit=50_000
    )
    job = await reelbot.wait_job(1, JobStatus.DELIVERED)
    assert reelbot.mp4_posts() == []
    post = [r for r in reelbot.fake.interaction_requests(iid) if any(p.filename for p in r.parts)][-1]
    assert [p.filename for p in post.parts if p.filename] == ["reelbot-job-1.webp"]
    embed = post.payload["embeds"][0]
    note = {f["name"]: f["value"] for f in embed["fields"]}["Why a thumbnail?"]
    assert "over this channel's 49 KB upload limit" in note
    assert embed["image"]["url"] == "attachment://reelbot-job-1.webp"
    assert job.delivery_note == "thumbnail: over upload limit"


async def test_413_from_discord_falls_back_to_the_thumbnail(reelbot: ReelHarness) -> None:
    reelbot.fake.max_upload_bytes = 60_000  # Discord refuses although the interaction promised 10 MiB
    await create(reelbot)
    job = await reelbot.wait_job(1, JobStatus.DELIVERED)
    refused = [r for r in reelbot.fake.requests if r.status == 413]
    assert refused and any(p.filename == "reelbot-job-1.mp4" for p in refused[0].parts)
    assert job.delivery_note == "thumbnail: over upload limit"
    posted = reelbot.fake.message(job.result_message_id or 0)
    assert posted is not None and [a.filename for a in posted.attachments] == ["reelbot-job-1.webp"]
    note = {f["name"]: f["value"] for f in posted.embeds[0]["fields"]}["Why a thumbnail?"]
    assert "more than Discord accepted" in note


async def test_expired_token_moves_updates_and_result_to_channel_messages(reelbot: ReelHarness) -> None:
    iid = await reelbot.slash("video", {"prompt": "a paper boat"}, subcommand="create", age=TOKEN_LIFETIME + 5)
    job = await reelbot.wait_job(1, JobStatus.DELIVERED)
    channel_id = reelbot.fake.interactions[iid].channel_id
    posts = [r for r in reelbot.mp4_posts() if r.path == f"/channels/{channel_id}/messages"]
    assert len(posts) == 1 and posts[0].payload["nonce"] == "reelbot-job-1"
    assert not [r for r in reelbot.mp4_posts() if r.path.startswith("/webhooks/")]
    assert job.result_message_id == int(reelbot.fake.channel_messages(int(channel_id))[-1].id)


async def test_deleted_channel_sends_the_video_by_dm(reelbot: ReelHarness) -> None:
    iid = await reelbot.slash("video", {"prompt": "a paper boat"}, subcommand="create", age=TOKEN_LIFETIME + 5)
    channel_id = reelbot.fake.interactions[iid].channel_id
    reelbot.fake.delete_channel(channel_id)
    job = await reelbot.wait_job(1, JobStatus.DELIVERED)
    assert job.delivery_note == "sent by DM because the channel no longer exists"
    dm_posts = [r for r in reelbot.mp4_posts() if r.path != f"/channels/{channel_id}/messages"]
    assert len(dm_posts) == 1


# ------------------------------------------------------------------ restart


async def test_restart_mid_job_posts_exactly_one_result(reelbot: ReelHarness) -> None:
    reelbot.simulator.config.job_seconds = 2.0
    await create(reelbot)
    await reelbot.wait_job(1, JobStatus.SUBMITTED)
    await reelbot.restart()
    job = await reelbot.wait_job(1, JobStatus.DELIVERED)
    assert len(reelbot.mp4_posts()) == 1
    assert len(reelbot.simulator.jobs) == 1
    assert job.result_message_id is not None


async def test_restart_after_posting_but_before_recording_does_not_post_twice(reelbot: ReelHarness) -> None:
    """The worst crash: the video reached the channel, the message id never reached SQLite."""
    iid = await reelbot.slash("video", {"prompt": "a paper boat"}, subcommand="create", age=TOKEN_LIFETIME + 5)
    await reelbot.wait_job(1, JobStatus.DELIVERED)
    assert len(reelbot.mp4_posts()) == 1
    bot = reelbot.bot
    assert bot is not None
    await bot.db.execute("UPDATE jobs SET status = 'delivering', result_message_id = NULL WHERE id = 1")
    await reelbot.restart()
    job = await reelbot.wait_job(1, JobStatus.DELIVERED)
    assert len(reelbot.mp4_posts()) == 1, "the earlier post must be found, not repeated"
    [post] = reelbot.mp4_posts()
    assert job.result_message_id == int(post.response["id"])
    assert reelbot.fake.interactions[iid].token_expired


# ------------------------------------------------------------------ other commands


async def test_status_history_and_cancel(reelbot: ReelHarness) -> None:
    reelbot.simulator.config.job_seconds = 30
    await create(reelbot, prompt="first scene")
    await create(reelbot, prompt="second scene")
    await reelbot.wait_job(2, JobStatus.SUBMITTED)

    iid = await reelbot.slash("video", {"job": 1}, subcommand="status")
    callback = await reelbot.fake.wait_for_request("POST", "/callback", interaction_id=iid)
    embed = callback.payload["data"]["embeds"][0]
    assert callback.payload["data"]["flags"] & EPHEMERAL and "first scene" in embed["description"]

    iid = await reelbot.slash("video", {}, subcommand="history")
    callback = await reelbot.fake.wait_for_request("POST", "/callback", interaction_id=iid)
    listing = callback.payload["data"]["embeds"][0]["description"]
    assert listing.index("#2") < listing.index("#1")

    iid = await reelbot.slash("video", {"job": 1}, subcommand="cancel")
    assert "is cancelled" in await ephemeral_answer(reelbot, iid)
    assert (await reelbot.job(1)).status == JobStatus.DISCARDED

    other = next(m for m in reelbot.fake.world.guilds[0].members if m.user.username == "mod")
    iid = await reelbot.slash("video", {"job": 2}, subcommand="cancel", member=other)
    assert "You have no job #2" in await ephemeral_answer(reelbot, iid)
    assert (await reelbot.job(2)).status == JobStatus.SUBMITTED


async def test_duplicate_interaction_delivery_creates_one_job(reelbot: ReelHarness) -> None:
    from tests.fakediscord.payloads import slash_command

    payload = slash_command("video", {"prompt": "a paper boat"}, subcommand="create", world=reelbot.fake.world)
    await reelbot.fake.send_interaction(payload)
    await reelbot.wait_job(1, JobStatus.DELIVERED)
    await reelbot.fake.send_interaction(payload)  # Discord (or a proxy) delivers the same interaction again
    await reelbot.fake.wait_for(
        lambda r: r.method == "PATCH" and "already received" in json.dumps(r.payload), timeout=5
    )
    assert len(reelbot.simulator.jobs) == 1 and len(reelbot.mp4_posts()) == 1


# ------------------------------------------------------------------ command definitions


async def test_sync_payload_matches_snapshot(reelbot: ReelHarness) -> None:
    synced = reelbot.fake.synced_commands()
    current = json.dumps(synced, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if not SNAPSHOT.exists():
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(current, encoding="utf-8")
    assert current == SNAPSHOT.read_text(encoding="utf-8"), (
        "slash-command definitions changed; if intended, delete tests/snapshots/commands.json and re-run"
    )


async def test_no_two_commands_collide(reelbot: ReelHarness) -> None:
    names: list[str] = []
    for command in reelbot.fake.synced_commands():
        names.append(command["name"])
        for option in command.get("options", []):
            if option["type"] in (1, 2):
                names.append(f"{command['name']} {option['name']}")
    assert len(names) == len(set(names))


async def test_commands_sync_only_when_changed(reelbot: ReelHarness) -> None:
    assert len(reelbot.fake.command_syncs) == 1
    await reelbot.restart()
    assert len(reelbot.fake.command_syncs) == 1, "an unchanged definition must not be synced again"


# ------------------------------------------------------------------ content rules through Discord


async def test_local_refusal_is_private_recorded_and_costs_nothing(reelbot: ReelHarness) -> None:
    iid = await create(reelbot, prompt="Pikachu surfing a giant wave")
    answer = await ephemeral_answer(reelbot, iid)
    assert answer.startswith("🚫 Copyrighted characters") and "pikachu" not in answer.lower()
    first = reelbot.fake.interaction_requests(iid)[0]
    assert first.payload["type"] == 4, "a local refusal is answered directly, without a public defer"
    assert reelbot.simulator.jobs == {} and await reelbot.bot.store.list_active() == []  # type: ignore[union-attr]
    [refusal] = await reelbot.bot.rule_store.recent_refusals(reelbot.fake.world.guilds[0].id)  # type: ignore[union-attr]
    assert refusal.category == "copyright_character" and refusal.source == "local"


async def test_repeated_refusals_pause_the_member(reelbot: ReelHarness) -> None:
    for _ in range(3):
        iid = await create(reelbot, prompt="Pikachu surfing a giant wave")
        await ephemeral_answer(reelbot, iid)
    iid = await create(reelbot, prompt="a lighthouse in a storm")
    answer = await ephemeral_answer(reelbot, iid)
    assert answer.startswith("⏳") and "<t:" in answer
    assert reelbot.simulator.jobs == {}


async def test_guild_rule_refuses_in_that_guild(reelbot: ReelHarness) -> None:
    guild_id = reelbot.fake.world.guilds[0].id
    await reelbot.bot.guard.add_rule(guild_id, "term", "pineapple pizza", added_by=1)  # type: ignore[union-attr]
    iid = await create(reelbot, prompt="a pineapple pizza orbiting the moon")
    assert "This server's moderators" in await ephemeral_answer(reelbot, iid)


async def test_queued_job_shows_its_position_then_runs(reelbot: ReelHarness) -> None:
    reelbot.simulator.config.job_seconds = 3.0  # long enough for the second job to be asked about while queued
    reelbot.bot.dispatcher.max_in_flight = 1  # type: ignore[union-attr]
    await create(reelbot, prompt="first in line")
    second = await create(reelbot, prompt="second in line")
    queued = await reelbot.fake.wait_for(
        lambda r: r.interaction_id == second and r.method == "PATCH" and "Position" in json.dumps(r.payload),
        timeout=5,
    )
    fields = {f["name"]: f["value"] for f in queued.payload["embeds"][0]["fields"]}
    assert fields["Queue"].startswith("Position **1** of 1 in the queue.")
    iid = await reelbot.slash("video", {"job": 2}, subcommand="status")
    callback = await reelbot.fake.wait_for_request("POST", "/callback", interaction_id=iid)
    status_fields = {f["name"]: f["value"] for f in callback.payload["data"]["embeds"][0]["fields"]}
    assert status_fields["Queue"].startswith("Position **1** of 1")
    await reelbot.wait_job(2, JobStatus.DELIVERED)
    first = await reelbot.job(1)
    second_job = await reelbot.job(2)
    assert first.status == JobStatus.DELIVERED and (first.submitted_at or 0) < (second_job.submitted_at or 0)


# ------------------------------------------------------------------ remix


async def test_remix_makes_a_new_video_from_a_finished_one(reelbot: ReelHarness) -> None:
    await create(reelbot, prompt="a paper boat drifting", size="720x1280", seconds=4)
    source = await reelbot.wait_job(1, JobStatus.DELIVERED)
    iid = await reelbot.slash("video", {"job": 1, "prompt": "the same boat, now at night"}, subcommand="remix")
    remix = await reelbot.wait_job(2, JobStatus.DELIVERED)
    assert (remix.remix_of_job_id, remix.size, remix.seconds, remix.model) == (1, "720x1280", 4, source.model)
    remote = reelbot.simulator.jobs[remix.provider_video_id or ""]
    assert remote.remixed_from_video_id == source.provider_video_id
    [post] = [r for r in reelbot.mp4_posts() if r.interaction_id == iid]
    fields = {f["name"]: f["value"] for f in post.payload["embeds"][0]["fields"]}
    assert fields["Remix of"] == "job #1"


async def test_remix_on_a_provider_without_it_says_so_and_refunds(reelbot: ReelHarness) -> None:
    await create(reelbot, prompt="a paper boat drifting")
    await reelbot.wait_job(1, JobStatus.DELIVERED)
    reelbot.simulator.config.unsupported_endpoints = {"remix"}
    iid = await reelbot.slash("video", {"job": 1, "prompt": "at night"}, subcommand="remix")
    failed = await reelbot.wait_job(2, JobStatus.FAILED)
    assert failed.error_code == "not_supported" and "does not offer remixing" in (failed.error_message or "")
    notice = await reelbot.fake.wait_for(
        lambda r: r.interaction_id == iid and r.method == "POST" and r.path.startswith("/webhooks/"), timeout=5
    )
    assert "does not offer remixing" in notice.payload["embeds"][0]["description"]


async def test_remix_needs_a_finished_video_and_the_policy(reelbot: ReelHarness) -> None:
    iid = await reelbot.slash("video", {"job": 42, "prompt": "at night"}, subcommand="remix")
    assert "is not a finished video in this server" in await ephemeral_answer(reelbot, iid)
    await create(reelbot, prompt="a paper boat drifting")
    await reelbot.wait_job(1, JobStatus.DELIVERED)
    mod = next(m for m in reelbot.fake.world.guilds[0].members if m.user.username == "mod")
    iid = await reelbot.slash("videomod", {"enabled": False}, group="policy", subcommand="remix", member=mod)
    await reelbot.fake.wait_for_request("POST", "/callback", interaction_id=iid)
    iid = await reelbot.slash("video", {"job": 1, "prompt": "at night"}, subcommand="remix")
    assert "remix" in (await ephemeral_answer(reelbot, iid)).lower()
    assert len(reelbot.simulator.jobs) == 1


async def test_oversize_video_is_re_encoded_to_fit_when_a_watchable_copy_fits(reelbot: ReelHarness) -> None:
    reelbot.simulator.config.fps = 12  # a denser clip than the fixture's, well over the limit below
    iid = await reelbot.slash(
        "video", {"prompt": "a paper boat drifting"}, subcommand="create", attachment_size_limit=400_000
    )
    job = await reelbot.wait_job(1, JobStatus.DELIVERED)
    assert (job.video_bytes or 0) > 400_000
    [post] = [r for r in reelbot.mp4_posts() if r.interaction_id == iid]
    [mp4] = [p for p in post.parts if (p.filename or "").endswith(".mp4")]
    assert mp4.size <= 400_000 and mp4.data[4:8] == b"ftyp"
    fields = {f["name"]: f["value"] for f in post.payload["embeds"][0]["fields"]}
    assert "re-encoded to" in fields["Re-encoded"] and "391 KB upload limit" in fields["Re-encoded"]
    assert (job.delivery_note or "").startswith("re-encoded to fit")


async def test_autocomplete_offers_only_the_callers_jobs_and_the_models_sizes(reelbot: ReelHarness) -> None:
    from tests.fakediscord.payloads import autocomplete

    reelbot.simulator.config.job_seconds = 30
    await create(reelbot, prompt="alice's lighthouse")
    mod = next(m for m in reelbot.fake.world.guilds[0].members if m.user.username == "mod")
    await reelbot.slash("video", {"prompt": "the moderator's forest"}, subcommand="create", member=mod)
    await reelbot.wait_job(2, JobStatus.SUBMITTED)

    async def choices(payload: dict) -> list[dict]:
        iid = await reelbot.fake.send_interaction(payload)
        callback = await reelbot.fake.wait_for_request("POST", "/callback", interaction_id=iid)
        assert callback.payload["type"] == 8
        return callback.payload["data"]["choices"]

    world = reelbot.fake.world
    jobs = await choices(autocomplete("video", {"job": ""}, focused="job", subcommand="status", world=world))
    assert [c["value"] for c in jobs] == [1] and "alice's lighthouse" in jobs[0]["name"]
    sizes = await choices(
        autocomplete(
            "video",
            {"prompt": "x", "model": "sora-2-pro", "size": "1792x"},
            focused="size",
            subcommand="create",
            world=world,
        )
    )
    assert [c["value"] for c in sizes] == ["1792x1024"]
