//! OAuth: the JWT bearer grant, refresh-token rotation, revocation, and the
//! bearer check every other route uses (API.md §1.2–1.4).
//!
//! Tokens are opaque random strings kept in memory. Every grant opens a
//! session; a refresh rotates both tokens inside it; a revoke kills the
//! session. Lifetimes run on the sandbox clock.
//!
//! Refresh grace (API.md §1.3): after a refresh, the old refresh token keeps
//! answering with the *same* new token pair until the new access token has
//! been used for [`AuthConfig::refresh_grace_secs`], or — if the new access
//! token is never used — for [`AuthConfig::unused_refresh_grace_secs`].
//! After that it is `invalid_grant` OAU-213.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use serde::Serialize;

use crate::errors::ApiError;
use crate::ratelimit::Group;
use crate::state::AppState;

/// The JWT bearer grant type.
pub const JWT_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// The scope every token of the sandbox app carries.
pub const SCOPE: &str =
    "ReadAccounts ReadCallLog ReadCallRecording CallControl SubscriptionWebhook EditCallLog";

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
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TokenOwner {
    /// Extension id of the token owner (`owner_id`).
    pub extension_id: u64,
    /// The OAuth client id (the "app").
    pub client_id: String,
}

/// The `TokenInfo` body of a successful grant (API.md §1.2).
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
    pub scope: &'static str,
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
    fn into_api_error(self) -> ApiError {
        let code = match self {
            TokenRejection::Invalid => "OAU-149",
            TokenRejection::Expired => "OAU-128",
            TokenRejection::NotFound => "OAU-213",
        };
        ApiError::token_invalid(code, &self.to_string())
    }
}

#[derive(Debug)]
struct Session {
    owner: TokenOwner,
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

    /// Opens a new session for `owner` and issues its first token pair.
    pub fn issue(
        &self,
        owner: TokenOwner,
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
                endpoint_id,
                revoked: false,
            },
        );
        let pair = mint(&mut t, &session_id, now, access_ttl, refresh_ttl);
        info(&t, &session_id, &pair, now)
    }

    /// Checks an access token at `now`, noting its first use.
    pub fn check_access(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<TokenOwner, TokenRejection> {
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
        Ok(session.owner.clone())
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
        scope: SCOPE,
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

/// The bearer token a request presents: `Authorization: Bearer …`, else
/// `query_token`. `Ok(None)` = nothing presented.
pub fn presented_token<'a>(
    headers: &'a HeaderMap,
    query_token: Option<&'a str>,
) -> Result<Option<&'a str>, ApiError> {
    match headers.get(header::AUTHORIZATION) {
        Some(v) => {
            let v = v.to_str().unwrap_or_default();
            let (scheme, rest) = v.split_once(' ').unwrap_or((v, ""));
            if !scheme.eq_ignore_ascii_case("bearer") {
                return Err(ApiError::token_invalid(
                    "OAU-151",
                    "Authorization method not supported",
                ));
            }
            Ok(Some(rest.trim()))
        }
        None => Ok(query_token.filter(|t| !t.is_empty())),
    }
}

/// Checks `Authorization: Bearer …` (or `access_token` query on media) and
/// returns its owner, or RingCentral's 401.
pub fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    query_token: Option<&str>,
) -> Result<TokenOwner, ApiError> {
    let token =
        presented_token(headers, query_token)?.ok_or_else(ApiError::missing_authorization)?;
    state
        .tokens()
        .check_access(token, state.clock().now())
        .map_err(TokenRejection::into_api_error)
}

/// `POST /restapi/oauth/token`, `POST /restapi/oauth/revoke`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/restapi/oauth/token", post(token))
        .route("/restapi/oauth/revoke", post(revoke))
}

fn invalid_client() -> ApiError {
    ApiError::oauth(
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        "OAU-123",
        "Client authentication is required",
    )
}

/// Verifies `Authorization: Basic base64(id:secret)` against the configured app.
fn client_auth(state: &AppState, headers: &HeaderMap) -> Result<TokenOwner, ApiError> {
    let creds = &state.config().credentials;
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(invalid_client)?;
    let (scheme, b64) = value.split_once(' ').ok_or_else(invalid_client)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(invalid_client());
    }
    let decoded = STANDARD
        .decode(b64.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(invalid_client)?;
    let (id, secret) = decoded.split_once(':').ok_or_else(invalid_client)?;
    if id != creds.client_id || secret != creds.client_secret {
        return Err(ApiError::oauth(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "OAU-123",
            "Invalid client credentials",
        ));
    }
    Ok(TokenOwner {
        extension_id: state.admin_extension_id(),
        client_id: id.to_owned(),
    })
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
}

