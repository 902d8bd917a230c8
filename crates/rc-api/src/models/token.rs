//! `POST /restapi/oauth/token` response. Field names are
//! snake_case on this endpoint, unlike the rest of the API.

use crate::secret::Secret;

/// A token grant's answer. `Debug` redacts both tokens.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct TokenInfo {
    /// The bearer token for every other request.
    pub access_token: Secret,
    /// Always `"bearer"`.
    #[serde(default)]
    pub token_type: String,
    /// Seconds the access token lives (use this, never a constant: values
    /// below the nominal TTL occur).
    pub expires_in: u64,
    /// Single-use refresh token, if issued.
    #[serde(default)]
    pub refresh_token: Option<Secret>,
    /// Seconds the refresh token lives.
    #[serde(default)]
    pub refresh_token_expires_in: Option<u64>,
    /// Space-separated app permissions granted.
    #[serde(default)]
    pub scope: Option<String>,
    /// Extension id of the token owner.
    #[serde(default)]
    pub owner_id: Option<String>,
    /// Client instance id.
    #[serde(default)]
    pub endpoint_id: Option<String>,
    /// OAuth session id (required in the current schema, absent from older samples).
    #[serde(default)]
    pub session_id: Option<String>,
}
