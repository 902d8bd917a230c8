//! Issued tokens and sessions, in memory, on the sandbox clock: grants,
//! refresh rotation with its grace window, revocation.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use serde::Serialize;

use crate::errors::ApiError;
use crate::identity::TokenOwner;
use crate::permissions::PermissionSet;

/// The JWT bearer grant type.
pub const JWT_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// Token lifetimes (sandbox time).
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// Access-token lifetime (production default 3600 s).
    pub access_ttl_secs: i64,
    /// Refresh-token lifetime (production default 604800 s).
    pub refresh_ttl_secs: i64,
    /// How long an already used refresh token still works once the new
    /// access token has been used (production ≈ 10 s).
    pub refresh_grace_secs: i64,
    /// How long an already used refresh token still works while the new
    /// access token has not been used (production up to 60 min).
    pub unused_refresh_grace_secs: i64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            access_ttl_secs: 3600,
            refresh_ttl_secs: 604_800,
            refresh_grace_secs: 10,
            unused_refresh_grace_secs: 3600,
        }
    }
}

/// Who a valid access token belongs to; the rate limiter keys on it.

#[derive(Debug, Clone, Serialize)]
pub struct TokenInfo {
    /// The bearer token.
    pub access_token: String,
    /// Always `"bearer"`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// The refresh token.
    pub refresh_token: String,
    /// Seconds until the refresh token expires.
    pub refresh_token_expires_in: i64,
    /// Space-separated app permissions.
    pub scope: String,
    /// Token owner's extension id.
    pub owner_id: String,
    /// Client instance id.
    pub endpoint_id: String,
    /// OAuth session id.
    pub session_id: String,
}

/// Why a bearer token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenRejection {
    /// Never issued here (OAU-149).
    #[error("OAuth token is invalid")]
    Invalid,
    /// Issued but past its lifetime (OAU-128).
    #[error("Access token expired")]
    Expired,
    /// Revoked or replaced by a refresh (OAU-213).
    #[error("Token not found")]
    NotFound,
}

impl TokenRejection {
    /// RingCentral's 401 for this rejection.
    pub fn into_api_error(self) -> ApiError {
        let code = match self {
            TokenRejection::Invalid => "OAU-149",
            TokenRejection::Expired => "OAU-128",
            TokenRejection::NotFound => "OAU-213",
        };
        ApiError::token_invalid(code, &self.to_string())
    }
}

/// What a valid access token stands for.
#[derive(Debug, Clone)]
pub struct Grant {
    /// Whose token it is.
    pub owner: TokenOwner,
    /// The permissions its `scope` lists.
    pub scope: PermissionSet,
}

#[derive(Debug)]
struct Session {
    owner: TokenOwner,
    scope: PermissionSet,
    endpoint_id: String,
    revoked: bool,
}

#[derive(Debug)]
struct AccessEntry {
    session: String,
    expires: DateTime<Utc>,
    /// Replaced by a refresh.
    superseded: bool,
    first_used: Option<DateTime<Utc>>,
}

#[derive(Debug)]
struct RefreshEntry {
    session: String,
    expires: DateTime<Utc>,
    /// Set once used: when, and the pair it produced.
    used: Option<(DateTime<Utc>, Pair)>,
}

#[derive(Debug, Clone)]
struct Pair {
    access: String,
    refresh: String,
}

#[derive(Debug, Default)]
struct Tokens {
    sessions: HashMap<String, Session>,
    access: HashMap<String, AccessEntry>,
    refresh: HashMap<String, RefreshEntry>,
}

/// Issued tokens and sessions.
#[derive(Debug, Default)]
pub struct TokenStore {
    inner: Mutex<Tokens>,
}

