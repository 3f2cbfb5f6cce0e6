"""Storage on real SQLite files: migrations, WAL, idempotent inserts, guarded transitions, persistence."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from storage import Database, JobStatus, JobStore
from storage.db import MigrationError, available_migrations
from storage.jobs import NewJob
from storage.meta import MetaStore


def new_job(**overrides: object) -> NewJob:
    base: dict[str, object] = {
        "guild_id": 10,
        "channel_id": 20,
        "user_id": 30,
        "prompt": "a red fox in snow",
        "model": "sora-2",
        "size": "1280x720",
        "seconds": 4,
        "provider": "simulator",
        "price_usd": 0.4,
    }
    base.update(overrides)
    return NewJob(**base)  # type: ignore[arg-type]


async def test_migrations_set_version_wal_and_foreign_keys(db: Database) -> None:
    assert await db.schema_version() == len(available_migrations())
    assert (await db.fetchone("PRAGMA journal_mode"))[0] == "wal"
    assert (await db.fetchone("PRAGMA foreign_keys"))[0] == 1
    tables = {r[0] for r in await db.fetchall("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"jobs", "meta"} <= tables


async def test_reopening_applies_nothing_twice_and_keeps_rows(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    async with Database(path) as first:
        job, _ = await JobStore(first).create(new_job())
    async with Database(path) as second:
        assert await second.migrate() == len(available_migrations())
        again = await JobStore(second).get(job.id)
    assert again is not None and again.prompt == "a red fox in snow" and again.status == JobStatus.PENDING


async def test_database_newer_than_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    async with Database(path) as db:
        await db.execute("PRAGMA user_version = 999")
    with pytest.raises(MigrationError, match="newer than this code"):
        async with Database(path):
            pass


async def test_interaction_id_makes_inserts_idempotent(db: Database) -> None:
    store = JobStore(db)
    first, created = await store.create(new_job(interaction_id=555))
    second, created_again = await store.create(new_job(interaction_id=555, prompt="something else"))
    assert created and not created_again
    assert second.id == first.id and second.prompt == "a red fox in snow"
    assert len(await store.list_for_member(10, 30)) == 1


async def test_concurrent_duplicate_interactions_create_one_job(db: Database) -> None:
    store = JobStore(db)
    results = await asyncio.gather(*(store.create(new_job(interaction_id=777)) for _ in range(20)))
    assert sum(created for _, created in results) == 1
    assert len({job.id for job, _ in results}) == 1


async def test_transition_is_guarded_by_expected_status(db: Database) -> None:
    store = JobStore(db)
    job, _ = await store.create(new_job())
    assert await store.transition(job.id, JobStatus.PENDING, JobStatus.SUBMITTED, provider_video_id="video_1")
    assert not await store.transition(job.id, JobStatus.PENDING, JobStatus.SUBMITTED)
    assert await store.transition(job.id, JobStatus.SUBMITTED, JobStatus.COMPLETED)
    # Two racing claims of the same completed job: exactly one wins.
    wins = await asyncio.gather(
        *(store.transition(job.id, JobStatus.COMPLETED, JobStatus.DELIVERING) for _ in range(10))
    )
    assert wins.count(True) == 1
    assert await store.transition(job.id, JobStatus.DELIVERING, JobStatus.DELIVERED, result_message_id=42)
    done = await store.get(job.id)
    assert done is not None and done.result_message_id == 42 and done.finished_at is not None
    assert not done.active


async def test_update_refuses_unknown_columns(db: Database) -> None:
    store = JobStore(db)
    job, _ = await store.create(new_job())
    with pytest.raises(ValueError, match="not updatable"):
        await store.update(job.id, status="delivered")
    with pytest.raises(ValueError, match="not updatable"):
        await store.update(job.id, **{"progress = 100 --": 1})


async def test_list_active_and_member_paging(db: Database) -> None:
    store = JobStore(db)
    ids = [(await store.create(new_job(prompt=f"prompt {i}")))[0].id for i in range(5)]
    await store.create(new_job(user_id=31))
    await store.transition(ids[0], JobStatus.PENDING, JobStatus.FAILED, error_message="boom")
    assert [j.id for j in await store.list_active()] == [*ids[1:], ids[-1] + 1]
    page1 = await store.list_for_member(10, 30, limit=2, offset=0)
    page3 = await store.list_for_member(10, 30, limit=2, offset=4)
    assert [j.id for j in page1] == [ids[4], ids[3]] and [j.id for j in page3] == [ids[0]]
    assert await store.count_for_member(10, 30) == 5


async def test_search_treats_like_wildcards_literally(db: Database) -> None:
    store = JobStore(db)
    await store.create(new_job(prompt="100% orange sunset"))
    await store.create(new_job(prompt="plain blue sea"))
    assert [j.prompt for j in await store.search_for_member(10, 30, "100%")] == ["100% orange sunset"]
    # A bare "%" is a literal percent sign, not "match everything".
    assert [j.prompt for j in await store.search_for_member(10, 30, "%")] == ["100% orange sunset"]
    assert len(await store.search_for_member(10, 30, "")) == 2


async def test_sql_text_in_prompt_is_stored_verbatim(db: Database) -> None:
    store = JobStore(db)
    nasty = "'); DROP TABLE jobs; --"
    job, _ = await store.create(new_job(prompt=nasty))
    assert (await store.get(job.id)).prompt == nasty  # type: ignore[union-attr]
    assert (await db.fetchone("SELECT COUNT(*) FROM jobs"))[0] == 1


async def test_meta_store_upserts(db: Database) -> None:
    meta = MetaStore(db)
    assert await meta.get("k") is None
    await meta.set("k", "one")
    await meta.set("k", "two")
    assert await meta.get("k") == "two"
