-- The sealed audit trail (issue 17): an append-only, hash-chained event log
-- and the signed checkpoints of its head. `canonical` holds the exact bytes
-- that were hashed (TEXT, so no database may reorder them);
-- event_hash = sha256(prev_hash || canonical). `seq` is 1, 2, 3, … with no
-- gaps, assigned under the write lock, and is itself inside `canonical`, so
-- a deleted or moved row shows. The other columns repeat fields of
-- `canonical` for queries; `audit verify` checks they agree with it.
-- The old `audit_log` rows are chained into `audit_events` (and removed from
-- `audit_log`) by the catalog on open.

CREATE TABLE audit_events (
    seq                  INTEGER PRIMARY KEY NOT NULL,
    at                   INTEGER NOT NULL,
    actor                TEXT NOT NULL,
    action               TEXT NOT NULL,
    subject_kind         TEXT NOT NULL,
    subject_id           TEXT NOT NULL,
    canonical            TEXT NOT NULL,
    prev_hash            TEXT NOT NULL,
    event_hash           TEXT NOT NULL
);
CREATE INDEX audit_events_subject ON audit_events (subject_kind, subject_id, seq);

CREATE TABLE audit_checkpoints (
    seq                  INTEGER PRIMARY KEY NOT NULL,
    at                   INTEGER NOT NULL,
    count                INTEGER NOT NULL,
    head_hash            TEXT NOT NULL,
    prev_checkpoint_hash TEXT NOT NULL,
    payload              TEXT NOT NULL,
    signature            TEXT NOT NULL,
    public_key           TEXT NOT NULL
);

-- Append-only: these stop accidents and careless scripts; a database
-- administrator can drop them, which the signed checkpoints then expose.
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;
CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is append-only'); END;
CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is append-only'); END;
