"""VideosClient against scripted loopback servers: what the simulator cannot produce.

Each test starts a tiny aiohttp server on 127.0.0.1 that plays one gateway quirk (non-JSON
bodies, odd Retry-After headers, dropped connections, redirects, …) and records what it got.
"""

from __future__ import annotations

import asyncio
import email.parser
import email.policy
import email.utils
import json
import logging
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict

import aiohttp
import pytest
from aiohttp import web
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
    ServerError,
    VideoStatus,
)
from bot.providers.openai import DownloadTooLargeError, ReferenceImage, VideosClient

KEY = "test-SECRET-key-0123456789abcdef"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


# --------------------------------------------------------------------------- scripted servers


@dataclass
class Seen:
    method: str
    path: str  # decoded path
    raw_path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


@dataclass
class Server:
    base: str  # http://127.0.0.1:port
    seen: list[Seen] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return self.base + "/v1"

    def calls(self, method: str, path: str) -> list[Seen]:
        return [s for s in self.seen if s.method == method and s.path == path]


Serve = Callable[..., Awaitable[Server]]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """``await serve(handler, port=0)`` starts a recording server; all are stopped at teardown."""
    runners: list[web.AppRunner] = []

    async def start(handler: Handler, *, port: int = 0) -> Server:
        server = Server(base="")

        async def record(request: web.Request) -> web.StreamResponse:
            body = await request.read()
            server.seen.append(
                Seen(request.method, request.path, request.raw_path, dict(request.query), dict(request.headers), body)
            )
            return await handler(request)

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", record)
        runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.5)
        await runner.setup()
        runners.append(runner)
        site = web.TCPSite(runner, "127.0.0.1", port)
        await site.start()
        sockets = site._server.sockets  # type: ignore[union-attr]
        server.base = f"http://127.0.0.1:{sockets[0].getsockname()[1]}"
        return server

    yield start
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


class RecordingSleep:
    """Injected ``sleep``: records each delay and runs an optional hook instead of waiting."""

    def __init__(self, hook: Callable[[int], Awaitable[None]] | None = None) -> None:
        self.calls: list[float] = []
        self._hook = hook

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        if self._hook is not None:
            await self._hook(len(self.calls))


def always(make: Callable[[], web.StreamResponse]) -> Handler:
    """A handler that answers every request with a fresh ``make()``."""

    async def handler(request: web.Request) -> web.StreamResponse:
        return make()

    return handler


def make_client(
    session: aiohttp.ClientSession, base_url: str, sleep: RecordingSleep | None = None, **kwargs: Any
) -> VideosClient:
    kwargs.setdefault("api_key", SecretStr(KEY))
    return VideosClient(session, base_url, sleep=sleep or RecordingSleep(), **kwargs)


def api_error(
    status: int, message: str, code: str | None = None, param: str | None = None, **headers: str
) -> web.Response:
    body = {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}}
    return web.json_response(body, status=status, headers=headers)


def video(vid: str, *, prompt: str = "a cat", model: str = "sora-2", size: str = "1280x720", seconds: str = "4",
          created_at: int | None = None, **extra: Any) -> dict[str, Any]:  # fmt: skip
    return {
        "id": vid,
        "object": "video",
        "status": "queued",
        "progress": 0,
        "model": model,
        "prompt": prompt,
        "size": size,
        "seconds": seconds,
        "created_at": int(time.time()) if created_at is None else created_at,
        **extra,
    }


class CreateArgs(TypedDict):
    prompt: str
    model: str
    size: str
    seconds: int


CREATE: CreateArgs = {"prompt": "a cat", "model": "sora-2", "size": "1280x720", "seconds": 4}


