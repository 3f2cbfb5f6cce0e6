"""The single-flight cache in front of per-guild settings."""

from __future__ import annotations

import asyncio

import pytest

from bot.cache import AsyncCache


async def test_concurrent_misses_share_one_load() -> None:
    loads: list[int] = []
    gate = asyncio.Event()

    async def load(key: int) -> str:
        loads.append(key)
        await gate.wait()
        return f"value-{key}"

    cache: AsyncCache[int, str] = AsyncCache(load)
    waiters = [asyncio.create_task(cache.get(1)) for _ in range(50)]
    await asyncio.sleep(0)
    gate.set()
    assert set(await asyncio.gather(*waiters)) == {"value-1"}
    assert loads == [1]
    assert await cache.get(1) == "value-1" and loads == [1]


async def test_invalidate_during_a_load_is_not_undone_by_it() -> None:
    version = {"n": 0}
    gate, started = asyncio.Event(), asyncio.Event()

    async def load(key: int) -> int:
        seen = version["n"]
        started.set()
        await gate.wait()
        return seen

    cache: AsyncCache[int, int] = AsyncCache(load)
    first = asyncio.create_task(cache.get(1))
    await started.wait()
    version["n"] = 1
    cache.invalidate(1)  # a moderator changed the setting while the old value was being read
    gate.set()
    assert await first == 0  # the caller already waiting gets what was read…
    assert await cache.get(1) == 1  # …but the stale value was not kept


async def test_failed_load_is_retried_next_time() -> None:
    calls = {"n": 0}

    async def load(key: int) -> int:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("database busy")
        return 7

    cache: AsyncCache[int, int] = AsyncCache(load)
    with pytest.raises(RuntimeError):
        await cache.get(1)
    assert await cache.get(1) == 7
