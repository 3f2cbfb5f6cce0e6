"""The content guard: built-in rules, a guild's own rules, the optional AI moderation pass, refusal records
and the repeat-offender cooldown, behind one service the cogs call before anything is spent.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp
from pydantic import SecretStr

from bot import rules
from bot.cache import AsyncCache
from bot.rules import CompiledRules, ExtraRule, Verdict
from storage.rules import GuildRule, RuleStore


@dataclass(frozen=True, slots=True)
class ModerationConfig:
    """The optional ``/v1/moderations`` pass (OpenAI-compatible), run after the local rules."""

    base_url: str
    api_key: SecretStr | None = None
    model: str = "omni-moderation-latest"
    timeout_seconds: float = 5.0
    fail_open: bool = False


@dataclass(frozen=True, slots=True)
class CooldownPolicy:
    """``count`` refusals within ``window_seconds`` → no requests for ``cooldown_seconds`` after the last one."""

    count: int = 3
    window_seconds: float = 600.0
    cooldown_seconds: float = 900.0


class ContentGuard:
    def __init__(
        self,
        store: RuleStore,
        *,
        session: aiohttp.ClientSession | None = None,
        moderation: ModerationConfig | None = None,
        cooldown: CooldownPolicy | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.session = session
        self.moderation = moderation
        self.cooldown = cooldown or CooldownPolicy()
        self.clock = clock
        self._compiled: AsyncCache[int, CompiledRules] = AsyncCache(self._compile)

    # ------------------------------------------------------------------ prompt checks

    async def compiled_rules(self, guild_id: int) -> CompiledRules:
        """The guild's extra rules, compiled once and cached until a moderator changes them."""
        return await self._compiled.get(guild_id)

    async def _compile(self, guild_id: int) -> CompiledRules:
        stored = await self.store.list_rules(guild_id)
        return rules.compile_extra_rules(ExtraRule(kind=r.kind, pattern=r.pattern, id=r.id) for r in stored)  # type: ignore[arg-type]

    async def check_prompt(self, guild_id: int, prompt: str) -> Verdict:
        """Built-in packs, then the guild's rules (local, no network)."""
        return rules.check_prompt(prompt, await self.compiled_rules(guild_id))

    async def moderate(self, prompt: str) -> Verdict:
        """The AI moderation pass when configured; allowed otherwise."""
        if self.moderation is None or self.session is None:
            return Verdict.ok()
        from bot.rules.moderation import moderate

        config = self.moderation
        return await moderate(
            self.session,
            prompt,
            base_url=config.base_url,
            api_key=config.api_key,
            model=config.model,
            timeout_seconds=config.timeout_seconds,
            fail_open=config.fail_open,
        )

    # ------------------------------------------------------------------ refusals and cooldown

    async def record(
        self, guild_id: int, user_id: int, source: str, verdict: Verdict, prompt: str, job_id: int | None = None
    ) -> int:
        """Record a refusal; returns its id (for the moderation log and the member's Appeal button)."""
        return await self.store.record_refusal(
            guild_id=guild_id,
            user_id=user_id,
            source=source,
            category=verdict.category,
            rule=verdict.rule,
            prompt=prompt,
            job_id=job_id,
        )

    async def cooldown_until(self, guild_id: int, user_id: int) -> float | None:
        """When a member refused too often may try again (unix time), or None when they may now."""
        policy = self.cooldown
        if policy.count <= 0:
            return None
        now = self.clock()
        recent = await self.store.refusals_since(
            guild_id, user_id, now - policy.window_seconds - policy.cooldown_seconds
        )
        times = [r.created_at for r in recent]
        # Find the latest moment at which `count` refusals fell inside one window.
        for end in range(len(times) - 1, policy.count - 2, -1):
            start = end - policy.count + 1
            if start >= 0 and times[end] - times[start] <= policy.window_seconds:
                until = times[end] + policy.cooldown_seconds
                return until if until > now else None
        return None

    # ------------------------------------------------------------------ guild rules (for moderators)

    async def add_rule(self, guild_id: int, kind: str, pattern: str, added_by: int) -> GuildRule:
        """Validate and store a rule; raises ValueError with the compiler's message when it is bad."""
        pattern = pattern.strip()
        # Probing a hostile regex can take a couple of seconds: keep it off the event loop.
        problem = await asyncio.to_thread(rules.validate_extra_rule, kind, pattern)
        if problem:
            raise ValueError(problem)
        stored = await self.store.add(guild_id, kind, pattern, added_by)
        if stored is None:
            raise ValueError("This server already has exactly that rule.")
        self._compiled.invalidate(guild_id)
        return stored

    async def remove_rule(self, guild_id: int, rule_id: int) -> GuildRule | None:
        removed = await self.store.remove(guild_id, rule_id)
        self._compiled.invalidate(guild_id)
        return removed
