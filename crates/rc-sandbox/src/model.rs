//! The sandbox's world: the account, its extensions and every conversation
//! ever played, with the ids and times RingCentral would have given them.
//!
//! A conversation is described by a [`CallScript`] (what happens: who talks to
//! whom, for how long, how each segment ends) and materialised by
//! [`World::add`] into a [`Conversation`] (telephony sessions, legs, call-log
//! record ids, recordings). Everything the sandbox serves — call-log JSON,
//! telephony events, recording audio, the ground truth — is derived from these
//! types, so the three views can never disagree with one another.

use chrono::{DateTime, Duration, Utc};

mod ids;

use ids::{IdGen, party_id};

/// Audio container the account stores its recordings in (a company setting
/// at RingCentral: "Call recordings can be in MP3 or WAV format").
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AudioFormat {
    /// `audio/mpeg`.
    Mp3,
    /// `audio/wav`.
    Wav,
}

impl AudioFormat {
    /// The `Content-Type` RingCentral sends for this format.
    pub fn content_type(self) -> &'static str {
        match self {
            AudioFormat::Mp3 => "audio/mpeg",
            AudioFormat::Wav => "audio/wav",
        }
    }
}

/// How a recording was started; mirrors `recording.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum RecordingKind {
    /// Company-wide automatic call recording.
    Automatic,
    /// The user pressed "record" during the call.
    OnDemand,
}

impl RecordingKind {
    /// The JSON enum value.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordingKind::Automatic => "Automatic",
            RecordingKind::OnDemand => "OnDemand",
        }
    }
}

/// Direction of the call from the company's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Direction {
    /// An outside caller rang the company.
    Inbound,
    /// An extension called out.
    Outbound,
}

impl Direction {
    /// The JSON enum value.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "Inbound",
            Direction::Outbound => "Outbound",
        }
    }
}

/// One user of the account.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Extension {
    /// Internal id, e.g. `"809646016"` (a string in most payloads, a number in `extension.id`).
    pub id: u64,
    /// Short extension number, e.g. `"101"`.
    pub number: String,
    /// Display name.
    pub name: String,
    /// The extension's direct number in E.164 with `+`.
    pub phone_number: String,
}

/// The party outside the company (a PSTN caller or callee).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ExternalParty {
    /// E.164 with `+`.
    pub phone_number: String,
    /// Caller-id name if known.
    pub name: Option<String>,
}

/// How a segment of the conversation ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Handoff {
    /// The conversation ends here (the last segment).
    HangUp,
    /// The extension blind-transfers the caller to the next segment's
    /// extension: same telephony session, its party ends `Disconnected` +
    /// `BlindTransfer`.
    BlindTransfer,
    /// The extension places a consult call (a new telephony session) and
    /// completes an attended transfer: its parties end `Gone` +
    /// `AttendedTransfer` with a `peerId`, and the call log links the two
    /// sessions by `transferTarget` / `transferee`.
    AttendedTransfer,
}

/// One extension's part of a conversation, as scripted.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SegmentScript {
    /// Index into [`World::extensions`].
    pub extension: usize,
    /// Ringing time before the extension answers.
    pub ring_ms: u64,
    /// Talk time after answering (the recorded part).
    pub talk_ms: u64,
    /// Whether this segment is recorded.
    pub recorded: bool,
    /// How the segment ends.
    pub handoff: Handoff,
}

/// What happens in one conversation: the input of [`World::add`].
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct CallScript {
    /// When the first party starts ringing (sandbox time).
    pub start: DateTime<Utc>,
    /// Company point of view.
    pub direction: Direction,
    /// The outside party.
    pub external: ExternalParty,
    /// Extensions in the order they talk to the outside party. The last one
    /// must end with [`Handoff::HangUp`].
    pub segments: Vec<SegmentScript>,
    /// `Automatic` or `OnDemand` for the recorded segments.
    pub recording_kind: RecordingKind,
}

/// A recording of one leg.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Recording {
    /// Numeric string id, as in `recording.id` and `parties[].recordings[].id`.
    pub id: String,
    /// `Automatic` / `OnDemand`.
    pub kind: RecordingKind,
    /// Length of the audio.
    pub duration_ms: u64,
    /// The audio marker of this recording: a number unique in the world that
    /// the audio generator turns into a distinct tone / DTMF sequence, so a
    /// test can tell from the audio alone which recording it hears.
    pub marker: u32,
    /// True once the recording was deleted at the source (fault or purge):
    /// its content then answers 404.
    pub deleted: bool,
}

