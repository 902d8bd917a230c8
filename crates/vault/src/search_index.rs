//! The term index behind the calls page's extension, phone-number and name
//! filters and its search box.
//!
//! Why: at a million call records, a `LIKE '%…%'` over every party of every
//! record cannot answer in 50 ms, and walking conversations newest first while
//! probing each one is fast only when matches are common (a rare number took
//! a minute). Table `conversation_terms` holds one row per (term,
//! conversation) with the conversation's sort key `at`, keyed
//! `(term, at, conversation_id)`: any one term's conversations come out of the
//! index already newest first, so a page costs about its own size whether the
//! term matches three conversations or half of them.
//!
//! What a term is (the search semantics the calls page documents):
//! * `x:ID`: an extension id that owns a call record or one of its legs.
//! * `n:DIGITS`: a phone number, digits only (`+1 (415) 555-0100` is
//!   `14155550100`), stored whole and as each of its last 4 to 15 digits. A
//!   number query matches the whole number or its trailing digits (at least
//!   4); a query shorter than 4 digits matches only a number that short.
//! * `w:TEXT`: a word of a party's name, lower-cased, split at anything that
//!   is not a letter or digit, stored as each of its prefixes of 3 to 20
//!   characters (a word shorter than 3 is stored whole). A name query matches
//!   when every query word starts some word of a name (words of 1–2
//!   characters must match a whole word).
//!
//! The index is maintained in the same transaction as the write that changes
//! what it derives from (a call record and its legs, a conversation's
//! sessions or start): that write calls [`reindex_conversation`], which
//! recomputes the conversation's rows from the tables. The migration that
//! created the table asks [`Catalog::open`] to build it for existing rows
//! (setting `search_index.rebuild`); [`Catalog::rebuild_search_index`] does
//! that, in batches.

use std::collections::BTreeSet;

use crate::db::{Catalog, Tx};
use crate::error::CatalogError;

/// Shortest trailing-digits query that the index serves.
pub const MIN_NUMBER_SUFFIX: usize = 4;
/// Longest stored trailing-digits term (longer queries match whole numbers).
const MAX_NUMBER_SUFFIX: usize = 15;
/// Shortest word prefix stored (shorter words are stored whole).
pub const MIN_WORD_PREFIX: usize = 3;
/// Longest word prefix stored; longer query words are cut to this.
const MAX_WORD_PREFIX: usize = 20;

/// The setting the migration writes when existing rows need indexing.
pub(crate) const REBUILD_SETTING: &str = "search_index.rebuild";

/// The parties of one call record or leg, as the index reads them.
#[derive(Debug, Default, sqlx::FromRow)]
pub(crate) struct PartyRow {
    pub from_number: Option<String>,
    pub from_name: Option<String>,
    pub to_number: Option<String>,
    pub to_name: Option<String>,
    pub extension_id: Option<String>,
}

/// The term of an extension id.
pub(crate) fn extension_term(extension_id: &str) -> String {
    format!("x:{}", extension_id.trim())
}

fn digits(text: &str) -> String {
    text.chars().filter(char::is_ascii_digit).collect()
}

fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
}

fn push_number_terms(out: &mut BTreeSet<String>, number: &str) {
    let d = digits(number);
    if d.is_empty() {
        return;
    }
    out.insert(format!("n:{d}"));
    for len in MIN_NUMBER_SUFFIX..d.len().min(MAX_NUMBER_SUFFIX + 1) {
        out.insert(format!("n:{}", &d[d.len() - len..]));
    }
}

fn push_name_terms(out: &mut BTreeSet<String>, name: &str) {
    for word in words(name) {
        let chars: Vec<char> = word.chars().collect();
        if chars.len() < MIN_WORD_PREFIX {
            out.insert(format!("w:{word}"));
            continue;
        }
        for len in MIN_WORD_PREFIX..=chars.len().min(MAX_WORD_PREFIX) {
            out.insert(format!("w:{}", chars[..len].iter().collect::<String>()));
        }
    }
}

/// Every term of a set of call records and legs.
pub(crate) fn terms_of<'a>(rows: impl IntoIterator<Item = &'a PartyRow>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for row in rows {
        for number in [&row.from_number, &row.to_number].into_iter().flatten() {
            push_number_terms(&mut out, number);
        }
        for name in [&row.from_name, &row.to_name].into_iter().flatten() {
            push_name_terms(&mut out, name);
        }
        if let Some(ext) = row.extension_id.as_deref().filter(|e| !e.trim().is_empty()) {
            out.insert(extension_term(ext));
        }
    }
    out
}

/// The terms a number-or-name query needs, all of which must match (empty
/// when the text holds neither a digit nor a letter).
///
/// Text with any letter is a name (its words, digits included, are word
/// prefixes: `Caller 42` needs `w:cal…` and `w:42`); otherwise its digits are
/// a number (whole, or trailing digits).
pub(crate) fn query_terms(text: &str) -> Vec<String> {
    if text.chars().any(char::is_alphabetic) {
        let mut out: Vec<String> = words(text)
            .map(|w| format!("w:{}", w.chars().take(MAX_WORD_PREFIX).collect::<String>()))
            .collect();
        out.sort();
        out.dedup();
        out
    } else {
        let d = digits(text);
        if d.is_empty() {
            Vec::new()
        } else {
            vec![format!("n:{d}")]
        }
    }
}

