//! Telephony-session event filters: parsing, `~` resolution
//! and matching against one party-change event.
//!
//! Accepted forms (the `/restapi/v1.0` prefix may be omitted):
//! - `/restapi/v1.0/account/{~|accountId}/telephony/sessions` — every party
//!   of every session of the account;
//! - `/restapi/v1.0/account/{~|accountId}/extension/{~|extensionId}/telephony/sessions`
//!   — only events whose changed party belongs to that extension (what the
//!   real streams show: with both filters, each event arrives once, under the
//!   extension path for extension parties and the account path for the far end).
//!
//! Optional query parameters: `direction=Inbound|Outbound` (the party's
//! direction), `statusCode=<one status>`, `phoneNumber=+E164` (the party's
//! `from` or `to`), `missedCall=true`, `withRecordings=true` (sessions with a
//! kept recording), `sipData=true` (adds `sipData` to parties). Anything else —
//! other event types, `!` negation, unknown parameters or values — is refused
//! with SUB-508.

use crate::telephony::TelephonyEvent;

/// Status codes a `statusCode` filter may name.
const STATUS_CODES: &[&str] = &[
    "Setup",
    "Proceeding",
    "Answered",
    "Disconnected",
    "Gone",
    "Parked",
    "Hold",
    "VoiceMail",
    "FaxReceive",
    "VoiceMailScreening",
];

/// Why a filter was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// Not a telephony-session filter this platform knows (→ 400 SUB-508).
    #[error("invalid event filter {0:?}")]
    Invalid(String),
    /// Names another account (→ 403 SUB-406).
    #[error("event filter {0:?} names another account")]
    OtherAccount(String),
}

/// Which parties a filter covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every party of the account's sessions.
    Account,
    /// Parties owned by this extension id.
    Extension(u64),
}

/// A validated filter with its ids resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventFilter {
    /// Account or extension level.
    pub scope: Scope,
    account_id: u64,
    query: Option<String>,
    direction: Option<String>,
    status_code: Option<String>,
    phone_number: Option<String>,
    missed_call: bool,
    with_recordings: bool,
    /// Whether parties carry `sipData` for this filter.
    pub sip_data: bool,
}

