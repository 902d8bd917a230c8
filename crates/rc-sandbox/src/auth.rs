//! OAuth: the JWT bearer grant, refresh-token rotation, revocation, and the
//! bearer check every other route uses (API.md §1.2–1.4).
//!
//! STUB — to be completed by the REST owner.

use axum::Router;
use axum::http::HeaderMap;

use crate::errors::ApiError;
use crate::state::AppState;

/// Token lifetimes (sandbox time).
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// Access-token lifetime (production default 3600 s).
    pub access_ttl_secs: i64,
    /// Refresh-token lifetime (production default 604800 s).
    pub refresh_ttl_secs: i64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            access_ttl_secs: 3600,
            refresh_ttl_secs: 604_800,
        }
    }
}

/// Who a valid access token belongs to; the rate limiter keys on it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TokenOwner {
    /// Extension id of the token owner (`owner_id`).
    pub extension_id: u64,
    /// The OAuth client id (the "app").
    pub client_id: String,
}

/// Issued tokens and sessions.
#[derive(Debug, Default)]
pub struct TokenStore {}

/// Checks `Authorization: Bearer …` (or `access_token` query on media) and
/// returns its owner, or RingCentral's 401.
pub fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    query_token: Option<&str>,
) -> Result<TokenOwner, ApiError> {
    let _ = (headers, query_token);
    Ok(TokenOwner {
        extension_id: state.admin_extension_id(),
        client_id: state.config().credentials.client_id.clone(),
    })
}

/// `POST /restapi/oauth/token`, `POST /restapi/oauth/revoke`.
pub fn routes() -> Router<AppState> {
    Router::new()
}