/// A telephony session (`telephonySessionId`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct TelephonySession {
    /// `s-…` id, shared by webhooks and call log.
    pub telephony_session_id: String,
    /// Legacy numeric `sessionId`.
    pub session_id: String,
    /// First ring of the session.
    pub start: DateTime<Utc>,
    /// When its last party disconnected.
    pub end: DateTime<Utc>,
}

/// One extension's leg: a call-log record of its own, maybe a recording.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Leg {
    /// Index into [`Conversation::sessions`].
    pub session: usize,
    /// Call-log record id (`id`), e.g. `"IyQAmlV2ORKZzUA"`.
    pub call_record_id: String,
    /// Party id of the extension in its session (`p-…-N`).
    pub party_id: String,
    /// Index into [`World::extensions`].
    pub extension: usize,
    /// Ringing starts.
    pub start: DateTime<Utc>,
    /// Answered.
    pub answer: DateTime<Utc>,
    /// Leg ends.
    pub end: DateTime<Utc>,
    /// How it ended.
    pub handoff: Handoff,
    /// The recording, if the segment was recorded and long enough to keep.
    pub recording: Option<Recording>,
    /// Recorded but shorter than the platform's minimum (30 s): the call log
    /// says `shortRecording: true` and has no `recording`.
    pub short_recording: bool,
}

/// A conversation as materialised: what a person experienced as one call.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Conversation {
    /// Index in [`World::conversations`].
    pub index: usize,
    /// The script it came from.
    pub script: CallScript,
    /// One session, or two for an attended transfer (in order).
    pub sessions: Vec<TelephonySession>,
    /// Legs in the order they happened (ground-truth order).
    pub legs: Vec<Leg>,
    /// First ring.
    pub start: DateTime<Utc>,
    /// Last hang-up.
    pub end: DateTime<Utc>,
    /// Party id of the outside party in each session (`p-…-1`).
    pub external_party_ids: Vec<String>,
}

impl Conversation {
    /// True while any party is still connected at `now`.
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        now >= self.start && now < self.end
    }

    /// Recordings in the order a stitched file must contain them.
    pub fn ordered_recordings(&self) -> impl Iterator<Item = &Recording> {
        self.legs.iter().filter_map(|l| l.recording.as_ref())
    }
}

/// The account and its history.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Account {
    /// Numeric account id.
    pub id: u64,
    /// The company's main number (E.164 with `+`).
    pub main_number: String,
    /// MP3 or WAV for every recording of the account.
    pub audio_format: AudioFormat,
}

/// Everything the sandbox knows. Held behind a lock in the server state.
#[derive(Debug, Clone, serde::Serialize)]
pub struct World {
    /// The one account the sandbox serves.
    pub account: Account,
    /// Its users; index 0 is the admin who owns the JWT credential.
    pub extensions: Vec<Extension>,
    /// Every conversation, in the order added (not necessarily by time).
    pub conversations: Vec<Conversation>,
    /// Platform minimum below which recordings are not kept (30 s).
    pub min_recording_ms: u64,
    #[serde(skip)]
    ids: IdGen,
}

/// Why a script was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ScriptError {
    /// A script needs at least one segment.
    #[error("a call script needs at least one segment")]
    NoSegments,
    /// Only the last segment may hang up, and it must.
    #[error("segment {0}: only the last segment ends with HangUp, and it must")]
    BadHandoff(usize),
    /// Extension index out of range.
    #[error("segment {0}: no such extension")]
    NoSuchExtension(usize),
}

impl World {
    /// An empty world with `extensions` users, ids drawn from `seed`.
    pub fn new(seed: u64, extension_count: usize, audio_format: AudioFormat) -> World {
        let mut ids = IdGen::new(seed);
        let account_id = ids.numeric(9);
        let extensions = (0..extension_count.max(1))
            .map(|i| Extension {
                id: ids.numeric(9),
                number: format!("{}", 101 + i),
                name: format!(
                    "{} {}",
                    FIRST_NAMES[i % FIRST_NAMES.len()],
                    LAST_NAMES[(i / FIRST_NAMES.len()) % LAST_NAMES.len()]
                ),
                phone_number: format!("+1650555{:04}", 1000 + i),
            })
            .collect();
        World {
            account: Account {
                id: account_id,
                main_number: "+16505550100".into(),
                audio_format,
            },
            extensions,
            conversations: Vec::new(),
            min_recording_ms: 30_000,
            ids,
        }
    }

