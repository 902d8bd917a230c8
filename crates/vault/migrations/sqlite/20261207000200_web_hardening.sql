-- Web hardening. A session's last use, for the idle timeout (automatic
-- logoff); sessions already open count as used when they were created.
-- And which audio each session has already opened, so the first access of
-- a session to a recording or conversation is audited exactly once,
-- whatever Range it asks for.

ALTER TABLE web_sessions ADD COLUMN last_seen_at INTEGER NOT NULL DEFAULT 0;
UPDATE web_sessions SET last_seen_at = created_at;

CREATE TABLE session_audio_opened (
    token_hash           TEXT NOT NULL REFERENCES web_sessions (token_hash) ON DELETE CASCADE,
    object_kind          TEXT NOT NULL,
    object_id            TEXT NOT NULL,
    PRIMARY KEY (token_hash, object_kind, object_id)
);
