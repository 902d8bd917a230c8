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
use crate::commands::sync::SyncArgs;
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

async fn backup(sandbox: &SandboxHandle, dir: &Path) {
    let args = SyncArgs {
        rc: rc_args(sandbox),
        store: store_args(dir),
        from: Some(sandbox.state().clock().now() - chrono::Duration::days(2)),
        to: None,
        backfill_days: 3,
        overlap_minutes: 0,
        workers: 2,
        max_wait: 5,
        plan: false,
        json: true,
    };
    let report = crate::commands::sync::run(&args).await.unwrap();
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
/// ground-truth order, and its length is the sum of the legs' within one
/// MP3 frame (plus the encoder delay and padding each inner join keeps).
async fn check_audio(s: &Stitcher, key: &str, truth: &[u32], recs: &[String]) {
    let bytes = blob(s, key).await;
    let (pcm, rate) = decode(&bytes);
    assert_eq!(rc_sandbox::audio::detect_markers(&pcm, rate), truth);
    let mut sum = 0usize;
    for id in recs {
        let rec = s.catalog.recording(&RecordingId::parse(id).unwrap()).await.unwrap().unwrap();
        let leg = blob(s, rec.storage_key.unwrap().as_str()).await;
        sum += decode(&leg).0.len();
    }
    let joins = recs.len().saturating_sub(1);
    let slack = joins * 576 * 3;
    let diff = pcm.len().abs_diff(sum);
    eprintln!("stitched {} samples, legs {sum}, diff {diff}, joins {joins}", pcm.len());
    assert!(diff <= slack, "stitched {} samples, legs sum {sum}", pcm.len());
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
    let Outcome::Stitched { key, sha256, legs, missing, .. } = first.clone() else {
        panic!("{first:?}");
    };
    assert_eq!((legs, missing), (3, 0));
    check_audio(&s, &key, &truth, &recs).await;

    let conv = s.catalog.conversation_for_session(&tsid).await.unwrap().unwrap();
    let row = s.catalog.conversation(&conv).await.unwrap().unwrap();
    assert_eq!(row.state, ConversationState::Stitched);
    assert_eq!(row.sha256.unwrap().to_hex(), sha256);
    assert_eq!(row.stitched_key.unwrap().as_str(), key);
    let manifest = row.manifest.unwrap();
    let ids: Vec<_> = manifest["legs"].as_array().unwrap().iter().map(|l| l["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(ids, recs);
    assert!(manifest["legs"][0]["label"].as_str().unwrap().starts_with("Leg 1: Pat Caller → "));
    let key_ = StorageKey::from_stored(&key).unwrap();
    assert!(s.blobs.head(&StorageKey::sidecar_of(&key_)).await.unwrap().is_some());
    let vtt = blob(&s, super::store::vtt_key(&key_).unwrap().as_str()).await;
    assert!(String::from_utf8(vtt).unwrap().starts_with("WEBVTT"));
    let stored = blob(&s, &key).await;
    assert_eq!(std::fs::read(&out).unwrap(), stored, "-o writes the same bytes");
    assert!(out.with_extension("vtt").exists() && out.with_extension("json").exists());

    // Stitching twice gives the same bytes.
    let again = s.stitch_session(&tsid, &StitchOptions::default()).await.unwrap();
    let Outcome::Stitched { key: key2, sha256: sha2, .. } = again else {
        panic!("{again:?}");
    };
    assert_eq!((key2.as_str(), sha2.as_str()), (key.as_str(), sha256.as_str()));
    assert_eq!(blob(&s, &key).await, stored);
}

