"""Moderation services on real SQLite files: the policy check, bans, the audit log, privacy erasure and retention,
moderator job actions (charge release), usage sums and the usage chart."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from PIL import Image

from bot.catalog import load_catalog
from bot.charts import UsageChart, usage_chart
from bot.modlog import ModerationError, parse_duration
from bot.policy import PolicyError, PolicyService
from bot.privacy import PrivacyService
from bot.quotas import Charge, QuotaDefaults, QuotaService
from bot.simulator import ManualClock
from storage import Database, JobStatus, JobStore
from storage.audit import Action, AuditStore
from storage.jobs import NewJob
from storage.moderation import ModerationStore
from storage.policy import PolicyStore
from storage.privacy import ERASED_PROMPT, PrivacyStore
from storage.quotas import QuotaStore
from storage.rules import RuleStore

GUILD, CHANNEL, OTHER_CHANNEL, THREAD = 10, 20, 21, 22
ALICE, BOB, MOD = 30, 31, 99
ROLE, OTHER_ROLE = 40, 41
DAY = 86_400.0


@pytest.fixture
def policy(db: Database, clock: ManualClock) -> PolicyService:
    return PolicyService(PolicyStore(db, clock=clock), catalog=load_catalog(None), clock=clock)


async def check(policy: PolicyService, **overrides: object) -> str | None:
    request: dict[str, object] = {
        "guild_id": GUILD,
        "channel_id": CHANNEL,
        "user_id": ALICE,
        "role_ids": [ROLE],
        "model": "sora-2",
        "size": "1280x720",
        "seconds": 8,
        "has_image": False,
        "is_remix": False,
    }
    request.update(overrides)
    return await policy.check(**request)  # type: ignore[arg-type]


async def audit_rows(db: Database) -> list[tuple[str, int, int | None, int]]:
    rows = await db.fetchall("SELECT action, actor_id, target_id, change FROM audit_log ORDER BY id")
    return [(r[0], r[1], r[2], r[3]) for r in rows]


# ------------------------------------------------------------------ the policy check


async def test_default_policy_allows_everything(policy: PolicyService) -> None:
    assert await check(policy, has_image=True, is_remix=True, role_ids=[]) is None


async def test_each_restriction_refuses_with_its_own_sentence(policy: PolicyService) -> None:
    await policy.allow(GUILD, "channel", str(CHANNEL), actor_id=MOD)
    assert "this channel" in (await check(policy, channel_id=OTHER_CHANNEL) or "")
    assert await check(policy, channel_id=THREAD, parent_channel_id=CHANNEL) is None, "a thread counts as its parent"

    await policy.allow(GUILD, "role", str(ROLE), actor_id=MOD)
    assert f"<@&{ROLE}>" in (await check(policy, role_ids=[OTHER_ROLE]) or "")

    await policy.allow(GUILD, "model", "sora-2", actor_id=MOD)
    assert "`sora-2`" in (await check(policy, model="sora-2-pro") or "")

    await policy.allow(GUILD, "size", "720x1280", actor_id=MOD)
    assert "sizes: `720x1280`" in (await check(policy) or "")
    assert await check(policy, size="720x1280") is None

    await policy.set_max_seconds(GUILD, 4, actor_id=MOD)
    assert "up to 4 seconds" in (await check(policy, size="720x1280") or "")

    await policy.set_feature(GUILD, "reference_images", False, actor_id=MOD)
    assert "Reference images are turned off" in (await check(policy, size="720x1280", seconds=4, has_image=True) or "")
    await policy.set_feature(GUILD, "remix", False, actor_id=MOD)
    assert "Remixing is turned off" in (await check(policy, size="720x1280", seconds=4, is_remix=True) or "")
    assert await check(policy, size="720x1280", seconds=4) is None
    assert await check(policy, guild_id=GUILD + 1, channel_id=OTHER_CHANNEL, model="sora-2-pro") is None


async def test_pause_comes_before_the_other_restrictions_and_resume_lifts_it(policy: PolicyService) -> None:
    await policy.allow(GUILD, "channel", str(OTHER_CHANNEL), actor_id=MOD)
    await policy.pause(GUILD, "  budget   review ", actor_id=MOD)
    assert await check(policy) == "⏸️ Video generation is paused in this server. Reason: budget review"
    await policy.resume(GUILD, actor_id=MOD)
    assert "this channel" in (await check(policy) or "")
    with pytest.raises(PolicyError, match="not paused"):
        await policy.resume(GUILD, actor_id=MOD)


async def test_a_ban_applies_until_it_expires_and_unban_lifts_it(policy: PolicyService, clock: ManualClock) -> None:
    await policy.ban(GUILD, ALICE, reason="spam", duration_seconds=3600, actor_id=MOD)
    refusal = await check(policy) or ""
    assert "stopped you from generating" in refusal and "Reason: spam" in refusal
    assert f"<t:{int(clock.now + 3600)}:f>" in refusal
    assert await check(policy, user_id=BOB) is None
    assert [b.user_id for b in await policy.bans(GUILD)] == [ALICE]
    clock.advance(3601)
    assert await check(policy) is None and await policy.bans(GUILD) == []

    await policy.ban(GUILD, ALICE, reason="", duration_seconds=None, actor_id=MOD)
    assert "Reason: No reason given." in (await check(policy) or "")
    await policy.unban(GUILD, ALICE, actor_id=MOD)
    assert await check(policy) is None
    with pytest.raises(PolicyError, match="is not banned"):
        await policy.unban(GUILD, ALICE, actor_id=MOD)


async def test_bad_values_are_refused_and_change_nothing(policy: PolicyService, db: Database) -> None:
    with pytest.raises(PolicyError, match="not in the catalog"):
        await policy.allow(GUILD, "model", "veo-9", actor_id=MOD)
    with pytest.raises(PolicyError, match="No model renders"):
        await policy.allow(GUILD, "size", "1x1", actor_id=MOD)
    await policy.allow(GUILD, "model", "sora-2", actor_id=MOD)
    with pytest.raises(PolicyError, match="already on the list"):
        await policy.allow(GUILD, "model", "sora-2", actor_id=MOD)
    with pytest.raises(PolicyError, match="not on the list"):
        await policy.disallow(GUILD, "model", "sora-2-pro", actor_id=MOD)
    with pytest.raises(PolicyError, match="Retention"):
        await policy.set_retention(GUILD, 0, actor_id=MOD)
    assert await audit_rows(db) == [("policy.model.allow", MOD, None, 1)]


async def test_every_change_writes_one_audit_row_and_survives_reopening(tmp_path: Path, clock: ManualClock) -> None:
    path = tmp_path / "persist.db"
    async with Database(path) as db:
        policy = PolicyService(PolicyStore(db, clock=clock), clock=clock)
        await policy.allow(GUILD, "channel", str(CHANNEL), actor_id=MOD)
        await policy.pause(GUILD, "maintenance", actor_id=MOD)
        await policy.set_log_channel(GUILD, OTHER_CHANNEL, actor_id=MOD)
        await policy.set_retention(GUILD, 30, actor_id=MOD)
        await policy.ban(GUILD, ALICE, reason="spam", duration_seconds=None, actor_id=MOD)
    async with Database(path) as db:
        policy = PolicyService(PolicyStore(db, clock=clock), clock=clock)
        stored = await policy.policy(GUILD)
        assert stored.channels == {CHANNEL} and stored.paused and stored.pause_reason == "maintenance"
        assert (stored.log_channel_id, stored.retention_days) == (OTHER_CHANNEL, 30)
        assert await policy.active_ban(GUILD, ALICE) is not None
        assert await audit_rows(db) == [
            ("policy.channel.allow", MOD, CHANNEL, 1),
            ("policy.pause", MOD, None, 1),
            ("log_channel", MOD, OTHER_CHANNEL, 1),
            ("policy.retention", MOD, None, 1),
            ("member.ban", MOD, ALICE, 1),
        ]
        [entry] = await AuditStore(db).entries(GUILD, limit=1)
        assert entry.details == {"reason": "spam", "expires_at": None} and entry.created_at == clock.now


async def test_a_failed_change_leaves_no_audit_row(db: Database, clock: ManualClock) -> None:
    store = PolicyStore(db, clock=clock)
    with pytest.raises(ValueError, match="not a guild setting"):
        await store.update_settings(GUILD, Action(MOD, "policy.bogus"), bogus=1)
    assert await audit_rows(db) == []


async def test_timeline_merges_refusals_and_actions_newest_first(db: Database, clock: ManualClock) -> None:
    audit, rules = AuditStore(db, clock=clock), RuleStore(db, clock=clock)
    await audit.record(GUILD, Action(MOD, "member.ban", target_id=ALICE))
    clock.advance(1)
    await rules.record_refusal(guild_id=GUILD, user_id=ALICE, source="local", category="brand", rule="r", prompt="p")
    clock.advance(1)
    await audit.record(GUILD, Action(MOD, "policy.show"), change=False)
    await audit.record(GUILD, Action(MOD, "rules.add", details={"rule_id": 1}))
    items = await audit.timeline(GUILD, limit=10)
    assert [(i.kind, i.action) for i in items] == [("action", "rules.add"), ("refusal", None), ("action", "member.ban")]
    assert await audit.count_timeline(GUILD) == 3 and await audit.count_timeline(GUILD, include_views=True) == 4
    assert [i.kind for i in await audit.timeline(GUILD, limit=10, member_id=ALICE)] == ["refusal", "action"]
    assert [i.action for i in await audit.timeline(GUILD, limit=1, offset=2)] == ["member.ban"]


def test_durations_parse_or_say_what_is_wrong() -> None:
    assert parse_duration("7d") == 7 * DAY
    assert parse_duration("1w 2d 3h") == 9 * DAY + 3 * 3600
    assert parse_duration("") is None and parse_duration("permanent") is None
    with pytest.raises(ModerationError, match="not a duration"):
        parse_duration("soon")
    with pytest.raises(ModerationError, match="not a duration"):
        parse_duration("3 days")


# ------------------------------------------------------------------ jobs, ledger, privacy


@pytest.fixture
def jobs(db: Database, clock: ManualClock) -> JobStore:
    return JobStore(db, clock=clock)


@pytest.fixture
def quotas(db: Database, clock: ManualClock) -> QuotaService:
    return QuotaService(QuotaStore(db, clock=clock), defaults=QuotaDefaults.unlimited(), clock=clock)


async def make_job(
    jobs: JobStore,
    quotas: QuotaService | None,
    status: JobStatus,
    *,
    user_id: int = ALICE,
    price: float = 0.8,
    seconds: int = 8,
    files: tuple[str, ...] = (),
) -> int:
    new = NewJob(GUILD, CHANNEL, user_id, "a fox in the snow", "sora-2", "1280x720", seconds, "sim", price_usd=price)
    async with jobs.db.transaction() as conn:
        job, _ = await jobs.insert(conn, new)
        if quotas is not None:
            await quotas.reserve(conn, job.id, Charge(GUILD, user_id, (), seconds, price))
    if status != JobStatus.PENDING:
        path = (JobStatus.SUBMITTED, JobStatus.COMPLETED, JobStatus.DELIVERING, JobStatus.DELIVERED)
        if status in (JobStatus.FAILED, JobStatus.DISCARDED):
            path = (status,)
        previous = JobStatus.PENDING
        for step in path:
            assert await jobs.transition(job.id, previous, step)
            previous = step
            if step == status:
                break
    values: dict[str, object] = {"status_message_id": 1000 + job.id}
    if status == JobStatus.DELIVERED:
        values["result_message_id"] = 2000 + job.id
    if files:
        values["video_path"] = files[0]
    await jobs.update(job.id, **values)
    return job.id


async def test_releasing_a_delivered_charge_is_guarded_and_audited(
    db: Database, jobs: JobStore, quotas: QuotaService, clock: ManualClock
) -> None:
    job_id = await make_job(jobs, quotas, JobStatus.DELIVERED)
    store = ModerationStore(db, clock=clock)
    assert await store.ledger_state(job_id) == "committed"
    job = await jobs.get(job_id)
    assert job is not None
    released, entry = await store.remove_result(job, release=True, action=Action(MOD, "jobs.delete", ALICE))
    assert released and await store.ledger_state(job_id) == "released"
    again, _ = await store.remove_result(job, release=True, action=Action(MOD, "jobs.delete", ALICE))
    assert not again, "a released charge is not released twice"
    cleared = await jobs.get(job_id)
    assert cleared is not None and cleared.result_message_id is None and cleared.status == JobStatus.DELIVERED
    assert entry.action == "jobs.delete" and len(await audit_rows(db)) == 2
    report = await quotas.report(GUILD, ALICE, ())
    assert report.window("user", "day", "jobs").used == 0, "the member's quota got the job back"


async def test_listing_filters_by_status_member_and_active(db: Database, jobs: JobStore) -> None:
    await make_job(jobs, None, JobStatus.DELIVERED)
    await make_job(jobs, None, JobStatus.SUBMITTED, user_id=BOB)
    await make_job(jobs, None, JobStatus.FAILED, user_id=BOB)
    store = ModerationStore(db)
    assert [j.id for j in await store.list_jobs(GUILD)] == [3, 2, 1]
    assert [j.id for j in await store.list_jobs(GUILD, user_id=BOB)] == [3, 2]
    assert [j.id for j in await store.list_jobs(GUILD, status=JobStatus.DELIVERED)] == [1]
    assert [j.id for j in await store.list_jobs(GUILD, active_only=True)] == [2]
    assert await store.count_jobs(GUILD, user_id=BOB, active_only=True) == 1
    assert [j.id for j in await store.list_jobs(GUILD, limit=1, offset=1)] == [2]


@pytest.fixture
def media(tmp_path: Path) -> Path:
    folder = tmp_path / "media"
    (folder / "results").mkdir(parents=True)
    return folder


def privacy_service(
    db: Database, jobs: JobStore, media: Path, clock: ManualClock, cancelled: list[int]
) -> PrivacyService:
    async def cancel(job_id: int) -> None:
        cancelled.append(job_id)
        await jobs.transition(job_id, (JobStatus.PENDING, JobStatus.SUBMITTED), JobStatus.DISCARDED)

    return PrivacyService(
        PrivacyStore(db), PolicyStore(db, clock=clock), media_dir=media, job_store=jobs, cancel=cancel, clock=clock
    )


async def test_forget_me_erases_the_members_data_and_keeps_billing_rows(
    db: Database, jobs: JobStore, quotas: QuotaService, media: Path, clock: ManualClock
) -> None:
    old_file = media / "results" / "job-1.mp4"
    old_file.write_bytes(b"mp4")
    old = await make_job(jobs, quotas, JobStatus.DELIVERED, files=(str(old_file),))
    clock.advance(40 * DAY)  # the first charge has left every quota window
    recent = await make_job(jobs, quotas, JobStatus.DELIVERED)
    running = await make_job(jobs, quotas, JobStatus.SUBMITTED)
    others = await make_job(jobs, quotas, JobStatus.DELIVERED, user_id=BOB)
    rules = RuleStore(db, clock=clock)
    refusal = await rules.record_refusal(
        guild_id=GUILD, user_id=ALICE, source="local", category="c", rule="r", prompt="x"
    )
    await rules.record_refusal(guild_id=GUILD, user_id=BOB, source="local", category="c", rule="r", prompt="y")
    await db.execute(
        "INSERT INTO appeals (refusal_id, guild_id, user_id, status, created_at) VALUES (?, ?, ?, 'pending', 0)",
        (refusal, GUILD, ALICE),
    )
    cancelled: list[int] = []
    before = await quotas.report(GUILD, ALICE, ())

    report = await privacy_service(db, jobs, media, clock, cancelled).forget_member(GUILD, ALICE)

    assert cancelled == [running] and report.jobs_cancelled == 1
    assert (report.jobs_deleted, report.jobs_scrubbed) == (1, 2)  # the old one deleted; recent + cancelled kept
    assert (report.refusals_deleted, report.appeals_deleted, report.files_deleted) == (1, 1, 1)
    assert not old_file.exists()
    assert set(report.messages) == {(CHANNEL, 1000 + old), (CHANNEL, 2000 + old), (CHANNEL, 1000 + recent),
                                    (CHANNEL, 2000 + recent), (CHANNEL, 1000 + running)}  # fmt: skip
    assert await jobs.get(old) is None
    kept = await jobs.get(recent)
    assert kept is not None and kept.prompt == ERASED_PROMPT and kept.result_message_id is None
    assert (await jobs.get(others)) is not None and len(await rules.recent_refusals(GUILD)) == 1
    after = await quotas.report(GUILD, ALICE, ())
    assert after.window("user", "month", "jobs").used == before.window("user", "month", "jobs").used - 1, (
        "only the job still in flight is refunded (it was cancelled); forgetting is not a quota reset"
    )
    assert ("member.forget", ALICE, ALICE, 1) in await audit_rows(db)


async def test_retention_sweeps_old_finished_data_only(
    db: Database, jobs: JobStore, media: Path, clock: ManualClock, policy: PolicyService
) -> None:
    await policy.set_retention(GUILD, 7, actor_id=MOD)
    old_file = media / "results" / "job-1.mp4"
    old_file.write_bytes(b"mp4")
    old = await make_job(jobs, None, JobStatus.DELIVERED, files=(str(old_file),))
    old_running = await make_job(jobs, None, JobStatus.SUBMITTED)
    rules = RuleStore(db, clock=clock)
    await rules.record_refusal(guild_id=GUILD, user_id=ALICE, source="local", category="c", rule="r", prompt="old")
    clock.advance(8 * DAY)
    fresh = await make_job(jobs, None, JobStatus.DELIVERED)
    await rules.record_refusal(guild_id=GUILD, user_id=ALICE, source="local", category="c", rule="r", prompt="new")

    service = privacy_service(db, jobs, media, clock, [])
    [report] = await service.apply_retention()

    assert (report.jobs_erased, report.refusals_deleted, report.files_deleted) == (1, 1, 1)
    assert await jobs.get(old) is None and not old_file.exists()
    assert await jobs.get(old_running) is not None, "a running job is never swept"
    assert await jobs.get(fresh) is not None
    assert [r.prompt for r in await rules.recent_refusals(GUILD)] == ["new"]
    assert await service.apply_retention() == [], "nothing left to sweep"
    assert ("retention.sweep", 0, None, 1) in await audit_rows(db)


# ------------------------------------------------------------------ usage


async def test_usage_sums_per_day_and_top_members(db: Database, jobs: JobStore, clock: ManualClock) -> None:
    await make_job(jobs, None, JobStatus.DELIVERED, price=0.4, seconds=4)
    await make_job(jobs, None, JobStatus.DELIVERED, user_id=BOB, price=2.0, seconds=12)
    await make_job(jobs, None, JobStatus.FAILED, price=9.0)  # failed videos cost nothing
    clock.advance(DAY)
    await make_job(jobs, None, JobStatus.DELIVERED, price=0.8, seconds=8)
    store = ModerationStore(db)
    daily = await store.daily_usage(GUILD, clock.now - 7 * DAY)
    assert [(d.jobs, d.seconds, d.usd) for d in daily] == [(2, 16, 2.4), (1, 8, 0.8)]
    top = await store.top_members(GUILD, clock.now - 7 * DAY)
    assert [(m.user_id, m.jobs, m.seconds, m.usd) for m in top] == [(BOB, 1, 12, 2.0), (ALICE, 2, 12, 1.2)]


async def test_usage_chart_is_a_valid_png() -> None:
    from storage.moderation import DayUsage, MemberUsage

    chart = UsageChart(
        title="Video usage — last 7 days",
        days=[DayUsage("2026-11-20", 2, 16, 1.6), DayUsage("2026-11-22", 1, 4, 0.4)],
        first_day=dt.date(2026, 11, 19),
        last_day=dt.date(2026, 11, 25),
        top=[("alice", MemberUsage(ALICE, 2, 16, 1.6)), ("bob", MemberUsage(BOB, 1, 4, 0.4))],
    )
    png = await usage_chart(chart)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    image = Image.open(io.BytesIO(png))
    image.verify()
    assert image.format == "PNG" and image.size == (1000, 750)


async def test_checks_are_served_from_cache_and_every_change_drops_it(db: Database, clock: ManualClock) -> None:
    policy = PolicyService(PolicyStore(db, clock=clock), clock=clock)
    assert await policy.check(GUILD, CHANNEL, ALICE, (), "sora-2", "1280x720", 4, has_image=False) is None
    await db.execute("UPDATE guild_settings SET paused = 1")  # a write that bypasses the service is not seen…
    await db.execute(
        "INSERT INTO member_bans (guild_id, user_id, reason, banned_by, banned_at) VALUES (?, ?, 'x', ?, ?)",
        (GUILD, ALICE, MOD, clock()),
    )
    assert await policy.check(GUILD, CHANNEL, ALICE, (), "sora-2", "1280x720", 4, has_image=False) is None
    await policy.pause(GUILD, "maintenance", actor_id=MOD)  # …but every change through the service is
    refused = await policy.check(GUILD, CHANNEL, ALICE, (), "sora-2", "1280x720", 4, has_image=False)
    assert refused is not None and "stopped you" in refused  # the ban (checked first) is now visible too
    await policy.unban(GUILD, ALICE, actor_id=MOD)
    refused = await policy.check(GUILD, CHANNEL, ALICE, (), "sora-2", "1280x720", 4, has_image=False)
    assert refused is not None and "maintenance" in refused
