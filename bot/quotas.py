"""Quotas: hard spending limits that cannot be raced, reserved before the provider is paid.

Nothing here imports discord.py.  :meth:`QuotaService.reserve` runs inside the ``BEGIN IMMEDIATE``
transaction that inserts the job, so the checks and the ledger row are one atomic step: no interleaving
of concurrent commands (in this process or another one on the same file) can exceed a limit.

**Windows are rolling**: "day" is the last 24 hours, "week" the last 7 days, "month" the last 30 days,
measured from the moment of the request.  A charge counts from its reservation until it leaves the
window, so a window "resets" piece by piece: the oldest counted charge leaves first, and every "try again"
time is computed from the charges that must leave.  Rolling windows have no midnight burst (a member
cannot spend a day's allowance at 23:59 and again at 00:01) and need no time zone.

What counts: ledger rows in state ``reserved`` (in flight) or ``committed`` (delivered).  ``released``
rows (failed, refused or discarded jobs) are refunds and count nowhere, not even for the cooldown.
Money is compared in integer micro-dollars.

Limits of a guild, each optional (``None`` = unlimited):

* per member and per guild × jobs / video-seconds / USD × day / week / month;
* per-role overrides of the per-member limits, of the per-member concurrency and of the cooldown: the
  most generous of the guild's own value and the member's roles wins (a role can only raise a limit, or
  make it unlimited);
* grants: extra allowance for one member (unit, amount, window, optional expiry), added to the member's
  effective limit; guild limits and the bot-wide cap still apply;
* jobs in flight (``reserved`` rows) per member and per guild;
* a per-member cooldown between reservations;
* the operator's bot-wide spend cap over the last 24 hours, across all guilds.  When it is reached
  every submission is paused (:meth:`QuotaService.paused`) until enough spend leaves the window.

A guild with no rows of its own gets :class:`QuotaDefaults` (from the settings): 3 videos and 24
video-seconds per member per day, $10 per day and $100 per 30 days per guild, one job in flight per
member and five per guild, no cooldown.  Each limit a guild sets replaces that one default only.

Moderator operations (``set_limit``, ``set_concurrency``, ``set_cooldown``, ``grant``, ``reset_user`` …)
write in their own transactions and bump a configuration version; the service caches each guild's
configuration and checks that version in the same statement that sums usage, so a change applies to
the very next reservation, even one made through another process on the same database file.

The job service settles a reservation in the transaction that changes the job's status:
``UPDATE ledger SET state = 'committed' | 'released', settled_at = ? WHERE job_id = ? AND state =
'reserved'``.  Ledger rows are written only by :meth:`QuotaService.reserve` (it also writes the running
totals that guild and bot-wide sums read).
"""

from __future__ import annotations

import enum
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Final, cast

import aiosqlite

from storage.quotas import (
    NEVER,
    PERIODS,
    SCOPES,
    UNITS,
    Bounds,
    Grant,
    GuildConfig,
    Usage,
    member_rows,
    to_micros,
)

if TYPE_CHECKING:
    from storage.quotas import QuotaStore

__all__ = [
    "PERIODS",
    "SCOPES",
    "UNITS",
    "USE_DEFAULT",
    "WINDOW_SECONDS",
    "Charge",
    "GlobalCap",
    "Grant",
    "GuildLimits",
    "QuotaDefaults",
    "QuotaExceeded",
    "QuotaReport",
    "QuotaService",
    "RoleOverride",
    "Setting",
    "WindowLimit",
    "WindowUsage",
]

DAY: Final = 86_400
WINDOW_SECONDS: Final[dict[str, int]] = {"day": DAY, "week": 7 * DAY, "month": 30 * DAY}

_IN_THE_LAST = {"day": "in the last 24 hours", "week": "in the last 7 days", "month": "in the last 30 days"}
_PER = {"day": "per 24 hours", "week": "per 7 days", "month": "per 30 days"}


class Setting(enum.Enum):
    """Sentinels for the moderator setters: leave a value alone, or go back to the default."""

    KEEP = "keep"
    DEFAULT = "default"


USE_DEFAULT: Final = Setting.DEFAULT


# ---------------------------------------------------------------------------------------------- value types


