-- The sealed audit trail (issue 17): an append-only, hash-chained event log
-- and the signed checkpoints of its head. `canonical` holds the exact bytes
-- that were hashed (TEXT, never JSONB, which would reorder keys);
-- event_hash = sha256(prev_hash || canonical). `seq` is 1, 2, 3, … with no
-- gaps, assigned under a transaction-scoped advisory lock, and is itself
-- inside `canonical`, so a deleted or moved row shows. The other columns
-- repeat fields of `canonical` for queries; `audit verify` checks they agree.
-- The old `audit_log` rows are chained into `audit_events` (and removed from
-- `audit_log`) by the catalog on open.

CREATE TABLE audit_events (
    seq                  BIGINT PRIMARY KEY,
    at                   BIGINT NOT NULL,
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
    seq                  BIGINT PRIMARY KEY,
    at                   BIGINT NOT NULL,
    count                BIGINT NOT NULL,
    head_hash            TEXT NOT NULL,
    prev_checkpoint_hash TEXT NOT NULL,
    payload              TEXT NOT NULL,
    signature            TEXT NOT NULL,
    public_key           TEXT NOT NULL
);

-- Append-only: these stop accidents and careless scripts; a database
-- administrator can drop them, which the signed checkpoints then expose.
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END
$$;
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
