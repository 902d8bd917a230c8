//! `GET /calls`: conversations newest first, filtered and paginated.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Html;
use chrono::{NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use vault::ConversationState;
use vault::search::{ConversationFilter, StateFilter};

use crate::web::auth::CurrentUser;
use crate::web::error::AppError;
use crate::web::state::AppState;
use crate::web::view::{self, Nav};

/// Rows per page.
pub const PAGE_SIZE: u32 = 25;

/// The calls page's query string, as typed (empty fields mean "any").
/// The eDiscovery export takes the same fields, from its form or flags.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct CallsQuery {
    /// Search box: a number, a name or an id.
    pub q: String,
    /// First day, YYYY-MM-DD.
    pub from: String,
    /// Last day, YYYY-MM-DD.
    pub to: String,
    /// Minutes east of UTC at the `from` day's midnight in the viewer's
    /// zone (sent by `assets/time.js`; absent: UTC).
    pub from_offset: String,
    /// The same at the midnight that ends the `to` day.
    pub to_offset: String,
    /// An extension id.
    pub extension: String,
    /// A party's number or name.
    pub party: String,
    /// `Inbound` or `Outbound`.
    pub direction: String,
    /// A state name (`stitched`, `failed`, …).
    pub state: String,
    /// Page number (the export ignores it).
    #[serde(skip_serializing)]
    pub page: Option<u64>,
}

struct Row {
    id: String,
    started: String,
    started_iso: String,
    from: String,
    to: String,
    direction: String,
    duration: String,
    recordings: u64,
    state: &'static str,
}

#[derive(Template)]
#[template(path = "calls.html")]
struct CallsPage {
    nav: Option<Nav>,
    query: CallsQuery,
    directions: Vec<(&'static str, &'static str)>,
    states: Vec<(&'static str, &'static str)>,
    notes: Vec<String>,
    rows: Vec<Row>,
    page: u64,
    prev_url: Option<String>,
    next_url: Option<String>,
}

const DIRECTIONS: [(&str, &str); 3] = [
    ("", "Any"),
    ("Inbound", "Inbound"),
    ("Outbound", "Outbound"),
];
const STATES: [(&str, &str); 8] = [
    ("", "Any"),
    ("stitched", "Stitched"),
    ("single", "Single leg"),
    ("waiting", "Waiting"),
    ("incomplete", "Incomplete"),
    ("failed", "Failed"),
    ("live", "Live"),
    ("ended", "Ended"),
];

fn non_empty(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

/// The largest UTC offset a zone has (UTC+14), with room; anything larger
/// is not an offset and is ignored.
const MAX_OFFSET_MINUTES: i64 = 18 * 60;

/// Turns the typed query into a catalog filter; unusable values are
/// dropped with a note shown above the results.
pub fn to_filter(q: &CallsQuery, notes: &mut Vec<String>) -> ConversationFilter {
    let mut date = |text: &str, offset: &str, label: &str, end_of_day: bool| {
        let text = non_empty(text)?;
        let offset_minutes = match offset.trim().parse::<i64>() {
            Ok(m) if m.abs() <= MAX_OFFSET_MINUTES => m,
            _ => 0,
        };
        match NaiveDate::parse_from_str(&text, "%Y-%m-%d") {
            Ok(d) => {
                let d = if end_of_day { d.succ_opt()? } else { d };
                let midnight = Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0)?);
                Some(midnight - chrono::Duration::minutes(offset_minutes))
            }
            Err(_) => {
                notes.push(format!(
                    "Ignored the {label} date {text:?}: use YYYY-MM-DD."
                ));
                None
            }
        }
    };
    let from = date(&q.from, &q.from_offset, "from", false);
    let to = date(&q.to, &q.to_offset, "to", true);
    let state = match q.state.as_str() {
        "" => None,
        "failed" => Some(StateFilter::HasFailedRecording),
        "stitched" => Some(StateFilter::Is(ConversationState::Stitched)),
        "single" => Some(StateFilter::Is(ConversationState::Single)),
        "waiting" => Some(StateFilter::Is(ConversationState::Waiting)),
        "incomplete" => Some(StateFilter::Is(ConversationState::Incomplete)),
        "live" => Some(StateFilter::Is(ConversationState::Live)),
        "ended" => Some(StateFilter::Is(ConversationState::Ended)),
        other => {
            notes.push(format!("Ignored the unknown state {other:?}."));
            None
        }
    };
    let direction = match q.direction.as_str() {
        "" => None,
        d @ ("Inbound" | "Outbound") => Some(d.to_owned()),
        other => {
            notes.push(format!("Ignored the unknown direction {other:?}."));
            None
        }
    };
    let party = non_empty(&q.party);
    let party = match party {
        Some(p) if !p.chars().any(char::is_alphanumeric) => {
            notes.push(format!(
                "Ignored the phone number or name {p:?}: type digits or letters."
            ));
            None
        }
        p => p,
    };
    let page = q.page.unwrap_or(1).max(1);
    ConversationFilter {
        from,
        to,
        extension_id: non_empty(&q.extension),
        party,
        direction,
        state,
        text: non_empty(&q.q),
        limit: PAGE_SIZE + 1,
        offset: (page - 1).saturating_mul(u64::from(PAGE_SIZE)),
    }
}

