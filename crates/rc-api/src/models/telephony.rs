//! Telephony-session notifications: the WebHook envelope, its
//! body and the party objects; also the `GET /telephony/sessions/{id}` shape.

use chrono::{DateTime, Utc};

use super::Direction;
use crate::ids::{RecordingId, SubscriptionId, TelephonySessionId};

/// One WebHook POST body (`AccountTelephonySessionsEvent`). Older docs samples
/// wrap it in `pn_apns` (mobile push); a WebHook receives it unwrapped.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TelephonySessionNotification {
    /// Notification id (deduplicate on it).
    pub uuid: String,
    /// The filter URI with ids resolved.
    #[serde(default)]
    pub event: String,
    /// When sent.
    #[serde(default)]
    pub timestamp: Option<DateTime<Utc>>,
    /// Subscription that delivered it.
    #[serde(default)]
    pub subscription_id: Option<SubscriptionId>,
    /// Subscription owner extension id.
    #[serde(default)]
    pub owner_id: Option<String>,
    /// The event.
    pub body: TelephonySessionEventBody,
}

/// `body` (`TelephonySessionsEventBody`).
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TelephonySessionEventBody {
    /// Per-session order; events arrive out of order, sort by it.
    #[serde(default)]
    pub sequence: Option<i64>,
    /// Legacy session id (`"0"` for conference bridges).
    #[serde(default)]
    pub session_id: Option<String>,
    /// Telephony session id.
    pub telephony_session_id: TelephonySessionId,
    /// Server id, e.g. `10.13.22.28.TAM`.
    #[serde(default)]
    pub server_id: Option<String>,
    /// When the change happened.
    #[serde(default)]
    pub event_time: Option<DateTime<Utc>>,
    /// What started the session.
    #[serde(default)]
    pub origin: Option<SessionOrigin>,
    /// Usually only the party whose state changed.
    #[serde(default)]
    pub parties: Vec<TelephonyParty>,
    /// Older samples only.
    #[serde(default)]
    pub account_id: Option<String>,
    /// Older samples only.
    #[serde(default)]
    pub extension_id: Option<String>,
}

/// `origin`.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
pub struct SessionOrigin {
    /// `Call`, `RingOut`, `Conference`…
    #[serde(default, rename = "type")]
    pub origin_type: Option<OriginType>,
}

/// A party (`TelephonySessionsEventPartyInfo`).
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TelephonyParty {
    /// Party id, e.g. `p-a6abd24ca6774373a8120a3390d3cbe8-2`.
    pub id: String,
    /// Absent for external parties.
    #[serde(default)]
    pub account_id: Option<String>,
    /// Absent for external parties.
    #[serde(default)]
    pub extension_id: Option<String>,
    /// Technical direction from the party's perspective.
    #[serde(default)]
    pub direction: Option<Direction>,
    /// Caller side.
    #[serde(default)]
    pub from: Option<PartyEndpoint>,
    /// Callee side.
    #[serde(default)]
    pub to: Option<PartyEndpoint>,
    /// State.
    #[serde(default)]
    pub status: Option<PartyStatus>,
    /// Recordings of the party (`active=false`: paused).
    #[serde(default)]
    pub recordings: Vec<PartyRecording>,
    /// Park info (often `{}`).
    #[serde(default)]
    pub park: Option<ParkInfo>,
    /// Queue call.
    #[serde(default)]
    pub queue_call: Option<bool>,
    /// Missed call.
    #[serde(default)]
    pub missed_call: Option<bool>,
    /// Stand-alone party.
    #[serde(default)]
    pub stand_alone: Option<bool>,
    /// Muted.
    #[serde(default)]
    pub muted: Option<bool>,
    /// `Host` / `Participant`.
    #[serde(default)]
    pub conference_role: Option<String>,
    /// SIP data (only with `sipData=true`).
    #[serde(default)]
    pub sip_data: Option<SipData>,
    /// GET-session shape: the owner of the party.
    #[serde(default)]
    pub owner: Option<PartyOwner>,
}

/// `from` / `to` of a party.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PartyEndpoint {
    /// Number (or a short extension number).
    #[serde(default)]
    pub phone_number: Option<String>,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// Extension id.
    #[serde(default)]
    pub extension_id: Option<String>,
    /// Device id (seen in real payloads, not in the schema).
    #[serde(default)]
    pub device_id: Option<String>,
}

/// `status` of a party.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PartyStatus {
    /// `Setup`, `Proceeding`, `Answered`, `Disconnected`, `Gone`…
    pub code: PartyStatusCode,
    /// `BlindTransfer`, `AttendedTransfer`… (none = plain hang-up).
    #[serde(default)]
    pub reason: Option<PartyStatusReason>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// The other session of a transfer.
    #[serde(default)]
    pub peer_id: Option<PeerId>,
    /// Call-control flag.
    #[serde(default)]
    pub rcc: Option<bool>,
}

