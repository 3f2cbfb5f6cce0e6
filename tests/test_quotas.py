"""Quotas on real SQLite files: every limit and window, roles, grants, refunds, races, reports.

Time is a fake clock shared by the job store and the quota service; nothing here sleeps or measures time.
Settlement (the lead's ``JobStore.transition`` work) is simulated with a direct UPDATE of ``ledger.state``.
"""

from __future__ import annotations

import asyncio
import random
import re
from pathlib import Path

import pytest

from bot.quotas import (
    PERIODS,
    UNITS,
    USE_DEFAULT,
    WINDOW_SECONDS,
    Charge,
    QuotaDefaults,
    QuotaExceeded,
    QuotaService,
)
from bot.simulator import ManualClock
from storage import Database, JobStore
from storage.jobs import NewJob
from storage.quotas import Bounds, QuotaStore

T0 = 1_800_000_000.0
DAY = 86_400
UNLIMITED = QuotaDefaults.unlimited()


def make_service(
    db: Database, clock: ManualClock, defaults: QuotaDefaults = UNLIMITED, cap: float | None = None
) -> QuotaService:
    return QuotaService(QuotaStore(db, clock=clock), defaults=defaults, daily_spend_cap_usd=cap, clock=clock)


async def admit(
    service: QuotaService,
    *,
    guild: int = 1,
    user: int = 100,
    roles: tuple[int, ...] = (),
    seconds: int = 4,
    price: float = 0.4,
) -> int:
    """The real admission path: one transaction with the job insert and the reservation."""
    db = service.store.db
    jobs = JobStore(db, clock=service.clock)
    async with db.transaction() as conn:
        job, created = await jobs.insert(
            conn,
            NewJob(
                guild_id=guild,
                channel_id=5,
                user_id=user,
                prompt="a lighthouse in a storm",
                model="sora-2",
                size="1280x720",
                seconds=seconds,
                provider="simulator",
                price_usd=price,
            ),
        )
        assert created
        await service.reserve(conn, job.id, Charge(guild, user, roles, seconds, price))
    return job.id


async def refused(service: QuotaService, **kwargs: object) -> QuotaExceeded:
    with pytest.raises(QuotaExceeded) as info:
        await admit(service, **kwargs)  # type: ignore[arg-type]
    return info.value


async def settle(db: Database, job_id: int, state: str, at: float = T0) -> None:
    await db.execute("UPDATE ledger SET state = ?, settled_at = ? WHERE job_id = ?", (state, at, job_id))


async def count(db: Database, sql: str, params: tuple[object, ...] = ()) -> int:
    row = await db.fetchone(sql, params)
    assert row is not None
    return int(row[0])


def ts(moment: float) -> str:
    return f"<t:{int(moment)}:R>"


# ---------------------------------------------------------------------------------------------- schema