impl TokenStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, Tokens> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Opens a new session for `owner` with `scope` and issues its first
    /// token pair.
    pub fn issue(
        &self,
        owner: TokenOwner,
        scope: PermissionSet,
        now: DateTime<Utc>,
        access_ttl: i64,
        refresh_ttl: i64,
    ) -> TokenInfo {
        let session_id = random_token(12);
        let endpoint_id = random_token(12);
        let mut t = self.lock();
        t.sessions.insert(
            session_id.clone(),
            Session {
                owner,
                scope,
                endpoint_id,
                revoked: false,
            },
        );
        let pair = mint(&mut t, &session_id, now, access_ttl, refresh_ttl);
        info(&t, &session_id, &pair, now)
    }

    /// Checks an access token at `now`, noting its first use.
    pub fn check_access(&self, token: &str, now: DateTime<Utc>) -> Result<Grant, TokenRejection> {
        let mut t = self.lock();
        let Tokens {
            sessions, access, ..
        } = &mut *t;
        let entry = access.get_mut(token).ok_or(TokenRejection::Invalid)?;
        let session = sessions
            .get(&entry.session)
            .ok_or(TokenRejection::NotFound)?;
        if session.revoked || entry.superseded {
            return Err(TokenRejection::NotFound);
        }
        if now >= entry.expires {
            return Err(TokenRejection::Expired);
        }
        entry.first_used.get_or_insert(now);
        Ok(Grant {
            owner: session.owner.clone(),
            scope: session.scope.clone(),
        })
    }

    /// Rotates a refresh token (see the module docs for the grace rules).
    pub fn refresh(
        &self,
        token: &str,
        client_id: &str,
        now: DateTime<Utc>,
        cfg: &AuthConfig,
        ttls: (i64, i64),
    ) -> Result<TokenInfo, ApiError> {
        let mut t = self.lock();
        let not_found = || {
            ApiError::oauth(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "OAU-213",
                "Token not found",
            )
        };
        let (session_id, expires, used) = match t.refresh.get(token) {
            Some(e) => (e.session.clone(), e.expires, e.used.clone()),
            None => {
                return Err(ApiError::oauth(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "OAU-149",
                    "Invalid token",
                ));
            }
        };
        match t.sessions.get(&session_id) {
            Some(s) if !s.revoked && s.owner.client_id == client_id => {}
            _ => return Err(not_found()),
        }
        if now >= expires {
            return Err(ApiError::oauth(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "OAU-210",
                "Token expired",
            ));
        }
        if let Some((used_at, pair)) = used {
            let new_access_used = t.access.get(&pair.access).and_then(|a| a.first_used);
            let valid_until = match new_access_used {
                Some(first) => first + Duration::seconds(cfg.refresh_grace_secs),
                None => used_at + Duration::seconds(cfg.unused_refresh_grace_secs),
            };
            if now >= valid_until {
                return Err(not_found());
            }
            return Ok(info(&t, &session_id, &pair, now));
        }
        // Supersede the session's live access tokens: "the previous access
        // token is invalidated immediately".
        for a in t.access.values_mut() {
            if a.session == session_id {
                a.superseded = true;
            }
        }
        let pair = mint(&mut t, &session_id, now, ttls.0, ttls.1);
        if let Some(e) = t.refresh.get_mut(token) {
            e.used = Some((now, pair.clone()));
        }
        Ok(info(&t, &session_id, &pair, now))
    }

    /// Revokes the whole session that `token` (access or refresh) belongs
    /// to. Returns false if the token is unknown.
    pub fn revoke(&self, token: &str) -> bool {
        let mut t = self.lock();
        let session = t
            .access
            .get(token)
            .map(|a| a.session.clone())
            .or_else(|| t.refresh.get(token).map(|r| r.session.clone()));
        match session.and_then(|s| t.sessions.get_mut(&s)) {
            Some(s) => {
                s.revoked = true;
                true
            }
            None => false,
        }
    }
}

fn mint(
    t: &mut Tokens,
    session: &str,
    now: DateTime<Utc>,
    access_ttl: i64,
    refresh_ttl: i64,
) -> Pair {
    let pair = Pair {
        access: random_token(32),
        refresh: random_token(32),
    };
    t.access.insert(
        pair.access.clone(),
        AccessEntry {
            session: session.to_owned(),
            expires: now + Duration::seconds(access_ttl),
            superseded: false,
            first_used: None,
        },
    );
    t.refresh.insert(
        pair.refresh.clone(),
        RefreshEntry {
            session: session.to_owned(),
            expires: now + Duration::seconds(refresh_ttl),
            used: None,
        },
    );
    pair
}

fn info(t: &Tokens, session: &str, pair: &Pair, now: DateTime<Utc>) -> TokenInfo {
    let left = |e: Option<DateTime<Utc>>| e.map(|e| (e - now).num_seconds().max(0)).unwrap_or(0);
    let s = t.sessions.get(session);
    TokenInfo {
        access_token: pair.access.clone(),
        token_type: "bearer",
        expires_in: left(t.access.get(&pair.access).map(|a| a.expires)),
        refresh_token: pair.refresh.clone(),
        refresh_token_expires_in: left(t.refresh.get(&pair.refresh).map(|r| r.expires)),
        scope: s.map(|s| s.scope.scope()).unwrap_or_default(),
        owner_id: s
            .map(|s| s.owner.extension_id.to_string())
            .unwrap_or_default(),
        endpoint_id: s.map(|s| s.endpoint_id.clone()).unwrap_or_default(),
        session_id: session.to_owned(),
    }
}

/// An opaque random token: `bytes` random bytes, URL-safe base64.
fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}
