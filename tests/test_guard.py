"""The content guard on real SQLite: guild rules, refusal records, the repeat-offender cooldown and the
AI moderation pass against the simulator's /v1/moderations over loopback."""

from __future__ import annotations

import aiohttp
import pytest

from bot.guard import ContentGuard, CooldownPolicy, ModerationConfig
from bot.simulator import ManualClock, SimulatorServer
from storage import Database
from storage.rules import RuleStore


@pytest.fixture
def guard(db: Database, clock: ManualClock) -> ContentGuard:
    return ContentGuard(RuleStore(db, clock=clock), cooldown=CooldownPolicy(3, 600, 900), clock=clock)


async def test_builtin_rules_apply_without_guild_rules(guard: ContentGuard) -> None:
    assert (await guard.check_prompt(1, "a lighthouse in a storm at night")).allowed
    verdict = await guard.check_prompt(1, "Pikachu dancing on a stage")
    assert not verdict.allowed and verdict.category == "copyright_character"
    assert "pikachu" not in verdict.reason.lower()


async def test_guild_terms_and_regexes_apply_only_to_their_guild(guard: ContentGuard) -> None:
    await guard.add_rule(1, "term", "pineapple pizza", added_by=99)
    await guard.add_rule(1, "regex", r"\bclowns?\b", added_by=99)
    refused = await guard.check_prompt(1, "A PINEAPPLE PIZZA spinning in space")
    assert not refused.allowed and refused.category == "guild_rule" and refused.rule
    assert not (await guard.check_prompt(1, "three clowns juggling")).allowed
    assert (await guard.check_prompt(2, "a pineapple pizza spinning in space")).allowed
    assert (await guard.check_prompt(1, "a pineapple on a beach")).allowed


async def test_bad_and_duplicate_rules_are_refused_with_the_reason(guard: ContentGuard) -> None:
    with pytest.raises(ValueError, match="does not compile"):
        await guard.add_rule(1, "regex", "(unclosed", added_by=99)
    with pytest.raises(ValueError, match="too slow"):
        await guard.add_rule(1, "regex", r"(a+)+$", added_by=99)
    await guard.add_rule(1, "term", "spoilers", added_by=99)
    with pytest.raises(ValueError, match="already has"):
        await guard.add_rule(1, "term", "spoilers", added_by=99)
    assert [r.pattern for r in await guard.store.list_rules(1)] == ["spoilers"]


async def test_removing_a_rule_takes_effect_at_once(guard: ContentGuard) -> None:
    rule = await guard.add_rule(1, "term", "spoilers", added_by=99)
    assert not (await guard.check_prompt(1, "spoilers for the finale")).allowed
    assert await guard.remove_rule(1, rule.id) is not None
    assert (await guard.check_prompt(1, "spoilers for the finale")).allowed
    assert await guard.remove_rule(2, rule.id) is None


async def test_cooldown_after_repeated_refusals_and_its_end(guard: ContentGuard, clock: ManualClock) -> None:
    verdict = await guard.check_prompt(1, "Pikachu dancing")
    for _ in range(2):
        await guard.record(1, 5, "local", verdict, "Pikachu dancing")
        clock.now += 60
    assert await guard.cooldown_until(1, 5) is None
    await guard.record(1, 5, "local", verdict, "Pikachu dancing")
    until = await guard.cooldown_until(1, 5)
    assert until == pytest.approx(clock.now + 900)
    assert await guard.cooldown_until(1, 6) is None and await guard.cooldown_until(2, 5) is None
    clock.now += 901
    assert await guard.cooldown_until(1, 5) is None


async def test_refusals_spread_beyond_the_window_do_not_trigger_cooldown(
    guard: ContentGuard, clock: ManualClock
) -> None:
    verdict = await guard.check_prompt(1, "Pikachu dancing")
    for _ in range(5):
        await guard.record(1, 5, "local", verdict, "Pikachu dancing")
        clock.now += 400
    assert await guard.cooldown_until(1, 5) is None


async def test_refusal_record_keeps_rule_and_category_for_moderators(guard: ContentGuard) -> None:
    verdict = await guard.check_prompt(1, "Pikachu dancing")
    await guard.record(1, 5, "local", verdict, "Pikachu dancing")
    [refusal] = await guard.store.recent_refusals(1)
    assert (refusal.category, refusal.source, refusal.prompt) == ("copyright_character", "local", "Pikachu dancing")
    assert refusal.rule and refusal.rule.startswith("pack:")


async def test_ai_moderation_pass_through_the_simulator(db: Database, simulator: SimulatorServer) -> None:
    async with aiohttp.ClientSession() as session:
        guard = ContentGuard(RuleStore(db), session=session, moderation=ModerationConfig(base_url=simulator.base_url))
        assert (await guard.moderate("a quiet forest path")).allowed
        flagged = await guard.moderate("a quiet forest path [flag-me]")
        assert not flagged.allowed and flagged.category == "moderation"
        assert any(r.path.endswith("/moderations") for r in simulator.requests)


@pytest.mark.parametrize(("fail_open", "allowed"), [(False, False), (True, True)])
async def test_unreachable_moderation_fails_closed_or_open(db: Database, fail_open: bool, allowed: bool) -> None:
    async with aiohttp.ClientSession() as session:
        guard = ContentGuard(
            RuleStore(db),
            session=session,
            moderation=ModerationConfig(base_url="http://127.0.0.1:9/v1", timeout_seconds=1, fail_open=fail_open),
        )
        verdict = await guard.moderate("a quiet forest path")
    assert verdict.allowed is allowed
    if not allowed:
        assert verdict.category == "moderation" and "unavailable" in verdict.reason


async def test_moderation_is_a_no_op_when_not_configured(guard: ContentGuard) -> None:
    assert (await guard.moderate("anything [flag-me]")).allowed
