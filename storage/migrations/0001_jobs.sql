-- Jobs: one row per requested video, written before the provider is called.
-- Life cycle (each transition is one UPDATE guarded by the expected previous status):
--   pending → queued → submitted → completed → delivering → delivered
--   any non-terminal → failed | refused | discarded
CREATE TABLE jobs (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id            INTEGER NOT NULL,
    channel_id          INTEGER NOT NULL,
    user_id             INTEGER NOT NULL,
    interaction_id      INTEGER UNIQUE,
    prompt              TEXT    NOT NULL,
    model               TEXT    NOT NULL,
    size                TEXT    NOT NULL,
    seconds             INTEGER NOT NULL CHECK (seconds > 0),
    price_usd           REAL    NOT NULL DEFAULT 0,
    has_reference_image INTEGER NOT NULL DEFAULT 0,
    remix_of_job_id     INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
    provider            TEXT    NOT NULL,
    provider_video_id   TEXT,
    status              TEXT    NOT NULL CHECK (status IN
                          ('pending', 'queued', 'submitted', 'completed', 'delivering',
                           'delivered', 'failed', 'refused', 'discarded')),
    progress            INTEGER NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    error_code          TEXT,
    error_message       TEXT,
    status_message_id   INTEGER,
    result_message_id   INTEGER,
    upload_limit_bytes  INTEGER,
    video_path          TEXT,
    thumbnail_path      TEXT,
    video_bytes         INTEGER,
    delivery_note       TEXT,
    held_reason         TEXT,       -- set when the result cannot be posted; the tracker stops retrying
    reference_path      TEXT,       -- prepared reference image kept until submission
    poll_failures       INTEGER NOT NULL DEFAULT 0,
    created_at          REAL    NOT NULL,
    submitted_at        REAL,
    completed_at        REAL,
    finished_at         REAL,
    updated_at          REAL    NOT NULL
);

CREATE INDEX jobs_active ON jobs (status)
    WHERE status IN ('pending', 'queued', 'submitted', 'completed', 'delivering');
CREATE INDEX jobs_by_member ON jobs (guild_id, user_id, id DESC);
CREATE INDEX jobs_by_guild ON jobs (guild_id, id DESC);
CREATE INDEX jobs_by_provider_id ON jobs (provider_video_id);

-- The bot's own bookkeeping (last synced command digest and similar).
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
