//! The admins' retention and legal-hold page, the conversation page's
//! holds, and what a disposed recording answers.

use crate::helpers::*;

async fn records_csrf(app: &TestApp, c: &reqwest::Client) -> String {
    form_csrf(c, &app.url("/records")).await
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

/// A viewer of extension 101 who may only listen, and one whose scope
/// names the group `dept-201` instead of an extension.
pub async fn finer_users(
    app: &TestApp,
) -> ((&'static str, &'static str), (&'static str, &'static str)) {
    let listener = ("listener", "listener-password");
    let grouped = ("grouped", "grouped-password");
    for (name, pw, exts) in [
        (listener.0, listener.1, vec!["101".to_string()]),
        (grouped.0, grouped.1, vec![]),
    ] {
        app.catalog
            .create_user(&vault::users::NewUser {
                name: name.into(),
                password_hash: callvault::web::auth::password::hash_password(pw).unwrap(),
                role: vault::users::Role::Viewer,
                extensions: exts,
            })
            .await
            .unwrap()
            .unwrap();
    }
    assert!(app.catalog.set_listen_only(listener.0, true).await.unwrap());
    app.catalog
        .set_extension_group("dept-201", &["201".to_string()])
        .await
        .unwrap();
    assert!(
        app.catalog
            .set_user_extension_groups(grouped.0, &["dept-201".to_string()])
            .await
            .unwrap()
    );
    (listener, grouped)
}

/// `listener` (listen-only, extension 101) plays A but every download route
/// answers 404, decided in the catalog's access statement (the same one as
/// the scope), and the right comes back the moment the flag is cleared.
pub async fn listen_only_has_no_download_route(app: &TestApp, listener: (&str, &str)) {
    let c = app.logged_in(listener).await;
    let downloads = [
        format!("/audio/conversation/{CONV_A}?download=1"),
        format!("/audio/recording/{REC_A1}?download=1"),
        format!("/audio/recording/{REC_A1}?download=true"),
    ];
    for path in &downloads {
        assert_eq!(page(app, &c, path).await.0, 404, "{path}");
    }
    assert_eq!(
        page(app, &c, &format!("/audio/recording/{REC_A1}")).await.0,
        200
    );
    let user = app.catalog.user_by_name(listener.0).await.unwrap().unwrap();
    let scope = vault::search::Scope::of(&user);
    let rec = vault::RecordingId::parse(REC_A1).unwrap();
    assert!(
        app.catalog
            .visible_recording(scope, &rec)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        app.catalog
            .downloadable_recording(scope, user.id, &rec)
            .await
            .unwrap()
            .is_none()
    );

    assert!(
        app.catalog
            .set_listen_only(listener.0, false)
            .await
            .unwrap()
    );
    for path in &downloads {
        assert_eq!(
            page(app, &c, path).await.0,
            200,
            "{path} after the flag is cleared"
        );
    }
    assert!(app.catalog.set_listen_only(listener.0, true).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listen_only_user_plays_but_has_no_download_route_and_a_group_scope_sees_its_extensions()
{
    let app = spawn_app().await;
    let (listener, grouped) = finer_users(&app).await;

    listen_only_has_no_download_route(&app, listener).await;
    let c = app.logged_in(listener).await;
    let (status, html) = page(&app, &c, &format!("/conversations/{CONV_A}")).await;
    assert_eq!(status, 200);
    assert!(
        html.contains(&format!("/audio/conversation/{CONV_A}")),
        "a player"
    );
    assert!(
        !html.contains("download=1") && !html.contains("download-main"),
        "no download link: {html}"
    );
    assert_eq!(
        page(&app, &c, &format!("/audio/conversation/{CONV_A}"))
            .await
            .0,
        200
    );
    assert_eq!(
        page(&app, &c, &format!("/audio/recording/{REC_A1}"))
            .await
            .0,
        200
    );

    // The group names extension 201: B is visible, A (101 only) is not.
    let g = app.logged_in(grouped).await;
    let (_, calls) = page(&app, &g, "/calls").await;
    assert!(calls.contains(CONV_B) && !calls.contains(CONV_A), "{calls}");
    assert_eq!(
        page(&app, &g, &format!("/audio/recording/{REC_B}?download=1"))
            .await
            .0,
        200
    );
    assert_eq!(
        page(&app, &g, &format!("/audio/recording/{REC_A1}"))
            .await
            .0,
        404
    );
    // Emptying the group takes the access away, in the same SQL.
    app.catalog
        .set_extension_group("dept-201", &[])
        .await
        .unwrap();
    assert_eq!(
        page(&app, &g, &format!("/conversations/{CONV_B}")).await.0,
        404
    );
    app.finish().await;
}
