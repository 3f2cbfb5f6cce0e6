"""The optional /v1/moderations pass, against a small aiohttp server of our own on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from pydantic import SecretStr

from bot.rules.moderation import FLAGGED_REASON, UNAVAILABLE_REASON, moderate

Handler = Callable[[web.Request], Any]


class FakeModeration:
    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.behaviour: str = "clean"
        self.release = asyncio.Event()  # set at teardown so a "slow" handler never outlives its test

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append((dict(request.headers), await request.json()))
        if self.behaviour == "slow":
            await self.release.wait()
        if self.behaviour == "error":
            return web.json_response({"error": {"message": "boom"}}, status=500)
        if self.behaviour == "garbage":
            return web.Response(text="<html>not json</html>", content_type="text/html")
        if self.behaviour == "shapeless":
            return web.json_response({"results": [{"categories": {}}]})
        flagged = self.behaviour == "flagged"
        return web.json_response(
            {
                "id": "modr-1",
                "model": "omni-moderation-latest",
                "results": [
                    {
                        "flagged": flagged,
                        "categories": {"sexual": False, "violence/graphic": flagged, "hate": False},
                        "category_scores": {"violence/graphic": 0.97 if flagged else 0.01},
                    }
                ],
            }
        )


@pytest.fixture
async def server() -> AsyncIterator[tuple[FakeModeration, str]]:
    fake = FakeModeration()
    app = web.Application()
    app.router.add_post("/v1/moderations", fake.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield fake, f"http://127.0.0.1:{port}/v1"
    finally:
        fake.release.set()
        await runner.cleanup()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


async def test_clean_prompt_is_allowed_and_request_has_openai_shape(
    server: tuple[FakeModeration, str], session: aiohttp.ClientSession
) -> None:
    fake, base_url = server
    verdict = await moderate(
        session, "a calm lake", base_url=base_url + "/", api_key=SecretStr("sk-test-123"), model="my-moderation-model"
    )
    assert verdict.allowed
    headers, body = fake.requests[0]
    assert body == {"model": "my-moderation-model", "input": "a calm lake"}
    assert headers["Authorization"] == "Bearer sk-test-123"


async def test_flagged_prompt_is_refused_with_a_generic_reason(
    server: tuple[FakeModeration, str], session: aiohttp.ClientSession
) -> None:
    fake, base_url = server
    fake.behaviour = "flagged"
    verdict = await moderate(session, "something awful", base_url=base_url, api_key=None)
    assert (verdict.allowed, verdict.category, verdict.reason) == (False, "moderation", FLAGGED_REASON)
    assert verdict.rule == "moderation:violence"
    assert "Authorization" not in fake.requests[0][0]


@pytest.mark.parametrize("behaviour", ["slow", "error", "garbage", "shapeless"])
async def test_unavailable_check_fails_closed_by_default(
    server: tuple[FakeModeration, str], session: aiohttp.ClientSession, behaviour: str
) -> None:
    fake, base_url = server
    fake.behaviour = behaviour
    verdict = await moderate(
        session, "a calm lake", base_url=base_url, api_key=SecretStr("sk-secret"), timeout_seconds=0.3
    )
    assert (verdict.allowed, verdict.category, verdict.reason) == (False, "moderation", UNAVAILABLE_REASON)
    assert verdict.rule == "moderation:unavailable"
    assert "sk-secret" not in repr(verdict)


@pytest.mark.parametrize("behaviour", ["slow", "error"])
async def test_unavailable_check_can_fail_open(
    server: tuple[FakeModeration, str], session: aiohttp.ClientSession, behaviour: str
) -> None:
    fake, base_url = server
    fake.behaviour = behaviour
    verdict = await moderate(
        session, "a calm lake", base_url=base_url, api_key=None, timeout_seconds=0.3, fail_open=True
    )
    assert verdict.allowed


async def test_unreachable_endpoint_fails_closed(session: aiohttp.ClientSession) -> None:
    # Port 9 on loopback: nothing listens there, the connection is refused at once.
    verdict = await moderate(session, "x", base_url="http://127.0.0.1:9/v1", api_key=None, timeout_seconds=1)
    assert verdict.category == "moderation" and not verdict.allowed
