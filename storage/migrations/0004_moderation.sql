-- Moderation: per-guild policy, generation bans, the audit log, appeals of refused prompts.
-- Everything a moderator changes with /videomod lives here and is read on every request, so it applies at once.

-- One row per guild that changed a setting; no row = the defaults (no restriction, nothing paused).
CREATE TABLE guild_settings (
    guild_id          INTEGER PRIMARY KEY,
    paused            INTEGER NOT NULL DEFAULT 0 CHECK (paused IN (0, 1)),
    pause_reason      TEXT,
    max_seconds       INTEGER CHECK (max_seconds IS NULL OR max_seconds > 0),
    reference_images  INTEGER NOT NULL DEFAULT 1 CHECK (reference_images IN (0, 1)),
    remix             INTEGER NOT NULL DEFAULT 1 CHECK (remix IN (0, 1)),
    log_channel_id    INTEGER,
    retention_days    INTEGER CHECK (retention_days IS NULL OR retention_days > 0),
    updated_at        REAL    NOT NULL
);

-- Allow-lists: generation only in these channels / for holders of these roles / with these models / sizes.
-- No row of a kind = no restriction of that kind.  Channel and role ids are stored as decimal text.
CREATE TABLE guild_allow (
    guild_id  INTEGER NOT NULL,
    kind      TEXT    NOT NULL CHECK (kind IN ('channel', 'role', 'model', 'size')),
    value     TEXT    NOT NULL,
    added_by  INTEGER NOT NULL,
    added_at  REAL    NOT NULL,
    PRIMARY KEY (guild_id, kind, value)
) WITHOUT ROWID;

-- Members who may not generate in a guild; expires_at NULL = until unbanned.  Expired rows are ignored.
CREATE TABLE member_bans (
    guild_id    INTEGER NOT NULL,
    user_id     INTEGER NOT NULL,
    reason      TEXT    NOT NULL,
    banned_by   INTEGER NOT NULL,
    banned_at   REAL    NOT NULL,
    expires_at  REAL,
    PRIMARY KEY (guild_id, user_id)
) WITHOUT ROWID;

-- Who did what, when: every /videomod subcommand writes one row (change = 1 for changes, 0 for look-ups),
-- changes in the same transaction as the change itself.  details is a JSON object; it never holds prompts.
CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id    INTEGER NOT NULL,
    actor_id    INTEGER NOT NULL,
    action      TEXT    NOT NULL,
    target_id   INTEGER,
    details     TEXT    NOT NULL DEFAULT '{}',
    change      INTEGER NOT NULL DEFAULT 1 CHECK (change IN (0, 1)),
    created_at  REAL    NOT NULL
);
CREATE INDEX audit_by_guild ON audit_log (guild_id, created_at);
CREATE INDEX audit_by_target ON audit_log (guild_id, target_id);

-- What a locally refused request asked for (channel, model, size, length), so an approved appeal can be
-- submitted exactly as the member asked.  Removed with its refusal.
CREATE TABLE refusal_requests (
    refusal_id  INTEGER PRIMARY KEY REFERENCES refusals(id) ON DELETE CASCADE,
    channel_id  INTEGER NOT NULL,
    model       TEXT    NOT NULL,
    size        TEXT    NOT NULL,
    seconds     INTEGER NOT NULL CHECK (seconds > 0),
    had_image   INTEGER NOT NULL DEFAULT 0 CHECK (had_image IN (0, 1))
);

-- A member's appeal of one local refusal (at most one per refusal), decided by a moderator.
CREATE TABLE appeals (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    refusal_id      INTEGER NOT NULL UNIQUE REFERENCES refusals(id) ON DELETE CASCADE,
    guild_id        INTEGER NOT NULL,
    user_id         INTEGER NOT NULL,
    explanation     TEXT,
    status          TEXT    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'denied')),
    log_channel_id  INTEGER,
    log_message_id  INTEGER,
    decided_by      INTEGER,
    decided_at      REAL,
    job_id          INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
    created_at      REAL    NOT NULL
);
CREATE INDEX appeals_by_guild ON appeals (guild_id, status, created_at);
CREATE INDEX appeals_by_member ON appeals (guild_id, user_id);

-- Moderator listings, usage charts and the retention sweep read finished jobs of a guild by time.
CREATE INDEX jobs_finished ON jobs (guild_id, finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX jobs_by_guild_status ON jobs (guild_id, status, id DESC);
