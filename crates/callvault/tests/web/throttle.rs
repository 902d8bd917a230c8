//! The login throttle under concurrency, per (user, address), per address
//! and per user (the rule is in `callvault::web::auth::throttle`).

use std::net::IpAddr;

use callvault::web::auth::throttle::{PER_ADDRESS, PER_USER_AND_ADDRESS, WINDOW};
use futures::future::join_all;

use crate::helpers::*;

/// A cookie-keeping client whose connections come from `ip` (any address
/// of 127.0.0.0/8 reaches the loopback server on Linux).
pub fn client_from(ip: &str) -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        // A connection per request: the server closes idle keep-alives
        // after its header timeout, and a POST sent on one just closed
        // would fail (a race of any keep-alive client, not of the server).
        .pool_max_idle_per_host(0)
        .local_address(ip.parse::<IpAddr>().unwrap())
        .build()
        .unwrap()
}

/// A client with a fresh login form from `base`: (client, csrf token).
/// Fetching the form is preparation, not what is tested: on a machine so
/// busy that a connection fails, it is fetched again (at most 3 times).
pub async fn with_form(base: &str, c: reqwest::Client) -> (reqwest::Client, String) {
    let mut errors = Vec::new();
    while errors.len() < 3 {
        match c.get(format!("{base}/login")).send().await {
            Ok(r) => {
                let csrf = csrf_field(&r.text().await.unwrap());
                return (c, csrf);
            }
            Err(e) => errors.push(e),
        }
    }
    panic!("GET {base}/login failed 3 times: {errors:?}");
}

/// Posts prepared forms all at once (each on its own connection); returns
/// the statuses.
pub async fn post_all(
    prepared: Vec<(String, reqwest::Client, String)>,
    user_of: impl Fn(usize) -> String,
    password_of: impl Fn(usize) -> String,
) -> Vec<u16> {
    let posts = prepared
        .into_iter()
        .enumerate()
        .map(|(i, (base, c, csrf))| {
            let (user, password) = (user_of(i), password_of(i));
            async move {
                c.post(format!("{base}/login"))
                    .form(&[
                        ("username", user.as_str()),
                        ("password", password.as_str()),
                        ("csrf", csrf.as_str()),
                        ("next", "/calls"),
                    ])
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            }
        });
    join_all(posts).await
}

/// Counts of each status in `statuses`, for messages.
pub fn tally(statuses: &[u16]) -> std::collections::BTreeMap<u16, usize> {
    let mut t = std::collections::BTreeMap::new();
    for s in statuses {
        *t.entry(*s).or_default() += 1;
    }
    t
}

async fn prepare(app: &TestApp, n: usize) -> Vec<(String, reqwest::Client, String)> {
    join_all((0..n).map(|_| async {
        let (c, csrf) = with_form(&app.base, client()).await;
        (app.base.clone(), c, csrf)
    }))
    .await
}

#[tokio::test]
async fn sixty_concurrent_wrong_passwords_for_one_user_get_only_the_limit_checked() {
    let app = spawn_app().await;
    let forms = prepare(&app, 60).await;
    let statuses = post_all(forms, |_| ADMIN.0.into(), |_| "wrong-password".into()).await;
    let t = tally(&statuses);
    assert_eq!(
        t.get(&200).copied().unwrap_or(0),
        PER_USER_AND_ADDRESS as usize,
        "only the limit reaches the password check: {t:?}"
    );
    assert_eq!(
        t.get(&429).copied().unwrap_or(0),
        60 - PER_USER_AND_ADDRESS as usize,
        "{t:?}"
    );
    // The right password is refused now too.
    let r = app.try_login(&client(), ADMIN.0, ADMIN.1).await;
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "60");
}

