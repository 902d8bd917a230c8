//! The call engine: turns conversations into telephony-session
//! notifications and plays them on the sandbox clock.
//!
//! - [`timeline`] derives, from one [`crate::model::Conversation`], the party
//!   state changes a real platform would report: one changed party per event,
//!   `sequence` counting up per telephony session from 2, parties going
//!   Setup → Proceeding → Answered → Disconnected (or `Gone` for an attended
//!   transfer), `recordings[{id, active}]` on a recorded party when it answers.
//! - [`engine`] is the task that waits on [`crate::clock::SandboxClock`] and
//!   hands each event, when its time comes, to
//!   [`crate::subscriptions::Registry::dispatch`].
//!
//! - [`session_route`] serves `GET …/telephony/sessions/{id}` from the same
//!   timeline, so the session state and the notifications always agree.
//!
//! Conversations that had already ended when the engine first saw them
//! (the generated history, or scripts injected with a past start) produce
//! no events; conversations in progress replay their past events at once.

pub mod engine;
pub mod session_route;
pub mod timeline;

use chrono::{DateTime, Utc};
use serde_json::Value;

pub use engine::{Engine, run as run_engine};
pub use session_route::routes;
pub use timeline::timeline;

/// One party-state change of one telephony session, ready to be sent.
#[derive(Debug, Clone)]
pub struct TelephonyEvent {
    /// Sandbox time the change happens (`eventTime`).
    pub at: DateTime<Utc>,
    /// Index of the conversation in the world.
    pub conversation: usize,
    /// `telephonySessionId` of the session.
    pub telephony_session_id: String,
    /// `sequence` in that session.
    pub sequence: u64,
    /// True for the last event of the session (never held back by reordering).
    pub last_in_session: bool,
    /// Facts about the changed party, for filter matching.
    pub party: PartyFacts,
    /// Whether the session keeps at least one recording (`withRecordings`).
    pub session_has_recordings: bool,
    /// The notification `body` (`TelephonySessionsEventBody`).
    pub body: Value,
    /// `sipData` for the party, added only for filters with `sipData=true`.
    pub sip_data: Value,
}

/// What filters look at in the changed party.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartyFacts {
    /// Owning extension id; `None` for the outside party.
    pub extension_id: Option<u64>,
    /// `Inbound` / `Outbound` from the party's point of view.
    pub direction: &'static str,
    /// `status.code`.
    pub status_code: &'static str,
    /// `from.phoneNumber` and `to.phoneNumber`.
    pub phone_numbers: Vec<String>,
    /// `missedCall`.
    pub missed_call: bool,
}

/// RFC 3339 with milliseconds and `Z`, the format RingCentral uses.
pub fn rc_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}
