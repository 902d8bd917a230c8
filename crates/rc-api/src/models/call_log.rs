//! Call log: list responses, records, legs, their recordings, and the sync
//! responses. The enumerations of their fields are in
//! [`super::call_log_values`].

use chrono::{DateTime, Utc};

use super::Direction;
use super::call_log_values::{
    CallAction, CallReason, CallResult, CallTransport, CallType, DelegationType, InternalType,
    LegType, RecordingType,
};
use crate::ids::{CallRecordId, ExtensionId, RecordingId, TelephonySessionId};

/// `GET …/call-log` answer: one page.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CallLogResponse {
    /// The normalised request URI (echoes computed defaults).
    #[serde(default)]
    pub uri: String,
    /// The records of this page, newest first in every published example.
    /// A record that does not parse (e.g. an id with path characters) is
    /// skipped and logged with its reason, so one bad record cannot stop a
    /// backup of the rest of the page.
    #[serde(default, deserialize_with = "lenient_records")]
    pub records: Vec<CallLogRecord>,
    /// Page counters.
    #[serde(default)]
    pub paging: Paging,
    /// Links to other pages; follow `nextPage` until it is absent.
    #[serde(default)]
    pub navigation: Navigation,
}

/// Parses each record on its own and drops (with a warning) those that do
/// not parse.
fn lenient_records<'de, D>(deserializer: D) -> Result<Vec<CallLogRecord>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    // Each record's own text, not a tree of values: a page of 1,000
    // Detailed records stays a few MB.
    let raw: Vec<Box<serde_json::value::RawValue>> = serde::Deserialize::deserialize(deserializer)?;
    Ok(raw
        .into_iter()
        .filter_map(
            |text| match serde_json::from_str::<CallLogRecord>(text.get()) {
                Ok(mut record) => {
                    record.raw = Some(text);
                    Some(record)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "skipping a call-log record that does not parse");
                    None
                }
            },
        )
        .collect())
}

/// `paging` of a list response (`EnumeratedPagingModel`).
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Paging {
    /// 1-based page number (omitted on empty pages).
    #[serde(default)]
    pub page: Option<u32>,
    /// Page size the server actually used (may be lower than requested).
    #[serde(default)]
    pub per_page: Option<u32>,
    /// 0-based index of the first element.
    #[serde(default)]
    pub page_start: Option<u64>,
    /// 0-based index of the last element.
    #[serde(default)]
    pub page_end: Option<u64>,
    /// Usually omitted for call log.
    #[serde(default)]
    pub total_pages: Option<u32>,
    /// Usually omitted for call log.
    #[serde(default)]
    pub total_elements: Option<u64>,
}

/// `navigation` of a list response.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Navigation {
    /// First page.
    #[serde(default)]
    pub first_page: Option<NavigationLink>,
    /// Next page; absent on the last page.
    #[serde(default)]
    pub next_page: Option<NavigationLink>,
    /// Previous page.
    #[serde(default)]
    pub previous_page: Option<NavigationLink>,
    /// Last page (sometimes present).
    #[serde(default)]
    pub last_page: Option<NavigationLink>,
}

/// `{ "uri": … }`.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
pub struct NavigationLink {
    /// Absolute URI of the page (validated against the platform host before use).
    pub uri: String,
}

