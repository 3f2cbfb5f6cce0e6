"""The spend ledger and the quota configuration tables (SQL only; the policy lives in ``bot.quotas``).

Methods that take ``conn`` run on the connection they are given and never take the database's
transaction lock, so :class:`bot.quotas.QuotaService` can call them inside the caller's open
``BEGIN IMMEDIATE`` transaction.  Reads outside a transaction pass ``db.conn``.

How usage is summed (all amounts are integers: jobs, seconds, micro-dollars, so no float drift):

* a member's windows: a scan of the member's counted ledger rows (few: the member's limits bound them);
* a guild's and the bot-wide windows: running totals (``ledger_totals``, one row per reservation, written
  with the ledger row): the newest total minus the total just before the first row inside the window,
  minus the window's ``released`` rows (a partial index holds only those).  Two index seeks per window
  instead of a scan of every charge, so admission stays fast however much history the ledger holds.

``released`` rows are refunds and count nowhere; ``reserved`` and ``committed`` rows count.  Each hot-path
read is one statement fetched in one round trip to aiosqlite's thread (``execute_fetchall``).
Ledger rows must be written only through :meth:`QuotaStore.insert_reservation` (the running totals and
the non-decreasing ``reserved_at`` depend on it); the job service only changes their ``state``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiosqlite

from storage.db import Database

LEDGER_STATES = ("reserved", "committed", "released")
SCOPES = ("user", "guild")
PERIODS = ("day", "week", "month")
UNITS = ("jobs", "seconds", "usd")
CONTROLS = ("concurrency_user", "concurrency_guild", "cooldown")

# A lower bound meaning "count nothing" (a window no limit needs).  SQLite compares REAL infinities correctly.
NEVER = float("inf")


def to_micros(usd: float) -> int:
    """USD → integer micro-dollars (rounded at the sixth decimal)."""
    return round(usd * 1_000_000)


# ---------------------------------------------------------------------------------------------- rows


@dataclass(frozen=True, slots=True)
class LimitRow:
    role_id: int  # 0 = the guild's own limit
    scope: str
    period: str
    unit: str
    amount: float | None  # None = unlimited


@dataclass(frozen=True, slots=True)
class ControlRow:
    role_id: int  # 0 = the guild's own setting
    control: str  # concurrency_user | concurrency_guild | cooldown
    value: float | None  # None = unlimited concurrency / no cooldown


@dataclass(frozen=True, slots=True)
class Grant:
    id: int
    guild_id: int
    user_id: int
    period: str
    unit: str
    amount: float
    expires_at: float | None
    granted_at: float


@dataclass(frozen=True, slots=True)
class MemberReset:
    reset_at: float
    after_job_id: int  # the member's own limits count only ledger rows with a larger job_id


@dataclass(frozen=True, slots=True)
class GuildConfig:
    """Everything configured for one guild, as of ``version`` (``quota_meta.config_version``)."""

    guild_id: int
    version: int
    limits: tuple[LimitRow, ...] = ()
    controls: tuple[ControlRow, ...] = ()
    grants: tuple[Grant, ...] = ()  # every grant of the guild (expired ones are filtered by the reader)
    resets: dict[int, MemberReset] = field(default_factory=dict)  # user id → last reset


@dataclass(frozen=True, slots=True)
class Bounds:
    """Exclusive lower bounds of ``reserved_at`` for each sum; ``NEVER`` skips a sum."""

    guild_id: int
    user_id: int
    user_after_job: int = 0  # the member's sums and cooldown count only rows with a larger job_id
    user_day: float = NEVER
    user_week: float = NEVER
    user_month: float = NEVER
    guild_day: float = NEVER
    guild_week: float = NEVER
    guild_month: float = NEVER
    cooldown_since: float = NEVER
    global_since: float = NEVER
    in_flight_user: bool = True  # count the member's jobs in flight
    in_flight_guild: bool = True  # count the guild's jobs in flight

    def params(self) -> dict[str, Any]:
        return {
            "g": self.guild_id,
            "u": self.user_id,
            "uj": self.user_after_job,
            "ud": self.user_day,
            "uw": self.user_week,
            "um": self.user_month,
            "us": min(self.user_day, self.user_week, self.user_month),
            "gd": self.guild_day,
            "gw": self.guild_week,
            "gm": self.guild_month,
            "gs": min(self.guild_day, self.guild_week, self.guild_month),
            "cs": self.cooldown_since,
            "xs": self.global_since,
            "fu": self.in_flight_user,
            "fg": self.in_flight_guild,
        }


@dataclass(frozen=True, slots=True)
class WindowSums:
    jobs: int
    seconds: int
    micros: int

    def get(self, unit: str) -> int:
        return self.jobs if unit == "jobs" else self.seconds if unit == "seconds" else self.micros


@dataclass(frozen=True, slots=True)
class Usage:
    version: int  # quota_meta.config_version, read in the same statement
    user: dict[str, WindowSums]  # period → sums (zeros for skipped windows)
    guild: dict[str, WindowSums]
    global_micros: int
    in_flight_user: int
    in_flight_guild: int
    last_reserved_at: float | None  # the member's latest counted reservation after ``cooldown_since``
    newest_at: float | None  # the newest reserved_at in the whole ledger
    totals: tuple[int, int, int, int]  # newest running totals: guild jobs, seconds, micros; bot-wide micros


@dataclass(frozen=True, slots=True)
class Oldest:
    """reserved_at of the oldest counted charge per window (None: nothing counted)."""

    user: dict[str, float | None]
    guild: dict[str, float | None]
    global_day: float | None


# ---------------------------------------------------------------------------------------------- SQL

_MICROS = "CAST(ROUND(price_usd * 1000000) AS INTEGER)"


def _member_columns() -> str:
    columns = []
    for p in PERIODS:
        bound = f":u{p[0]}"
        columns += [
            f"COUNT(*) FILTER (WHERE reserved_at > {bound}) AS u{p[0]}_jobs",
            f"COALESCE(SUM(seconds) FILTER (WHERE reserved_at > {bound}), 0) AS u{p[0]}_seconds",
            f"COALESCE(SUM({_MICROS}) FILTER (WHERE reserved_at > {bound}), 0) AS u{p[0]}_micros",
        ]
    return ", ".join(columns)


def _scalar_columns() -> str:
    """Everything but the member's sums, as scalar subqueries: each one index seek (or a short range).

    Scalar subqueries, not joined derived tables: SQLite would materialize each derived table into a
    temporary b-tree, which costs more than the seeks themselves.
    """
    columns = ["(SELECT config_version FROM quota_meta) AS version"]
    for p in (period[0] for period in PERIODS):
        released = f"FROM ledger WHERE state = 'released' AND guild_id = :g AND reserved_at > :g{p}"
        first = f"FROM ledger_totals WHERE guild_id = :g AND reserved_at > :g{p} ORDER BY reserved_at, job_id LIMIT 1"
        columns += [
            # The guild's window: running totals just before its first charge inside the window ...
            f"(SELECT guild_jobs - 1 {first}) AS gf{p}_jobs",
            f"(SELECT guild_seconds - seconds {first}) AS gf{p}_seconds",
            f"(SELECT guild_micros - micros {first}) AS gf{p}_micros",
            # ... and the refunds inside it.
            f"(SELECT COUNT(*) {released}) AS r{p}_jobs",
            f"(SELECT COALESCE(SUM(seconds), 0) {released}) AS r{p}_seconds",
            f"(SELECT COALESCE(SUM({_MICROS}), 0) {released}) AS r{p}_micros",
        ]
    newest_guild = "FROM ledger_totals WHERE guild_id = :g ORDER BY reserved_at DESC, job_id DESC LIMIT 1"
    newest = "FROM ledger_totals ORDER BY reserved_at DESC, job_id DESC LIMIT 1"
    columns += [
        f"(SELECT guild_jobs {newest_guild}) AS gl_jobs",
        f"(SELECT guild_seconds {newest_guild}) AS gl_seconds",
        f"(SELECT guild_micros {newest_guild}) AS gl_micros",
        f"(SELECT all_micros {newest}) AS xl_micros",
        f"(SELECT reserved_at {newest}) AS newest_at",
        "(SELECT all_micros - micros FROM ledger_totals WHERE reserved_at > :xs"
        " ORDER BY reserved_at, job_id LIMIT 1) AS xf_micros",
        f"(SELECT COALESCE(SUM({_MICROS}), 0) FROM ledger"  # noqa: S608 (constant fragments)
        " WHERE state = 'released' AND reserved_at > :xs) AS xr_micros",
        # Jobs in flight are counted only where a limit needs them (CASE skips the subquery otherwise).
        "CASE WHEN :fu THEN (SELECT COUNT(*) FROM ledger INDEXED BY ledger_in_flight"
        " WHERE state = 'reserved' AND guild_id = :g AND user_id = :u) END AS flight_user",
        "CASE WHEN :fg THEN (SELECT COUNT(*) FROM ledger INDEXED BY ledger_in_flight"
        " WHERE state = 'reserved' AND guild_id = :g) END AS flight_guild",
        "(SELECT MAX(reserved_at) FROM ledger WHERE guild_id = :g AND user_id = :u AND reserved_at > :cs"
        " AND job_id > :uj AND state != 'released') AS last_at",
    ]
    return ", ".join(columns)


# One statement, one round trip.  Every fragment is a module constant; every value is a bound parameter.
USAGE_SQL = (
    "SELECT u.*, "  # noqa: S608 (constant fragments)
    + _scalar_columns()
    + " FROM (SELECT "
    + _member_columns()
    + " FROM ledger WHERE guild_id = :g AND user_id = :u AND reserved_at > :us AND job_id > :uj"
    " AND state != 'released') AS u"
)

_OLDEST_MEMBER = (
    "(SELECT reserved_at FROM ledger WHERE guild_id = :g AND user_id = :u AND reserved_at > :u{p} AND job_id > :uj"
    " AND state != 'released' ORDER BY reserved_at LIMIT 1) AS u{p}"
)
# Guild and bot-wide rows are walked in time order through the running totals' indexes (the ledger has
# none for them, to keep reservations cheap), joined to the ledger by job id for the state.
_OLDEST_GUILD = (
    "(SELECT t.reserved_at FROM ledger_totals AS t JOIN ledger AS l ON l.job_id = t.job_id"
    " WHERE t.guild_id = :g AND t.reserved_at > :g{p} AND l.state != 'released'"
    " ORDER BY t.reserved_at, t.job_id LIMIT 1) AS g{p}"
)
OLDEST_SQL = (
    "SELECT "  # noqa: S608 (constant fragments)
    + ", ".join(_OLDEST_MEMBER.format(p=p[0]) for p in PERIODS)
    + ", "
    + ", ".join(_OLDEST_GUILD.format(p=p[0]) for p in PERIODS)
    + ", (SELECT t.reserved_at FROM ledger_totals AS t JOIN ledger AS l ON l.job_id = t.job_id"
    " WHERE t.reserved_at > :xs AND l.state != 'released' ORDER BY t.reserved_at, t.job_id LIMIT 1) AS xd"
)

# "When has enough left the window": the reserved_at of the first counted row at which the running sum of
# the unit (oldest first) reaches :need.
_AMOUNT = f"CASE :unit WHEN 'jobs' THEN 1 WHEN 'seconds' THEN seconds ELSE {_MICROS} END"
_FREES_MEMBER = (
    "SELECT reserved_at FROM (SELECT reserved_at,"  # noqa: S608 (constant fragments)
    f" SUM({_AMOUNT}) OVER (ORDER BY reserved_at, job_id ROWS UNBOUNDED PRECEDING) AS run FROM ledger"
    " WHERE guild_id = :g AND user_id = :u AND reserved_at > :since AND job_id > :uj AND state != 'released')"
    " WHERE run >= :need ORDER BY reserved_at LIMIT 1"
)
_TOTALS_AMOUNT = "CASE :unit WHEN 'jobs' THEN 1 WHEN 'seconds' THEN t.seconds ELSE t.micros END"
_FREES_GUILD = (
    "SELECT reserved_at FROM (SELECT t.reserved_at AS reserved_at,"  # noqa: S608 (constant fragments)
    f" SUM({_TOTALS_AMOUNT}) OVER (ORDER BY t.reserved_at, t.job_id ROWS UNBOUNDED PRECEDING) AS run"
    " FROM ledger_totals AS t JOIN ledger AS l ON l.job_id = t.job_id"
    " WHERE t.guild_id = :g AND t.reserved_at > :since AND l.state != 'released')"
    " WHERE run >= :need ORDER BY reserved_at LIMIT 1"
)
_FREES_GLOBAL = (
    "SELECT reserved_at FROM (SELECT t.reserved_at AS reserved_at,"  # noqa: S608 (constant fragments)
    f" SUM({_TOTALS_AMOUNT}) OVER (ORDER BY t.reserved_at, t.job_id ROWS UNBOUNDED PRECEDING) AS run"
    " FROM ledger_totals AS t JOIN ledger AS l ON l.job_id = t.job_id"
    " WHERE t.reserved_at > :since AND l.state != 'released')"
    " WHERE run >= :need ORDER BY reserved_at LIMIT 1"
)

# Straight scans of the ledger: the reference the running totals must agree with (tests, tools).
_SCAN_MEMBER = (
    f"SELECT COUNT(*), COALESCE(SUM(seconds), 0), COALESCE(SUM({_MICROS}), 0) FROM ledger"  # noqa: S608 (constant)
    " WHERE guild_id = ? AND user_id = ? AND reserved_at > ? AND job_id > ? AND state != 'released'"
)
_SCAN_GUILD = (
    f"SELECT COUNT(*), COALESCE(SUM(seconds), 0), COALESCE(SUM({_MICROS}), 0) FROM ledger"  # noqa: S608 (constant)
    " WHERE guild_id = ? AND reserved_at > ? AND state != 'released'"
)
_SCAN_GLOBAL = (
    f"SELECT COUNT(*), COALESCE(SUM(seconds), 0), COALESCE(SUM({_MICROS}), 0) FROM ledger"  # noqa: S608 (constant)
    " WHERE reserved_at > ? AND state != 'released'"
)

_GUILD_CONFIG_SQL = """
SELECT 'version' AS kind, 0 AS role_id, NULL AS a, NULL AS b, NULL AS c, config_version AS value,
       NULL AS n, NULL AS t1, NULL AS t2
  FROM quota_meta
