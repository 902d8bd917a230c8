//! The bearer check every other route uses: which token a request presents,
//! and what it stands for.

use axum::http::{HeaderMap, header};

use super::tokens::{Grant, TokenRejection};
use crate::errors::ApiError;
use crate::state::AppState;

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
/// returns its owner and scope, or RingCentral's 401.
pub fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    query_token: Option<&str>,
) -> Result<Grant, ApiError> {
    let token =
        presented_token(headers, query_token)?.ok_or_else(ApiError::missing_authorization)?;
    state
        .tokens()
        .check_access(token, state.clock().now())
        .map_err(TokenRejection::into_api_error)
}
