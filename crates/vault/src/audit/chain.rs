//! The chain's arithmetic, with no database: the canonical bytes of an
//! entry, its hash, and a verifier that walks entries and checkpoints in
//! order and names the first one that does not add up. The same verifier
//! serves the catalog (`audit verify`) and a JSON Lines export (a third
//! party's copy), so both are judged by one set of rules.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::seal::{AuditPublicKey, CheckpointPayload};

/// The `prev_hash` of entry 1: 32 zero bytes, in hex.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The version of the canonical form, inside every entry.
pub(crate) const CANONICAL_VERSION: u32 = 1;

/// What one entry says, in the order its canonical JSON lists it. The
/// catalog stores the serialised text and never re-serialises it: hashes are
/// always recomputed over the stored bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CanonicalEntry {
    /// Format version ([`CANONICAL_VERSION`]).
    pub v: u32,
    /// Position in the chain, from 1, without gaps.
    pub seq: i64,
    /// When, RFC 3339 UTC with milliseconds (the database clock).
    pub at: String,
    /// Who: a user name, `cli:<os user>`, or `system:<task>`.
    pub actor: String,
    /// What ([`super::AuditAction`]'s snake_case name).
    pub action: String,
    /// What kind of thing it was done to.
    pub subject_kind: String,
    /// Which one.
    pub subject_id: String,
    /// Anything else worth keeping (client address, query, answer, …).
    pub details: serde_json::Value,
}

/// The form of an instant in canonical entries and checkpoints.
pub(crate) fn canonical_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// `sha256(prev_hash || canonical)` in hex, where `prev_hash` is the 32
/// bytes the hex stands for. `None` when `prev_hash` is not 64 hex digits.
pub fn entry_hash(prev_hash: &str, canonical: &str) -> Option<String> {
    let mut prev = [0u8; 32];
    hex::decode_to_slice(prev_hash, &mut prev).ok()?;
    let mut hasher = Sha256::new();
    hasher.update(prev);
    hasher.update(canonical.as_bytes());
    Some(hex::encode(hasher.finalize()))
}

/// A stored entry as the verifier sees it: the hashed text, the links, and,
/// from the catalog, the queryable columns that must agree with the text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChainEntry {
    /// The row's position.
    pub seq: i64,
    /// The exact bytes that were hashed.
    pub canonical: String,
    /// The previous entry's hash (hex).
    pub prev_hash: String,
    /// This entry's hash (hex).
    pub event_hash: String,
    /// The catalog's copies of fields of `canonical`; `None` in an export.
    #[serde(skip)]
    pub columns: Option<EntryColumns>,
}

/// The queryable columns of a catalog row.
#[derive(Debug, Clone, PartialEq)]
pub struct EntryColumns {
    /// Milliseconds since the epoch.
    pub at_ms: i64,
    /// Actor column.
    pub actor: String,
    /// Action column.
    pub action: String,
    /// Subject kind column.
    pub subject_kind: String,
    /// Subject id column.
    pub subject_id: String,
}

/// A stored checkpoint: the signed payload text and its signature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChainCheckpoint {
    /// The exact bytes that were signed (a [`CheckpointPayload`] as JSON).
    pub payload: String,
    /// Ed25519 signature over `payload`, hex.
    pub signature: String,
    /// The public key that signed it, hex (informational: verification
    /// uses the key the verifier trusts, never this one).
    pub public_key: String,
}

/// What is wrong, at the first place it goes wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainFault {
    /// The entry's text, hash or columns were changed.
    #[error("entry {seq} was altered: {why}")]
    Altered {
        /// The entry.
        seq: i64,
        /// What does not add up.
        why: String,
    },
    /// Entries are missing between two that remain.
    #[error("entry {seq} was deleted (the chain jumps from {} to {next})", seq - 1)]
    Deleted {
        /// The first missing entry.
        seq: i64,
        /// The entry found in its place.
        next: i64,
    },
    /// An entry sits at another entry's place.
    #[error("entry {seq} was reordered: the row at {seq} holds entry {holds}")]
    Reordered {
        /// The place.
        seq: i64,
        /// Whose text it holds.
        holds: i64,
    },
    /// Entries a signed checkpoint counted are gone from the end.
    #[error(
        "entries {first_missing}..={checkpoint_count} were deleted (checkpoint {checkpoint_seq} signed {checkpoint_count} entries, {} remain)",
        first_missing - 1
    )]
    DeletedTail {
        /// The first missing entry.
        first_missing: i64,
        /// How many entries the checkpoint signed.
        checkpoint_count: i64,
        /// The checkpoint.
        checkpoint_seq: i64,
    },
    /// The chain is internally consistent but not the one a checkpoint
    /// signed: it was rewritten after entry `after` (hashes recomputed).
    #[error(
        "entries {}..={checkpoint_count} were rewritten: their hashes do not reach the head checkpoint {checkpoint_seq} signed",
        after + 1
    )]
    Rewritten {
        /// The last entry a checkpoint vouches for (0 for none).
        after: i64,
        /// How many entries the checkpoint signed.
        checkpoint_count: i64,
        /// The checkpoint.
        checkpoint_seq: i64,
    },
    /// A checkpoint's signature or links do not verify.
    #[error("checkpoint {seq} is not valid: {why}")]
    BadCheckpoint {
        /// The checkpoint (its position among checkpoints, from 1).
        seq: i64,
        /// Why.
        why: String,
    },
}

