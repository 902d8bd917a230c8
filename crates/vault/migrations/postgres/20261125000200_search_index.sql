-- The calls page's term index: one row per (normalised term, conversation),
-- keyed so that one term's conversations come out newest first straight from
-- the index. `at` is the conversation's COALESCE(started_at, created_at), the
-- calls page's sort key. Terms are written by Rust (crate vault, module
-- search_index), not by SQL, so both backends normalise alike:
--   x:<extension id>, n:<digits> (whole number and its last 4..15 digits),
--   w:<word> (each lower-cased name word's prefixes of 3..20 characters,
--   or the whole word when shorter).
-- COLLATE "C": byte order, so the index serves equality on any locale.
CREATE TABLE conversation_terms (
    term                 TEXT COLLATE "C" NOT NULL,
    at                   BIGINT NOT NULL,
    conversation_id      TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    PRIMARY KEY (term, at, conversation_id)
);
CREATE INDEX conversation_terms_conv ON conversation_terms (conversation_id, term);

-- Existing conversations are indexed by `Catalog::open` right after this
-- migration (the normalisation lives in Rust); this row asks for that.
INSERT INTO settings (name, value, updated_at)
SELECT 'search_index.rebuild', 'pending', CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)
WHERE EXISTS (SELECT 1 FROM conversations);
