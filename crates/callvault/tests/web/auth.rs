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
    let page = c.get(app.url("/calls")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let csrf = csrf_field(&page.text().await.unwrap());
    let r = c
        .post(app.url("/logout"))
        .form(&[("csrf", &csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
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
