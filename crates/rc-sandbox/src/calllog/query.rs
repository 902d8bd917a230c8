//! Query parameters of the call-log list: parsing,
//! validation (400 CMN-101 / CLG-110), defaults and the normalised echo
//! used in `uri` and `navigation`.
//!
//! Multi-valued parameters repeat the key (`type=Voice&type=Fax`); unknown
//! parameters are ignored. `dateFrom` is inclusive and `dateTo` exclusive,
//! so consecutive windows never return a record twice.

use chrono::{DateTime, Duration, SecondsFormat, Utc};

use crate::errors::ApiError;
use crate::model::RecordingKind;

/// Largest `perPage` (`max` means this; larger numbers clamp to it).
pub const MAX_PER_PAGE: u32 = 1000;
/// `perPage` when absent.
pub const DEFAULT_PER_PAGE: u32 = 100;

/// `view`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// Records without `legs`, `lastModifiedTime`, `billing`.
    Simple,
    /// Records with them.
    Detailed,
}

impl View {
    /// The parameter value.
    pub fn as_str(self) -> &'static str {
        match self {
            View::Simple => "Simple",
            View::Detailed => "Detailed",
        }
    }

    /// Parses `view` (default `Simple`).
    pub fn parse(v: Option<&str>) -> Result<View, ApiError> {
        match v {
            None | Some("Simple") => Ok(View::Simple),
            Some("Detailed") => Ok(View::Detailed),
            Some(other) => Err(ApiError::invalid_parameter("view", other)),
        }
    }
}

/// `recordingType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordingFilter {
    /// Only automatically recorded calls.
    Automatic,
    /// Only on-demand recorded calls.
    OnDemand,
    /// Any recorded call.
    All,
}

impl RecordingFilter {
    fn as_str(self) -> &'static str {
        match self {
            RecordingFilter::Automatic => "Automatic",
            RecordingFilter::OnDemand => "OnDemand",
            RecordingFilter::All => "All",
        }
    }

    /// Whether a leg with a recording of `kind` (or none) passes.
    pub fn accepts(self, kind: Option<RecordingKind>) -> bool {
        match (self, kind) {
            (_, None) => false,
            (RecordingFilter::All, Some(_)) => true,
            (RecordingFilter::Automatic, Some(k)) => k == RecordingKind::Automatic,
            (RecordingFilter::OnDemand, Some(k)) => k == RecordingKind::OnDemand,
        }
    }
}

/// A validated call-log list query.
#[derive(Debug, Clone)]
pub struct CallLogQuery {
    /// `view`.
    pub view: View,
    /// `type` values (`Voice`, `Fax`); empty = all.
    pub types: Vec<&'static str>,
    /// `direction` values; empty = both.
    pub directions: Vec<&'static str>,
    /// `transport` values (`PSTN`, `VoIP`); empty = all.
    pub transports: Vec<&'static str>,
    /// `recordingType`, or `All` implied by `withRecording=true`.
    pub recording: Option<RecordingFilter>,
    recording_type_given: Option<RecordingFilter>,
    with_recording: Option<bool>,
    /// `dateFrom` as given.
    pub date_from: Option<DateTime<Utc>>,
    /// `dateTo` as given.
    pub date_to: Option<DateTime<Utc>>,
    /// `sessionId`.
    pub session_id: Option<String>,
    /// `telephonySessionId`.
    pub telephony_session_id: Option<String>,
    /// `extensionNumber`.
    pub extension_number: Option<String>,
    /// `phoneNumber` (E.164 without `+`).
    pub phone_number: Option<String>,
    show_blocked: Option<bool>,
    show_deleted: Option<bool>,
    /// `perPage` after clamping.
    pub per_page: u32,
    /// `page`.
    pub page: u32,
}

/// The date window a query covers.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    /// Inclusive lower bound of `startTime`.
    pub from: Option<DateTime<Utc>>,
    /// Exclusive upper bound of `startTime`.
    pub to: Option<DateTime<Utc>>,
}

fn parse_bool(name: &str, v: &str) -> Result<bool, ApiError> {
    match v {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(ApiError::invalid_parameter(name, v)),
    }
}

fn parse_date(name: &str, v: &str) -> Result<DateTime<Utc>, ApiError> {
    DateTime::parse_from_rfc3339(v)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|_| ApiError::invalid_parameter(name, v))
}

