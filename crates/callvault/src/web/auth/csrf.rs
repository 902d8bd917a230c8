//! CSRF checks as extractors: a handler takes its form through one of
//! these, so it cannot read a form whose token was not checked.
//!
//! * [`CsrfForm<T>`]: a logged-in user's form. Its `csrf` field must equal
//!   the session's token (pages put it in every form).
//! * [`LoginCsrfForm<T>`]: the login form, before any session. Its `csrf`
//!   field and the [`cookies::LOGIN_CSRF`] cookie must be the same token,
//!   signed by this server ([`crate::web::auth::login_csrf`]).
//!
//! Both read the body once, check the token, and only then deserialize `T`
//! (with axum's [`Form`], so a malformed form is refused as before). `T`
//! need not name the `csrf` field: serde skips fields `T` does not declare.
//! A refused token answers [`AppError::Csrf`] (403) before `T` is parsed.

use axum::Form;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::secret_token::same_secret;
use crate::web::auth::cookies;
use crate::web::auth::extract::CurrentUser;
use crate::web::error::AppError;
use crate::web::state::AppState;

/// The form field every form carries its token in.
pub const FIELD: &str = "csrf";

/// A logged-in user's form `T`, accepted only if its `csrf` field is the
/// session's token. Without a session the request is sent to the login
/// page, as [`CurrentUser`] does.
#[derive(Debug, Clone)]
pub struct CsrfForm<T>(pub T);

/// The login form `T`, accepted only if its `csrf` field and the login
/// CSRF cookie are the same token, made by this server and still fresh.
#[derive(Debug, Clone)]
pub struct LoginCsrfForm<T>(pub T);

/// A form with nothing but its token (logout, retry).
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct NoFields {}

impl<T: DeserializeOwned + Send> FromRequest<AppState> for CsrfForm<T> {
    /// A login redirect, a 403, or axum's answer to a malformed form.
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        // Cached in the request by an earlier `CurrentUser`/`AdminUser`.
        let CurrentUser(session) = CurrentUser::from_request_parts(&mut parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let form = Submitted::read(parts, body, state).await?;
        let submitted = form.field(FIELD).unwrap_or_default();
        if !same_secret(session.csrf_token.as_bytes(), submitted.as_bytes()) {
            return Err(AppError::Csrf.into_response());
        }
        form.parse(state).await.map(CsrfForm)
    }
}

impl<T: DeserializeOwned + Send> FromRequest<AppState> for LoginCsrfForm<T> {
    /// A 403, or axum's answer to a malformed form.
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let (parts, body) = req.into_parts();
        let cookie = cookies::value(
            &CookieJar::from_headers(&parts.headers),
            cookies::LOGIN_CSRF,
        );
        let form = Submitted::read(parts, body, state).await?;
        if !state
            .login_csrf
            .accepts(cookie.as_deref(), form.field(FIELD).as_deref())
        {
            return Err(AppError::Csrf.into_response());
        }
        form.parse(state).await.map(LoginCsrfForm)
    }
}

/// A request's head and its whole body (read within the router's body
/// limit), so the token can be read before the form is deserialized.
struct Submitted {
    parts: Parts,
    body: Bytes,
}

impl Submitted {
    async fn read(parts: Parts, body: Body, state: &AppState) -> Result<Submitted, Response> {
        let request = Request::from_parts(parts.clone(), body);
        let body = Bytes::from_request(request, state)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(Submitted { parts, body })
    }

    /// The first value of form field `name`, decoded.
    fn field(&self, name: &str) -> Option<String> {
        form_urlencoded::parse(&self.body)
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    }

    /// The body as form `T`, exactly as axum's [`Form`] reads it (content
    /// type checked, errors answered 415/422).
    async fn parse<T: DeserializeOwned>(self, state: &AppState) -> Result<T, Response> {
        let request = Request::from_parts(self.parts, Body::from(self.body));
        let Form(form) = Form::<T>::from_request(request, state)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(form)
    }
}
