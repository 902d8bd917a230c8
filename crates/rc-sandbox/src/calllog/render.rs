//! Call-log JSON rendered from the world model: one
//! record per [`Leg`], seen from that leg's extension.
//!
//! Shapes follow the published samples: `extension.id` is a JSON number,
//! times are ISO 8601 with milliseconds and `Z`, empty fields are omitted,
//! and Detailed legs repeat the record's `recording` object. A record's
//! `legs[]` are the platform's technical legs of that extension's part of
//! the call: inbound = `Accept` (PSTN, master) + `PstnToSip` (VoIP);
//! outbound = `SipToPstnMetered` (master); a part that was handed over by
//! a transfer starts with `TransferCall`. Attended transfers link the two
//! telephony sessions with `transferTarget` (on the transferring leg) and
//! `transferee` (on the legs of the consult session).

use serde::Serialize;

use super::query::{View, iso};
use crate::gate::paths;
use crate::model::{Conversation, Direction, Extension, Handoff, Leg, World};

/// What a renderer needs besides the leg.
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a> {
    /// Platform base URL.
    pub platform: &'a str,
    /// Media base URL.
    pub media: &'a str,
    /// The world.
    pub world: &'a World,
    /// `Simple` / `Detailed`.
    pub view: View,
    /// `…/account/{id}[/extension/{id}]/call-log`: the base of record URIs.
    pub call_log_uri: &'a str,
    /// Sandbox time between a call's end and its record appearing
    /// (`lastModifiedTime` = end + lag).
    pub lag: chrono::Duration,
}

/// `{telephonySessionId}` of a warm-transfer partner session.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionRef<'a> {
    telephony_session_id: &'a str,
}

/// `from` / `to`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Party<'a> {
    phone_number: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    extension_number: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    extension_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
}

/// `extension` (`id` is a number here).
#[derive(Debug, Serialize)]
pub struct ExtensionRef<'a> {
    uri: &'a str,
    id: u64,
}

/// `recording` (all four fields required).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordingRef<'a> {
    uri: &'a str,
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    content_uri: &'a str,
}

/// `billing`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Billing {
    cost_included: f64,
    cost_purchased: f64,
}

/// The `BaseCallLogRecord` fields shared by records and legs.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Base<'a> {
    start_time: &'a str,
    duration: i64,
    duration_ms: i64,
    #[serde(rename = "type")]
    kind: &'static str,
    internal_type: &'static str,
    direction: &'static str,
    action: &'static str,
    result: &'static str,
    reason: &'static str,
    to: Party<'a>,
    from: Party<'a>,
    extension: ExtensionRef<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    recording: Option<RecordingRef<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    short_recording: Option<bool>,
    telephony_session_id: &'a str,
    party_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    transfer_target: Option<SessionRef<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    transferee: Option<SessionRef<'a>>,
    transport: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    billing: Option<Billing>,
}

/// One `CallLogRecordLegInfo`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LegInfo<'a> {
    #[serde(flatten)]
    base: Base<'a>,
    leg_type: &'static str,
    master: bool,
}

/// One `CallLogRecord`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Record<'a> {
    uri: String,
    id: &'a str,
    session_id: &'a str,
    #[serde(flatten)]
    base: Base<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_modified_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    legs: Option<Vec<LegInfo<'a>>>,
}

fn ext_party<'a>(e: &'a Extension, id: &'a str) -> Party<'a> {
    Party {
        phone_number: &e.phone_number,
        extension_number: Some(&e.number),
        extension_id: Some(id),
        name: Some(&e.name),
    }
}

fn external_party(c: &Conversation) -> Party<'_> {
    Party {
        phone_number: &c.script.external.phone_number,
        extension_number: None,
        extension_id: None,
        name: c.script.external.name.as_deref(),
    }
}

/// How this leg's part of the call looks technically.
#[derive(Debug, Clone, Copy)]
struct Shape {
    direction: &'static str,
    action: &'static str,
    result: &'static str,
    reason: &'static str,
    internal_type: &'static str,
    transport: &'static str,
}

fn shape(direction: Direction) -> Shape {
    match direction {
        Direction::Inbound => Shape {
            direction: "Inbound",
            action: "Phone Call",
            result: "Accepted",
            reason: "Accepted",
            internal_type: "LocalNumber",
            transport: "PSTN",
        },
        Direction::Outbound => Shape {
            direction: "Outbound",
            action: "VoIP Call",
            result: "Call connected",
            reason: "Connected",
            internal_type: "Local",
            transport: "PSTN",
        },
    }
}