class Gateway:
    """A minimal /v1/videos gateway whose create behaviour each test scripts.

    ``create_script`` is called per POST with (attempt number, stored video or None); it returns a
    response to send, or ``None`` to answer normally.  ``store`` decides whether the attempt's job
    is really created (so a dropped answer can still leave a job behind).
    """

    def __init__(self) -> None:
        self.videos: list[dict[str, Any]] = []
        self.posts = 0
        self.store: Callable[[int], bool] = lambda attempt: True
        self.create_script: Callable[[int, web.Request], Awaitable[web.StreamResponse | None]] | None = None
        self.list_response: Callable[[], web.StreamResponse] | None = None
        self.omit_fields: tuple[str, ...] = ()

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if request.method == "POST" and (path == "/v1/videos" or path.endswith("/remix")):
            return await self._create(request)
        if request.method == "GET" and path == "/v1/videos":
            if self.list_response is not None:
                return self.list_response()
            return self._list(request)
        for item in self.videos:
            if path == f"/v1/videos/{item['id']}":
                return web.json_response(item)
        return api_error(404, "No such video", "video_not_found")

    async def _create(self, request: web.Request) -> web.StreamResponse:
        self.posts += 1
        attempt = self.posts
        if request.content_type == "application/json":
            fields = await request.json()
        else:
            fields = dict(await request.post())
        item = None
        if self.store(attempt):
            item = video(f"video_{attempt}", prompt=fields["prompt"], model=fields.get("model", "sora-2"),
                         size=fields.get("size", "1280x720"), seconds=str(fields.get("seconds", "4")))  # fmt: skip
            if request.path.endswith("/remix"):
                item["remixed_from_video_id"] = request.match_info["tail"].split("/")[2]
            for name in self.omit_fields:
                item[name] = None
            self.videos.append(item)
        if self.create_script is not None:
            scripted = await self.create_script(attempt, request)
            if scripted is not None:
                return scripted
        return web.json_response(item) if item else api_error(500, "boom")

    def _list(self, request: web.Request) -> web.Response:
        order = request.query.get("order", "desc")
        limit = int(request.query.get("limit", "20"))
        items = sorted(self.videos, key=lambda v: (v["created_at"] or 0, v["id"]), reverse=order == "desc")
        after = request.query.get("after")
        if after:
            ids = [v["id"] for v in items]
            items = items[ids.index(after) + 1 :]
        page = items[:limit]
        return web.json_response(
            {
                "object": "list",
                "data": page,
                "first_id": page[0]["id"] if page else None,
                "last_id": page[-1]["id"] if page else None,
                "has_more": len(items) > limit,
            }
        )


async def drop_connection(request: web.Request) -> web.StreamResponse:
    """Close the socket without answering: the client sees the connection reset mid-response."""
    assert request.transport is not None
    request.transport.close()
    return web.Response()


# --------------------------------------------------------------------------- auth and secrecy


@pytest.mark.parametrize(
    ("header", "expected_name", "expected_value"),
    [
        ("Authorization", "Authorization", f"Bearer {KEY}"),
        ("authorization", "Authorization", f"Bearer {KEY}"),
        ("api-key", "api-key", KEY),
        ("x-litellm-api-key", "x-litellm-api-key", KEY),
    ],
)
async def test_auth_header_variants(
    serve: Serve, session: aiohttp.ClientSession, header: str, expected_name: str, expected_value: str
) -> None:
    server = await serve(always(lambda: web.json_response(video("video_1"))))
    client = make_client(session, server.base_url, auth_header=header)

    await client.retrieve("video_1")

    received = {k.lower(): v for k, v in server.seen[0].headers.items()}
    assert received[expected_name.lower()] == expected_value
    if expected_name != "Authorization":
        assert "authorization" not in received


async def test_no_key_sends_no_auth_header(serve: Serve, session: aiohttp.ClientSession) -> None:
    server = await serve(always(lambda: web.json_response(video("video_1"))))
    client = make_client(session, server.base_url, api_key=None, auth_header="api-key")

    await client.retrieve("video_1")

    received = {k.lower() for k in server.seen[0].headers}
    assert "authorization" not in received
    assert "api-key" not in received