/// Records' and legs' parties of conversation `$1`.
pub(crate) const PARTIES_OF_CONVERSATION: &str =
    "SELECT r.from_number, r.from_name, r.to_number, r.to_name, r.extension_id
     FROM conversation_sessions cs
     JOIN call_records r ON r.telephony_session_id = cs.telephony_session_id
     WHERE cs.conversation_id = $1
     UNION ALL
     SELECT l.from_number, CAST(NULL AS TEXT), l.to_number, CAST(NULL AS TEXT), l.extension_id
     FROM conversation_sessions cs
     JOIN call_records r ON r.telephony_session_id = cs.telephony_session_id
     JOIN legs l ON l.call_record_id = r.id
     WHERE cs.conversation_id = $1";

/// Rows per [`insert_terms`] statement: one JSON text of about 60 bytes a row.
const INSERT_CHUNK: usize = 10_000;

/// Inserts index rows `(term, at, conversation_id)` inside `tx`, as one JSON
/// array bound to one parameter per [`INSERT_CHUNK`] rows and unpacked by
/// the database (`json_each`, `jsonb_array_elements`). A multi-row
/// `VALUES` binds three values a row through `Any`'s argument layer:
/// rebuilding the index of a million calls (26.8 M rows) that way took
/// 2.1× as long as with typed pools; this way it is at parity.
pub(crate) async fn insert_terms(
    tx: &mut Tx<'_>,
    rows: &[(&str, i64, &str)],
) -> Result<(), CatalogError> {
    let statement = tx.backend().per_backend(
        "INSERT INTO conversation_terms (term, at, conversation_id)
         SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each($1) WHERE true
         ON CONFLICT DO NOTHING",
        "INSERT INTO conversation_terms (term, at, conversation_id)
         SELECT e ->> 0, CAST(e ->> 1 AS BIGINT), e ->> 2
         FROM jsonb_array_elements(CAST($1 AS jsonb)) AS e
         ON CONFLICT DO NOTHING",
    );
    for chunk in rows.chunks(INSERT_CHUNK) {
        sqlx::query(statement)
            .bind(serde_json::to_string(chunk)?)
            .execute(tx.conn())
            .await?;
    }
    Ok(())
}

