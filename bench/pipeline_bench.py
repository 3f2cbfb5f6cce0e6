"""Pipeline benchmark: N concurrent ``/video create`` interactions through the fake Discord and the simulator.

Run from the repository root::

    python -m bench.pipeline_bench --jobs 50
    python -m bench.pipeline_bench --jobs 200 --job-seconds 3 --poll-interval 1

It starts the production :class:`bot.client.ReelBot` against the loopback fake Discord (``tests.fakediscord``)
and the Videos API simulator (``bot.simulator``) with a temporary SQLite file, dispatches N INTERACTION_CREATE
events at once (one per distinct member), waits until every job is ``delivered`` and prints:

* acknowledgement latency (INTERACTION_CREATE dispatched → the bot's callback request received by the fake);
* provider requests per delivered job, by endpoint;
* time from provider completion (simulator job ``started + duration``) to the result post reaching the fake;
* time in the bot's local queue (``PROVIDER_MAX_CONCURRENT_JOBS``) and end to end;
* Discord requests per job (callbacks, edits, posts);
* peak memory (``ru_maxrss``) and wall time.

This is a benchmark, not a test.  The exit status is 1 when an interaction was never acknowledged, a job did not
reach ``delivered`` within ``--timeout``, the provider got more create calls than there are jobs (a video
billed twice) or rendered more jobs at once than ``PROVIDER_MAX_CONCURRENT_JOBS``; 0 otherwise.

The fake Discord, the simulator and the bot share one process and one event loop, so every figure includes the
fakes' cost as well as the bot's.  ``--media`` decides where the simulator's clips come from: ``ready``
(default) serves one clip rendered in a child process before the run, so render CPU does not distort the bot's
figures; ``render`` and ``lazy`` render every clip in this process.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import logging
import multiprocessing
import os
import platform
import re
import resource
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.catalog import parse_size
from bot.client import ReelBot
from bot.logs import setup_logging
from bot.settings import load_settings
from bot.simulator import SimulatedJob, SimulatorConfig, SimulatorServer
from bot.simulator.media import RenderedMedia, RenderSpec, render_media
from tests.fakediscord import FakeDiscord, FakeMember, FakeUser, RecordedRequest, World, slash_command, snowflake
from tests.plugins.fake_discord import FAKE_TOKEN, start_client, stop_client

PROMPT = "a paper boat drifting down a rainy street at dusk, take {n}"
TERMINAL = ("delivered", "failed", "refused", "discarded")
JOB_QUERY = (
    "SELECT id, interaction_id, user_id, provider_video_id, status, created_at, submitted_at, completed_at,"
    " finished_at, result_message_id, video_bytes, error_code, error_message, held_reason, delivery_note"
    " FROM jobs ORDER BY id"
)
STATUS_QUERY = "SELECT status, COUNT(*) FROM jobs GROUP BY status"
UNLIMITED_QUOTAS: dict[str, Any] = {
    "quota_user_jobs_per_day": None,
    "quota_user_seconds_per_day": None,
    "quota_user_usd_per_day": None,
    "quota_guild_usd_per_day": None,
    "quota_guild_usd_per_month": None,
    "quota_max_concurrent_per_user": None,
    "quota_max_concurrent_per_guild": None,
}
FOOTER_JOB = re.compile(r"^Job #(\d+) ")
MEDIA_MODES = ("ready", "render", "lazy")
MEDIA_DESCRIPTIONS = {
    "ready": "ready: one pre-rendered clip served for every job (no render CPU during the run)",
    "render": "render: each clip rendered at completion on a {threads}-thread pool of the bench",
    "lazy": "lazy: simulator as shipped, renders on first download in the default executor",
}


# ---------------------------------------------------------------------------------------------------- options


@dataclass(frozen=True)
class BenchOptions:
    jobs: int = 50
    job_seconds: float = 3.0
    fps: int = 4
    poll_interval: float = 1.0
    edit_interval: float = 5.0
    max_concurrent_downloads: int = 2
    provider_max_concurrent_jobs: int | None = None  # None: the setting's own default
    same_member: bool = False
    media: str = "ready"
    render_threads: int = 2
    timeout: float = 600.0
    seed: int = 1234
    log_level: str = "WARNING"
    command: str = "python -m bench.pipeline_bench"


def parse_args(argv: Sequence[str] | None = None) -> BenchOptions:
    """Command-line options → :class:`BenchOptions` (defaults: production intervals, a 3-second render)."""
    p = argparse.ArgumentParser(prog="python -m bench.pipeline_bench", description=__doc__.split("\n\n")[0])
    d = BenchOptions()
    p.add_argument(
        "--jobs", type=int, default=d.jobs, help="concurrent /video create interactions (default %(default)s)"
    )
    p.add_argument(
        "--job-seconds",
        type=float,
        default=d.job_seconds,
        help="provider time from create to completed, SIMULATOR_JOB_SECONDS (default %(default)s)",
    )
    p.add_argument("--fps", type=int, default=d.fps, help="frame rate of simulated clips (default %(default)s)")
    p.add_argument(
        "--poll-interval", type=float, default=d.poll_interval, help="POLL_INTERVAL_SECONDS (default %(default)s)"
    )
    p.add_argument(
        "--edit-interval",
        type=float,
        default=d.edit_interval,
        help="PROGRESS_EDIT_INTERVAL_SECONDS (default %(default)s, as in production)",
    )
    p.add_argument(
        "--max-concurrent-downloads",
        type=int,
        default=d.max_concurrent_downloads,
        help="MAX_CONCURRENT_DOWNLOADS (default %(default)s, as in production)",
    )
    p.add_argument(
        "--provider-max-concurrent-jobs",
        type=int,
        default=None,
        help="PROVIDER_MAX_CONCURRENT_JOBS, the bot-wide cap on jobs at the provider (default: the setting's default)",
    )
    p.add_argument("--same-member", action="store_true", help="every interaction from one member (default: N members)")
    p.add_argument(
        "--media",
        choices=MEDIA_MODES,
        default=d.media,
        help="ready (default): one clip rendered before the run is served for every job from completion on, like a "
        "remote provider whose file is ready when it says completed; render: each clip rendered at completion on "
        "the bench's own thread pool (render CPU shared with the bot); lazy: the simulator as shipped, rendering on "
        "the first download in the event loop's default executor",
    )
    p.add_argument(
        "--render-threads",
        type=int,
        default=d.render_threads,
        help="threads of the render pool with --media render (default %(default)s)",
    )
    p.add_argument("--timeout", type=float, default=d.timeout, help="overall bound in seconds (default %(default)s)")
    p.add_argument("--seed", type=int, default=d.seed, help="simulator seed (default %(default)s)")
    p.add_argument("--log-level", default=d.log_level, help="bot log level on stderr (default %(default)s)")
    a = p.parse_args(argv)
    if a.jobs < 1:
        p.error("--jobs must be at least 1")
    return BenchOptions(
        jobs=a.jobs,
        job_seconds=a.job_seconds,
        fps=a.fps,
        poll_interval=a.poll_interval,
        edit_interval=a.edit_interval,
        max_concurrent_downloads=a.max_concurrent_downloads,
        provider_max_concurrent_jobs=a.provider_max_concurrent_jobs,
        same_member=a.same_member,
        media=a.media,
        render_threads=a.render_threads,
        timeout=a.timeout,
        seed=a.seed,
        log_level=a.log_level.upper(),
        command=" ".join(["python -m bench.pipeline_bench", *(sys.argv[1:] if argv is None else argv)]),
    )


# ------------------------------------------------------------------------------------------------- statistics


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100) of ``values``; NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), -(-len(ordered) * q // 100)))
    return ordered[int(rank) - 1]


class LogCounter(logging.Handler):
    """Counts WARNING+ records of the bot and its libraries; keeps the first few distinct messages."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.counts: collections.Counter[str] = collections.Counter()
        self.samples: dict[str, str] = {}

    def emit(self, record: logging.LogRecord) -> None:
        key = f"{record.levelname} {record.name}"
        self.counts[key] += 1
        if len(self.samples) < 8:
            message = record.getMessage()
            self.samples.setdefault(f"{key}: {message[:60]}", message[:200])


