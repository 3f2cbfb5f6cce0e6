"""Quotas through Discord: refusals with the facts, /video quota, refunds, idempotency and defaults."""

from __future__ import annotations

import pytest

from bot.settings import Settings
from storage import JobStatus
from tests.plugins.reelbot import ReelHarness
from tests.test_contract_video import create, ephemeral_answer


@pytest.fixture
def reelbot_settings(reelbot_settings: Settings) -> Settings:
    # The defaults a freshly invited bot gets: 3 videos / 24 video-seconds per member per day, 1 at a time.
    return reelbot_settings.model_copy(
        update={
            "quota_user_jobs_per_day": 3,
            "quota_user_seconds_per_day": 24,
            "quota_max_concurrent_per_user": 1,
            "quota_max_concurrent_per_guild": 5,
            "quota_guild_usd_per_day": 10.0,
        }
    )


async def ledger(reelbot: ReelHarness) -> list[tuple[int, str]]:
    assert reelbot.bot is not None
    rows = await reelbot.bot.db.fetchall("SELECT job_id, state FROM ledger ORDER BY job_id")
    return [(int(r[0]), str(r[1])) for r in rows]


async def test_fresh_guild_gets_conservative_defaults(reelbot: ReelHarness) -> None:
    for n in range(3):
        await create(reelbot, prompt=f"scene {n}", seconds=4)
        await reelbot.wait_job(n + 1, JobStatus.DELIVERED)
    iid = await create(reelbot, prompt="one too many", seconds=4)
    answer = await ephemeral_answer(reelbot, iid)
    assert answer.startswith("⛔") and "3 of your 3 videos" in answer and "<t:" in answer
    assert await ledger(reelbot) == [(1, "committed"), (2, "committed"), (3, "committed")]
    assert len(reelbot.simulator.jobs) == 3


async def test_seconds_limit_counts_video_length(reelbot: ReelHarness) -> None:
    for n in range(2):  # 12 + 12 = exactly the 24 video-seconds a day
        await create(reelbot, prompt=f"long one {n}", seconds=12)
        await reelbot.wait_job(n + 1, JobStatus.DELIVERED)
    iid = await create(reelbot, prompt="a short one", seconds=4)
    answer = await ephemeral_answer(reelbot, iid)
    assert "24 of your 24 video-seconds" in answer
    assert len(reelbot.simulator.jobs) == 2


async def test_one_job_at_a_time_per_member(reelbot: ReelHarness) -> None:
    reelbot.simulator.config.job_seconds = 5
    await create(reelbot, prompt="first")
    await reelbot.wait_job(1, JobStatus.SUBMITTED)
    iid = await create(reelbot, prompt="second")
    assert "at a time" in (await ephemeral_answer(reelbot, iid)) or "in flight" in (
        await ephemeral_answer(reelbot, iid)
    )


async def test_failed_job_is_refunded(reelbot: ReelHarness) -> None:
    reelbot.simulator.config.failure_rate = 1.0
    await create(reelbot, prompt="doomed")
    await reelbot.wait_job(1, JobStatus.FAILED)
    assert await ledger(reelbot) == [(1, "released")]
    reelbot.simulator.config.failure_rate = 0.0
    for n in range(3):  # the failed one does not count against the 3 a day
        await create(reelbot, prompt=f"scene {n}")
        await reelbot.wait_job(n + 2, JobStatus.DELIVERED)


async def test_provider_refusal_and_cancel_are_refunded(reelbot: ReelHarness) -> None:
    await create(reelbot, prompt="a calm lake [moderation-sync]")
    await reelbot.wait_job(1, JobStatus.REFUSED)
    reelbot.simulator.config.job_seconds = 30
    await create(reelbot, prompt="a slow one")
    await reelbot.wait_job(2, JobStatus.SUBMITTED)
    iid = await reelbot.slash("video", {"job": 2}, subcommand="cancel")
    assert "cancelled" in await ephemeral_answer(reelbot, iid)
    assert await ledger(reelbot) == [(1, "released"), (2, "released")]


async def test_quota_command_shows_use_left_and_reset(reelbot: ReelHarness) -> None:
    await create(reelbot, prompt="scene", seconds=8)
    await reelbot.wait_job(1, JobStatus.DELIVERED)
    iid = await reelbot.slash("video", {}, subcommand="quota")
    callback = await reelbot.fake.wait_for_request("POST", "/callback", interaction_id=iid)
    data = callback.payload["data"]
    assert data["flags"] & 64
    fields = {f["name"]: f["value"] for f in data["embeds"][0]["fields"]}
    assert "1 of 3 used, 2 left" in fields["You"] and "8 of 24 used, 16 left" in fields["You"]
    assert "frees up <t:" in fields["You"]
    assert "$0.80 of $10.00 used" in fields["This server"]
