-- Per-guild extra content rules, added by moderators.  Regexes are validated before they are stored.
CREATE TABLE guild_rules (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id    INTEGER NOT NULL,
    kind        TEXT    NOT NULL CHECK (kind IN ('term', 'regex')),
    pattern     TEXT    NOT NULL,
    added_by    INTEGER NOT NULL,
    created_at  REAL    NOT NULL,
    UNIQUE (guild_id, kind, pattern)
);
CREATE INDEX guild_rules_by_guild ON guild_rules (guild_id);

-- Every refused prompt or image, for moderators and for the repeat-offender cooldown.
CREATE TABLE refusals (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id    INTEGER NOT NULL,
    user_id     INTEGER NOT NULL,
    source      TEXT    NOT NULL CHECK (source IN ('local', 'moderation', 'provider', 'image')),
    category    TEXT,
    rule        TEXT,
    prompt      TEXT    NOT NULL,
    job_id      INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
    created_at  REAL    NOT NULL
);
CREATE INDEX refusals_by_member ON refusals (guild_id, user_id, created_at);
CREATE INDEX refusals_by_guild ON refusals (guild_id, created_at);
