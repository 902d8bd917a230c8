//! Every POST route of the web router refuses a form without its CSRF
//! token, or with a wrong one, and the refusal changes nothing.
//!
//! The routes come from the router itself ([`callvault::web::routes::form_paths`]),
//! so a new form that is not listed here fails this test instead of
//! escaping it.

use crate::helpers::*;

/// A valid form for each POST route, but for its token: what the route
/// would accept with the right token (`{id}` is the hold to release).
fn form_for(path: &str, rule: &str) -> Vec<(&'static str, String)> {
    let s = |v: &str| v.to_owned();
    match path {
        "/login" => vec![
            ("username", s(ADMIN.0)),
            ("password", s(ADMIN.1)),
            ("next", s("/calls")),
        ],
        "/logout" | "/status/retry" => vec![],
        "/export" => vec![("matter", s("Smith v. Jones"))],
        "/records/rules" => vec![
            ("name", s("dispose-all")),
            ("min_keep_days", s("0")),
            ("max_keep_days", s("0")),
        ],
        "/records/rules/remove" => vec![("name", rule.to_owned())],
        "/records/holds" => vec![
            ("matter", s("Smith v. Jones")),
            ("reason", s("litigation")),
            ("conversations", s(CONV_A)),
        ],
        "/records/holds/{id}/release" => vec![("reason", s("settled"))],
        "/settings/time-zone" => vec![("time_zone", s("Asia/Tokyo"))],
        other => panic!("a new POST route, {other}: add a valid form for it here"),
    }
}

/// Everything a form could change, as text to compare.
async fn snapshot(app: &TestApp) -> String {
    let c = &app.catalog;
    format!(
        "rules {:?}\nholds {:?}\njobs {:?}\nrecordings {:?}\naudit {:?}\nusers {:?}",
        c.retention_rules().await.unwrap(),
        c.legal_holds(false).await.unwrap(),
        c.counts_by_state().await.unwrap(),
        c.recording_counts().await.unwrap(),
        c.audit_chain_page(0).await.unwrap(),
        c.list_users().await.unwrap(),
    )
}

/// A dead job and a failed recording, for the retry form to requeue.
async fn seed_failures(app: &TestApp) {
    let c = &app.catalog;
    let job = vault::NewJob::new("download", "rec:csrf", serde_json::json!({}));
    c.enqueue(&job).await.unwrap();
    let run = c
        .claim("test", &["download"], std::time::Duration::from_secs(600))
        .await
        .unwrap()
        .expect("the job is due");
    c.fail(&run.lease, "gone").await.unwrap();
    let rec = vault::RecordingId::parse("3001").unwrap();
    c.upsert_recording(&vault::NewRecording {
        id: rec.clone(),
        call_record_id: None,
        telephony_session_id: None,
        content_uri: None,
        content_type: None,
        call_start_time: chrono::Utc::now(),
        call_end_time: None,
    })
    .await
    .unwrap();
    c.mark_recording_failed(&rec, "checksum mismatch")
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_post_route_refuses_a_missing_or_wrong_csrf_token_and_changes_nothing() {
    // Arrange: an admin session, a rule and a hold (placed through their
    // forms with the right token), failures to retry, and a second admin
    // whose session token is real but not the first admin's.
    let app = spawn_app().await;
    let admin = app.logged_in(ADMIN).await;
    let token = form_csrf(&admin, &app.url("/records")).await;
    let rule = "keep-a-year";
    for (path, form) in [
        (
            "/records/rules",
            vec![("name", rule), ("min_keep_days", "365")],
        ),
        (
            "/records/holds",
            vec![
                ("matter", "Doe"),
                ("reason", "audit"),
                ("conversations", CONV_B),
            ],
        ),
    ] {
        let mut form = form;
        form.push(("csrf", &token));
        let r = admin.post(app.url(path)).form(&form).send().await.unwrap();
        assert_eq!(r.status(), 303, "{path} with its token");
    }
    let hold = app.catalog.legal_holds(false).await.unwrap()[0].id;
    seed_failures(&app).await;
    let other_admin = app.logged_in(ADMIN).await;
    let other_token = form_csrf(&other_admin, &app.url("/records")).await;
    assert_ne!(other_token, token);
    let before = snapshot(&app).await;

    // Act / Assert: each route, without a token, with a made-up one and
    // with another session's.
    let paths = callvault::web::routes::form_paths();
    assert!(paths.len() >= 8, "{paths:?}");
    for path in paths {
        let url = app.url(&path.replace("{id}", &hold.to_string()));
        let form = form_for(path, rule);
        for wrong in [None, Some("forged"), Some(other_token.as_str())] {
            let mut body = form.clone();
            if let Some(wrong) = wrong {
                body.push(("csrf", wrong.to_owned()));
            }
            let r = if path == "/login" {
                // No session yet: a cookie of its own choosing beside the field.
                let c = client();
                let mut request = c.post(&url).form(&body);
                if let Some(wrong) = wrong {
                    request = request.header("cookie", format!("cv_login_csrf={wrong}"));
                }
                request.send().await.unwrap()
            } else {
                admin.post(&url).form(&body).send().await.unwrap()
            };
            assert_eq!(r.status(), 403, "{path} with token {wrong:?}");
            assert!(
                r.headers().get("set-cookie").is_none(),
                "{path}: no cookie set or cleared"
            );
        }
    }

    // Nothing changed, and the admin is still logged in.
    assert_eq!(snapshot(&app).await, before);
    assert_eq!(
        admin.get(app.url("/calls")).send().await.unwrap().status(),
        200,
        "the refused logout left the session"
    );
}
