//! `GET/POST /login` and `POST /logout`.
//!
//! The login form is protected by a double-submit CSRF token (a cookie and a
//! hidden field that must match), because there is no session yet. Failed
//! logins are counted per user name and per client address; past the limit
//! the form answers 429 without checking the password.

use std::time::Duration;

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::web::auth::{ClientAddr, CurrentUser, cookies, csrf, password, tokens};
use crate::web::error::AppError;
use crate::web::state::AppState;
use crate::web::view::Nav;

/// Failed logins allowed per user name within [`WINDOW`].
pub const MAX_FAILURES_PER_USER: u32 = 5;
/// Failed logins allowed per client address within [`WINDOW`].
pub const MAX_FAILURES_PER_ADDRESS: u32 = 20;
/// The rate-limit window.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    nav: Option<Nav>,
    csrf: String,
    next: String,
    username: String,
    message: Option<String>,
}

/// Query of the login page.
#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

/// The login form's fields.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    csrf: Option<String>,
    next: Option<String>,
}

/// A local path to return to after login, or `/calls`.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_owned(),
        _ => "/calls".to_owned(),
    }
}

fn form_page(
    state: &AppState,
    next: &str,
    username: &str,
    message: Option<String>,
) -> Result<Response, AppError> {
    let token = tokens::new_token();
    let page = LoginPage {
        nav: None,
        csrf: token.clone(),
        next: next.to_owned(),
        username: username.to_owned(),
        message,
    };
    let cookie = cookies::set(cookies::LOGIN_CSRF, &token, 3600, state.secure_cookies);
    Ok((
        [
            (header::SET_COOKIE, cookie),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        super::render(&page)?,
    )
        .into_response())
}

/// `GET /login`: the form, with a fresh CSRF token.
pub async fn form(
    State(state): State<AppState>,
    Query(query): Query<LoginQuery>,
) -> Result<Response, AppError> {
    form_page(&state, &safe_next(query.next.as_deref()), "", None)
}

/// `POST /login`: checks CSRF, the rate limit and the password; on success
/// starts a session and redirects to `next`.
pub async fn submit(
    State(state): State<AppState>,
    client: ClientAddr,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, AppError> {
    csrf::check(
        cookies::get(&headers, cookies::LOGIN_CSRF),
        form.csrf.as_deref(),
    )?;
    let next = safe_next(form.next.as_deref());
    if form.username.len() > 128 || form.password.len() > 1024 {
        return Err(AppError::BadRequest(
            "user name or password too long".into(),
        ));
    }
    let user_key = format!("user:{}", form.username);
    let ip_key = format!("ip:{}", client.ip_text());
    let catalog = &state.catalog;
    if catalog.login_failures(&user_key, WINDOW).await? >= MAX_FAILURES_PER_USER
        || catalog.login_failures(&ip_key, WINDOW).await? >= MAX_FAILURES_PER_ADDRESS
    {
        tracing::warn!(user = %form.username, client = %ip_key, "login refused: too many attempts");
        return Err(AppError::TooManyAttempts);
    }
    let user = catalog.user_by_name(&form.username).await?;
    let phc = user.as_ref().map(|u| u.password_hash.clone());
    let password = form.password;
    let ok =
        tokio::task::spawn_blocking(move || password::verify_password(&password, phc.as_deref()))
            .await
            .map_err(|e| anyhow::Error::new(e).context("password check panicked"))?;
    let Some(user) = user.filter(|_| ok) else {
        catalog.record_login_failure(&user_key, WINDOW).await?;
        catalog.record_login_failure(&ip_key, WINDOW).await?;
        tracing::info!(user = %form.username, "login failed");
        return form_page(
            &state,
            &next,
            &form.username,
            Some("Wrong user name or password.".into()),
        );
    };
    catalog.clear_login_failures(&user_key).await?;
    let token = tokens::new_token();
    catalog
        .create_web_session(
            &tokens::token_hash(&token),
            user.id,
            &tokens::new_token(),
            cookies::SESSION_TTL,
        )
        .await?;
    tracing::info!(user = %user.name, "logged in");
    let mut response = Redirect::to(&next).into_response();
    let headers = response.headers_mut();
    for cookie in [
        cookies::set(
            cookies::SESSION,
            &token,
            cookies::SESSION_TTL.as_secs(),
            state.secure_cookies,
        ),
        cookies::set(cookies::LOGIN_CSRF, "", 0, state.secure_cookies),
    ] {
        let value = HeaderValue::from_str(&cookie)
            .map_err(|e| anyhow::Error::new(e).context("building a cookie"))?;
        headers.append(header::SET_COOKIE, value);
    }
    Ok(response)
}

/// The logout form's fields.
#[derive(Debug, Deserialize)]
pub struct LogoutForm {
    csrf: Option<String>,
}

/// `POST /logout`: ends the session (CSRF-checked) and clears the cookie.
pub async fn logout(
    State(state): State<AppState>,
    CurrentUser(session): CurrentUser,
    headers: HeaderMap,
    Form(form): Form<LogoutForm>,
) -> Result<Response, AppError> {
    csrf::check(Some(&session.csrf_token), form.csrf.as_deref())?;
    if let Some(token) = cookies::get(&headers, cookies::SESSION) {
        state
            .catalog
            .delete_web_session(&tokens::token_hash(token))
            .await?;
    }
    Ok((
        [(
            header::SET_COOKIE,
            cookies::set(cookies::SESSION, "", 0, state.secure_cookies),
        )],
        Redirect::to("/login"),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_local_paths_are_followed_after_login() {
        assert_eq!(safe_next(Some("/conversations/x")), "/conversations/x");
        assert_eq!(safe_next(Some("//evil.example/")), "/calls");
        assert_eq!(safe_next(Some("https://evil.example/")), "/calls");
        assert_eq!(safe_next(Some("/\\evil")), "/calls");
        assert_eq!(safe_next(None), "/calls");
    }
}
