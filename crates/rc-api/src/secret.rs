//! A string that must never be printed: client secret, JWT credential,
//! access and refresh tokens.
//!
//! `Debug` and `Display` print `[redacted]`; the value is reachable only
//! through [`Secret::expose`], so every place that uses it is greppable.
//! It deserializes (tokens arrive in JSON) but does not implement `Serialize`,
//! so it cannot end up in JSON by accident.

use std::fmt;

/// A secret string. Cheap to clone (the text is shared).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(std::sync::Arc<str>);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(std::sync::Arc::from(value.into()))
    }

    /// The secret itself. Use only to put it on the wire (a header or a form field).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True if the secret is the empty string (a missing credential).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret::new)
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Secret {
        Secret::new(s)
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Secret {
        Secret::new(s)
    }
}

/// Replaces every occurrence of any non-trivial secret in `text` by `[redacted]`.
/// Used on server error bodies before they are kept in an error, as a second
/// line of defence (a server could echo what it was sent).
pub(crate) fn scrub(text: &str, secrets: &[&Secret]) -> String {
    let mut out = text.to_owned();
    for s in secrets {
        // Very short values would redact ordinary words; real tokens are long.
        if s.expose().len() >= 8 {
            out = out.replace(s.expose(), "[redacted]");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let s = Secret::new("U1BCMDFUMDRKV1MwMXxzLFSvXdw5PHMsVLEn");
        assert_eq!(format!("{s:?}"), "[redacted]");
        assert_eq!(format!("{s}"), "[redacted]");
        assert_eq!(s.expose(), "U1BCMDFUMDRKV1MwMXxzLFSvXdw5PHMsVLEn");
    }

    #[test]
    fn scrub_removes_long_secrets_from_text() {
        let s = Secret::new("token-abcdef-123456");
        let out = scrub("{\"echo\":\"token-abcdef-123456\"}", &[&s]);
        assert!(!out.contains("token-abcdef-123456"));
        assert!(out.contains("[redacted]"));
    }
}