@dataclass
class Monitors:
    """Background probes: event-loop lag, and how the simulator's media becomes available (``--media``)."""

    simulator: SimulatorServer
    media: str
    render_threads: int
    fps: int
    lag: list[float] = field(default_factory=list)
    render_done: dict[str, float] = field(default_factory=dict)  # provider id -> wall time the render finished
    shared: RenderedMedia | None = None
    shared_bytes: int = 0
    _tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    _pool: ThreadPoolExecutor | None = None

    async def prepare(self, root: Path) -> None:
        """``ready``: render the one clip served for every job; ``render``: create the render pool."""
        if self.media == "ready":
            model = self.simulator.config.catalog.default_model
            width, height = parse_size(model.default_size or model.sizes[0])
            seconds = model.default_seconds or model.seconds[0]
            spec = RenderSpec(width=width, height=height, seconds=seconds, fps=self.fps, prompt="benchmark clip")
            # in a child process, so the encoder's memory does not count in this process's peak
            with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
                loop = asyncio.get_running_loop()
                self.shared = await loop.run_in_executor(pool, render_media, spec, root / "shared-clip")
            self.shared_bytes = self.shared.video.stat().st_size
        elif self.media == "render":
            self._pool = ThreadPoolExecutor(self.render_threads, thread_name_prefix="bench-render")

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._lag_probe()), asyncio.create_task(self._media_probe())]

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    async def _lag_probe(self, interval: float = 0.05) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(interval)
            self.lag.append(max(0.0, loop.time() - before - interval))

    async def _media_probe(self, interval: float = 0.05) -> None:
        """Attach media to simulator jobs (``ready``/``render``) and note when each real render finished.

        The simulator keeps a job's media in ``job.render_task`` and reuses a task that is already set, so
        setting it here decides where (and whether) the job's clip is rendered.
        """
        watched: set[str] = set()
        while True:
            now = time.time()
            for job in list(self.simulator.jobs.values()):
                if job.id in watched:
                    continue
                if job.render_task is None and job.failure is None:
                    if self.shared is not None:
                        job.render_task = asyncio.create_task(_ready(self.shared))
                        watched.add(job.id)
                        continue
                    if self._pool is not None and now >= job.started + job.duration:
                        job.render_task = asyncio.create_task(self._render(job))
                if job.render_task is not None:
                    watched.add(job.id)
                    job.render_task.add_done_callback(
                        lambda _t, vid=job.id: self.render_done.setdefault(vid, time.time())
                    )
            await asyncio.sleep(interval)

    async def _render(self, job: SimulatedJob) -> RenderedMedia:
        """What ``SimulatorState._render`` does, on the bench's own pool instead of the loop's default executor."""
        assert self._pool is not None
        width, height = parse_size(job.size)
        spec = RenderSpec(
            width=width,
            height=height,
            seconds=job.seconds,
            fps=job.fps,
            prompt=job.prompt,
            label="SIMULATED",
            seed=job.sequence,
            reference_image=job.reference_image,
        )
        out = self.simulator.state.job_media_dir(job)
        return await asyncio.get_running_loop().run_in_executor(self._pool, render_media, spec, out)


