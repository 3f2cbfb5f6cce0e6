"""The job pipeline without Discord: service → provider (simulator over loopback) → SQLite → tracker → observer.

The observer here records what the delivery layer would be asked to do; the Discord side of delivery is
exercised against the fake Discord in the contract tests.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest

from bot.catalog import DEFAULT_CATALOG
from bot.jobs import JobRequestError, JobService, VideoRequest
from bot.media import probe_video
from bot.providers import NotFoundError
from bot.providers.openai import VideosClient
from bot.simulator import ManualClock, SimulatorServer
from bot.tracker import DeliveryResult, DeliveryState, Tracker
from storage import Database, Job, JobStatus, JobStore


@dataclass
class RecordingObserver:
    """Stands in for bot.delivery: records calls; 'posts' get increasing message ids."""

    progress: list[tuple[int, JobStatus, int]] = field(default_factory=list)
    ended: list[tuple[int, JobStatus]] = field(default_factory=list)
    deliveries: list[tuple[int, bool]] = field(default_factory=list)
    positions: dict[int, tuple[int, int]] = field(default_factory=dict)
    answer: DeliveryState = DeliveryState.DELIVERED
    next_message_id: int = 1000

    async def on_progress(self, job: Job, *, position: tuple[int, int] | None = None) -> None:
        self.progress.append((job.id, job.status, job.progress))
        if position is not None:
            self.positions[job.id] = position

    async def on_ended(self, job: Job) -> None:
        self.ended.append((job.id, job.status))

    async def deliver(self, job: Job, *, resumed: bool) -> DeliveryResult:
        assert job.status == JobStatus.DELIVERING
        assert job.video_path is not None and Path(job.video_path).exists()
        self.deliveries.append((job.id, resumed))
        if self.answer is not DeliveryState.DELIVERED:
            return DeliveryResult(self.answer, note="channel is gone")
        self.next_message_id += 1
        return DeliveryResult(DeliveryState.DELIVERED, message_id=self.next_message_id)


@dataclass
class Bot:
    """One 'process': its own DB connection, client, service, tracker and observer."""

    db: Database
    service: JobService
    tracker: Tracker
    observer: RecordingObserver
    client: VideosClient


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def clock(simulator_clock: ManualClock) -> ManualClock:
    return simulator_clock


@pytest.fixture
async def start_bot(tmp_path: Path, simulator: SimulatorServer, http: aiohttp.ClientSession, clock: ManualClock):
    started: list[Bot] = []

    async def start(observer: RecordingObserver | None = None) -> Bot:
        db = Database(tmp_path / "bot.db")
        await db.open()
        client = VideosClient(
            http,
            simulator.base_url,
            None,
            max_retries=1,
            backoff_base_seconds=0.0,
            backoff_max_seconds=0.0,
            clock=clock,
        )
        service = JobService(
            JobStore(db, clock=clock),
            client,
            DEFAULT_CATALOG,
            provider_name="simulator",
            media_dir=tmp_path / "media",
            clock=clock,
        )
        observer = observer or RecordingObserver()
        tracker = Tracker(service, observer, media_dir=tmp_path / "media", clock=clock)
        bot = Bot(db, service, tracker, observer, client)
        started.append(bot)
        return bot

    yield start
    for bot in started:
        await bot.tracker.stop()
        await bot.db.close()


def request(prompt: str = "a paper boat drifting down a rainy street", **overrides: object) -> VideoRequest:
    values: dict[str, object] = {
        "guild_id": 1,
        "channel_id": 2,
        "user_id": 3,
        "prompt": prompt,
        "model": "sora-2",
        "size": "720x1280",
        "seconds": 4,
        "interaction_id": None,
    }
    values.update(overrides)
    return VideoRequest(**values)  # type: ignore[arg-type]


async def run_until_settled(bot: Bot, clock: ManualClock, passes: int = 6) -> None:
    for _ in range(passes):
        clock.advance(1.0)
        await bot.tracker.run_once()
        await bot.tracker.drain()


async def test_happy_path_delivers_one_real_video(start_bot, clock: ManualClock) -> None:
    bot = await start_bot()
    outcome = await bot.service.create(request(interaction_id=42))
    assert outcome.created and outcome.job.status == JobStatus.SUBMITTED
    assert outcome.job.provider_video_id and outcome.job.price_usd == pytest.approx(0.4)

    await run_until_settled(bot, clock)

    job = await bot.service.store.get(outcome.job.id)
    assert job is not None and job.status == JobStatus.DELIVERED and job.result_message_id == 1001
    assert bot.observer.deliveries == [(job.id, False)]
    info = probe_video(Path(job.video_path or ""))
    assert (info.width, info.height, info.codec) == (720, 1280, "h264")
    assert info.duration_seconds == pytest.approx(4, abs=0.5)
    assert job.thumbnail_path and Path(job.thumbnail_path).read_bytes()[8:12] == b"WEBP"
    assert job.video_bytes == Path(job.video_path or "").stat().st_size


async def test_progress_is_reported_while_rendering(start_bot, clock: ManualClock, simulator) -> None:
    simulator.config.job_seconds = 10
    bot = await start_bot()
    job = (await bot.service.create(request())).job
    for _ in range(4):
        clock.advance(2.0)
        await bot.tracker.run_once()
    seen = [p for (job_id, status, p) in bot.observer.progress if job_id == job.id and status == JobStatus.SUBMITTED]
    assert len(seen) >= 3 and seen == sorted(seen) and 0 < seen[-1] < 100


async def test_same_interaction_twice_creates_one_provider_job(start_bot, simulator) -> None:
    bot = await start_bot()
    first = await bot.service.create(request(interaction_id=7))
    second = await bot.service.create(request(interaction_id=7))
    assert first.created and not second.created and second.job.id == first.job.id
    assert len(simulator.jobs) == 1


async def test_catalog_violations_are_refused_before_anything_is_written(start_bot, simulator) -> None:
    bot = await start_bot()
    with pytest.raises(JobRequestError, match="Lengths for it"):
        await bot.service.create(request(seconds=10))
    with pytest.raises(JobRequestError, match="Sizes for it"):
        await bot.service.create(request(size="1792x1024"))
    assert await bot.service.store.list_active() == [] and simulator.jobs == {}


async def test_provider_failure_ends_the_job_with_its_reason(start_bot, clock: ManualClock, simulator) -> None:
    simulator.config.failure_rate = 1.0
    bot = await start_bot()
    job = (await bot.service.create(request())).job
    await run_until_settled(bot, clock)
    ended = await bot.service.store.get(job.id)
    assert ended is not None and ended.status == JobStatus.FAILED and ended.error_message
    assert bot.observer.ended == [(job.id, JobStatus.FAILED)] and bot.observer.deliveries == []


async def test_provider_moderation_at_submit_is_a_refusal(start_bot) -> None:
    bot = await start_bot()
    job = (await bot.service.create(request("a calm lake [moderation-sync]"))).job
    assert job.status == JobStatus.REFUSED and job.error_code == "moderation_blocked"
    assert "content rules" in (job.error_message or "")


async def test_provider_moderation_after_render_is_a_refusal(start_bot, clock: ManualClock) -> None:
    bot = await start_bot()
    job = (await bot.service.create(request("a calm lake [moderation-async]"))).job
    assert job.status == JobStatus.SUBMITTED
    await run_until_settled(bot, clock)
    ended = await bot.service.store.get(job.id)
    assert ended is not None and ended.status == JobStatus.REFUSED
    assert bot.observer.ended == [(job.id, JobStatus.REFUSED)]


async def test_rate_limited_submit_waits_in_queue_then_goes_through(start_bot, clock: ManualClock, simulator) -> None:
    simulator.config.rate_limit_burst = 5  # more than the client's own retries
    bot = await start_bot()
    job = (await bot.service.create(request())).job
    assert job.status == JobStatus.QUEUED and job.error_code == "rate_limited"
    simulator.config.rate_limit_burst = 0
    await run_until_settled(bot, clock)
    done = await bot.service.store.get(job.id)
    assert done is not None and done.status == JobStatus.DELIVERED and len(simulator.jobs) == 1


async def test_restart_mid_render_resumes_and_posts_once(start_bot, clock: ManualClock, simulator) -> None:
    simulator.config.job_seconds = 5
    first = await start_bot()
    job = (await first.service.create(request())).job
    clock.advance(1.0)
    await first.tracker.run_once()
    await first.db.close()  # the process dies mid-render

    second = await start_bot()
    await run_until_settled(second, clock, passes=8)
    done = await second.service.store.get(job.id)
    assert done is not None and done.status == JobStatus.DELIVERED
    assert first.observer.deliveries == [] and second.observer.deliveries == [(job.id, False)]
    assert len(simulator.jobs) == 1


async def test_crash_after_create_reached_provider_adopts_the_job(start_bot, clock: ManualClock, simulator) -> None:
    first = await start_bot()
    recorded = await first.service.record(request())
    # The create reaches the provider, then the process dies before storing the provider id.
    await first.client.create(prompt=recorded.job.prompt, model="sora-2", size="720x1280", seconds=4)
    await first.db.close()

    second = await start_bot()
    await run_until_settled(second, clock)
    done = await second.service.store.get(recorded.job.id)
    assert done is not None and done.status == JobStatus.DELIVERED
    assert len(simulator.jobs) == 1, "the pending row must be reconciled, not sent again"
    assert done.provider_video_id == next(iter(simulator.jobs))


async def test_crash_before_create_reached_provider_submits_it(start_bot, clock: ManualClock, simulator) -> None:
    first = await start_bot()
    recorded = await first.service.record(request())
    await first.db.close()
    second = await start_bot()
    await run_until_settled(second, clock)
    done = await second.service.store.get(recorded.job.id)
    assert done is not None and done.status == JobStatus.DELIVERED and len(simulator.jobs) == 1


async def test_crash_during_delivery_resumes_with_resumed_flag(start_bot, clock: ManualClock) -> None:
    first = await start_bot()
    job = (await first.service.create(request())).job
    clock.advance(5.0)
    completed = await first.service.apply_remote(job, await first.client.retrieve(job.provider_video_id or ""))
    assert completed.status == JobStatus.COMPLETED
    # The process claims the delivery, then dies before posting or recording the message id.
    assert await first.service.store.transition(job.id, JobStatus.COMPLETED, JobStatus.DELIVERING)
    await first.db.close()

    second = await start_bot()
    await run_until_settled(second, clock)
    done = await second.service.store.get(job.id)
    assert done is not None and done.status == JobStatus.DELIVERED
    assert second.observer.deliveries == [(job.id, True)], "the observer must be told an earlier post may exist"


async def test_held_delivery_stops_retrying(start_bot, clock: ManualClock) -> None:
    bot = await start_bot(RecordingObserver(answer=DeliveryState.HELD))
    job = (await bot.service.create(request())).job
    await run_until_settled(bot, clock, passes=6)
    held = await bot.service.store.get(job.id)
    assert held is not None and held.status == JobStatus.COMPLETED and held.held_reason == "channel is gone"
    assert len(bot.observer.deliveries) == 1


async def test_transient_delivery_trouble_is_retried(start_bot, clock: ManualClock) -> None:
    observer = RecordingObserver(answer=DeliveryState.RETRY)
    bot = await start_bot(observer)
    job = (await bot.service.create(request())).job
    await run_until_settled(bot, clock, passes=3)
    observer.answer = DeliveryState.DELIVERED
    await run_until_settled(bot, clock, passes=2)
    done = await bot.service.store.get(job.id)
    assert done is not None and done.status == JobStatus.DELIVERED
    assert len(observer.deliveries) >= 2 and observer.deliveries[-1][1] is True


async def test_cancel_discards_and_nothing_is_posted(start_bot, clock: ManualClock, simulator) -> None:
    simulator.config.job_seconds = 5
    bot = await start_bot()
    job = (await bot.service.create(request())).job
    with pytest.raises(JobRequestError, match="no job"):
        await bot.service.cancel(job.id, by_user_id=999)
    cancelled = await bot.service.cancel(job.id, by_user_id=3)
    assert cancelled.status == JobStatus.DISCARDED and cancelled.delivery_note
    await run_until_settled(bot, clock, passes=8)
    assert bot.observer.deliveries == []
    with pytest.raises(JobRequestError, match="already ended"):
        await bot.service.cancel(job.id, by_user_id=3)


async def test_cancel_of_finished_job_deletes_remote_copy(start_bot, clock: ManualClock, simulator) -> None:
    bot = await start_bot(RecordingObserver(answer=DeliveryState.HELD))
    job = (await bot.service.create(request())).job
    await run_until_settled(bot, clock, passes=3)
    cancelled = await bot.service.cancel(job.id, by_user_id=3)
    assert cancelled.delivery_note == "The provider's copy was deleted."
    with pytest.raises(NotFoundError):
        await bot.client.retrieve(job.provider_video_id or "")


async def test_provider_without_list_is_polled_per_job(start_bot, clock: ManualClock, simulator) -> None:
    simulator.config.unsupported_endpoints = {"list"}
    bot = await start_bot()
    jobs = [(await bot.service.create(request(f"scene {i}"))).job for i in range(4)]
    await run_until_settled(bot, clock)
    assert bot.tracker.list_supported is False
    for job in jobs:
        done = await bot.service.store.get(job.id)
        assert done is not None and done.status == JobStatus.DELIVERED


async def test_list_endpoint_saves_requests_for_many_jobs(start_bot, clock: ManualClock, simulator) -> None:
    simulator.config.job_seconds = 3
    bot = await start_bot()
    for i in range(5):
        await bot.service.create(request(f"scene {i}"))
    before = len(simulator.requests)
    clock.advance(1.0)
    await bot.tracker.run_once()
    polls = [r for r in simulator.requests[before:] if r.method == "GET"]
    assert len(polls) == 1 and "/videos" in polls[0].path


async def test_job_the_provider_forgot_fails_after_repeated_not_found(start_bot, clock: ManualClock, simulator) -> None:
    simulator.config.job_seconds = 30
    bot = await start_bot()
    job = (await bot.service.create(request())).job
    simulator.jobs.clear()
    await run_until_settled(bot, clock, passes=4)
    ended = await bot.service.store.get(job.id)
    assert ended is not None and ended.status == JobStatus.FAILED and ended.error_code == "not_found"


async def test_reference_image_survives_until_submission(start_bot, clock: ManualClock, simulator) -> None:
    from io import BytesIO

    from PIL import Image

    from bot.providers.openai import ReferenceImage

    buffer = BytesIO()
    Image.new("RGB", (720, 1280), (30, 120, 200)).save(buffer, "PNG")
    reference = ReferenceImage(buffer.getvalue(), "reference.png", "image/png")
    first = await start_bot()
    recorded = await first.service.record(request(reference=reference))
    assert recorded.job.has_reference_image
    await first.db.close()  # crash before submitting: the image must come from disk
    second = await start_bot()
    await run_until_settled(second, clock)
    done = await second.service.store.get(recorded.job.id)
    assert done is not None and done.status == JobStatus.DELIVERED
    remote = simulator.jobs[done.provider_video_id or ""]
    assert remote.reference_image == reference.data and remote.request_content_type.startswith("multipart/")
