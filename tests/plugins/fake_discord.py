"""Fixtures for the fake Discord: ``fake_discord`` (a started FakeDiscord with discord.py pointed at it) and
helpers to run a real ``discord.Client`` against it.

Override ``fake_discord_world`` in a test module to start the fake with a different world.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import discord
import pytest

from tests.fakediscord import FakeDiscord, World

FAKE_TOKEN = "fake-token"


@pytest.fixture
def fake_discord_world() -> World:
    """The world the ``fake_discord`` fixture starts with (override per module for other guilds/members)."""
    return World.default()


@pytest.fixture
async def fake_discord(fake_discord_world: World, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeDiscord]:
    """A started FakeDiscord; discord.py's REST base and gateway point at it.  Clients started with
    ``start_client`` and still running at teardown are closed before the fake stops."""
    fake = FakeDiscord(fake_discord_world)
    await fake.start()
    fake.patch_discord(monkeypatch)
    try:
        yield fake
    finally:
        for client, task in fake.started_clients:
            if not client.is_closed() or not task.done():
                await stop_client(client, task)
        await fake.stop()
    if fake.internal_errors:
        pytest.fail(f"FakeDiscord handlers crashed: {fake.internal_errors!r}")


async def start_client(
    client: discord.Client, fake: FakeDiscord, token: str = FAKE_TOKEN, *, ready_timeout: float = 10.0
) -> asyncio.Task[None]:
    """Log ``client`` in against ``fake``, connect it in a task and wait until it is ready.

    Returns the connect task (pass it to ``stop_client``).  Login errors raise here; a connect failure or
    no READY within ``ready_timeout`` stops the client and raises.
    """
    if fake.rest_base != discord.http.Route.BASE:
        raise RuntimeError("discord.py is not pointed at this fake: use the fake_discord fixture or fake.patch_discord")
    try:
        await client.login(token)  # GET /users/@me, GET /oauth2/applications/@me, setup_hook
    except BaseException:
        await client.close()
        raise
    task = asyncio.create_task(client.connect(), name=f"fake-discord-client-{id(client)}")
    fake.started_clients.append((client, task))
    ready = asyncio.create_task(client.wait_until_ready())
    done, _ = await asyncio.wait({task, ready}, timeout=ready_timeout, return_when=asyncio.FIRST_COMPLETED)
    if ready in done:
        return task
    ready.cancel()
    error = task.exception() if task in done else None
    await stop_client(client, task)
    raise RuntimeError(f"client did not become ready within {ready_timeout}s") from error


async def stop_client(client: discord.Client, task: asyncio.Task[None], *, close_timeout: float = 5.0) -> None:
    """Close ``client`` and wait for its connect task (cancelled if it does not end within ``close_timeout``)."""
    await client.close()
    done, _ = await asyncio.wait({task}, timeout=close_timeout)
    if not done:
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):  # a connect failure is the test's business
        await task