UNION ALL
SELECT 'limit', role_id, scope, period, unit, amount, NULL, NULL, NULL FROM quota_limits WHERE guild_id = :g
UNION ALL
SELECT 'control', role_id, control, NULL, NULL, value, NULL, NULL, NULL FROM quota_controls WHERE guild_id = :g
UNION ALL
SELECT 'grant', user_id, NULL, period, unit, amount, id, expires_at, granted_at
  FROM quota_grants WHERE guild_id = :g AND (expires_at IS NULL OR expires_at > :now)
UNION ALL
SELECT 'reset', user_id, NULL, NULL, NULL, reset_at, after_job_id, NULL, NULL FROM quota_resets WHERE guild_id = :g
"""

_BUMP = "UPDATE quota_meta SET config_version = config_version + 1 WHERE id = 1"


# ---------------------------------------------------------------------------------------------- the store


class QuotaStore:
    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.clock = clock

    # ------------------------------------------------------------------ hot path (the given connection)

    async def guild_config(self, conn: aiosqlite.Connection, guild_id: int, now: float) -> GuildConfig:
        """Every limit, control, unexpired grant and reset of a guild, with the configuration version."""
        rows = await conn.execute_fetchall(_GUILD_CONFIG_SQL, {"g": guild_id, "now": now})
        version = 0
        limits: list[LimitRow] = []
        controls: list[ControlRow] = []
        grants: list[Grant] = []
        resets: dict[int, MemberReset] = {}
        for row in rows:
            kind = row[0]
            if kind == "version":
                version = int(row[5])
            elif kind == "limit":
                limits.append(LimitRow(int(row[1]), row[2], row[3], row[4], row[5]))
            elif kind == "control":
                controls.append(ControlRow(int(row[1]), row[2], row[5]))
            elif kind == "grant":
                grants.append(
                    Grant(int(row[6]), guild_id, int(row[1]), row[3], row[4], float(row[5]), row[7], float(row[8]))
                )
            else:
                resets[int(row[1])] = MemberReset(float(row[5]), int(row[6]))
        limits.sort(key=lambda r: (r.role_id, r.scope, r.period, r.unit))
        controls.sort(key=lambda c: (c.role_id, c.control))
        grants.sort(key=lambda g: g.id)
        return GuildConfig(guild_id, version, tuple(limits), tuple(controls), tuple(grants), resets)

    async def usage(self, conn: aiosqlite.Connection, bounds: Bounds) -> Usage:
        """Every sum a reservation needs, the configuration version and the newest running totals."""
        rows = list(await conn.execute_fetchall(USAGE_SQL, bounds.params()))
        row: dict[str, Any] = dict(zip(rows[0].keys(), rows[0], strict=True))  # name lookups on a Row are slow
        user = {
            p: WindowSums(int(row[f"u{p[0]}_jobs"]), int(row[f"u{p[0]}_seconds"]), int(row[f"u{p[0]}_micros"]))
            for p in PERIODS
        }
        newest = (int(row["gl_jobs"] or 0), int(row["gl_seconds"] or 0), int(row["gl_micros"] or 0))
        guild = {}
        for p in PERIODS:
            first = f"gf{p[0]}"
            if row[f"{first}_jobs"] is None:  # nothing reserved inside the window
                guild[p] = WindowSums(0, 0, 0)
                continue
            guild[p] = WindowSums(
                newest[0] - int(row[f"{first}_jobs"]) - int(row[f"r{p[0]}_jobs"] or 0),
                newest[1] - int(row[f"{first}_seconds"]) - int(row[f"r{p[0]}_seconds"] or 0),
                newest[2] - int(row[f"{first}_micros"]) - int(row[f"r{p[0]}_micros"] or 0),
            )
        all_micros = int(row["xl_micros"] or 0)
        global_micros = 0
        if row["xf_micros"] is not None:
            global_micros = all_micros - int(row["xf_micros"]) - int(row["xr_micros"] or 0)
        return Usage(
            version=int(row["version"]),
            user=user,
            guild=guild,
            global_micros=global_micros,
            in_flight_user=int(row["flight_user"] or 0),
            in_flight_guild=int(row["flight_guild"] or 0),
            last_reserved_at=row["last_at"],
            newest_at=row["newest_at"],
            totals=(*newest, all_micros),
        )

    async def oldest(self, conn: aiosqlite.Connection, bounds: Bounds) -> Oldest:
        rows = list(await conn.execute_fetchall(OLDEST_SQL, bounds.params()))
        row = rows[0]
        return Oldest(
            user={p: row[f"u{p[0]}"] for p in PERIODS},
            guild={p: row[f"g{p[0]}"] for p in PERIODS},
            global_day=row["xd"],
        )

    async def frees_at(
        self,
        conn: aiosqlite.Connection,
        scope: str,
        unit: str,
        need: int,
        *,
        guild_id: int,
        user_id: int,
        since: float,
        after_job: int = 0,
    ) -> float | None:
        """reserved_at of the counted row (oldest first, after ``since``) at which ``need`` units have left.

        ``scope`` is user | guild | global; ``unit`` jobs | seconds | usd (micro-dollars).  None when the
        counted rows together hold less than ``need``.
        """
        sql = {"user": _FREES_MEMBER, "guild": _FREES_GUILD}.get(scope, _FREES_GLOBAL)
        params = {"g": guild_id, "u": user_id, "since": since, "uj": after_job, "unit": unit, "need": need}
        rows = list(await conn.execute_fetchall(sql, params))
        return float(rows[0][0]) if rows else None

    async def insert_reservation(
        self,
        conn: aiosqlite.Connection,
        *,
        job_id: int,
        guild_id: int,
        user_id: int,
        seconds: int,
        micros: int,
        reserved_at: float,
        totals: tuple[int, int, int, int],
    ) -> None:
        """The ledger row and its running totals; ``totals`` are the newest ones before it (``Usage.totals``)."""
        await conn.execute_fetchall(
            """INSERT INTO ledger (job_id, guild_id, user_id, seconds, price_usd, state, reserved_at)
               VALUES (?, ?, ?, ?, ?, 'reserved', ?)""",
            (job_id, guild_id, user_id, seconds, micros / 1_000_000, reserved_at),
        )
        guild_jobs, guild_seconds, guild_micros, all_micros = totals
        await conn.execute_fetchall(
            """INSERT INTO ledger_totals (job_id, guild_id, reserved_at, seconds, micros,
                                          guild_jobs, guild_seconds, guild_micros, all_micros)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                job_id,
                guild_id,
                reserved_at,
                seconds,
                micros,
                guild_jobs + 1,
                guild_seconds + seconds,
                guild_micros + micros,
                all_micros + micros,
            ),
        )

    # ------------------------------------------------------------------ moderator writes (own transactions)

    async def set_limit(
        self, guild_id: int, role_id: int, scope: str, period: str, unit: str, amount: float | None
    ) -> None:
        async with self.db.transaction() as conn:
            await conn.execute_fetchall(
                """INSERT INTO quota_limits (guild_id, role_id, scope, period, unit, amount, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (guild_id, role_id, scope, period, unit)
                   DO UPDATE SET amount = excluded.amount, updated_at = excluded.updated_at""",
                (guild_id, role_id, scope, period, unit, amount, self.clock()),
            )
            await conn.execute_fetchall(_BUMP)

    async def delete_limit(self, guild_id: int, role_id: int, scope: str, period: str, unit: str) -> bool:
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                """DELETE FROM quota_limits
                   WHERE guild_id = ? AND role_id = ? AND scope = ? AND period = ? AND unit = ?""",
                (guild_id, role_id, scope, period, unit),
            )
            changed = cur.rowcount
            await cur.close()
            await conn.execute_fetchall(_BUMP)
        return changed == 1

    async def set_control(self, guild_id: int, role_id: int, control: str, value: float | None) -> None:
        async with self.db.transaction() as conn:
            await conn.execute_fetchall(
                """INSERT INTO quota_controls (guild_id, role_id, control, value, updated_at) VALUES (?, ?, ?, ?, ?)
                   ON CONFLICT (guild_id, role_id, control)
                   DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at""",
                (guild_id, role_id, control, value, self.clock()),
            )
            await conn.execute_fetchall(_BUMP)

    async def delete_control(self, guild_id: int, role_id: int, control: str) -> bool:
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                "DELETE FROM quota_controls WHERE guild_id = ? AND role_id = ? AND control = ?",
                (guild_id, role_id, control),
            )
            changed = cur.rowcount
            await cur.close()
            await conn.execute_fetchall(_BUMP)
        return changed == 1

    async def add_grant(
        self, guild_id: int, user_id: int, period: str, unit: str, amount: float, expires_at: float | None
    ) -> Grant:
        now = self.clock()
        async with self.db.transaction() as conn:
            row = await conn.execute_insert(
                """INSERT INTO quota_grants (guild_id, user_id, period, unit, amount, expires_at, granted_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?)""",
                (guild_id, user_id, period, unit, amount, expires_at, now),
            )
            await conn.execute_fetchall(_BUMP)
        assert row is not None
        return Grant(int(row[0]), guild_id, user_id, period, unit, amount, expires_at, now)

    async def delete_grant(self, guild_id: int, grant_id: int) -> bool:
        async with self.db.transaction() as conn:
            cur = await conn.execute("DELETE FROM quota_grants WHERE guild_id = ? AND id = ?", (guild_id, grant_id))
            changed = cur.rowcount
            await cur.close()
            await conn.execute_fetchall(_BUMP)
        return changed == 1

    async def grants(self, guild_id: int, user_id: int | None = None, *, active_at: float | None = None) -> list[Grant]:
        """Grants of a guild (or of one member), oldest first; ``active_at`` drops those expired by then."""
        rows = await self.db.fetchall(
            """SELECT id, guild_id, user_id, period, unit, amount, expires_at, granted_at FROM quota_grants
               WHERE guild_id = ? AND (? IS NULL OR user_id = ?)
                 AND (? IS NULL OR expires_at IS NULL OR expires_at > ?)
               ORDER BY id""",
            (guild_id, user_id, user_id, active_at, active_at),
        )
        return [Grant(*r) for r in rows]

    async def reset_member(self, guild_id: int, user_id: int, since: float) -> int:
        """Forgive the member's charges so far; return how many counted rows it forgave.

        The newest ledger row's job id becomes the member's watermark: their own limits and cooldown then
        count only later rows.  The count covers counted rows reserved after ``since`` (the longest
        window) that an earlier reset had not forgiven already.
        """
        async with self.db.transaction() as conn:
            rows = list(
                await conn.execute_fetchall(
                    """SELECT
                         (SELECT COALESCE(MAX(job_id), 0) FROM ledger),
                         (SELECT COUNT(*) FROM ledger
                           WHERE guild_id = :g AND user_id = :u AND state != 'released' AND reserved_at > :since
                             AND job_id > COALESCE(
                                   (SELECT after_job_id FROM quota_resets WHERE guild_id = :g AND user_id = :u), 0))""",
                    {"g": guild_id, "u": user_id, "since": since},
                )
            )
            watermark, forgiven = int(rows[0][0]), int(rows[0][1])
            await conn.execute_fetchall(
                """INSERT INTO quota_resets (guild_id, user_id, after_job_id, reset_at) VALUES (?, ?, ?, ?)
                   ON CONFLICT (guild_id, user_id)
                   DO UPDATE SET after_job_id = excluded.after_job_id, reset_at = excluded.reset_at""",
                (guild_id, user_id, watermark, self.clock()),
            )
            await conn.execute_fetchall(_BUMP)
        return forgiven

    # ------------------------------------------------------------------ reference reads (tests, tools)

    async def scan_sums(
        self, scope: str, *, guild_id: int = 0, user_id: int = 0, since: float, after_job: int = 0
    ) -> WindowSums:
        """A window's sums by scanning the ledger: what :meth:`usage` must agree with."""
        if scope == "user":
            row = await self.db.fetchone(_SCAN_MEMBER, (guild_id, user_id, since, after_job))
        elif scope == "guild":
            row = await self.db.fetchone(_SCAN_GUILD, (guild_id, since))
        else:
            row = await self.db.fetchone(_SCAN_GLOBAL, (since,))
        assert row is not None
        return WindowSums(int(row[0]), int(row[1]), int(row[2]))

    async def ledger_rows(self, *, guild_id: int | None = None, states: Sequence[str] = LEDGER_STATES) -> list[Any]:
        placeholders = ", ".join("?" for _ in states)
        return await self.db.fetchall(
            f"SELECT * FROM ledger WHERE (? IS NULL OR guild_id = ?) AND state IN ({placeholders})"  # noqa: S608 (placeholders only)
            " ORDER BY job_id",
            (guild_id, guild_id, *states),
        )


def member_rows(config: GuildConfig, user_id: int, role_ids: Iterable[int], now: float) -> GuildConfig:
    """The part of a guild's configuration that applies to one member at ``now``."""
    roles = set(role_ids)
    return GuildConfig(
        guild_id=config.guild_id,
        version=config.version,
        limits=tuple(r for r in config.limits if r.role_id == 0 or r.role_id in roles),
        controls=tuple(c for c in config.controls if c.role_id == 0 or c.role_id in roles),
        grants=tuple(g for g in config.grants if g.user_id == user_id and (g.expires_at is None or g.expires_at > now)),
        resets={user_id: config.resets[user_id]} if user_id in config.resets else {},
    )


__all__ = [
    "CONTROLS",
    "LEDGER_STATES",
    "NEVER",
    "PERIODS",
    "SCOPES",
    "UNITS",
    "Bounds",
    "ControlRow",
    "Grant",
    "GuildConfig",
    "LimitRow",
    "MemberReset",
    "Oldest",
    "QuotaStore",
    "Usage",
    "WindowSums",
    "member_rows",
    "to_micros",
]
