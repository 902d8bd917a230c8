//! Where a blob lives: [`StorageKey`] and the configurable [`KeyLayout`].
//!
//! A key is never assembled from loose strings. It is rendered from a
//! template that was validated when the configuration was read, filled only
//! with parsed ids ([`crate::ids`]), a date and a fixed [`BlobExt`]. The
//! rendered key therefore never starts with `/`, never contains `..` and has
//! no empty segment, whatever RingCentral sends.

use std::fmt;

use chrono::{DateTime, Datelike, Utc};

use crate::ids::{ConversationId, RecordingId, TelephonySessionId};

/// Default recording layout: one folder per day and telephony session.
pub const DEFAULT_RECORDING_TEMPLATE: &str =
    "{yyyy}/{mm}/{dd}/{telephonySessionId}/{recordingId}.{ext}";

/// Default stitched-conversation layout. The `.stitched` infix keeps it apart
/// from any recording key (a recording id never contains a dot).
pub const DEFAULT_CONVERSATION_TEMPLATE: &str =
    "{yyyy}/{mm}/{dd}/{conversationId}/{conversationId}.stitched.{ext}";

/// Longest key we build or accept back from the catalog.
pub const MAX_KEY_LEN: usize = 1024;

/// The file types the vault stores; the extension of every key comes from here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BlobExt {
    /// MPEG audio layer III.
    Mp3,
    /// RIFF WAVE audio.
    Wav,
    /// FLAC audio.
    Flac,
    /// A JSON metadata sidecar or manifest.
    Json,
}

impl BlobExt {
    /// The extension without the dot.
    pub fn as_str(self) -> &'static str {
        match self {
            BlobExt::Mp3 => "mp3",
            BlobExt::Wav => "wav",
            BlobExt::Flac => "flac",
            BlobExt::Json => "json",
        }
    }

    /// Picks the extension for a `Content-Type` RingCentral sent
    /// (`audio/mpeg`, `audio/x-wav`, …); `None` for anything else, so callers
    /// can refuse a non-audio body.
    pub fn for_audio_content_type(content_type: &str) -> Option<Self> {
        let essence = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        match essence.as_str() {
            "audio/mpeg" | "audio/mp3" | "audio/mpeg3" | "audio/x-mpeg" | "audio/x-mp3" => {
                Some(BlobExt::Mp3)
            }
            "audio/wav" | "audio/x-wav" | "audio/wave" | "audio/vnd.wave" => Some(BlobExt::Wav),
            "audio/flac" | "audio/x-flac" => Some(BlobExt::Flac),
            _ => None,
        }
    }
}

impl fmt::Display for BlobExt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a key template or a stored key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// A `{name}` the template language does not know (or one not allowed in
    /// this kind of template).
    #[error("unknown placeholder {{{name}}} in key template")]
    UnknownPlaceholder {
        /// The name between the braces.
        name: String,
    },
    /// A `{` without its `}` or a stray `}`.
    #[error("unbalanced brace at byte {index} of key template")]
    UnbalancedBrace {
        /// Byte offset of the offending brace.
        index: usize,
    },
    /// A literal character outside `[A-Za-z0-9_.=/-]`.
    #[error("forbidden character at byte {index}")]
    BadChar {
        /// Byte offset of the character.
        index: usize,
    },
    /// The key would start with `/`, contain `//`, or a segment would be
    /// only dots (`.`, `..`), or `..` appears anywhere.
    #[error("key has an empty, dot-only or parent segment")]
    BadSegment,
    /// A placeholder the template must contain is missing, or it does not
    /// end with `.{ext}`.
    #[error("key template lacks {what}")]
    Missing {
        /// What is missing, e.g. `{recordingId}`.
        what: &'static str,
    },
    /// The key is longer than [`MAX_KEY_LEN`].
    #[error("key is longer than {max} bytes")]
    TooLong {
        /// The limit.
        max: usize,
    },
    /// The key is empty.
    #[error("key is empty")]
    Empty,
}

/// One piece of a parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(String),
    Year,
    Month,
    Day,
    TelephonySession,
    Recording,
    Conversation,
    Ext,
}

/// A validated key template.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Template {
    pieces: Vec<Piece>,
}

/// Which ids a template may use.
#[derive(Clone, Copy, PartialEq, Eq)]
enum TemplateKind {
    Recording,
    Conversation,
}

fn is_literal_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'=' | b'.' | b'/')
}

