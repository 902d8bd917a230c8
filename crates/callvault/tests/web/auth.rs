use crate::helpers::*;

#[tokio::test]
async fn logged_out_requests_are_redirected_to_the_login_page() {
    // Arrange
    let app = spawn_app().await;
    let c = client();
    // Act / Assert
    for path in [
        "/calls",
        "/conversations/s-convA",
        "/audio/recording/1001",
        "/status",
    ] {
        let r = c.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 303, "{path}");
        let location = r.headers()["location"].to_str().unwrap();
        assert!(location.starts_with("/login?next="), "{path}: {location}");
    }
}

#[tokio::test]
async fn a_login_form_posted_without_its_csrf_token_is_refused() {
    let app = spawn_app().await;
    let c = client();
    // No token at all.
    let r = c
        .post(app.url("/login"))
        .form(&[("username", ADMIN.0), ("password", ADMIN.1)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // A cookie from the form, but a made-up field.
    c.get(app.url("/login")).send().await.unwrap();
    let r = c
        .post(app.url("/login"))
        .form(&[
            ("username", ADMIN.0),
            ("password", ADMIN.1),
            ("csrf", "forged"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(
        r.headers().get("set-cookie").is_none(),
        "no session was started"
    );
}

#[tokio::test]
async fn logout_and_retry_forms_need_the_sessions_csrf_token() {
    let app = spawn_app().await;
    let c = app.logged_in(ADMIN).await;
    let r = c
        .post(app.url("/status/retry"))
        .form(&[("csrf", "nope")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = c
        .post(app.url("/logout"))
        .form(&[("x", "y")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // Still logged in; a proper logout ends the session.
    assert_eq!(app.logout(&c).await.status(), 303);
    assert_eq!(c.get(app.url("/calls")).send().await.unwrap().status(), 303);
}

#[tokio::test]
async fn the_session_cookie_is_http_only_and_same_site_lax() {
    let app = spawn_app().await;
    let c = client();
    let r = app.try_login(&c, ADMIN.0, ADMIN.1).await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/calls");
    let session = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|v| v.starts_with("cv_session="))
        .expect("a session cookie");
    assert!(session.contains("HttpOnly"), "{session}");
    assert!(session.contains("SameSite=Lax"), "{session}");
    assert!(!session.contains("Secure"), "plain http: {session}");
}

#[tokio::test]
async fn a_wrong_password_fails_and_repeated_failures_lock_the_user_out() {
    let app = spawn_app().await;
    let c = client();
    let r = app.try_login(&c, ADMIN.0, "wrong-password").await;
    assert_eq!(r.status(), 200);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("Wrong user name or password")
    );
    for _ in 0..4 {
        assert_eq!(
            app.try_login(&c, ADMIN.0, "wrong-password").await.status(),
            200
        );
    }
    // Five failures: even the right password is now refused.
    let r = app.try_login(&c, ADMIN.0, ADMIN.1).await;
    assert_eq!(r.status(), 429);
    // Another user is not affected.
    assert_eq!(
        app.try_login(&client(), VIEWER_101.0, VIEWER_101.1)
            .await
            .status(),
        303
    );
}

#[tokio::test]
async fn an_unknown_user_cannot_log_in() {
    let app = spawn_app().await;
    let r = app
        .try_login(&client(), "nobody", "whatever-password")
        .await;
    assert_eq!(r.status(), 200);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("Wrong user name or password")
    );
}

#[tokio::test]
async fn a_made_up_login_csrf_pair_is_refused() {
    let app = spawn_app().await;
    // Any client could set both to the same value; only the server's
    // signed tokens count.
    // (`client()` also installs the TLS crypto provider reqwest needs, so
    // this test passes when run alone.)
    let r = client()
        .post(app.url("/login"))
        .header("cookie", "cv_login_csrf=abc")
        .form(&[
            ("username", ADMIN.0),
            ("password", ADMIN.1),
            ("csrf", "abc"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // A token another server signed is refused too.
    let other = spawn_app().await;
    let c = client();
    let html = c
        .get(other.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = csrf_field(&html);
    let r = client()
        .post(app.url("/login"))
        .header("cookie", format!("cv_login_csrf={token}"))
        .form(&[
            ("username", ADMIN.0),
            ("password", ADMIN.1),
            ("csrf", token.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // The server's own pair works.
    assert_eq!(
        app.try_login(&client(), ADMIN.0, ADMIN.1).await.status(),
        303
    );
}

/// Moves every session's last use `minutes` into the past.
async fn age_sessions(app: &TestApp, minutes: i64) {
    use sqlx::Connection;
    let path = app._dir.path().join("catalog.sqlite");
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite:{}", path.display()))
        .await
        .unwrap();
    sqlx::query("UPDATE web_sessions SET last_seen_at = last_seen_at - $1")
        .bind(minutes * 60_000)
        .execute(&mut conn)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_session_idle_past_the_timeout_is_logged_off_and_use_keeps_it() {
    let app = spawn_app().await;
    let c = app.logged_in(VIEWER_101).await;
    // 29 idle minutes: still in, and the request counts as use.
    age_sessions(&app, 29).await;
    assert_eq!(c.get(app.url("/calls")).send().await.unwrap().status(), 200);
    age_sessions(&app, 29).await;
    assert_eq!(c.get(app.url("/calls")).send().await.unwrap().status(), 200);
    // 31 idle minutes: logged off.
    age_sessions(&app, 31).await;
    let r = c.get(app.url("/calls")).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert!(
        r.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/login")
    );
}

#[tokio::test]
async fn the_idle_timeout_is_configurable() {
    let app =
        spawn_app_tuned(|s| s.web.session_idle = std::time::Duration::from_secs(5 * 60)).await;
    let c = app.logged_in(VIEWER_101).await;
    age_sessions(&app, 6).await;
    assert_eq!(c.get(app.url("/calls")).send().await.unwrap().status(), 303);
}