async def _ready(media: RenderedMedia) -> RenderedMedia:
    return media


# ------------------------------------------------------------------------------------------------------- run


@dataclass
class RunData:
    options: BenchOptions
    members: int
    dispatched: dict[int, float]  # interaction id -> monotonic time right before send_interaction
    dispatch_window: float
    discord: list[RecordedRequest]
    provider: list[tuple[str, str, int]]  # (method, path, status)
    provider_jobs: dict[str, tuple[float, float]]  # provider id -> (started, started + duration), wall clock
    provider_prompts: dict[str, str]  # provider id -> prompt (one per interaction, so a repeat is a second create)
    rows: list[dict[str, Any]]
    wall_minus_mono: float
    clock_drift: float
    run_seconds: float
    shared_bytes: int  # size of the one clip served with --media ready, else 0
    provider_cap: int | None  # PROVIDER_MAX_CONCURRENT_JOBS in effect (None: no cap or no such setting)
    provider_rpm: int | None  # PROVIDER_REQUESTS_PER_MINUTE in effect
    moderation: bool  # MODERATION_ENABLED as loaded (environment), off by default
    rss_before: float  # ru_maxrss (MiB) once everything was started, before the interactions
    settle_seconds: float
    timed_out: bool
    lag: list[float]
    render_done: dict[str, float]
    log: LogCounter
    fake_internal_errors: list[str]
    fake_upload_bytes: int


def _read_rows(path: Path) -> list[dict[str, Any]]:
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(row) for row in conn.execute(JOB_QUERY)]


def _count_statuses(path: Path) -> dict[str, int]:
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)) as conn:
        return dict(conn.execute(STATUS_QUERY))


def _world(n: int, same_member: bool) -> tuple[World, list[FakeMember]]:
    world = World.default()
    guild = world.guild
    if same_member:
        return world, [guild.member("alice")] * n
    members = [FakeMember(FakeUser(snowflake(), f"bench-{i:04d}")) for i in range(n)]
    guild.members.extend(members)
    return world, members