async def test_migration_creates_the_ledger_exactly_and_the_quota_tables(db: Database) -> None:
    columns = [(r["name"], r["type"], r["notnull"], r["pk"]) for r in await db.fetchall("PRAGMA table_info(ledger)")]
    assert columns == [
        ("job_id", "INTEGER", 0, 1),
        ("guild_id", "INTEGER", 1, 0),
        ("user_id", "INTEGER", 1, 0),
        ("seconds", "INTEGER", 1, 0),
        ("price_usd", "REAL", 1, 0),
        ("state", "TEXT", 1, 0),
        ("reserved_at", "REAL", 1, 0),
        ("settled_at", "REAL", 0, 0),
    ]
    tables = {r[0] for r in await db.fetchall("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"ledger", "quota_limits", "quota_controls", "quota_grants", "quota_resets"} <= tables


async def test_ledger_rows_go_with_their_job(db: Database, clock: ManualClock) -> None:
    service = make_service(db, clock)
    job_id = await admit(service)
    await db.execute("DELETE FROM jobs WHERE id = ?", (job_id,))
    assert await count(db, "SELECT COUNT(*) FROM ledger") == 0


# ---------------------------------------------------------------------------------------------- defaults


async def test_a_fresh_guild_gets_the_conservative_defaults(db: Database, clock: ManualClock) -> None:
    service = make_service(db, clock, QuotaDefaults())
    first = await admit(service, seconds=8, price=0.8)
    # One job in flight per member by default.
    exc = await refused(service, seconds=8, price=0.8)
    assert exc.kind == "concurrency_user" and exc.retry_at is None
    assert (
        str(exc) == "You already have 1 video in progress, and your limit is 1 at a time. Try again when it finishes."
    )
    await settle(db, first, "committed")
    for _ in range(2):
        clock.advance(60)
        await settle(db, await admit(service, seconds=8, price=0.8), "committed")
    clock.advance(60)
    exc = await refused(service, seconds=4, price=0.4)
    # Both the 3-videos and the 24-seconds limits are hit; they free up at the same moment.
    assert {f.kind for f in exc.failures} == {"user_jobs_day", "user_seconds_day"}
    assert exc.retry_at == T0 + DAY
    assert "You've used 3 of your 3 videos in the last 24 hours" in str(exc)
    limits = await service.limits(1)
    assert limits.window("user", "day", "jobs").amount == 3
    assert limits.window("user", "day", "seconds").amount == 24
    assert limits.window("guild", "day", "usd").amount == 10.0
    assert limits.window("guild", "month", "usd").amount == 100.0
    assert all(w.source == "default" for w in limits.windows)
    assert (limits.max_concurrent_per_user, limits.max_concurrent_per_guild) == (1, 5)


async def test_default_seconds_limit_alone(db: Database, clock: ManualClock) -> None:
    service = make_service(db, clock, QuotaDefaults(max_concurrent_per_user=None))
    await admit(service, seconds=12, price=1.2)
    await admit(service, seconds=8, price=0.8)
    exc = await refused(service, seconds=8, price=0.8)
    assert exc.kind == "user_seconds_day"
    assert str(exc) == (
        "You've used 20 of your 24 video-seconds in the last 24 hours (4 video-seconds left), and this video "
        f"is 8 seconds long. It fits again {ts(T0 + DAY)}, or choose a shorter one now."
    )
    await admit(service, seconds=4, price=0.4)  # a shorter one fits now


# ---------------------------------------------------------------------------------------------- every window limit


@pytest.mark.parametrize("scope", ["user", "guild"])
@pytest.mark.parametrize("period", PERIODS)
@pytest.mark.parametrize("unit", UNITS)
async def test_every_window_limit(db: Database, clock: ManualClock, scope: str, period: str, unit: str) -> None:
    service = make_service(db, clock)
    # Each charge is 1 job, 5 seconds, $0.50; the limit admits exactly two.
    await service.set_limit(1, scope, period, unit, {"jobs": 2, "seconds": 10, "usd": 1.0}[unit])
    users = [100, 101, 102] if scope == "guild" else [100, 100, 100]
    await admit(service, user=users[0], seconds=5, price=0.5)
    clock.advance(3600)
    await admit(service, user=users[1], seconds=5, price=0.5)
    clock.advance(60)
    exc = await refused(service, user=users[2], seconds=5, price=0.5)
    assert exc.kind == f"{scope}_{unit}_{period}"
    assert exc.retry_at == T0 + WINDOW_SECONDS[period]
    assert exc.used == {"jobs": 2, "seconds": 10, "usd": 1.0}[unit]
    assert ts(T0 + WINDOW_SECONDS[period]) in str(exc)
    assert ("You've" if scope == "user" else "This server has") in str(exc)
    assert {"day": "24 hours", "week": "7 days", "month": "30 days"}[period] in str(exc)
    # Other guilds and (for member limits) other members are untouched.
    await admit(service, guild=2, user=users[2], seconds=5, price=0.5)
    if scope == "user":
        await admit(service, user=999, seconds=5, price=0.5)
    # One second before the oldest charge leaves the rolling window: still refused; at that moment: admitted.
    clock.now = T0 + WINDOW_SECONDS[period] - 1
    await refused(service, user=users[2], seconds=5, price=0.5)
    clock.now = T0 + WINDOW_SECONDS[period]
    await admit(service, user=users[2], seconds=5, price=0.5)


async def test_usd_is_compared_without_float_drift(db: Database, clock: ManualClock) -> None:
    service = make_service(db, clock)
    await service.set_limit(1, "user", "day", "usd", 3.0)
    for _ in range(30):  # 30 × $0.10 sums to 3.0000000000000013 in floats
        await admit(service, seconds=1, price=0.1)
    exc = await refused(service, seconds=1, price=0.000001)
    assert exc.kind == "user_usd_day" and exc.used == 3.0 and exc.limit == 3.0
    assert "You've used $3.00 of your $3.00 in the last 24 hours ($0.00 left)" in str(exc)
    assert await admit(service, seconds=1, price=0.0)  # a free job fits a spent budget


async def test_a_request_larger_than_the_whole_limit_says_so(db: Database, clock: ManualClock) -> None:
    service = make_service(db, clock)
    await service.set_limit(1, "user", "week", "seconds", 8)
    await service.set_limit(1, "guild", "day", "usd", 1.0)
    exc = await refused(service, seconds=12, price=1.2)
    assert exc.retry_at is None
    assert str(exc) in {
        "This video is 12 seconds long, more than your whole limit of 8 video-seconds per 7 days; "
        "choose a shorter one.",
        "This video costs $1.20, more than its whole limit of $1.00 per 24 hours; choose a cheaper one.",
    }
    await service.set_limit(1, "user", "day", "jobs", 0)
    exc = await refused(service, seconds=4, price=0.4)
    assert exc.kind == "user_jobs_day" and exc.retry_at is None
    assert "Your limit here is 0 videos per 24 hours" in str(exc)


async def test_the_refusal_names_the_limit_that_keeps_the_member_out_longest(db: Database, clock: ManualClock) -> None:
    service = make_service(db, clock)
    await service.set_limit(1, "user", "day", "jobs", 1)
    await service.set_limit(1, "user", "week", "jobs", 2)
    await admit(service)
    clock.advance(2 * DAY)
    await admit(service)
    exc = await refused(service)
    assert {f.kind for f in exc.failures} == {"user_jobs_day", "user_jobs_week"}
    assert exc.kind == "user_jobs_week" and exc.retry_at == T0 + 7 * DAY
    assert str(exc) == f"You've used 2 of your 2 videos in the last 7 days; the next one frees up {ts(T0 + 7 * DAY)}."


async def test_a_refusal_rolls_back_the_job_row(db: Database, clock: ManualClock) -> None:
    service = make_service(db, clock)
    await service.set_limit(1, "user", "day", "jobs", 1)
    await admit(service)
    await refused(service)
    assert await count(db, "SELECT COUNT(*) FROM jobs") == 1
    assert await count(db, "SELECT COUNT(*) FROM ledger") == 1


# ---------------------------------------------------------------------------------------------- refunds


@pytest.mark.parametrize("outcome", ["failed", "refused", "discarded"])
async def test_released_charges_count_nowhere(db: Database, clock: ManualClock, outcome: str) -> None:
    # The lead releases on failed / refused / discarded; all three are the same ledger move.
    service = make_service(db, clock, cap=1.0)
    await service.set_limit(1, "user", "day", "jobs", 1)
    await service.set_limit(1, "guild", "day", "seconds", 4)
    await service.set_concurrency(1, per_user=1, per_guild=1)
    await service.set_cooldown(1, 600)
    job = await admit(service, seconds=4, price=1.0)
    exc = await refused(service, seconds=4, price=1.0)
    assert {f.kind for f in exc.failures} == {
        "global_cap",
        "concurrency_user",
        "concurrency_guild",
        "cooldown",
        "user_jobs_day",
        "guild_seconds_day",
    }
    await settle(db, job, "released")
    report = await service.report(1, 100, ())
    assert report.window("user", "day", "jobs").used == 0
    assert report.window("guild", "day", "seconds").used == 0
    assert report.in_flight_user == 0 and report.cooldown_until is None
    assert report.global_cap is not None and report.global_cap.used_usd == 0
    await admit(service, seconds=4, price=1.0)


async def test_committed_charges_keep_counting_but_free_the_concurrency_slot(db: Database, clock: ManualClock) -> None:
    service = make_service(db, clock)
    await service.set_limit(1, "user", "day", "jobs", 2)
    await service.set_concurrency(1, per_user=1)
    job = await admit(service)
    assert (await refused(service)).kind == "concurrency_user"
    await settle(db, job, "committed")
    await admit(service)
    await settle(db, job + 1, "committed")
    assert (await refused(service)).kind == "user_jobs_day"


# ---------------------------------------------------------------------------------------------- roles and grants


async def test_role_overrides_most_generous_wins(db: Database, clock: ManualClock) -> None:
    service = make_service(db, clock)
    await service.set_limit(1, "user", "day", "jobs", 2)
    await service.set_limit(1, "user", "day", "jobs", 3, role_id=11)
    await service.set_limit(1, "user", "day", "jobs", 5, role_id=12)
    await service.set_limit(1, "user", "day", "jobs", 1, role_id=13)  # a role cannot lower the guild's limit
    await service.set_limit(1, "user", "day", "jobs", None, role_id=14)  # unlimited
    cases = {200: (), 201: (11,), 202: (11, 12, 13), 203: (13,), 205: (99,)}
    expected = {200: 2, 201: 3, 202: 5, 203: 2, 205: 2}
    for user, roles in cases.items():
        for _ in range(expected[user]):
            await admit(service, user=user, roles=roles)
        exc = await refused(service, user=user, roles=roles)
        assert exc.kind == "user_jobs_day" and exc.limit == expected[user]
    for _ in range(20):
        await admit(service, user=204, roles=(11, 14))
    report = await service.report(1, 204, (11, 14))
    assert report.window("user", "day", "jobs").limit is None and report.window("user", "day", "jobs").used == 20


async def test_role_overrides_stay_in_their_guild_and_only_raise_member_limits(
    db: Database, clock: ManualClock
) -> None:
    service = make_service(db, clock)
    await service.set_limit(1, "user", "day", "jobs", 1)
    await service.set_limit(2, "user", "day", "jobs", 1)
    await service.set_limit(2, "user", "day", "jobs", 10, role_id=11)
    await admit(service, guild=1, roles=(11,))
    assert (await refused(service, guild=1, roles=(11,))).limit == 1
    with pytest.raises(ValueError, match="per-member"):
        await service.set_limit(1, "guild", "day", "jobs", 10, role_id=11)
    with pytest.raises(ValueError):
        await service.set_concurrency(1, per_guild=10, role_id=11)


async def test_role_overrides_of_concurrency_and_cooldown(db: Database, clock: ManualClock) -> None:
    service = make_service(db, clock)
    await service.set_concurrency(1, per_user=1)
    await service.set_concurrency(1, per_user=3, role_id=11)
    await service.set_cooldown(1, 600)
    await service.set_cooldown(1, None, role_id=11)  # no cooldown for role 11
    for _ in range(3):
        await admit(service, user=300, roles=(11,))
    assert (await refused(service, user=300, roles=(11,))).kind == "concurrency_user"
    await admit(service, user=301)
    clock.advance(1)
    exc = await refused(service, user=301)
    assert {f.kind for f in exc.failures} == {"concurrency_user", "cooldown"}
    assert exc.kind == "cooldown"  # the one with a known time is shown
    limits = await service.limits(1)
    assert {(o.role_id, o.key, o.amount) for o in limits.role_overrides} == {
        (11, "concurrency_user", 3),
        (11, "cooldown", None),
    }


async def test_grants_add_to_a_members_limit_until_they_expire(db: Database, clock: ManualClock) -> None:
    service = make_service(db, clock)
    await service.set_limit(1, "user", "week", "jobs", 1)
    await service.set_limit(1, "user", "day", "seconds", 8)
    grant = await service.grant(1, 100, "jobs", 2, "week", expires_at=T0 + DAY)
    await service.grant(1, 100, "seconds", 8, "day")
    await service.grant(1, 555, "jobs", 50, "week")  # someone else's
    assert [g.id for g in await service.grants(1, 100)] == [grant.id, grant.id + 1]
    await admit(service, seconds=4)
    await admit(service, seconds=4)
    await admit(service, seconds=8)  # 16 seconds: 8 + 8 granted
    exc = await refused(service, seconds=4)
    assert {f.kind for f in exc.failures} == {"user_jobs_week", "user_seconds_day"}
    assert exc.limit in (3, 16)
    report = await service.report(1, 100, ())
    assert report.window("user", "week", "jobs").limit == 3
    assert report.window("user", "day", "seconds").limit == 16
    # The jobs grant expires after a day: the week's limit is back to 1, with 3 already used.
    clock.now = T0 + DAY + 1
    exc = await refused(service, seconds=4)
    assert exc.kind == "user_jobs_week" and exc.limit == 1 and exc.used == 3
    assert exc.retry_at == T0 + 7 * DAY  # all three must leave the window
    assert [g.unit for g in await service.grants(1, 100)] == ["seconds"]
    # Revoking the seconds grant puts the day limit back to 8.
    assert await service.revoke_grant(1, grant.id + 1)
    assert (await service.report(1, 100, ())).window("user", "day", "seconds").limit == 8
    with pytest.raises(ValueError):
        await service.grant(1, 100, "jobs", 1.5, "day")
    with pytest.raises(ValueError):
        await service.grant(1, 100, "jobs", 0, "day")


async def test_grants_do_not_raise_guild_limits(db: Database, clock: ManualClock) -> None:
    service = make_service(db, clock)
    await service.set_limit(1, "guild", "day", "jobs", 1)
    await service.grant(1, 100, "jobs", 5, "day")
    await admit(service)
    assert (await refused(service)).kind == "guild_jobs_day"


# ---------------------------------------------------------------------------------------------- concurrency, cooldown


async def test_concurrency_per_user(db: Database, clock: ManualClock) -> None:
    service = make_service(db, clock)
    await service.set_concurrency(1, per_user=2)
    first = await admit(service)
    await admit(service)
    exc = await refused(service)
    assert exc.kind == "concurrency_user" and exc.retry_at is None and exc.used == 2 and exc.limit == 2
    assert (
        str(exc) == "You already have 2 videos in progress, and your limit is 2 at a time. Try again when one finishes."
    )
    await admit(service, user=101)  # other members are not affected
    await settle(db, first, "committed")
    await admit(service)


async def test_concurrency_per_guild(db: Database, clock: ManualClock) -> None:
    service = make_service(db, clock)
    await service.set_concurrency(1, per_guild=2)
    first = await admit(service, user=100)
    await admit(service, user=101)
    exc = await refused(service, user=102)
    assert exc.kind == "concurrency_guild"
    assert str(exc) == (
        "This server already has 2 videos in progress, its limit of 2 at a time. Try again when one finishes."
    )
    await admit(service, guild=2, user=102)
    await settle(db, first, "released")
    await admit(service, user=102)
    # Back to the default (unlimited here).
    await service.set_concurrency(1, per_guild=USE_DEFAULT)
    await admit(service, user=103)


async def test_cooldown_between_jobs(db: Database, clock: ManualClock) -> None:
    service = make_service(db, clock)
    await service.set_cooldown(1, 300)
    await admit(service)
    clock.advance(299)
    exc = await refused(service)
    assert exc.kind == "cooldown" and exc.retry_at == T0 + 300
    assert str(exc) == (
        "Please wait between videos: this server asks for 5 minutes between videos, and your last one started "
        f"{ts(T0)}. You can create the next one {ts(T0 + 300)}."
    )
    await admit(service, user=101)  # per member
    clock.advance(1)
    await admit(service)
    report = await service.report(1, 100, ())
    assert report.cooldown_seconds == 300 and report.cooldown_until == T0 + 600
    await service.set_cooldown(1, USE_DEFAULT)
    await admit(service)


# ---------------------------------------------------------------------------------------------- bot-wide cap


async def test_global_daily_cap_across_guilds(db: Database, clock: ManualClock) -> None:
    service = make_service(db, clock, cap=1.0)
    assert await service.paused() is None
    await admit(service, guild=1, price=0.6)
    clock.advance(3600)
    exc = await refused(service, guild=2, user=200, price=0.6)
    assert exc.kind == "global_cap" and exc.retry_at == T0 + DAY
    assert str(exc) == (
        "This $0.60 video would take the bot past its daily spending cap of $1.00 ($0.60 spent in the last "
        f"24 hours, $0.40 left). It fits again {ts(T0 + DAY)}, or choose a cheaper video now."
    )
    await admit(service, guild=2, user=200, price=0.4)
    paused = await service.paused()
    assert paused is not None and paused.kind == "global_cap"
    # The cap is reached: it reopens when the oldest charge leaves the 24 hours.
    assert paused.retry_at == T0 + DAY
    assert str(paused) == (
        "Video generation is paused for everyone: the bot has reached its daily spending cap of $1.00 "
        f"($1.00 spent in the last 24 hours). It reopens {ts(T0 + DAY)}."
    )
    exc = await refused(service, guild=3, user=300, price=0.0)  # paused means paused
    assert exc.kind == "global_cap" and str(exc) == str(paused)
    clock.now = T0 + DAY
    assert await service.paused() is None
    await admit(service, guild=3, user=300, price=0.6)
    exc = await refused(service, guild=3, user=301, price=2.0)
    assert exc.retry_at is None and "more than the bot's whole daily spending cap of $1.00" in str(exc)


# ---------------------------------------------------------------------------------------------- races


async def test_fifty_concurrent_creates_against_a_limit_of_three(db: Database, clock: ManualClock) -> None:
    service = make_service(db, clock)
    await service.set_limit(1, "user", "day", "jobs", 3)
    results = await asyncio.gather(*(admit(service) for _ in range(50)), return_exceptions=True)
    admitted = [r for r in results if isinstance(r, int)]
    refusals = [r for r in results if isinstance(r, QuotaExceeded)]
    assert len(admitted) == 3 and len(refusals) == 47
    message = f"You've used 3 of your 3 videos in the last 24 hours; the next one frees up {ts(T0 + DAY)}."
    assert all(r.kind == "user_jobs_day" and r.retry_at == T0 + DAY and str(r) == message for r in refusals)
    assert await count(db, "SELECT COUNT(*) FROM ledger") == 3
    assert await count(db, "SELECT COUNT(*) FROM jobs") == 3


async def test_fifty_concurrent_creates_on_two_connections_to_one_file(tmp_path: Path, clock: ManualClock) -> None:
    # Two Database objects (two SQLite connections, as two bot processes would have): BEGIN IMMEDIATE is
    # what serialises them, not the asyncio lock.
    async with Database(tmp_path / "shared.db") as first, Database(tmp_path / "shared.db") as second:
        a, b = make_service(first, clock), make_service(second, clock)
        await a.set_limit(1, "user", "day", "jobs", 3)
        results = await asyncio.gather(*(admit(a if i % 2 else b) for i in range(50)), return_exceptions=True)
        assert sum(isinstance(r, int) for r in results) == 3
        assert sum(isinstance(r, QuotaExceeded) for r in results) == 47
        assert await count(first, "SELECT COUNT(*) FROM ledger") == 3
        assert await count(second, "SELECT COUNT(*) FROM jobs") == 3


async def test_guild_limits_hit_from_two_guilds_at_once_stay_separate(db: Database, clock: ManualClock) -> None:
    service = make_service(db, clock)
    await service.set_limit(1, "guild", "day", "jobs", 3)
    await service.set_limit(2, "guild", "day", "seconds", 20)
    attempts = [admit(service, guild=1 + i % 2, user=1000 + i, seconds=4) for i in range(40)]
    results = await asyncio.gather(*attempts, return_exceptions=True)
    refusals = [r for r in results if isinstance(r, QuotaExceeded)]
    assert {r.kind for r in refusals} == {"guild_jobs_day", "guild_seconds_day"}
    assert await count(db, "SELECT COUNT(*) FROM ledger WHERE guild_id = 1") == 3
    assert await count(db, "SELECT COUNT(*) FROM ledger WHERE guild_id = 2") == 5
    assert await count(db, "SELECT COUNT(*) FROM jobs") == 8


async def test_global_cap_hit_from_two_guilds_at_once(db: Database, clock: ManualClock) -> None:
    service = make_service(db, clock, cap=1.0)
    attempts = [admit(service, guild=1 + i % 2, user=2000 + i, price=0.1) for i in range(40)]
    results = await asyncio.gather(*attempts, return_exceptions=True)
    assert sum(isinstance(r, int) for r in results) == 10
    assert all(r.kind == "global_cap" for r in results if isinstance(r, QuotaExceeded))
    assert await count(db, "SELECT COUNT(*) FROM ledger") == 10
    assert {r[0] for r in await db.fetchall("SELECT DISTINCT guild_id FROM ledger")} == {1, 2}


# ---------------------------------------------------------------------------------------------- moderators


async def test_reset_user_forgives_the_members_own_usage_only(db: Database, clock: ManualClock) -> None:
    service = make_service(db, clock)
    await service.set_limit(1, "user", "day", "jobs", 2)
    await service.set_limit(1, "guild", "day", "jobs", 5)
    await service.set_concurrency(1, per_user=3)
    await service.set_cooldown(1, 60)
    released = await admit(service)
    await settle(db, released, "released")
    clock.advance(60)
    await settle(db, await admit(service), "committed")
    clock.advance(60)
    in_flight = await admit(service)
    clock.advance(1)
    assert {f.kind for f in (await refused(service)).failures} == {"user_jobs_day", "cooldown"}
    assert await service.reset_user(1, 100) == 2  # the committed and the in-flight charge
    await admit(service)  # no cooldown, day count restarted
    report = await service.report(1, 100, ())
    assert report.window("user", "day", "jobs").used == 1
    assert report.window("guild", "day", "jobs").used == 3  # the guild still sees every charge
    assert report.in_flight_user == 2  # and the concurrency limit still counts the job in flight
    await settle(db, in_flight, "committed")
    clock.advance(60)
    assert await service.reset_user(1, 100) == 1
    assert await service.reset_user(1, 100) == 0
    assert await service.reset_user(1, 999) == 0


async def test_limits_merge_defaults_and_clear_restores_them(db: Database, clock: ManualClock) -> None:
    service = make_service(db, clock, QuotaDefaults(), cap=50.0)
    await service.set_limit(1, "user", "day", "jobs", 10)
    await service.set_limit(1, "guild", "month", "usd", None)
    await service.set_limit(1, "user", "day", "jobs", None, role_id=7)
    await service.set_concurrency(1, per_user=None, per_guild=20)
    await service.set_cooldown(1, 30.0)
    limits = await service.limits(1)
    assert limits.window("user", "day", "jobs").amount == 10 and limits.window("user", "day", "jobs").source == "guild"
    assert limits.window("guild", "month", "usd").amount is None
    assert limits.window("guild", "month", "usd").source == "guild"
    assert limits.window("user", "day", "seconds").source == "default"
    assert (limits.max_concurrent_per_user, limits.max_concurrent_per_guild, limits.user_cooldown_seconds) == (
        None,
        20,
        30.0,
    )
    assert [(o.role_id, o.key, o.amount) for o in limits.role_overrides] == [(7, "user_jobs_day", None)]
    assert limits.daily_spend_cap_usd == 50.0
    assert await service.clear_limit(1, "user", "day", "jobs")
    assert not await service.clear_limit(1, "user", "day", "jobs")
    assert await service.clear_limit(1, "user", "day", "jobs", role_id=7)
    await service.set_concurrency(1, per_user=USE_DEFAULT, per_guild=USE_DEFAULT)
    limits = await service.limits(1)
    assert limits.window("user", "day", "jobs").amount == 3 and not limits.role_overrides
    assert (limits.max_concurrent_per_user, limits.max_concurrent_per_guild) == (1, 5)
    assert (await service.limits(2)).window("user", "day", "jobs").amount == 3


async def test_invalid_settings_are_refused(db: Database, clock: ManualClock) -> None:
    service = make_service(db, clock)
    with pytest.raises(ValueError, match="whole numbers"):
        await service.set_limit(1, "user", "day", "jobs", 2.5)
    with pytest.raises(ValueError):
        await service.set_limit(1, "user", "fortnight", "jobs", 2)
    with pytest.raises(ValueError):
        await service.set_limit(1, "member", "day", "jobs", 2)
    with pytest.raises(ValueError):
        await service.set_limit(1, "user", "day", "usd", -1)
    with pytest.raises(ValueError):
        await service.set_cooldown(1, -5)
    with pytest.raises(ValueError):
        await service.set_concurrency(1, per_user=-1)


# ---------------------------------------------------------------------------------------------- report


async def test_report_numbers(db: Database, clock: ManualClock) -> None:
    service = make_service(db, clock, QuotaDefaults(max_concurrent_per_user=5), cap=20.0)
    await service.set_limit(1, "user", "week", "usd", 5.0)
    await service.set_limit(1, "guild", "day", "seconds", 100)
    await settle(db, await admit(service, seconds=8, price=0.8), "committed")
    clock.advance(2 * DAY)
    await admit(service, seconds=4, price=0.4)
    await admit(service, user=101, seconds=12, price=1.2)
    failed = await admit(service, seconds=4, price=0.4)
    await settle(db, failed, "released")
    clock.advance(3600)
    report = await service.report(1, 100, ())
    assert report.at == T0 + 2 * DAY + 3600
    day_jobs = report.window("user", "day", "jobs")
    assert (day_jobs.used, day_jobs.limit, day_jobs.left, day_jobs.resets_at) == (1, 3, 2, T0 + 3 * DAY)
    day_seconds = report.window("user", "day", "seconds")
    assert (day_seconds.used, day_seconds.limit, day_seconds.left) == (4, 24, 20)
    week_usd = report.window("user", "week", "usd")
    assert (week_usd.used, week_usd.limit, week_usd.left, week_usd.resets_at) == (1.2, 5.0, 3.8, T0 + 7 * DAY)
    month_jobs = report.window("user", "month", "jobs")
    assert (month_jobs.used, month_jobs.limit, month_jobs.left) == (2, None, None)
    guild_seconds = report.window("guild", "day", "seconds")
    assert (guild_seconds.used, guild_seconds.limit, guild_seconds.left) == (16, 100, 84)
    guild_usd = report.window("guild", "month", "usd")
    assert (guild_usd.used, guild_usd.limit, guild_usd.left) == (2.4, 100.0, 97.6)
    assert [w.key for w in report.limited("user")] == ["user_jobs_day", "user_seconds_day", "user_usd_week"]
    assert (report.in_flight_user, report.max_concurrent_per_user) == (1, 5)
    assert (report.in_flight_guild, report.max_concurrent_per_guild) == (2, 5)
    assert report.global_cap is not None
    assert (report.global_cap.used_usd, report.global_cap.left_usd, report.global_cap.paused) == (1.6, 18.4, False)
    assert report.global_cap.resets_at == T0 + 3 * DAY
    assert report.cooldown_until is None
    assert len(report.windows) == 18
    # Every number in a refusal is in the report too.
    exc = await refused(service, seconds=24, price=2.4)
    assert re.search(r"You've used 4 of your 24 video-seconds", str(exc))


# ---------------------------------------------------------------------------------------------- running totals


async def test_running_totals_agree_with_a_scan_of_the_ledger(db: Database, clock: ManualClock) -> None:
    """Guild and bot-wide sums come from running totals; after any mix of charges, refunds, deliveries,
    resets and elapsed time they must equal a plain scan of the ledger."""
    rng = random.Random(20260924)
    service = make_service(db, clock)
    store = service.store
    jobs: list[int] = []
    for step in range(400):
        action = rng.random()
        if action < 0.6:
            guild, user = rng.choice((1, 2, 3)), rng.choice((10, 11, 12))
            seconds, price = rng.choice((4, 8, 12)), rng.choice((0.1, 0.35, 1.2, 0.000001, 0.0))
            jobs.append(await admit(service, guild=guild, user=user, seconds=seconds, price=price))
        elif action < 0.8 and jobs:
            await settle(db, rng.choice(jobs), rng.choice(("committed", "released")))
        elif action < 0.82:
            await service.reset_user(rng.choice((1, 2, 3)), rng.choice((10, 11, 12)))
        else:
            clock.advance(rng.choice((60, 3600, 5 * 3600, DAY, 3 * DAY)))
        if step % 20:
            continue
        now = clock()
        for guild in (1, 2, 3):
            for user in (10, 11, 12):
                config = await store.guild_config(db.conn, guild, now)
                reset = config.resets.get(user)
                after = reset.after_job_id if reset else 0
                bounds = Bounds(
                    guild,
                    user,
                    user_after_job=after,
                    user_day=now - DAY,
                    user_week=now - WINDOW_SECONDS["week"],
                    user_month=now - WINDOW_SECONDS["month"],
                    guild_day=now - DAY,
                    guild_week=now - WINDOW_SECONDS["week"],
                    guild_month=now - WINDOW_SECONDS["month"],
                    global_since=now - DAY,
                )
                usage = await store.usage(db.conn, bounds)
                for p in PERIODS:
                    since = now - WINDOW_SECONDS[p]
                    assert usage.guild[p] == await store.scan_sums("guild", guild_id=guild, since=since)
                    assert usage.user[p] == await store.scan_sums(
                        "user", guild_id=guild, user_id=user, since=since, after_job=after
                    )
                assert usage.global_micros == (await store.scan_sums("global", since=now - DAY)).micros


async def test_reservations_keep_time_order_when_the_clock_steps_back(db: Database, clock: ManualClock) -> None:
    service = make_service(db, clock)
    first = await admit(service)
    clock.advance(-30)  # e.g. an NTP correction
    second = await admit(service, guild=2)
    rows = {r["job_id"]: r["reserved_at"] for r in await service.store.ledger_rows()}
    assert rows[second] == rows[first] == T0
    await db.execute("DELETE FROM jobs WHERE id = ?", (first,))
    assert await count(db, "SELECT COUNT(*) FROM ledger_totals") == 1


async def test_a_change_made_elsewhere_applies_to_the_next_reservation(tmp_path: Path, clock: ManualClock) -> None:
    # Another QuotaService (another process, or a moderator tool) changes the limit; the cached configuration
    # of this one is checked against the database's version inside the reservation's transaction.
    async with Database(tmp_path / "shared.db") as first, Database(tmp_path / "shared.db") as second:
        bot, tool = make_service(first, clock), make_service(second, clock)
        await bot.set_limit(1, "user", "day", "jobs", 1)
        await admit(bot)
        assert (await refused(bot)).limit == 1
        await tool.set_limit(1, "user", "day", "jobs", 2)
        await admit(bot)
        await tool.grant(1, 100, "jobs", 1, "day")
        await admit(bot)
        await tool.reset_user(1, 100)
        await admit(bot)
        assert (await bot.report(1, 100, ())).window("user", "day", "jobs").used == 1


async def test_every_default_field_is_a_limit(db: Database, clock: ManualClock) -> None:
    defaults = QuotaDefaults(
        user_jobs_per_day=None,
        user_seconds_per_day=None,
        user_usd_per_week=1.0,
        guild_usd_per_day=None,
        guild_usd_per_month=None,
        guild_seconds_per_month=12,
        max_concurrent_per_user=None,
        max_concurrent_per_guild=None,
    )
    service = make_service(db, clock, defaults)
    await admit(service, seconds=4, price=0.6)
    assert (await refused(service, seconds=4, price=0.6)).kind == "user_usd_week"
    await admit(service, user=101, seconds=8, price=0.1)
    assert (await refused(service, user=102, seconds=4, price=0.1)).kind == "guild_seconds_month"
    await service.set_limit(1, "guild", "month", "seconds", None)  # a guild's own value replaces the default
    await admit(service, user=102, seconds=4, price=0.1)
    assert await service.paused() is None  # no bot-wide cap configured
