//! The door every RingCentral route goes through: apply the server faults,
//! authenticate the bearer token, count the request against its rate-limit
//! group, and hand back the `X-Rate-Limit-*` headers for the response.
//!
//! Order (as a gateway would): 5xx faults → revoke-token fault → 401 →
//! rate limit. 401s carry no rate headers. With rate limits switched off
//! (`SandboxConfig::rate_limits = None`) responses carry **no**
//! `X-Rate-Limit-*` headers — the platform does the same for requests that
//! no user-level limit applies to.

pub mod paths;

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::{IntoResponseParts, ResponseParts};

use crate::errors::ApiError;
use crate::faults::Fault;
use crate::identity::TokenOwner;
use crate::permissions::{Permission, PermissionSet};
use crate::ratelimit::{Decision, Group};
use crate::state::AppState;

/// A request that may proceed.
#[derive(Debug, Clone)]
pub struct Admitted {
    /// Whose token it carried.
    pub owner: TokenOwner,
    /// The app permissions its token's `scope` grants.
    pub scope: PermissionSet,
    /// Whether the token's user holds the admin-level company call log.
    pub company_call_log: bool,
    /// Headers to put on the response (`X-Rate-Limit-Group/-Limit/-Remaining/-Window`).
    pub rate_headers: RateHeaders,
}

/// `X-Rate-Limit-*` headers for one response.
#[derive(Debug, Clone, Default)]
pub struct RateHeaders(pub Vec<(&'static str, String)>);

impl IntoResponseParts for RateHeaders {
    type Error = std::convert::Infallible;

    fn into_response_parts(self, mut res: ResponseParts) -> Result<ResponseParts, Self::Error> {
        for (k, v) in self.0 {
            if let Ok(v) = axum::http::HeaderValue::from_str(&v) {
                res.headers_mut().insert(k, v);
            }
        }
        Ok(res)
    }
}

/// `X-Rate-Limit-Group`.
pub const GROUP_HEADER: &str = "x-rate-limit-group";
/// `X-Rate-Limit-Limit`.
pub const LIMIT_HEADER: &str = "x-rate-limit-limit";
/// `X-Rate-Limit-Remaining`.
pub const REMAINING_HEADER: &str = "x-rate-limit-remaining";
/// `X-Rate-Limit-Window`.
pub const WINDOW_HEADER: &str = "x-rate-limit-window";

fn rate_headers(group: Group, limit: u32, remaining: u32, window: u64) -> RateHeaders {
    RateHeaders(vec![
        (GROUP_HEADER, group.header_value().to_owned()),
        (LIMIT_HEADER, limit.to_string()),
        (REMAINING_HEADER, remaining.to_string()),
        (WINDOW_HEADER, window.to_string()),
    ])
}

/// Authenticates and rate-limits one request in `group`. `query_token` is the
/// `access_token` query parameter (accepted on the media host only).
pub fn admit(
    state: &AppState,
    headers: &HeaderMap,
    query_token: Option<&str>,
    group: Group,
) -> Result<Admitted, ApiError> {
    inject_server_faults(state)?;
    if state.faults().strikes(Fault::RevokeToken)
        && let Ok(Some(token)) = crate::auth::presented_token(headers, query_token)
        && state.tokens().revoke(token)
    {
        tracing::info!("fault: revoked the session of a presented token");
    }
    let grant = crate::auth::authenticate(state, headers, query_token)?;
    let rate_headers = limit(state, &grant.owner, group)?;
    Ok(Admitted {
        owner: grant.owner,
        scope: grant.scope,
        company_call_log: state.config().permissions.company_call_log,
        rate_headers,
    })
}

impl Admitted {
    /// The one check of an app permission: `Ok` when the token's `scope`
    /// holds `p`, else RingCentral's 403 `InsufficientPermissions` /
    /// CMN-401 naming `p`. Call it right after [`admit`] (the platform
    /// counts the request against the rate limit before it checks
    /// permissions).
    pub fn require(&self, p: Permission) -> Result<(), ApiError> {
        if self.scope.contains(p) {
            Ok(())
        } else {
            Err(crate::permissions::app_permission_required(p))
        }
    }

    /// The user-level check of the company call log: needed for the
    /// account-level call log and for another extension's
    /// (`extension_id`, when it is not the token owner's). 403 CMN-419
    /// without it.
    pub fn require_company_call_log(&self, extension_id: Option<u64>) -> Result<(), ApiError> {
        let own = extension_id == Some(self.owner.extension_id);
        if own || self.company_call_log {
            Ok(())
        } else {
            Err(crate::permissions::company_call_log_required())
        }
    }
}

/// The `http500` / `http503` faults: an error instead of the response.
pub fn inject_server_faults(state: &AppState) -> Result<(), ApiError> {
    if state.faults().strikes(Fault::Http500) {
        return Err(ApiError::internal());
    }
    if state.faults().strikes(Fault::Http503) {
        return Err(ApiError::unavailable());
    }
    Ok(())
}

/// Counts one request of `owner` in `group`: the rate headers, or the 429
/// CMN-301 with `Retry-After` and the same headers (`Remaining: 0`).
pub fn limit(state: &AppState, owner: &TokenOwner, group: Group) -> Result<RateHeaders, ApiError> {
    let Some(cfg) = state.config().rate_limits.as_ref() else {
        return Ok(RateHeaders::default());
    };
    match state.limiter().check(cfg, owner, group) {
        Decision::Allowed {
            limit,
            remaining,
            window_secs,
        } => Ok(rate_headers(group, limit, remaining, window_secs)),
        Decision::Limited {
            limit,
            window_secs,
            retry_after_secs,
        } => {
            state.observed().rate_limited();
            let mut e = ApiError::rate_exceeded();
            e.headers.push((
                axum::http::header::RETRY_AFTER,
                HeaderValue::from(retry_after_secs),
            ));
            for (k, v) in rate_headers(group, limit, 0, window_secs).0 {
                if let Ok(v) = HeaderValue::from_str(&v) {
                    e.headers.push((HeaderName::from_static(k), v));
                }
            }
            Err(e)
        }
    }
}