fn one_of(name: &str, v: &str, allowed: &[&'static str]) -> Result<&'static str, ApiError> {
    allowed
        .iter()
        .find(|a| **a == v)
        .copied()
        .ok_or_else(|| ApiError::invalid_parameter(name, v))
}

fn push_unique(list: &mut Vec<&'static str>, v: &'static str) {
    if !list.contains(&v) {
        list.push(v);
    }
}

impl CallLogQuery {
    /// Parses a raw query string.
    pub fn parse(raw: Option<&str>) -> Result<CallLogQuery, ApiError> {
        let mut q = CallLogQuery {
            view: View::Simple,
            types: Vec::new(),
            directions: Vec::new(),
            transports: Vec::new(),
            recording: None,
            recording_type_given: None,
            with_recording: None,
            date_from: None,
            date_to: None,
            session_id: None,
            telephony_session_id: None,
            extension_number: None,
            phone_number: None,
            show_blocked: None,
            show_deleted: None,
            per_page: DEFAULT_PER_PAGE,
            page: 1,
        };
        let pairs = url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes());
        for (k, v) in pairs {
            let v = v.as_ref();
            match k.as_ref() {
                "view" => q.view = View::parse(Some(v))?,
                "type" => push_unique(&mut q.types, one_of("type", v, &["Voice", "Fax"])?),
                "direction" => push_unique(
                    &mut q.directions,
                    one_of("direction", v, &["Inbound", "Outbound"])?,
                ),
                "transport" => push_unique(
                    &mut q.transports,
                    one_of("transport", v, &["PSTN", "VoIP"])?,
                ),
                "recordingType" => {
                    q.recording_type_given = Some(match v {
                        "Automatic" => RecordingFilter::Automatic,
                        "OnDemand" => RecordingFilter::OnDemand,
                        "All" => RecordingFilter::All,
                        _ => return Err(ApiError::invalid_parameter("recordingType", v)),
                    })
                }
                "withRecording" => q.with_recording = Some(parse_bool("withRecording", v)?),
                "showBlocked" => q.show_blocked = Some(parse_bool("showBlocked", v)?),
                "showDeleted" => q.show_deleted = Some(parse_bool("showDeleted", v)?),
                "dateFrom" => q.date_from = Some(parse_date("dateFrom", v)?),
                "dateTo" => q.date_to = Some(parse_date("dateTo", v)?),
                "sessionId" => q.session_id = Some(v.to_owned()),
                "telephonySessionId" => q.telephony_session_id = Some(v.to_owned()),
                "extensionNumber" => q.extension_number = Some(v.to_owned()),
                "phoneNumber" => q.phone_number = Some(v.to_owned()),
                "perPage" => {
                    q.per_page = if v == "max" {
                        MAX_PER_PAGE
                    } else {
                        match v.parse::<u64>() {
                            Ok(n) if n >= 1 => u32::try_from(n.min(u64::from(MAX_PER_PAGE)))
                                .unwrap_or(MAX_PER_PAGE),
                            _ => return Err(ApiError::invalid_parameter("perPage", v)),
                        }
                    }
                }
                "page" => {
                    q.page = match v.parse::<u32>() {
                        Ok(n) if n >= 1 => n,
                        _ => return Err(ApiError::invalid_parameter("page", v)),
                    }
                }
                // metadataCategory and anything unknown: accepted, no effect.
                _ => {}
            }
        }
        if q.session_id.is_some() {
            for (name, given) in [
                ("telephonySessionId", q.telephony_session_id.is_some()),
                ("dateFrom", q.date_from.is_some()),
                ("dateTo", q.date_to.is_some()),
            ] {
                if given {
                    return Err(ApiError::session_id_conflict(name));
                }
            }
        }
        if q.extension_number.is_some()
            && let Some(p) = &q.phone_number
        {
            return Err(ApiError::invalid_parameter("phoneNumber", p));
        }
        q.recording = q
            .recording_type_given
            .or((q.with_recording == Some(true)).then_some(RecordingFilter::All));
        Ok(q)
    }

    /// The window at `now`: `dateTo` default now, `dateFrom` default
    /// `dateTo − 24 h`; with `sessionId` no default window applies.
    pub fn window(&self, now: DateTime<Utc>) -> Window {
        if self.session_id.is_some() {
            return Window {
                from: None,
                to: None,
            };
        }
        let to = self.date_to.unwrap_or(now);
        let from = self.date_from.unwrap_or(to - Duration::hours(24));
        Window {
            from: Some(from),
            to: Some(to),
        }
    }

    /// Index of the first record of the current page.
    pub fn offset(&self) -> usize {
        let page = usize::try_from(self.page).unwrap_or(usize::MAX);
        let per = usize::try_from(self.per_page).unwrap_or(usize::MAX);
        page.saturating_sub(1).saturating_mul(per)
    }

    /// The normalised query string for `page`, defaults included, in the
    /// order of the published examples (`view=…&…&dateFrom=…&dateTo=…&page=…&perPage=…`).
    pub fn echo(&self, window: &Window, page: u32, extension_level: bool) -> String {
        let mut parts: Vec<(&str, String)> = vec![("view", self.view.as_str().to_owned())];
        if extension_level {
            parts.push(("showBlocked", self.show_blocked.unwrap_or(true).to_string()));
        }
        for t in &self.types {
            parts.push(("type", (*t).to_owned()));
        }
        for d in &self.directions {
            parts.push(("direction", (*d).to_owned()));
        }
        for t in &self.transports {
            parts.push(("transport", (*t).to_owned()));
        }
        if let Some(r) = self.recording_type_given {
            parts.push(("recordingType", r.as_str().to_owned()));
        }
        if let Some(w) = self.with_recording {
            parts.push(("withRecording", w.to_string()));
        }
        if let Some(n) = &self.extension_number {
            parts.push(("extensionNumber", n.clone()));
        }
        if let Some(n) = &self.phone_number {
            parts.push(("phoneNumber", n.clone()));
        }
        if let Some(s) = &self.session_id {
            parts.push(("sessionId", s.clone()));
        }
        if let Some(s) = &self.telephony_session_id {
            parts.push(("telephonySessionId", s.clone()));
        }
        if let Some(d) = self.show_deleted {
            parts.push(("showDeleted", d.to_string()));
        }
        if let Some(f) = window.from {
            parts.push(("dateFrom", iso(f)));
        }
        if let Some(t) = window.to {
            parts.push(("dateTo", iso(t)));
        }
        parts.push(("page", page.to_string()));
        parts.push(("perPage", self.per_page.to_string()));
        let mut out = String::with_capacity(200);
        for (i, (k, v)) in parts.iter().enumerate() {
            if i > 0 {
                out.push('&');
            }
            out.push_str(k);
            out.push('=');
            encode_into(&mut out, v);
        }
        out
    }
}

/// `2026-11-25T13:18:27.000Z`: ISO 8601 with milliseconds and `Z`.
pub fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Percent-encodes a query value, keeping `:` readable like the platform does.
fn encode_into(out: &mut String, v: &str) {
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b':') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_simple_view_page_one_and_one_hundred_per_page() {
        let q = CallLogQuery::parse(None).unwrap();
        assert_eq!(q.view, View::Simple);
        assert_eq!((q.page, q.per_page), (1, 100));
    }

    #[test]
    fn per_page_clamps_and_accepts_max() {
        assert_eq!(
            CallLogQuery::parse(Some("perPage=5000")).unwrap().per_page,
            1000
        );
        assert_eq!(
            CallLogQuery::parse(Some("perPage=max")).unwrap().per_page,
            1000
        );
        assert!(CallLogQuery::parse(Some("perPage=0")).is_err());
        assert!(CallLogQuery::parse(Some("perPage=abc")).is_err());
    }

    #[test]
    fn repeated_keys_collect_values() {
        let q = CallLogQuery::parse(Some("direction=Inbound&direction=Outbound")).unwrap();
        assert_eq!(q.directions, vec!["Inbound", "Outbound"]);
    }

    #[test]
    fn echo_keeps_colons_and_encodes_plus() {
        let q = CallLogQuery::parse(Some("phoneNumber=%2B1650")).unwrap();
        let w = Window {
            from: None,
            to: None,
        };
        assert!(q.echo(&w, 1, false).contains("phoneNumber=%2B1650"));
    }
}
