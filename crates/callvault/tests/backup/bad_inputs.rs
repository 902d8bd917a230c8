//! Bad inputs each get a clear error and cost nothing else: a `contentUri`
//! on a foreign host, a body that is not audio, a body shorter than its
//! `Content-Length`, and a recording id with path characters.

use chrono::Duration;
use rc_sandbox::faults::FaultConfig;
use vault::{JobState, NewRecording, RecordingId, RecordingState};

use crate::helpers::{TestApp, Unfinished, on_both_backends, spawn_app};

/// Lists the history, then points the catalog row of one recording at
/// `uri`, and returns that recording's id.
async fn tamper_one(app: &TestApp, uri: impl FnOnce(&str) -> String) -> RecordingId {
    let catalog = app.catalog().await;
    let victim = catalog
        .recordings_in_state(RecordingState::Listed, 1, 0)
        .await
        .unwrap()
        .pop()
        .expect("a listed recording");
    catalog
        .upsert_recording(&NewRecording {
            id: victim.id.clone(),
            call_record_id: victim.call_record_id.clone(),
            telephony_session_id: victim.telephony_session_id.clone(),
            content_uri: Some(uri(victim.id.as_str())),
            content_type: None,
            call_start_time: victim.call_start_time.unwrap(),
            call_end_time: victim.call_end_time,
        })
        .await
        .unwrap();
    victim.id
}