impl EventFilter {
    /// Parses `raw` for a subscription owned by `owner_extension` of
    /// `account_id`; `extension_exists` tells whether a numeric extension id is known.
    pub fn parse(
        raw: &str,
        account_id: u64,
        owner_extension: u64,
        extension_exists: impl Fn(u64) -> bool,
    ) -> Result<EventFilter, FilterError> {
        let invalid = || FilterError::Invalid(raw.to_string());
        let (path, query) = match raw.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (raw, None),
        };
        let path = path.strip_prefix("/restapi/v1.0").unwrap_or(path);
        let parts: Vec<&str> = path.split('/').collect();
        let scope = match parts.as_slice() {
            ["", "account", acc, "telephony", "sessions"] => {
                check_account(acc, account_id, raw)?;
                Scope::Account
            }
            [
                "",
                "account",
                acc,
                "extension",
                ext,
                "telephony",
                "sessions",
            ] => {
                check_account(acc, account_id, raw)?;
                let ext = if *ext == "~" {
                    owner_extension
                } else {
                    ext.parse::<u64>().map_err(|_| invalid())?
                };
                if !extension_exists(ext) {
                    return Err(invalid());
                }
                Scope::Extension(ext)
            }
            _ => return Err(invalid()),
        };
        let mut filter = EventFilter {
            scope,
            account_id,
            query: query.filter(|q| !q.is_empty()).map(str::to_string),
            direction: None,
            status_code: None,
            phone_number: None,
            missed_call: false,
            with_recordings: false,
            sip_data: false,
        };
        for (k, v) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            match (k.as_ref(), v.as_ref()) {
                ("direction", d @ ("Inbound" | "Outbound")) => filter.direction = Some(d.into()),
                ("statusCode", s) if STATUS_CODES.contains(&s) => {
                    filter.status_code = Some(s.into())
                }
                ("phoneNumber", p) if p.starts_with('+') && p.len() > 1 => {
                    filter.phone_number = Some(p.into())
                }
                ("missedCall", b) => filter.missed_call = parse_bool(b).ok_or_else(invalid)?,
                ("withRecordings", b) => {
                    filter.with_recordings = parse_bool(b).ok_or_else(invalid)?
                }
                ("sipData", b) => filter.sip_data = parse_bool(b).ok_or_else(invalid)?,
                _ => return Err(invalid()),
            }
        }
        Ok(filter)
    }

    /// The filter as echoed in responses and used as a notification's
    /// `event`: numeric ids, the query string as given.
    pub fn uri(&self) -> String {
        let base = match self.scope {
            Scope::Account => format!(
                "/restapi/v1.0/account/{}/telephony/sessions",
                self.account_id
            ),
            Scope::Extension(e) => format!(
                "/restapi/v1.0/account/{}/extension/{e}/telephony/sessions",
                self.account_id
            ),
        };
        match &self.query {
            Some(q) => format!("{base}?{q}"),
            None => base,
        }
    }

    /// Whether the event's changed party passes this filter.
    pub fn matches(&self, event: &TelephonyEvent) -> bool {
        let p = &event.party;
        if let Scope::Extension(e) = self.scope
            && p.extension_id != Some(e)
        {
            return false;
        }
        if self.direction.as_deref().is_some_and(|d| d != p.direction) {
            return false;
        }
        if self
            .status_code
            .as_deref()
            .is_some_and(|s| s != p.status_code)
        {
            return false;
        }
        if let Some(n) = &self.phone_number
            && !p.phone_numbers.iter().any(|x| x == n)
        {
            return false;
        }
        if self.missed_call && !p.missed_call {
            return false;
        }
        if self.with_recordings && !event.session_has_recordings {
            return false;
        }
        true
    }
}

fn check_account(segment: &str, account_id: u64, raw: &str) -> Result<(), FilterError> {
    if segment == "~" {
        return Ok(());
    }
    match segment.parse::<u64>() {
        Ok(id) if id == account_id => Ok(()),
        Ok(_) => Err(FilterError::OtherAccount(raw.to_string())),
        Err(_) => Err(FilterError::Invalid(raw.to_string())),
    }
}

fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> Result<EventFilter, FilterError> {
        EventFilter::parse(raw, 111, 222, |e| e == 222 || e == 333)
    }

    #[test]
    fn tilde_resolves_to_numeric_ids_and_query_is_kept() {
        let f = parse("/restapi/v1.0/account/~/extension/~/telephony/sessions?statusCode=Answered")
            .unwrap();
        assert_eq!(
            f.uri(),
            "/restapi/v1.0/account/111/extension/222/telephony/sessions?statusCode=Answered"
        );
        let f = parse("/account/~/telephony/sessions").unwrap();
        assert_eq!(f.uri(), "/restapi/v1.0/account/111/telephony/sessions");
        assert_eq!(f.scope, Scope::Account);
    }

    #[test]
    fn other_event_types_unknown_params_and_foreign_accounts_are_refused() {
        for bad in [
            "/restapi/v1.0/account/~/extension/~/presence",
            "/restapi/v1.0/account/~/telephony/sessions?foo=bar",
            "/restapi/v1.0/account/~/telephony/sessions?statusCode=Ringing",
            "/restapi/v1.0/account/~/extension/999/telephony/sessions",
            "!/restapi/v1.0/account/~/telephony/sessions",
            "",
        ] {
            assert!(matches!(parse(bad), Err(FilterError::Invalid(_))), "{bad}");
        }
        assert!(matches!(
            parse("/restapi/v1.0/account/5/telephony/sessions"),
            Err(FilterError::OtherAccount(_))
        ));
        assert!(parse("/restapi/v1.0/account/111/extension/333/telephony/sessions").is_ok());
    }
}