async def test_key_never_appears_in_errors_logs_or_repr(
    serve: Serve, session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    async def echo_key(request: web.Request) -> web.Response:
        if request.path.endswith("/auth"):
            return api_error(401, f"Incorrect API key provided: {KEY}", "invalid_api_key")
        return web.Response(status=502, text=f"<html>upstream said {KEY}</html>", content_type="text/html")

    server = await serve(echo_key)
    errors: list[BaseException] = []
    for header in ("Authorization", "api-key"):
        client = make_client(session, server.base_url, auth_header=header, max_retries=1)
        assert KEY not in repr(client)
        with pytest.raises(AuthenticationError) as auth:
            await client.retrieve("auth")
        with pytest.raises(ServerError) as bad_gateway:
            await client.retrieve("gateway")
        errors += [auth.value, bad_gateway.value]
    refused = make_client(session, f"http://127.0.0.1:{free_port()}/v1", max_retries=1)
    with pytest.raises(ProviderUnavailableError) as unreachable:
        await refused.retrieve("video_1")
    errors.append(unreachable.value)

    assert "[redacted]" in str(errors[0])
    for error in errors:
        for text in (str(error), repr(error), error.args[0], str(error.__cause__), repr(error.__cause__)):
            assert KEY not in text
    assert caplog.records, "the retries should have been logged"
    assert KEY not in caplog.text


# --------------------------------------------------------------------------- odd bodies and statuses


async def test_non_json_5xx_is_retried_then_raised_as_server_error(
    serve: Serve, session: aiohttp.ClientSession
) -> None:
    server = await serve(
        always(lambda: web.Response(status=502, text="<html>Bad Gateway</html>", content_type="text/html"))
    )
    sleep = RecordingSleep()
    client = make_client(session, server.base_url, sleep, max_retries=2)

    with pytest.raises(ServerError) as caught:
        await client.retrieve("video_1")

    assert caught.value.status == 502
    assert "<html>" not in str(caught.value)
    assert len(server.seen) == 3
    assert len(sleep.calls) == 2


async def test_200_with_html_is_a_server_error(serve: Serve, session: aiohttp.ClientSession) -> None:
    server = await serve(always(lambda: web.Response(text="<html>Welcome</html>", content_type="text/html")))
    client = make_client(session, server.base_url)

    with pytest.raises(ServerError) as caught:
        await client.retrieve("video_1")

    assert caught.value.status == 200
    assert "not JSON" in caught.value.message
    assert len(server.seen) == 1  # a garbled success is not retried


async def test_backoff_is_exponential_with_jitter(serve: Serve, session: aiohttp.ClientSession) -> None:
    server = await serve(always(lambda: api_error(503, "overloaded")))
    sleep = RecordingSleep()
    client = make_client(
        session, server.base_url, sleep, max_retries=4, backoff_base_seconds=0.5, backoff_max_seconds=1.5
    )

    with pytest.raises(ServerError):
        await client.retrieve("video_1")

    bounds = [(0.375, 0.5), (0.75, 1.0), (1.125, 1.5), (1.125, 1.5)]
    assert len(sleep.calls) == 4
    for delay, (low, high) in zip(sleep.calls, bounds, strict=True):
        assert low <= delay <= high


async def test_retry_after_ms_wins_over_retry_after(serve: Serve, session: aiohttp.ClientSession) -> None:
    answers = iter(
        [api_error(429, "slow down", "rate_limit_exceeded", **{"retry-after-ms": "1500", "Retry-After": "30"})]
    )

    async def handler(request: web.Request) -> web.Response:
        return next(answers, web.json_response(video("video_1")))

    server = await serve(handler)
    sleep = RecordingSleep()
    client = make_client(session, server.base_url, sleep)

    result = await client.retrieve("video_1")

    assert result.id == "video_1"
    assert sleep.calls == [1.5]


async def test_retry_after_as_http_date(serve: Serve, session: aiohttp.ClientSession) -> None:
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    answers = iter([api_error(503, "maintenance", **{"Retry-After": when})])

    async def handler(request: web.Request) -> web.Response:
        return next(answers, web.json_response({"object": "list", "data": [], "has_more": False}))

    server = await serve(handler)
    sleep = RecordingSleep()
    client = make_client(session, server.base_url, sleep)

    page = await client.list()

    assert page.data == []
    assert len(sleep.calls) == 1
    assert 20 <= sleep.calls[0] <= 31


async def test_retry_after_beyond_the_limit_gives_up_at_once(serve: Serve, session: aiohttp.ClientSession) -> None:
    server = await serve(always(lambda: api_error(429, "come back later", **{"Retry-After": "3600"})))
    sleep = RecordingSleep()
    client = make_client(session, server.base_url, sleep, max_retry_after_seconds=60)

    with pytest.raises(RateLimitedError) as caught:
        await client.retrieve("video_1")

    assert caught.value.retry_after == 3600
    assert sleep.calls == []
    assert len(server.seen) == 1


async def test_x_should_retry_false_stops_retries(serve: Serve, session: aiohttp.ClientSession) -> None:
    server = await serve(always(lambda: api_error(503, "do not retry", **{"x-should-retry": "false"})))
    sleep = RecordingSleep()
    client = make_client(session, server.base_url, sleep)

    with pytest.raises(ServerError):
        await client.retrieve("video_1")

    assert len(server.seen) == 1
    assert sleep.calls == []


async def test_x_should_retry_true_retries_a_4xx(serve: Serve, session: aiohttp.ClientSession) -> None:
    answers = iter([api_error(400, "transient", **{"x-should-retry": "true"})])

    async def handler(request: web.Request) -> web.Response:
        return next(answers, web.json_response(video("video_1")))

    server = await serve(handler)
    client = make_client(session, server.base_url)

    assert (await client.retrieve("video_1")).id == "video_1"
    assert len(server.seen) == 2


@pytest.mark.parametrize("status", [405, 501])
async def test_405_and_501_are_not_supported(serve: Serve, session: aiohttp.ClientSession, status: int) -> None:
    server = await serve(always(lambda: web.Response(status=status, text="nope")))
    client = make_client(session, server.base_url)

    with pytest.raises(NotSupportedError) as caught:
        await client.delete("video_1")

    assert caught.value.status == status
    assert len(server.seen) == 1  # "not implemented" is final, even though 501 is a 5xx


@pytest.mark.parametrize("body", ["404: Not Found", '{"detail": "Not Found"}'])
async def test_bare_404_means_route_missing_on_list_delete_remix_models(
    serve: Serve, session: aiohttp.ClientSession, body: str
) -> None:
    server = await serve(always(lambda: web.Response(status=404, text=body)))
    client = make_client(session, server.base_url)

    for call in (client.list(), client.delete("video_1"), client.remix("video_1", "again"), client.models()):
        with pytest.raises(NotSupportedError):
            await call
    with pytest.raises(NotFoundError) as retrieve:
        await client.retrieve("video_1")
    assert not isinstance(retrieve.value, NotSupportedError)
    assert len(server.seen) == 5  # no retries, no reconcile for a plain refusal


async def test_api_404_on_delete_is_not_found(serve: Serve, session: aiohttp.ClientSession) -> None:
    server = await serve(always(lambda: api_error(404, "Video not found", "video_not_found")))
    client = make_client(session, server.base_url)

    with pytest.raises(NotFoundError) as caught:
        await client.delete("video_1")

    assert not isinstance(caught.value, NotSupportedError)
    assert caught.value.code == "video_not_found"


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (400, "invalid_value", InvalidRequestError),
        (409, "conflict", InvalidRequestError),
        (422, None, InvalidRequestError),
        (400, "moderation_blocked", ModerationBlockedError),
        (401, "invalid_api_key", AuthenticationError),
        (403, None, AuthenticationError),
        (404, "model_not_found", NotFoundError),
        (500, None, ServerError),
    ],
)
async def test_error_mapping_keeps_status_code_param_and_request_id(
    serve: Serve, session: aiohttp.ClientSession, status: int, code: str | None, expected: type[Exception]
) -> None:
    server = await serve(always(lambda: api_error(status, "refused", code, "size", **{"x-request-id": "req_42"})))
    client = make_client(session, server.base_url, max_retries=0)

    with pytest.raises(expected) as caught:
        await client.retrieve("video_1")

    error = caught.value
    assert type(error) is expected
    assert (error.status, error.code, error.param, error.request_id) == (status, code, "size", "req_42")  # type: ignore[attr-defined]


