//! Call-log list and single-record routes, account and extension level
//! (API.md §2), rendered from the world model.
//!
//! STUB — to be completed by the REST owner.

use axum::Router;

use crate::state::AppState;

/// Call-log routes on the platform base.
pub fn routes() -> Router<AppState> {
    Router::new()
}