async def _wait_all_terminal(
    db_path: Path, n: int, deadline: float, progress: Callable[[dict[str, int]], None]
) -> bool:
    """Poll SQLite through a separate read-only connection; True when all ``n`` rows are terminal."""
    last_report = 0.0
    while True:
        counts = await asyncio.to_thread(_count_statuses, db_path) if db_path.exists() else {}
        done = sum(counts.get(s, 0) for s in TERMINAL)
        if time.monotonic() - last_report >= 5:
            progress(counts)
            last_report = time.monotonic()
        if sum(counts.values()) >= n and done >= n:
            progress(counts)
            return True
        if time.monotonic() > deadline:
            progress(counts)
            return False
        await asyncio.sleep(0.25)


async def run(options: BenchOptions) -> RunData:
    """Start fake Discord + simulator + ReelBot, dispatch the interactions, wait, and collect the raw records."""
    started_wall = time.monotonic()
    log_counter = LogCounter()
    setup_logging(options.log_level)

    with tempfile.TemporaryDirectory(prefix="reelbot-bench-") as tmp:
        root = Path(tmp)
        db_path = root / "reelbot.db"
        world, members = _world(options.jobs, options.same_member)
        fake = FakeDiscord(world)
        await fake.start()
        simulator = SimulatorServer(
            SimulatorConfig(job_seconds=options.job_seconds, fps=options.fps, seed=options.seed, media_dir=root / "sim")
        )
        await simulator.start()
        monitors = Monitors(simulator, options.media, options.render_threads, options.fps)
        await monitors.prepare(root)
        bot: ReelBot | None = None
        task: asyncio.Task[None] | None = None
        try:
            with fake.patched():
                # A load test measures the pipeline, not the member and server quotas (which would refuse
                # most of N concurrent requests by design): they are lifted here and printed as such.
                overrides: dict[str, Any] = dict(UNLIMITED_QUOTAS)
                if options.provider_max_concurrent_jobs is not None:
                    overrides["provider_max_concurrent_jobs"] = options.provider_max_concurrent_jobs
                settings = load_settings(
                    None,
                    **overrides,
                    discord_token=FAKE_TOKEN,
                    video_provider="simulator",
                    video_api_base_url=simulator.base_url,
                    database_path=db_path,
                    media_dir=root / "media",
                    poll_interval_seconds=options.poll_interval,
                    progress_edit_interval_seconds=options.edit_interval,
                    max_concurrent_downloads=options.max_concurrent_downloads,
                    log_level=options.log_level,
                )
                bot = ReelBot(settings, guild_ready_timeout=0.05)
                # counted from here on: discord.py's "PyNaCl is not installed" at construction is not the bot's
                logging.getLogger().addHandler(log_counter)
                task = await start_client(bot, fake)
                if bot._tracker_starter is not None:  # the tracker starts once the client is READY
                    await bot._tracker_starter

                payloads = [
                    slash_command("video", {"prompt": PROMPT.format(n=i)}, subcommand="create", world=world, member=m)
                    for i, m in enumerate(members)
                ]
                rss_before = _peak_rss_mib()
                wall_minus_mono = time.time() - time.monotonic()
                first_discord, first_provider = len(fake.requests), len(simulator.requests)
                monitors.start()
                dispatched: dict[int, float] = {}

                async def send(payload: dict[str, Any]) -> None:
                    dispatched[int(payload["id"])] = time.monotonic()
                    await fake.send_interaction(payload)

                t0 = time.monotonic()
                await asyncio.gather(*(send(p) for p in payloads))
                dispatch_window = time.monotonic() - t0

                def progress(counts: dict[str, int]) -> None:
                    state = ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "no rows yet"
                    print(f"[{time.monotonic() - t0:6.1f} s] {state}", file=sys.stderr, flush=True)

                finished = await _wait_all_terminal(db_path, options.jobs, t0 + options.timeout, progress)
                settle = time.monotonic() - t0
                await monitors.stop()
                rows = await asyncio.to_thread(_read_rows, db_path) if db_path.exists() else []
                clock_drift = (time.time() - time.monotonic()) - wall_minus_mono
                discord_requests = fake.requests[first_discord:]
                provider_requests = [(r.method, r.path, r.status) for r in simulator.requests[first_provider:]]
                provider_jobs = {j.id: (j.started, j.started + j.duration) for j in simulator.jobs.values()}
                provider_prompts = {j.id: j.prompt for j in simulator.jobs.values()}
                upload_bytes = sum(p.size for r in discord_requests for p in r.files)
                await stop_client(bot, task)
                bot = task = None
        finally:
            await monitors.stop()
            if bot is not None and task is not None:
                await stop_client(bot, task)
            await simulator.stop()
            await fake.stop()
        logging.getLogger().removeHandler(log_counter)
        return RunData(
            options=options,
            members=len({m.id for m in members}),
            dispatched=dispatched,
            dispatch_window=dispatch_window,
            discord=discord_requests,
            provider=provider_requests,
            provider_jobs=provider_jobs,
            provider_prompts=provider_prompts,
            rows=rows,
            wall_minus_mono=wall_minus_mono,
            clock_drift=clock_drift,
            run_seconds=time.monotonic() - started_wall,
            rss_before=rss_before,
            moderation=settings.moderation_enabled,
            provider_cap=getattr(settings, "provider_max_concurrent_jobs", None),
            provider_rpm=getattr(settings, "provider_requests_per_minute", None),
            shared_bytes=monitors.shared_bytes,
            settle_seconds=settle,
            timed_out=not finished,
            lag=monitors.lag,
            render_done=monitors.render_done,
            log=log_counter,
            fake_internal_errors=[repr(e) for e in fake.internal_errors],
            fake_upload_bytes=upload_bytes,
        )


