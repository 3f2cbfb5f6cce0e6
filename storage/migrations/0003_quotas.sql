-- Quotas: the spend ledger, per-guild limits with per-role overrides, grants and user resets.
--
-- The ledger holds one row per admitted job.  The cost is reserved in the transaction that inserts the
-- job, committed when the video is delivered and released when the job fails, is refused or is discarded.
-- Usage counts 'reserved' + 'committed' rows; 'released' rows are refunds and count nowhere.
-- Windows are rolling: a row counts while reserved_at lies within the last 24 h / 7 d / 30 d.
CREATE TABLE ledger (
    job_id      INTEGER PRIMARY KEY REFERENCES jobs(id) ON DELETE CASCADE,
    guild_id    INTEGER NOT NULL,
    user_id     INTEGER NOT NULL,
    seconds     INTEGER NOT NULL,
    price_usd   REAL    NOT NULL,
    state       TEXT    NOT NULL CHECK (state IN ('reserved', 'committed', 'released')),
    reserved_at REAL    NOT NULL,
    settled_at  REAL
);
-- A member's own sums scan this covering index (their rows in a window are few: their limits bound them).
-- Guild and bot-wide sums use the running totals below instead, so the ledger needs no index for them.
CREATE INDEX ledger_by_member ON ledger (guild_id, user_id, reserved_at, state, seconds, price_usd);
-- Jobs in flight, for the concurrency limits.
CREATE INDEX ledger_in_flight ON ledger (guild_id, user_id) WHERE state = 'reserved';
-- Refunds, subtracted from the running totals below.
CREATE INDEX ledger_released_by_guild ON ledger (guild_id, reserved_at, seconds, price_usd) WHERE state = 'released';
CREATE INDEX ledger_released_by_time ON ledger (reserved_at, price_usd) WHERE state = 'released';

-- Running totals, one row per ledger row, written with it by the quota service: the guild's and the bot's
-- totals of every reservation up to and including this one (released ones too).  A guild or bot-wide
-- window sum is then two index seeks (the newest row, and the first row inside the window) minus the
-- released rows of the window, instead of a scan of every charge.  reserved_at never decreases in job_id
-- order (the service stamps max(now, newest reserved_at)), so job_id order is time order.
CREATE TABLE ledger_totals (
    job_id        INTEGER PRIMARY KEY REFERENCES ledger(job_id) ON DELETE CASCADE,
    guild_id      INTEGER NOT NULL,
    reserved_at   REAL    NOT NULL,
    seconds       INTEGER NOT NULL,
    micros        INTEGER NOT NULL,   -- this charge in micro-dollars
    guild_jobs    INTEGER NOT NULL,
    guild_seconds INTEGER NOT NULL,
    guild_micros  INTEGER NOT NULL,
    all_micros    INTEGER NOT NULL
);
CREATE INDEX ledger_totals_by_guild ON ledger_totals (guild_id, reserved_at);
CREATE INDEX ledger_totals_by_time ON ledger_totals (reserved_at);

-- Bumped by every change of the tables below, so a cached configuration is checked in one column read.
CREATE TABLE quota_meta (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    config_version  INTEGER NOT NULL
);
INSERT INTO quota_meta (id, config_version) VALUES (1, 0);

-- Window limits of a guild.  role_id = 0 is the guild's own limit (scope 'user' applies to each member,
-- scope 'guild' to the whole server); role_id > 0 overrides a per-member limit for holders of that role.
-- No row = the operator's default applies; amount NULL = unlimited.
CREATE TABLE quota_limits (
    guild_id    INTEGER NOT NULL,
    role_id     INTEGER NOT NULL DEFAULT 0,
    scope       TEXT    NOT NULL CHECK (scope IN ('user', 'guild')),
    period      TEXT    NOT NULL CHECK (period IN ('day', 'week', 'month')),
    unit        TEXT    NOT NULL CHECK (unit IN ('jobs', 'seconds', 'usd')),
    amount      REAL    CHECK (amount IS NULL OR amount >= 0),
    updated_at  REAL    NOT NULL,
    PRIMARY KEY (guild_id, role_id, scope, period, unit),
    CHECK (role_id = 0 OR scope = 'user')
) WITHOUT ROWID;

-- Concurrency and cooldown of a guild, same conventions as quota_limits (role_id 0 = guild-wide setting,
-- no row = default, value NULL = unlimited concurrency / no cooldown).  Only member controls take roles.
CREATE TABLE quota_controls (
    guild_id    INTEGER NOT NULL,
    role_id     INTEGER NOT NULL DEFAULT 0,
    control     TEXT    NOT NULL CHECK (control IN ('concurrency_user', 'concurrency_guild', 'cooldown')),
    value       REAL    CHECK (value IS NULL OR value >= 0),
    updated_at  REAL    NOT NULL,
    PRIMARY KEY (guild_id, role_id, control),
    CHECK (role_id = 0 OR control != 'concurrency_guild')
) WITHOUT ROWID;

-- Extra allowance for one member: raises that member's own limit for (period, unit) by amount while the
-- grant has not expired.  Guild-wide limits and the bot-wide cap still apply.
CREATE TABLE quota_grants (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id    INTEGER NOT NULL,
    user_id     INTEGER NOT NULL,
    period      TEXT    NOT NULL CHECK (period IN ('day', 'week', 'month')),
    unit        TEXT    NOT NULL CHECK (unit IN ('jobs', 'seconds', 'usd')),
    amount      REAL    NOT NULL CHECK (amount > 0),
    expires_at  REAL,
    granted_at  REAL    NOT NULL
);
CREATE INDEX quota_grants_by_member ON quota_grants (guild_id, user_id);

-- A moderator's reset of one member: the member's own limits and cooldown count only ledger rows with
-- job_id > after_job_id (the newest ledger row at the reset, so a reservation in the same clock tick is not
-- lost).  The ledger itself is untouched, so guild limits and the bot-wide cap still see the spend.
CREATE TABLE quota_resets (
    guild_id     INTEGER NOT NULL,
    user_id      INTEGER NOT NULL,
    after_job_id INTEGER NOT NULL,
    reset_at     REAL    NOT NULL,
    PRIMARY KEY (guild_id, user_id)
) WITHOUT ROWID;
