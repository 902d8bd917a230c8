//! CSRF checks: every state-changing form carries a token that must match
//! the session's (or, for the login form, the login CSRF cookie).

use crate::web::auth::tokens::same_token;
use crate::web::error::AppError;

/// Accepts the form only if `submitted` equals `expected`.
pub fn check(expected: Option<&str>, submitted: Option<&str>) -> Result<(), AppError> {
    match (expected, submitted) {
        (Some(e), Some(s)) if !e.is_empty() && same_token(e, s) => Ok(()),
        _ => Err(AppError::Csrf),
    }
}