impl ChainFault {
    /// The first entry the fault concerns (for ordering faults).
    fn position(&self) -> i64 {
        match self {
            ChainFault::Altered { seq, .. }
            | ChainFault::Deleted { seq, .. }
            | ChainFault::Reordered { seq, .. } => *seq,
            ChainFault::DeletedTail { first_missing, .. } => *first_missing,
            ChainFault::Rewritten { after, .. } => after + 1,
            ChainFault::BadCheckpoint { .. } => i64::MAX,
        }
    }
}

/// The outcome of a verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainReport {
    /// Entries read.
    pub entries: i64,
    /// Checkpoints read.
    pub checkpoints: i64,
    /// The hash of the last entry read.
    pub head_hash: String,
    /// How many entries the last valid checkpoint signs.
    pub signed_entries: i64,
    /// The earliest fault, if any (and the others after it).
    #[serde(serialize_with = "faults_as_text")]
    pub faults: Vec<ChainFault>,
}

fn faults_as_text<S: serde::Serializer>(faults: &[ChainFault], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(faults.iter().map(ToString::to_string))
}

impl ChainReport {
    /// Whether the chain and every checkpoint verified.
    pub fn is_intact(&self) -> bool {
        self.faults.is_empty()
    }

    /// The first bad entry or checkpoint, if any.
    pub fn first_fault(&self) -> Option<&ChainFault> {
        self.faults.first()
    }
}

/// Walks a chain: feed it the checkpoints first ([`ChainVerifier::new`]),
/// then every entry in `seq` order ([`ChainVerifier::entry`]), then call
/// [`ChainVerifier::finish`]. Memory grows with the number of checkpoints,
/// not entries.
#[derive(Debug)]
pub struct ChainVerifier {
    /// Head hash each valid checkpoint expects, by entry count.
    expected_heads: BTreeMap<i64, (i64, String)>,
    checkpoint_faults: Vec<ChainFault>,
    checkpoints: i64,
    next_seq: i64,
    prev_hash: String,
    entry_fault: Option<ChainFault>,
    /// The last count at which the chain matched a checkpoint.
    vouched: i64,
    head_fault: Option<ChainFault>,
}

impl ChainVerifier {
    /// Checks each checkpoint's signature with `key` and their links to
    /// one another, and remembers the heads they sign.
    pub fn new(key: &AuditPublicKey, checkpoints: &[ChainCheckpoint]) -> Self {
        let mut expected_heads = BTreeMap::new();
        let mut faults = Vec::new();
        let mut prev_checkpoint_hash = GENESIS_HASH.to_owned();
        let mut prev_count = 0;
        for (i, checkpoint) in checkpoints.iter().enumerate() {
            let position = i64::try_from(i).unwrap_or(i64::MAX).saturating_add(1);
            let bad = |why: String| ChainFault::BadCheckpoint { seq: position, why };
            if !key.verify(checkpoint.payload.as_bytes(), &checkpoint.signature) {
                faults.push(bad(
                    "the signature does not verify with the public key".into()
                ));
                continue;
            }
            let payload: CheckpointPayload = match serde_json::from_str(&checkpoint.payload) {
                Ok(p) => p,
                Err(e) => {
                    faults.push(bad(format!("unreadable payload: {e}")));
                    continue;
                }
            };
            if payload.seq != position {
                faults.push(bad(format!("it says it is checkpoint {}", payload.seq)));
            } else if payload.prev_checkpoint_hash != prev_checkpoint_hash {
                faults.push(bad("it does not link to the checkpoint before it".into()));
            } else if payload.count < prev_count {
                faults.push(bad("it signs fewer entries than the one before it".into()));
            }
            prev_checkpoint_hash = super::seal::checkpoint_hash(&checkpoint.payload);
            prev_count = payload.count;
            expected_heads.insert(payload.count, (payload.seq, payload.head_hash));
        }
        ChainVerifier {
            expected_heads,
            checkpoint_faults: faults,
            checkpoints: i64::try_from(checkpoints.len()).unwrap_or(i64::MAX),
            next_seq: 1,
            prev_hash: GENESIS_HASH.to_owned(),
            entry_fault: None,
            vouched: 0,
            head_fault: None,
        }
    }