# --------------------------------------------------------------------------------------------------- report


def _discord_kind(r: RecordedRequest) -> str:
    route = r.route or f"{r.method} (unknown route)"
    return {
        "POST /interactions/{interaction_id}/{token}/callback": "callback",
        "PATCH /webhooks/{app_id}/{token}/messages/{message_id}": "edit (token)",
        "PATCH /channels/{channel_id}/messages/{message_id}": "edit (channel)",
        "POST /webhooks/{app_id}/{token}": "post (followup)",
        "POST /channels/{channel_id}/messages": "post (channel)",
        "DELETE /webhooks/{app_id}/{token}/messages/{message_id}": "delete (token)",
        "GET /channels/{channel_id}/messages": "history read",
    }.get(route, route)


def _provider_kind(method: str, path: str) -> str:
    if method == "POST" and path == "/v1/videos":
        return "create"
    if method == "GET" and path == "/v1/videos":
        return "list"
    if method == "GET" and path.endswith("/content"):
        return "content"
    if method == "GET" and path.startswith("/v1/videos/"):
        return "retrieve"
    return f"{method} {path}"


def _is_mp4_post(r: RecordedRequest) -> bool:
    return r.method == "POST" and any((p.filename or "").endswith(".mp4") for p in r.files)


def _post_job_id(r: RecordedRequest, by_interaction: dict[int, int]) -> int | None:
    if r.interaction_id is not None and r.interaction_id in by_interaction:
        return by_interaction[r.interaction_id]
    for embed in (r.payload or {}).get("embeds") or []:
        match = FOOTER_JOB.match(((embed.get("footer") or {}).get("text")) or "")
        if match:
            return int(match.group(1))
    return None


def _ms(value: float) -> str:
    return f"{value * 1000:.1f} ms"


def _s(value: float) -> str:
    return f"{value:.2f} s"