/// A leg ready to render: its conversation and extension, plus the
/// strings the record and its legs share, formatted once.
#[derive(Debug)]
pub struct Prepared<'a> {
    conversation: &'a Conversation,
    leg: &'a Leg,
    ext: &'a Extension,
    start_time: String,
    ext_id: String,
    ext_uri: String,
    /// `(uri, contentUri)` of the recording.
    recording: Option<(String, String)>,
}

/// Prepares the record of `leg` (`None` if its extension is unknown).
pub fn prepare<'a>(ctx: &Ctx<'a>, c: &'a Conversation, leg: &'a Leg) -> Option<Prepared<'a>> {
    let ext = ctx.world.extensions.get(leg.extension)?;
    let account = ctx.world.account.id;
    Some(Prepared {
        conversation: c,
        leg,
        ext,
        start_time: iso(leg.start),
        ext_id: ext.id.to_string(),
        ext_uri: format!(
            "{}/extension/{}",
            paths::account_uri(ctx.platform, account),
            ext.id
        ),
        recording: leg.recording.as_ref().map(|r| {
            (
                paths::recording_uri(ctx.platform, account, &r.id),
                paths::content_uri(ctx.media, account, &r.id),
            )
        }),
    })
}

fn base<'a>(p: &'a Prepared<'a>, s: Shape, billing: bool) -> Base<'a> {
    let (c, leg, ext) = (p.conversation, p.leg, p.ext);
    let (from, to) = match c.script.direction {
        Direction::Inbound => (external_party(c), ext_party(ext, &p.ext_id)),
        Direction::Outbound => (ext_party(ext, &p.ext_id), external_party(c)),
    };
    let session = c.sessions.get(leg.session);
    let transfer_target = (leg.handoff == Handoff::AttendedTransfer)
        .then(|| c.sessions.get(leg.session + 1))
        .flatten()
        .map(|s| SessionRef {
            telephony_session_id: &s.telephony_session_id,
        });
    let transferee = leg
        .session
        .checked_sub(1)
        .and_then(|i| c.sessions.get(i))
        .map(|s| SessionRef {
            telephony_session_id: &s.telephony_session_id,
        });
    let ms = (leg.end - leg.start).num_milliseconds().max(0);
    Base {
        start_time: &p.start_time,
        duration: (ms + 500) / 1000,
        duration_ms: ms,
        kind: "Voice",
        internal_type: s.internal_type,
        direction: s.direction,
        action: s.action,
        result: s.result,
        reason: s.reason,
        to,
        from,
        extension: ExtensionRef {
            uri: &p.ext_uri,
            id: ext.id,
        },
        recording: leg.recording.as_ref().zip(p.recording.as_ref()).map(
            |(r, (uri, content_uri))| RecordingRef {
                uri,
                id: &r.id,
                kind: r.kind.as_str(),
                content_uri,
            },
        ),
        short_recording: leg.short_recording.then_some(true),
        telephony_session_id: session
            .map(|s| s.telephony_session_id.as_str())
            .unwrap_or(""),
        party_id: &leg.party_id,
        transfer_target,
        transferee,
        transport: s.transport,
        billing: billing.then_some(Billing {
            cost_included: 0.0,
            cost_purchased: 0.0,
        }),
    }
}

/// Renders a prepared record.
pub fn record<'a>(ctx: &Ctx<'_>, p: &'a Prepared<'a>) -> Record<'a> {
    let (c, leg) = (p.conversation, p.leg);
    let detailed = ctx.view == View::Detailed;
    let s = shape(c.script.direction);
    let legs = detailed.then(|| {
        let first = c.legs.first().is_some_and(|f| std::ptr::eq(f, leg));
        let master_type = match (first, c.script.direction) {
            (false, _) => "TransferCall",
            (true, Direction::Inbound) => "Accept",
            (true, Direction::Outbound) => "SipToPstnMetered",
        };
        let mut legs = vec![LegInfo {
            base: base(p, s, true),
            leg_type: master_type,
            master: true,
        }];
        if c.script.direction == Direction::Inbound {
            let voip = Shape {
                direction: "Outbound",
                action: "VoIP Call",
                transport: "VoIP",
                ..s
            };
            legs.push(LegInfo {
                base: base(p, voip, true),
                leg_type: "PstnToSip",
                master: false,
            });
        }
        legs
    });
    Record {
        uri: format!(
            "{}/{}?view={}",
            ctx.call_log_uri,
            leg.call_record_id,
            ctx.view.as_str()
        ),
        id: &leg.call_record_id,
        session_id: c
            .sessions
            .get(leg.session)
            .map(|s| s.session_id.as_str())
            .unwrap_or(""),
        base: base(p, s, detailed),
        last_modified_time: detailed.then(|| iso(c.end + ctx.lag)),
        legs,
    }
}
