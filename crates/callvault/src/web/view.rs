//! Small formatting helpers shared by the page models, and [`render`],
//! which turns a page model into HTML (askama escapes every value).

use chrono::{DateTime, Utc};

use crate::web::error::AppError;

/// Renders an askama template into an HTML response, or an internal error.
pub fn render<T: askama::Template>(template: &T) -> Result<axum::response::Html<String>, AppError> {
    template
        .render()
        .map(axum::response::Html)
        .map_err(|e| anyhow::Error::new(e).context("rendering a template").into())
}

/// A query string (without `?`) of the non-empty `pairs`, each name and
/// value form-encoded.
pub fn query<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs {
        if !value.is_empty() {
            query.append_pair(name, value);
        }
    }
    query.finish()
}

/// Highest page number a listing accepts. Far beyond any real listing;
/// above it the offset would overflow the database's integer (a 500).
pub const MAX_PAGE: u64 = 1_000_000;

/// The page asked for (1 when absent or 0), or 400 past [`MAX_PAGE`].
pub fn page_number(page: Option<u64>) -> Result<u64, AppError> {
    match page.unwrap_or(1).max(1) {
        p if p <= MAX_PAGE => Ok(p),
        _ => Err(AppError::BadRequest(format!(
            "page numbers stop at {MAX_PAGE}"
        ))),
    }
}

/// A timestamp as shown on pages (UTC, to the second).
pub fn time(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| "—".into())
}

/// A timestamp as `<time datetime>` wants it (RFC 3339, UTC), for the
/// script that shows it in the viewer's zone (`assets/time.js`).
pub fn iso(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

/// A duration in milliseconds as `m:ss` (or `h:mm:ss`).
pub fn duration_ms(ms: Option<i64>) -> String {
    let Some(ms) = ms.filter(|ms| *ms >= 0) else {
        return "—".into();
    };
    let s = ms / 1000;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// A byte count in human units.
pub fn bytes(n: Option<u64>) -> String {
    match n {
        None => "—".into(),
        Some(n) if n < 1024 => format!("{n} B"),
        Some(n) if n < 1024 * 1024 => format!("{:.1} KiB", n as f64 / 1024.0),
        Some(n) => format!("{:.1} MiB", n as f64 / (1024.0 * 1024.0)),
    }
}

/// `number (name)`, or whichever is known.
pub fn party(number: Option<&str>, name: Option<&str>) -> String {
    match (number, name) {
        (Some(n), Some(m)) if !m.is_empty() => format!("{m} ({n})"),
        (Some(n), _) => n.to_owned(),
        (None, Some(m)) => m.to_owned(),
        (None, None) => "—".into(),
    }
}

/// What the navigation bar shows for the logged-in user.
#[derive(Debug, Clone)]
pub struct Nav {
    /// The user's name.
    pub user_name: String,
    /// Whether to show the admin pages.
    pub is_admin: bool,
    /// The session's CSRF token (for the logout form).
    pub csrf: String,
    /// Which page is current (`calls`, `status`, `audit`, `records`).
    pub current: &'static str,
    /// The zone the user chose for times (empty: the browser's own).
    pub time_zone: String,
}

impl Nav {
    /// The navigation of `session` on page `current`.
    pub fn new(session: &vault::users::WebSession, current: &'static str) -> Self {
        Nav {
            user_name: session.user.name.clone(),
            is_admin: session.user.role == vault::users::Role::Admin,
            csrf: session.csrf_token.clone(),
            current,
            time_zone: session.user.time_zone.clone().unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_minutes_and_seconds() {
        assert_eq!(duration_ms(Some(0)), "0:00");
        assert_eq!(duration_ms(Some(61_500)), "1:01");
        assert_eq!(duration_ms(Some(3_723_000)), "1:02:03");
        assert_eq!(duration_ms(None), "—");
    }

    #[test]
    fn a_query_encodes_each_value_and_skips_empty_ones() {
        assert_eq!(
            query([("q", "Dana Caller"), ("to", ""), ("party", "+1 (415)&x=y")]),
            "q=Dana+Caller&party=%2B1+%28415%29%26x%3Dy"
        );
    }
}
