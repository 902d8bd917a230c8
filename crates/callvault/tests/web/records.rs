//! The admins' retention and legal-hold page, the conversation page's
//! holds, and what a disposed recording answers.

use crate::helpers::*;
use crate::login_support::csrf_field;

async fn records_csrf(app: &TestApp, c: &reqwest::Client) -> String {
    let html = c
        .get(app.url("/records"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    csrf_field(&html)
}

async fn page(app: &TestApp, c: &reqwest::Client, path: &str) -> (u16, String) {
    let r = c.get(app.url(path)).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_hold_and_rule_on_the_records_page_and_a_disposed_recording_answers_410() {
    let app = spawn_app().await;
    let viewer = app.logged_in(VIEWER_101).await;
    assert_eq!(page(&app, &viewer, "/records").await.0, 404, "admins only");
    let admin = app.logged_in(ADMIN).await;

    // A hold on conversation B, by id; a form without its token is refused.
    let hold = [
        ("matter", "Smith v. Jones"),
        ("reason", "litigation"),
        ("conversations", CONV_B),
    ];
    let r = admin
        .post(app.url("/records/holds"))
        .form(&hold)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "no CSRF token");
    assert!(app.catalog.legal_holds(false).await.unwrap().is_empty());
    let csrf = records_csrf(&app, &admin).await;
    let mut form = hold.to_vec();
    form.push(("csrf", &csrf));
    let r = admin
        .post(app.url("/records/holds"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let (status, html) = page(&app, &admin, &format!("/conversations/{CONV_B}")).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("ON HOLD") && html.contains("Smith v. Jones"),
        "{html}"
    );

    // A rule that disposes of everything at once.
    let rule = [
        ("csrf", csrf.as_str()),
        ("name", "dispose-all"),
        ("min_keep_days", "0"),
        ("max_keep_days", "0"),
    ];
    let r = admin
        .post(app.url("/records/rules"))
        .form(&rule)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let (_, html) = page(&app, &admin, "/records").await;
    assert!(html.contains("dispose-all") && html.contains("Smith v. Jones"));
    let r = admin
        .post(app.url("/records/rules"))
        .form(&rule)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "a second rule of that name");

    let report = callvault::retention::apply(&app.catalog, &app.blobs)
        .await
        .unwrap();
    let mut disposed = report.disposed.clone();
    disposed.sort();
    assert_eq!(disposed, [REC_A1, REC_A2]);
    assert_eq!(report.held, [REC_B]);

    // The disposed recording: 410 with a note, never a 500; the page says why.
    let (status, body) = page(&app, &admin, &format!("/audio/recording/{REC_A1}")).await;
    assert_eq!(status, 410);
    assert!(body.contains("dispose-all"), "{body}");
    let (status, html) = page(&app, &admin, &format!("/conversations/{CONV_A}")).await;
    assert_eq!(status, 200);
    assert!(html.contains("disposed of on"), "{html}");
    // A viewer who may not see it still gets only 404.
    let viewer201 = app.logged_in(VIEWER_201).await;
    assert_eq!(
        page(&app, &viewer201, &format!("/audio/recording/{REC_A1}"))
            .await
            .0,
        404
    );
    // The held one still plays.
    assert_eq!(
        page(&app, &admin, &format!("/audio/recording/{REC_B}"))
            .await
            .0,
        200
    );

    // Releasing the hold (audited, with a reason) shows on the page.
    let id = app.catalog.legal_holds(true).await.unwrap()[0].id;
    let r = admin
        .post(app.url(&format!("/records/holds/{id}/release")))
        .form(&[("csrf", csrf.as_str()), ("reason", "settled")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let (_, html) = page(&app, &admin, &format!("/conversations/{CONV_B}")).await;
    assert!(
        html.contains("Released") && !html.contains("ON HOLD"),
        "{html}"
    );
    app.finish().await;
}
