//! The headers every response carries, set in one layer over the whole
//! server (UI, assets, audio, probes and webhook alike).
//!
//! * `Content-Security-Policy`: only this site's own scripts, styles,
//!   images and media; no inline script or style (the pages have none: the
//!   player's timeline is positioned by `player.js`), no plugins, no
//!   `<base>`, forms post only here, and no framing.
//! * `X-Frame-Options: DENY` for browsers that predate `frame-ancestors`.
//! * `X-Content-Type-Options: nosniff`: a blob is never read as a script.
//! * `Referrer-Policy: same-origin`: conversation ids in our URLs are not
//!   sent to other sites.
//!
//! A handler that set one of them itself keeps its own value.

use axum::http::{HeaderName, HeaderValue, header};
use axum::response::Response;

/// The policy: everything from this origin only, nothing inline.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; media-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const HEADERS: [(HeaderName, &str); 4] = [
    (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::REFERRER_POLICY, "same-origin"),
];

/// Adds the security headers to `response` (for `axum::middleware::map_response`).
pub async fn add(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in HEADERS {
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    }
    response
}
