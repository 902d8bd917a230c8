-- A stitched conversation file disposed of with its legs: the tombstone of
-- the file (its key, sha256 and stitch manifest, why and when), written in the same
-- transaction that clears the conversation's stitched key. Only written
-- once every recording of the conversation is gone and no hold applies.
-- Timestamps are INTEGER milliseconds since the epoch, UTC.
CREATE TABLE stitched_disposals (
    conversation_id      TEXT PRIMARY KEY NOT NULL,
    storage_key          TEXT NOT NULL,
    sha256               TEXT,
    manifest             TEXT,
    reason               TEXT NOT NULL,
    disposed_at          INTEGER NOT NULL,
    blob_deleted_at      INTEGER
);