/// Segment rules shared by templates and stored keys. `text` uses `X` for a
/// placeholder (non-empty, dot-free), so the same check serves both.
fn check_segments(text: &str) -> Result<(), KeyError> {
    if text.contains("..") {
        return Err(KeyError::BadSegment);
    }
    for segment in text.split('/') {
        if segment.is_empty() || segment.bytes().all(|b| b == b'.') {
            return Err(KeyError::BadSegment);
        }
    }
    Ok(())
}

impl Template {
    fn parse(text: &str, kind: TemplateKind) -> Result<Self, KeyError> {
        let mut pieces = Vec::new();
        let mut shape = String::new(); // the template with placeholders as `X`
        let mut literal = String::new();
        let mut rest = text.char_indices().peekable();
        while let Some((index, c)) = rest.next() {
            match c {
                '{' => {
                    let mut name = String::new();
                    let mut closed = false;
                    for (_, c) in rest.by_ref() {
                        if c == '}' {
                            closed = true;
                            break;
                        }
                        name.push(c);
                    }
                    if !closed {
                        return Err(KeyError::UnbalancedBrace { index });
                    }
                    let piece = match (name.as_str(), kind) {
                        ("yyyy", _) => Piece::Year,
                        ("mm", _) => Piece::Month,
                        ("dd", _) => Piece::Day,
                        ("ext", _) => Piece::Ext,
                        ("telephonySessionId", TemplateKind::Recording) => Piece::TelephonySession,
                        ("recordingId", TemplateKind::Recording) => Piece::Recording,
                        ("conversationId", TemplateKind::Conversation) => Piece::Conversation,
                        _ => return Err(KeyError::UnknownPlaceholder { name }),
                    };
                    if !literal.is_empty() {
                        pieces.push(Piece::Literal(std::mem::take(&mut literal)));
                    }
                    pieces.push(piece);
                    shape.push('X');
                }
                '}' => return Err(KeyError::UnbalancedBrace { index }),
                c if c.is_ascii() && is_literal_byte(c as u8) => {
                    literal.push(c);
                    shape.push(c);
                }
                _ => return Err(KeyError::BadChar { index }),
            }
        }
        if !literal.is_empty() {
            pieces.push(Piece::Literal(literal));
        }
        if shape.is_empty() {
            return Err(KeyError::Empty);
        }
        check_segments(&shape)?;
        let needed = match kind {
            TemplateKind::Recording => (Piece::Recording, "{recordingId}"),
            TemplateKind::Conversation => (Piece::Conversation, "{conversationId}"),
        };
        if !pieces.contains(&needed.0) {
            return Err(KeyError::Missing { what: needed.1 });
        }
        let ends_with_ext = matches!(
            pieces.as_slice(),
            [.., Piece::Literal(dot), Piece::Ext] if dot.ends_with('.')
        );
        if !ends_with_ext {
            return Err(KeyError::Missing {
                what: "a final `.{ext}`",
            });
        }
        Ok(Template { pieces })
    }

    fn render(&self, date: DateTime<Utc>, ids: &Ids<'_>, ext: BlobExt) -> String {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Literal(s) => out.push_str(s),
                // Plain digits (and `-` before year 0): never chrono's `+` sign.
                Piece::Year => out.push_str(&format!("{:04}", date.year())),
                Piece::Month => out.push_str(&format!("{:02}", date.month())),
                Piece::Day => out.push_str(&format!("{:02}", date.day())),
                Piece::TelephonySession => out.push_str(ids.telephony_session.unwrap_or("_")),
                Piece::Recording => out.push_str(ids.recording.unwrap_or("_")),
                Piece::Conversation => out.push_str(ids.conversation.unwrap_or("_")),
                Piece::Ext => out.push_str(ext.as_str()),
            }
        }
        out
    }
}

/// The ids available to a template render.
struct Ids<'a> {
    telephony_session: Option<&'a str>,
    recording: Option<&'a str>,
    conversation: Option<&'a str>,
}

/// The configured key layout: one template for recordings, one for stitched
/// conversations, both validated up front so rendering cannot fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyLayout {
    recording: Template,
    conversation: Template,
}

impl Default for KeyLayout {
    fn default() -> Self {
        // The defaults are constants covered by a unit test; fall back to a
        // hard-wired layout rather than panic should that ever be broken.
        KeyLayout::new(DEFAULT_RECORDING_TEMPLATE, DEFAULT_CONVERSATION_TEMPLATE).unwrap_or_else(
            |_| KeyLayout {
                recording: Template {
                    pieces: vec![Piece::Recording, Piece::Literal(".".into()), Piece::Ext],
                },
                conversation: Template {
                    pieces: vec![Piece::Conversation, Piece::Literal(".".into()), Piece::Ext],
                },
            },
        )
    }
}

