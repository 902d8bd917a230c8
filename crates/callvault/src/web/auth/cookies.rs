//! The two cookies, read and written through axum-extra's [`CookieJar`]:
//! the session and the login form's CSRF token.
//!
//! Both are plain (unsigned) cookies on purpose: the session cookie is a
//! random token the catalog knows only by its hash, and the login CSRF
//! token carries its own HMAC ([`crate::web::auth::login_csrf`]).

use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};

/// The session cookie (a random token; the catalog holds only its hash).
pub const SESSION: &str = "cv_session";
/// The login form's CSRF cookie (double-submit: the form carries the same
/// value, signed by the server).
pub const LOGIN_CSRF: &str = "cv_login_csrf";
/// How long a session lasts.
pub const SESSION_TTL: std::time::Duration = std::time::Duration::from_secs(12 * 3600);

/// The value of cookie `name` in `jar`, if any (an empty value counts as
/// absent: that is what a deleted cookie leaves behind).
pub fn value(jar: &CookieJar, name: &str) -> Option<String> {
    jar.get(name)
        .map(|c| c.value().to_owned())
        .filter(|v| !v.is_empty())
}

/// A cookie with the flags every cookie of ours carries: HttpOnly (no
/// script reads it), SameSite=Lax (no cross-site POST sends it), Path=/,
/// Max-Age `max_age`, and Secure when the site is served over https.
pub fn build(
    name: &'static str,
    value: String,
    max_age: std::time::Duration,
    secure: bool,
) -> Cookie<'static> {
    Cookie::build((name, value))
        .path("/")
        .max_age(cookie_duration(max_age))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .build()
}

/// The cookie that deletes cookie `name` in the browser: empty, Max-Age 0,
/// with the same flags it was set with.
pub fn cleared(name: &'static str, secure: bool) -> Cookie<'static> {
    build(name, String::new(), std::time::Duration::ZERO, secure)
}

fn cookie_duration(d: std::time::Duration) -> cookie::time::Duration {
    cookie::time::Duration::seconds(i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderMap;
    use axum::http::header::COOKIE;

    #[test]
    fn a_cookie_is_found_among_others_and_an_empty_one_is_absent() {
        let mut h = HeaderMap::new();
        h.insert(
            COOKIE,
            "a=1; cv_session=tok; b=2; cv_login_csrf=".parse().unwrap(),
        );
        let jar = CookieJar::from_headers(&h);
        assert_eq!(value(&jar, SESSION).as_deref(), Some("tok"));
        assert_eq!(value(&jar, LOGIN_CSRF), None);
        assert_eq!(value(&jar, "missing"), None);
    }

    #[test]
    fn set_cookie_carries_the_security_attributes_and_lifetime() {
        let c = build(SESSION, "v".into(), SESSION_TTL, true);
        assert_eq!(c.http_only(), Some(true));
        assert_eq!(c.same_site(), Some(SameSite::Lax));
        assert_eq!(c.secure(), Some(true));
        assert_eq!(c.path(), Some("/"));
        assert_eq!(c.max_age().map(|d| d.whole_seconds()), Some(12 * 3600));
        let plain = build(SESSION, "v".into(), SESSION_TTL, false).to_string();
        assert!(!plain.contains("Secure"), "{plain}");
        let gone = cleared(LOGIN_CSRF, false);
        assert_eq!(
            (gone.value(), gone.max_age().map(|d| d.whole_seconds())),
            ("", Some(0))
        );
    }
}
