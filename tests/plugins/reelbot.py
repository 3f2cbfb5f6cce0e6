"""The production bot (``ReelBot``) against the fake Discord and the simulator, on a temporary SQLite file.

``reelbot`` is a :class:`ReelHarness`: ``await harness.slash("video", sub="create", prompt=...)`` dispatches
a real INTERACTION_CREATE; ``harness.restart()`` stops the bot and starts a new one on the same database.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.client import ReelBot
from bot.settings import Settings, load_settings
from bot.simulator import SimulatorServer
from storage import Job, JobStatus
from tests.fakediscord import FakeDiscord
from tests.fakediscord.payloads import slash_command
from tests.plugins.fake_discord import start_client, stop_client


class ReelHarness:
    def __init__(self, fake: FakeDiscord, simulator: SimulatorServer, settings: Settings) -> None:
        self.fake = fake
        self.simulator = simulator
        self.settings = settings
        self.bot: ReelBot | None = None
        self._task: asyncio.Task[None] | None = None
        self.generation = 0

    async def start(self) -> ReelBot:
        self.bot = ReelBot(self.settings, guild_ready_timeout=0.05)
        self._task = await start_client(self.bot, self.fake)
        self.generation += 1
        return self.bot

    async def stop(self) -> None:
        if self.bot is not None and self._task is not None:
            await stop_client(self.bot, self._task)
        self.bot, self._task = None, None

    async def restart(self) -> ReelBot:
        await self.stop()
        return await self.start()

    async def slash(self, name: str, options: dict[str, Any] | None = None, **kwargs: Any) -> int:
        """Dispatch a slash command; returns the interaction id."""
        return await self.fake.send_interaction(slash_command(name, options, world=self.fake.world, **kwargs))

    async def job(self, job_id: int) -> Job:
        assert self.bot is not None
        found = await self.bot.store.get(job_id)
        assert found is not None
        return found

    async def wait_job(self, job_id: int, *statuses: JobStatus, timeout: float = 15.0) -> Job:  # noqa: ASYNC109
        """Wait (event-free polling of SQLite, bounded) until the job reaches one of ``statuses``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            assert self.bot is not None
            job = await self.bot.store.get(job_id)
            if job is not None and job.status in statuses:
                return job
            if loop.time() > deadline:
                state = job.status if job else "unwritten"
                raise AssertionError(f"job {job_id} stayed {state} (wanted {statuses})")
            await asyncio.sleep(0.02)

    def mp4_posts(self) -> list[Any]:
        """Every request that uploaded an MP4 (followups and channel messages alike)."""
        return [r for r in self.fake.requests if any((p.filename or "").endswith(".mp4") for p in r.parts)]


@pytest.fixture
def reelbot_settings(tmp_path: Path, simulator: SimulatorServer) -> Settings:
    return load_settings(
        None,
        discord_token="fake-token",
        video_provider="simulator",
        video_api_base_url=simulator.base_url,
        database_path=tmp_path / "reelbot.db",
        media_dir=tmp_path / "media",
        poll_interval_seconds=0.05,
        progress_edit_interval_seconds=0,
        video_max_retries=1,
        # Quotas are tested on their own; the other contract tests run without limits.
        quota_user_jobs_per_day=None,
        quota_user_seconds_per_day=None,
        quota_guild_usd_per_day=None,
        quota_guild_usd_per_month=None,
        quota_max_concurrent_per_user=None,
        quota_max_concurrent_per_guild=None,
    )


@pytest.fixture
async def reelbot(
    fake_discord: FakeDiscord, simulator: SimulatorServer, reelbot_settings: Settings
) -> AsyncIterator[ReelHarness]:
    harness = ReelHarness(fake_discord, simulator, reelbot_settings)
    await harness.start()
    try:
        yield harness
    finally:
        await harness.stop()
