//! One module per resource; [`router`] wires them together.

use axum::Router;
use axum::response::Redirect;
use axum::routing::{MethodRouter, get, post};

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
    let mut router = Router::new()
        .route("/", get(|| async { Redirect::to("/calls") }))
        .route("/login", get(login::form))
        .route("/calls", get(calls::list))
        .route("/conversations/{id}", get(conversation::page))
        .route(
            "/conversations/{id}/chapters.vtt",
            get(conversation::chapters),
        )
        .route("/audio/recording/{id}", get(audio::recording))
        .route("/audio/conversation/{id}", get(audio::conversation))
        .route("/status", get(status::page))
        .route("/audit", get(audit::page))
        .route("/records", get(records::page))
        .route("/assets/{file}", get(assets::file));
    for (path, handler) in form_routes() {
        router = router.route(path, handler);
    }
    router
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// Every POST route: the path and its handler. Each handler takes its form
/// through [`crate::web::auth::CsrfForm`] (or, for the login form,
/// [`crate::web::auth::LoginCsrfForm`]); [`router`] adds exactly these, and
/// a test walks [`form_paths`] to show a form without its token changes
/// nothing.
fn form_routes() -> [(&'static str, MethodRouter<AppState>); 9] {
    [
        ("/login", post(login::submit)),
        ("/logout", post(login::logout)),
        ("/status/retry", post(status::retry)),
        ("/export", post(export::export)),
        ("/records/rules", post(records::add_rule)),
        ("/records/rules/remove", post(records::remove_rule)),
        ("/records/holds", post(records::place_hold)),
        ("/records/holds/{id}/release", post(records::release_hold)),
        ("/settings/time-zone", post(settings::set_time_zone)),
    ]
}

/// The path of every POST route (axum's `{name}` marks a parameter).
pub fn form_paths() -> Vec<&'static str> {
    form_routes().into_iter().map(|(path, _)| path).collect()
}
