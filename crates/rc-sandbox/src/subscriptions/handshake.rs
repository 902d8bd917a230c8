//! The validation handshake run before a WebHook subscription is created
//!: a POST carrying `Validation-Token`, which the receiver must
//! echo in a 200 response of at most 1024 bytes (headers + body) within the
//! time limit.

use std::time::Duration;

use axum::http::StatusCode;

use crate::errors::ApiError;

/// Why the receiver failed the handshake.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    /// Connection failed or no complete answer within the limit (SUB-521).
    #[error("webhook is not reachable")]
    Unreachable,
    /// Answered 200 without the same `Validation-Token` header (SUB-520).
    #[error("validation token is not returned")]
    TokenNotReturned,
    /// Answered with another status, or more than the size limit (SUB-525).
    #[error("webhook server response is invalid")]
    InvalidResponse,
}

impl HandshakeError {
    /// The 400 RingCentral answers the subscription request with.
    pub fn to_api_error(&self) -> ApiError {
        let (code, message) = match self {
            HandshakeError::Unreachable => ("SUB-521", "WebHook is not reachable"),
            HandshakeError::TokenNotReturned => ("SUB-520", "Validation Token is not returned"),
            HandshakeError::InvalidResponse => ("SUB-525", "WebHook server response is invalid"),
        };
        ApiError::new(StatusCode::BAD_REQUEST, code, code, message)
    }
}

/// Sends the validation request to `address` and checks the answer.
pub async fn validate(
    client: &reqwest::Client,
    address: &str,
    timeout: Duration,
    max_bytes: usize,
) -> Result<(), HandshakeError> {
    let token = uuid::Uuid::new_v4().to_string();
    let exchange = async {
        let mut resp = client
            .post(address)
            .header("Validation-Token", &token)
            .header("Content-Type", "application/json")
            .header("Accept", "application/json")
            .header("User-Agent", super::delivery::USER_AGENT)
            .send()
            .await
            .map_err(|_| HandshakeError::Unreachable)?;
        let mut size: usize = resp
            .headers()
            .iter()
            .map(|(k, v)| k.as_str().len() + v.as_bytes().len() + 4)
            .sum();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|_| HandshakeError::Unreachable)?
        {
            size = size.saturating_add(chunk.len());
            if size > max_bytes {
                break;
            }
        }
        Ok::<_, HandshakeError>((resp.status(), resp.headers().clone(), size))
    };
    let (status, headers, size) = tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| HandshakeError::Unreachable)??;
    if status != reqwest::StatusCode::OK || size > max_bytes {
        return Err(HandshakeError::InvalidResponse);
    }
    let echoed = headers
        .get("Validation-Token")
        .and_then(|v| v.to_str().ok());
    if echoed != Some(token.as_str()) {
        return Err(HandshakeError::TokenNotReturned);
    }
    Ok(())
}
