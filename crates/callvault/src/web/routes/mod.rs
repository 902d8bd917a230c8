//! One module per resource; [`router`] wires them together.

use axum::Router;
use axum::response::Redirect;
use axum::routing::{get, post};

use crate::web::state::AppState;

pub mod assets;
pub mod audio;
pub mod audit;
pub mod calls;
pub mod conversation;
pub mod export;
pub mod login;
pub mod records;
pub mod settings;
pub mod status;

/// Every route of the web UI, over `state`. Also what router tests drive
/// with `oneshot`.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::to("/calls") }))
        .route("/login", get(login::form).post(login::submit))
        .route("/logout", post(login::logout))
        .route("/calls", get(calls::list))
        .route("/conversations/{id}", get(conversation::page))
        .route(
            "/conversations/{id}/chapters.vtt",
            get(conversation::chapters),
        )
        .route("/audio/recording/{id}", get(audio::recording))
        .route("/audio/conversation/{id}", get(audio::conversation))
        .route("/status", get(status::page))
        .route("/status/retry", post(status::retry))
        .route("/settings/time-zone", post(settings::set_time_zone))
        .route("/audit", get(audit::page))
        .route("/export", post(export::export))
        .route("/assets/{file}", get(assets::file))
        .merge(records::routes())
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// Renders an askama template into an HTML response, or an internal error.
pub(crate) fn render<T: askama::Template>(
    template: &T,
) -> Result<axum::response::Html<String>, crate::web::error::AppError> {
    template
        .render()
        .map(axum::response::Html)
        .map_err(|e| anyhow::Error::new(e).context("rendering a template").into())
}
