//! eDiscovery export of 10,000 conversations: bundle throughput and peak
//! RSS of `callvault export`, beside `zip -r` (and `zip -0 -r`, stored like
//! the bundle) of the same recording files, in the same run.
//!
//! `cargo bench -p callvault --bench export` (Linux; needs `zip` and GNU
//! `/usr/bin/time`). `EXPORT_BENCH_CONVERSATIONS` and
//! `EXPORT_BENCH_KIB` (per recording, default 48) change the size.
//!
//! Where memory grows with the bundle: the same export of
//! `EXPORT_BENCH_SMALL` (default 1,000) conversations runs first, so the
//! growth per conversation is measured, not guessed; and the zip writer's
//! own cost per entry (the central-directory record it keeps in memory
//! until the end, as every zip writer must write the directory last) is
//! measured in this process with as many empty entries as the bundle has.

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

/// This process's resident memory now, KiB (`VmRSS`, Linux).
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

/// Bytes the zip writer keeps per entry until `finish` (its
/// central-directory record), with names like the bundle's.
fn zip_bytes_per_entry(entries: usize) -> f64 {
    use std::io::Write;
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .large_file(true);
    let mut zip = zip::ZipWriter::new_stream(std::io::sink());
    let before = rss_kib();
    for i in 0..entries {
        let name = if i % 2 == 0 {
            format!("conversations/s-bench{i:06}/legs/{}.mp3", 900_000_000 + i)
        } else {
            format!("conversations/s-bench{i:06}/metadata.json")
        };
        zip.start_file(name, options).unwrap();
        zip.write_all(b"x").unwrap();
    }
    let after = rss_kib();
    zip.finish().unwrap();
    (after.saturating_sub(before) * 1024) as f64 / entries as f64
}

/// Files in the zip at `path` (its central directory's count).
fn entries_of(path: &Path) -> usize {
    zip::ZipArchive::new(std::fs::File::open(path).unwrap())
        .unwrap()
        .len()
}

/// Seeds `n` conversations in a fresh catalog under `dir` and exports
/// them: (seconds, peak RSS MiB, bundle path).
fn seed_and_export(
    rt: &tokio::runtime::Runtime,
    dir: &Path,
    n: usize,
    kib: usize,
) -> (f64, f64, std::path::PathBuf) {
    std::fs::create_dir_all(dir).unwrap();
    let database = format!("sqlite:{}?mode=rwc", dir.join("catalog.sqlite").display());
    let storage = dir.join("recordings");
    let key = dir.join("audit.key");
    let seeded = Instant::now();
    rt.block_on(async {
        let catalog = Catalog::open(&database).await.unwrap();
        let blobs = BlobStore::open(storage.to_str().unwrap()).unwrap();
        seed(&catalog, &blobs, n, kib).await;
        catalog.close().await;
    });
    let signer = vault::audit::AuditSigner::generate(&key).unwrap();
    std::fs::write(dir.join("audit.key.pub"), signer.public_key().to_hex()).unwrap();
    eprintln!(
        "seeded {n} conversations of {kib} KiB in {:.1}s",
        seeded.elapsed().as_secs_f64()
    );
    let bundle = dir.join("bundle.zip");
    let (secs, rss) = timed(
        Command::new(env!("CARGO_BIN_EXE_callvault"))
            .args(["export", "--database", &database, "--storage"])
            .arg(&storage)
            .arg("--audit-key")
            .arg(&key)
            .args(["--matter", "bench", "-o"])
            .arg(&bundle)
            .env("RUST_LOG", "warn"),
    );
    (secs, rss, bundle)
}

/// The 1-, 5- and 15-minute load averages.
fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn main() {
    let n = env_or("EXPORT_BENCH_CONVERSATIONS", 10_000);
    let small = env_or("EXPORT_BENCH_SMALL", 1_000);
    let kib = env_or("EXPORT_BENCH_KIB", 48);
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    eprintln!("load average at start: {}", load());
    let (small_s, small_rss, small_bundle) =
        seed_and_export(&rt, &dir.path().join("small"), small, kib);
    let small_entries = entries_of(&small_bundle);
    std::fs::remove_dir_all(dir.path().join("small")).unwrap();
    let (export_s, export_rss, bundle) = seed_and_export(&rt, dir.path(), n, kib);
    let public = dir.path().join("audit.key.pub");
    let load_during = load();
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
    let entries = entries_of(&bundle);
    let per_entry = zip_bytes_per_entry(entries);
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
    println!(
        "memory growth: {small} conversations ({small_entries} files): {small_s:.2} s, peak RSS {small_rss:.1} MiB; \
         {n} ({entries} files): peak RSS {export_rss:.1} MiB; \
         {:.0} bytes per extra file",
        (export_rss - small_rss) * 1024.0 * 1024.0 / (entries - small_entries).max(1) as f64
    );
    println!(
        "  the zip writer alone keeps {per_entry:.0} bytes per entry until it writes the central directory \
         ({:.1} MiB for {entries} entries)",
        per_entry * entries as f64 / (1024.0 * 1024.0)
    );
    println!(
        "load average: {load_during} (after the export), {} (end)",
        load()
    );
    assert!(
        export_rss <= 64.0,
        "peak RSS {export_rss:.1} MiB is above 64 MiB"
    );
}