async def test_model_not_found_on_create_names_the_model(serve: Serve, session: aiohttp.ClientSession) -> None:
    server = await serve(
        always(lambda: api_error(404, "The model `sora-2` does not exist", "model_not_found", "model"))
    )
    client = make_client(session, server.base_url)

    with pytest.raises(NotFoundError) as caught:
        await client.create(**CREATE)

    assert "retired or unknown" in caught.value.message
    assert "sora-2" in caught.value.message
    assert len(server.seen) == 1


async def test_lenient_video_parsing(serve: Serve, session: aiohttp.ClientSession) -> None:
    body = {"id": "op-123", "status": "processing", "progress": "42.5", "seconds": 8, "vendor_field": {"x": 1}}
    server = await serve(always(lambda: web.json_response(body)))
    client = make_client(session, server.base_url)

    result = await client.retrieve("op-123")

    assert result.status is VideoStatus.IN_PROGRESS
    assert (result.progress, result.seconds) == (42, "8")


async def test_ids_are_quoted_in_paths(serve: Serve, session: aiohttp.ClientSession) -> None:
    odd_id = "ops/" + "x" * 300 + " ?#%"
    server = await serve(always(lambda: web.json_response(video(odd_id, status="completed"))))
    client = make_client(session, server.base_url)

    assert (await client.retrieve(odd_id)).id == odd_id

    seen = server.seen[0]
    assert seen.raw_path.startswith("/v1/videos/ops%2F" + "x" * 300)
    assert seen.path == "/v1/videos/" + odd_id
    assert seen.query == {}


