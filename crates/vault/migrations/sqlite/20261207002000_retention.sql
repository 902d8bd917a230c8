-- Records management: retention rules, disposal tombstones, legal holds and
-- deletions at the source. Timestamps are INTEGER milliseconds since the
-- epoch, UTC.

-- Retention rules, evaluated in `position` order (then id); the first that
-- matches governs a recording. A rule without criteria matches everything:
-- the default. No rule matching means "keep for ever".
CREATE TABLE retention_rules (
    id                          INTEGER PRIMARY KEY AUTOINCREMENT,
    name                        TEXT NOT NULL UNIQUE,
    position                    INTEGER NOT NULL DEFAULT 100,
    extension_id                TEXT,
    extension_group             TEXT,
    direction                   TEXT CHECK (direction IS NULL OR direction IN ('Inbound', 'Outbound')),
    recording_kind              TEXT,
    min_keep_days               INTEGER NOT NULL CHECK (min_keep_days >= 0),
    max_keep_days               INTEGER CHECK (max_keep_days IS NULL OR max_keep_days >= min_keep_days),
    delete_at_source_after_days INTEGER CHECK (delete_at_source_after_days IS NULL OR delete_at_source_after_days >= 0),
    created_by                  TEXT NOT NULL,
    created_at                  INTEGER NOT NULL
);

-- A disposed recording's tombstone: its ids, hash, size and dates, the rule
-- that disposed of it and when. The recording row stays (state 'gone').
CREATE TABLE recording_disposals (
    recording_id         TEXT PRIMARY KEY NOT NULL,
    call_record_id       TEXT,
    telephony_session_id TEXT,
    conversation_id      TEXT,
    storage_key          TEXT,
    sha256               TEXT,
    size_bytes           INTEGER,
    content_type         TEXT,
    call_start_time      INTEGER,
    call_end_time        INTEGER,
    stored_at            INTEGER,
    rule_id              INTEGER,
    rule_name            TEXT NOT NULL,
    disposed_at          INTEGER NOT NULL,
    blob_deleted_at      INTEGER
);
CREATE INDEX recording_disposals_conv ON recording_disposals (conversation_id);

-- Legal holds. A hold by ids lists its conversations; a filter hold keeps
-- its calls-page filter (JSON) and its matches, swept again before every
-- retention run so it covers future matches too.
CREATE TABLE legal_holds (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    matter               TEXT NOT NULL,
    reason               TEXT NOT NULL,
    placed_by            TEXT NOT NULL,
    placed_at            INTEGER NOT NULL,
    filter               TEXT,
    released_by          TEXT,
    released_at          INTEGER,
    release_reason       TEXT
);

CREATE TABLE legal_hold_conversations (
    hold_id              INTEGER NOT NULL REFERENCES legal_holds (id),
    conversation_id      TEXT NOT NULL,
    added_at             INTEGER NOT NULL,
    PRIMARY KEY (hold_id, conversation_id)
);
CREATE INDEX legal_hold_conversations_conv ON legal_hold_conversations (conversation_id);

-- Deletions at RingCentral: claimed ('pending') in the statement that checks
-- holds, then settled with RingCentral's answer.
CREATE TABLE source_deletions (
    recording_id         TEXT PRIMARY KEY NOT NULL,
    state                TEXT NOT NULL CHECK (state IN ('pending', 'deleted', 'failed')),
    sha256               TEXT NOT NULL,
    claimed_at           INTEGER NOT NULL,
    answered_at          INTEGER,
    answer               TEXT
);

-- Extension groups (a department): retention rules and supervisors' scopes
-- may name a group instead of listing extensions one by one.
CREATE TABLE extension_groups (
    name                 TEXT NOT NULL,
    extension_id         TEXT NOT NULL,
    PRIMARY KEY (name, extension_id)
);

CREATE TABLE user_extension_groups (
    user_id              INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    group_name           TEXT NOT NULL,
    PRIMARY KEY (user_id, group_name)
);

-- A listen-only user may play but never download.
ALTER TABLE users ADD COLUMN listen_only BOOLEAN NOT NULL DEFAULT FALSE;
