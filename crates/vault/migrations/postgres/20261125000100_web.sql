-- Web UI: users and their extensions, server-side sessions, login attempt
-- counters, the audit log of plays and downloads, and indexes for the calls
-- page. Timestamps are BIGINT milliseconds since the epoch, UTC.

CREATE TABLE users (
    id                   BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name                 TEXT NOT NULL UNIQUE,
    password_hash        TEXT NOT NULL,
    role                 TEXT NOT NULL CHECK (role IN ('admin', 'viewer')),
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL
);

CREATE TABLE user_extensions (
    user_id              BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    extension_id         TEXT NOT NULL,
    PRIMARY KEY (user_id, extension_id)
);

CREATE TABLE web_sessions (
    token_hash           TEXT PRIMARY KEY NOT NULL,
    user_id              BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token           TEXT NOT NULL,
    created_at           BIGINT NOT NULL,
    expires_at           BIGINT NOT NULL
);
CREATE INDEX web_sessions_user ON web_sessions (user_id);

CREATE TABLE login_attempts (
    key                  TEXT PRIMARY KEY NOT NULL,
    failures             BIGINT NOT NULL,
    window_start         BIGINT NOT NULL
);

-- No foreign key to users: the trail outlives a removed user.
CREATE TABLE audit_log (
    id                   BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at                   BIGINT NOT NULL,
    user_id              BIGINT,
    user_name            TEXT NOT NULL,
    action               TEXT NOT NULL CHECK (action IN ('play', 'download')),
    object_kind          TEXT NOT NULL CHECK (object_kind IN ('recording', 'conversation')),
    object_id            TEXT NOT NULL,
    client               TEXT
);
CREATE INDEX audit_log_at ON audit_log (at, id);

CREATE INDEX conversations_recent ON conversations ((COALESCE(started_at, created_at)), id);
CREATE INDEX conversations_state_recent ON conversations (state, (COALESCE(started_at, created_at)), id);
CREATE INDEX legs_ext ON legs (extension_id);
CREATE INDEX call_records_tsid_ext ON call_records (telephony_session_id, extension_id);