# --------------------------------------------------------------------------- create: bodies and retries


async def test_create_sends_json_with_seconds_as_string(serve: Serve, session: aiohttp.ClientSession) -> None:
    gateway = Gateway()
    server = await serve(gateway)
    client = make_client(session, server.base_url)

    result = await client.create(**CREATE)

    assert result.id == "video_1"
    post = server.calls("POST", "/v1/videos")[0]
    assert post.headers["Content-Type"].startswith("application/json")
    assert json.loads(post.body) == {"prompt": "a cat", "model": "sora-2", "size": "1280x720", "seconds": "4"}


async def test_create_with_image_is_multipart(serve: Serve, session: aiohttp.ClientSession) -> None:
    server = await serve(always(lambda: web.json_response(video("video_1"))))
    client = make_client(session, server.base_url)
    image = ReferenceImage(data=b"\x89PNG fake", filename="reference.png", content_type="image/png")

    await client.create(**CREATE, image=image)

    seen = server.seen[0]
    assert seen.headers["Content-Type"].startswith("multipart/form-data")
    raw = f"Content-Type: {seen.headers['Content-Type']}\r\n\r\n".encode() + seen.body
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(raw)
    parts = {
        part.get_param("name", header="content-disposition"): (
            part.get_filename(),
            part.get_content_type(),
            part.get_payload(decode=True),
        )
        for part in message.iter_parts()
    }
    assert parts["input_reference"] == ("reference.png", "image/png", b"\x89PNG fake")
    assert parts["seconds"][2] == b"4"
    assert parts["prompt"][0] is None  # plain string fields, not files
    assert parts["prompt"][2] == b"a cat"
    assert [s.method for s in server.seen] == ["POST"]


async def test_create_is_resent_after_connection_refused(serve: Serve, session: aiohttp.ClientSession) -> None:
    port = free_port()
    gateway = Gateway()
    started: list[Server] = []

    async def bring_server_up(calls: int) -> None:
        if not started:
            started.append(await serve(gateway, port=port))

    sleep = RecordingSleep(bring_server_up)
    client = make_client(session, f"http://127.0.0.1:{port}/v1", sleep)

    result = await client.create(**CREATE)

    assert result.id == "video_1"
    assert len(sleep.calls) == 1
    assert gateway.posts == 1
    assert started[0].calls("GET", "/v1/videos") == []  # nothing to reconcile: it was never sent


async def test_create_gives_up_when_never_reachable(session: aiohttp.ClientSession) -> None:
    sleep = RecordingSleep()
    client = make_client(session, f"http://127.0.0.1:{free_port()}/v1", sleep, max_retries=2)

    with pytest.raises(ProviderUnavailableError):
        await client.create(**CREATE)

    assert len(sleep.calls) == 2


async def test_create_429_is_resent_after_retry_after(serve: Serve, session: aiohttp.ClientSession) -> None:
    gateway = Gateway()
    gateway.store = lambda attempt: attempt > 1

    async def script(attempt: int, request: web.Request) -> web.Response | None:
        return api_error(429, "too many", "rate_limit_exceeded", **{"Retry-After": "7"}) if attempt == 1 else None

    gateway.create_script = script
    server = await serve(gateway)
    sleep = RecordingSleep()
    client = make_client(session, server.base_url, sleep)

    result = await client.create(**CREATE)

    assert result.id == "video_2"
    assert sleep.calls == [7.0]
    assert server.calls("GET", "/v1/videos") == []


