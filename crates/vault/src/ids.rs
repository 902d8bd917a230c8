//! Identifiers that are parsed once, at the edge, and trusted afterwards.
//!
//! RingCentral hands us ids as strings (`"401786818008"`,
//! `"s-a0d178729c49dz1876d9b9d11z19269ec0000"`, the older base64 style
//! `"Y3MxNzE4…"`). They end up in SQL rows and, through [`crate::StorageKey`],
//! in blob paths, so the only way to make one is [`parse`](RecordingId::parse),
//! which accepts a short string over a path-safe alphabet: ASCII letters,
//! digits, `_`, `-` and `=` (base64 padding). No `/`, no `.`, no whitespace, so
//! an id can never climb out of a directory.

use std::fmt;

/// Longest id we accept; RingCentral ids are well under this.
pub const MAX_ID_LEN: usize = 128;

/// Why a string is not an id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdError {
    /// The string was empty.
    #[error("id is empty")]
    Empty,
    /// The string was longer than [`MAX_ID_LEN`] bytes.
    #[error("id is {len} bytes long, the limit is {max}")]
    TooLong {
        /// Length of the rejected input in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The string contained a character outside the id alphabet.
    #[error("id has a forbidden character at byte {index}")]
    BadChar {
        /// Byte offset of the first forbidden character.
        index: usize,
    },
}

/// Whether `b` may appear in an id.
fn is_id_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'=')
}

/// Checks `s` against the id rules shared by every id type.
pub(crate) fn check_id(s: &str) -> Result<(), IdError> {
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

macro_rules! define_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Parses `s` as this id: non-empty, at most [`MAX_ID_LEN`] bytes,
            /// only `[A-Za-z0-9_=-]`. The only way to make one.
            pub fn parse(s: &str) -> Result<Self, IdError> {
                check_id(s)?;
                Ok(Self(s.to_owned()))
            }

            /// The id as text, for SQL binds and URLs.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::parse(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                check_id(&s)?;
                Ok(Self(s))
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

define_id!(
    /// A RingCentral recording id (`recording.id` in the call log).
    RecordingId
);
define_id!(
    /// A RingCentral call-log record id (`records[].id`).
    CallRecordId
);
define_id!(
    /// A RingCentral telephony session id (`telephonySessionId`), shared by
    /// webhooks and the call log.
    TelephonySessionId
);
define_id!(
    /// Our id of a conversation: by convention the telephony session id of
    /// the session that started it (an attended transfer joins a second one).
    ConversationId
);

impl From<TelephonySessionId> for ConversationId {
    fn from(id: TelephonySessionId) -> Self {
        // Same alphabet, so the value is already valid.
        Self(id.0)
    }
}
