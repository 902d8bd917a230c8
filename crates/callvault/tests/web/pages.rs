use crate::helpers::*;

async fn calls(app: &TestApp, c: &reqwest::Client, query: &str) -> String {
    let r = c
        .get(app.url(&format!("/calls?{query}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{query}");
    r.text().await.unwrap()
}

#[tokio::test]
async fn each_filter_of_the_calls_page_narrows_the_list() {
    let app = spawn_app().await;
    let c = app.logged_in(ADMIN).await;
    let both = calls(&app, &c, "").await;
    // Newest first: A (10:00) before B (09:00).
    assert!(both.find(CONV_A).unwrap() < both.find(CONV_B).unwrap());
    let cases = [
        ("extension=201", CONV_B),
        ("extension=102", CONV_A),
        ("party=zed", CONV_B),
        ("party=0100", CONV_A),
        ("party=%2B1%20(415)%20555-0100", CONV_A),
        ("party=ava%20fro", CONV_A),
        ("party=zed%20cus", CONV_B),
        ("direction=Outbound", CONV_B),
        ("state=stitched", CONV_A),
        ("state=single", CONV_B),
        ("from=2026-11-20&to=2026-11-20", ""),
        ("q=dana", CONV_A),
        ("q=2001", CONV_B),
        ("q=cr-A", CONV_A),
        ("q=5550199", CONV_B),
        ("q=Ben", CONV_B),
    ];
    for (query, only) in cases {
        let html = calls(&app, &c, query).await;
        if only.is_empty() {
            assert!(html.contains(CONV_A) && html.contains(CONV_B), "{query}");
        } else {
            let other = if only == CONV_A { CONV_B } else { CONV_A };
            assert!(html.contains(only), "{query} keeps {only}");
            assert!(!html.contains(other), "{query} drops {other}");
        }
    }
    // Leading digits, 3 trailing digits, a 2-letter prefix: not matches.
    for query in [
        "from=2026-11-21",
        "party=1415",
        "party=100",
        "party=da",
        "q=zzz",
    ] {
        let none = calls(&app, &c, query).await;
        assert!(none.contains("No calls match"), "{query}");
    }
    let noted = calls(&app, &c, "from=yesterday").await;
    assert!(noted.contains("Ignored the from date"));
}

#[tokio::test]
async fn the_conversation_page_has_a_player_with_chapters_legs_and_hashes() {
    let app = spawn_app().await;
    let c = app.logged_in(VIEWER_101).await;
    let html = c
        .get(app.url(&format!("/conversations/{CONV_A}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(&format!("src=\"/audio/conversation/{CONV_A}\"")));
    assert!(html.contains(&format!(
        "<track kind=\"chapters\" src=\"/conversations/{CONV_A}/chapters.vtt\""
    )));
    assert!(html.contains("id=\"chapter-1\"") && html.contains("id=\"chapter-2\""));
    let leg2 = format!("data-start=\"{:.3}\"", app.leg2_start_ms as f64 / 1000.0);
    assert!(html.contains(&leg2), "leg 2 seeks to its chapter: {leg2}");
    assert!(html.contains(&format!("/audio/recording/{REC_A1}?download=1")));
    assert!(html.contains(&format!("/audio/recording/{REC_A2}?download=1")));
    let conv = app
        .catalog
        .conversation(&vault::ConversationId::parse(CONV_A).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(html.contains(&conv.sha256.unwrap().to_hex()));
    assert!(html.contains("+14155550100 → 101 → 102"), "transfer chain");
    assert!(
        !html.contains("media.example"),
        "no RingCentral URL reaches the page"
    );

    let vtt = c
        .get(app.url(&format!("/conversations/{CONV_A}/chapters.vtt")))
        .send()
        .await
        .unwrap();
    assert_eq!(vtt.headers()["content-type"], "text/vtt; charset=utf-8");
    let vtt = vtt.text().await.unwrap();
    assert!(vtt.starts_with("WEBVTT"));
    assert_eq!(vtt.matches(" --> ").count(), 2, "{vtt}");
}

#[tokio::test]
async fn the_status_page_counts_states_and_its_retry_relists_failures() {
    let app = spawn_app().await;
    let rec = vault::RecordingId::parse("3001").unwrap();
    app.catalog
        .upsert_recording(&vault::NewRecording {
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
    app.catalog
        .mark_recording_failed(&rec, "checksum mismatch")
        .await
        .unwrap();
    // Two recordings still to fetch, a live subscription, and the rate-limit
    // state a gateway published: heavy 10 per 60 s, in a 30 s penalty.
    for id in ["3002", "3003"] {
        app.catalog
            .upsert_recording(&vault::NewRecording {
                id: vault::RecordingId::parse(id).unwrap(),
                call_record_id: None,
                telephony_session_id: None,
                content_uri: None,
                content_type: None,
                call_start_time: chrono::Utc::now(),
                call_end_time: None,
            })
            .await
            .unwrap();
    }
    app.catalog
        .set_setting(callvault::live::SUBSCRIPTION_SETTING, "sub-123")
        .await
        .unwrap();
    let heavy = callvault::rate_snapshot::GroupState {
        group: "heavy".into(),
        limit: Some(10),
        window_secs: Some(60),
        remaining: Some(0),
        requests: 42,
        waited_ms: 90_000,
        rate_limited: 1,
        blocked_for_ms: Some(30_000),
    };
    let snapshot = callvault::rate_snapshot::Snapshot {
        at_ms: chrono::Utc::now().timestamp_millis(),
        source: "gw-1".into(),
        subscription_active: Some(true),
        groups: vec![heavy],
    };
    callvault::rate_snapshot::publish(&app.catalog, &snapshot).await;
    let c = app.logged_in(ADMIN).await;
    let html = c
        .get(app.url("/status"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("id=\"rec-stored\">3<"), "three stored");
    assert!(html.contains("id=\"rec-failed\">1<"));
    assert!(html.contains("checksum mismatch"));
    assert!(html.contains("id=\"progress-pending\">2<"), "two to fetch");
    assert!(html.contains("id=\"progress-percent\">60.0 %<"), "3 of 5");
    // 2 recordings at 10/min = 12 s, after the 30 s penalty.
    assert!(html.contains("id=\"progress-eta\">about 42 s<"), "ETA");
    assert!(html.contains("sub-123: active"));
    assert!(html.contains("Reported by gw-1"));
    let heavy_row = &html[html.find("id=\"rate-heavy\"").unwrap()..];
    let heavy_row = &heavy_row[..heavy_row.find("</tr>").unwrap()];
    for cell in ["10 / 60 s", ">42<", ">1<", "2 min", "for 30 s"] {
        assert!(heavy_row.contains(cell), "{cell} in {heavy_row}");
    }

    let csrf = csrf_field(&html);
    let r = c
        .post(app.url("/status/retry"))
        .form(&[("csrf", &csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/status?retried=1");
    let again = app.catalog.recording(&rec).await.unwrap().unwrap();
    assert_eq!(again.state, vault::RecordingState::Listed);
}

#[tokio::test]
async fn the_status_page_lists_each_dead_job_with_its_kind_key_and_reason_escaped() {
    let app = spawn_app().await;
    let c = &app.catalog;
    let job = vault::NewJob::new("download", "rec:<b>9</b>", serde_json::json!({})).priority(1_000);
    let id = c.enqueue(&job).await.unwrap().id();
    let run = c
        .claim("test", &["download"], std::time::Duration::from_secs(600))
        .await
        .unwrap()
        .expect("the job is due");
    assert_eq!(run.lease.job_id(), id);
    c.fail(&run.lease, "<script>alert(1)</script> 404: gone")
        .await
        .unwrap();
    let admin = app.logged_in(ADMIN).await;
    let html = admin
        .get(app.url("/status"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // askama escapes `<` and `>` as numeric entities.
    let failures = &html[html.find("id=\"fail-h\"").unwrap()..];
    assert!(
        failures.contains(&format!("{id} download (rec:&#60;b&#62;9&#60;/b&#62;)")),
        "kind and key: {failures}"
    );
    assert!(
        failures.contains("&#60;script&#62;alert(1)&#60;/script&#62; 404: gone"),
        "the reason, escaped: {failures}"
    );
    assert!(!html.contains("<script>alert"), "no markup from the reason");
    assert!(failures.contains("id=\"retry\""), "the retry button");
}

#[tokio::test]
async fn a_huge_page_number_is_a_bad_request_not_a_server_error() {
    let app = spawn_app().await;
    let admin = app.logged_in(ADMIN).await;
    for path in [
        "/calls?page=18446744073709551615",
        "/calls?page=9223372036854775807",
        "/calls?page=1000001",
        "/audit?page=18446744073709551615",
        "/audit?page=9223372036854775807",
    ] {
        let r = admin.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 400, "{path}");
    }
    for path in ["/calls?page=1000000", "/audit?page=1000000"] {
        assert_eq!(
            admin.get(app.url(path)).send().await.unwrap().status(),
            200,
            "{path}"
        );
    }
}

#[tokio::test]
async fn a_viewer_time_zone_is_stored_per_user_after_its_csrf_and_name_are_checked() {
    // Arrange: a logged-in viewer and their form token.
    let app = spawn_app().await;
    let c = app.logged_in(VIEWER_101).await;
    let csrf = crate::login_support::form_csrf(&c, &app.url("/calls")).await;
    let post = |form: Vec<(&'static str, String)>| {
        let c = c.clone();
        let url = app.url("/settings/time-zone");
        async move { c.post(url).form(&form).send().await.unwrap() }
    };
    let stored = || async {
        let user = app.catalog.user_by_name(VIEWER_101.0).await.unwrap();
        user.unwrap().time_zone
    };

    // Act and assert: no token, a wrong token, an unknown zone: refused,
    // nothing stored.
    let no_token = post(vec![("time_zone", "Asia/Tokyo".into())]).await;
    assert_eq!(no_token.status(), 403);
    let wrong = post(vec![
        ("csrf", "not-the-token".into()),
        ("time_zone", "Asia/Tokyo".into()),
    ])
    .await;
    assert_eq!(wrong.status(), 403);
    let unknown = post(vec![
        ("csrf", csrf.clone()),
        ("time_zone", "Mars/Olympus".into()),
    ])
    .await;
    assert_eq!(unknown.status(), 400);
    assert!(unknown.text().await.unwrap().contains("unknown time zone"));
    assert_eq!(stored().await, None);

    // A real zone is stored for this user only, carried on every page, and
    // an empty value goes back to the browser's zone.
    let ok = post(vec![
        ("csrf", csrf.clone()),
        ("time_zone", "Asia/Tokyo".into()),
    ])
    .await;
    assert_eq!(ok.status(), 204);
    assert_eq!(stored().await.as_deref(), Some("Asia/Tokyo"));
    let admin = app.catalog.user_by_name(ADMIN.0).await.unwrap().unwrap();
    assert_eq!(admin.time_zone, None);
    assert!(
        calls(&app, &c, "")
            .await
            .contains("data-time-zone=\"Asia/Tokyo\"")
    );
    let reset = post(vec![("csrf", csrf), ("time_zone", String::new())]).await;
    assert_eq!(reset.status(), 204);
    assert_eq!(stored().await, None);
}
