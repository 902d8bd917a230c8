// Long because each stitching scenario needs its whole fixture (sandbox, catalog, blobs) beside its assertions.
//! Stitching against the real sandbox: scripted transfers are backed up by
//! the real sync, then stitched from the vault; the stitched audio is decoded
//! and its per-leg markers compared with the sandbox's ground truth.

use std::path::Path;

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use rc_sandbox::model::{
    AudioFormat, CallScript, Direction, ExternalParty, Handoff, RecordingKind, SegmentScript,
};
use rc_sandbox::{Sandbox, SandboxHandle};
use vault::{ConversationState, RecordingId, StorageKey, TelephonySessionId};

use super::{Outcome, StitchOptions, Stitcher};
use crate::configuration::{RcArgs, StoreArgs};

async fn sandbox(format: AudioFormat) -> SandboxHandle {
    Sandbox::builder()
        .seed(5)
        .configure(|c| {
            c.scenario.calls = 0;
            c.rate_limits = None;
            c.call_log_lag = chrono::Duration::zero();
            c.recording_lag = chrono::Duration::zero();
            c.live_calls_per_minute = 0.0;
            c.audio.format = format;
        })
        .spawn()
        .await
        .unwrap()
}

fn rc_args(sandbox: &SandboxHandle) -> RcArgs {
    let env: std::collections::HashMap<_, _> = sandbox.client_env().into_iter().collect();
    RcArgs {
        server_url: env["RC_SERVER_URL"].clone(),
        media_url: Some(env["RC_MEDIA_URL"].clone()),
        client_id: env["RC_CLIENT_ID"].clone(),
        client_secret: env["RC_CLIENT_SECRET"].clone().into(),
        jwt: env["RC_JWT"].clone().into(),
    }
}

fn store_args(dir: &Path) -> StoreArgs {
    StoreArgs {
        data_dir: dir.to_owned(),
        database: None,
        storage: None,
        worm: Default::default(),
    }
}

fn seg(extension: usize, talk_s: u64, handoff: Handoff) -> SegmentScript {
    SegmentScript {
        extension,
        ring_ms: 3_000,
        talk_ms: talk_s * 1000,
        recorded: true,
        handoff,
    }
}

/// Adds a finished conversation; returns its sessions and ground-truth
/// markers (in stitched order) and recording ids.
fn add(
    sandbox: &SandboxHandle,
    start: DateTime<Utc>,
    segments: Vec<SegmentScript>,
) -> (Vec<String>, Vec<u32>, Vec<String>) {
    let mut world = sandbox.state().world_mut();
    let c = world
        .add(CallScript {
            start,
            direction: Direction::Inbound,
            external: ExternalParty {
                phone_number: "+14155550123".into(),
                name: Some("Pat Caller".into()),
            },
            segments,
            recording_kind: RecordingKind::Automatic,
        })
        .unwrap();
    (
        c.sessions
            .iter()
            .map(|s| s.telephony_session_id.clone())
            .collect(),
        c.ordered_recordings().map(|r| r.marker).collect(),
        c.ordered_recordings().map(|r| r.id.clone()).collect(),
    )
}

/// A whole sync of the last two days, as `callvault sync` runs it.
async fn backup(sandbox: &SandboxHandle, dir: &Path) {
    let store = store_args(dir);
    let client = crate::app::rc_client(&rc_args(sandbox)).unwrap();
    let catalog = crate::app::catalog(&store).await.unwrap();
    let from = sandbox.state().clock().now() - chrono::Duration::days(2);
    let range = crate::sync::range(
        &client,
        &catalog,
        Some(from),
        None,
        chrono::Duration::zero(),
        chrono::Duration::days(3),
    )
    .await
    .unwrap();
    let downloader = crate::sync::Downloader {
        client,
        catalog,
        blobs: crate::app::writable_blobs(&store).await.unwrap(),
        layout: vault::KeyLayout::default(),
        schedule: rc_api::ladder::Ladder::recording_content(),
        backoff: crate::jobs::Backoff::DEFAULT,
    };
    let mut report = crate::sync::Report::default();
    crate::sync::backup(
        &downloader,
        range,
        2,
        chrono::Duration::seconds(5),
        std::sync::Arc::new(crate::sync::Progress::default()),
        &mut report,
    )
    .await
    .unwrap();
    downloader.catalog.close().await;
    assert_eq!(report.failed, 0);
}

