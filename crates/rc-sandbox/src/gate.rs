//! The door every RingCentral route goes through: authenticate the bearer
//! token, apply faults, count the request against its rate-limit group, and
//! hand back the `X-Rate-Limit-*` headers for the response.
//!
//! STUB — to be completed by the REST owner. The signature is the contract
//! other modules (subscriptions, call log, recordings) build on.

use axum::http::HeaderMap;
use axum::response::{IntoResponseParts, ResponseParts};

use crate::auth::TokenOwner;
use crate::errors::ApiError;
use crate::ratelimit::Group;
use crate::state::AppState;

/// A request that may proceed.
#[derive(Debug, Clone)]
pub struct Admitted {
    /// Whose token it carried.
    pub owner: TokenOwner,
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

/// Authenticates and rate-limits one request in `group`. `query_token` is the
/// `access_token` query parameter (accepted on the media host only).
pub fn admit(
    state: &AppState,
    headers: &HeaderMap,
    query_token: Option<&str>,
    group: Group,
) -> Result<Admitted, ApiError> {
    let _ = group;
    let owner = crate::auth::authenticate(state, headers, query_token)?;
    Ok(Admitted {
        owner,
        rate_headers: RateHeaders::default(),
    })
}