async def test_create_insufficient_quota_is_not_resent(serve: Serve, session: aiohttp.ClientSession) -> None:
    server = await serve(always(lambda: api_error(429, "You exceeded your quota", "insufficient_quota")))
    client = make_client(session, server.base_url)

    with pytest.raises(RateLimitedError) as caught:
        await client.create(**CREATE)

    assert caught.value.code == "insufficient_quota"
    assert len(server.seen) == 1


async def test_create_400_is_not_resent(serve: Serve, session: aiohttp.ClientSession) -> None:
    server = await serve(always(lambda: api_error(400, "Inpaint image must match", "invalid_value")))
    client = make_client(session, server.base_url)

    with pytest.raises(InvalidRequestError):
        await client.create(**CREATE)

    assert len(server.seen) == 1


# --------------------------------------------------------------------------- create: unclear outcomes


async def test_create_connection_dropped_is_reconciled(serve: Serve, session: aiohttp.ClientSession) -> None:
    gateway = Gateway()

    async def script(attempt: int, request: web.Request) -> web.StreamResponse | None:
        return await drop_connection(request)  # the job was stored, the answer never arrives

    gateway.create_script = script
    server = await serve(gateway)
    client = make_client(session, server.base_url)

    result = await client.create(**CREATE)

    assert result.id == "video_1"
    assert gateway.posts == 1
    assert len(gateway.videos) == 1
    assert len(server.calls("GET", "/v1/videos")) >= 1


async def test_create_truncated_answer_is_reconciled(serve: Serve, session: aiohttp.ClientSession) -> None:
    gateway = Gateway()

    async def script(attempt: int, request: web.Request) -> web.StreamResponse | None:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.content_length = 500
        await response.prepare(request)
        await response.write(b'{"id": "video_1", "obj')
        assert request.transport is not None
        request.transport.close()
        return response

    gateway.create_script = script
    server = await serve(gateway)
    client = make_client(session, server.base_url)

    result = await client.create(**CREATE)

    assert result.id == "video_1"
    assert gateway.posts == 1


async def test_create_timeout_after_sending_is_reconciled(serve: Serve, session: aiohttp.ClientSession) -> None:
    gateway = Gateway()

    async def script(attempt: int, request: web.Request) -> web.StreamResponse | None:
        await asyncio.sleep(30)  # cancelled when the client gives up
        return None

    gateway.create_script = script
    server = await serve(gateway)
    client = make_client(session, server.base_url, timeout_seconds=0.3)

    result = await client.create(**CREATE)

    assert result.id == "video_1"
    assert gateway.posts == 1


async def test_create_5xx_with_job_absent_is_resent_once(serve: Serve, session: aiohttp.ClientSession) -> None:
    gateway = Gateway()
    gateway.videos.append(video("video_old", created_at=int(time.time()) - 3600))  # same params, long ago
    gateway.store = lambda attempt: attempt > 1  # the first attempt really failed

    async def script(attempt: int, request: web.Request) -> web.StreamResponse | None:
        return None

    gateway.create_script = script
    server = await serve(gateway)
    client = make_client(session, server.base_url)

    result = await client.create(**CREATE)

    assert result.id == "video_2"
    assert gateway.posts == 2
    assert [v["id"] for v in gateway.videos] == ["video_old", "video_2"]
    assert len(server.calls("GET", "/v1/videos")) == 1


async def test_create_5xx_with_job_created_is_not_resent(serve: Serve, session: aiohttp.ClientSession) -> None:
    gateway = Gateway()
    gateway.videos.append(video("video_old", created_at=int(time.time()) - 3600))  # same params, long ago

    async def script(attempt: int, request: web.Request) -> web.StreamResponse | None:
        return web.Response(status=500, text="Internal Server Error")

    gateway.create_script = script
    server = await serve(gateway)
    client = make_client(session, server.base_url)

    result = await client.create(**CREATE)

    assert result.id == "video_1"
    assert gateway.posts == 1


async def test_create_5xx_never_claims_a_video_already_returned(serve: Serve, session: aiohttp.ClientSession) -> None:
    """The same prompt twice: the second create's reconcile must not hand back the first job."""
    gateway = Gateway()
    gateway.store = lambda attempt: attempt != 2

    async def script(attempt: int, request: web.Request) -> web.StreamResponse | None:
        return api_error(502, "bad gateway") if attempt == 2 else None

    gateway.create_script = script
    server = await serve(gateway)
    client = make_client(session, server.base_url)

    first = await client.create(**CREATE)
    second = await client.create(**CREATE)

    assert (first.id, second.id) == ("video_1", "video_3")


