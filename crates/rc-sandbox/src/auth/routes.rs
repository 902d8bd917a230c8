//! `POST /restapi/oauth/token` (JWT grant, refresh) and
//! `POST /restapi/oauth/revoke`, behind the client's Basic credentials.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::tokens::{JWT_GRANT, TokenInfo};
use crate::errors::ApiError;
use crate::identity::TokenOwner;
use crate::permissions::PermissionSet;
use crate::ratelimit::Group;
use crate::state::AppState;

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
            let scope = requested_scope(state, f.get("scope"))?;
            state
                .tokens()
                .issue(owner, scope, now, access_ttl, refresh_ttl)
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

/// The scope of a new session: the app's permissions, narrowed by the
/// request's optional `scope` field ("default all"). Asking for
/// a permission the app lacks is `invalid_scope` (the `error` value is in
/// the spec's enum; the `errors[]` code is not documented, OAU-116 is ours).
fn requested_scope(
    state: &AppState,
    requested: Option<&String>,
) -> Result<PermissionSet, ApiError> {
    let app = &state.config().permissions.app;
    let Some(requested) = requested.filter(|r| !r.trim().is_empty()) else {
        return Ok(app.clone());
    };
    let invalid_scope = || {
        ApiError::oauth(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "OAU-116",
            "Requested scope is invalid",
        )
    };
    let wanted = PermissionSet::parse(requested).map_err(|_| invalid_scope())?;
    if wanted.intersection(app) != wanted {
        return Err(invalid_scope());
    }
    Ok(wanted)
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