/// One call-log record (`CallLogRecord`).
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CallLogRecord {
    /// Record id.
    pub id: CallRecordId,
    /// Record URI.
    #[serde(default)]
    pub uri: String,
    /// Legacy session id (required by the spec, absent from old sync samples).
    #[serde(default)]
    pub session_id: Option<String>,
    /// Telephony session id shared with telephony events.
    #[serde(default)]
    pub telephony_session_id: Option<TelephonySessionId>,
    /// Participant id.
    #[serde(default)]
    pub party_id: Option<String>,
    /// SIP UUID info.
    #[serde(default)]
    pub sip_uuid_info: Option<String>,
    /// Warm transfer: the session this call was transferred to.
    #[serde(default)]
    pub transfer_target: Option<TransferInfo>,
    /// Warm transfer: the session that was transferred here.
    #[serde(default)]
    pub transferee: Option<TransferInfo>,
    /// Call start.
    pub start_time: DateTime<Utc>,
    /// Duration in seconds.
    #[serde(default)]
    pub duration: Option<u64>,
    /// Duration in milliseconds.
    #[serde(default)]
    pub duration_ms: Option<u64>,
    /// `Voice` / `Fax`.
    #[serde(default, rename = "type")]
    pub call_type: Option<CallType>,
    /// `Inbound` / `Outbound`.
    #[serde(default)]
    pub direction: Option<Direction>,
    /// What the user did (`Phone Call`, `VoIP Call`…).
    #[serde(default)]
    pub action: Option<CallAction>,
    /// Outcome (`Accepted`, `Call connected`…).
    #[serde(default)]
    pub result: Option<CallResult>,
    /// Reason of the outcome.
    #[serde(default)]
    pub reason: Option<CallReason>,
    /// Human description of `reason`.
    #[serde(default)]
    pub reason_description: Option<String>,
    /// Internal call type.
    #[serde(default)]
    pub internal_type: Option<InternalType>,
    /// `PSTN` / `VoIP`.
    #[serde(default)]
    pub transport: Option<CallTransport>,
    /// Caller.
    #[serde(default)]
    pub from: Option<CallLogParty>,
    /// Callee.
    #[serde(default)]
    pub to: Option<CallLogParty>,
    /// The extension the record belongs to (`id` is a JSON number here).
    #[serde(default)]
    pub extension: Option<ExtensionRef>,
    /// The recording, if the call was recorded.
    #[serde(default)]
    pub recording: Option<RecordingInfo>,
    /// Recorded but too short to be kept (omitted when false).
    #[serde(default)]
    pub short_recording: bool,
    /// Linked voicemail or fax.
    #[serde(default)]
    pub message: Option<MessageRef>,
    /// Secretary/boss delegate.
    #[serde(default)]
    pub delegate: Option<Delegate>,
    /// Delegation type.
    #[serde(default)]
    pub delegation_type: Option<DelegationType>,
    /// Cost.
    #[serde(default)]
    pub billing: Option<Billing>,
    /// Metadata categories.
    #[serde(default)]
    pub metadata_categories: Vec<String>,
    /// Whether the call reached a finished state.
    #[serde(default)]
    pub finished: Option<bool>,
    /// Deleted record (sync / `showDeleted`).
    #[serde(default)]
    pub deleted: bool,
    /// Detailed view only.
    #[serde(default)]
    pub last_modified_time: Option<DateTime<Utc>>,
    /// Detailed view only: the legs in execution order.
    #[serde(default)]
    pub legs: Vec<CallLogLeg>,
    /// The record exactly as the server sent it, unknown fields included, so
    /// the catalog keeps what this model does not know yet. Filled when the
    /// record came in a list page; `None` for records built in code.
    #[serde(skip)]
    pub raw: Option<Box<serde_json::value::RawValue>>,
}

impl CallLogRecord {
    /// Every distinct recording of this record and its legs, first seen first
    /// (legs often repeat the record's recording).
    pub fn recordings(&self) -> Vec<&RecordingInfo> {
        let mut out: Vec<&RecordingInfo> = Vec::new();
        let all = self
            .recording
            .iter()
            .chain(self.legs.iter().filter_map(|l| l.recording.as_ref()));
        for r in all {
            if !out.iter().any(|o| o.id == r.id) {
                out.push(r);
            }
        }
        out
    }

    /// True if this record or any of its legs belongs to `tsid`.
    pub fn belongs_to_session(&self, tsid: &TelephonySessionId) -> bool {
        self.telephony_session_id.as_ref() == Some(tsid)
            || self
                .legs
                .iter()
                .any(|l| l.telephony_session_id.as_ref() == Some(tsid))
    }
}

/// A leg of a Detailed-view record (`CallLogRecordLegInfo`): the base record
/// fields without `id`/`uri`/`sessionId`, plus `legType` and `master`.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CallLogLeg {
    /// Leg kind (`Accept`, `PstnToSip`, `FindMe`…).
    #[serde(default)]
    pub leg_type: Option<LegType>,
    /// True on the main leg.
    #[serde(default)]
    pub master: bool,
    /// Telephony session of this leg.
    #[serde(default)]
    pub telephony_session_id: Option<TelephonySessionId>,
    /// Participant id.
    #[serde(default)]
    pub party_id: Option<String>,
    /// SIP UUID info.
    #[serde(default)]
    pub sip_uuid_info: Option<String>,
    /// Warm transfer target session.
    #[serde(default)]
    pub transfer_target: Option<TransferInfo>,
    /// Warm transfer transferee session.
    #[serde(default)]
    pub transferee: Option<TransferInfo>,
    /// Leg start.
    #[serde(default)]
    pub start_time: Option<DateTime<Utc>>,
    /// Seconds.
    #[serde(default)]
    pub duration: Option<u64>,
    /// Milliseconds.
    #[serde(default)]
    pub duration_ms: Option<u64>,
    /// `Voice` / `Fax`.
    #[serde(default, rename = "type")]
    pub call_type: Option<CallType>,
    /// Technical direction of the leg.
    #[serde(default)]
    pub direction: Option<Direction>,
    /// Action.
    #[serde(default)]
    pub action: Option<CallAction>,
    /// Result.
    #[serde(default)]
    pub result: Option<CallResult>,
    /// Reason.
    #[serde(default)]
    pub reason: Option<CallReason>,
    /// Reason text.
    #[serde(default)]
    pub reason_description: Option<String>,
    /// Internal type.
    #[serde(default)]
    pub internal_type: Option<InternalType>,
    /// `PSTN` / `VoIP`.
    #[serde(default)]
    pub transport: Option<CallTransport>,
    /// Caller.
    #[serde(default)]
    pub from: Option<CallLogParty>,
    /// Callee.
    #[serde(default)]
    pub to: Option<CallLogParty>,
    /// Extension of the leg.
    #[serde(default)]
    pub extension: Option<ExtensionRef>,
    /// The leg's own recording (may repeat the record's).
    #[serde(default)]
    pub recording: Option<RecordingInfo>,
    /// Recorded but too short to be kept.
    #[serde(default)]
    pub short_recording: bool,
    /// Linked message.
    #[serde(default)]
    pub message: Option<MessageRef>,
    /// Delegate.
    #[serde(default)]
    pub delegate: Option<Delegate>,
    /// Delegation type.
    #[serde(default)]
    pub delegation_type: Option<DelegationType>,
    /// Per-leg cost.
    #[serde(default)]
    pub billing: Option<Billing>,
}

