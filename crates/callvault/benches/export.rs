//! eDiscovery export of 10,000 conversations: bundle throughput and peak
//! RSS of `callvault export`, beside `zip -r` (and `zip -0 -r`, stored like
//! the bundle) of the same recording files, in the same run.
//!
//! `cargo bench -p callvault --bench export` (Linux; needs `zip` and GNU
//! `/usr/bin/time`). `EXPORT_BENCH_CONVERSATIONS` and
//! `EXPORT_BENCH_KIB` (per recording, default 48) change the size.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use chrono::{Duration, TimeZone, Utc};
use rand::RngCore;
use vault::{
    BlobExt, BlobStore, Catalog, ConversationId, ConversationState, ConversationUpsert,
    NewRecording, RecordingId, Source, StorageKey, TelephonySessionId,
};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Seeds `n` single-leg conversations of `kib` KiB of incompressible audio
/// each (recordings are already compressed).
async fn seed(catalog: &Catalog, blobs: &BlobStore, n: usize, kib: usize) {
    let base = Utc.with_ymd_and_hms(2026, 6, 1, 9, 0, 0).unwrap();
    let mut rng = rand::rng();
    let mut audio = vec![0u8; kib * 1024];
    for i in 0..n {
        rng.fill_bytes(&mut audio);
        let start = base + Duration::seconds(i as i64 * 37);
        let session = TelephonySessionId::parse(&format!("s-bench{i:06}")).unwrap();
        let rec = RecordingId::parse(&format!("{}", 900_000_000 + i)).unwrap();
        catalog
            .upsert_recording(&NewRecording {
                id: rec.clone(),
                call_record_id: None,
                telephony_session_id: Some(session.clone()),
                content_uri: None,
                content_type: Some("audio/mpeg".into()),
                call_start_time: start,
                call_end_time: Some(start + Duration::seconds(60)),
            })
            .await
            .unwrap();
        let key = StorageKey::for_recording(start, &session, &rec, BlobExt::Mp3);
        let stored = blobs.put_bytes(&key, audio.clone().into()).await.unwrap();
        catalog
            .mark_recording_stored(&rec, &key, &stored.sha256, stored.size, "audio/mpeg")
            .await
            .unwrap();
        catalog
            .upsert_conversation(&ConversationUpsert {
                id: ConversationId::parse(session.as_str()).unwrap(),
                sessions: vec![session],
                initial_state: ConversationState::Single,
                started_at: Some(start),
                source: Source::Sync,
            })
            .await
            .unwrap();
    }
}

/// Runs `cmd` under GNU time: (seconds, peak RSS MiB).
fn timed(cmd: &mut Command) -> (f64, f64) {
    let report = tempfile::NamedTempFile::new().unwrap();
    let program = cmd.get_program().to_owned();
    let args: Vec<_> = cmd.get_args().map(ToOwned::to_owned).collect();
    let mut timed = Command::new("/usr/bin/time");
    timed
        .arg("-f")
        .arg("%e %M")
        .arg("-o")
        .arg(report.path())
        .arg(program)
        .args(args)
        .stdout(std::process::Stdio::null());
    if let Some(dir) = cmd.get_current_dir() {
        timed.current_dir(dir);
    }
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => timed.env(k, v),
            None => timed.env_remove(k),
        };
    }
    let status = timed.status().expect("/usr/bin/time runs");
    assert!(status.success(), "{cmd:?} failed");
    let text = std::fs::read_to_string(report.path()).unwrap();
    let mut fields = text.split_whitespace();
    let secs: f64 = fields.next().unwrap().parse().unwrap();
    let kib: f64 = fields.next().unwrap().parse().unwrap();
    (secs, kib / 1024.0)
}

fn size(path: &Path) -> u64 {
    std::fs::metadata(path).unwrap().len()
}

fn main() {
    let n = env_or("EXPORT_BENCH_CONVERSATIONS", 10_000);
    let kib = env_or("EXPORT_BENCH_KIB", 48);
    let dir = tempfile::tempdir().unwrap();
    let database = format!(
        "sqlite:{}?mode=rwc",
        dir.path().join("catalog.sqlite").display()
    );
    let storage = dir.path().join("recordings");
    let key = dir.path().join("audit.key");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let seeded = Instant::now();
    rt.block_on(async {
        let catalog = Catalog::open(&database).await.unwrap();
        let blobs = BlobStore::open(storage.to_str().unwrap()).unwrap();
        seed(&catalog, &blobs, n, kib).await;
        catalog.close().await;
    });
    let signer = vault::audit::AuditSigner::generate(&key).unwrap();
    let public = dir.path().join("audit.key.pub");
    std::fs::write(&public, signer.public_key().to_hex()).unwrap();
    eprintln!(
        "seeded {n} conversations of {kib} KiB in {:.1}s",
        seeded.elapsed().as_secs_f64()
    );

    let bundle = dir.path().join("bundle.zip");
    let (export_s, export_rss) = timed(
        Command::new(env!("CARGO_BIN_EXE_callvault"))
            .args(["export", "--database", &database, "--storage"])
            .arg(&storage)
            .arg("--audit-key")
            .arg(&key)
            .args(["--matter", "bench", "-o"])
            .arg(&bundle)
            .env("RUST_LOG", "warn"),
    );
    let bundle_bytes = size(&bundle);
    let (verify_s, verify_rss) = timed(
        Command::new(env!("CARGO_BIN_EXE_callvault"))
            .args(["export", "verify"])
            .arg(&bundle)
            .arg("--public-key")
            .arg(&public),
    );
    let zipped = dir.path().join("plain.zip");
    let (zip_s, zip_rss) = timed(
        Command::new("zip")
            .args(["-q", "-r"])
            .arg(&zipped)
            .arg("recordings")
            .current_dir(dir.path()),
    );
    let zip_bytes = size(&zipped);
    std::fs::remove_file(&zipped).unwrap();
    let (zip0_s, zip0_rss) = timed(
        Command::new("zip")
            .args(["-q", "-0", "-r"])
            .arg(&zipped)
            .arg("recordings")
            .current_dir(dir.path()),
    );
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    println!("export of {n} conversations ({kib} KiB recording each), same run:");
    println!(
        "  callvault export   {export_s:7.2} s  {:7.1} MiB/s  peak RSS {export_rss:6.1} MiB  bundle {:.1} MiB",
        mib(bundle_bytes) / export_s.max(0.01),
        mib(bundle_bytes)
    );
    println!(
        "  callvault verify   {verify_s:7.2} s  {:7.1} MiB/s  peak RSS {verify_rss:6.1} MiB",
        mib(bundle_bytes) / verify_s.max(0.01)
    );
    println!(
        "  zip -r             {zip_s:7.2} s  {:7.1} MiB/s  peak RSS {zip_rss:6.1} MiB  zip {:.1} MiB",
        mib(zip_bytes) / zip_s.max(0.01),
        mib(zip_bytes)
    );
    println!(
        "  zip -0 -r          {zip0_s:7.2} s  {:7.1} MiB/s  peak RSS {zip0_rss:6.1} MiB",
        mib(size(&zipped)) / zip0_s.max(0.01)
    );
    println!(
        "  export time / zip -r time = {:.2}x; / zip -0 -r = {:.2}x",
        export_s / zip_s.max(0.01),
        export_s / zip0_s.max(0.01)
    );
    assert!(
        export_rss <= 64.0,
        "peak RSS {export_rss:.1} MiB is above 64 MiB"
    );
}
