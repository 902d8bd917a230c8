use crate::helpers::*;

#[tokio::test]
async fn a_viewer_lists_only_conversations_their_extension_took_part_in() {
    let app = spawn_app().await;
    let viewer = app.logged_in(VIEWER_101).await;
    let html = viewer
        .get(app.url("/calls"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(CONV_A), "A is visible");
    assert!(!html.contains(CONV_B), "B is not");

    let admin = app.logged_in(ADMIN).await;
    let html = admin
        .get(app.url("/calls"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(CONV_A) && html.contains(CONV_B));
}

#[tokio::test]
async fn a_transferred_to_extension_sees_the_conversation_through_its_leg() {
    // Extension 102 only appears on leg 2 of A.
    let app = spawn_app().await;
    let hash = callvault::web::auth::password::hash_password("viewer-102-password").unwrap();
    app.catalog
        .create_user(&vault::users::NewUser {
            name: "viewer102".into(),
            password_hash: hash,
            role: vault::users::Role::Viewer,
            extensions: vec!["102".into()],
        })
        .await
        .unwrap();
    let c = app.logged_in(("viewer102", "viewer-102-password")).await;
    assert_eq!(
        c.get(app.url(&format!("/conversations/{CONV_A}")))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        c.get(app.url(&format!("/conversations/{CONV_B}")))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

#[tokio::test]
async fn a_viewer_gets_404_for_another_extensions_call_by_page_audio_or_download() {
    let app = spawn_app().await;
    let viewer = app.logged_in(VIEWER_101).await;
    let missing = viewer
        .get(app.url("/conversations/s-doesNotExist"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let missing_body = missing.text().await.unwrap();
    for path in [
        format!("/conversations/{CONV_B}"),
        format!("/conversations/{CONV_B}/chapters.vtt"),
        format!("/audio/conversation/{CONV_B}"),
        format!("/audio/recording/{REC_B}"),
        format!("/audio/recording/{REC_B}?download=1"),
    ] {
        let r = viewer.get(app.url(&path)).send().await.unwrap();
        assert_eq!(r.status(), 404, "{path}");
        assert_eq!(
            r.text().await.unwrap(),
            missing_body,
            "{path} looks exactly like a missing id"
        );
    }
    // Ids that cannot exist are not found either (parsed before any query).
    for path in [
        "/audio/recording/..%2F..%2Fetc",
        "/conversations/a.b",
        "/audio/conversation/%20",
    ] {
        assert_eq!(
            viewer.get(app.url(path)).send().await.unwrap().status(),
            404,
            "{path}"
        );
    }
    // Their own conversation works.
    assert_eq!(
        viewer
            .get(app.url(&format!("/audio/recording/{REC_A1}")))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert!(
        app.catalog
            .audit_entries(100, 0)
            .await
            .unwrap()
            .iter()
            .all(|e| e.object_id != REC_B)
    );
}

#[tokio::test]
async fn only_admins_reach_the_status_and_audit_pages() {
    let app = spawn_app().await;
    let viewer = app.logged_in(VIEWER_101).await;
    assert_eq!(
        viewer
            .get(app.url("/status"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        viewer.get(app.url("/audit")).send().await.unwrap().status(),
        404
    );
    let admin = app.logged_in(ADMIN).await;
    assert_eq!(
        admin.get(app.url("/status")).send().await.unwrap().status(),
        200
    );
    assert_eq!(
        admin.get(app.url("/audit")).send().await.unwrap().status(),
        200
    );
}
