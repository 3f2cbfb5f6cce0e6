"""VideosClient against the project's /v1/videos simulator over real loopback HTTP."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from io import BytesIO
from pathlib import Path
from typing import Any, TypedDict, cast

import aiohttp
import pytest
from PIL import Image
from pydantic import SecretStr

from bot.providers import (
    AuthenticationError,
    CreateUncertainError,
    InvalidRequestError,
    ModerationBlockedError,
    NotFoundError,
    NotSupportedError,
    ProviderUnavailableError,
    RateLimitedError,
    VideoStatus,
)
from bot.providers.openai import DownloadTooLargeError, ReferenceImage, VideosClient
from bot.simulator import ManualClock, SimulatorServer


class CreateArgs(TypedDict):
    prompt: str
    model: str
    size: str
    seconds: int


CREATE: CreateArgs = {"prompt": "a red fox in the snow", "model": "sora-2", "size": "1280x720", "seconds": 4}


def create_args(**changes: Any) -> CreateArgs:
    """``CREATE`` with some fields changed."""
    return cast(CreateArgs, {**CREATE, **changes})


class RecordingSleep:
    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
def sleep() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
def client(session: aiohttp.ClientSession, simulator: SimulatorServer, sleep: RecordingSleep) -> VideosClient:
    return VideosClient(session, simulator.base_url, None, sleep=sleep)


def png(width: int, height: int) -> bytes:
    buffer = BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buffer, "PNG")
    return buffer.getvalue()


def posts(simulator: SimulatorServer) -> list[str]:
    return [r.path for r in simulator.requests if r.method == "POST"]


async def completed_video(client: VideosClient, clock: ManualClock) -> str:
    video = await client.create(**CREATE)
    clock.advance(60)
    assert (await client.retrieve(video.id)).status is VideoStatus.COMPLETED
    return video.id


# --------------------------------------------------------------------------- endpoints


async def test_create_and_retrieve_follow_the_job(
    client: VideosClient, simulator: SimulatorServer, simulator_clock: ManualClock
) -> None:
    created = await client.create(**CREATE)

    assert created.status is VideoStatus.QUEUED
    assert (created.model, created.size, created.seconds, created.prompt) == (
        "sora-2",
        "1280x720",
        "4",
        CREATE["prompt"],
    )
    assert list(simulator.jobs) == [created.id]

    simulator_clock.advance(0.3)
    running = await client.retrieve(created.id)
    simulator_clock.advance(1)
    done = await client.retrieve(created.id)

    assert running.status is VideoStatus.IN_PROGRESS
    assert 0 < running.progress < 100
    assert done.status is VideoStatus.COMPLETED
    assert done.progress == 100
    assert done.completed_at is not None


async def test_create_with_reference_image_is_multipart(client: VideosClient, simulator: SimulatorServer) -> None:
    image = png(1280, 720)

    video = await client.create(**CREATE, image=ReferenceImage(image, "reference.png", "image/png"))

    assert simulator.jobs[video.id].reference_image == image


async def test_reference_image_of_the_wrong_size_is_refused(client: VideosClient, simulator: SimulatorServer) -> None:
    image = ReferenceImage(png(640, 480), "reference.png", "image/png")

    with pytest.raises(InvalidRequestError) as caught:
        await client.create(**CREATE, image=image)

    assert caught.value.param == "input_reference"
    assert caught.value.status == 400
    assert simulator.jobs == {}


async def test_invalid_seconds_is_an_invalid_request(client: VideosClient, simulator: SimulatorServer) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        await client.create(**create_args(seconds=10))

    assert (caught.value.code, caught.value.param) == ("invalid_value", "seconds")
    assert caught.value.request_id is not None
    assert len(posts(simulator)) == 1


async def test_list_and_iterate_pages(client: VideosClient, simulator: SimulatorServer) -> None:
    ids = [(await client.create(**create_args(prompt=f"scene {i}"))).id for i in range(5)]

    first = await client.list(limit=2)
    newest_first = [v.id async for v in client.iter_videos(page_size=2)]
    oldest_first = [v.id async for v in client.iter_videos(order="asc", page_size=3)]
    one_page = [v.id async for v in client.iter_videos(page_size=2, max_pages=1)]

    assert [v.id for v in first.data] == ids[::-1][:2]
    assert first.has_more is True
    assert first.last_id == ids[3]
    assert newest_first == ids[::-1]
    assert oldest_first == ids
    assert one_page == ids[::-1][:2]


async def test_download_variants_to_file(client: VideosClient, simulator_clock: ManualClock, tmp_path: Path) -> None:
    video_id = await completed_video(client, simulator_clock)
    dest = tmp_path / "videos" / "fox.mp4"

    written = await client.download(video_id, dest)
    thumb = await client.download(video_id, tmp_path / "fox.webp", variant="thumbnail")

    data = dest.read_bytes()
    assert written == len(data) > 0
    assert data[4:8] == b"ftyp"
    assert (tmp_path / "fox.webp").read_bytes()[8:12] == b"WEBP"
    assert thumb > 0
    assert not dest.with_suffix(".mp4.part").exists()


async def test_download_over_max_bytes_leaves_nothing(
    client: VideosClient, simulator_clock: ManualClock, tmp_path: Path
) -> None:
    video_id = await completed_video(client, simulator_clock)

    with pytest.raises(DownloadTooLargeError):
        await client.download(video_id, tmp_path / "fox.mp4", max_bytes=100)

    assert list(tmp_path.iterdir()) == []


async def test_download_before_completion_is_refused(
    client: VideosClient, simulator_clock: ManualClock, tmp_path: Path
) -> None:
    video = await client.create(**CREATE)

    with pytest.raises(InvalidRequestError) as caught:
        await client.download(video.id, tmp_path / "early.mp4")

    assert caught.value.code == "video_not_completed"
    assert list(tmp_path.iterdir()) == []


async def test_remix_a_completed_video(
    client: VideosClient, simulator: SimulatorServer, simulator_clock: ManualClock
) -> None:
    source = await completed_video(client, simulator_clock)

    remix = await client.remix(source, "the same fox, at night")

    assert remix.remixed_from_video_id == source
    assert remix.prompt == "the same fox, at night"
    assert remix.id != source
    assert len(simulator.jobs) == 2


async def test_delete_then_retrieve_is_not_found(client: VideosClient, simulator_clock: ManualClock) -> None:
    video_id = await completed_video(client, simulator_clock)

    assert await client.delete(video_id) is True
    with pytest.raises(NotFoundError) as caught:
        await client.retrieve(video_id)

    assert not isinstance(caught.value, NotSupportedError)
    assert caught.value.status == 404


async def test_delete_of_a_running_job_is_refused(client: VideosClient, simulator: SimulatorServer) -> None:
    video = await client.create(**CREATE)

    with pytest.raises(InvalidRequestError) as caught:
        await client.delete(video.id)

    assert caught.value.code == "video_in_progress"
    assert video.id in simulator.jobs


async def test_models_lists_the_catalog_without_retired_models(
    client: VideosClient, simulator: SimulatorServer
) -> None:
    assert await client.models() == ["sora-2", "sora-2-pro"]

    simulator.config.retired_models = {"sora-2"}

    assert await client.models() == ["sora-2-pro"]


async def test_long_opaque_ids(client: VideosClient, simulator: SimulatorServer, simulator_clock: ManualClock) -> None:
    simulator.config.id_length = 400
    video_id = await completed_video(client, simulator_clock)

    remix = await client.remix(video_id, "again")
    listed = [v.id async for v in client.iter_videos(page_size=1)]

    assert len(video_id) == 400
    assert listed == [remix.id, video_id]
    assert await client.delete(video_id) is True


async def test_find_recent_match(client: VideosClient, simulator_clock: ManualClock) -> None:
    started = int(simulator_clock())
    await client.create(**create_args(prompt="something else"))
    target = await client.create(**CREATE)

    found = await client.find_recent_match(**CREATE, created_after=started)
    other_size = await client.find_recent_match(**create_args(size="720x1280"), created_after=started)
    later = await client.find_recent_match(**CREATE, created_after=started + 10)

    assert found is not None
    assert found.id == target.id
    assert other_size is None
    assert later is None


# --------------------------------------------------------------------------- failures


async def test_unknown_video_is_not_found(client: VideosClient) -> None:
    with pytest.raises(NotFoundError) as caught:
        await client.retrieve("video_does_not_exist")

    assert not isinstance(caught.value, NotSupportedError)
    assert caught.value.param == "video_id"


async def test_retired_model_is_not_found(client: VideosClient, simulator: SimulatorServer) -> None:
    simulator.config.retired_models = {"sora-2"}

    with pytest.raises(NotFoundError) as caught:
        await client.create(**CREATE)

    assert caught.value.code == "model_not_found"
    assert "retired or unknown" in caught.value.message
    assert simulator.jobs == {}


async def test_moderation_at_submit(client: VideosClient, simulator: SimulatorServer) -> None:
    with pytest.raises(ModerationBlockedError) as caught:
        await client.create(**create_args(prompt="something [moderation-sync]"))

    assert caught.value.code == "moderation_blocked"
    assert simulator.jobs == {}
    assert len(posts(simulator)) == 1


async def test_moderation_after_submit_fails_the_job(client: VideosClient, simulator_clock: ManualClock) -> None:
    video = await client.create(**create_args(prompt="something [moderation-async]"))
    simulator_clock.advance(60)

    failed = await client.retrieve(video.id)

    assert failed.status is VideoStatus.FAILED
    assert failed.error is not None
    assert failed.error.code == "moderation_blocked"


async def test_generation_failure_is_reported_on_the_video(
    client: VideosClient, simulator: SimulatorServer, simulator_clock: ManualClock
) -> None:
    simulator.config.failure_rate = 1.0
    video = await client.create(**CREATE)
    simulator_clock.advance(60)

    failed = await client.retrieve(video.id)

    assert failed.status is VideoStatus.FAILED
    assert failed.error is not None
    assert failed.error.code in ("internal_error", "video_generation_failed")


@pytest.mark.parametrize("header", ["Authorization", "api-key", "x-litellm-api-key"])
async def test_authentication(
    session: aiohttp.ClientSession, simulator: SimulatorServer, header: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    simulator.config.api_key = "sim-key-right"
    good = VideosClient(session, simulator.base_url, SecretStr("sim-key-right"), auth_header=header)
    bad = VideosClient(session, simulator.base_url, SecretStr("sim-key-WRONG"), auth_header=header)
    none = VideosClient(session, simulator.base_url, None, auth_header=header)

    assert await good.models()
    for client in (bad, none):
        with pytest.raises(AuthenticationError) as caught:
            await client.create(**CREATE)
        assert caught.value.code == "invalid_api_key"
        assert "sim-key-WRONG" not in str(caught.value)
    assert simulator.jobs == {}
    assert "sim-key" not in caplog.text


async def test_unsupported_endpoints(
    client: VideosClient, simulator: SimulatorServer, simulator_clock: ManualClock
) -> None:
    video_id = await completed_video(client, simulator_clock)
    simulator.config.unsupported_endpoints = {"list", "delete", "remix"}

    with pytest.raises(NotSupportedError):
        await client.list()
    with pytest.raises(NotSupportedError):
        await client.delete(video_id)
    with pytest.raises(NotSupportedError):
        await client.remix(video_id, "again")

    assert (await client.retrieve(video_id)).id == video_id
    assert len(simulator.jobs) == 1


async def test_rate_limit_is_retried_after_the_advertised_delay(
    client: VideosClient, simulator: SimulatorServer, sleep: RecordingSleep
) -> None:
    simulator.config.retry_after_seconds = 0.05
    simulator.config.rate_limit_burst = 2

    page = await client.list()

    assert page.data == []
    assert sleep.calls == [0.05, 0.05]
    assert [r.status for r in simulator.requests] == [429, 429, 200]


async def test_rate_limited_create_is_resent_without_duplicates(
    client: VideosClient, simulator: SimulatorServer, sleep: RecordingSleep
) -> None:
    simulator.config.retry_after_seconds = 2
    simulator.config.rate_limit_burst = 1

    video = await client.create(**CREATE)

    assert list(simulator.jobs) == [video.id]
    assert sleep.calls == [2.0]
    assert len(posts(simulator)) == 2


async def test_long_retry_after_gives_up_at_once(
    session: aiohttp.ClientSession, simulator: SimulatorServer, sleep: RecordingSleep
) -> None:
    simulator.config.retry_after_seconds = 120
    simulator.config.rate_limit_burst = 5
    client = VideosClient(session, simulator.base_url, None, sleep=sleep, max_retry_after_seconds=60)

    with pytest.raises(RateLimitedError) as caught:
        await client.retrieve("video_x")

    assert caught.value.retry_after == 120
    assert sleep.calls == []
    assert len(simulator.requests) == 1


async def test_rate_limit_exhausts_retries(
    client: VideosClient, simulator: SimulatorServer, sleep: RecordingSleep
) -> None:
    simulator.config.retry_after_seconds = 0.05
    simulator.config.rate_limit_burst = 10

    with pytest.raises(RateLimitedError):
        await client.models()

    assert len(sleep.calls) == 3  # max_retries
    assert len(simulator.requests) == 4


async def test_ambiguous_create_is_reconciled_not_duplicated(client: VideosClient, simulator: SimulatorServer) -> None:
    simulator.config.fail_next_creates_with_500 = 1

    video = await client.create(**CREATE)

    assert list(simulator.jobs) == [video.id]
    assert len(posts(simulator)) == 1
    assert [r.status for r in simulator.requests if r.path == "/v1/videos"] == [500, 200]


async def test_ambiguous_create_with_a_simulated_clock(
    session: aiohttp.ClientSession, simulator: SimulatorServer, simulator_clock: ManualClock, sleep: RecordingSleep
) -> None:
    client = VideosClient(session, simulator.base_url, None, sleep=sleep, clock=simulator_clock)
    simulator_clock.advance(3600)
    older_twin = await client.create(**CREATE)  # same parameters, an hour before
    simulator_clock.advance(3600)
    simulator.config.fail_next_creates_with_500 = 1

    video = await client.create(**CREATE)

    assert video.id != older_twin.id
    assert set(simulator.jobs) == {older_twin.id, video.id}
    assert len(posts(simulator)) == 2


async def test_ambiguous_create_without_list_is_uncertain(client: VideosClient, simulator: SimulatorServer) -> None:
    simulator.config.fail_next_creates_with_500 = 1
    simulator.config.unsupported_endpoints = {"list"}

    with pytest.raises(CreateUncertainError) as caught:
        await client.create(**CREATE)

    assert "may or may not have started" in caught.value.message
    assert len(simulator.jobs) == 1  # it did start; the client did not start a second one
    assert len(posts(simulator)) == 1


async def test_unreachable_provider(client: VideosClient, simulator: SimulatorServer, sleep: RecordingSleep) -> None:
    await simulator.stop()

    with pytest.raises(ProviderUnavailableError) as caught:
        await client.retrieve("video_x")
    with pytest.raises(ProviderUnavailableError):
        await client.create(**CREATE)

    assert caught.value.status == 0
    assert len(sleep.calls) == 6  # three retries each; a create that never left may be re-sent