async fn stitcher(dir: &Path, rc: Option<RcArgs>) -> Stitcher {
    let store = store_args(dir);
    Stitcher {
        catalog: crate::app::catalog(&store).await.unwrap(),
        blobs: crate::app::blobs(&store).unwrap(),
        layout: vault::KeyLayout::default(),
        rc,
    }
}

async fn blob(s: &Stitcher, key: &str) -> Vec<u8> {
    let key = StorageKey::from_stored(key).unwrap();
    let chunks: Vec<bytes::Bytes> = s
        .blobs
        .get_stream(&key)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    chunks.concat()
}

/// Decodes the whole file (any error fails the test): mono PCM and rate.
fn decode(bytes: &[u8]) -> (Vec<f32>, u32) {
    let mut pcm = Vec::new();
    let stats = stitch::decode::decode_mono(std::io::Cursor::new(bytes.to_vec()), |_, b| {
        pcm.extend_from_slice(b);
        Ok(())
    })
    .unwrap();
    (pcm, stats.sample_rate)
}

/// The stitched file decodes end to end, its markers come in the
/// ground-truth order, and its length is the sum of the legs' (each decoded
/// on its own) within one MP3 frame (576 samples at 8 kHz) per join.
async fn check_audio(s: &Stitcher, key: &str, truth: &[u32], recs: &[String]) {
    let bytes = blob(s, key).await;
    let (pcm, rate) = decode(&bytes);
    assert_eq!(rc_sandbox::audio::detect_markers(&pcm, rate), truth);
    let mut sum = 0usize;
    for id in recs {
        let rec = s
            .catalog
            .recording(&RecordingId::parse(id).unwrap())
            .await
            .unwrap()
            .unwrap();
        let leg = blob(s, rec.storage_key.unwrap().as_str()).await;
        sum += decode(&leg).0.len();
    }
    let joins = recs.len().saturating_sub(1);
    let slack = joins * 576;
    let diff = pcm.len().abs_diff(sum);
    eprintln!(
        "stitched {} samples, legs {sum}, diff {diff}, joins {joins}",
        pcm.len()
    );
    assert!(
        diff <= slack,
        "stitched {} samples, legs sum {sum}",
        pcm.len()
    );
}