/// `transferTarget` / `transferee`.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TransferInfo {
    /// The other telephony session of a warm transfer.
    #[serde(default)]
    pub telephony_session_id: Option<TelephonySessionId>,
}

/// `from` / `to` of a record or leg.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CallLogParty {
    /// Phone number (E.164, sometimes without `+`).
    #[serde(default)]
    pub phone_number: Option<String>,
    /// Short extension number.
    #[serde(default)]
    pub extension_number: Option<String>,
    /// Extension id (a string here).
    #[serde(default)]
    pub extension_id: Option<String>,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// Location.
    #[serde(default)]
    pub location: Option<String>,
    /// Device.
    #[serde(default)]
    pub device: Option<DeviceRef>,
    /// Inbound: the number the caller dialled from.
    #[serde(default)]
    pub dialer_phone_number: Option<String>,
    /// Outbound: the number dialled.
    #[serde(default)]
    pub dialed_phone_number: Option<String>,
}

/// `device`.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
pub struct DeviceRef {
    /// Device id.
    #[serde(default)]
    pub id: Option<String>,
    /// Device URI.
    #[serde(default)]
    pub uri: Option<String>,
}

/// `extension` of a record or leg. Its `id` is a JSON **number** in the call
/// log; a numeric string is accepted too.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
pub struct ExtensionRef {
    /// Extension id.
    #[serde(default, deserialize_with = "number_or_string_id")]
    pub id: Option<ExtensionId>,
    /// Extension URI.
    #[serde(default)]
    pub uri: Option<String>,
}

fn number_or_string_id<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<ExtensionId>, D::Error> {
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Number(u64),
        Text(String),
    }
    match <Option<Raw> as serde::Deserialize>::deserialize(d)? {
        None => Ok(None),
        Some(Raw::Number(n)) => Ok(Some(ExtensionId::from_number(n))),
        Some(Raw::Text(s)) => ExtensionId::try_from(s)
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

/// `recording` inside a record or leg (`CallLogRecordingInfo`).
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordingInfo {
    /// Metadata URI on the platform host.
    #[serde(default)]
    pub uri: String,
    /// Recording id (same as telephony events' `recordings[].id`).
    pub id: RecordingId,
    /// `Automatic` / `OnDemand`.
    #[serde(default, rename = "type")]
    pub recording_type: Option<RecordingType>,
    /// Content URI on the media host (use as given; may carry `:443`).
    pub content_uri: String,
}

/// `message` link.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
pub struct MessageRef {
    /// Message id.
    #[serde(default)]
    pub id: Option<String>,
    /// `Fax`, `VoiceMail`…
    #[serde(default, rename = "type")]
    pub message_type: Option<String>,
    /// Message URI.
    #[serde(default)]
    pub uri: Option<String>,
}

/// `delegate`.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
pub struct Delegate {
    /// Delegate id.
    #[serde(default)]
    pub id: Option<String>,
    /// Delegate name.
    #[serde(default)]
    pub name: Option<String>,
}

/// `billing`.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Billing {
    /// Cost included in the plan.
    #[serde(default)]
    pub cost_included: Option<f64>,
    /// Cost purchased.
    #[serde(default)]
    pub cost_purchased: Option<f64>,
}

/// `GET …/call-log-sync` answer.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CallLogSyncResponse {
    /// Request URI.
    #[serde(default)]
    pub uri: String,
    /// Records.
    #[serde(default)]
    pub records: Vec<CallLogRecord>,
    /// Sync state for the next ISync.
    pub sync_info: SyncInfo,
}

/// `syncInfo`.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncInfo {
    /// `FSync` / `ISync`.
    #[serde(default)]
    pub sync_type: Option<String>,
    /// Token for the next ISync.
    #[serde(default)]
    pub sync_token: Option<String>,
    /// Server time of the sync.
    #[serde(default)]
    pub sync_time: Option<DateTime<Utc>>,
    /// Extract-sync only: call again while true.
    #[serde(default)]
    pub newer_records_exist: Option<bool>,
}
