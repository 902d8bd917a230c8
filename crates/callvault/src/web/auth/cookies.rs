//! Reading and writing the two cookies: the session and the login form's
//! CSRF token.

use axum::http::HeaderMap;
use axum::http::header::COOKIE;

/// The session cookie (a random token; the catalog holds only its hash).
pub const SESSION: &str = "cv_session";
/// The login form's CSRF cookie (double-submit: the form carries the same
/// value, signed by the server).
pub const LOGIN_CSRF: &str = "cv_login_csrf";
/// How long a session lasts.
pub const SESSION_TTL: std::time::Duration = std::time::Duration::from_secs(12 * 3600);

/// The value of cookie `name` in the request, if any (parsed by the
/// `cookie` crate; an empty value counts as absent).
pub fn get(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_owned())
        .filter(|v| !v.is_empty())
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, Path=/, and Secure when
/// asked; `max_age` 0 deletes the cookie.
pub fn set(name: &str, value: &str, max_age_secs: u64, secure: bool) -> String {
    format!(
        "{name}={value}; Path=/; Max-Age={max_age_secs}; HttpOnly; SameSite=Lax{}",
        if secure { "; Secure" } else { "" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(COOKIE, "a=1; cv_session=tok; b=2".parse().unwrap());
        assert_eq!(get(&h, SESSION).as_deref(), Some("tok"));
        assert_eq!(get(&h, "missing"), None);
    }

    #[test]
    fn set_cookie_carries_the_security_attributes() {
        let c = set(SESSION, "v", 60, true);
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Lax") && c.ends_with("; Secure"));
        assert!(!set(SESSION, "v", 60, false).contains("Secure"));
    }
}
