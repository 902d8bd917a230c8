//! The web UI: browse, search and play recordings with per-user access.
//!
//! # Brief overview
//! * [`state::AppState`] — the catalog, the blob store, cookie policy, the
//!   login form's signing key and the password-check gate.
//! * [`auth`] — passwords (argon2, bounded), sessions (cookie → hashed
//!   token → `web_sessions`, idle and absolute timeouts), the login
//!   throttle, `next` paths, and the extractors handlers require a login
//!   and a form through: [`auth::CurrentUser`], [`auth::AdminUser`],
//!   [`auth::CsrfForm`] (every POST form) and [`auth::LoginCsrfForm`].
//! * [`routes`] — one module per resource: login, calls, conversation,
//!   audio (Range), status, audit, records, export, assets; every POST
//!   route is listed once ([`routes::form_paths`]).
//! * [`view`] — the page models' formatting helpers and template rendering
//!   (askama escapes every value).
//! * [`error::AppError`] — every failure becomes one response; internal
//!   errors are opaque 500s whose cause chain goes to the log.
//! * [`security_headers`] — CSP, framing, sniffing and referrer headers on
//!   every response.
//! * [`connections`] — the accept loop: header, request and body timeouts
//!   and a connection cap.
//!
//! Access is enforced by the catalog's scoped queries ([`vault::search`]): a
//! conversation or recording a viewer may not see answers 404, exactly like
//! a missing one.

pub mod auth;
pub mod connections;
pub mod error;
pub mod range;
pub mod routes;
pub mod security_headers;
pub mod state;
pub mod view;

pub use routes::router;