fn page_url(q: &CallsQuery, page: u64) -> String {
    let page = page.to_string();
    let query = view::query([
        ("q", q.q.as_str()),
        ("from", &q.from),
        ("to", &q.to),
        ("from_offset", &q.from_offset),
        ("to_offset", &q.to_offset),
        ("extension", &q.extension),
        ("party", &q.party),
        ("direction", &q.direction),
        ("state", &q.state),
        ("page", &page),
    ]);
    format!("/calls?{query}")
}

/// `GET /calls`.
pub async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(query): Query<CallsQuery>,
) -> Result<Html<String>, AppError> {
    let page = view::page_number(query.page)?;
    let mut notes = Vec::new();
    let filter = to_filter(&query, &mut notes);
    let mut found = state
        .catalog
        .search_conversations(user.scope(), &filter)
        .await?;
    let more = found.len() > PAGE_SIZE as usize;
    found.truncate(PAGE_SIZE as usize);
    let rows = found
        .into_iter()
        .map(|c| {
            let r = c.first_record.as_ref();
            Row {
                id: c.id.to_string(),
                started: view::time(c.started_at.or(r.map(|r| r.start_time))),
                started_iso: view::iso(c.started_at.or(r.map(|r| r.start_time))),
                from: r
                    .map(|r| view::party(r.from_number.as_deref(), r.from_name.as_deref()))
                    .unwrap_or_else(|| "—".into()),
                to: r
                    .map(|r| view::party(r.to_number.as_deref(), r.to_name.as_deref()))
                    .unwrap_or_else(|| "—".into()),
                direction: r
                    .and_then(|r| r.direction.clone())
                    .unwrap_or_else(|| "—".into()),
                duration: view::duration_ms(r.and_then(|r| r.duration_ms)),
                recordings: c.recording_count,
                state: c.state.as_str(),
            }
        })
        .collect();
    let template = CallsPage {
        nav: Some(Nav::new(&user.0, "calls")),
        prev_url: (page > 1).then(|| page_url(&query, page - 1)),
        next_url: more.then(|| page_url(&query, page + 1)),
        query,
        directions: DIRECTIONS.to_vec(),
        states: STATES.to_vec(),
        notes,
        rows,
        page,
    };
    view::render(&template)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_date_range_covers_whole_days_and_bad_dates_are_noted() {
        let q = CallsQuery {
            from: "2026-11-01".into(),
            to: "2026-11-02".into(),
            ..CallsQuery::default()
        };
        let mut notes = vec![];
        let f = to_filter(&q, &mut notes);
        assert_eq!(f.from.unwrap().to_rfc3339(), "2026-11-01T00:00:00+00:00");
        assert_eq!(f.to.unwrap().to_rfc3339(), "2026-11-03T00:00:00+00:00");
        assert!(notes.is_empty());

        let q = CallsQuery {
            from: "yesterday".into(),
            state: "bogus".into(),
            ..CallsQuery::default()
        };
        let f = to_filter(&q, &mut notes);
        assert_eq!((f.from, f.state), (None, None));
        assert_eq!(notes.len(), 2, "{notes:?}");
    }

    #[test]
    fn dates_are_days_in_the_viewers_zone_when_its_offsets_are_sent() {
        // Tokyo (UTC+9) from 1 November; New York's 2 November ends at
        // midnight EST (UTC-5, after the change from EDT on that day).
        let q = CallsQuery {
            from: "2026-11-01".into(),
            from_offset: "540".into(),
            to: "2026-11-01".into(),
            to_offset: "-300".into(),
            ..CallsQuery::default()
        };
        let f = to_filter(&q, &mut vec![]);
        assert_eq!(f.from.unwrap().to_rfc3339(), "2026-10-31T15:00:00+00:00");
        assert_eq!(f.to.unwrap().to_rfc3339(), "2026-11-02T05:00:00+00:00");
        // Not an offset: the day is taken in UTC.
        let q = CallsQuery {
            from: "2026-11-01".into(),
            from_offset: "99999".into(),
            ..CallsQuery::default()
        };
        let f = to_filter(&q, &mut vec![]);
        assert_eq!(f.from.unwrap().to_rfc3339(), "2026-11-01T00:00:00+00:00");
    }
}