#[tokio::test]
async fn a_blind_transfer_stitches_offline_into_one_file_in_ground_truth_order_and_again_identically()
 {
    let sandbox = sandbox(AudioFormat::Mp3).await;
    let start = sandbox.state().clock().now() - chrono::Duration::hours(3);
    let (sessions, truth, recs) = add(
        &sandbox,
        start,
        vec![
            seg(0, 31, Handoff::BlindTransfer),
            seg(1, 32, Handoff::BlindTransfer),
            seg(2, 33, Handoff::HangUp),
        ],
    );
    assert_eq!((sessions.len(), truth.len()), (1, 3));
    let dir = tempfile::tempdir().unwrap();
    backup(&sandbox, dir.path()).await;
    sandbox.shutdown().await;

    // No RingCentral settings at all: everything comes from the vault.
    let s = stitcher(dir.path(), None).await;
    let tsid = TelephonySessionId::parse(&sessions[0]).unwrap();
    let out = dir.path().join("local/call.mp3");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    let options = StitchOptions {
        output: Some(out.clone()),
        ..Default::default()
    };
    let first = s.stitch_session(&tsid, &options).await.unwrap();
    let Outcome::Stitched {
        key,
        sha256,
        legs,
        missing,
        ..
    } = first.clone()
    else {
        panic!("{first:?}");
    };
    assert_eq!((legs, missing), (3, 0));
    check_audio(&s, &key, &truth, &recs).await;

    let conv = s
        .catalog
        .conversation_for_session(&tsid)
        .await
        .unwrap()
        .unwrap();
    let row = s.catalog.conversation(&conv).await.unwrap().unwrap();
    assert_eq!(row.state, ConversationState::Stitched);
    assert_eq!(row.sha256.unwrap().to_hex(), sha256);
    assert_eq!(row.stitched_key.unwrap().as_str(), key);
    let manifest = row.manifest.unwrap();
    let ids: Vec<_> = manifest["legs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, recs);
    assert!(
        manifest["legs"][0]["label"]
            .as_str()
            .unwrap()
            .starts_with("Leg 1: Pat Caller → ")
    );
    let key_ = StorageKey::from_stored(&key).unwrap();
    assert!(
        s.blobs
            .head(&StorageKey::sidecar_of(&key_))
            .await
            .unwrap()
            .is_some()
    );
    let vtt = blob(&s, super::store::vtt_key(&key_).unwrap().as_str()).await;
    assert!(String::from_utf8(vtt).unwrap().starts_with("WEBVTT"));
    let stored = blob(&s, &key).await;
    assert_eq!(
        std::fs::read(&out).unwrap(),
        stored,
        "-o writes the same bytes"
    );
    assert!(out.with_extension("vtt").exists() && out.with_extension("json").exists());

    // Stitching twice gives the same bytes.
    let again = s
        .stitch_session(&tsid, &StitchOptions::default())
        .await
        .unwrap();
    let Outcome::Stitched {
        key: key2,
        sha256: sha2,
        ..
    } = again
    else {
        panic!("{again:?}");
    };
    assert_eq!(
        (key2.as_str(), sha2.as_str()),
        (key.as_str(), sha256.as_str())
    );
    assert_eq!(blob(&s, &key).await, stored);
}

#[tokio::test]
async fn an_attended_transfer_spanning_two_sessions_becomes_one_file_unless_told_not_to_follow() {
    let sandbox = sandbox(AudioFormat::Mp3).await;
    let start = sandbox.state().clock().now() - chrono::Duration::hours(2);
    let (sessions, truth, recs) = add(
        &sandbox,
        start,
        vec![
            seg(0, 31, Handoff::AttendedTransfer),
            seg(1, 34, Handoff::HangUp),
        ],
    );
    assert_eq!(sessions.len(), 2);
    let dir = tempfile::tempdir().unwrap();
    backup(&sandbox, dir.path()).await;
    sandbox.shutdown().await;
    // RingCentral settings that lead nowhere: any call would fail the stitch.
    let nowhere = RcArgs {
        server_url: "http://127.0.0.1:9".into(),
        media_url: Some("http://127.0.0.1:9".into()),
        client_id: "id".into(),
        client_secret: "secret".into(),
        jwt: "jwt".into(),
    };
    let s = stitcher(dir.path(), Some(nowhere)).await;
    let (s1, s2) = (
        TelephonySessionId::parse(&sessions[0]).unwrap(),
        TelephonySessionId::parse(&sessions[1]).unwrap(),
    );

    let alone = StitchOptions {
        follow_transfers: false,
        ..Default::default()
    };
    let o = s.stitch_session(&s1, &alone).await.unwrap();
    assert!(
        matches!(&o, Outcome::Single { recording, .. } if *recording == recs[0]),
        "{o:?}"
    );

    // Asked by the second session, the link is followed back to the first.
    let o = s
        .stitch_session(&s2, &StitchOptions::default())
        .await
        .unwrap();
    let Outcome::Stitched {
        key,
        sessions: got,
        legs,
        ..
    } = o.clone()
    else {
        panic!("{o:?}");
    };
    assert_eq!(got, sessions);
    assert_eq!(legs, 2);
    check_audio(&s, &key, &truth, &recs).await;
    let c1 = s
        .catalog
        .conversation_for_session(&s1)
        .await
        .unwrap()
        .unwrap();
    let c2 = s
        .catalog
        .conversation_for_session(&s2)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c1, c2, "both sessions belong to one conversation");
    let row = s.catalog.conversation(&c1).await.unwrap().unwrap();
    assert_eq!(row.sessions, vec![s1, s2]);
    assert_eq!(row.state, ConversationState::Stitched);
}

