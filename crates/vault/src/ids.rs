//! Identifiers that are parsed once, at the edge, and trusted afterwards.
//!
//! The RingCentral ids ([`RecordingId`], [`CallRecordId`],
//! [`TelephonySessionId`]) and their one parsing rule live in the `rc-ids`
//! crate, which `rc-api` re-exports as `rc_api::ids`: a value parsed from the
//! call log is the same type the catalog stores, with no re-parsing between.
//! They end up in SQL rows and, through [`crate::StorageKey`], in blob paths;
//! the rule (ASCII letters, digits, `_`, `-`, `=`; no `/`, `.`, whitespace or
//! control characters) means an id can never climb out of a directory.
//!
//! Only [`ConversationId`] is vault's own: a conversation is our concept, not
//! RingCentral's, and it is made from a telephony session id.

use std::fmt;

pub use rc_ids::{CallRecordId, IdError, MAX_ID_LEN, RecordingId, TelephonySessionId};

/// Our id of a conversation: by convention the telephony session id of the
/// session that started it (an attended transfer joins a second one). Same
/// rule as every RingCentral id ([`rc_ids::check`]).
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct ConversationId(String);

impl ConversationId {
    /// Parses `s` as a conversation id: non-empty, at most [`MAX_ID_LEN`]
    /// bytes, only `[A-Za-z0-9_=-]`. The only way to make one from text.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        rc_ids::check(s)?;
        Ok(Self(s.to_owned()))
    }

    /// The id as text, for SQL binds and URLs.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ConversationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for ConversationId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        Self::parse(s)
    }
}

impl TryFrom<String> for ConversationId {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, IdError> {
        rc_ids::check(&s)?;
        Ok(Self(s))
    }
}

impl From<ConversationId> for String {
    fn from(id: ConversationId) -> String {
        id.0
    }
}

impl AsRef<str> for ConversationId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl From<TelephonySessionId> for ConversationId {
    fn from(id: TelephonySessionId) -> Self {
        // Same rule, so the value is already valid.
        Self(String::from(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_conversation_id_follows_the_ringcentral_id_rule() {
        for bad in ["", "../x", "a/b", "a.b", "a b", "abc\0"] {
            assert_eq!(
                ConversationId::parse(bad).unwrap_err(),
                rc_ids::check(bad).unwrap_err(),
                "{bad:?}"
            );
        }
        let padded = "Y3MxNzE4NDE5MDM0MzQwMTgzODQxQDEwLjYyLjI1LjExMQ==";
        assert_eq!(ConversationId::parse(padded).unwrap().as_str(), padded);
    }

    #[test]
    fn a_conversation_is_named_after_its_first_session() {
        let session = TelephonySessionId::parse("s-a0d178729c49dz1876d9b9d11z19269ec0000").unwrap();
        let id = ConversationId::from(session.clone());
        assert_eq!(id.as_str(), session.as_str());
        assert_eq!(id.to_string().parse::<ConversationId>().unwrap(), id);
    }
}
