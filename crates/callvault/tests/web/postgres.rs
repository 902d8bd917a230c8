//! The same access rules and filters on PostgreSQL (runs when
//! `CALLVAULT_TEST_POSTGRES` is set, as `.ci/run` does).

use crate::helpers::*;

#[tokio::test]
async fn on_postgresql_access_filters_audio_and_audit_behave_as_on_sqlite() {
    let Some(app) = spawn_app_postgres().await else {
        return;
    };
    let viewer = app.logged_in(VIEWER_101).await;
    let html = viewer
        .get(app.url("/calls"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(CONV_A) && !html.contains(CONV_B));
    for path in [
        format!("/conversations/{CONV_B}"),
        format!("/audio/recording/{REC_B}"),
    ] {
        assert_eq!(
            viewer.get(app.url(&path)).send().await.unwrap().status(),
            404,
            "{path}"
        );
    }
    let r = viewer
        .get(app.url(&format!("/audio/conversation/{CONV_A}")))
        .header("range", "bytes=0-99")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    let entries = app.catalog.audit_entries(10, 0).await.unwrap();
    assert_eq!(
        entries
            .iter()
            .map(|e| e.action.as_str())
            .collect::<Vec<_>>(),
        ["play", "login"],
        "{entries:?}"
    );

    let admin = app.logged_in(ADMIN).await;
    for (query, keeps) in [
        ("extension=201", CONV_B),
        ("party=DANA", CONV_A),
        ("direction=Outbound", CONV_B),
        ("state=stitched", CONV_A),
        ("state=failed", ""),
        ("q=2001", CONV_B),
        ("from=2026-11-20&to=2026-11-20", CONV_A),
    ] {
        let html = admin
            .get(app.url(&format!("/calls?{query}")))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if keeps.is_empty() {
            assert!(html.contains("No calls match"), "{query}");
        } else {
            assert!(html.contains(keeps), "{query}");
        }
    }
    assert_eq!(
        admin.get(app.url("/status")).send().await.unwrap().status(),
        200
    );
    assert_eq!(
        admin.get(app.url("/audit")).send().await.unwrap().status(),
        200
    );
    // Five failures lock the user out on PostgreSQL too.
    for _ in 0..5 {
        app.try_login(&client(), VIEWER_201.0, "wrong-password")
            .await;
    }
    assert_eq!(
        app.try_login(&client(), VIEWER_201.0, VIEWER_201.1)
            .await
            .status(),
        429
    );
    app.finish().await;
}

#[tokio::test]
async fn on_postgresql_a_listen_only_user_has_no_download_route() {
    let Some(app) = spawn_app_postgres().await else {
        return;
    };
    let (listener, _) = crate::records::finer_users(&app).await;
    crate::records::listen_only_has_no_download_route(&app, listener).await;
    app.finish().await;
}