#[tokio::test]
async fn a_right_password_among_concurrent_wrong_ones_is_checked_only_within_the_limit() {
    // The probe's case: 29 wrong and 1 right at once. Whatever the order,
    // at most the limit's worth of passwords are checked.
    let app = spawn_app().await;
    let forms = prepare(&app, 30).await;
    let statuses = post_all(
        forms,
        |_| VIEWER_101.0.into(),
        |i| {
            if i == 29 {
                VIEWER_101.1.into()
            } else {
                "wrong-password".into()
            }
        },
    )
    .await;
    let t = tally(&statuses);
    let checked = t.get(&200).copied().unwrap_or(0) + t.get(&303).copied().unwrap_or(0);
    assert!(
        checked <= PER_USER_AND_ADDRESS as usize,
        "at most the limit is checked: {t:?}"
    );
    assert!(t.get(&429).copied().unwrap_or(0) >= 25, "{t:?}");
}

#[tokio::test]
async fn fifty_concurrent_attempts_from_one_address_get_only_its_limit() {
    let app = spawn_app().await;
    let forms = prepare(&app, 50).await;
    let statuses = post_all(forms, |i| format!("guess-{i}"), |_| "x".into()).await;
    let t = tally(&statuses);
    assert_eq!(
        t.get(&200).copied().unwrap_or(0),
        PER_ADDRESS as usize,
        "{t:?}"
    );
    assert_eq!(
        t.get(&429).copied().unwrap_or(0),
        50 - PER_ADDRESS as usize,
        "{t:?}"
    );
}

#[tokio::test]
async fn a_stranger_cannot_lock_the_owner_out_of_a_clean_address() {
    let app = spawn_app().await;
    let stranger = client_from("127.0.0.2");
    for _ in 0..PER_USER_AND_ADDRESS {
        let (c, csrf) = with_form(&app.base, stranger.clone()).await;
        let r = post_all(
            vec![(app.base.clone(), c, csrf)],
            |_| VIEWER_101.0.into(),
            |_| "wrong-password".into(),
        )
        .await;
        assert_eq!(r, [200]);
    }
    // The stranger is stopped ...
    assert_eq!(
        app.try_login(&stranger, VIEWER_101.0, VIEWER_101.1)
            .await
            .status(),
        429
    );
    // ... and the owner, from their own address, signs in.
    let owner = client_from("127.0.0.1");
    assert_eq!(
        app.try_login(&owner, VIEWER_101.0, VIEWER_101.1)
            .await
            .status(),
        303
    );
}

#[tokio::test]
async fn a_successful_login_forgives_the_owners_own_typos() {
    let app = spawn_app().await;
    let c = client();
    for _ in 0..PER_USER_AND_ADDRESS - 1 {
        assert_eq!(app.try_login(&c, ADMIN.0, "typo").await.status(), 200);
    }
    app.login(&c, ADMIN).await;
    for _ in 0..PER_USER_AND_ADDRESS - 1 {
        assert_eq!(
            app.try_login(&client(), ADMIN.0, "typo").await.status(),
            200
        );
    }
    app.login(&client(), ADMIN).await;
    let key = callvault::web::auth::throttle::AttemptKeys::new(ADMIN.0, "127.0.0.1");
    // Two rounds of four typos count against the user; the good logins do not.
    assert_eq!(
        app.catalog
            .login_attempts(key.user_key(), WINDOW)
            .await
            .unwrap(),
        2 * (PER_USER_AND_ADDRESS - 1)
    );
}

#[tokio::test]
async fn on_postgresql_sixty_concurrent_wrong_passwords_get_only_the_limit_checked() {
    let Some(app) = spawn_app_postgres().await else {
        return;
    };
    let forms = prepare(&app, 60).await;
    let statuses = post_all(forms, |_| ADMIN.0.into(), |_| "wrong-password".into()).await;
    let t = tally(&statuses);
    assert_eq!(
        t.get(&200).copied().unwrap_or(0),
        PER_USER_AND_ADDRESS as usize,
        "{t:?}"
    );
    assert_eq!(
        t.get(&429).copied().unwrap_or(0),
        60 - PER_USER_AND_ADDRESS as usize,
        "{t:?}"
    );
    app.finish().await;
}
