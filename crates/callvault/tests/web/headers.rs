//! Security headers on every response, and pages that need no inline
//! script or style (so the CSP does not break them).

use callvault::web::security_headers::CONTENT_SECURITY_POLICY;

use crate::helpers::*;

fn assert_secured(path: &str, r: &reqwest::Response) {
    let h = r.headers();
    assert_eq!(
        h.get("content-security-policy")
            .map(|v| v.to_str().unwrap()),
        Some(CONTENT_SECURITY_POLICY),
        "{path}"
    );
    let csp = CONTENT_SECURITY_POLICY;
    for part in [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(part), "{part}");
    }
    assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"));
    assert_eq!(h.get("x-frame-options").unwrap(), "DENY", "{path}");
    assert_eq!(
        h.get("x-content-type-options").unwrap(),
        "nosniff",
        "{path}"
    );
    assert_eq!(h.get("referrer-policy").unwrap(), "same-origin", "{path}");
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let app = spawn_app().await;
    let anonymous = client();
    for path in [
        "/login",
        "/calls",
        "/",
        "/nope",
        "/assets/app.css",
        "/assets/player.js",
        "/healthz",
        "/metrics",
    ] {
        let r = anonymous.get(app.url(path)).send().await.unwrap();
        assert_secured(path, &r);
    }
    let r = app.try_login(&client(), ADMIN.0, "wrong").await;
    assert_secured("POST /login (failed)", &r);
    let admin = app.logged_in(ADMIN).await;
    for path in [
        "/calls".to_owned(),
        format!("/conversations/{CONV_A}"),
        format!("/conversations/{CONV_A}/chapters.vtt"),
        format!("/audio/recording/{REC_A1}"),
        format!("/audio/conversation/{CONV_A}?download=1"),
        "/status".to_owned(),
        "/audit".to_owned(),
        "/conversations/s-missing".to_owned(),
        "/calls?page=99999999999".to_owned(),
    ] {
        let r = admin.get(app.url(&path)).send().await.unwrap();
        assert_secured(&path, &r);
        let is_html = r
            .headers()
            .get("content-type")
            .is_some_and(|t| t.to_str().unwrap().starts_with("text/html"));
        if is_html {
            let html = r.text().await.unwrap();
            assert!(
                !html.contains(" style="),
                "{path}: an inline style attribute"
            );
            assert!(!html.contains("<style"), "{path}: an inline style element");
            for script in html.match_indices("<script") {
                let tag = &html[script.0..script.0 + html[script.0..].find('>').unwrap()];
                assert!(
                    tag.contains(" src=\"/assets/"),
                    "{path}: an inline script {tag}"
                );
            }
        }
    }
}