    /// Materialises a script: assigns ids, times, party ids and recordings.
    pub fn add(&mut self, script: CallScript) -> Result<&Conversation, ScriptError> {
        validate(&script, self.extensions.len())?;
        let index = self.conversations.len();
        let mut sessions = vec![self.new_session(script.start)];
        let mut external_party_ids = vec![party_id(&sessions[0].telephony_session_id, 1)];
        // Next party number per session (1 is the outside party).
        let mut next_party = vec![2u32];
        let mut legs = Vec::with_capacity(script.segments.len());
        let mut t = script.start;
        for seg in &script.segments {
            let s = sessions.len() - 1;
            let start = t;
            let answer = start + ms(seg.ring_ms);
            let end = answer + ms(seg.talk_ms);
            let recorded_long_enough = seg.talk_ms >= self.min_recording_ms;
            let recording = (seg.recorded && recorded_long_enough).then(|| Recording {
                id: self.ids.numeric(12).to_string(),
                kind: script.recording_kind,
                duration_ms: seg.talk_ms,
                marker: self.ids.next_marker(),
                deleted: false,
            });
            let pid = party_id(&sessions[s].telephony_session_id, next_party[s]);
            next_party[s] += 1;
            legs.push(Leg {
                session: s,
                call_record_id: self.ids.record_id(),
                party_id: pid,
                extension: seg.extension,
                start,
                answer,
                end,
                handoff: seg.handoff,
                recording,
                short_recording: seg.recorded && !recorded_long_enough,
            });
            sessions[s].end = end;
            t = end;
            if seg.handoff == Handoff::AttendedTransfer {
                // The consult call is a new session; the outside party is
                // bridged into it when the transfer completes.
                let session = self.new_session(end);
                external_party_ids.push(party_id(&session.telephony_session_id, 1));
                sessions.push(session);
                next_party.push(2);
            }
        }
        let end = t;
        self.conversations.push(Conversation {
            index,
            start: script.start,
            end,
            script,
            sessions,
            legs,
            external_party_ids,
        });
        Ok(&self.conversations[index])
    }

    /// Finds a recording by id, with its conversation and leg.
    pub fn recording(&self, id: &str) -> Option<(&Conversation, &Leg, &Recording)> {
        self.conversations.iter().find_map(|c| {
            c.legs.iter().find_map(|l| {
                l.recording
                    .as_ref()
                    .filter(|r| r.id == id)
                    .map(|r| (c, l, r))
            })
        })
    }

    /// Marks a recording deleted at the source. Returns false if unknown.
    pub fn delete_recording(&mut self, id: &str) -> bool {
        for c in &mut self.conversations {
            for l in &mut c.legs {
                if let Some(r) = l.recording.as_mut().filter(|r| r.id == id) {
                    r.deleted = true;
                    return true;
                }
            }
        }
        false
    }

    fn new_session(&mut self, start: DateTime<Utc>) -> TelephonySession {
        TelephonySession {
            telephony_session_id: self.ids.telephony_session_id(),
            session_id: self.ids.numeric(12).to_string(),
            start,
            end: start,
        }
    }
}

fn validate(script: &CallScript, extensions: usize) -> Result<(), ScriptError> {
    if script.segments.is_empty() {
        return Err(ScriptError::NoSegments);
    }
    let last = script.segments.len() - 1;
    for (i, seg) in script.segments.iter().enumerate() {
        if seg.extension >= extensions {
            return Err(ScriptError::NoSuchExtension(i));
        }
        if (i == last) != (seg.handoff == Handoff::HangUp) {
            return Err(ScriptError::BadHandoff(i));
        }
    }
    Ok(())
}

fn ms(v: u64) -> Duration {
    Duration::milliseconds(i64::try_from(v).unwrap_or(i64::MAX))
}

const FIRST_NAMES: &[&str] = &[
    "Ada", "Ben", "Chloe", "Dev", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kira",
    "Liam",
];
const LAST_NAMES: &[&str] = &["Park", "Okafor", "Silva", "Novak", "Haddad", "Lindqvist"];

#[cfg(test)]
mod tests;