/// Recomputes the index rows of conversation `id` inside the open write
/// transaction `tx`, from the rows the transaction sees. Used by
/// every write that changes a conversation's parties, sessions or start; a
/// conversation that no longer exists just loses its rows.
pub(crate) async fn reindex_conversation(tx: &mut Tx<'_>, id: &str) -> Result<(), CatalogError> {
    sqlx::query("DELETE FROM conversation_terms WHERE conversation_id = $1")
        .bind(id)
        .execute(tx.conn())
        .await?;
    let at: Option<i64> = sqlx::query_scalar(
        "SELECT COALESCE(started_at, created_at) FROM conversations WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(tx.conn())
    .await?;
    if let Some(at) = at {
        let parties: Vec<PartyRow> = sqlx::query_as(PARTIES_OF_CONVERSATION)
            .bind(id)
            .fetch_all(tx.conn())
            .await?;
        let terms = terms_of(&parties);
        let rows: Vec<_> = terms.iter().map(|t| (t.as_str(), at, id)).collect();
        insert_terms(tx, &rows).await?;
    }
    Ok(())
}

/// Conversations indexed per transaction by [`Catalog::rebuild_search_index`].
const REBUILD_BATCH: i64 = 5000;

#[derive(sqlx::FromRow)]
struct BatchRow {
    conversation_id: String,
    at: i64,
    from_number: Option<String>,
    from_name: Option<String>,
    to_number: Option<String>,
    to_name: Option<String>,
    extension_id: Option<String>,
}

impl Catalog {
    /// Rebuilds the whole term index from the call records, legs and
    /// conversations: after the migration that adds it, or after rows were
    /// written by something other than this crate (a bulk import). Works in
    /// batches of conversations, one transaction each, so it can run on a
    /// live catalog; returns how many index rows it wrote.
    pub async fn rebuild_search_index(&self) -> Result<u64, CatalogError> {
        let mut written = 0u64;
        let mut after = String::new();
        loop {
            let done: Option<u64> = {
                let mut tx = self.begin_write().await?;
                // The batch is the next REBUILD_BATCH conversation ids.
                let last: Option<String> = sqlx::query_scalar(
                    "SELECT MAX(id) FROM (SELECT id FROM conversations WHERE id > $1
                        ORDER BY id LIMIT $2) b",
                )
                .bind(after.as_str())
                .bind(REBUILD_BATCH)
                .fetch_one(&mut *tx)
                .await?;
                match last {
                    None => {
                        tx.commit().await?;
                        None
                    }
                    Some(last) => {
                        sqlx::query(
                            "DELETE FROM conversation_terms
                            WHERE conversation_id > $1 AND conversation_id <= $2",
                        )
                        .bind(after.as_str())
                        .bind(last.as_str())
                        .execute(&mut *tx)
                        .await?;
                        let rows: Vec<BatchRow> = sqlx::query_as(
                            "SELECT c.id AS conversation_id, COALESCE(c.started_at, c.created_at) AS at,
                                r.from_number, r.from_name, r.to_number, r.to_name, r.extension_id
                             FROM conversations c
                             JOIN conversation_sessions cs ON cs.conversation_id = c.id
                             JOIN call_records r ON r.telephony_session_id = cs.telephony_session_id
                             WHERE c.id > $1 AND c.id <= $2
                             UNION ALL
                             SELECT c.id, COALESCE(c.started_at, c.created_at),
                                l.from_number, CAST(NULL AS TEXT), l.to_number, CAST(NULL AS TEXT),
                                l.extension_id
                             FROM conversations c
                             JOIN conversation_sessions cs ON cs.conversation_id = c.id
                             JOIN call_records r ON r.telephony_session_id = cs.telephony_session_id
                             JOIN legs l ON l.call_record_id = r.id
                             WHERE c.id > $1 AND c.id <= $2")
                            .bind(after.as_str())
                            .bind(last.as_str())
                            .fetch_all(&mut *tx)
                            .await?;
                        let mut entries: BTreeSet<(String, i64, String)> = BTreeSet::new();
                        for row in rows {
                            let party = PartyRow {
                                from_number: row.from_number,
                                from_name: row.from_name,
                                to_number: row.to_number,
                                to_name: row.to_name,
                                extension_id: row.extension_id,
                            };
                            for term in terms_of([&party]) {
                                entries.insert((term, row.at, row.conversation_id.clone()));
                            }
                        }
                        let rows: Vec<_> = entries
                            .iter()
                            .map(|(term, at, id)| (term.as_str(), *at, id.as_str()))
                            .collect();
                        insert_terms(&mut tx, &rows).await?;
                        tx.commit().await?;
                        after = last;
                        Some(rows.len() as u64)
                    }
                }
            };
            match done {
                Some(n) => written += n,
                None => break,
            }
        }
        {
            sqlx::query("DELETE FROM settings WHERE name = $1")
                .bind(REBUILD_SETTING)
                .execute(&self.pool)
                .await?;
        };
        Ok(written)
    }

    /// Builds the index when a migration asked for it (see the module doc).
    pub(crate) async fn rebuild_search_index_if_pending(&self) -> Result<(), CatalogError> {
        let pending: Option<String> =
            sqlx::query_scalar("SELECT value FROM settings WHERE name = $1")
                .bind(REBUILD_SETTING)
                .fetch_optional(&self.pool)
                .await?;
        if pending.is_some() {
            let started = std::time::Instant::now();
            tracing::info!("building the calls page's search index for existing conversations");
            let rows = self.rebuild_search_index().await?;
            tracing::info!(
                rows,
                seconds = started.elapsed().as_secs_f64(),
                "search index built"
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn party(from: &str, from_name: &str, ext: &str) -> PartyRow {
        PartyRow {
            from_number: Some(from.into()),
            from_name: Some(from_name.into()),
            extension_id: Some(ext.into()),
            ..PartyRow::default()
        }
    }

    #[test]
    fn a_number_is_indexed_whole_and_by_its_trailing_digits() {
        let t = terms_of([&party("+1 (415) 555-0100", "", "101")]);
        for want in [
            "n:14155550100",
            "n:4155550100",
            "n:5550100",
            "n:0100",
            "x:101",
        ] {
            assert!(t.contains(want), "{want} in {t:?}");
        }
        assert!(!t.contains("n:100"), "3 trailing digits are not indexed");
        assert!(!t.contains("n:1415"), "leading digits are not indexed");
    }

    #[test]
    fn a_name_is_indexed_by_word_prefixes_lower_cased() {
        let t = terms_of([&party("", "Dana O'Brien-Élan Li", "")]);
        for want in [
            "w:dan", "w:dana", "w:bri", "w:brien", "w:éla", "w:élan", "w:li", "w:o",
        ] {
            assert!(t.contains(want), "{want} in {t:?}");
        }
        assert!(
            !t.contains("w:da"),
            "2-letter prefixes of longer words are not indexed"
        );
    }

    #[test]
    fn queries_are_numbers_without_letters_and_words_with_them() {
        assert_eq!(query_terms("+1 415-555-0100"), ["n:14155550100"]);
        assert_eq!(query_terms("0100"), ["n:0100"]);
        assert_eq!(query_terms("Caller 421"), ["w:421", "w:caller"]);
        assert_eq!(query_terms("DANA dana"), ["w:dana"]);
        assert!(query_terms(" -+ ").is_empty());
    }

    #[test]
    fn every_query_term_of_an_indexed_party_is_stored() {
        let t = terms_of([&party("+14155550100", "Dana Caller", "")]);
        for q in [
            "555-0100",
            "4155550100",
            "+14155550100",
            "dana",
            "Cal",
            "dana caller",
        ] {
            for term in query_terms(q) {
                assert!(t.contains(&term), "{q}: {term}");
            }
        }
    }
}
