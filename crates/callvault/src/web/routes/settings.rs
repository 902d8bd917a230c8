//! The viewer's own settings: for now the time zone the pages show times in.
//!
//! The zone is stored per user in the catalog, so it follows the user to any
//! browser; the pages carry it to `assets/time.js`, which renders every
//! `<time>` and the calls page's date filters in it (the browser's own zone
//! while none is set).

use std::str::FromStr;

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;

use crate::web::auth::CsrfForm;
use crate::web::auth::extract::CurrentUser;
use crate::web::error::AppError;
use crate::web::state::AppState;

/// The time-zone form: an IANA name, or empty for the browser's zone.
#[derive(Debug, Deserialize)]
pub struct TimeZoneForm {
    #[serde(default)]
    time_zone: String,
}

/// `POST /settings/time-zone`: stores the viewer's zone after checking it is
/// a zone of the IANA database; answers 204, or 400 naming the bad value.
pub async fn set_time_zone(
    State(state): State<AppState>,
    CurrentUser(session): CurrentUser,
    CsrfForm(form): CsrfForm<TimeZoneForm>,
) -> Result<StatusCode, AppError> {
    let zone = parse_zone(&form.time_zone)?;
    state
        .catalog
        .set_user_time_zone(session.user.id, zone.as_ref().map(|z| z.name()))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An empty value means "the browser's zone"; anything else must name a
/// zone of the IANA database (`Europe/London`, `UTC`).
fn parse_zone(text: &str) -> Result<Option<chrono_tz::Tz>, AppError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    chrono_tz::Tz::from_str(text)
        .map(Some)
        .map_err(|_| AppError::BadRequest(format!("unknown time zone {text:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_of_the_iana_database_are_accepted_and_others_refused_by_name() {
        assert_eq!(parse_zone("").unwrap(), None);
        assert_eq!(
            parse_zone("Asia/Tokyo").unwrap(),
            Some(chrono_tz::Asia::Tokyo)
        );
        assert_eq!(parse_zone(" UTC ").unwrap(), Some(chrono_tz::UTC));
        for bad in [
            "Mars/Olympus",
            "../etc/passwd",
            "Asia/Tokyo\"><script>",
            "x".repeat(300).as_str(),
        ] {
            match parse_zone(bad) {
                Err(AppError::BadRequest(message)) => {
                    assert!(message.contains("unknown time zone"))
                }
                other => panic!("{bad:?} gave {other:?}"),
            }
        }
    }
}