def report(data: RunData) -> tuple[list[str], bool]:
    """The printed table, and whether the run was a success (every job delivered and acknowledged)."""
    o = data.options
    lines: list[str] = []

    def line(name: str, value: object) -> None:
        lines.append(f"  {name:<56} {value}")

    rows = data.rows
    by_status = collections.Counter(r["status"] for r in rows)
    delivered = [r for r in rows if r["status"] == "delivered"]
    n_delivered = len(delivered)
    by_interaction = {r["interaction_id"]: r["id"] for r in rows if r["interaction_id"] is not None}

    lines.append("reelbot pipeline benchmark (python -m bench.pipeline_bench)")
    lines.append("NOTE: one process, one asyncio event loop: the fake Discord, the Videos API simulator and the bot")
    lines.append(
        f"      share it ({_cpu_count()} CPUs here), so every figure includes the fakes' own cost; loopback only."
    )
    if o.media != "ready":
        lines.append("      Simulator renders (H.264 encodes) run in worker threads of this process as well.")
    lines.append("parameters")
    line("command", o.command)
    line("revision", _revision())
    line("jobs (concurrent /video create)", o.jobs)
    line("distinct members", f"{data.members}" + (" (--same-member)" if o.same_member else " (one per interaction)"))
    line("simulator job time", _s(o.job_seconds))
    line("simulator fps / clip", f"{o.fps} fps, default model, size and length of the catalog")
    line("simulator media (--media)", MEDIA_DESCRIPTIONS[o.media].format(threads=o.render_threads))
    if data.shared_bytes:
        line("  served clip", f"{data.shared_bytes / 1024:.0f} KiB MP4 (default model, size and length)")
    line("POLL_INTERVAL_SECONDS", o.poll_interval)
    line("PROGRESS_EDIT_INTERVAL_SECONDS", o.edit_interval)
    line("MAX_CONCURRENT_DOWNLOADS", o.max_concurrent_downloads)
    line("PROVIDER_MAX_CONCURRENT_JOBS", data.provider_cap)
    line("PROVIDER_REQUESTS_PER_MINUTE", data.provider_rpm)
    line("member / server quotas", "lifted for the run (the bot-wide provider cap still applies)")
    line("MODERATION_ENABLED (from the environment)", data.moderation)
    line(
        "machine",
        f"{platform.python_implementation()} {platform.python_version()}, {platform.machine()}, {_cpu_count()} CPU(s)",
    )

    lines.append("outcome")
    line("jobs delivered", f"{n_delivered} / {o.jobs}")
    for status, count in sorted(by_status.items()):
        if status != "delivered":
            line(f"jobs {status}", count)
    if len(rows) < o.jobs:
        line("interactions without a job row", o.jobs - len(rows))
    line("timed out", f"yes (after {_s(o.timeout)})" if data.timed_out else "no")
    line("dispatch → gave up waiting" if data.timed_out else "dispatch → all jobs terminal", _s(data.settle_seconds))
    line("delivered jobs per second (over that span)", f"{n_delivered / data.settle_seconds:.2f}")
    line("dispatching the N interactions took", _ms(data.dispatch_window))

    # acknowledgement latency
    callbacks: dict[int, RecordedRequest] = {}
    for r in data.discord:
        if r.interaction_id is not None and r.route and r.route.endswith("/callback"):
            callbacks.setdefault(r.interaction_id, r)
    acks = [callbacks[i].received_at - t for i, t in data.dispatched.items() if i in callbacks]
    missing_acks = [i for i in data.dispatched if i not in callbacks]
    ack_types = collections.Counter((callbacks[i].payload or {}).get("type") for i in callbacks)
    lines.append("acknowledgement (INTERACTION_CREATE dispatched → callback request received by the fake)")
    line("acknowledged", f"{len(acks)} / {o.jobs}  (callback types: {dict(sorted(ack_types.items(), key=str))})")
    line("ack latency p50", _ms(percentile(acks, 50)))
    line("ack latency p99", _ms(percentile(acks, 99)))
    line("ack latency max", _ms(max(acks, default=float("nan"))))
    line("acks later than 3 s (Discord's window)", sum(1 for a in acks if a > 3.0))

    # provider requests
    kinds = collections.Counter(_provider_kind(m, p) for m, p, _ in data.provider)
    errors = collections.Counter(s for _, _, s in data.provider if s >= 400)
    per = max(1, n_delivered)
    lines.append("provider requests (simulator, during the run)")
    line("total", len(data.provider))
    line("per delivered job", f"{len(data.provider) / per:.2f}")
    for kind in ("create", "retrieve", "list", "content"):
        line(f"  {kind} per delivered job", f"{kinds.get(kind, 0) / per:.2f}  ({kinds.get(kind, 0)})")
    for kind, count in sorted(kinds.items()):
        if kind not in ("create", "retrieve", "list", "content"):
            line(f"  {kind}", count)
    line("error answers (status ≥ 400)", dict(errors) if errors else 0)
    referenced = {r["provider_video_id"] for r in rows if r["provider_video_id"]}
    orphans = sorted(set(data.provider_prompts) - referenced)
    prompt_counts = collections.Counter(data.provider_prompts.values())
    repeated = {p: c for p, c in prompt_counts.items() if c > 1}
    line("provider jobs created / job rows", f"{len(data.provider_prompts)} / {len(rows)}")
    line("provider jobs no row refers to (paid, never posted)", len(orphans))
    peak_rendering = _peak_overlap(list(data.provider_jobs.values()))
    over_cap = data.provider_cap is not None and peak_rendering > data.provider_cap
    line("most provider jobs rendering at once", f"{peak_rendering} (cap {data.provider_cap})")
    spans = list(data.provider_jobs.values())
    if data.provider_cap and spans:
        busy = sum(end - start for start, end in spans)
        window = max(end for _, end in spans) - min(start for start, _ in spans)
        line(
            "provider slot use (render time ÷ cap × render span)",
            f"{busy / (data.provider_cap * window):.0%}" if window > 0 else "n/a",
        )
    line("prompts created more than once at the provider", len(repeated))

    # completion → posted
    posts: dict[int, RecordedRequest] = {}
    for r in data.discord:
        if _is_mp4_post(r) and r.status is not None and r.status < 300:
            job_id = _post_job_id(r, by_interaction)
            if job_id is not None:
                posts.setdefault(job_id, r)
    to_post: list[float] = []
    to_notice: list[float] = []
    notice_to_post: list[float] = []
    to_render: list[float] = []
    bot_side: list[float] = []
    post_times: list[float] = []
    for row in delivered:
        times = data.provider_jobs.get(row["provider_video_id"] or "")
        post = posts.get(row["id"])
        if times is None or post is None:
            continue
        done = times[1]
        posted = post.received_at + data.wall_minus_mono
        post_times.append(posted)
        to_post.append(posted - done)
        rendered = data.render_done.get(row["provider_video_id"])
        if rendered is not None:
            to_render.append(rendered - done)
        if row["completed_at"] is not None:
            to_notice.append(row["completed_at"] - done)
            notice_to_post.append(posted - row["completed_at"])
            if rendered is not None:
                bot_side.append(posted - max(row["completed_at"], rendered))
    queue_wait = [r["submitted_at"] - r["created_at"] for r in delivered if r["submitted_at"] is not None]
    iid_of = {r["id"]: r["interaction_id"] for r in rows}
    end_to_end = [posts[j].received_at - data.dispatched[iid_of[j]] for j in posts if iid_of.get(j) in data.dispatched]
    lines.append("time in the bot's local queue (row created → provider create recorded, submitted_at − created_at)")
    line("queue wait p50", _s(percentile(queue_wait, 50)))
    line("queue wait p99", _s(percentile(queue_wait, 99)))
    line("queue wait max", _s(max(queue_wait, default=float("nan"))))
    lines.append("end to end (INTERACTION_CREATE dispatched → result post received by the fake)")
    line("end to end p50", _s(percentile(end_to_end, 50)))
    line("end to end p99", _s(percentile(end_to_end, 99)))
    lines.append("provider completion (simulator started + duration) → result post received by the fake")
    line("measured jobs", len(to_post))
    line("completion → posted p50", _s(percentile(to_post, 50)))
    line("completion → posted p99", _s(percentile(to_post, 99)))
    line("completion → posted max", _s(max(to_post, default=float("nan"))))
    line("  completion → bot saw it (row completed_at) p50", _s(percentile(to_notice, 50)))
    line("  completion → bot saw it p99", _s(percentile(to_notice, 99)))
    line("  bot saw it → posted p50", _s(percentile(notice_to_post, 50)))
    line("  bot saw it → posted p99", _s(percentile(notice_to_post, 99)))
    if to_render:
        line("  simulator render finished after completion p50", _s(percentile(to_render, 50)))
        line("  simulator render finished after completion p99", _s(percentile(to_render, 99)))
        line("  posted − max(bot saw it, render finished) p50", _s(percentile(bot_side, 50)))
        line("  posted − max(bot saw it, render finished) p99", _s(percentile(bot_side, 99)))
    if post_times:
        spread = max(post_times) - min(post_times)
        line("first → last result post", _s(spread))
        line("result posts per second over that span", f"{(len(post_times) - 1) / spread:.1f}" if spread else "n/a")
    line("clock pairing drift (wall − monotonic, end − start)", _ms(data.clock_drift))

    # Discord requests
    dkinds = collections.Counter(_discord_kind(r) for r in data.discord)
    dstatus = collections.Counter(r.status for r in data.discord if r.status is None or r.status >= 300)
    lines.append("Discord requests (fake, during the run)")
    line("total", len(data.discord))
    line("per job", f"{len(data.discord) / o.jobs:.2f}")
    for kind, count in sorted(dkinds.items(), key=lambda kv: (-kv[1], kv[0])):
        line(f"  {kind} per job", f"{count / o.jobs:.2f}  ({count})")
    edits_per_job = [
        sum(1 for r in data.discord if r.interaction_id == iid and r.method == "PATCH") for iid in data.dispatched
    ]
    line(
        "status edits via the token per job p50 / max",
        f"{percentile(edits_per_job, 50):.0f} / {max(edits_per_job, default=0)}",
    )
    line("result posts (MP4 uploads) per delivered job", f"{len(posts) / per:.2f}")
    line("MP4 bytes uploaded (held in the fake's memory)", f"{data.fake_upload_bytes / 2**20:.1f} MiB")
    line("non-2xx answers", dict(dstatus) if dstatus else 0)
    line("fake internal errors", len(data.fake_internal_errors))

    # process
    lines.append("process")
    line("peak memory (ru_maxrss: bot + fake Discord + simulator)", f"{_peak_rss_mib():.1f} MiB")
    line("peak memory (ru_maxrss) before the interactions", f"{data.rss_before:.1f} MiB")
    line(
        "event-loop lag p50 / p99 / max (50 ms probe)", " / ".join(_ms(percentile(data.lag, q)) for q in (50, 99, 100))
    )
    line("wall time of the whole run", _s(data.run_seconds))
    warnings = sum(data.log.counts.values())
    line("log records at WARNING or above", warnings)
    for key, count in sorted(data.log.counts.items()):
        line(f"  {key}", count)
    for sample in list(data.log.samples.values())[:5]:
        lines.append(f"    e.g. {sample}")

    problems = []
    if data.timed_out or n_delivered < o.jobs:
        problems.append(f"{o.jobs - n_delivered} job(s) not delivered")
        for r in rows:
            if r["status"] != "delivered":
                problems.append(
                    f"  job #{r['id']}: {r['status']} error={r['error_code']} held={r['held_reason']!r} "
                    f"note={r['delivery_note']!r}"
                )
    if missing_acks:
        problems.append(f"{len(missing_acks)} interaction(s) never acknowledged: {missing_acks[:5]}")
    if orphans or repeated:
        problems.append(
            f"double create: {len(data.provider_prompts)} provider jobs for {len(rows)} rows; "
            f"{len(repeated)} prompt(s) created more than once, {len(orphans)} provider job(s) orphaned"
        )
        by_prompt = collections.defaultdict(list)
        for vid, prompt in data.provider_prompts.items():
            by_prompt[prompt].append(vid)
        for prompt in list(repeated)[:5]:
            owner = next((r for r in rows if r["provider_video_id"] in by_prompt[prompt]), None)
            problems.append(
                f"  {prompt!r}: provider ids {[v[:14] + '…' for v in by_prompt[prompt]]}, "
                f"row #{owner['id'] if owner else '?'} keeps {(owner or {}).get('provider_video_id', '?')[:14]}…"
            )
    if over_cap:
        problems.append(
            f"{peak_rendering} provider jobs rendered at once, over PROVIDER_MAX_CONCURRENT_JOBS={data.provider_cap}"
        )
    if data.fake_internal_errors:
        problems.append(f"fake Discord internal errors: {data.fake_internal_errors[:3]}")
    lines.append("result")
    if problems:
        lines.extend(f"  FAIL: {p}" for p in problems)
    else:
        lines.append("  OK: every interaction acknowledged, every job delivered")
    return lines, not problems


def _revision() -> str:
    """The checked-out commit, read from ``.git`` (no subprocess); "unknown" outside a git checkout."""
    git = Path(__file__).resolve().parent.parent / ".git"
    try:
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head[:12]
        ref = head[5:]
        if (git / ref).exists():
            return (git / ref).read_text().strip()[:12] + f" ({ref.removeprefix('refs/heads/')})"
        for line in (git / "packed-refs").read_text().splitlines():
            if line.endswith(" " + ref):
                return line.split()[0][:12] + f" ({ref.removeprefix('refs/heads/')})"
    except OSError:
        pass
    return "unknown"


def _peak_overlap(spans: Sequence[tuple[float, float]]) -> int:
    """The largest number of ``(start, end)`` spans open at one instant (an end frees its slot before a start)."""
    events = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans], key=lambda e: (e[0], e[1]))
    peak = current = 0
    for _, step in events:
        current += step
        peak = max(peak, current)
    return peak


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: run the benchmark, print the table on stdout, return the exit status."""
    options = parse_args(argv)
    data = asyncio.run(run(options))
    lines, ok = report(data)
    print("\n".join(lines), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
