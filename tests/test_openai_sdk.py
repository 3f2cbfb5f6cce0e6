"""The official openai SDK works unchanged against the simulator (the SDK marks videos deprecated)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from io import BytesIO
from pathlib import Path

import openai
import pytest
from PIL import Image

from bot.catalog import Catalog, ModelSpec
from bot.media import probe_video
from bot.simulator import SimulatorConfig, SimulatorServer

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

API_KEY = "sk-simulator-test"
FPS = 4
CATALOG = Catalog(
    models=[
        ModelSpec(id="tiny", sizes=["64x48", "48x64"], seconds=[1, 2], price_usd_per_second=0.01),
        ModelSpec(id="sora-2", sizes=["1280x720", "720x1280"], seconds=[4, 8, 12], price_usd_per_second=0.10),
    ]
)


@pytest.fixture
def simulator_config() -> SimulatorConfig:
    return SimulatorConfig(catalog=CATALOG, job_seconds=0.3, fps=FPS, seed=5, api_key=API_KEY)


@pytest.fixture
async def client(simulator: SimulatorServer) -> AsyncIterator[openai.AsyncOpenAI]:
    sdk = openai.AsyncOpenAI(base_url=simulator.base_url, api_key=API_KEY, max_retries=0)
    async with sdk:
        yield sdk


async def test_create_and_poll_retrieve_and_download(client: openai.AsyncOpenAI, tmp_path: Path):
    video = await client.videos.create_and_poll(
        prompt="a paper boat on a river", model="tiny", size="48x64", seconds="2", poll_interval_ms=50
    )
    assert video.status == "completed" and video.progress == 100
    assert (video.model, video.size, video.seconds) == ("tiny", "48x64", "2")
    assert video.expires_at == video.completed_at + 3600

    retrieved = await client.videos.retrieve(video.id)
    assert retrieved.id == video.id and retrieved.status == "completed"

    content = await client.videos.download_content(video.id)
    assert content.response.headers["content-type"] == "video/mp4"
    content.write_to_file(tmp_path / "clip.mp4")
    info = probe_video(tmp_path / "clip.mp4")
    assert (info.codec, info.width, info.height, info.frames) == ("h264", 48, 64, 2 * FPS)

    thumbnail = await client.videos.download_content(video.id, variant="thumbnail")
    assert Image.open(BytesIO(thumbnail.content)).format == "WEBP"
    sheet = await client.videos.download_content(video.id, variant="spritesheet")
    assert Image.open(BytesIO(sheet.content)).format == "JPEG"


async def test_create_sends_multipart_with_string_seconds(client: openai.AsyncOpenAI, simulator: SimulatorServer):
    video = await client.videos.create(prompt="defaults please")
    assert (video.status, video.model, video.size, video.seconds) == ("queued", "tiny", "64x48", "1")
    job = simulator.jobs[video.id]
    assert (job.prompt, job.request_content_type) == ("defaults please", "multipart/form-data")


async def test_input_reference_upload(client: openai.AsyncOpenAI, simulator: SimulatorServer):
    buffer = BytesIO()
    Image.new("RGB", (64, 48), (0, 0, 255)).save(buffer, format="PNG")
    video = await client.videos.create(
        prompt="animate", model="tiny", size="64x48", input_reference=("ref.png", buffer.getvalue(), "image/png")
    )
    assert simulator.jobs[video.id].reference_image == buffer.getvalue()
    with pytest.raises(openai.BadRequestError) as caught:
        await client.videos.create(
            prompt="animate", model="tiny", size="48x64", input_reference=("ref.png", buffer.getvalue(), "image/png")
        )
    assert caught.value.status_code == 400
    assert "Inpaint image must match the requested width and height" in caught.value.message


async def test_list_auto_paginates(client: openai.AsyncOpenAI, simulator: SimulatorServer):
    ids = [(await client.videos.create(prompt=f"clip {i}")).id for i in range(5)]
    listed = [video.id async for video in client.videos.list(limit=2)]
    assert sorted(listed) == sorted(ids)
    assert listed == sorted(ids, key=lambda i: simulator.jobs[i].sequence, reverse=True)
    list_calls = [r for r in simulator.requests if r.method == "GET" and r.path == "/v1/videos"]
    assert len(list_calls) == 3
    ascending = [video.id async for video in client.videos.list(limit=100, order="asc")]
    assert ascending == listed[::-1]


async def test_remix_and_delete(client: openai.AsyncOpenAI, simulator: SimulatorServer):
    source = await client.videos.create_and_poll(prompt="a cat", model="tiny", poll_interval_ms=50)
    remix = await client.videos.remix(source.id, prompt="a cat wearing a hat")
    assert remix.remixed_from_video_id == source.id and remix.prompt == "a cat wearing a hat"
    assert simulator.jobs[remix.id].request_content_type == "application/json"
    remix = await client.videos.poll(remix.id, poll_interval_ms=50)
    assert remix.status == "completed"

    deleted = await client.videos.delete(source.id)
    assert (deleted.id, deleted.deleted, deleted.object) == (source.id, True, "video.deleted")
    with pytest.raises(openai.NotFoundError) as caught:
        await client.videos.retrieve(source.id)
    assert caught.value.code == "not_found"


async def test_sdk_error_mapping(client: openai.AsyncOpenAI, simulator: SimulatorServer):
    with pytest.raises(openai.BadRequestError) as bad:
        await client.videos.create(prompt="x", model="sora-2", seconds="10")  # type: ignore[arg-type]
    assert (bad.value.code, bad.value.param) == ("invalid_value", "seconds")
    assert bad.value.message.endswith("Invalid value: '10'. Supported values are: '4', '8', and '12'.")

    with pytest.raises(openai.BadRequestError) as blocked:
        await client.videos.create(prompt="[moderation-sync]")
    assert blocked.value.code == "moderation_blocked"

    simulator.config.retired_models = {"sora-2"}
    with pytest.raises(openai.NotFoundError) as retired:
        await client.videos.create(prompt="x", model="sora-2")
    assert retired.value.code == "model_not_found"

    wrong_key = openai.AsyncOpenAI(base_url=simulator.base_url, api_key="sk-wrong", max_retries=0)
    async with wrong_key:
        with pytest.raises(openai.AuthenticationError) as auth:
            await wrong_key.videos.retrieve("video_x")
    assert auth.value.code == "invalid_api_key"


async def test_sdk_honours_retry_after_and_retries_ambiguous_500(simulator: SimulatorServer):
    simulator.config.rate_limit_burst = 1
    simulator.config.retry_after_seconds = 0.01
    simulator.config.fail_next_creates_with_500 = 1
    retrying = openai.AsyncOpenAI(base_url=simulator.base_url, api_key=API_KEY, max_retries=2)
    async with retrying:
        video = await retrying.videos.create(prompt="eventually")
    assert [r.status for r in simulator.requests] == [429, 500, 200]
    # the 500 had already created a job: the blind retry made a duplicate, which list reveals
    assert [job.prompt for job in simulator.jobs.values()] == ["eventually", "eventually"]
    assert video.id == list(simulator.jobs)[-1]


async def test_failed_job_is_returned_by_poll(client: openai.AsyncOpenAI, simulator: SimulatorServer):
    simulator.config.failure_rate = 1.0
    video = await client.videos.create_and_poll(prompt="doomed", poll_interval_ms=50)
    assert video.status == "failed"
    assert video.error is not None and video.error.code in {"internal_error", "video_generation_failed"}


async def test_sync_client_in_a_thread(simulator: SimulatorServer):
    def run() -> tuple[str, str]:
        with openai.OpenAI(base_url=simulator.base_url, api_key=API_KEY, max_retries=0) as sync_client:
            video = sync_client.videos.create_and_poll(prompt="sync", poll_interval_ms=50)
            return video.status, sync_client.videos.retrieve(video.id).status

    assert await asyncio.to_thread(run) == ("completed", "completed")
