//! The stylesheet, the player script and the time-zone script, embedded in the binary.

use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::web::error::AppError;

const APP_CSS: &str = include_str!("../../../assets/app.css");
const PLAYER_JS: &str = include_str!("../../../assets/player.js");
const TIME_JS: &str = include_str!("../../../assets/time.js");

/// `GET /assets/{file}`: one of the embedded files.
pub async fn file(Path(file): Path<String>) -> Result<Response, AppError> {
    let (body, content_type) = match file.as_str() {
        "app.css" => (APP_CSS, "text/css; charset=utf-8"),
        "player.js" => (PLAYER_JS, "text/javascript; charset=utf-8"),
        "time.js" => (TIME_JS, "text/javascript; charset=utf-8"),
        _ => return Err(AppError::NotFound),
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        body,
    )
        .into_response())
}