async def test_create_5xx_with_list_unsupported_is_uncertain(serve: Serve, session: aiohttp.ClientSession) -> None:
    gateway = Gateway()

    async def script(attempt: int, request: web.Request) -> web.StreamResponse | None:
        return web.Response(status=504, text="Gateway Timeout")

    gateway.create_script = script
    gateway.list_response = lambda: web.Response(status=404, text="404: Not Found")
    server = await serve(gateway)
    client = make_client(session, server.base_url)

    with pytest.raises(CreateUncertainError) as caught:
        await client.create(**CREATE)

    assert "may or may not have started" in caught.value.message
    assert caught.value.status == 504
    assert gateway.posts == 1


async def test_create_5xx_with_undated_candidate_is_uncertain(serve: Serve, session: aiohttp.ClientSession) -> None:
    gateway = Gateway()
    gateway.omit_fields = ("created_at", "prompt")

    async def script(attempt: int, request: web.Request) -> web.StreamResponse | None:
        return web.Response(status=500)

    gateway.create_script = script
    server = await serve(gateway)
    client = make_client(session, server.base_url)

    with pytest.raises(CreateUncertainError):
        await client.create(**CREATE)

    assert gateway.posts == 1


async def test_create_5xx_with_x_should_retry_false_is_raised(serve: Serve, session: aiohttp.ClientSession) -> None:
    server = await serve(always(lambda: api_error(500, "rejected", **{"x-should-retry": "false"})))
    client = make_client(session, server.base_url)

    with pytest.raises(ServerError):
        await client.create(**CREATE)

    assert [s.method for s in server.seen] == ["POST"]


async def test_create_200_html_is_reconciled(serve: Serve, session: aiohttp.ClientSession) -> None:
    gateway = Gateway()

    async def script(attempt: int, request: web.Request) -> web.StreamResponse | None:
        return web.Response(text="<html>ok</html>", content_type="text/html")

    gateway.create_script = script
    server = await serve(gateway)
    client = make_client(session, server.base_url)

    assert (await client.create(**CREATE)).id == "video_1"
    assert gateway.posts == 1


async def test_remix_dropped_is_reconciled_by_source_id(serve: Serve, session: aiohttp.ClientSession) -> None:
    gateway = Gateway()
    gateway.videos.append(video("video_src", prompt="make it rain", status="completed"))

    async def script(attempt: int, request: web.Request) -> web.StreamResponse | None:
        return await drop_connection(request)

    gateway.create_script = script
    server = await serve(gateway)
    client = make_client(session, server.base_url)

    result = await client.remix("video_src", "make it rain")

    assert result.id == "video_1"
    assert result.remixed_from_video_id == "video_src"
    assert gateway.posts == 1
    assert json.loads(server.calls("POST", "/v1/videos/video_src/remix")[0].body) == {"prompt": "make it rain"}


async def test_post_redirect_is_not_followed(serve: Serve, session: aiohttp.ClientSession) -> None:
    server = await serve(always(lambda: web.Response(status=307, headers={"Location": "/elsewhere"})))
    client = make_client(session, server.base_url)

    with pytest.raises(ServerError):
        await client.create(**CREATE)

    assert [s.path for s in server.seen] == ["/v1/videos"]


# --------------------------------------------------------------------------- listing


async def test_iter_videos_pages_with_after(serve: Serve, session: aiohttp.ClientSession) -> None:
    gateway = Gateway()
    now = int(time.time())
    gateway.videos = [video(f"video_{i}", created_at=now - i) for i in range(5)]
    server = await serve(gateway)
    client = make_client(session, server.base_url)

    ids = [v.id async for v in client.iter_videos(page_size=2)]
    limited = [v.id async for v in client.iter_videos(page_size=2, max_pages=1)]

    assert ids == [f"video_{i}" for i in range(5)]
    assert limited == ["video_0", "video_1"]
    afters = [s.query.get("after") for s in server.calls("GET", "/v1/videos")[:3]]
    assert afters == [None, "video_1", "video_3"]


