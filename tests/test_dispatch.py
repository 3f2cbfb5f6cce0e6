"""The local queue: global cap, fair round-robin release across guilds, positions, 429 pauses, restarts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from bot.catalog import DEFAULT_CATALOG
from bot.dispatch import Dispatcher, RateWindow, fair_order
from bot.jobs import JobService, VideoRequest
from bot.providers.openai import VideosClient
from bot.simulator import ManualClock, SimulatorServer
from bot.tracker import Tracker
from storage import Database, Job, JobStatus, JobStore
from tests.test_pipeline import RecordingObserver


def job(job_id: int, guild_id: int) -> Job:
    return Job(
        id=job_id,
        guild_id=guild_id,
        channel_id=1,
        user_id=1,
        interaction_id=None,
        prompt="p",
        model="sora-2",
        size="1280x720",
        seconds=4,
        price_usd=0.4,
        has_reference_image=False,
        remix_of_job_id=None,
        provider="simulator",
        provider_video_id=None,
        status=JobStatus.QUEUED,
        progress=0,
        error_code=None,
        error_message=None,
        status_message_id=None,
        result_message_id=None,
        upload_limit_bytes=None,
        video_path=None,
        thumbnail_path=None,
        video_bytes=None,
        delivery_note=None,
        held_reason=None,
        reference_path=None,
        poll_failures=0,
        created_at=0.0,
        submitted_at=None,
        completed_at=None,
        finished_at=None,
        updated_at=0.0,
    )


def test_fair_order_is_round_robin_across_guilds_and_fifo_within() -> None:
    jobs = [job(1, 100), job(2, 100), job(3, 100), job(4, 200), job(5, 300), job(6, 200)]
    assert [j.id for j in fair_order(jobs)] == [1, 4, 5, 2, 6, 3]
    assert [j.id for j in fair_order(jobs, after_guild=100)] == [4, 5, 1, 6, 2, 3]
    assert [j.id for j in fair_order(jobs, after_guild=300)] == [1, 4, 5, 2, 6, 3]


def test_rate_window_allows_n_per_minute_and_pauses() -> None:
    now = [0.0]
    window = RateWindow(2, clock=lambda: now[0])
    assert window.available()
    window.take()
    window.take()
    assert not window.available()
    now[0] = 60.0
    assert window.available()
    window.pause(30)
    assert not window.available()
    now[0] = 91.0
    assert window.available()
    assert RateWindow(None).available()


@dataclass
class Stack:
    db: Database
    service: JobService
    dispatcher: Dispatcher
    tracker: Tracker
    observer: RecordingObserver


@pytest.fixture
async def stack_factory(tmp_path: Path, simulator: SimulatorServer, simulator_clock: ManualClock) -> AsyncIterator:
    stacks: list[Stack] = []
    async with aiohttp.ClientSession() as http:

        async def build(max_in_flight: int = 2) -> Stack:
            db = Database(tmp_path / "bot.db")
            await db.open()
            client = VideosClient(http, simulator.base_url, None, max_retries=0, clock=simulator_clock)
            service = JobService(
                JobStore(db, clock=simulator_clock),
                client,
                DEFAULT_CATALOG,
                provider_name="simulator",
                media_dir=tmp_path / "media",
                clock=simulator_clock,
            )
            dispatcher = Dispatcher(service, max_in_flight=max_in_flight)
            observer = RecordingObserver()
            tracker = Tracker(
                service, observer, media_dir=tmp_path / "media", clock=simulator_clock, dispatcher=dispatcher
            )
            stack = Stack(db, service, dispatcher, tracker, observer)
            stacks.append(stack)
            return stack

        yield build
        for stack in stacks:
            await stack.tracker.stop()
            await stack.db.close()


async def offer(stack: Stack, guild_id: int, prompt: str) -> Job:
    recorded = await stack.service.record(
        VideoRequest(
            guild_id=guild_id, channel_id=1, user_id=guild_id, prompt=prompt, model="sora-2", size="1280x720", seconds=4
        )
    )
    return await stack.dispatcher.offer(recorded.job.id)


async def test_cap_queues_the_rest_and_positions_are_fair(stack_factory, simulator: SimulatorServer) -> None:
    simulator.config.job_seconds = 10
    stack = await stack_factory(max_in_flight=2)
    jobs = [await offer(stack, 100, f"a{i}") for i in range(4)] + [await offer(stack, 200, "b0")]
    assert [j.status for j in jobs] == [JobStatus.SUBMITTED] * 2 + [JobStatus.QUEUED] * 3
    assert len(simulator.jobs) == 2
    positions = await stack.dispatcher.positions()
    # guild 200 waited less but is not behind guild 100's backlog: round robin puts it in between
    assert positions[jobs[4].id][0] < positions[jobs[3].id][0]
    assert {p[1] for p in positions.values()} == {3}


async def test_queue_drains_in_fair_order_as_capacity_frees(
    stack_factory, simulator: SimulatorServer, simulator_clock: ManualClock
) -> None:
    simulator.config.job_seconds = 2
    stack = await stack_factory(max_in_flight=1)
    a = [await offer(stack, 100, f"a{i}") for i in range(3)]
    b = await offer(stack, 200, "b0")
    order: list[int] = []
    for _ in range(30):
        simulator_clock.advance(1.0)
        await stack.tracker.run_once()
        await stack.tracker.drain()
        for j in [*a, b]:
            fresh = await stack.service.store.get(j.id)
            if fresh and fresh.provider_video_id and j.id not in order:
                order.append(j.id)
    assert order == [a[0].id, b.id, a[1].id, a[2].id]
    for j in [*a, b]:
        done = await stack.service.store.get(j.id)
        assert done is not None and done.status == JobStatus.DELIVERED
    assert stack.observer.positions, "queued jobs were told their position"


async def test_queued_jobs_survive_a_restart(stack_factory, simulator: SimulatorServer, simulator_clock) -> None:
    simulator.config.job_seconds = 2
    first = await stack_factory(max_in_flight=1)
    jobs = [await offer(first, 100, f"a{i}") for i in range(3)]
    assert [j.status for j in jobs[1:]] == [JobStatus.QUEUED] * 2
    await first.db.close()
    second = await stack_factory(max_in_flight=1)
    for _ in range(20):
        simulator_clock.advance(1.0)
        await second.tracker.run_once()
        await second.tracker.drain()
    for j in jobs:
        done = await second.service.store.get(j.id)
        assert done is not None and done.status == JobStatus.DELIVERED
    assert len(simulator.jobs) == 3


async def test_provider_429_pauses_the_queue(stack_factory, simulator: SimulatorServer) -> None:
    simulator.config.rate_limit_burst = 1
    simulator.config.retry_after_seconds = 30
    stack = await stack_factory(max_in_flight=5)
    first = await offer(stack, 100, "a0")
    assert first.status == JobStatus.QUEUED and first.error_code == "rate_limited"
    assert not stack.dispatcher.rate.available(), "submissions pause for the provider's Retry-After"
    second = await offer(stack, 100, "a1")
    assert second.status == JobStatus.QUEUED and simulator.jobs == {}
    stack.dispatcher.rate.paused_until = 0
    released = await stack.dispatcher.release()
    assert [j.status for j in released] == [JobStatus.SUBMITTED, JobStatus.SUBMITTED]


async def test_concurrent_offers_never_exceed_the_cap(stack_factory, simulator: SimulatorServer) -> None:
    import asyncio

    simulator.config.job_seconds = 10
    stack = await stack_factory(max_in_flight=3)
    jobs = await asyncio.gather(*(offer(stack, 100 + i % 4, f"scene {i}") for i in range(20)))
    assert sum(j.status == JobStatus.SUBMITTED for j in jobs) == 3
    assert sum(j.status == JobStatus.QUEUED for j in jobs) == 17
    assert len(simulator.jobs) == 3
