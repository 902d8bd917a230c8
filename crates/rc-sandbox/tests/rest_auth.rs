//! OAuth behaviour: JWT grant, client authentication, expiry, refresh
//! rotation, revocation and the 401 bodies.

mod rest_support;

use chrono::Duration;
use rest_support::*;
use serde_json::Value;

const JWT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

fn me_url(h: &rc_sandbox::SandboxHandle) -> String {
    call_log_url(h, "perPage=1")
}

async fn refresh(h: &rc_sandbox::SandboxHandle, c: &reqwest::Client, rt: &str) -> (u16, Value) {
    token_request(
        h,
        c,
        &[("grant_type", "refresh_token"), ("refresh_token", rt)],
    )
    .await
}

#[tokio::test]
async fn jwt_grant_returns_a_complete_token_info() {
    let h = spawn(|c| c.auth.access_ttl_secs = 3600).await;
    let c = client();
    let t = token_info(&h, &c).await;
    assert_eq!(t["token_type"], "bearer");
    assert_eq!(t["expires_in"], 3600);
    assert_eq!(t["refresh_token_expires_in"], 604_800);
    for k in [
        "access_token",
        "refresh_token",
        "scope",
        "owner_id",
        "endpoint_id",
        "session_id",
    ] {
        assert!(
            t[k].as_str().is_some_and(|s| !s.is_empty()),
            "{k} missing in {t}"
        );
    }
    assert_eq!(t["owner_id"], h.state().admin_extension_id().to_string());
    assert!(t["scope"].as_str().unwrap().contains("ReadCallRecording"));
    let again = token_info(&h, &c).await;
    assert_ne!(
        t["access_token"], again["access_token"],
        "tokens are random"
    );
    let r = get(&c, &me_url(&h), t["access_token"].as_str().unwrap()).await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn wrong_client_credentials_get_401_invalid_client() {
    let h = spawn(|_| {}).await;
    let c = client();
    let r = c
        .post(format!("{}/restapi/oauth/token", h.platform_url()))
        .basic_auth("sandbox-client-id", Some("wrong"))
        .form(&[("grant_type", JWT), ("assertion", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["error"], "invalid_client");
    assert_eq!(code(&b), "OAU-123");

    let r = c
        .post(format!("{}/restapi/oauth/token", h.platform_url()))
        .form(&[("grant_type", JWT), ("assertion", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["error_description"], "Client authentication is required");
}

#[tokio::test]
async fn a_wrong_jwt_or_grant_type_is_a_400() {
    let h = spawn(|_| {}).await;
    let c = client();
    let (s, b) = token_request(&h, &c, &[("grant_type", JWT), ("assertion", "not-the-jwt")]).await;
    assert_eq!((s, b["error"].as_str()), (400, Some("invalid_grant")));
    let (s, b) = token_request(&h, &c, &[("grant_type", "password")]).await;
    assert_eq!(
        (s, b["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );
}

#[tokio::test]
async fn requests_without_a_token_get_agw_401_and_garbage_gets_oau_149() {
    let h = spawn(|_| {}).await;
    let c = client();
    let r = c.get(me_url(&h)).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["errorCode"], "AGW-401");
    assert_eq!(b["message"], "Authorization header is not specified");

    let r = get(&c, &me_url(&h), "garbage").await;
    assert_eq!(r.status(), 401);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["errorCode"], "TokenInvalid");
    assert_eq!(code(&b), "OAU-149");
}

#[tokio::test]
async fn an_expired_access_token_gets_oau_128() {
    let h = spawn(|c| c.auth.access_ttl_secs = 2).await;
    let c = client();
    let t = token(&h, &c).await;
    assert_eq!(get(&c, &me_url(&h), &t).await.status(), 200);
    h.state().clock().advance(Duration::seconds(3));
    let r = get(&c, &me_url(&h), &t).await;
    assert_eq!(r.status(), 401);
    let b: Value = r.json().await.unwrap();
    assert_eq!(code(&b), "OAU-128");
    assert_eq!(b["errorCode"], "TokenInvalid");
}

#[tokio::test]
async fn refresh_rotates_both_tokens_and_kills_the_old_access_token() {
    let h = spawn(|_| {}).await;
    let c = client();
    let first = token_info(&h, &c).await;
    let old_access = first["access_token"].as_str().unwrap();
    let old_refresh = first["refresh_token"].as_str().unwrap();
    let (s, second) = refresh(&h, &c, old_refresh).await;
    assert_eq!(s, 200, "{second}");
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    assert_eq!(second["session_id"], first["session_id"]);
    let new_access = second["access_token"].as_str().unwrap();

    let r = get(&c, &me_url(&h), old_access).await;
    assert_eq!(r.status(), 401);
    assert_eq!(code(&r.json().await.unwrap()), "OAU-213");
    assert_eq!(get(&c, &me_url(&h), new_access).await.status(), 200);

    // Within the grace period the old refresh token returns the same pair ...
    let (s, again) = refresh(&h, &c, old_refresh).await;
    assert_eq!(s, 200);
    assert_eq!(again["access_token"], second["access_token"]);
    // ... and after it (the new access token has been used) it is dead.
    h.state().clock().advance(Duration::seconds(11));
    let (s, b) = refresh(&h, &c, old_refresh).await;
    assert_eq!(s, 400);
    assert_eq!(b["error"], "invalid_grant");
    // The new refresh token still works.
    let (s, _) = refresh(&h, &c, second["refresh_token"].as_str().unwrap()).await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn an_expired_refresh_token_gets_invalid_grant_oau_210() {
    let h = spawn(|c| c.auth.refresh_ttl_secs = 2).await;
    let c = client();
    let t = token_info(&h, &c).await;
    h.state().clock().advance(Duration::seconds(3));
    let (s, b) = refresh(&h, &c, t["refresh_token"].as_str().unwrap()).await;
    assert_eq!(s, 400);
    assert_eq!(b["error"], "invalid_grant");
    assert_eq!(code(&b), "OAU-210");
    assert_eq!(b["error_description"], "Token expired");
}

#[tokio::test]
async fn revoke_kills_the_whole_session() {
    let h = spawn(|_| {}).await;
    let c = client();
    let t = token_info(&h, &c).await;
    let access = t["access_token"].as_str().unwrap();
    let other = token(&h, &c).await;
    let cred = &h.state().config().credentials;
    let r = c
        .post(format!("{}/restapi/oauth/revoke", h.platform_url()))
        .basic_auth(&cred.client_id, Some(&cred.client_secret))
        .form(&[("token", t["refresh_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = get(&c, &me_url(&h), access).await;
    assert_eq!(r.status(), 401);
    let b: Value = r.json().await.unwrap();
    assert_eq!(code(&b), "OAU-213");
    let (s, _) = refresh(&h, &c, t["refresh_token"].as_str().unwrap()).await;
    assert_eq!(s, 400);
    // Another session is untouched.
    assert_eq!(get(&c, &me_url(&h), &other).await.status(), 200);
}

#[tokio::test]
async fn an_old_refresh_token_lives_on_while_the_new_access_token_is_unused() {
    let h = spawn(|c| c.auth.unused_refresh_grace_secs = 120).await;
    let c = client();
    let first = token_info(&h, &c).await;
    let old_refresh = first["refresh_token"].as_str().unwrap();
    let (_, second) = refresh(&h, &c, old_refresh).await;
    h.state().clock().advance(Duration::seconds(100));
    let (s, again) = refresh(&h, &c, old_refresh).await;
    assert_eq!(
        s, 200,
        "unused new token: the old refresh token still answers"
    );
    assert_eq!(again["refresh_token"], second["refresh_token"]);
    h.state().clock().advance(Duration::seconds(30));
    let (s, _) = refresh(&h, &c, old_refresh).await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn the_token_endpoint_wants_a_form_body() {
    let h = spawn(|_| {}).await;
    let c = client();
    let cred = &h.state().config().credentials;
    let r = c
        .post(format!("{}/restapi/oauth/token", h.platform_url()))
        .basic_auth(&cred.client_id, Some(&cred.client_secret))
        .header("content-type", "application/json")
        .body(r#"{"grant_type":"refresh_token"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
}

#[tokio::test]
async fn the_scope_lists_the_apps_permissions_and_a_request_may_narrow_it() {
    // Default app: every permission.
    let h = spawn(|_| {}).await;
    let c = client();
    assert_eq!(
        token_info(&h, &c).await["scope"],
        "ReadAccounts ReadCallLog ReadCallRecording CallControl SubscriptionWebhook EditCallLog"
    );
    // A reduced app: its tokens carry only what it was granted.
    let h = spawn(|c| {
        c.permissions.app =
            rc_sandbox::permissions::PermissionSet::parse("ReadCallLog,ReadCallRecording").unwrap();
    })
    .await;
    let t = token_info(&h, &c).await;
    assert_eq!(t["scope"], "ReadCallLog ReadCallRecording");
    // The request's `scope` narrows the grant, and cannot widen it.
    let jwt = h.state().config().credentials.jwt.clone();
    let form = |scope: &'static str| [("grant_type", JWT), ("assertion", ""), ("scope", scope)];
    let mut narrow = form("ReadCallLog");
    narrow[1].1 = &jwt;
    let (status, body) = token_request(&h, &c, &narrow).await;
    assert_eq!((status, body["scope"].as_str()), (200, Some("ReadCallLog")));
    let at = body["access_token"].as_str().unwrap();
    let rec = format!("{}/restapi/v1.0/account/~/recording/1", h.platform_url());
    assert_eq!(get(&c, &rec, at).await.status(), 403, "narrowed away");
    let mut wide = form("ReadCallLog CallControl");
    wide[1].1 = &jwt;
    let (status, body) = token_request(&h, &c, &wide).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_scope"))
    );
    // A refreshed token keeps its session's scope.
    let (status, body) = refresh(&h, &c, t["refresh_token"].as_str().unwrap()).await;
    assert_eq!(
        (status, body["scope"].as_str()),
        (200, Some("ReadCallLog ReadCallRecording"))
    );
}