impl PartyStatus {
    /// True for `Disconnected` and `Gone` (the party left this session).
    pub fn is_terminal(&self) -> bool {
        matches!(
            self.code,
            PartyStatusCode::Disconnected | PartyStatusCode::Gone
        )
    }
}

/// `peerId`: where the conversation continues.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PeerId {
    /// Session id (real payloads put an `s-…` telephony id here).
    #[serde(default)]
    pub session_id: Option<String>,
    /// Telephony session id.
    #[serde(default)]
    pub telephony_session_id: Option<String>,
    /// Party id in the other session.
    #[serde(default)]
    pub party_id: Option<String>,
}

/// `recordings[]` of a party.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
pub struct PartyRecording {
    /// Same id as the call log's `recording.id`.
    pub id: RecordingId,
    /// False while paused.
    #[serde(default)]
    pub active: Option<bool>,
}

/// `park`.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
pub struct ParkInfo {
    /// Park id.
    #[serde(default)]
    pub id: Option<String>,
}

/// `sipData`.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SipData {
    /// SIP Call-ID.
    #[serde(default)]
    pub call_id: Option<String>,
    /// To tag.
    #[serde(default)]
    pub to_tag: Option<String>,
    /// From tag.
    #[serde(default)]
    pub from_tag: Option<String>,
}

/// `owner` of a party (GET-session shape).
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PartyOwner {
    /// Account id.
    #[serde(default)]
    pub account_id: Option<String>,
    /// Extension id.
    #[serde(default)]
    pub extension_id: Option<String>,
}

/// `GET /restapi/v1.0/account/~/telephony/sessions/{id}` answer.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CallSession {
    /// Telephony session id.
    pub id: TelephonySessionId,
    /// Created at.
    #[serde(default)]
    pub creation_time: Option<DateTime<Utc>>,
    /// What started the session.
    #[serde(default)]
    pub origin: Option<SessionOrigin>,
    /// Every party.
    #[serde(default)]
    pub parties: Vec<TelephonyParty>,
}

open_enum! {
    /// `status.code` (the guide writes `Voicemail`/`VMScreening` too).
    PartyStatusCode {
        Setup = "Setup",
        Proceeding = "Proceeding",
        Answered = "Answered",
        Disconnected = "Disconnected",
        Gone = "Gone",
        Parked = "Parked",
        Hold = "Hold",
        VoiceMail = "VoiceMail",
        FaxReceive = "FaxReceive",
        Tds = "Tds",
        VoiceMailScreening = "VoiceMailScreening",
    }
}

open_enum! {
    /// `status.reason` (real payloads also carry `Conference`, `Undefined`).
    PartyStatusReason {
        Pickup = "Pickup",
        Supervising = "Supervising",
        TakeOver = "TakeOver",
        Timeout = "Timeout",
        BlindTransfer = "BlindTransfer",
        RccTransfer = "RccTransfer",
        AttendedTransfer = "AttendedTransfer",
        CallerInputRedirect = "CallerInputRedirect",
        CallFlip = "CallFlip",
        ParkLocation = "ParkLocation",
        DtmfTransfer = "DtmfTransfer",
        AgentAnswered = "AgentAnswered",
        AgentDropped = "AgentDropped",
        Rejected = "Rejected",
        Cancelled = "Cancelled",
        InternalError = "InternalError",
        NoAnswer = "NoAnswer",
        TargetBusy = "TargetBusy",
        InvalidNumber = "InvalidNumber",
        InternationalDisabled = "InternationalDisabled",
        DestinationBlocked = "DestinationBlocked",
        NotEnoughFunds = "NotEnoughFunds",
        NoSuchUser = "NoSuchUser",
        CallPark = "CallPark",
        CallRedirected = "CallRedirected",
        CallReplied = "CallReplied",
        CallSwitch = "CallSwitch",
        CallFinished = "CallFinished",
        CallDropped = "CallDropped",
        Voicemail = "Voicemail",
        Conference = "Conference",
        Undefined = "Undefined",
    }
}

open_enum! {
    /// `origin.type`.
    OriginType {
        Call = "Call",
        RingOut = "RingOut",
        RingMe = "RingMe",
        Conference = "Conference",
        GreetingsRecording = "GreetingsRecording",
        VerificationCall = "VerificationCall",
        Zoom = "Zoom",
        CallOut = "CallOut",
        TestCall = "TestCall",
    }
}
