"""The /v1/videos simulator over real loopback HTTP (aiohttp client, no mocks)."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from io import BytesIO
from pathlib import Path
from typing import Any

import aiohttp
import av
import numpy as np
import pytest
from PIL import Image

from bot.catalog import Catalog, ModelSpec
from bot.media import probe_video
from bot.providers.base import Video, VideoList, VideoStatus
from bot.simulator import ManualClock, SimulatorConfig, SimulatorServer

TEST_CATALOG = Catalog(
    models=[
        ModelSpec(id="tiny", sizes=["64x48", "48x64"], seconds=[1, 2], price_usd_per_second=0.01),
        ModelSpec(id="sora-2", sizes=["1280x720", "720x1280"], seconds=[4, 8, 12], price_usd_per_second=0.10),
    ]
)
JOB_SECONDS = 10.0
FPS = 6


@pytest.fixture
def simulator_config() -> SimulatorConfig:
    return SimulatorConfig(catalog=TEST_CATALOG, job_seconds=JOB_SECONDS, fps=FPS, seed=7)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


# --------------------------------------------------------------------------- helpers


async def create(
    http: aiohttp.ClientSession, server: SimulatorServer, expect: int = 200, **body: Any
) -> dict[str, Any]:
    body.setdefault("prompt", "a red fox running through snow")
    async with http.post(f"{server.base_url}/videos", json=body) as resp:
        payload = await resp.json()
        assert resp.status == expect, payload
        return payload


async def get_json(http: aiohttp.ClientSession, url: str, expect: int = 200) -> dict[str, Any]:
    async with http.get(url) as resp:
        payload = await resp.json()
        assert resp.status == expect, payload
        return payload


def assert_error(payload: dict[str, Any], code: str | None, param: str | None = None) -> dict[str, Any]:
    error = payload["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["code"] == code
    assert error["message"]
    if param is not None:
        assert error["param"] == param
    return error


def png_bytes(size: tuple[int, int], color: tuple[int, int, int] = (200, 30, 30), fmt: str = "PNG") -> bytes:
    buffer = BytesIO()
    Image.new("RGB", size, color).save(buffer, format=fmt)
    return buffer.getvalue()


# --------------------------------------------------------------------------- create


async def test_create_json_defaults_returns_a_queued_video(http: aiohttp.ClientSession, simulator: SimulatorServer):
    async with http.post(f"{simulator.base_url}/videos", json={"prompt": "hello"}) as resp:
        assert resp.status == 200
        assert resp.content_type == "application/json"
        assert resp.headers["x-request-id"].startswith("req_")
        body = await resp.json()
    assert set(body) == {
        "id",
        "object",
        "model",
        "status",
        "progress",
        "created_at",
        "completed_at",
        "expires_at",
        "prompt",
        "size",
        "seconds",
        "remixed_from_video_id",
        "error",
    }
    video = Video.model_validate(body)
    assert body["id"].startswith("video_") and len(body["id"]) == len("video_") + 48
    assert int(body["id"][6:], 16) >= 0
    assert (video.status, video.progress, video.model, video.size, body["seconds"]) == (
        VideoStatus.QUEUED,
        0,
        "tiny",
        "64x48",
        "1",
    )
    assert body["object"] == "video" and body["completed_at"] is None and body["error"] is None
    assert simulator.jobs[body["id"]].prompt == "hello"


async def test_create_multipart_with_string_fields(http: aiohttp.ClientSession, simulator: SimulatorServer):
    form = aiohttp.FormData()
    for name, value in {"prompt": "city at night", "model": "sora-2", "size": "720x1280", "seconds": "8"}.items():
        form.add_field(name, value)
    async with http.post(f"{simulator.base_url}/videos", data=form) as resp:
        body = await resp.json()
        assert resp.status == 200, body
    assert (body["model"], body["size"], body["seconds"], body["prompt"]) == (
        "sora-2",
        "720x1280",
        "8",
        "city at night",
    )


async def test_prompt_of_exactly_32000_characters_is_accepted(http: aiohttp.ClientSession, simulator: SimulatorServer):
    body = await create(http, simulator, prompt="p" * 32_000)
    assert len(body["prompt"]) == 32_000


@pytest.mark.parametrize(
    ("body", "code", "param", "message"),
    [
        (
            {"model": "sora-2", "seconds": "10"},
            "invalid_value",
            "seconds",
            "Invalid value: '10'. Supported values are: '4', '8', and '12'.",
        ),
        (
            {"model": "sora-2", "size": "999x999"},
            "invalid_value",
            "size",
            "Invalid value: '999x999'. Supported values are: '1280x720' and '720x1280'.",
        ),
        (
            {"model": "veo-9"},
            "invalid_value",
            "model",
            "Invalid value: 'veo-9'. Supported values are: 'tiny' and 'sora-2'.",
        ),
        ({"duration": 5}, "unknown_parameter", "duration", "Unknown parameter: 'duration'."),
        (
            {"seconds": 1},
            "invalid_type",
            "seconds",
            "Invalid type for 'seconds': expected a string, but got an integer instead.",
        ),
        ({"prompt": ""}, "invalid_value", "prompt", None),
        ({"prompt": "x" * 32_001}, "invalid_value", "prompt", None),
        ({"prompt": None}, "invalid_type", "prompt", None),
        ({"input_reference": "https://example.com/a.png"}, "invalid_type", "input_reference", None),
    ],
)
async def test_create_rejects_invalid_parameters(
    http: aiohttp.ClientSession,
    simulator: SimulatorServer,
    body: dict[str, Any],
    code: str,
    param: str,
    message: str | None,
):
    payload = await create(http, simulator, expect=400, **body)
    error = assert_error(payload, code, param)
    assert error["type"] == "invalid_request_error"
    if message is not None:
        assert error["message"] == message
    assert simulator.jobs == {}


async def test_create_without_prompt_and_with_broken_json(http: aiohttp.ClientSession, simulator: SimulatorServer):
    async with http.post(f"{simulator.base_url}/videos", json={"model": "tiny"}) as resp:
        assert resp.status == 400
        assert_error(await resp.json(), "missing_required_parameter", "prompt")
    async with http.post(
        f"{simulator.base_url}/videos", data=b"{not json", headers={"Content-Type": "application/json"}
    ) as resp:
        assert resp.status == 400
        assert resp.content_type == "application/json"
        assert "JSON" in (await resp.json())["error"]["message"]


async def test_multipart_rejects_invalid_seconds_like_json(http: aiohttp.ClientSession, simulator: SimulatorServer):
    form = aiohttp.FormData({"prompt": "x", "seconds": "3"})
    form.add_field("extra", "1")
    async with http.post(f"{simulator.base_url}/videos", data=form) as resp:
        assert resp.status == 400
        assert_error(await resp.json(), "unknown_parameter", "extra")
    async with http.post(
        f"{simulator.base_url}/videos", data=aiohttp.FormData({"prompt": "x", "seconds": "3"})
    ) as resp:
        error = assert_error(await resp.json(), "invalid_value", "seconds")
    assert error["message"] == "Invalid value: '3'. Supported values are: '1' and '2'."


# --------------------------------------------------------------------------- input_reference


def reference_form(data: bytes | str, *, filename: str | None = "ref.png", content_type: str = "image/png"):
    form = aiohttp.FormData()
    form.add_field("prompt", "animate this")
    form.add_field("size", "64x48")
    form.add_field("seconds", "1")
    if isinstance(data, str):
        form.add_field("input_reference", data)
    else:
        form.add_field("input_reference", data, filename=filename, content_type=content_type)
    return form


async def test_input_reference_file_becomes_the_first_frame(
    http: aiohttp.ClientSession, simulator: SimulatorServer, simulator_clock: ManualClock, tmp_path: Path
):
    async with http.post(f"{simulator.base_url}/videos", data=reference_form(png_bytes((64, 48)))) as resp:
        body = await resp.json()
        assert resp.status == 200, body
    simulator_clock.advance(JOB_SECONDS)
    async with http.get(f"{simulator.base_url}/videos/{body['id']}/content") as resp:
        assert resp.status == 200
        (tmp_path / "v.mp4").write_bytes(await resp.read())
    with av.open(str(tmp_path / "v.mp4")) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    first = frames[0].reshape(-1, 3).mean(axis=0)
    assert np.allclose(first, (200, 30, 30), atol=12)
    assert np.abs(frames[-1].astype(int) - frames[0].astype(int)).mean() > 10


@pytest.mark.parametrize("fmt", ["JPEG", "WEBP"])
async def test_input_reference_accepts_jpeg_and_webp(http: aiohttp.ClientSession, simulator: SimulatorServer, fmt: str):
    data = png_bytes((64, 48), fmt=fmt)
    form = reference_form(data, filename=f"ref.{fmt.lower()}", content_type=f"image/{fmt.lower()}")
    async with http.post(f"{simulator.base_url}/videos", data=form) as resp:
        assert resp.status == 200, await resp.text()


async def test_input_reference_must_match_size(http: aiohttp.ClientSession, simulator: SimulatorServer):
    async with http.post(f"{simulator.base_url}/videos", data=reference_form(png_bytes((48, 64)))) as resp:
        assert resp.status == 400
        error = assert_error(await resp.json(), "invalid_value", "input_reference")
    assert error["message"] == "Inpaint image must match the requested width and height"


async def test_input_reference_as_string_part_is_invalid_type(http: aiohttp.ClientSession, simulator: SimulatorServer):
    async with http.post(f"{simulator.base_url}/videos", data=reference_form("iVBORw0KGgo=")) as resp:
        assert resp.status == 400
        error = assert_error(await resp.json(), "invalid_type", "input_reference")
    assert error["message"] == "Invalid type for 'input_reference': expected a file, but got a string instead."


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (png_bytes((64, 48), fmt="GIF"), "image/gif"),
        (png_bytes((64, 48), fmt="JPEG"), "image/png"),  # declared type does not match the bytes
        (b"not an image at all", "image/png"),
    ],
)
async def test_input_reference_rejects_other_files(
    http: aiohttp.ClientSession, simulator: SimulatorServer, data: bytes, content_type: str
):
    async with http.post(f"{simulator.base_url}/videos", data=reference_form(data, content_type=content_type)) as resp:
        assert resp.status == 400
        assert_error(await resp.json(), "invalid_value", "input_reference")


async def test_input_reference_json_object_forms(http: aiohttp.ClientSession, simulator: SimulatorServer):
    data_url = "data:image/png;base64," + base64.b64encode(png_bytes((64, 48))).decode()
    ok = await create(http, simulator, size="64x48", input_reference={"image_url": data_url})
    assert simulator.jobs[ok["id"]].reference_image is not None
    wrong = "data:image/png;base64," + base64.b64encode(png_bytes((10, 10))).decode()
    payload = await create(http, simulator, expect=400, size="64x48", input_reference={"image_url": wrong})
    assert_error(payload, "invalid_value", "input_reference")
    payload = await create(http, simulator, expect=400, input_reference={"file_id": "file-123"})
    assert_error(payload, "invalid_value", "input_reference.file_id")
    payload = await create(http, simulator, expect=400, input_reference={"image_url": data_url, "file_id": "f"})
    assert_error(payload, "invalid_value", "input_reference")


# --------------------------------------------------------------------------- status and retrieval


async def test_status_progresses_with_the_injected_clock(
    http: aiohttp.ClientSession, simulator: SimulatorServer, simulator_clock: ManualClock
):
    created = await create(http, simulator)
    url = f"{simulator.base_url}/videos/{created['id']}"
    seen: list[tuple[str, int]] = []
    for offset in (0.0, 0.5, 2.0, 5.0, 9.0):
        simulator_clock.now = created["created_at"] + offset
        body = await get_json(http, url)
        seen.append((body["status"], body["progress"]))
        assert body["completed_at"] is None
    assert seen[0] == ("queued", 0) and seen[1] == ("queued", 0)
    in_progress = [progress for status, progress in seen[2:]]
    assert all(status == "in_progress" for status, _ in seen[2:])
    assert in_progress == sorted(in_progress) and in_progress[0] < in_progress[-1] < 100
    simulator_clock.now = created["created_at"] + JOB_SECONDS
    done = await get_json(http, url)
    assert (done["status"], done["progress"]) == ("completed", 100)
    assert done["completed_at"] == created["created_at"] + int(JOB_SECONDS)
    assert done["expires_at"] == done["completed_at"] + 3600
    assert Video.model_validate(done).status.terminal


async def test_poll_after_header_while_running(
    http: aiohttp.ClientSession, simulator: SimulatorServer, simulator_clock: ManualClock
):
    simulator.config.poll_after_ms = 250
    created = await create(http, simulator)
    async with http.get(f"{simulator.base_url}/videos/{created['id']}") as resp:
        assert resp.headers["openai-poll-after-ms"] == "250"
    simulator_clock.advance(JOB_SECONDS)
    async with http.get(f"{simulator.base_url}/videos/{created['id']}") as resp:
        assert "openai-poll-after-ms" not in resp.headers


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [("GET", "", None), ("GET", "/content", None), ("DELETE", "", None), ("POST", "/remix", {"prompt": "x"})],
)
async def test_unknown_video_id_is_404_not_found(
    http: aiohttp.ClientSession, simulator: SimulatorServer, method: str, suffix: str, body: dict[str, str] | None
):
    url = f"{simulator.base_url}/videos/video_doesnotexist{suffix}"
    async with http.request(method, url, json=body) as resp:
        assert resp.status == 404
        assert resp.content_type == "application/json"
        error = assert_error(await resp.json(), "not_found")
    assert error["type"] == "invalid_request_error"


async def test_unknown_route_is_openai_style_json_404(http: aiohttp.ClientSession, simulator: SimulatorServer):
    async with http.get(f"{simulator.base_url}/videos/x/characters/y") as resp:
        assert resp.status == 404
        error = (await resp.json())["error"]
    assert error["message"] == "Invalid URL (GET /v1/videos/x/characters/y)"


# --------------------------------------------------------------------------- failures


async def test_failure_rate_one_fails_every_job(
    http: aiohttp.ClientSession, simulator: SimulatorServer, simulator_clock: ManualClock
):
    simulator.config.failure_rate = 1.0
    created = await create(http, simulator)
    simulator_clock.advance(JOB_SECONDS)
    body = await get_json(http, f"{simulator.base_url}/videos/{created['id']}")
    video = Video.model_validate(body)
    assert video.status is VideoStatus.FAILED
    assert video.error is not None and video.error.code in {"internal_error", "video_generation_failed"}
    assert body["expires_at"] is None and body["completed_at"] is not None
    async with http.get(f"{simulator.base_url}/videos/{created['id']}/content") as resp:
        assert resp.status == 400
        assert_error(await resp.json(), "video_not_completed")


async def test_seed_makes_ids_and_failures_deterministic():
    async def run(seed: int) -> list[tuple[str, str]]:
        clock = ManualClock()
        config = SimulatorConfig(catalog=TEST_CATALOG, job_seconds=1, failure_rate=0.5, seed=seed, clock=clock)
        async with SimulatorServer(config) as server, aiohttp.ClientSession() as http:
            ids = [(await create(http, server))["id"] for _ in range(8)]
            clock.advance(1)
            return [(i, (await get_json(http, f"{server.base_url}/videos/{i}"))["status"]) for i in ids]

    first, second, other = await run(42), await run(42), await run(43)
    assert first == second
    assert {status for _, status in first} == {"completed", "failed"}
    assert [i for i, _ in first] != [i for i, _ in other]


async def test_moderation_sync_blocks_at_create(http: aiohttp.ClientSession, simulator: SimulatorServer):
    payload = await create(http, simulator, expect=400, prompt="a scene [moderation-sync] here")
    assert payload == {
        "error": {
            "type": "invalid_request_error",
            "code": "moderation_blocked",
            "message": "Your request was blocked by our moderation system.",
            "param": None,
        }
    }
    simulator.config.moderation_terms = ("forbidden words",)
    await create(http, simulator, prompt="a scene [moderation-sync] here")
    await create(http, simulator, expect=400, prompt="some FORBIDDEN words")


async def test_moderation_async_fails_the_job(
    http: aiohttp.ClientSession, simulator: SimulatorServer, simulator_clock: ManualClock
):
    created = await create(http, simulator, prompt="[moderation-async] please")
    assert created["status"] == "queued"
    simulator_clock.advance(JOB_SECONDS)
    body = await get_json(http, f"{simulator.base_url}/videos/{created['id']}")
    assert body["status"] == "failed"
    assert body["error"] == {
        "code": "moderation_blocked",
        "message": "Your request was blocked by our moderation system.",
    }


async def test_retired_model_is_404_model_not_found(http: aiohttp.ClientSession, simulator: SimulatorServer):
    simulator.config.retired_models = {"sora-2"}
    payload = await create(http, simulator, expect=404, model="sora-2")
    assert_error(payload, "model_not_found", "model")
    models = await get_json(http, f"{simulator.base_url}/models")
    assert [m["id"] for m in models["data"]] == ["tiny"]


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer sk-right"},
        {"api-key": "sk-right"},
        {"x-litellm-api-key": "sk-right"},
    ],
)
async def test_api_key_accepted_in_three_headers(simulator: SimulatorServer, headers: dict[str, str]):
    simulator.config.api_key = "sk-right"
    async with aiohttp.ClientSession(headers=headers) as http:
        await create(http, simulator)


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer sk-wrong"}, {"api-key": "sk-righ"}, {"Authorization": "sk-right"}]
)
async def test_missing_or_wrong_api_key_is_401(simulator: SimulatorServer, headers: dict[str, str]):
    simulator.config.api_key = "sk-right"
    async with aiohttp.ClientSession(headers=headers) as http, http.get(f"{simulator.base_url}/videos") as resp:
        assert resp.status == 401
        body = await resp.text()
    error = assert_error(json.loads(body), "invalid_api_key")
    assert error["type"] == "invalid_request_error"
    assert "sk-right" not in body


async def test_rate_limit_burst_answers_429_with_retry_after(http: aiohttp.ClientSession, simulator: SimulatorServer):
    simulator.config.rate_limit_burst = 2
    simulator.config.retry_after_seconds = 3
    for url in (f"{simulator.base_url}/videos", f"{simulator.base_url}/models"):
        async with http.get(url) as resp:
            assert resp.status == 429
            assert resp.headers["Retry-After"] == "3"
            assert resp.headers["retry-after-ms"] == "3000"
            assert_error(await resp.json(), "rate_limit_exceeded")
    await get_json(http, f"{simulator.base_url}/videos")
    assert simulator.config.rate_limit_burst == 0
    assert [r.status for r in simulator.requests] == [429, 429, 200]


async def test_fractional_retry_after_is_kept(http: aiohttp.ClientSession, simulator: SimulatorServer):
    simulator.config.rate_limit_burst = 1
    simulator.config.retry_after_seconds = 0.05
    async with http.post(f"{simulator.base_url}/videos", json={"prompt": "x"}) as resp:
        assert resp.status == 429
        assert (resp.headers["Retry-After"], resp.headers["retry-after-ms"]) == ("0.05", "50")
    assert simulator.jobs == {}


async def test_ambiguous_500_still_creates_the_job(http: aiohttp.ClientSession, simulator: SimulatorServer):
    simulator.config.fail_next_creates_with_500 = 1
    async with http.post(f"{simulator.base_url}/videos", json={"prompt": "ambiguous one"}) as resp:
        assert resp.status == 500
        error = assert_error(await resp.json(), None)
    assert error["type"] == "server_error"
    listing = await get_json(http, f"{simulator.base_url}/videos")
    assert [v["prompt"] for v in listing["data"]] == ["ambiguous one"]
    await create(http, simulator, prompt="second")
    assert len(simulator.jobs) == 2


@pytest.mark.parametrize(
    ("endpoint", "method", "suffix", "body"),
    [("list", "GET", "", None), ("delete", "DELETE", "/{id}", None), ("remix", "POST", "/{id}/remix", {"prompt": "x"})],
)
async def test_unsupported_endpoints_answer_plain_text_404(
    http: aiohttp.ClientSession,
    simulator: SimulatorServer,
    simulator_clock: ManualClock,
    endpoint: str,
    method: str,
    suffix: str,
    body: dict[str, str] | None,
):
    created = await create(http, simulator)
    simulator_clock.advance(JOB_SECONDS)
    simulator.config.unsupported_endpoints = {endpoint}
    async with http.request(method, f"{simulator.base_url}/videos{suffix.format(id=created['id'])}", json=body) as resp:
        assert resp.status == 404
        assert resp.content_type == "text/plain"
        text = await resp.text()
    assert text == "404: Not Found"
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)
    retrieved = await get_json(http, f"{simulator.base_url}/videos/{created['id']}")
    assert retrieved["status"] == "completed"


# --------------------------------------------------------------------------- list


async def test_list_paginates_with_cursor(
    http: aiohttp.ClientSession, simulator: SimulatorServer, simulator_clock: ManualClock
):
    created = []
    for i in range(5):
        created.append((await create(http, simulator, prompt=f"clip {i}"))["id"])
        simulator_clock.advance(1)

    async def walk(order: str) -> tuple[list[str], list[bool]]:
        ids: list[str] = []
        flags: list[bool] = []
        after = None
        while True:
            url = f"{simulator.base_url}/videos?limit=2&order={order}" + (f"&after={after}" if after else "")
            page = VideoList.model_validate(await get_json(http, url))
            assert page.first_id == page.data[0].id and page.last_id == page.data[-1].id
            ids += [v.id for v in page.data]
            flags.append(page.has_more)
            if not page.has_more:
                return ids, flags
            after = page.last_id

    desc, desc_flags = await walk("desc")
    assert desc == created[::-1] and desc_flags == [True, True, False]
    asc, _ = await walk("asc")
    assert asc == created
    default = await get_json(http, f"{simulator.base_url}/videos")
    assert [v["id"] for v in default["data"]] == created[::-1] and default["has_more"] is False


async def test_list_empty(http: aiohttp.ClientSession, simulator: SimulatorServer):
    body = await get_json(http, f"{simulator.base_url}/videos")
    assert body == {"object": "list", "data": [], "first_id": None, "last_id": None, "has_more": False}


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=ten", "limit"),
        ("order=up", "order"),
        ("after=nope", "after"),
    ],
)
async def test_list_rejects_bad_parameters(
    http: aiohttp.ClientSession, simulator: SimulatorServer, query: str, param: str
):
    payload = await get_json(http, f"{simulator.base_url}/videos?{query}", expect=400)
    assert payload["error"]["param"] == param


# --------------------------------------------------------------------------- content


async def test_content_variants_are_real_media(
    http: aiohttp.ClientSession, simulator: SimulatorServer, simulator_clock: ManualClock, tmp_path: Path
):
    created = await create(http, simulator, size="64x48", seconds="2")
    url = f"{simulator.base_url}/videos/{created['id']}/content"
    async with http.get(url) as resp:
        assert resp.status == 400
        assert_error(await resp.json(), "video_not_completed")
    simulator_clock.advance(JOB_SECONDS)

    async with http.get(url) as resp:
        assert resp.status == 200 and resp.content_type == "video/mp4"
        (tmp_path / "clip.mp4").write_bytes(await resp.read())
    info = probe_video(tmp_path / "clip.mp4")
    assert (info.codec, info.width, info.height, info.frames) == ("h264", 64, 48, 2 * FPS)
    assert info.duration_seconds == pytest.approx(2.0, abs=0.01)
    with av.open(str(tmp_path / "clip.mp4")) as container:
        assert container.streams.video[0].codec_context.pix_fmt == "yuv420p"

    async with http.get(url, params={"variant": "thumbnail"}) as resp:
        assert resp.status == 200 and resp.content_type == "image/webp"
        thumbnail = Image.open(BytesIO(await resp.read()))
    assert (thumbnail.format, thumbnail.size) == ("WEBP", (64, 48))

    async with http.get(url, params={"variant": "spritesheet"}) as resp:
        assert resp.status == 200 and resp.content_type == "image/jpeg"
        sheet = Image.open(BytesIO(await resp.read()))
    assert sheet.format == "JPEG"
    assert sheet.width == 4 * 64 and sheet.height % 48 == 0

    async with http.get(url, params={"variant": "gif"}) as resp:
        assert resp.status == 400
        error = assert_error(await resp.json(), "invalid_value", "variant")
    assert error["message"] == "Invalid value: 'gif'. Supported values are: 'video', 'thumbnail', and 'spritesheet'."


async def test_large_clip_thumbnail_is_downscaled(
    http: aiohttp.ClientSession, simulator: SimulatorServer, simulator_clock: ManualClock, tmp_path: Path
):
    simulator.config.fps = 2
    created = await create(http, simulator, model="sora-2", size="1280x720", seconds="4")
    simulator_clock.advance(JOB_SECONDS)
    url = f"{simulator.base_url}/videos/{created['id']}/content"
    async with http.get(url) as resp:
        (tmp_path / "big.mp4").write_bytes(await resp.read())
    info = probe_video(tmp_path / "big.mp4")
    assert (info.width, info.height, info.frames) == (1280, 720, 8)
    async with http.get(url, params={"variant": "thumbnail"}) as resp:
        assert Image.open(BytesIO(await resp.read())).size == (640, 360)


async def test_media_is_rendered_once(
    http: aiohttp.ClientSession, simulator: SimulatorServer, simulator_clock: ManualClock
):
    created = await create(http, simulator)
    simulator_clock.advance(JOB_SECONDS)
    url = f"{simulator.base_url}/videos/{created['id']}/content"

    async def fetch(variant: str) -> int:
        async with http.get(url, params={"variant": variant}) as resp:
            await resp.read()
            return resp.status

    statuses = await asyncio.gather(*(fetch(v) for v in ("video", "thumbnail", "spritesheet", "video")))
    assert statuses == [200, 200, 200, 200]
    await get_json(http, f"{simulator.base_url}/videos/{created['id']}")
    assert simulator.render_count == 1


async def test_temporary_media_dir_is_removed_on_stop(http: aiohttp.ClientSession, tmp_path: Path):
    clock = ManualClock()
    async with SimulatorServer(SimulatorConfig(catalog=TEST_CATALOG, job_seconds=1, clock=clock)) as server:
        created = await create(http, server)
        clock.advance(1)
        async with http.get(f"{server.base_url}/videos/{created['id']}/content") as resp:
            assert resp.status == 200
        media_root = server.state.media_root()
        assert any(media_root.rglob("video.mp4"))
    assert not media_root.exists()

    for keep in (False, True):
        config = SimulatorConfig(catalog=TEST_CATALOG, job_seconds=0, media_dir=tmp_path / "media", keep_media=keep)
        async with SimulatorServer(config) as server:
            created = await create(http, server)
            async with http.get(f"{server.base_url}/videos/{created['id']}/content") as resp:
                assert resp.status == 200
            assert server.state.media_root().parent == tmp_path / "media"
        assert len(list((tmp_path / "media").rglob("video.mp4"))) == int(keep)


# --------------------------------------------------------------------------- remix and delete


async def test_remix_of_completed_video(
    http: aiohttp.ClientSession, simulator: SimulatorServer, simulator_clock: ManualClock
):
    source = await create(http, simulator, size="48x64", seconds="2")
    remix_url = f"{simulator.base_url}/videos/{source['id']}/remix"
    async with http.post(remix_url, json={"prompt": "now in blue"}) as resp:
        assert resp.status == 400
        assert_error(await resp.json(), "video_not_completed")
    simulator_clock.advance(JOB_SECONDS)

    async with http.post(remix_url, json={"prompt": "now in blue"}) as resp:
        remix = await resp.json()
        assert resp.status == 200, remix
    assert remix["remixed_from_video_id"] == source["id"] and remix["id"] != source["id"]
    assert (remix["size"], remix["seconds"], remix["model"], remix["prompt"]) == ("48x64", "2", "tiny", "now in blue")
    assert remix["status"] == "queued"

    async with http.post(remix_url, data=aiohttp.FormData({"prompt": "multipart remix"})) as resp:
        assert resp.status == 200
        assert (await resp.json())["remixed_from_video_id"] == source["id"]
    async with http.post(remix_url, json={"prompt": "x", "seconds": "2"}) as resp:
        assert_error(await resp.json(), "unknown_parameter", "seconds")
    async with http.post(remix_url, json={"prompt": "[moderation-sync]"}) as resp:
        assert_error(await resp.json(), "moderation_blocked")


async def test_delete_finished_videos_only(
    http: aiohttp.ClientSession, simulator: SimulatorServer, simulator_clock: ManualClock
):
    first = await create(http, simulator)
    second = await create(http, simulator)
    async with http.delete(f"{simulator.base_url}/videos/{first['id']}") as resp:
        assert resp.status == 400
        error = assert_error(await resp.json(), "video_in_progress")
    assert "only completed or failed" in error["message"]

    simulator_clock.advance(JOB_SECONDS)
    async with http.get(f"{simulator.base_url}/videos/{first['id']}/content") as resp:
        assert resp.status == 200
    async with http.delete(f"{simulator.base_url}/videos/{first['id']}") as resp:
        assert resp.status == 200
        assert await resp.json() == {"id": first["id"], "object": "video.deleted", "deleted": True}
    await get_json(http, f"{simulator.base_url}/videos/{first['id']}", expect=404)
    listing = await get_json(http, f"{simulator.base_url}/videos")
    assert [v["id"] for v in listing["data"]] == [second["id"]]
    assert not any(simulator.state.media_root().rglob("video.mp4"))
    after_deleted = await get_json(http, f"{simulator.base_url}/videos?order=asc&after={first['id']}")
    assert [v["id"] for v in after_deleted["data"]] == [second["id"]]


async def test_failed_video_can_be_deleted(
    http: aiohttp.ClientSession, simulator: SimulatorServer, simulator_clock: ManualClock
):
    simulator.config.failure_rate = 1.0
    created = await create(http, simulator)
    simulator_clock.advance(JOB_SECONDS)
    async with http.delete(f"{simulator.base_url}/videos/{created['id']}") as resp:
        assert resp.status == 200
    assert simulator.jobs == {}


# --------------------------------------------------------------------------- ids, models, moderation, log


async def test_long_opaque_ids_work_everywhere(
    http: aiohttp.ClientSession, simulator: SimulatorServer, simulator_clock: ManualClock
):
    simulator.config.id_length = 150
    created = await create(http, simulator)
    video_id = created["id"]
    assert len(video_id) == 150 and not video_id.startswith("video_")
    simulator_clock.advance(JOB_SECONDS)
    assert (await get_json(http, f"{simulator.base_url}/videos/{video_id}"))["status"] == "completed"
    async with http.get(f"{simulator.base_url}/videos/{video_id}/content") as resp:
        assert resp.status == 200
    second = await create(http, simulator)
    page = await get_json(http, f"{simulator.base_url}/videos?limit=1&after={second['id']}")
    assert [v["id"] for v in page["data"]] == [video_id]


async def test_models_endpoint_lists_the_catalog(http: aiohttp.ClientSession, simulator: SimulatorServer):
    body = await get_json(http, f"{simulator.base_url}/models")
    assert body["object"] == "list"
    assert [(m["id"], m["object"]) for m in body["data"]] == [("tiny", "model"), ("sora-2", "model")]
    assert (await get_json(http, f"{simulator.base_url}/models/sora-2"))["id"] == "sora-2"
    assert_error(await get_json(http, f"{simulator.base_url}/models/nope", expect=404), "model_not_found")


async def test_moderations_endpoint(http: aiohttp.ClientSession, simulator: SimulatorServer):
    url = f"{simulator.base_url}/moderations"
    async with http.post(url, json={"input": ["a calm lake", "please [FLAG-ME] now"]}) as resp:
        body = await resp.json()
    assert set(body) == {"id", "model", "results"} and body["model"] == "omni-moderation-latest"
    clean, flagged = body["results"]
    assert clean["flagged"] is False and not any(clean["categories"].values())
    assert flagged["flagged"] is True and flagged["categories"]["sexual"] is True
    assert flagged["category_scores"]["sexual"] > 0.5 > flagged["category_scores"]["violence"]

    simulator.config.moderation_flag_terms = ("knife",)
    simulator.config.moderation_flag_categories = ("violence",)
    async with http.post(url, json={"input": "a knife fight", "model": "text-moderation-latest"}) as resp:
        body = await resp.json()
    (result,) = body["results"]
    assert body["model"] == "text-moderation-latest"
    assert result["flagged"] and result["categories"]["violence"] and not result["categories"]["sexual"]

    async with http.post(url, json={"model": "x"}) as resp:
        assert resp.status == 400
        assert_error(await resp.json(), "missing_required_parameter", "input")


async def test_requests_are_recorded(http: aiohttp.ClientSession, simulator: SimulatorServer):
    created = await create(http, simulator)
    await get_json(http, f"{simulator.base_url}/videos/nope", expect=404)
    assert simulator.requests == [
        ("POST", "/v1/videos", 200),
        ("GET", "/v1/videos/nope", 404),
    ]
    assert created["id"] in simulator.jobs
    assert simulator.base_url == f"http://127.0.0.1:{simulator.port}/v1"
