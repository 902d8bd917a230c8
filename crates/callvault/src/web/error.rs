//! One error type for every handler, turned into a response in one place.

use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Missing, or not visible to this user (indistinguishable on purpose).
    #[error("not found")]
    NotFound,
    /// No valid session: the browser is sent to the login page.
    #[error("login required")]
    LoginRequired {
        /// Where to return after logging in (a local path).
        next: String,
    },
    /// A form came without its CSRF token, or with a wrong one.
    #[error("missing or wrong CSRF token")]
    Csrf,
    /// Too many login attempts for this user or address.
    #[error("too many login attempts")]
    TooManyAttempts,
    /// The server is saturated (e.g. password checks): try again shortly.
    #[error("busy")]
    Busy,
    /// Existed, but was disposed of under a retention rule; the text
    /// (plain, escaped when shown) says when and why.
    #[error("gone: {0}")]
    Gone(String),
    /// The request itself was wrong; the text is shown to the user.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// Anything else; logged with its cause chain, opaque to the client.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<vault::CatalogError> for AppError {
    fn from(e: vault::CatalogError) -> Self {
        AppError::Internal(anyhow::Error::new(e).context("catalog query failed"))
    }
}

impl From<vault::BlobError> for AppError {
    fn from(e: vault::BlobError) -> Self {
        AppError::Internal(anyhow::Error::new(e).context("blob store failed"))
    }
}

/// The page every error answers with; askama escapes `text`, which may
/// quote what the user sent.
#[derive(askama::Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    text: &'a str,
}

fn page(status: StatusCode, title: &str, text: &str) -> Response {
    match askama::Template::render(&ErrorPage { title, text }) {
        Ok(body) => (status, Html(body)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "rendering the error page");
            (status, title.to_owned()).into_response()
        }
    }
}

/// `/login?next=…`: where a request without a session is sent.
fn login_url(next: &str) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("next", next)
        .finish();
    format!("/login?{query}")
}

fn with_retry_after(mut response: Response, seconds: &'static str) -> Response {
    response.headers_mut().insert(
        header::RETRY_AFTER,
        axum::http::HeaderValue::from_static(seconds),
    );
    response
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        match self {
            AppError::NotFound => page(StatusCode::NOT_FOUND, "Not found", "Nothing here."),
            AppError::LoginRequired { next } => {
                let target = login_url(&next);
                ([(header::CACHE_CONTROL, "no-store")], Redirect::to(&target)).into_response()
            }
            AppError::Csrf => page(
                StatusCode::FORBIDDEN,
                "Form expired",
                "The form was missing its security token. Reload the page and try again.",
            ),
            AppError::TooManyAttempts => with_retry_after(
                page(
                    StatusCode::TOO_MANY_REQUESTS,
                    "Too many attempts",
                    "Too many failed logins. Wait a few minutes and try again.",
                ),
                "60",
            ),
            AppError::Busy => with_retry_after(
                page(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Busy",
                    "The server is busy. Try again in a moment.",
                ),
                "2",
            ),
            AppError::Gone(text) => page(StatusCode::GONE, "Disposed of", &text),
            AppError::BadRequest(text) => page(StatusCode::BAD_REQUEST, "Bad request", &text),
            AppError::Internal(e) => {
                tracing::error!(error.cause_chain = ?e, "request failed");
                page(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    "The error was logged.",
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_login_redirect_carries_next_as_one_query_value() {
        assert_eq!(
            login_url("/calls?x=1&y"),
            "/login?next=%2Fcalls%3Fx%3D1%26y"
        );
    }

    #[tokio::test]
    async fn a_message_quoting_the_user_is_escaped() {
        use http_body_util::BodyExt;
        let r = AppError::BadRequest("<script>x</script> & \"q\"".into()).into_response();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let body = r.into_body().collect().await.unwrap().to_bytes();
        let html = String::from_utf8(body.to_vec()).unwrap();
        assert!(!html.contains("<script>"), "{html}");
        assert!(
            html.contains("&#60;script&#62;x&#60;/script&#62; &#38; &#34;q&#34;"),
            "{html}"
        );
        assert!(html.contains("<title>Bad request</title>"), "{html}");
    }
}
