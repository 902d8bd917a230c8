//! The middleware that feeds [`super::Observed`]: each bearer request from
//! its arrival until its response body ends.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use futures::StreamExt;

use crate::state::AppState;

/// One request in flight, until its response body is finished or dropped.
struct InFlight {
    state: AppState,
    token: String,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.state.observed().end(&self.token);
    }
}

/// The bearer token of `req`: the `Authorization` header, else the
/// `access_token` query parameter.
fn bearer(req: &Request) -> Option<String> {
    if let Some(v) = req.headers().get(header::AUTHORIZATION)
        && let Ok(v) = v.to_str()
        && let Some(t) = v.strip_prefix("Bearer ")
    {
        return Some(t.trim().to_owned());
    }
    req.uri().query().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "access_token")
            .map(|(_, v)| v.into_owned())
    })
}

/// Middleware: tracks each bearer request from its arrival until its
/// response body ends (or the client goes away).
pub async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(token) = bearer(&req) else {
        return next.run(req).await;
    };
    state.observed().begin(&token);
    let guard = InFlight {
        state: state.clone(),
        token,
    };
    let response = next.run(req).await;
    let (mut parts, body) = response.into_parts();
    // The stream loses the body's exact size; keep it as the header (never
    // on the statuses that have no body).
    let bodiless = parts.status == StatusCode::NO_CONTENT
        || parts.status == StatusCode::NOT_MODIFIED
        || parts.status.is_informational();
    if let Some(len) = axum::body::HttpBody::size_hint(&body).exact()
        && !bodiless
        && !parts.headers.contains_key(header::CONTENT_LENGTH)
    {
        parts.headers.insert(header::CONTENT_LENGTH, len.into());
    }
    let body = Body::from_stream(body.into_data_stream().map(move |chunk| {
        let _held = &guard;
        chunk
    }));
    Response::from_parts(parts, body)
}
