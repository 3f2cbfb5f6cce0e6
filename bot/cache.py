"""A tiny async cache with single-flight loads, for per-guild settings read before Discord's 3-second deadline.

Many commands arriving at once for a guild whose entry is not cached share one load instead of each
querying SQLite. ``invalidate`` drops an entry; a load that was running when it was invalidated still answers
its waiting callers but is not kept, so the next read loads afresh.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class AsyncCache(Generic[K, V]):
    def __init__(self, load: Callable[[K], Awaitable[V]]) -> None:
        self._load = load
        self._values: dict[K, V] = {}
        self._loading: dict[K, asyncio.Task[V]] = {}
        self._generation: dict[K, int] = {}

    async def get(self, key: K) -> V:
        if key in self._values:
            return self._values[key]
        task = self._loading.get(key)
        if task is None:
            task = asyncio.ensure_future(self._fill(key, self._generation.get(key, 0)))
            self._loading[key] = task
        return await asyncio.shield(task)

    async def _fill(self, key: K, generation: int) -> V:
        try:
            value = await self._load(key)
        finally:
            self._loading.pop(key, None)
        if self._generation.get(key, 0) == generation:
            self._values[key] = value
        return value

    def invalidate(self, key: K) -> None:
        self._values.pop(key, None)
        self._loading.pop(key, None)
        self._generation[key] = self._generation.get(key, 0) + 1
