//! OAuth: the JWT bearer grant, refresh-token rotation, revocation, and the
//! bearer check every other route uses.
//!
//! Tokens are opaque random strings kept in memory. Every grant opens a
//! session; a refresh rotates both tokens inside it; a revoke kills the
//! session. Lifetimes run on the sandbox clock.
//!
//! Refresh grace: after a refresh, the old refresh token keeps
//! answering with the *same* new token pair until the new access token has
//! been used for [`AuthConfig::refresh_grace_secs`], or — if the new access
//! token is never used — for [`AuthConfig::unused_refresh_grace_secs`].
//! After that it is `invalid_grant` OAU-213.
//!
//! # Parts
//! - [`tokens`]: the in-memory [`TokenStore`] and token lifetimes ([`AuthConfig`]);
//!   knows nothing of the server state or the routes, so the state can hold it.
//! - [`bearer`]: the bearer check every other route uses.
//! - [`routes`]: `POST /restapi/oauth/token` and `/revoke`.

pub mod bearer;
pub mod routes;
pub mod tokens;

pub use crate::identity::TokenOwner;
pub use bearer::{authenticate, presented_token};
pub use routes::routes;
pub use tokens::{AuthConfig, Grant, JWT_GRANT, TokenInfo, TokenRejection, TokenStore};
