"""Admission benchmark: content rules + quota reservation + job insert on a file-backed SQLite (WAL).

Run from the repository root::

    python -m bench.admission_bench                      # 5000 admissions per scenario
    python -m bench.admission_bench -n 20000 --concurrency 100 --guilds 4 --users 1000

One admission is what ``/video create`` does before the provider is called: ``bot.rules.check_prompt``
on the prompt, then one ``BEGIN IMMEDIATE`` transaction holding ``JobStore.insert`` and
``QuotaService.reserve`` (committed, or rolled back on :class:`bot.quotas.QuotaExceeded`).  Four scenarios
run, each on a fresh database file in a temporary directory:

* ``admit``  / sequential and concurrent: every window limit (member and guild × jobs, seconds, USD × day,
  week, month), both concurrency limits and the bot-wide cap are set, high enough to admit all, so every
  usage sum is computed on every admission;
* ``refuse`` / sequential and concurrent: the same limits, but one video per member per day, so after the
  first round almost every admission is refused (the refusal path also reads the counted rows to say
  when to try again).

Members are spread round-robin over ``--guilds`` guilds and ``--users`` members; every reservation stays
in the ledger, so later admissions sum over a growing window (the guild and bot-wide sums grow to N
rows).  Latency is per admission, from the rules check to the end of the transaction; in the concurrent
scenarios it includes the wait for the database's transaction lock.  By default the process is pinned to
one CPU (``--cpus 0`` to leave it alone); the event loop and aiosqlite's thread share that core.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiosqlite

from bot.quotas import PERIODS, SCOPES, UNITS, Charge, QuotaDefaults, QuotaExceeded, QuotaService
from bot.rules import check_prompt, warm_up
from storage.db import Database
from storage.jobs import JobStore, NewJob
from storage.quotas import QuotaStore

PROMPTS = (
    "a paper boat drifting down a rainy street at dusk, take {n}",
    "slow aerial shot over a misty pine forest at sunrise, shot {n}",
    "a cat in a tiny astronaut suit floating past the window of a space station, version {n}",
    "time-lapse of clouds rolling over snowy mountains, clip {n}",
)
SECONDS = 8
PRICE_USD = 0.8


@dataclass(frozen=True)
class Options:
    n: int
    concurrency: int
    guilds: int
    users: int
    cpus: int
    dir: str | None


@dataclass(frozen=True)
class Result:
    name: str
    attempts: int
    admitted: int
    refused: int  # by a quota
    rules: int  # by the content rules (no transaction)
    wall: float
    latencies: list[float]

    def line(self) -> str:
        lat = sorted(self.latencies)
        p50 = statistics.median(lat) * 1000
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000
        return (
            f"{self.name:<22} {self.attempts / self.wall:>9.0f}/s  admitted {self.admitted:>6}  refused "
            f"{self.refused:>6}  rules {self.rules:>2}  p50 {p50:6.3f} ms  p99 {p99:6.3f} ms  wall {self.wall:6.2f} s"
        )


def _defaults(per_member_jobs_per_day: int) -> QuotaDefaults:
    big = 10**9
    values: dict[str, int | float] = {}
    for scope in SCOPES:
        for unit in UNITS:
            for period in PERIODS:
                values[f"{scope}_{unit}_per_{period}"] = float(big) if unit == "usd" else big
    values["user_jobs_per_day"] = per_member_jobs_per_day
    return QuotaDefaults(**values, max_concurrent_per_user=big, max_concurrent_per_guild=big)  # type: ignore[arg-type]


async def _admit(
    db: Database, jobs: JobStore, quotas: QuotaService | None, i: int, opts: Options, latencies: list[float]
) -> str:
    started = time.perf_counter()
    user = 1_000 + i % opts.users
    guild = 1 + user % opts.guilds
    prompt = PROMPTS[i % len(PROMPTS)].format(n=i)
    if not check_prompt(prompt).allowed:  # e.g. "take 1488": refused before any SQL, as in the bot
        latencies.append(time.perf_counter() - started)
        return "rules"
    outcome = "admitted"
    try:
        async with db.transaction() as conn:
            job, _ = await jobs.insert(
                conn,
                NewJob(
                    guild_id=guild,
                    channel_id=10 + guild,
                    user_id=user,
                    prompt=prompt,
                    model="sora-2",
                    size="1280x720",
                    seconds=SECONDS,
                    provider="simulator",
                    price_usd=PRICE_USD,
                    interaction_id=10_000_000 + i,
                ),
            )
            if quotas is not None:
                await quotas.reserve(conn, job.id, Charge(guild, user, (), SECONDS, PRICE_USD))
    except QuotaExceeded:
        outcome = "quota"
    latencies.append(time.perf_counter() - started)
    return outcome


async def _scenario(
    name: str, opts: Options, *, refuse: bool, concurrent: bool, folder: Path, baseline: bool = False
) -> Result:
    path = folder / f"{name.replace(' ', '-').replace('/', '')}.db"
    async with Database(path) as db:
        quotas = None
        if not baseline:
            quotas = QuotaService(
                QuotaStore(db),
                defaults=_defaults(1 if refuse else 10**9),
                daily_spend_cap_usd=1e9,
            )
        jobs = JobStore(db)
        latencies: list[float] = []
        started = time.perf_counter()
        if concurrent:
            queue = iter(range(opts.n))
            outcomes: list[str] = []

            async def worker() -> None:
                for i in queue:
                    outcomes.append(await _admit(db, jobs, quotas, i, opts, latencies))

            await asyncio.gather(*(worker() for _ in range(opts.concurrency)))
        else:
            outcomes = [await _admit(db, jobs, quotas, i, opts, latencies) for i in range(opts.n)]
        wall = time.perf_counter() - started
        admitted = outcomes.count("admitted")
        ledger = await db.fetchone("SELECT COUNT(*) FROM ledger")
        jobs_written = await db.fetchone("SELECT COUNT(*) FROM jobs")
        assert jobs_written is not None and jobs_written[0] == admitted, "job rows must match admissions"
        assert ledger is not None and ledger[0] == (0 if baseline else admitted), "ledger rows must match"
        journal = await db.fetchone("PRAGMA journal_mode")
        assert journal is not None and journal[0] == "wal"
    return Result(name, opts.n, admitted, outcomes.count("quota"), outcomes.count("rules"), wall, latencies)


async def run(opts: Options) -> list[Result]:
    warm_up()
    results = []
    with tempfile.TemporaryDirectory(prefix="admission-bench-", dir=opts.dir) as tmp:
        folder = Path(tmp)
        # Without quotas (rules + job insert only), to show what the reservation adds.
        results.append(
            await _scenario("baseline / sequential", opts, refuse=False, concurrent=False, folder=folder, baseline=True)
        )
        for refuse in (False, True):
            for concurrent in (False, True):
                mode = f"{opts.concurrency} tasks" if concurrent else "sequential"
                name = f"{'refuse' if refuse else 'admit'} / {mode}"
                results.append(await _scenario(name, opts, refuse=refuse, concurrent=concurrent, folder=folder))
    return results


def _parse(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m bench.admission_bench", description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=5000, help="admissions per scenario (default 5000)")
    parser.add_argument("--concurrency", type=int, default=50, help="tasks in the concurrent scenarios (default 50)")
    parser.add_argument("--guilds", type=int, default=10, help="guilds the members belong to (default 10)")
    parser.add_argument("--users", type=int, default=500, help="distinct members (default 500)")
    parser.add_argument("--cpus", type=int, default=1, help="pin the process to this many CPUs; 0 = no pinning")
    parser.add_argument("--dir", default=None, help="where the temporary database goes (default: the system's)")
    args = parser.parse_args(argv)
    return Options(args.n, args.concurrency, args.guilds, args.users, args.cpus, args.dir)


def main(argv: list[str] | None = None) -> int:
    opts = _parse(argv)
    pinned = "not pinned"
    if opts.cpus > 0 and hasattr(os, "sched_setaffinity"):
        cpus = sorted(os.sched_getaffinity(0))[: opts.cpus]
        os.sched_setaffinity(0, set(cpus))
        pinned = f"pinned to CPU {','.join(map(str, cpus))}"
    print(
        f"admission bench: n={opts.n} per scenario, concurrency={opts.concurrency}, guilds={opts.guilds}, "
        f"members={opts.users}, {SECONDS} s at ${PRICE_USD:.2f} per job, {pinned}"
    )
    print(
        f"python {platform.python_version()}, sqlite {sqlite3.sqlite_version}, aiosqlite {aiosqlite.__version__}, "
        f"{platform.machine()}; file-backed SQLite in WAL mode, synchronous=NORMAL, "
        f"in {opts.dir or tempfile.gettempdir()}"
    )
    results = asyncio.run(run(opts))
    for result in results:
        print(result.line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
