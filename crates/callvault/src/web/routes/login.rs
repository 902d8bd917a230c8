//! `GET/POST /login` and `POST /logout`.
//!
//! The login form is protected by a double-submit CSRF token (a cookie and
//! a hidden field that must match) signed by the server
//! ([`crate::web::auth::login_csrf`]), because there is no session yet.
//! Every attempt is counted by the throttle ([`crate::web::auth::throttle`])
//! before its password is hashed, and hashing waits its turn in the
//! [`crate::web::auth::password::PasswordGate`]. `next` is followed only
//! when it is a [`LocalPath`].

use std::sync::atomic::Ordering;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;
use vault::audit::{AuditAction, AuditEvent, SubjectKind};
use vault::login_throttle::AttemptReservation;

use crate::secret_token::url_safe_token;
use crate::web::auth::login_csrf::TOKEN_TTL;
use crate::web::auth::password::GateError;
use crate::web::auth::throttle::{AttemptKeys, WINDOW};
use crate::web::auth::{
    ClientAddr, CsrfForm, CurrentUser, LocalPath, LoginCsrfForm, NoFields, cookies, tokens,
};
use crate::web::error::AppError;
use crate::web::state::AppState;
use crate::web::view::{self, Nav};

/// Longest user name accepted.
const MAX_USER_NAME: usize = 128;
/// Longest password accepted (argon2 hashes any length; this bounds work).
const MAX_PASSWORD: usize = 1024;
/// One successful login in this many also deletes expired throttle
/// counters, so names and addresses guessed by others do not pile up.
const PRUNE_ONE_IN: u32 = 50;

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

/// The login form's fields (its CSRF token is checked by
/// [`LoginCsrfForm`]).
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    next: Option<String>,
}

fn form_page(
    state: &AppState,
    next: &LocalPath,
    username: &str,
    message: Option<String>,
) -> Result<Response, AppError> {
    let token = state.login_csrf.issue();
    let page = LoginPage {
        nav: None,
        csrf: token.clone(),
        next: next.as_str().to_owned(),
        username: username.to_owned(),
        message,
    };
    let cookie = cookies::build(cookies::LOGIN_CSRF, token, TOKEN_TTL, state.secure_cookies);
    Ok((
        CookieJar::new().add(cookie),
        [(header::CACHE_CONTROL, "no-store")],
        view::render(&page)?,
    )
        .into_response())
}

/// `GET /login`: the form, with a fresh CSRF token.
pub async fn form(
    State(state): State<AppState>,
    Query(query): Query<LoginQuery>,
) -> Result<Response, AppError> {
    form_page(&state, &LocalPath::or_home(query.next.as_deref()), "", None)
}

/// `POST /login` (CSRF-checked by [`LoginCsrfForm`]): reserves an attempt
/// with the throttle, checks the password; on success starts a session and
/// redirects to `next`.
pub async fn submit(
    State(state): State<AppState>,
    client: ClientAddr,
    LoginCsrfForm(form): LoginCsrfForm<LoginForm>,
) -> Result<Response, AppError> {
    let next = LocalPath::or_home(form.next.as_deref());
    if form.username.len() > MAX_USER_NAME || form.password.len() > MAX_PASSWORD {
        return Err(AppError::BadRequest(
            "user name or password too long".into(),
        ));
    }
    if form.username.chars().any(char::is_control) {
        return Err(AppError::BadRequest(
            "a user name cannot hold control characters".into(),
        ));
    }
    let address = client.ip_text();
    let keys = AttemptKeys::new(&form.username, &address);
    let catalog = &state.catalog;
    if let AttemptReservation::Refused { key } = catalog
        .reserve_login_attempt(&keys.limits(), WINDOW)
        .await?
    {
        state
            .metrics
            .logins_throttled
            .fetch_add(1, Ordering::Relaxed);
        tracing::warn!(user = ?form.username, client = ?address, counter = ?key, "login refused: too many attempts");
        return Err(AppError::TooManyAttempts);
    }
    let user = catalog.user_by_name(&form.username).await?;
    let phc = user.as_ref().map(|u| u.password_hash.clone());
    let ok = match state.passwords.verify(form.password, phc).await {
        Ok(ok) => ok,
        Err(GateError::Busy) => {
            // Not the user's fault: the attempt is not held against them.
            catalog
                .forgive_login_attempt(&[], &keys.limits().each_ref().map(|l| l.key.as_str()))
                .await?;
            state.metrics.logins_shed.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(user = ?form.username, client = ?address, "login shed: password checks saturated");
            return Err(AppError::Busy);
        }
        Err(e) => return Err(anyhow::Error::new(e).into()),
    };
    let Some(user) = user.filter(|_| ok) else {
        tracing::info!(user = ?form.username, client = ?address, "login failed");
        audit_login(catalog, AuditAction::LoginFailed, &form.username, &address).await?;
        return form_page(
            &state,
            &next,
            &form.username,
            Some("Wrong user name or password.".into()),
        );
    };
    catalog
        .forgive_login_attempt(&keys.forget_on_success(), &keys.give_back_on_success())
        .await?;
    if rand::random_ratio(1, PRUNE_ONE_IN) {
        catalog.prune_login_attempts(WINDOW).await?;
    }
    let token = url_safe_token();
    catalog
        .create_web_session(
            &tokens::token_hash(&token),
            user.id,
            &url_safe_token(),
            cookies::SESSION_TTL,
        )
        .await?;
    tracing::info!(user = ?user.name, client = ?address, "logged in");
    audit_login(catalog, AuditAction::Login, &user.name, &address).await?;
    let jar = CookieJar::new()
        .add(cookies::build(
            cookies::SESSION,
            token,
            cookies::SESSION_TTL,
            state.secure_cookies,
        ))
        .add(cookies::cleared(cookies::LOGIN_CSRF, state.secure_cookies));
    Ok((jar, Redirect::to(next.as_str())).into_response())
}

/// `POST /logout` (CSRF-checked by [`CsrfForm`]): ends the session and
/// clears the cookie.
pub async fn logout(
    State(state): State<AppState>,
    CurrentUser(session): CurrentUser,
    client: ClientAddr,
    jar: CookieJar,
    _: CsrfForm<NoFields>,
) -> Result<Response, AppError> {
    if let Some(token) = cookies::value(&jar, cookies::SESSION) {
        state
            .catalog
            .delete_web_session(&tokens::token_hash(&token))
            .await?;
    }
    audit_login(
        &state.catalog,
        AuditAction::Logout,
        &session.user.name,
        &client.ip_text(),
    )
    .await?;
    let jar = CookieJar::new().add(cookies::cleared(cookies::SESSION, state.secure_cookies));
    Ok((jar, Redirect::to("/login")).into_response())
}

/// Puts a login, failed login or logout on the audit trail. A failure to
/// record it fails the request: an unaudited login is worse than none.
async fn audit_login(
    catalog: &vault::Catalog,
    action: AuditAction,
    name: &str,
    client: &str,
) -> Result<(), AppError> {
    catalog
        .append_audit_event(&AuditEvent {
            actor: name.to_owned(),
            action,
            subject_kind: SubjectKind::User,
            subject_id: name.to_owned(),
            details: serde_json::json!({ "client": client }),
        })
        .await?;
    Ok(())
}
