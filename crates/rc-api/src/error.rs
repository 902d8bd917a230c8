//! The errors callers branch on.
//!
//! # Not ready or gone?
//! RingCentral answers **404 `CMN-102`** both for a recording whose call has
//! just ended (content is published seconds to minutes later) and for one that
//! was deleted or purged. One response cannot tell them apart, so this client
//! reports every 404 on a recording (metadata or content) as
//! [`Error::NotReady`], and only reports [`Error::Gone`] when the server is
//! explicit (HTTP 410). The caller, who knows when the call ended, turns
//! `NotReady` into "gone" with [`crate::ladder::Ladder`]: a
//! recording id that was in the call log and still answers 404 after the
//! schedule's deadline (default 24 h after the call's end) is gone for good.
//! Subscriptions: a 404 means the subscription no longer exists → `Gone`.

use std::time::Duration;

/// Everything that can go wrong talking to RingCentral. No variant ever
/// carries a token or secret (error bodies are scrubbed before being kept).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server rejected the request with 429 and retries were exhausted;
    /// the group stays blocked in the [`crate::Scheduler`] until `retry_after` has passed.
    #[error("rate limited in group `{group}`: retry after {retry_after:?}")]
    RateLimited {
        /// Rate-limit group (lower-case, as the `X-Rate-Limit-Group` header names it).
        group: String,
        /// How long the group is blocked.
        retry_after: Duration,
    },
    /// 404 on a recording: not published yet (or deleted; see the module doc).
    #[error("recording not available yet (HTTP 404{})", code_suffix(code))]
    NotReady {
        /// RingCentral error code, e.g. `CMN-102`.
        code: Option<String>,
    },
    /// The resource is gone for good (410, or a 404 on a subscription).
    #[error("resource is gone (HTTP {status}{})", code_suffix(code))]
    Gone {
        /// HTTP status.
        status: u16,
        /// RingCentral error code.
        code: Option<String>,
    },
    /// Credentials were refused (401 after one token refresh, or the token
    /// endpoint refused the JWT / client credentials).
    #[error("unauthorized (HTTP {status}{})", code_suffix(code))]
    Unauthorized {
        /// HTTP status (401, or 400 from the token endpoint).
        status: u16,
        /// RingCentral or OAuth error code, e.g. `OAU-213`, `invalid_grant`.
        code: Option<String>,
    },
    /// A URL points at a host that is neither the configured platform nor
    /// media host (nor in `allowed_hosts`): refused before any request, so the
    /// bearer token never leaves for it.
    #[error("refusing to contact host `{host}`: not the configured platform or media host")]
    ForbiddenHost {
        /// The offending host (with port if any).
        host: String,
    },
    /// Network-level failure (connect, reset, timeout). Retryable.
    #[error("transport error: {reason}")]
    Transport {
        /// What failed, with its cause chain.
        reason: String,
    },
    /// Any other unexpected HTTP answer.
    #[error("unexpected HTTP {status}{}: {body_excerpt}", code_suffix(code))]
    Protocol {
        /// HTTP status.
        status: u16,
        /// RingCentral error code (`errors[0].errorCode`).
        code: Option<String>,
        /// The start of the body, scrubbed of secrets.
        body_excerpt: String,
    },
    /// The body ended before `Content-Length` bytes and resuming failed.
    #[error("body truncated: expected {expected} bytes, got {got}")]
    Truncated {
        /// Bytes announced.
        expected: u64,
        /// Bytes received.
        got: u64,
    },
    /// A recording answered with something that is not audio.
    #[error("expected audio content, got `{content_type}`")]
    NotAudio {
        /// The `Content-Type` received (empty if none).
        content_type: String,
    },
    /// A 2xx body that does not parse, or a header that contradicts the request.
    #[error("malformed {what}: {reason}")]
    Malformed {
        /// What was being read.
        what: &'static str,
        /// Why it is wrong.
        reason: String,
    },
    /// A URL or configuration value is unusable.
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// Which value.
        what: &'static str,
        /// Why.
        reason: String,
    },
    /// The download sink refused a write.
    #[error("writing the download failed: {0}")]
    Sink(#[source] std::io::Error),
}

fn code_suffix(code: &Option<String>) -> String {
    code.as_deref()
        .map(|c| format!(", {c}"))
        .unwrap_or_default()
}

impl Error {
    /// True for failures that may succeed if tried again later without any
    /// change: transport errors, truncated bodies, 5xx/408, rate limiting and
    /// not-yet-available recordings.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Transport { .. }
            | Error::Truncated { .. }
            | Error::RateLimited { .. }
            | Error::NotReady { .. } => true,
            Error::Protocol { status, .. } => *status >= 500 || *status == 408,
            _ => false,
        }
    }

    pub(crate) fn transport(e: &reqwest::Error) -> Error {
        Error::Transport {
            reason: error_chain(e),
        }
    }
}

/// `e: cause: cause…` without URLs' query strings (ours never hold secrets,
/// but keep log lines short).
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cur = s.source();
    }
    out
}

/// Result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;