    /// Whether a fault in the entries was already found (later entries
    /// then add nothing).
    pub fn found_entry_fault(&self) -> bool {
        self.entry_fault.is_some()
    }

    /// Checks the next entry.
    pub fn entry(&mut self, entry: &ChainEntry) {
        if self.entry_fault.is_some() {
            return;
        }
        if let Err(fault) = self.check(entry) {
            self.entry_fault = Some(fault);
            return;
        }
        self.prev_hash.clone_from(&entry.event_hash);
        if let Some((checkpoint_seq, head)) = self.expected_heads.get(&entry.seq) {
            if *head == entry.event_hash {
                self.vouched = entry.seq;
            } else if self.head_fault.is_none() {
                self.head_fault = Some(ChainFault::Rewritten {
                    after: self.vouched,
                    checkpoint_count: entry.seq,
                    checkpoint_seq: *checkpoint_seq,
                });
            }
        }
        self.next_seq = entry.seq + 1;
    }

    fn check(&self, entry: &ChainEntry) -> Result<(), ChainFault> {
        let seq = self.next_seq;
        if entry.seq > seq {
            return Err(ChainFault::Deleted {
                seq,
                next: entry.seq,
            });
        }
        if entry.seq < seq {
            return Err(ChainFault::Reordered {
                seq,
                holds: entry.seq,
            });
        }
        let altered = |why: &str| ChainFault::Altered {
            seq,
            why: why.to_owned(),
        };
        let text: CanonicalEntry = serde_json::from_str(&entry.canonical)
            .map_err(|_| altered("its canonical text is not an entry"))?;
        if text.seq != seq {
            // The text is intact only if its hash still holds; then it was
            // moved here from its own place.
            let own_hash = entry_hash(&entry.prev_hash, &entry.canonical);
            return Err(if own_hash.as_deref() == Some(entry.event_hash.as_str()) {
                ChainFault::Reordered {
                    seq,
                    holds: text.seq,
                }
            } else {
                altered("its text names another place")
            });
        }
        if entry.prev_hash != self.prev_hash {
            return Err(altered(
                "it does not link to the entry before it (that one was altered, deleted or moved)",
            ));
        }
        match entry_hash(&entry.prev_hash, &entry.canonical) {
            Some(h) if h == entry.event_hash => {}
            _ => return Err(altered("its hash does not match its text")),
        }
        if let Some(columns) = &entry.columns {
            let at = DateTime::from_timestamp_millis(columns.at_ms).map(canonical_time);
            if at.as_deref() != Some(text.at.as_str())
                || columns.actor != text.actor
                || columns.action != text.action
                || columns.subject_kind != text.subject_kind
                || columns.subject_id != text.subject_id
            {
                return Err(altered("its columns disagree with its hashed text"));
            }
        }
        Ok(())
    }

    /// The verdict, once every entry was fed.
    pub fn finish(mut self) -> ChainReport {
        let entries = self.next_seq - 1;
        let mut faults: Vec<ChainFault> = Vec::new();
        faults.extend(self.entry_fault.take());
        faults.extend(self.head_fault.take());
        if faults.is_empty()
            && let Some((&count, (checkpoint_seq, _))) = self.expected_heads.last_key_value()
            && count > entries
        {
            faults.push(ChainFault::DeletedTail {
                first_missing: entries + 1,
                checkpoint_count: count,
                checkpoint_seq: *checkpoint_seq,
            });
        }
        faults.sort_by_key(ChainFault::position);
        faults.extend(self.checkpoint_faults);
        ChainReport {
            entries,
            checkpoints: self.checkpoints,
            head_hash: self.prev_hash,
            signed_entries: self.vouched,
            faults,
        }
    }
}
