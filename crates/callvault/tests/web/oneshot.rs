//! Handlers driven in-process through `router(state).oneshot(…)`.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

use crate::helpers::*;

async fn router() -> (axum::Router, TestApp) {
    let app = spawn_app().await;
    let state = callvault::web::state::AppState::new(
        app.catalog.clone(),
        app.blobs.clone(),
        true,
        Default::default(),
    )
    .await
    .unwrap();
    (callvault::web::router(state), app)
}

#[tokio::test]
async fn embedded_assets_are_served_with_their_types_and_others_are_not_found() {
    let (router, _app) = router().await;
    for (path, ty) in [
        ("/assets/app.css", "text/css; charset=utf-8"),
        ("/assets/player.js", "text/javascript; charset=utf-8"),
    ] {
        let r = router
            .clone()
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        assert_eq!(r.headers()["content-type"], ty);
        assert!(!r.into_body().collect().await.unwrap().to_bytes().is_empty());
    }
    let r = router
        .oneshot(
            Request::get("/assets/..%2Fcatalog.sqlite")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn behind_https_the_login_cookies_are_secure() {
    let (router, _app) = router().await;
    let r = router
        .oneshot(Request::get("/login").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let header = r.headers()["set-cookie"].to_str().unwrap();
    let cookie = cookie::Cookie::parse(header).unwrap();
    assert_eq!(cookie.name(), "cv_login_csrf", "{header}");
    assert_eq!(cookie.secure(), Some(true), "{header}");
    assert_eq!(cookie.http_only(), Some(true), "{header}");
    assert_eq!(cookie.same_site(), Some(cookie::SameSite::Lax), "{header}");
    assert_eq!(cookie.path(), Some("/"), "{header}");
    assert_eq!(
        cookie.max_age().map(|d| d.whole_seconds()),
        Some(3600),
        "the form's lifetime: {header}"
    );
    let html = r.into_body().collect().await.unwrap().to_bytes();
    let html = String::from_utf8(html.to_vec()).unwrap();
    assert!(html.contains("<label for=\"username\">"), "labelled inputs");
}

#[tokio::test]
async fn the_root_leads_to_the_calls_page() {
    let (router, _app) = router().await;
    let r = router
        .oneshot(Request::get("/").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/calls");
}
