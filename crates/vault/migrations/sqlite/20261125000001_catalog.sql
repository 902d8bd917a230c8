-- CallVault catalog, SQLite dialect. Every timestamp is INTEGER milliseconds
-- since the Unix epoch, UTC (the PostgreSQL schema uses BIGINT the same way).
-- JSON documents are TEXT on both backends.

CREATE TABLE call_records (
    id                   TEXT PRIMARY KEY NOT NULL,
    telephony_session_id TEXT,
    session_id           TEXT,
    start_time           INTEGER NOT NULL,
    duration_ms          INTEGER,
    direction            TEXT,
    from_number          TEXT,
    from_name            TEXT,
    to_number            TEXT,
    to_name              TEXT,
    extension_id         TEXT,
    raw                  TEXT NOT NULL,
    seen_by_webhook      BOOLEAN NOT NULL DEFAULT FALSE,
    seen_by_sync         BOOLEAN NOT NULL DEFAULT FALSE,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
);
CREATE INDEX call_records_start ON call_records (start_time, id);
CREATE INDEX call_records_tsid ON call_records (telephony_session_id);
CREATE INDEX call_records_ext ON call_records (extension_id, start_time);

CREATE TABLE legs (
    call_record_id       TEXT NOT NULL REFERENCES call_records (id) ON DELETE CASCADE,
    leg_index            INTEGER NOT NULL,
    leg_type             TEXT,
    telephony_session_id TEXT,
    recording_id         TEXT,
    start_time           INTEGER,
    duration_ms          INTEGER,
    direction            TEXT,
    from_number          TEXT,
    to_number            TEXT,
    extension_id         TEXT,
    master               BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (call_record_id, leg_index)
);
CREATE INDEX legs_recording ON legs (recording_id);

CREATE TABLE recordings (
    id                   TEXT PRIMARY KEY NOT NULL,
    call_record_id       TEXT,
    telephony_session_id TEXT,
    content_uri          TEXT,
    state                TEXT NOT NULL DEFAULT 'listed'
                         CHECK (state IN ('listed', 'stored', 'not_ready', 'gone', 'failed')),
    content_type         TEXT,
    size_bytes           INTEGER,
    sha256               TEXT,
    storage_key          TEXT,
    attempts             INTEGER NOT NULL DEFAULT 0,
    last_error           TEXT,
    next_attempt_at      INTEGER,
    call_start_time      INTEGER,
    call_end_time        INTEGER,
    stored_at            INTEGER,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
);
CREATE INDEX recordings_state ON recordings (state, next_attempt_at);
CREATE INDEX recordings_tsid ON recordings (telephony_session_id);

CREATE TABLE conversations (
    id                   TEXT PRIMARY KEY NOT NULL,
    state                TEXT NOT NULL DEFAULT 'live'
                         CHECK (state IN ('live', 'ended', 'waiting', 'stitched', 'single', 'incomplete')),
    reason               TEXT,
    started_at           INTEGER,
    ended_at             INTEGER,
    stitched_key         TEXT,
    sha256               TEXT,
    manifest             TEXT,
    arrived_by_webhook   BOOLEAN NOT NULL DEFAULT FALSE,
    arrived_by_sync      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
);
CREATE INDEX conversations_state ON conversations (state, updated_at);

-- Each telephony session belongs to exactly one conversation; an attended
-- transfer maps two sessions to one conversation.
CREATE TABLE conversation_sessions (
    telephony_session_id TEXT PRIMARY KEY NOT NULL,
    conversation_id      TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    position             INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX conversation_sessions_conv ON conversation_sessions (conversation_id);

CREATE TABLE sync_watermarks (
    name                 TEXT PRIMARY KEY NOT NULL,
    value                INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
);

CREATE TABLE jobs (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    kind                 TEXT NOT NULL,
    dedupe_key           TEXT NOT NULL,
    payload              TEXT NOT NULL DEFAULT '{}',
    state                TEXT NOT NULL DEFAULT 'queued'
                         CHECK (state IN ('queued', 'leased', 'retry', 'done', 'dead')),
    priority             INTEGER NOT NULL DEFAULT 0,
    run_at               INTEGER NOT NULL,
    attempts             INTEGER NOT NULL DEFAULT 0,
    max_attempts         INTEGER NOT NULL DEFAULT 20,
    lease_token          INTEGER NOT NULL DEFAULT 0,
    holder               TEXT,
    leased_until         INTEGER,
    last_error           TEXT,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL,
    finished_at          INTEGER
);
CREATE UNIQUE INDEX jobs_live_dedupe ON jobs (kind, dedupe_key)
    WHERE state IN ('queued', 'leased', 'retry');
CREATE INDEX jobs_claimable ON jobs (priority DESC, run_at, id)
    WHERE state IN ('queued', 'retry');
CREATE INDEX jobs_leases ON jobs (leased_until) WHERE state = 'leased';