async def test_find_recent_match_respects_the_time_window(serve: Serve, session: aiohttp.ClientSession) -> None:
    gateway = Gateway()
    now = int(time.time())
    gateway.videos = [
        video("video_new_other", prompt="a dog", created_at=now),
        video("video_new", created_at=now - 5),
        video("video_old", created_at=now - 500),
    ]
    server = await serve(gateway)
    client = make_client(session, server.base_url)

    found = await client.find_recent_match(**CREATE, created_after=now - 60)
    too_late = await client.find_recent_match(**CREATE, created_after=now + 60)

    assert found is not None
    assert found.id == "video_new"
    assert too_late is None


async def test_models_lists_ids(serve: Serve, session: aiohttp.ClientSession) -> None:
    body = {"object": "list", "data": [{"id": "sora-2", "object": "model"}, {"id": "veo-3.1"}, {"bad": 1}]}
    server = await serve(always(lambda: web.json_response(body)))
    client = make_client(session, server.base_url)

    assert await client.models() == ["sora-2", "veo-3.1"]
    assert server.seen[0].path == "/v1/models"


# --------------------------------------------------------------------------- download


async def test_download_follows_redirects_and_keeps_the_key_home(
    serve: Serve, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    payload = b"\x00\x00\x00\x18ftypmp42" + b"v" * 300_000
    cdn = await serve(always(lambda: web.Response(body=payload, content_type="video/mp4")))

    async def gateway(request: web.Request) -> web.StreamResponse:
        if request.path.endswith("/content"):
            raise web.HTTPFound("/v1/files/abc")  # same origin first
        raise web.HTTPFound(cdn.base + "/signed/abc?sig=1")  # then to another host

    server = await serve(gateway)
    client = make_client(session, server.base_url, auth_header="api-key")
    dest = tmp_path / "out" / "video_1.mp4"

    written = await client.download("video_1", dest)

    assert written == len(payload)
    assert dest.read_bytes() == payload
    assert not dest.with_suffix(".mp4.part").exists()
    first, second = server.seen
    assert first.query == {"variant": "video"}
    assert first.headers["Accept"] == "application/binary"
    assert first.headers["api-key"] == KEY
    assert second.headers["api-key"] == KEY
    assert cdn.seen[0].query == {"sig": "1"}
    assert "api-key" not in {k.lower() for k in cdn.seen[0].headers}


@pytest.mark.parametrize("chunked", [False, True])
async def test_download_over_max_bytes_removes_the_partial_file(
    serve: Serve, session: aiohttp.ClientSession, tmp_path: Path, chunked: bool
) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "video/mp4"})
        if chunked:
            response.enable_chunked_encoding()
        else:
            response.content_length = 2_000_000
        await response.prepare(request)
        for _ in range(20):
            await response.write(b"x" * 100_000)
        return response

    server = await serve(handler)
    client = make_client(session, server.base_url)
    dest = tmp_path / "video.mp4"

    with pytest.raises(DownloadTooLargeError) as caught:
        await client.download("video_1", dest, max_bytes=1_000_000)

    assert "1000000-byte limit" in caught.value.message
    assert list(tmp_path.iterdir()) == []
    assert len(server.seen) == 1  # too large is final


async def test_download_dropped_midway_is_retried_from_scratch(
    serve: Serve, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    payload = bytes(range(256)) * 4000

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "video/mp4"})
        response.content_length = len(payload)
        await response.prepare(request)
        if len(server.seen) == 1:
            await response.write(payload[:300_000])
            assert request.transport is not None
            request.transport.close()
            return response
        await response.write(payload)
        return response

    server = await serve(handler)
    sleep = RecordingSleep()
    client = make_client(session, server.base_url, sleep)
    dest = tmp_path / "video.mp4"

    assert await client.download("video_1", dest) == len(payload)
    assert dest.read_bytes() == payload
    assert len(sleep.calls) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["video.mp4"]


async def test_download_error_leaves_no_file(serve: Serve, session: aiohttp.ClientSession, tmp_path: Path) -> None:
    server = await serve(always(lambda: api_error(404, "Video not found", "video_not_found")))
    client = make_client(session, server.base_url)

    with pytest.raises(NotFoundError):
        await client.download("video_1", tmp_path / "video.mp4", variant="thumbnail")

    assert list(tmp_path.iterdir()) == []
    assert server.seen[0].query == {"variant": "thumbnail"}
