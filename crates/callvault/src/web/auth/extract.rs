//! Extractors that require a login (and, for admin pages, the admin role).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum_extra::extract::cookie::CookieJar;
use vault::search::Scope;
use vault::users::{Role, WebSession};

use crate::web::auth::cookies;
use crate::web::auth::tokens;
use crate::web::error::AppError;
use crate::web::state::AppState;

/// The logged-in user of this request, with their session. Without a valid
/// session the request is redirected to the login page. The session is
/// looked up once per request and kept in its extensions, so a handler
/// taking both [`AdminUser`] and a [`crate::web::auth::CsrfForm`] costs one
/// query.
#[derive(Debug, Clone)]
pub struct CurrentUser(pub WebSession);

impl CurrentUser {
    /// What this user may see.
    pub fn scope(&self) -> Scope {
        Scope::of(&self.0.user)
    }
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        if let Some(known) = parts.extensions.get::<CurrentUser>() {
            return Ok(known.clone());
        }
        let next = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_else(|| "/".into());
        let jar = CookieJar::from_headers(&parts.headers);
        let Some(token) = cookies::value(&jar, cookies::SESSION) else {
            return Err(AppError::LoginRequired { next });
        };
        match state
            .catalog
            .web_session(&tokens::token_hash(&token), state.session_idle)
            .await?
        {
            Some(session) => {
                let user = CurrentUser(session);
                parts.extensions.insert(user.clone());
                Ok(user)
            }
            None => Err(AppError::LoginRequired { next }),
        }
    }
}

/// A logged-in admin. Anyone else gets 404, as if the page did not exist.
#[derive(Debug, Clone)]
pub struct AdminUser(pub WebSession);

impl FromRequestParts<AppState> for AdminUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let CurrentUser(session) = CurrentUser::from_request_parts(parts, state).await?;
        if session.user.role == Role::Admin {
            Ok(AdminUser(session))
        } else {
            Err(AppError::NotFound)
        }
    }
}

/// The client's address, when the server recorded it (for rate limits and
/// the audit log); `None` in router tests.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub Option<SocketAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0),
        ))
    }
}

impl ClientAddr {
    /// The IP as text (`unknown` when absent).
    pub fn ip_text(&self) -> String {
        self.0
            .map(|a| a.ip().to_string())
            .unwrap_or_else(|| "unknown".into())
    }
}