@dataclass(frozen=True, slots=True)
class QuotaDefaults:
    """Limits for a guild that has set none of its own (from the settings; ``None`` = unlimited).

    Field names are ``{scope}_{unit}_per_{period}``.  The defaults are deliberately conservative, so a
    newly invited bot cannot run up a bill: per member 3 videos and 24 video-seconds a day; per guild
    $10 a day and $100 per 30 days; one job in flight per member, five per guild; no cooldown.
    """

    user_jobs_per_day: int | None = 3
    user_seconds_per_day: int | None = 24
    user_usd_per_day: float | None = None
    user_jobs_per_week: int | None = None
    user_seconds_per_week: int | None = None
    user_usd_per_week: float | None = None
    user_jobs_per_month: int | None = None
    user_seconds_per_month: int | None = None
    user_usd_per_month: float | None = None
    guild_jobs_per_day: int | None = None
    guild_seconds_per_day: int | None = None
    guild_usd_per_day: float | None = 10.0
    guild_jobs_per_week: int | None = None
    guild_seconds_per_week: int | None = None
    guild_usd_per_week: float | None = None
    guild_jobs_per_month: int | None = None
    guild_seconds_per_month: int | None = None
    guild_usd_per_month: float | None = 100.0
    max_concurrent_per_user: int | None = 1
    max_concurrent_per_guild: int | None = 5
    user_cooldown_seconds: float = 0

    def window(self, scope: str, period: str, unit: str) -> float | None:
        _check_window(scope, period, unit)
        return cast("float | None", getattr(self, f"{scope}_{unit}_per_{period}"))

    @classmethod
    def unlimited(cls) -> QuotaDefaults:
        """No default limit at all (every guild must set its own)."""
        values: dict[str, object] = {f"{s}_{u}_per_{p}": None for s in SCOPES for u in UNITS for p in PERIODS}
        return cls(**values, max_concurrent_per_user=None, max_concurrent_per_guild=None)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Charge:
    """What one job will cost, and who asks for it."""

    guild_id: int
    user_id: int
    role_ids: tuple[int, ...]
    seconds: int
    price_usd: float


