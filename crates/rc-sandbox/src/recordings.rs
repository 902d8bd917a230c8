//! Recording metadata (platform base) and content (media base) with Range,
//! lag and deletion (API.md §3).
//!
//! STUB — to be completed by the REST owner.

use axum::Router;

use crate::state::AppState;

/// Metadata route on the platform base.
pub fn platform_routes() -> Router<AppState> {
    Router::new()
}

/// Content route on the media base.
pub fn media_routes() -> Router<AppState> {
    Router::new()
}
