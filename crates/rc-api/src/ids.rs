//! RingCentral identifiers, parsed once at the edge.
//!
//! Every id that RingCentral hands us can later become part of a URL path
//! (`…/recording/{id}`) or of a storage key (`…/{telephonySessionId}/{recordingId}.mp3`).
//! So each one is a newtype with a private field whose only constructor is
//! [`parse`](RecordingId::parse), which accepts a **safe alphabet**:
//! ASCII letters, digits, `-` and `_`, 1 to [`MAX_ID_LEN`] bytes. That covers every id
//! seen in the official samples (`"401786818008"`, `"IaDUlfiF_23aKtI"`,
//! `"s-a0d178729c49dz1876d9b9d11z19269ec0000"`, the older base64-style
//! `"Y3MxNzE4NDE5MDM0MzQwMTgzODRAMTAuNjIuMjUuMTEx"`, subscription UUIDs) and
//! rules out `/`, `.`, `%`, `~`, whitespace and control characters, so an id
//! such as `../x` can never escape a path. (A base64 id carrying `+`, `/` or `=`
//! would be refused; none appears in any published payload.)
//!
//! The types deserialize through `TryFrom<String>`, so JSON with a bad id fails
//! to parse instead of smuggling it further.

use std::fmt;

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
    #[error("id is {len} bytes long (at most {MAX_ID_LEN})")]
    TooLong {
        /// Length found, in bytes.
        len: usize,
    },
    /// A character outside `[A-Za-z0-9_-]`.
    #[error("id has a forbidden character at byte {index}")]
    BadChar {
        /// Byte offset of the first forbidden character.
        index: usize,
    },
}

fn validate(s: &str) -> Result<(), IdError> {
    if s.is_empty() {
        return Err(IdError::Empty);
    }
    if s.len() > MAX_ID_LEN {
        return Err(IdError::TooLong { len: s.len() });
    }
    match s
        .bytes()
        .position(|b| !(b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
    {
        Some(index) => Err(IdError::BadChar { index }),
        None => Ok(()),
    }
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Parses and validates an id (safe alphabet, 1..=128 bytes).
            pub fn parse(s: &str) -> Result<Self, IdError> {
                validate(s)?;
                Ok(Self(s.to_owned()))
            }

            /// The id as RingCentral wrote it.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
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
                validate(&s)?;
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

id_type!(
    /// A recording id (`recording.id` in the call log, `parties[].recordings[].id`
    /// in telephony events), e.g. `"401786818008"`.
    RecordingId
);
id_type!(
    /// A call-log record id (`records[].id`), e.g. `"IaDUlfiF_23aKtI"`.
    CallRecordId
);
id_type!(
    /// A telephony session id shared by call log and telephony events,
    /// e.g. `"s-a0d178729c49dz1876d9b9d11z19269ec0000"`.
    TelephonySessionId
);
id_type!(
    /// An extension (user) id, e.g. `"809646016"`. Deserializes from a JSON
    /// string; call-log `extension.id` is a JSON number and is read with
    /// [`ExtensionId::from_number`].
    ExtensionId
);
id_type!(
    /// A subscription id (a UUID), e.g. `"dd2f0ff2-580e-4581-a277-76f9c9a54bc9"`.
    SubscriptionId
);

impl ExtensionId {
    /// The id of call-log `extension.id`, which RingCentral sends as a JSON number.
    pub fn from_number(n: u64) -> ExtensionId {
        ExtensionId(n.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_id_shape_seen_in_the_samples_parses() {
        for s in [
            "401786818008",
            "IaDUlfiF_23aKtI",
            "IWvNToLkbo-7zUA",
            "s-a0d178729c49dz1876d9b9d11z19269ec0000",
            "Y3MxNzE4NDE5MDM0MzQwMTgzODRAMTAuNjIuMjUuMTEx",
            "dd2f0ff2-580e-4581-a277-76f9c9a54bc9",
        ] {
            let id = RecordingId::parse(s).unwrap();
            assert_eq!(id.as_str(), s);
            assert_eq!(id.to_string(), s);
        }
    }

    #[test]
    fn invalid_ids_are_refused_with_their_kind() {
        let long = "a".repeat(MAX_ID_LEN + 1);
        let cases: &[(&str, IdError)] = &[
            ("", IdError::Empty),
            (
                &long,
                IdError::TooLong {
                    len: MAX_ID_LEN + 1,
                },
            ),
            ("../x", IdError::BadChar { index: 0 }),
            ("abc/def", IdError::BadChar { index: 3 }),
            ("a b", IdError::BadChar { index: 1 }),
            ("abc%2F", IdError::BadChar { index: 3 }),
            ("~", IdError::BadChar { index: 0 }),
            ("abc\n", IdError::BadChar { index: 3 }),
            ("é", IdError::BadChar { index: 0 }),
            ("a.b", IdError::BadChar { index: 1 }),
            ("a+b=", IdError::BadChar { index: 1 }),
        ];
        for (input, want) in cases {
            assert_eq!(
                TelephonySessionId::parse(input).unwrap_err(),
                *want,
                "{input:?}"
            );
        }
    }

    #[test]
    fn ids_deserialize_through_the_validating_constructor() {
        let ok: CallRecordId = serde_json::from_str("\"IyQAmlV2ORKZzUA\"").unwrap();
        assert_eq!(ok.as_str(), "IyQAmlV2ORKZzUA");
        assert!(serde_json::from_str::<CallRecordId>("\"../../etc\"").is_err());
        assert_eq!(serde_json::to_string(&ok).unwrap(), "\"IyQAmlV2ORKZzUA\"");
    }

    #[test]
    fn parse_and_display_round_trip_over_the_whole_alphabet() {
        let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        for len in 1..=MAX_ID_LEN {
            let s: String = alphabet.chars().cycle().skip(len).take(len).collect();
            let id = SubscriptionId::parse(&s).unwrap();
            assert_eq!(id.to_string().parse::<SubscriptionId>().unwrap(), id);
        }
    }

    #[test]
    fn numeric_extension_ids_become_strings() {
        assert_eq!(
            ExtensionId::from_number(404350835008).as_str(),
            "404350835008"
        );
    }
}
