//! This crate owns the RingCentral identifiers and the one rule that parses them.
//!
//! Every id RingCentral hands us can later become part of a URL path
//! (`…/recording/{id}`), a SQL row or a storage key
//! (`…/{telephonySessionId}/{recordingId}.mp3`), so each is parsed once, at the
//! edge, and trusted afterwards. `rc-api` re-exports this crate as
//! `rc_api::ids`; `vault` uses it without linking the HTTP client.
//!
//! # Brief overview
//!
//! [`Id<K>`] is a string with a private field whose only way in is
//! [`Id::parse`] (also behind `FromStr`, `TryFrom<String>` and serde). The kind
//! `K` tells the ids apart at compile time: [`RecordingId`], [`CallRecordId`],
//! [`TelephonySessionId`], [`ExtensionId`], [`SubscriptionId`]. A rejected
//! string says why in an [`IdError`].
//!
//! The rule, taken from every id in RingCentral's published payloads: 1 to
//! [`MAX_ID_LEN`] bytes of ASCII letters, digits, `-`, `_` and `=`. That covers
//! numeric ids (`"401786818008"`), call-log record ids (`"IaDUlfiF_23aKtI"`),
//! telephony session ids (`"s-a0d178729c49dz1876d9b9d11z19269ec0000"`), party
//! ids (`"p-…-1"`), subscription UUIDs and the older base64 session ids
//! (`"Y3MxNzE4NDE5MDM0MzQwMTgzODRAMTAuNjIuMjUuMTEx"`), whose `=` padding
//! appears whenever the encoded text is not a multiple of three bytes. (Their
//! text is `cs…@host`, plain ASCII, so base64's `+` and `/` cannot occur.) It
//! refuses `/`, `\`, `.` (so `..`), `%`, whitespace, control characters and
//! anything non-ASCII, so no id can climb out of a directory or a URL segment.
//!
//! # Does not
//!
//! Know any other crate of ours, do I/O, or decide where an id is stored
//! (vault's `StorageKey` does that).
//!
//! # Example
//!
//! ```
//! use rc_ids::{IdError, RecordingId};
//! let id: RecordingId = "401786818008".parse()?;
//! assert_eq!(id.as_str(), "401786818008");
//! assert_eq!(RecordingId::parse("../etc"), Err(IdError::BadChar { index: 0 }));
//! # Ok::<(), IdError>(())
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

use std::fmt;
use std::marker::PhantomData;

/// Longest id accepted, in bytes. Real ids are at most ~45 characters.
pub const MAX_ID_LEN: usize = 128;

/// Why a string is not a valid id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdError {
    /// The string is empty.
    #[error("id is empty")]
    Empty,
    /// The string is longer than [`MAX_ID_LEN`] bytes.
    #[error("id is {len} bytes long, the limit is {max}")]
    TooLong {
        /// Length of the rejected input, in bytes.
        len: usize,
        /// The limit ([`MAX_ID_LEN`]).
        max: usize,
    },
    /// A character outside `[A-Za-z0-9_=-]`.
    #[error("id has a forbidden character at byte {index}")]
    BadChar {
        /// Byte offset of the first forbidden character.
        index: usize,
    },
}

/// Whether `b` may appear in an id.
fn is_id_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'=')
}

/// Checks `s` against the one id rule (see the crate doc). Crates that keep an
/// id type of their own over the same alphabet (vault's `ConversationId`) call
/// this, so the rule stays in one place.
pub fn check(s: &str) -> Result<(), IdError> {
    if s.is_empty() {
        return Err(IdError::Empty);
    }
    if s.len() > MAX_ID_LEN {
        return Err(IdError::TooLong {
            len: s.len(),
            max: MAX_ID_LEN,
        });
    }
    match s.bytes().position(|b| !is_id_byte(b)) {
        Some(index) => Err(IdError::BadChar { index }),
        None => Ok(()),
    }
}

/// What an [`Id`] identifies; the marker types below implement it.
pub trait Kind {
    /// The type's name in `Debug` output, e.g. `RecordingId`.
    const NAME: &'static str;
}

/// A parsed RingCentral id of kind `K`.
///
/// The field is private: [`Id::parse`] (or `FromStr`, `TryFrom<String>`,
/// deserializing) is the only way to make one, so holding an `Id` proves the
/// string follows the rule.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id<K> {
    value: String,
    kind: PhantomData<fn() -> K>,
}

impl<K> Id<K> {
    /// Parses and validates an id (see the crate doc for the rule).
    pub fn parse(s: &str) -> Result<Self, IdError> {
        check(s)?;
        Ok(Self::trusted(s.to_owned()))
    }

    /// The id as RingCentral wrote it, for SQL binds and URLs.
    pub fn as_str(&self) -> &str {
        &self.value
    }

    fn trusted(value: String) -> Self {
        Id {
            value,
            kind: PhantomData,
        }
    }
}

impl<K> fmt::Display for Id<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.value)
    }
}

impl<K: Kind> fmt::Debug for Id<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({:?})", K::NAME, self.value)
    }
}

impl<K> std::str::FromStr for Id<K> {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        Self::parse(s)
    }
}

impl<K> TryFrom<String> for Id<K> {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, IdError> {
        check(&s)?;
        Ok(Self::trusted(s))
    }
}

impl<K> From<Id<K>> for String {
    fn from(id: Id<K>) -> String {
        id.value
    }
}

impl<K> AsRef<str> for Id<K> {
    fn as_ref(&self) -> &str {
        &self.value
    }
}

impl<K> serde::Serialize for Id<K> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.value)
    }
}

impl<'de, K> serde::Deserialize<'de> for Id<K> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::try_from(s).map_err(serde::de::Error::custom)
    }
}

/// The kind of a recording id (`recording.id` in the call log,
/// `parties[].recordings[].id` in telephony events).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Recording {}
impl Kind for Recording {
    const NAME: &'static str = "RecordingId";
}
/// A recording id, e.g. `"401786818008"`.
pub type RecordingId = Id<Recording>;

/// The kind of a call-log record id (`records[].id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CallRecord {}
impl Kind for CallRecord {
    const NAME: &'static str = "CallRecordId";
}
/// A call-log record id, e.g. `"IaDUlfiF_23aKtI"`.
pub type CallRecordId = Id<CallRecord>;

/// The kind of a telephony session id, shared by the call log and telephony
/// events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TelephonySession {}
impl Kind for TelephonySession {
    const NAME: &'static str = "TelephonySessionId";
}
/// A telephony session id, e.g. `"s-a0d178729c49dz1876d9b9d11z19269ec0000"`.
pub type TelephonySessionId = Id<TelephonySession>;

/// The kind of an extension (user) id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Extension {}
impl Kind for Extension {
    const NAME: &'static str = "ExtensionId";
}
/// An extension id, e.g. `"809646016"`. Deserializes from a JSON string; the
/// call log's `extension.id` is a JSON number, read with
/// [`ExtensionId::from_number`].
pub type ExtensionId = Id<Extension>;

impl Id<Extension> {
    /// The id of call-log `extension.id`, which RingCentral sends as a JSON number.
    pub fn from_number(n: u64) -> ExtensionId {
        // Decimal digits always follow the rule.
        Self::trusted(n.to_string())
    }
}

/// The kind of a subscription id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Subscription {}
impl Kind for Subscription {
    const NAME: &'static str = "SubscriptionId";
}
/// A subscription id (a UUID), e.g. `"dd2f0ff2-580e-4581-a277-76f9c9a54bc9"`.
pub type SubscriptionId = Id<Subscription>;

#[cfg(test)]
mod tests;