/// The victim failed for good with a reason containing one of `words`;
/// every other recording is stored exactly.
async fn assert_only_victim_failed(app: &TestApp, victim: &RecordingId, words: &[&str]) {
    let catalog = app.catalog().await;
    let rec = catalog.recording(victim).await.unwrap().unwrap();
    assert_eq!(rec.state, RecordingState::Failed);
    let reason = rec.last_error.unwrap_or_default().to_lowercase();
    assert!(
        words.iter().any(|w| reason.contains(w)),
        "unclear reason {reason:?}, expected one of {words:?}"
    );
    assert!(rec.storage_key.is_none());
    let dead = catalog.jobs_in_state(JobState::Dead, 100).await.unwrap();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert!(dead[0].dedupe_key.ends_with(victim.as_str()));

    let truth = app.truth();
    let counts = catalog.recording_counts().await.unwrap();
    assert_eq!(counts.stored, truth.present.len() as u64 - 1);
    assert_eq!(counts.failed, 1);
    for (id, sha) in truth
        .present
        .iter()
        .filter(|(id, _)| *id != victim.as_str())
    {
        let rec = catalog
            .recording(&RecordingId::parse(id).unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(rec.sha256.map(|s| s.to_hex()).as_ref(), Some(sha), "{id}");
    }
    let blobs = app.blobs().list(None).await.unwrap();
    assert_eq!(blobs.len() as u64, 2 * counts.stored, "blobs + sidecars");
    assert!(crate::helpers::partial_files(&app.blob_root()).is_empty());
}

on_both_backends! {
    async fn a_content_uri_on_a_foreign_host_is_refused_and_nothing_else_is_lost(backend) {
        let Some(app) = spawn_app(backend, 21, |c| c.scenario.calls = 8).await else { return };
        let (mut report, client) = app.list().await;
        let victim = tamper_one(&app, |id| {
            format!("http://media.evil.example/restapi/v1.0/account/1/recording/{id}/content")
        })
        .await;

        app.drain(&client, rc_api::ladder::Ladder::recording_content(), Duration::seconds(5), &mut report).await;

        assert_eq!(report.failed, 1, "{report:?}");
        assert_only_victim_failed(&app, &victim, &["host", "evil"]).await;
        // The victim's download job is the one dead job.
        app.finish_expecting(Unfinished { dead: 1, ..Unfinished::default() }).await;
    }

    async fn a_body_that_is_not_audio_is_refused_and_nothing_else_is_lost(backend) {
        let Some(app) = spawn_app(backend, 22, |c| c.scenario.calls = 8).await else { return };
        let (mut report, client) = app.list().await;
        // A JSON document on the (trusted) platform host.
        let platform = app.rc.server_url.trim_end_matches('/').to_owned();
        let victim = tamper_one(&app, |_| format!("{platform}/restapi/v1.0/account/~/call-log")).await;

        app.drain(&client, rc_api::ladder::Ladder::recording_content(), Duration::seconds(5), &mut report).await;

        assert_eq!(report.failed, 1, "{report:?}");
        assert_only_victim_failed(&app, &victim, &["audio"]).await;
        // The victim's download job is the one dead job.
        app.finish_expecting(Unfinished { dead: 1, ..Unfinished::default() }).await;
    }

    async fn a_body_shorter_than_its_content_length_is_never_stored_and_is_retried(backend) {
        // Fewer recordings than workers: each gets exactly one attempt (the
        // client itself resumes a cut body a few times before giving up).
        let Some(app) = spawn_app(backend, 23, |c| {
            c.scenario.calls = 3;
            c.scenario.transferred_share = 0.0;
        })
        .await else { return };
        app.sandbox.state().faults().set(FaultConfig {
            truncated_body: 1.0,
            ..FaultConfig::default()
        });

        // A negative wait: each job gets one attempt in this run.
        let (cut, _) = app.sync_with(rc_api::ladder::Ladder::recording_content(), Duration::seconds(-1)).await;

        assert!(cut.recordings > 0 && cut.recordings <= 4, "{cut:?}");
        assert_eq!(cut.stored, 0, "{cut:?}");
        assert!(cut.retried > 0, "{cut:?}");
        let catalog = app.catalog().await;
        let waiting = catalog.jobs_in_state(JobState::Retry, 100).await.unwrap();
        assert!(!waiting.is_empty());
        for job in &waiting {
            let reason = job.last_error.clone().unwrap_or_default().to_lowercase();
            assert!(
                reason.contains("content-length") || reason.contains("truncat") || reason.contains("short"),
                "unclear reason {reason:?}"
            );
        }
        assert!(app.blobs().list(None).await.unwrap().is_empty());
        assert!(crate::helpers::partial_files(&app.blob_root()).is_empty());

        // Once the bodies arrive whole, the next sync completes the backup.
        app.sandbox.state().faults().set(FaultConfig::default());
        app.sync_with(rc_api::ladder::Ladder::recording_content(), Duration::seconds(15)).await;
        app.assert_exact().await;
        app.finish().await;
    }

    async fn a_record_whose_recording_id_has_path_characters_is_skipped_and_every_other_one_is_backed_up(backend) {
        // rc-api parses each call-log record on its own: the one whose
        // recording id carries path characters is skipped with a warning,
        // and every other recording of the page is still backed up.
        let Some(app) = spawn_app(backend, 24, |c| c.scenario.calls = 8).await else { return };
        let (evil, original) = {
            let mut world = app.sandbox.state().world_mut();
            let rec = world
                .conversations
                .iter_mut()
                .flat_map(|c| c.legs.iter_mut())
                .find_map(|l| l.recording.as_mut())
                .unwrap();
            let original = rec.id.clone();
            rec.id = "../../escape".into();
            (rec.id.clone(), original)
        };
        let all = app
            .sandbox
            .state()
            .world()
            .conversations
            .iter()
            .flat_map(|c| c.ordered_recordings())
            .count() as u64;

        let report = callvault::commands::sync::run(&app.sync_args()).await.unwrap();

        assert_eq!(report.stored, all - 1, "every other recording is stored");
        assert_eq!(report.failed, 0);
        assert!(RecordingId::parse(&evil).is_err());
        assert!(!app.dir.path().join("escape").exists());
        assert!(app.blobs().list(None).await.unwrap().iter().all(|k| !k.contains("escape")));

        for rec in app.sandbox.state().world_mut().conversations.iter_mut()
            .flat_map(|c| c.legs.iter_mut())
            .filter_map(|l| l.recording.as_mut())
            .filter(|r| r.id == evil)
        {
            rec.id = original.clone();
        }
        app.sync().await;
        app.assert_exact().await;
        app.finish().await;
    }
}
