//! The web UI: browse, search and play recordings with per-user access.
//!
//! # Brief overview
//! * [`state::AppState`] — the catalog, the blob store and cookie policy.
//! * [`auth`] — passwords (argon2), sessions (cookie → hashed token →
//!   `web_sessions`), CSRF tokens and the [`auth::CurrentUser`] extractor.
//! * [`routes`] — one module per resource: login, calls, conversation,
//!   audio (Range), status, audit, assets.
//! * [`error::AppError`] — every failure becomes one response; internal
//!   errors are opaque 500s whose cause chain goes to the log.
//!
//! Access is enforced by the catalog's scoped queries ([`vault::search`]): a
//! conversation or recording a viewer may not see answers 404, exactly like
//! a missing one.

pub mod auth;
pub mod error;
pub mod range;
pub mod routes;
pub mod state;
pub mod view;

pub use routes::router;