#[tokio::test]
async fn a_leg_too_short_to_be_recorded_is_listed_as_missing_and_the_others_play_in_order() {
    let sandbox = sandbox(AudioFormat::Wav).await;
    let start = sandbox.state().clock().now() - chrono::Duration::hours(2);
    let (sessions, truth, recs) = add(
        &sandbox,
        start,
        vec![
            seg(0, 31, Handoff::BlindTransfer),
            seg(1, 12, Handoff::BlindTransfer),
            seg(2, 32, Handoff::HangUp),
        ],
    );
    assert_eq!(truth.len(), 2, "the 12 s leg keeps no recording");
    let dir = tempfile::tempdir().unwrap();
    backup(&sandbox, dir.path()).await;
    // The sync stores recorded calls only: the catalog has a hole where the
    // short leg was, so the call log is asked for the whole session.
    let s = stitcher(dir.path(), Some(rc_args(&sandbox))).await;
    let tsid = TelephonySessionId::parse(&sessions[0]).unwrap();
    let o = s
        .stitch_session(&tsid, &StitchOptions::default())
        .await
        .unwrap();
    sandbox.shutdown().await;
    let Outcome::Stitched {
        key, legs, missing, ..
    } = o.clone()
    else {
        panic!("{o:?}");
    };
    assert_eq!((legs, missing), (3, 1));
    check_audio(&s, &key, &truth, &recs).await;
    let conv = s
        .catalog
        .conversation_for_session(&tsid)
        .await
        .unwrap()
        .unwrap();
    let manifest = s
        .catalog
        .conversation(&conv)
        .await
        .unwrap()
        .unwrap()
        .manifest
        .unwrap();
    let middle = &manifest["legs"][1];
    assert_eq!(middle["missing"], true);
    assert!(middle["id"].as_str().unwrap().starts_with("record:"));
    let label = middle["label"].as_str().unwrap();
    assert!(
        label.starts_with("Leg 2: ") && label.contains("too short"),
        "{label}"
    );
}