impl KeyLayout {
    /// Validates both templates. Placeholders: `{yyyy}`, `{mm}`, `{dd}`,
    /// `{ext}` in both; `{telephonySessionId}` and `{recordingId}` (required)
    /// for recordings; `{conversationId}` (required) for conversations. Both
    /// must end with `.{ext}`; literals are `[A-Za-z0-9_.=/-]`, with no `..`,
    /// no leading `/` and no empty segment.
    pub fn new(recording_template: &str, conversation_template: &str) -> Result<Self, KeyError> {
        Ok(KeyLayout {
            recording: Template::parse(recording_template, TemplateKind::Recording)?,
            conversation: Template::parse(conversation_template, TemplateKind::Conversation)?,
        })
    }

    /// The key of a recording's audio, dated by the call's start (UTC).
    pub fn recording(
        &self,
        date: DateTime<Utc>,
        session: &TelephonySessionId,
        recording: &RecordingId,
        ext: BlobExt,
    ) -> StorageKey {
        let ids = Ids {
            telephony_session: Some(session.as_str()),
            recording: Some(recording.as_str()),
            conversation: None,
        };
        StorageKey(self.recording.render(date, &ids, ext))
    }

    /// The key of a conversation's stitched file (or its manifest with
    /// [`BlobExt::Json`]), dated by the conversation's start (UTC).
    pub fn conversation(
        &self,
        date: DateTime<Utc>,
        conversation: &ConversationId,
        ext: BlobExt,
    ) -> StorageKey {
        let ids = Ids {
            telephony_session: None,
            recording: None,
            conversation: Some(conversation.as_str()),
        };
        StorageKey(self.conversation.render(date, &ids, ext))
    }
}

/// A path inside the blob store, relative to its root, always safe to use.
///
/// Made only by [`StorageKey::for_recording`], [`StorageKey::for_conversation`],
/// [`KeyLayout`], [`StorageKey::sidecar_of`], or [`StorageKey::from_stored`]
/// (which re-checks a key read back from the catalog).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StorageKey(String);

impl StorageKey {
    /// A recording key under the default layout
    /// (`{yyyy}/{mm}/{dd}/{telephonySessionId}/{recordingId}.{ext}`).
    pub fn for_recording(
        date: DateTime<Utc>,
        session: &TelephonySessionId,
        recording: &RecordingId,
        ext: BlobExt,
    ) -> Self {
        KeyLayout::default().recording(date, session, recording, ext)
    }

    /// A stitched-conversation key under the default layout.
    pub fn for_conversation(
        date: DateTime<Utc>,
        conversation: &ConversationId,
        ext: BlobExt,
    ) -> Self {
        KeyLayout::default().conversation(date, conversation, ext)
    }

    /// The JSON metadata sidecar that sits beside `key`: the same path with
    /// its extension replaced by `.json` (`…/123.mp3` → `…/123.json`).
    pub fn sidecar_of(key: &StorageKey) -> StorageKey {
        let base = match key.0.rsplit_once('.') {
            Some((stem, ext)) if !ext.contains('/') => stem,
            _ => key.0.as_str(),
        };
        StorageKey(format!("{base}.json"))
    }

    /// Re-checks a key that was stored in the catalog: the same alphabet and
    /// segment rules the templates guarantee. For reading back, not for
    /// inventing new keys.
    pub fn from_stored(text: &str) -> Result<Self, KeyError> {
        if text.is_empty() {
            return Err(KeyError::Empty);
        }
        if text.len() > MAX_KEY_LEN {
            return Err(KeyError::TooLong { max: MAX_KEY_LEN });
        }
        if let Some(index) = text.bytes().position(|b| !is_literal_byte(b)) {
            return Err(KeyError::BadChar { index });
        }
        check_segments(text)?;
        Ok(StorageKey(text.to_owned()))
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StorageKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for StorageKey {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_default_templates_are_valid() {
        KeyLayout::new(DEFAULT_RECORDING_TEMPLATE, DEFAULT_CONVERSATION_TEMPLATE).unwrap();
    }

    #[test]
    fn the_default_recording_key_has_the_documented_shape() {
        let date = Utc.with_ymd_and_hms(2026, 3, 7, 23, 59, 0).unwrap();
        let s = TelephonySessionId::parse("s-abc").unwrap();
        let r = RecordingId::parse("401786818008").unwrap();
        let key = StorageKey::for_recording(date, &s, &r, BlobExt::Mp3);
        assert_eq!(key.as_str(), "2026/03/07/s-abc/401786818008.mp3");
        assert_eq!(
            StorageKey::sidecar_of(&key).as_str(),
            "2026/03/07/s-abc/401786818008.json"
        );
    }
}
