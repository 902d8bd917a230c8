//! Web UI benchmark: the calls page over a SQLite catalog of 1,000,000 call
//! records (one per conversation), with each filter alone, and Range requests
//! for audio; each against a baseline measured in the same run (a static
//! asset through the same server, client and session), reported as a ratio.
//!
//! Run with `cargo bench -p callvault --bench web` (release build). Set
//! `WEB_BENCH_CALLS` for another catalog size, and `WEB_BENCH_DIR` to keep the
//! filled and indexed catalog in that folder and reuse it on the next run
//! (filling 1,000,000 calls takes minutes, and two builds compared on one
//! file see the same page layout).

use std::time::{Duration, Instant};

use callvault::startup::Application;
use callvault::web::state::AppState;
use sqlx::Connection;
use vault::users::{NewUser, Role};
use vault::{BlobExt, BlobStore, Catalog, RecordingId, StorageKey, TelephonySessionId};

/// Timed requests per row (`WEB_BENCH_SAMPLES`), each row also capped at
/// [`ROW_BUDGET`] of wall time.
fn samples() -> usize {
    std::env::var("WEB_BENCH_SAMPLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200)
}
const ROW_BUDGET: Duration = Duration::from_secs(20);
const RANGE_REQUESTS: usize = 4000;
const RANGE_CONCURRENCY: usize = 8;

/// Fills the catalog with `n` single-record conversations in one transaction.
async fn fill(url: &str, n: u64) {
    let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
    let base: i64 = 1_760_000_000_000; // 2025-10-09
    let step: i64 = 90 * 86_400_000 / i64::try_from(n).unwrap().max(1);
    let statements = [
        format!(
            "INSERT INTO call_records (id, telephony_session_id, start_time, duration_ms, direction,
                from_number, from_name, to_number, to_name, extension_id, raw, seen_by_sync,
                created_at, updated_at)
             WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < {n})
             SELECT 'cr' || n, 's-' || n, {base} + n * {step}, 60000 + (n % 600) * 1000,
                CASE n % 2 WHEN 0 THEN 'Inbound' ELSE 'Outbound' END,
                '+1415' || printf('%07d', n % 1000000), 'Caller ' || (n % 5000),
                '+1650' || printf('%07d', (n * 7) % 1000000), 'Agent ' || (n % 200),
                CAST(100 + n % 200 AS TEXT), '{{}}', TRUE, {base} + n * {step}, {base} + n * {step}
             FROM i"
        ),
        "INSERT INTO legs (call_record_id, leg_index, leg_type, telephony_session_id,
                recording_id, start_time, duration_ms, direction, from_number, to_number,
                extension_id, master)
             SELECT id, 0, 'PhoneCall', telephony_session_id, 'r' || substr(id, 3), start_time,
                duration_ms, direction, from_number, to_number, extension_id, TRUE
             FROM call_records"
            .to_owned(),
        "INSERT INTO conversations (id, state, started_at, arrived_by_sync, created_at, updated_at)
         SELECT telephony_session_id,
            CASE WHEN CAST(substr(id, 3) AS INTEGER) % 10 = 0 THEN 'stitched'
                 WHEN CAST(substr(id, 3) AS INTEGER) % 100 = 1 THEN 'incomplete'
                 WHEN CAST(substr(id, 3) AS INTEGER) % 100 = 2 THEN 'waiting'
                 ELSE 'single' END,
            start_time, TRUE, start_time, start_time
         FROM call_records"
            .to_owned(),
        "INSERT INTO conversation_sessions (telephony_session_id, conversation_id, position)
         SELECT telephony_session_id, telephony_session_id, 0 FROM call_records"
            .to_owned(),
        "ANALYZE".to_owned(),
    ];
    let mut tx = conn.begin().await.unwrap();
    for s in statements {
        sqlx::query(sqlx::AssertSqlSafe(s))
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn latencies(client: &reqwest::Client, url: &str) -> (Duration, Duration, usize) {
    for _ in 0..1 {
        let r = client.get(url).send().await.unwrap();
        assert_eq!(r.status(), 200, "{url}");
        r.bytes().await.unwrap();
    }
    let n = samples();
    let mut times = Vec::with_capacity(n);
    let started = Instant::now();
    while times.len() < n && started.elapsed() < ROW_BUDGET {
        let t = Instant::now();
        let r = client.get(url).send().await.unwrap();
        r.bytes().await.unwrap();
        times.push(t.elapsed());
    }
    times.sort();
    (
        percentile(&times, 0.5),
        percentile(&times, 0.95),
        times.len(),
    )
}

async fn throughput(client: &reqwest::Client, url: &str, size: u64, range: bool) -> f64 {
    let t = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..RANGE_CONCURRENCY {
        let (client, url) = (client.clone(), url.to_owned());
        tasks.push(tokio::spawn(async move {
            for i in 0..RANGE_REQUESTS / RANGE_CONCURRENCY {
                let mut req = client.get(&url);
                if range {
                    let start =
                        ((w * 7919 + i * 104_729) as u64) % size.saturating_sub(65_536).max(1);
                    req = req.header("range", format!("bytes={start}-{}", start + 65_535));
                }
                let r = req.send().await.unwrap();
                assert!(r.status().is_success());
                r.bytes().await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    RANGE_REQUESTS as f64 / t.elapsed().as_secs_f64()
}

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let n: u64 = std::env::var("WEB_BENCH_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let tmp = tempfile::tempdir().unwrap();
        let dir =
            std::env::var_os("WEB_BENCH_DIR").map_or_else(|| tmp.path().to_owned(), Into::into);
        let catalog_file = dir.join("catalog.sqlite");
        let reuse = catalog_file.exists();
        let url = format!("sqlite:{}?mode=rwc", catalog_file.display());
        let catalog = Catalog::open(&url).await.unwrap();
        if reuse {
            eprintln!("reusing the catalog in {}", dir.display());
        } else {
            let t = Instant::now();
            fill(&url, n).await;
            eprintln!(
                "filled {n} call records in {:.1} s",
                t.elapsed().as_secs_f64()
            );
            // The rows above bypassed the write path: build the term index the
            // way `Catalog::open` does after its migration.
            let t = Instant::now();
            let terms = catalog.rebuild_search_index().await.unwrap();
            eprintln!(
                "indexed them ({terms} term rows) in {:.1} s",
                t.elapsed().as_secs_f64()
            );
        }

        let hash = callvault::web::auth::password::hash_password("bench-password").unwrap();
        if !reuse {
            catalog
                .create_user(&NewUser {
                    name: "bench".into(),
                    password_hash: hash,
                    role: Role::Admin,
                    extensions: vec![],
                })
                .await
                .unwrap();
        }
        // One stored 1 MiB recording for the Range benchmark (bytes need not be audio).
        let blobs = BlobStore::local(dir.join("blobs")).unwrap();
        let rid = RecordingId::parse("r500000").unwrap();
        let key = StorageKey::for_recording(
            chrono::DateTime::from_timestamp(1_760_000_000, 0).unwrap(),
            &TelephonySessionId::parse("s-500000").unwrap(),
            &rid,
            BlobExt::Mp3,
        );
        let bytes: Vec<u8> = (0..1024 * 1024u32).map(|i| (i % 251) as u8).collect();
        let stored = blobs.put_bytes(&key, bytes.into()).await.unwrap();
        catalog
            .upsert_recording(&vault::NewRecording {
                id: rid.clone(),
                call_record_id: None,
                telephony_session_id: Some(TelephonySessionId::parse("s-500000").unwrap()),
                content_uri: None,
                content_type: Some("audio/mpeg".into()),
                call_start_time: chrono::Utc::now(),
                call_end_time: None,
            })
            .await
            .unwrap();
        catalog
            .mark_recording_stored(&rid, &key, &stored.sha256, stored.size, "audio/mpeg")
            .await
            .unwrap();

        let app = Application::with_state(
            "127.0.0.1:0".parse().unwrap(),
            AppState::new(catalog, blobs, false, Default::default())
                .await
                .unwrap(),
        )
        .await
        .unwrap();
        let base = format!("http://127.0.0.1:{}", app.port());
        tokio::spawn(app.run_until(std::future::pending()));

        let client = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let form = client
            .get(format!("{base}/login"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let marker = "name=\"csrf\" value=\"";
        let start = form.find(marker).unwrap() + marker.len();
        let csrf = &form[start..start + form[start..].find('"').unwrap()];
        let r = client
            .post(format!("{base}/login"))
            .form(&[
                ("username", "bench"),
                ("password", "bench-password"),
                ("csrf", csrf),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303);

        let (b50, b95, bn) = latencies(&client, &format!("{base}/assets/app.css")).await;
        println!("| request | samples | p50 | p95 | p95 ÷ baseline p95 |");
        println!("|---|---|---|---|---|");
        println!(
            "| baseline: GET /assets/app.css | {bn} | {:.2} ms | {:.2} ms | 1.0 |",
            ms(b50),
            ms(b95)
        );
        // No filter, a date, an extension (1 call in 200), a name (two words,
        // the rarer in 5,000 calls), a number's last 4 digits (about 200
        // calls), a whole number (1 call), direction, state, the search box
        // by name, by number and by id, and a page deep into the list.
        for query in [
            "",
            "from=2025-11-20&to=2025-11-20",
            "extension=150",
            "party=Caller%204210",
            "party=4210",
            "party=%2B1%20415%20012%203456",
            "direction=Outbound",
            "state=stitched",
            "state=incomplete",
            "q=Agent%2017",
            "q=%2B16500864192",
            "q=s-123456",
            "page=40",
        ] {
            let (p50, p95, k) = latencies(&client, &format!("{base}/calls?{query}")).await;
            println!(
                "| GET /calls?{query} | {k} | {:.2} ms | {:.2} ms | {:.1} |",
                ms(p50),
                ms(p95),
                ms(p95) / ms(b95)
            );
        }
        let base_rps = throughput(&client, &format!("{base}/assets/app.css"), 0, false).await;
        let range_rps = throughput(
            &client,
            &format!("{base}/audio/recording/r500000"),
            stored.size,
            true,
        )
        .await;
        println!();
        println!("| throughput ({RANGE_CONCURRENCY} connections) | requests/s | ÷ baseline |");
        println!("|---|---|---|");
        println!("| baseline: GET /assets/app.css | {base_rps:.0} | 1.0 |");
        println!(
            "| GET /audio/recording/… Range 64 KiB | {range_rps:.0} | {:.2} |",
            range_rps / base_rps
        );
    });
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