#[tokio::test]
async fn a_session_missing_from_the_catalog_is_read_from_the_call_log_and_downloaded() {
    let sandbox = sandbox(AudioFormat::Mp3).await;
    let start = sandbox.state().clock().now() - chrono::Duration::hours(2);
    let (sessions, truth, recs) = add(
        &sandbox,
        start,
        vec![
            seg(0, 31, Handoff::BlindTransfer),
            seg(1, 31, Handoff::HangUp),
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    let tsid = TelephonySessionId::parse(&sessions[0]).unwrap();

    let offline = stitcher(dir.path(), None).await;
    let err = offline
        .stitch_session(&tsid, &StitchOptions::default())
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("RC_CLIENT_ID"), "{err:#}");

    let s = stitcher(dir.path(), Some(rc_args(&sandbox))).await;
    let o = s
        .stitch_session(&tsid, &StitchOptions::default())
        .await
        .unwrap();
    let Outcome::Stitched { key, legs, .. } = o.clone() else {
        panic!("{o:?}");
    };
    assert_eq!(legs, 2);
    check_audio(&s, &key, &truth, &recs).await;
    sandbox.shutdown().await;
}

/// Writes a two-leg call whose recordings were listed but never downloaded.
async fn listed_only(s: &Stitcher, session: &str, at: DateTime<Utc>) {
    for (i, rec) in ["900000000001", "900000000002"].iter().enumerate() {
        let t = at + chrono::Duration::seconds(40 * i as i64);
        let v = serde_json::json!({
            "id": format!("WAITREC{i}"), "uri": "", "sessionId": "1",
            "telephonySessionId": session, "startTime": t.to_rfc3339(),
            "durationMs": 40000, "type": "Voice", "direction": "Inbound", "action": "Phone Call",
            "recording": {"id": rec, "uri": "u", "type": "Automatic",
                          "contentUri": format!("http://127.0.0.1:9/{rec}/content")},
        });
        let rec: rc_api::models::CallLogRecord = serde_json::from_value(v).unwrap();
        crate::sync::ledger::record(&s.catalog, &rec, vault::Source::Sync)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn stitch_all_joins_every_multi_leg_conversation_leaves_singles_single_and_pending_ones_waiting()
 {
    let sandbox = sandbox(AudioFormat::Wav).await;
    let now = sandbox.state().clock().now();
    let (blind, blind_truth, blind_recs) = add(
        &sandbox,
        now - chrono::Duration::hours(5),
        vec![
            seg(0, 31, Handoff::BlindTransfer),
            seg(1, 31, Handoff::HangUp),
        ],
    );
    let (single, _, _) = add(
        &sandbox,
        now - chrono::Duration::hours(4),
        vec![seg(2, 33, Handoff::HangUp)],
    );
    let (attended, att_truth, att_recs) = add(
        &sandbox,
        now - chrono::Duration::hours(3),
        vec![
            seg(1, 31, Handoff::AttendedTransfer),
            seg(2, 31, Handoff::HangUp),
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    backup(&sandbox, dir.path()).await;
    sandbox.shutdown().await;
    let s = stitcher(dir.path(), None).await;
    listed_only(&s, "s-waiting-1", now - chrono::Duration::hours(2)).await;

    let outcomes = s.stitch_all(&StitchOptions::default()).await.unwrap();
    let state = |sid: &str| {
        let s = &s;
        let sid = TelephonySessionId::parse(sid).unwrap();
        async move {
            let id = s
                .catalog
                .conversation_for_session(&sid)
                .await
                .unwrap()
                .unwrap();
            s.catalog.conversation(&id).await.unwrap().unwrap()
        }
    };
    let b = state(&blind[0]).await;
    assert_eq!(b.state, ConversationState::Stitched);
    check_audio(
        &s,
        b.stitched_key.unwrap().as_str(),
        &blind_truth,
        &blind_recs,
    )
    .await;
    let a = state(&attended[1]).await;
    assert_eq!(a.state, ConversationState::Stitched);
    assert_eq!(a.sessions.len(), 2);
    check_audio(&s, a.stitched_key.unwrap().as_str(), &att_truth, &att_recs).await;
    assert_eq!(state(&single[0]).await.state, ConversationState::Single);
    let w = state("s-waiting-1").await;
    assert_eq!(w.state, ConversationState::Waiting);
    assert!(w.reason.unwrap().contains("900000000001 (listed)"));
    let stitched = outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::Stitched { .. }))
        .count();
    assert_eq!((outcomes.len(), stitched), (4, 2), "{outcomes:?}");

    // A second run has only the waiting conversation left to look at.
    let again = s.stitch_all(&StitchOptions::default()).await.unwrap();
    assert!(
        matches!(again.as_slice(), [Outcome::Waiting { .. }]),
        "{again:?}"
    );
}

/// The next due stitch job, leased for a minute.
async fn claim_stitch(s: &Stitcher) -> vault::LeasedJob {
    s.catalog
        .claim(
            "test",
            &[crate::jobs::JobKind::Stitch.as_str()],
            std::time::Duration::from_secs(60),
        )
        .await
        .unwrap()
        .expect("a stitch job is due")
}

/// Runs a claimed stitch job as the job runner would: its conversation
/// parsed from the payload.
async fn run_claimed(
    s: &Stitcher,
    job: &vault::LeasedJob,
    options: &StitchOptions,
) -> anyhow::Result<Outcome> {
    let conversation = crate::jobs::Job::conversation_of(job)?;
    s.run_job(&conversation, job, options).await
}

#[tokio::test]
async fn a_stitch_job_completes_when_stitched_and_sleeps_while_recordings_are_missing() {
    let sandbox = sandbox(AudioFormat::Wav).await;
    let now = sandbox.state().clock().now();
    let (sessions, truth, recs) = add(
        &sandbox,
        now - chrono::Duration::hours(3),
        vec![
            seg(0, 31, Handoff::BlindTransfer),
            seg(1, 31, Handoff::HangUp),
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    backup(&sandbox, dir.path()).await;
    sandbox.shutdown().await;
    let s = stitcher(dir.path(), None).await;
    listed_only(&s, "s-waiting-2", now - chrono::Duration::hours(1)).await;

    let ready = vault::ConversationId::from(TelephonySessionId::parse(&sessions[0]).unwrap());
    let waiting = vault::ConversationId::parse("s-waiting-2").unwrap();
    let ready_job = super::job::enqueue(&s.catalog, &ready).await.unwrap().id();
    let waiting_job = super::job::enqueue(&s.catalog, &waiting)
        .await
        .unwrap()
        .id();
    assert_eq!(
        super::job::enqueue(&s.catalog, &ready).await.unwrap().id(),
        ready_job
    );

    for _ in 0..2 {
        let job = claim_stitch(&s).await;
        run_claimed(&s, &job, &StitchOptions::default())
            .await
            .unwrap();
    }
    let done = s.catalog.job(ready_job).await.unwrap().unwrap();
    assert_eq!(done.state, vault::JobState::Done);
    let row = s.catalog.conversation(&ready).await.unwrap().unwrap();
    check_audio(&s, row.stitched_key.unwrap().as_str(), &truth, &recs).await;
    let slept = s.catalog.job(waiting_job).await.unwrap().unwrap();
    assert!(
        matches!(
            slept.state,
            vault::JobState::Queued | vault::JobState::Retry
        ),
        "{slept:?}"
    );
    // It looks again by itself after a while (news wakes it sooner).
    assert!(slept.run_at > Utc::now() + chrono::Duration::seconds(30));
    assert_eq!(
        s.catalog
            .conversation(&waiting)
            .await
            .unwrap()
            .unwrap()
            .state,
        ConversationState::Waiting
    );
}

#[tokio::test]
async fn a_stitch_job_of_a_conversation_merged_away_completes_naming_the_survivor() {
    let dir = tempfile::tempdir().unwrap();
    let s = stitcher(dir.path(), None).await;
    let at = Utc::now() - chrono::Duration::hours(1);
    listed_only(&s, "s-survivor-1", at).await;
    let merged = vault::ConversationId::parse("s-merged-2").unwrap();
    s.catalog
        .upsert_conversation(&vault::ConversationUpsert {
            id: merged.clone(),
            sessions: vec![TelephonySessionId::parse("s-merged-2").unwrap()],
            initial_state: ConversationState::Waiting,
            started_at: Some(at),
            source: vault::Source::Sync,
        })
        .await
        .unwrap();
    let queued = super::job::enqueue(&s.catalog, &merged).await.unwrap().id();
    // An attended transfer joins the session into the survivor: its own
    // conversation row goes.
    let survivor = vault::ConversationId::parse("s-survivor-1").unwrap();
    s.catalog
        .attach_session(
            &survivor,
            &TelephonySessionId::parse("s-merged-2").unwrap(),
            1,
        )
        .await
        .unwrap();
    assert!(s.catalog.conversation(&merged).await.unwrap().is_none());

    let job = claim_stitch(&s).await;
    let outcome = run_claimed(&s, &job, &StitchOptions::default())
        .await
        .unwrap();
    assert_eq!(
        outcome,
        Outcome::Merged {
            conversation: "s-merged-2".into(),
            into: "s-survivor-1".into(),
        }
    );
    let done = s.catalog.job(queued).await.unwrap().unwrap();
    assert_eq!(done.state, vault::JobState::Done, "{done:?}");
}

#[tokio::test]
async fn a_stitch_job_of_an_unknown_conversation_fails_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let s = stitcher(dir.path(), None).await;
    let ghost = vault::ConversationId::parse("s-ghost-3").unwrap();
    let queued = super::job::enqueue(&s.catalog, &ghost).await.unwrap().id();
    let job = claim_stitch(&s).await;
    let err = run_claimed(&s, &job, &StitchOptions::default())
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("not in the catalog"), "{err:#}");
    let failed = s.catalog.job(queued).await.unwrap().unwrap();
    assert_ne!(failed.state, vault::JobState::Done, "{failed:?}");
}

/// A blind transfer of two recorded legs, backed up from a sandbox that is
/// then shut down; the stitcher works from the vault alone.
async fn backed_up_blind_transfer() -> (Stitcher, Vec<String>, tempfile::TempDir) {
    let sandbox = sandbox(AudioFormat::Wav).await;
    let now = sandbox.state().clock().now();
    let (sessions, _, _) = add(
        &sandbox,
        now - chrono::Duration::hours(3),
        vec![
            seg(0, 31, Handoff::BlindTransfer),
            seg(1, 31, Handoff::HangUp),
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    backup(&sandbox, dir.path()).await;
    sandbox.shutdown().await;
    (stitcher(dir.path(), None).await, sessions, dir)
}

#[tokio::test]
async fn a_second_stitch_job_of_unchanged_legs_joins_nothing_again() {
    let (s, sessions, _dir) = backed_up_blind_transfer().await;
    let id = vault::ConversationId::from(TelephonySessionId::parse(&sessions[0]).unwrap());
    let options = StitchOptions {
        queued: Some(super::QueuedStitch {
            give_up_after: chrono::Duration::hours(1),
        }),
        ..Default::default()
    };

    // Two paths queued it a moment apart: the second job runs after the first is done.
    super::job::enqueue(&s.catalog, &id).await.unwrap();
    let first = run_claimed(&s, &claim_stitch(&s).await, &options)
        .await
        .unwrap();
    let stitched = s.catalog.conversation(&id).await.unwrap().unwrap();
    super::job::enqueue(&s.catalog, &id).await.unwrap();
    let second = run_claimed(&s, &claim_stitch(&s).await, &options)
        .await
        .unwrap();

    assert!(matches!(first, Outcome::Stitched { .. }), "{first:?}");
    let key = stitched.stitched_key.clone().unwrap();
    assert_eq!(
        second,
        Outcome::Unchanged {
            conversation: id.as_str().to_owned(),
            key: key.as_str().to_owned(),
        }
    );
    let after = s.catalog.conversation(&id).await.unwrap().unwrap();
    assert_eq!(
        (after.state, after.sha256),
        (vault::ConversationState::Stitched, stitched.sha256)
    );
    // By hand, a stitch always joins again.
    let again = s
        .stitch_session(
            &TelephonySessionId::parse(&sessions[0]).unwrap(),
            &StitchOptions::default(),
        )
        .await
        .unwrap();
    assert!(matches!(again, Outcome::Stitched { .. }), "{again:?}");
}

#[tokio::test]
async fn a_queued_stitch_waits_for_a_session_the_catalog_lacks_then_gives_up_with_the_reason() {
    // The webhooks named the session, but the gateway has not read its call
    // log yet (or never will): a row with no records.
    let dir = tempfile::tempdir().unwrap();
    let s = stitcher(dir.path(), None).await;
    let session = TelephonySessionId::parse("s-late-4").unwrap();
    let id = vault::ConversationId::from(session.clone());
    s.catalog
        .upsert_conversation(&vault::ConversationUpsert {
            id: id.clone(),
            sessions: vec![session.clone()],
            initial_state: ConversationState::Waiting,
            started_at: None,
            source: vault::Source::Webhook,
        })
        .await
        .unwrap();
    let queued = |hours| StitchOptions {
        queued: Some(super::QueuedStitch {
            give_up_after: chrono::Duration::hours(hours),
        }),
        ..Default::default()
    };
    let job_id = super::job::enqueue(&s.catalog, &id).await.unwrap().id();

    // Within its deadline the job sleeps (news wakes it), it does not die.
    let waiting = run_claimed(&s, &claim_stitch(&s).await, &queued(1))
        .await
        .unwrap();
    assert!(matches!(waiting, Outcome::Waiting { .. }), "{waiting:?}");
    let job = s.catalog.job(job_id).await.unwrap().unwrap();
    assert_eq!(job.state, vault::JobState::Retry, "{job:?}");

    // Past it, the conversation says what it lacked.
    super::job::enqueue(&s.catalog, &id).await.unwrap();
    let gave_up = run_claimed(&s, &claim_stitch(&s).await, &queued(-1))
        .await
        .unwrap();
    assert!(matches!(gave_up, Outcome::Incomplete { .. }), "{gave_up:?}");
    let job = s.catalog.job(job_id).await.unwrap().unwrap();
    assert_eq!(job.state, vault::JobState::Done, "{job:?}");
    let conv = s.catalog.conversation(&id).await.unwrap().unwrap();
    assert_eq!(conv.state, ConversationState::Incomplete);
    let reason = conv.reason.unwrap_or_default();
    assert!(
        reason.contains("session s-late-4 is not in the catalog yet"),
        "{reason}"
    );
}

#[tokio::test]
async fn a_hold_placed_while_the_legs_join_stops_the_restitch_write_and_is_audited() {
    // Arrange: a stitched blind transfer.
    let (s, sessions, _dir) = backed_up_blind_transfer().await;
    let first = TelephonySessionId::parse(&sessions[0]).unwrap();
    let Outcome::Stitched {
        conversation,
        key,
        sha256,
        ..
    } = s
        .stitch_session(&first, &StitchOptions::default())
        .await
        .unwrap()
    else {
        panic!("the transfer is stitched");
    };
    let id = vault::ConversationId::parse(&conversation).unwrap();
    let before = blob(&s, &key).await;

    // Act: a re-stitch that would change the bytes joins its legs (no hold
    // yet, so the check before the join passes) ...
    let mut retitled = StitchOptions::default();
    retitled.join.title = Some("re-stitched".into());
    super::hold_guard::refuse_if_held(&s.catalog, &id)
        .await
        .unwrap();
    let g = super::gather::from_catalog(&s.catalog, &first, true)
        .await
        .unwrap();
    let legs = super::plan::order_legs(&g.records, &g.sessions);
    let playable = s.playable(&legs).await.unwrap();
    let joined = super::store::join(&s.blobs, &s.layout, &id, &legs, &playable, &retitled)
        .await
        .unwrap();
    // ... and a hold is placed before it writes.
    let hold = crate::retention::holds::place(
        &s.catalog,
        &vault::NewHold {
            matter: "Doe v. Roe".into(),
            reason: "litigation".into(),
            placed_by: "counsel".into(),
            target: vault::HoldTarget::Conversations(vec![id.clone()]),
        },
    )
    .await
    .unwrap();
    let refused =
        super::hold_guard::store_unless_held(&s.catalog, &s.blobs, &id, joined, &retitled)
            .await
            .unwrap_err();

    // Assert: refused naming the hold, the held file unchanged to the byte
    // (and still the catalog's), and the refusal on the audit trail.
    let refusal = refused
        .downcast_ref::<super::hold_guard::OverwriteRefused>()
        .unwrap_or_else(|| panic!("{refused:#}"));
    assert_eq!(refusal.key, key);
    assert!(
        refusal
            .why
            .contains(&format!("\"Doe v. Roe\" (hold {hold})")),
        "{}",
        refusal.why
    );
    assert_eq!(blob(&s, &key).await, before, "the held file was rewritten");
    let after = s.catalog.conversation(&id).await.unwrap().unwrap();
    assert_eq!(after.sha256.map(|d| d.to_hex()), Some(sha256));
    let refusals = s
        .catalog
        .audit_entries(100, 0)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "overwrite_refused" && e.object_id == id.as_str())
        .count();
    assert_eq!(refusals, 1);
}
