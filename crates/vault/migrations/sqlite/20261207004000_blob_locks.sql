-- WORM storage: the S3 version id and Object Lock of every locked blob
-- (recordings and stitched files). The lock is on that version: a later
-- overwrite or delete marker does not move it, so the version id is what
-- proves which bytes are kept, and until when.
CREATE TABLE blob_locks (
    storage_key   TEXT PRIMARY KEY,
    version_id    TEXT NOT NULL,
    mode          TEXT NOT NULL,
    retain_until  BIGINT NOT NULL,
    legal_hold    BIGINT NOT NULL DEFAULT 0,
    recorded_at   BIGINT NOT NULL
);
