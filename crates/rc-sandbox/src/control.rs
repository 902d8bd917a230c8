//! The `/sandbox/` control API (not part of RingCentral): scripted calls,
//! live traffic, clock, faults, and the ground truth.
//!
//! STUB — to be completed by the live owner.

use axum::Router;

use crate::state::AppState;

/// `/sandbox/…` routes on the platform base.
pub fn routes() -> Router<AppState> {
    Router::new()
}