class QuotaExceeded(Exception):
    """A refused reservation.  ``str(exc)`` is the member-facing message: which limit, used/left, when.

    ``kind`` names the limit: ``{scope}_{unit}_{period}`` (e.g. ``user_jobs_day``, ``guild_usd_month``),
    ``concurrency_user``, ``concurrency_guild``, ``cooldown`` or ``global_cap``.  ``retry_at`` is the unix
    time at which the same request could succeed, or None when waiting alone will not help (a job in
    flight must finish, or the request is larger than the whole limit).  ``used``/``limit``/``requested``
    are in the limit's unit (jobs, video-seconds, USD or seconds of cooldown).  ``failures`` lists every
    limit the request hit; the message describes the one that keeps it out longest.
    """

    def __init__(
        self,
        message: str,
        *,
        kind: str,
        retry_at: float | None = None,
        used: float | None = None,
        limit: float | None = None,
        requested: float | None = None,
        failures: tuple[QuotaExceeded, ...] = (),
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.retry_at = retry_at
        self.used = used
        self.limit = limit
        self.requested = requested
        self.failures = failures or (self,)

    @property
    def message(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True, slots=True)
class WindowLimit:
    """One effective window limit of a guild (without role overrides or grants)."""

    scope: str
    period: str
    unit: str
    amount: float | None  # None = unlimited
    source: str  # "default" (from the settings) or "guild" (set by a moderator)

    @property
    def key(self) -> str:
        return f"{self.scope}_{self.unit}_{self.period}"


@dataclass(frozen=True, slots=True)
class RoleOverride:
    role_id: int
    key: str  # "user_{unit}_{period}", "concurrency_user" or "cooldown"
    amount: float | None  # None = unlimited (for cooldown: no cooldown)


@dataclass(frozen=True, slots=True)
class GuildLimits:
    """A guild's effective limits: its own settings with the operator's defaults filling the gaps."""

    guild_id: int
    windows: tuple[WindowLimit, ...]  # every scope × period × unit, in SCOPES/PERIODS/UNITS order
    role_overrides: tuple[RoleOverride, ...]
    max_concurrent_per_user: int | None
    max_concurrent_per_guild: int | None
    user_cooldown_seconds: float
    daily_spend_cap_usd: float | None  # the operator's bot-wide cap (not per guild)

    def window(self, scope: str, period: str, unit: str) -> WindowLimit:
        return next(w for w in self.windows if (w.scope, w.period, w.unit) == (scope, period, unit))


@dataclass(frozen=True, slots=True)
class WindowUsage:
    """Use of one window by the member (scope ``user``) or the guild (scope ``guild``).

    Amounts are in the unit: jobs and seconds as whole numbers, USD rounded to 6 decimals.  ``limit``
    is the effective limit (role overrides and grants included for the member); ``left`` is None when
    unlimited.  ``resets_at`` is when the oldest counted charge leaves the rolling window (None when
    nothing is counted).
    """

    scope: str
    period: str
    unit: str
    used: float
    limit: float | None
    left: float | None
    resets_at: float | None

    @property
    def key(self) -> str:
        return f"{self.scope}_{self.unit}_{self.period}"


@dataclass(frozen=True, slots=True)
class GlobalCap:
    cap_usd: float
    used_usd: float  # bot-wide spend in the last 24 hours
    left_usd: float
    resets_at: float | None  # when the oldest counted charge leaves the 24 hours
    paused: bool


@dataclass(frozen=True, slots=True)
class QuotaReport:
    """What ``/video quota`` shows: the member's and the guild's use of every window, and the rest."""

    guild_id: int
    user_id: int
    at: float
    windows: tuple[WindowUsage, ...]  # 9 for the member, then 9 for the guild
    in_flight_user: int
    max_concurrent_per_user: int | None
    in_flight_guild: int
    max_concurrent_per_guild: int | None
    cooldown_seconds: float
    cooldown_until: float | None  # set while the member is still cooling down
    global_cap: GlobalCap | None
    grants: tuple[Grant, ...] = field(default=())

    def window(self, scope: str, period: str, unit: str) -> WindowUsage:
        return next(w for w in self.windows if (w.scope, w.period, w.unit) == (scope, period, unit))

    def limited(self, scope: str) -> tuple[WindowUsage, ...]:
        """The windows of one scope that have a limit (the ones worth showing)."""
        return tuple(w for w in self.windows if w.scope == scope and w.limit is not None)


# ---------------------------------------------------------------------------------------------- internals


@dataclass(frozen=True, slots=True)
class _Effective:
    """Effective limits in base units (jobs, seconds, micro-dollars): key (scope, period, unit) → amount."""

    windows: dict[tuple[str, str, str], int | None]
    concurrency_user: int | None
    concurrency_guild: int | None
    cooldown: float


def _check_window(scope: str, period: str, unit: str) -> None:
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {SCOPES}, not {scope!r}")
    if period not in PERIODS:
        raise ValueError(f"window must be one of {PERIODS}, not {period!r}")
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {UNITS}, not {unit!r}")


def _base_units(unit: str, amount: float) -> int:
    """An amount in its unit → base units (micro-dollars for USD)."""
    return to_micros(amount) if unit == "usd" else round(amount)


def _from_base(unit: str, amount: int) -> float:
    return round(amount / 1_000_000, 6) if unit == "usd" else amount


def _most_generous(values: Iterable[float | None]) -> float | None:
    """None (unlimited) beats everything; otherwise the largest."""
    best: float | None = -math.inf
    for value in values:
        if value is None:
            return None
        best = max(cast(float, best), value)
    return best


def _effective(config: GuildConfig, defaults: QuotaDefaults, role_ids: Iterable[int]) -> _Effective:
    roles = set(role_ids)
    own: dict[tuple[str, str, str], float | None] = {}
    by_role: dict[tuple[str, str, str], list[float | None]] = {}
    for row in config.limits:
        key = (row.scope, row.period, row.unit)
        if row.role_id == 0:
            own[key] = row.amount
        elif row.role_id in roles and row.scope == "user":
            by_role.setdefault(key, []).append(row.amount)
    windows: dict[tuple[str, str, str], int | None] = {}
    for scope in SCOPES:
        for period in PERIODS:
            for unit in UNITS:
                key = (scope, period, unit)
                base = own[key] if key in own else defaults.window(scope, period, unit)
                amount = _most_generous([base, *by_role.get(key, ())])
                if amount is not None and scope == "user":
                    amount += sum(g.amount for g in config.grants if (g.period, g.unit) == (period, unit))
                windows[key] = None if amount is None else _base_units(unit, amount)

    own_controls: dict[str, float | None] = {}
    role_controls: dict[str, list[float | None]] = {}
    for c in config.controls:
        if c.role_id == 0:
            own_controls[c.control] = c.value
        elif c.role_id in roles and c.control != "concurrency_guild":
            role_controls.setdefault(c.control, []).append(c.value)

    def control(name: str, default: float | None) -> float | None:
        return own_controls.get(name, default)

    conc_user = _most_generous(
        [control("concurrency_user", defaults.max_concurrent_per_user), *role_controls.get("concurrency_user", ())]
    )
    conc_guild = control("concurrency_guild", defaults.max_concurrent_per_guild)
    cooldowns = [control("cooldown", defaults.user_cooldown_seconds), *role_controls.get("cooldown", ())]
    cooldown = min((c or 0.0) for c in cooldowns)  # most generous = shortest; None = none
    return _Effective(
        windows=windows,
        concurrency_user=None if conc_user is None else int(conc_user),
        concurrency_guild=None if conc_guild is None else int(conc_guild),
        cooldown=float(cooldown),
    )


def _ts(moment: float) -> str:
    """Discord's relative timestamp markup."""
    return f"<t:{math.ceil(moment)}:R>"


def _usd(micros: int) -> str:
    text = f"{micros / 1_000_000:.6f}".rstrip("0")
    whole, _, frac = text.partition(".")
    return f"${whole}.{frac.ljust(2, '0')}"


def _amount(unit: str, amount: int) -> str:
    """A bare amount: '3 videos', '24 video-seconds', '$3.00'."""
    if unit == "usd":
        return _usd(amount)
    if unit == "jobs":
        return f"{amount} video" + ("" if amount == 1 else "s")
    return f"{amount} video-second" + ("" if amount == 1 else "s")


def _number(unit: str, amount: int) -> str:
    """An amount without its noun (the noun follows the limit): '3', '$2.40'."""
    return _usd(amount) if unit == "usd" else str(amount)


def _duration(seconds: float) -> str:
    seconds = math.ceil(seconds)
    parts = []
    for size, name in ((DAY, "day"), (3600, "hour"), (60, "minute"), (1, "second")):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count} {name}" + ("" if count == 1 else "s"))
    return " ".join(parts[:2]) or "0 seconds"