fn unsupported_media_type() -> ApiError {
    ApiError::oauth(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "invalid_request",
        "CMN-415",
        "Unsupported Media Type",
    )
}

fn form_fields(body: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

/// Requested TTL clamped like the platform: above the configured default →
/// the default; below 600 → 600 (or the default, if that is lower).
fn ttl(requested: Option<&String>, default: i64) -> Result<i64, &'static str> {
    match requested {
        None => Ok(default),
        Some(v) => {
            let n: i64 = v.parse().map_err(|_| "invalid")?;
            Ok(n.clamp(600.min(default), default))
        }
    }
}

async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    match token_inner(&state, &headers, &body) {
        Ok((info, rate)) => (rate, Json(info)).into_response(),
        Err(e) => e.into_response(),
    }
}

fn token_inner(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(TokenInfo, crate::gate::RateHeaders), ApiError> {
    crate::gate::inject_server_faults(state)?;
    let owner = client_auth(state, headers)?;
    let rate = crate::gate::limit(state, &owner, Group::Auth)?;
    if !is_form(headers) {
        return Err(unsupported_media_type());
    }
    let f = form_fields(body);
    let cfg = &state.config().auth;
    let invalid = |name: &str| {
        let mut e = ApiError::oauth(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "OAU-101",
            &format!("Parameter [{name}] is invalid"),
        );
        e.body["errors"][0]["parameterName"] = name.into();
        e
    };
    let access_ttl = ttl(f.get("access_token_ttl"), cfg.access_ttl_secs)
        .map_err(|_| invalid("access_token_ttl"))?;
    let refresh_ttl = ttl(f.get("refresh_token_ttl"), cfg.refresh_ttl_secs)
        .map_err(|_| invalid("refresh_token_ttl"))?;
    let now = state.clock().now();
    let info = match f.get("grant_type").map(String::as_str) {
        Some(JWT_GRANT) => {
            let assertion = f.get("assertion").ok_or_else(|| invalid("assertion"))?;
            if *assertion != state.config().credentials.jwt {
                return Err(ApiError::oauth(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "OAU-140",
                    "Invalid assertion",
                ));
            }
            state.tokens().issue(owner, now, access_ttl, refresh_ttl)
        }
        Some("refresh_token") => {
            let rt = f
                .get("refresh_token")
                .ok_or_else(|| invalid("refresh_token"))?;
            state
                .tokens()
                .refresh(rt, &owner.client_id, now, cfg, (access_ttl, refresh_ttl))?
        }
        Some(_) => {
            return Err(ApiError::oauth(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "OAU-251",
                "Unsupported grant type",
            ));
        }
        None => return Err(invalid("grant_type")),
    };
    tracing::debug!(owner = info.owner_id, "token issued");
    Ok((info, rate))
}

#[derive(Debug, serde::Deserialize)]
struct RevokeQuery {
    token: Option<String>,
}

async fn revoke(
    State(state): State<AppState>,
    Query(q): Query<RevokeQuery>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let run = || -> Result<crate::gate::RateHeaders, ApiError> {
        crate::gate::inject_server_faults(&state)?;
        let owner = client_auth(&state, &headers)?;
        let rate = crate::gate::limit(&state, &owner, Group::Auth)?;
        let from_body = if body.is_empty() {
            None
        } else if is_form(&headers) {
            form_fields(&body).remove("token")
        } else {
            return Err(unsupported_media_type());
        };
        let token = from_body.or(q.token).ok_or_else(|| {
            let mut e = ApiError::oauth(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "OAU-101",
                "Parameter [token] is invalid",
            );
            e.body["errors"][0]["parameterName"] = "token".into();
            e
        })?;
        // RFC 7009: an unknown token is not an error.
        let _ = state.tokens().revoke(&token);
        Ok(rate)
    };
    match run() {
        Ok(rate) => (StatusCode::OK, rate, ()).into_response(),
        Err(e) => e.into_response(),
    }
}