# ---------------------------------------------------------------------------------------------- the service


class QuotaService:
    """Admission control and moderator operations over a :class:`storage.quotas.QuotaStore`.

    Each guild's configuration is cached in memory and checked on every use against a version number
    that every configuration change bumps in the database (read in the same statement as the usage
    sums, inside the caller's transaction), so a change made by a moderator, or by another process on
    the same file, applies to the very next reservation.
    """

    CACHE_GUILDS = 4096
    CACHE_MEMBERS = 16384

    def __init__(
        self,
        store: QuotaStore,
        *,
        defaults: QuotaDefaults,
        daily_spend_cap_usd: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if daily_spend_cap_usd is not None and daily_spend_cap_usd < 0:
            raise ValueError("daily_spend_cap_usd must not be negative")
        self.store = store
        self.defaults = defaults
        self.daily_spend_cap_usd = daily_spend_cap_usd
        self._cap_micros = None if daily_spend_cap_usd is None else to_micros(daily_spend_cap_usd)
        self.clock = clock
        self._configs: OrderedDict[int, GuildConfig] = OrderedDict()
        # (guild, member, roles) → (config version, valid until, member's config, effective limits)
        self._members: OrderedDict[tuple[int, int, frozenset[int]], tuple[int, float, GuildConfig, _Effective]] = (
            OrderedDict()
        )

    # ------------------------------------------------------------------ admission

    async def reserve(self, conn: aiosqlite.Connection, job_id: int, charge: Charge) -> None:
        """Check every limit for ``charge`` and write the ``reserved`` ledger row for ``job_id``.

        Call it inside the caller's open ``BEGIN IMMEDIATE`` transaction, right after the job row is
        inserted, and only for a newly created job (a second reservation of one job violates the
        ledger's primary key).  Only ``conn`` is used.  Raises :class:`QuotaExceeded`; the caller rolls
        back, which removes the job row too.
        """
        if charge.seconds <= 0:
            raise ValueError("a charge must be for at least one second")
        if charge.price_usd < 0:
            raise ValueError("a charge must not have a negative price")
        now = self.clock()
        member, eff, usage = await self._measure(conn, charge.guild_id, charge.user_id, charge.role_ids, now)
        failures = await self._failures(conn, charge, now, member, eff, usage)
        if failures:
            raise _primary(failures)
        await self.store.insert_reservation(
            conn,
            job_id=job_id,
            guild_id=charge.guild_id,
            user_id=charge.user_id,
            seconds=charge.seconds,
            micros=to_micros(charge.price_usd),
            # Never before the newest reservation: job id order must stay time order (running totals).
            reserved_at=max(now, usage.newest_at or now),
            totals=usage.totals,
        )

    async def _config(
        self, conn: aiosqlite.Connection, guild_id: int, now: float, *, reload: bool = False
    ) -> GuildConfig:
        config = None if reload else self._configs.get(guild_id)
        if config is None:
            config = await self.store.guild_config(conn, guild_id, now)
            self._configs[guild_id] = config
            while len(self._configs) > self.CACHE_GUILDS:
                self._configs.popitem(last=False)
        else:
            self._configs.move_to_end(guild_id)
        return config

    async def _measure(
        self,
        conn: aiosqlite.Connection,
        guild_id: int,
        user_id: int,
        role_ids: Iterable[int],
        now: float,
        *,
        every: bool = False,
    ) -> tuple[GuildConfig, _Effective, Usage]:
        """The member's configuration, effective limits and usage, consistent with each other."""
        config = await self._config(conn, guild_id, now)
        while True:
            member, eff = self._member(config, user_id, role_ids, now)
            usage = await self.store.usage(conn, self._bounds(guild_id, user_id, now, member, eff, every=every))
            if usage.version == config.version:
                return member, eff, usage
            # The configuration changed since it was cached: reload it and measure again.
            config = await self._config(conn, guild_id, now, reload=True)

    def _member(
        self, config: GuildConfig, user_id: int, role_ids: Iterable[int], now: float
    ) -> tuple[GuildConfig, _Effective]:
        """The member's share of the guild's configuration and their effective limits (memoized)."""
        key = (config.guild_id, user_id, frozenset(role_ids))
        hit = self._members.get(key)
        if hit is not None and hit[0] == config.version and now < hit[1]:
            self._members.move_to_end(key)
            return hit[2], hit[3]
        member = member_rows(config, user_id, key[2], now)
        eff = _effective(member, self.defaults, key[2])
        # Valid until the configuration changes or the member's first grant expires.
        valid_until = min((g.expires_at for g in member.grants if g.expires_at is not None), default=math.inf)
        self._members[key] = (config.version, valid_until, member, eff)
        while len(self._members) > self.CACHE_MEMBERS:
            self._members.popitem(last=False)
        return member, eff

    def _bounds(
        self, guild_id: int, user_id: int, now: float, member: GuildConfig, eff: _Effective, *, every: bool = False
    ) -> Bounds:
        """Lower bounds of the sums some limit needs (others are skipped), or of ``every`` sum (report)."""

        def bound(scope: str, period: str) -> float:
            if not every and all(eff.windows[(scope, period, u)] is None for u in UNITS):
                return NEVER
            return now - WINDOW_SECONDS[period]

        reset = member.resets.get(user_id)
        return Bounds(
            guild_id=guild_id,
            user_id=user_id,
            user_after_job=reset.after_job_id if reset else 0,
            user_day=bound("user", "day"),
            user_week=bound("user", "week"),
            user_month=bound("user", "month"),
            guild_day=bound("guild", "day"),
            guild_week=bound("guild", "week"),
            guild_month=bound("guild", "month"),
            cooldown_since=now - eff.cooldown if eff.cooldown > 0 else NEVER,
            global_since=now - DAY if self._cap_micros is not None else NEVER,
            in_flight_user=every or eff.concurrency_user is not None,
            in_flight_guild=every or eff.concurrency_guild is not None,
        )

    async def _failures(
        self,
        conn: aiosqlite.Connection,
        charge: Charge,
        now: float,
        member: GuildConfig,
        eff: _Effective,
        usage: Usage,
    ) -> list[QuotaExceeded]:
        failures: list[QuotaExceeded] = []
        price = to_micros(charge.price_usd)

        if self._cap_micros is not None:
            cap = self._cap_micros
            if usage.global_micros >= cap or usage.global_micros + price > cap:
                failures.append(await self._global_refusal(conn, now, usage.global_micros, price))

        if eff.concurrency_user is not None and usage.in_flight_user >= eff.concurrency_user:
            failures.append(_concurrency_refusal("user", usage.in_flight_user, eff.concurrency_user))
        if eff.concurrency_guild is not None and usage.in_flight_guild >= eff.concurrency_guild:
            failures.append(_concurrency_refusal("guild", usage.in_flight_guild, eff.concurrency_guild))

        if eff.cooldown > 0 and usage.last_reserved_at is not None:
            ready_at = usage.last_reserved_at + eff.cooldown
            if now < ready_at:
                failures.append(
                    QuotaExceeded(
                        f"Please wait between videos: this server asks for {_duration(eff.cooldown)} between "
                        f"videos, and your last one started {_ts(usage.last_reserved_at)}. "
                        f"You can create the next one {_ts(ready_at)}.",
                        kind="cooldown",
                        retry_at=ready_at,
                        used=now - usage.last_reserved_at,
                        limit=eff.cooldown,
                    )
                )

        reset = member.resets.get(charge.user_id)
        for (scope, period, unit), limit in eff.windows.items():
            if limit is None:
                continue
            used = (usage.user if scope == "user" else usage.guild)[period].get(unit)
            requested = 1 if unit == "jobs" else charge.seconds if unit == "seconds" else price
            if used + requested <= limit:
                continue
            retry_at: float | None = None
            if requested <= limit:
                frees = await self.store.frees_at(
                    conn,
                    scope,
                    unit,
                    used + requested - limit,
                    guild_id=charge.guild_id,
                    user_id=charge.user_id,
                    since=now - WINDOW_SECONDS[period],
                    after_job=reset.after_job_id if reset and scope == "user" else 0,
                )
                retry_at = None if frees is None else frees + WINDOW_SECONDS[period]
            failures.append(_window_refusal(scope, period, unit, used, limit, requested, retry_at))
        return failures

    async def _global_refusal(self, conn: aiosqlite.Connection, now: float, used: int, price: int) -> QuotaExceeded:
        assert self._cap_micros is not None
        cap = self._cap_micros
        # Paused: spend must drop below the cap; otherwise it must make room for this price.
        need = max(used + price - cap, used - cap + 1)
        frees = await self.store.frees_at(conn, "global", "usd", need, guild_id=0, user_id=0, since=now - DAY)
        retry_at = None if frees is None else frees + DAY
        when = f" It reopens {_ts(retry_at)}." if retry_at is not None else ""
        if price > cap:
            message = (
                f"This {_usd(price)} video costs more than the bot's whole daily spending cap of {_usd(cap)}; "
                "choose a cheaper one."
            )
            retry_at = None
        elif used >= cap:
            message = (
                f"Video generation is paused for everyone: the bot has reached its daily spending cap of "
                f"{_usd(cap)} ({_usd(used)} spent in the last 24 hours).{when}"
            )
        else:
            fits = f" It fits again {_ts(retry_at)}, or choose a cheaper video now." if retry_at else ""
            message = (
                f"This {_usd(price)} video would take the bot past its daily spending cap of {_usd(cap)} "
                f"({_usd(used)} spent in the last 24 hours, {_usd(cap - used)} left).{fits}"
            )
        return QuotaExceeded(
            message,
            kind="global_cap",
            retry_at=retry_at,
            used=_from_base("usd", used),
            limit=_from_base("usd", cap),
            requested=_from_base("usd", price),
        )

    # ------------------------------------------------------------------ views

    async def paused(self) -> QuotaExceeded | None:
        """The bot-wide daily cap as an early answer: a ``global_cap`` refusal while it is reached."""
        if self._cap_micros is None:
            return None
        now = self.clock()
        conn = self.store.db.conn
        usage = await self.store.usage(
            conn, Bounds(0, 0, global_since=now - DAY, in_flight_user=False, in_flight_guild=False)
        )
        if usage.global_micros < self._cap_micros:
            return None
        return await self._global_refusal(conn, now, usage.global_micros, 0)

    async def report(self, guild_id: int, user_id: int, role_ids: tuple[int, ...]) -> QuotaReport:
        """The member's and the guild's use of every window, with limits, what is left and reset times."""
        now = self.clock()
        conn = self.store.db.conn
        member, eff, usage = await self._measure(conn, guild_id, user_id, role_ids, now, every=True)
        bounds = self._bounds(guild_id, user_id, now, member, eff, every=True)
        oldest = await self.store.oldest(conn, replace(bounds, global_since=now - DAY))
        windows: list[WindowUsage] = []
        for scope in SCOPES:
            for period in PERIODS:
                sums = (usage.user if scope == "user" else usage.guild)[period]
                first = (oldest.user if scope == "user" else oldest.guild)[period]
                for unit in UNITS:
                    limit = eff.windows[(scope, period, unit)]
                    used = sums.get(unit)
                    windows.append(
                        WindowUsage(
                            scope=scope,
                            period=period,
                            unit=unit,
                            used=_from_base(unit, used),
                            limit=None if limit is None else _from_base(unit, limit),
                            left=None if limit is None else _from_base(unit, max(0, limit - used)),
                            resets_at=None if first is None else first + WINDOW_SECONDS[period],
                        )
                    )
        cooldown_until = None
        if eff.cooldown > 0 and usage.last_reserved_at is not None and usage.last_reserved_at + eff.cooldown > now:
            cooldown_until = usage.last_reserved_at + eff.cooldown
        cap: GlobalCap | None = None
        if self._cap_micros is not None:
            cap = GlobalCap(
                cap_usd=_from_base("usd", self._cap_micros),
                used_usd=_from_base("usd", usage.global_micros),
                left_usd=_from_base("usd", max(0, self._cap_micros - usage.global_micros)),
                resets_at=None if oldest.global_day is None else oldest.global_day + DAY,
                paused=usage.global_micros >= self._cap_micros,
            )
        return QuotaReport(
            guild_id=guild_id,
            user_id=user_id,
            at=now,
            windows=tuple(windows),
            in_flight_user=usage.in_flight_user,
            max_concurrent_per_user=eff.concurrency_user,
            in_flight_guild=usage.in_flight_guild,
            max_concurrent_per_guild=eff.concurrency_guild,
            cooldown_seconds=eff.cooldown,
            cooldown_until=cooldown_until,
            global_cap=cap,
            grants=member.grants,
        )

    async def limits(self, guild_id: int) -> GuildLimits:
        """The guild's effective limits (its own rows, defaults for the rest) and its role overrides."""
        now = self.clock()
        config = await self.store.guild_config(self.store.db.conn, guild_id, now)
        own = {(r.scope, r.period, r.unit): r.amount for r in config.limits if r.role_id == 0}
        windows = tuple(
            WindowLimit(s, p, u, own[(s, p, u)], "guild")
            if (s, p, u) in own
            else WindowLimit(s, p, u, self.defaults.window(s, p, u), "default")
            for s in SCOPES
            for p in PERIODS
            for u in UNITS
        )
        overrides = [RoleOverride(r.role_id, f"user_{r.unit}_{r.period}", r.amount) for r in config.limits if r.role_id]
        overrides += [RoleOverride(c.role_id, c.control, c.value) for c in config.controls if c.role_id]
        eff = _effective(member_rows(config, 0, (), now), self.defaults, ())
        return GuildLimits(
            guild_id=guild_id,
            windows=windows,
            role_overrides=tuple(sorted(overrides, key=lambda o: (o.role_id, o.key))),
            max_concurrent_per_user=eff.concurrency_user,
            max_concurrent_per_guild=eff.concurrency_guild,
            user_cooldown_seconds=eff.cooldown,
            daily_spend_cap_usd=self.daily_spend_cap_usd,
        )

    # ------------------------------------------------------------------ moderator operations

    async def set_limit(
        self, guild_id: int, scope: str, window: str, unit: str, amount: float | None, *, role_id: int | None = None
    ) -> None:
        """Set one window limit (``None`` = unlimited).  With ``role_id``: an override for that role's holders.

        Role overrides apply to per-member limits only (``scope="user"``); jobs and seconds must be whole.
        """
        _check_window(scope, window, unit)
        if role_id is not None and scope != "user":
            raise ValueError("role overrides apply to per-member limits only (scope 'user')")
        await self.store.set_limit(guild_id, _role(role_id), scope, window, unit, _amount_arg(unit, amount))

    async def clear_limit(
        self, guild_id: int, scope: str, window: str, unit: str, *, role_id: int | None = None
    ) -> bool:
        """Forget a guild's limit (the default applies again) or a role's override; True when one existed."""
        _check_window(scope, window, unit)
        return await self.store.delete_limit(guild_id, _role(role_id), scope, window, unit)

    async def set_concurrency(
        self,
        guild_id: int,
        *,
        per_user: int | Setting | None = Setting.KEEP,
        per_guild: int | Setting | None = Setting.KEEP,
        role_id: int | None = None,
    ) -> None:
        """Maximum jobs in flight; ``None`` = unlimited, ``USE_DEFAULT`` = back to the default.

        With ``role_id`` only ``per_user`` may be given (an override for that role's holders).
        """
        if role_id is not None and per_guild is not Setting.KEEP:
            raise ValueError("a role can override the per-member concurrency only")
        for control, value in (("concurrency_user", per_user), ("concurrency_guild", per_guild)):
            if value is Setting.KEEP:
                continue
            if value is Setting.DEFAULT:
                await self.store.delete_control(guild_id, _role(role_id), control)
                continue
            if value is not None and (not isinstance(value, int) or value < 0):
                raise ValueError(f"{control} must be a whole number ≥ 0 or None, not {value!r}")
            await self.store.set_control(guild_id, _role(role_id), control, value)

    async def set_cooldown(self, guild_id: int, seconds: float | Setting | None, *, role_id: int | None = None) -> None:
        """Seconds a member must wait between reservations (``None`` or 0 = none; ``USE_DEFAULT``)."""
        if seconds is Setting.DEFAULT:
            await self.store.delete_control(guild_id, _role(role_id), "cooldown")
            return
        if seconds is Setting.KEEP:
            return
        if seconds is not None and seconds < 0:
            raise ValueError("the cooldown must not be negative")
        await self.store.set_control(guild_id, _role(role_id), "cooldown", seconds)

    async def grant(
        self,
        guild_id: int,
        user_id: int,
        unit: str,
        amount: float,
        window: str,
        *,
        expires_at: float | None = None,
    ) -> Grant:
        """Raise one member's own limit for (``window``, ``unit``) by ``amount`` until ``expires_at``.

        Grants add up; they do nothing where the member's limit is unlimited, and guild limits and the
        bot-wide cap still apply.
        """
        _check_window("user", window, unit)
        value = _amount_arg(unit, amount)
        if value is None or value <= 0:
            raise ValueError("a grant must be a positive amount")
        return await self.store.add_grant(guild_id, user_id, window, unit, value, expires_at)

    async def revoke_grant(self, guild_id: int, grant_id: int) -> bool:
        return await self.store.delete_grant(guild_id, grant_id)

    async def grants(self, guild_id: int, user_id: int | None = None) -> list[Grant]:
        """Active (unexpired) grants of a guild, or of one member."""
        return await self.store.grants(guild_id, user_id, active_at=self.clock())

    async def reset_user(self, guild_id: int, user_id: int) -> int:
        """Forgive a member's usage so far; return how many counted charges were forgiven.

        The ledger is not touched (real spend stays real): a reset marker (the newest ledger row's job
        id) makes the member's own limits and cooldown count only charges reserved after the reset.
        Guild limits, the bot-wide cap and the member's jobs in flight (concurrency) still count
        everything.  The count covers the member's charges of the last 30 days not already forgiven by
        an earlier reset.
        """
        return await self.store.reset_member(guild_id, user_id, self.clock() - WINDOW_SECONDS["month"])


def _role(role_id: int | None) -> int:
    if role_id is None:
        return 0
    if role_id <= 0:
        raise ValueError("role ids are positive")
    return role_id


def _amount_arg(unit: str, amount: float | None) -> float | None:
    if amount is None:
        return None
    if isinstance(amount, bool) or not isinstance(amount, int | float) or not math.isfinite(amount) or amount < 0:
        raise ValueError(f"an amount must be a finite number ≥ 0, not {amount!r}")
    if unit == "usd":
        return round(float(amount), 6)
    if amount != int(amount):
        raise ValueError(f"{unit} are counted in whole numbers, not {amount!r}")
    return int(amount)


def _concurrency_refusal(scope: str, in_flight: int, limit: int) -> QuotaExceeded:
    if limit == 0:
        who = "Your" if scope == "user" else "This server's"
        message = f"{who} limit here is 0 videos at a time, so no video can be created now; ask a moderator."
    elif scope == "user":
        noun = "video" if in_flight == 1 else "videos"
        message = (
            f"You already have {in_flight} {noun} in progress, and your limit is {limit} at a time. "
            f"Try again when {'it' if in_flight == 1 else 'one'} finishes."
        )
    else:
        message = (
            f"This server already has {in_flight} videos in progress, its limit of {limit} at a time. "
            "Try again when one finishes."
        )
    return QuotaExceeded(message, kind=f"concurrency_{scope}", used=in_flight, limit=limit, requested=1)


def _window_refusal(
    scope: str, period: str, unit: str, used: int, limit: int, requested: int, retry_at: float | None
) -> QuotaExceeded:
    owner, their = ("You've", "your") if scope == "user" else ("This server has", "its")
    subject = "you" if scope == "user" else "this server"
    noun = {"jobs": "videos", "seconds": "video-seconds", "usd": ""}[unit]
    limit_text = f"{_number(unit, limit)} {noun}".rstrip()
    if requested > limit:
        if limit == 0 or unit == "jobs":
            message = (
                f"{their.capitalize()} limit here is {_amount(unit, limit)} {_PER[period]}, so no video can be "
                f"created {'by ' + subject if scope == 'user' else 'on this server'} now; ask a moderator."
            )
        else:
            need = f"is {requested} seconds long" if unit == "seconds" else f"costs {_usd(requested)}"
            change = "shorter" if unit == "seconds" else "cheaper"
            message = (
                f"This video {need}, more than {their} whole limit of {_amount(unit, limit)} {_PER[period]}; "
                f"choose a {change} one."
            )
    elif unit == "jobs":
        when = f"; the next one frees up {_ts(retry_at)}" if retry_at is not None else ""
        message = f"{owner} used {used} of {their} {limit_text} {_IN_THE_LAST[period]}{when}."
    else:
        left = limit - used
        need = f"is {requested} seconds long" if unit == "seconds" else f"costs {_usd(requested)}"
        change = "shorter" if unit == "seconds" else "cheaper"
        fits = f" It fits again {_ts(retry_at)}" if retry_at is not None else " It does not fit yet"
        now_hint = f", or choose a {change} one now." if left > 0 else "."
        message = (
            f"{owner} used {_number(unit, used)} of {their} {limit_text} {_IN_THE_LAST[period]} "
            f"({_amount(unit, max(left, 0))} left), and this video {need}.{fits}{now_hint}"
        )
    return QuotaExceeded(
        message,
        kind=f"{scope}_{unit}_{period}",
        retry_at=retry_at if requested <= limit else None,
        used=_from_base(unit, used),
        limit=_from_base(unit, limit),
        requested=_from_base(unit, requested),
    )


def _primary(failures: list[QuotaExceeded]) -> QuotaExceeded:
    """The refusal to show: one that waiting cannot fix, else the bot-wide pause, else the latest retry.

    Concurrency refusals (their time is unknown) are shown only when nothing else applies.
    """
    hopeless = [f for f in failures if f.retry_at is None and not f.kind.startswith("concurrency")]
    timed = [f for f in failures if f.retry_at is not None]
    if hopeless:
        chosen = hopeless[0]
    elif any(f.kind == "global_cap" for f in failures):
        chosen = next(f for f in failures if f.kind == "global_cap")
    elif timed:
        chosen = max(timed, key=lambda f: cast(float, f.retry_at))
    else:
        chosen = failures[0]
    if len(failures) == 1:
        return chosen
    return QuotaExceeded(
        chosen.message,
        kind=chosen.kind,
        retry_at=chosen.retry_at,
        used=chosen.used,
        limit=chosen.limit,
        requested=chosen.requested,
        failures=tuple(failures),
    )
