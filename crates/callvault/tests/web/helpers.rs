//! A real `callvault serve` on port 0 over a SQLite file and a blob folder
//! in a tempdir, seeded through vault's APIs with real MP3 audio.

use std::io::Cursor;
use std::sync::LazyLock;

use callvault::startup::{Application, Settings};
use callvault::web::auth::password::hash_password;
use chrono::{DateTime, Duration, TimeZone, Utc};
use vault::users::{NewUser, Role};
use vault::{
    BlobExt, BlobStore, CallRecordId, CallRecordRow, Catalog, ConversationId, ConversationState,
    ConversationUpsert, LegRow, NewRecording, RecordingId, Source, StorageKey, TelephonySessionId,
};

pub const ADMIN: (&str, &str) = ("admin", "admin-password");
/// Extension 101: took part in the stitched conversation A.
pub const VIEWER_101: (&str, &str) = ("viewer101", "viewer-101-password");
/// Extension 201: owns the single-leg conversation B.
pub const VIEWER_201: (&str, &str) = ("viewer201", "viewer-201-password");

/// Conversation A: inbound, ext 101 then transferred to ext 102; two legs, stitched.
pub const CONV_A: &str = "s-convA";
pub const REC_A1: &str = "1001";
pub const REC_A2: &str = "1002";
/// Conversation B: outbound from ext 201, one leg.
pub const CONV_B: &str = "s-convB";
pub const REC_B: &str = "2001";

/// Password hashes are slow to make; the seed reuses these.
static HASHES: LazyLock<[String; 3]> = LazyLock::new(|| {
    [
        hash_password(ADMIN.1).unwrap(),
        hash_password(VIEWER_101.1).unwrap(),
        hash_password(VIEWER_201.1).unwrap(),
    ]
});

pub struct TestApp {
    pub base: String,
    pub catalog: Catalog,
    pub blobs: BlobStore,
    /// Stops the server gracefully ([`TestApp::stop`]).
    pub stop: Option<tokio::sync::oneshot::Sender<()>>,
    pub server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    /// Length of leg 1 in the stitched file, ms (leg 2 starts here).
    pub leg2_start_ms: u64,
    pub _dir: tempfile::TempDir,
    /// (admin URL, schema) of a PostgreSQL test schema.
    pub pg: Option<(String, String)>,
    /// The audit signing key the server signs bundles with (its public
    /// key is beside it, `.pub`).
    pub audit_key: std::path::PathBuf,
    /// The catalog's URL.
    pub database_url: String,
    /// The blob store's location.
    pub storage_url: String,
}

/// MP3 bytes of a recording whose DTMF marker is `marker`, `ms` long.
pub fn mp3(marker: u32, ms: u64) -> bytes::Bytes {
    let recording = rc_sandbox::model::Recording {
        id: marker.to_string(),
        kind: rc_sandbox::model::RecordingKind::Automatic,
        duration_ms: ms,
        marker,
        deleted: false,
    };
    rc_sandbox::audio::render(&rc_sandbox::audio::AudioSettings::default(), &recording)
}

/// The app over a fresh SQLite file.
pub async fn spawn_app() -> TestApp {
    spawn_app_tuned(|_| {}).await
}

/// The app over a fresh SQLite file, with `tune` applied to its settings.
pub async fn spawn_app_tuned(tune: impl FnOnce(&mut Settings)) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let database_url = format!(
        "sqlite:{}?mode=rwc",
        dir.path().join("catalog.sqlite").display()
    );
    spawn_app_at(dir, database_url, tune).await
}

const PG_SCHEMA_PREFIX: &str = "web_t_";

/// The app over a fresh schema of the PostgreSQL named by
/// `CALLVAULT_TEST_POSTGRES`, or `None` (with a note) when it is unset.
/// Call [`TestApp::finish`] to drop the schema.
pub async fn spawn_app_postgres() -> Option<TestApp> {
    let (admin, url, schema) = postgres_schema().await?;
    let mut app = spawn_app_at(tempfile::tempdir().unwrap(), url, |_| {}).await;
    app.pg = Some((admin, schema));
    Some(app)
}

/// A fresh schema in the PostgreSQL named by `CALLVAULT_TEST_POSTGRES`:
/// (admin URL, URL inside the schema, schema), or `None` (with a note) when
/// the variable is unset. Drop it with [`drop_postgres_schema`].
pub async fn postgres_schema() -> Option<(String, String, String)> {
    use sqlx::Connection;
    let Ok(admin) = std::env::var("CALLVAULT_TEST_POSTGRES") else {
        crate::common::skip("CALLVAULT_TEST_POSTGRES is not set");
        return None;
    };
    let schema = format!("{PG_SCHEMA_PREFIX}{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut conn)
        .await
        .unwrap();
    let sep = if admin.contains('?') { '&' } else { '?' };
    let url = format!("{admin}{sep}options[search_path]={schema}");
    Some((admin, url, schema))
}

/// Drops a schema made by [`postgres_schema`].
pub async fn drop_postgres_schema(admin: &str, schema: &str) {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(admin).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&mut conn)
        .await
        .unwrap();
}

async fn spawn_app_at(
    dir: tempfile::TempDir,
    database_url: String,
    tune: impl FnOnce(&mut Settings),
) -> TestApp {
    let storage_url = dir.path().join("blobs").display().to_string();
    let mut settings = Settings {
        worm: Default::default(),
        listen: "127.0.0.1:0".parse().unwrap(),
        database_url,
        storage_url,
        public_url: None,
        web: Default::default(),
        connections: Default::default(),
    };
    tune(&mut settings);
    let (database_url, storage_url) = (settings.database_url.clone(), settings.storage_url.clone());
    let audit_key = dir.path().join("audit.key");
    let signer = vault::audit::AuditSigner::generate(&audit_key).unwrap();
    std::fs::write(
        dir.path().join("audit.key.pub"),
        signer.public_key().to_hex(),
    )
    .unwrap();
    let app = Application::build(settings)
        .await
        .unwrap()
        .with_audit_signer(std::sync::Arc::new(signer));
    let base = format!("http://127.0.0.1:{}", app.port());
    let catalog = app.state().catalog.clone();
    let blobs = app.state().blobs.clone();
    let metrics = app.state().metrics.clone();
    let probes = callvault::health::Health::new(catalog.clone()).with_web(metrics);
    let app = app.with_routes(callvault::health::router(probes));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    let leg2_start_ms = seed(&catalog, &blobs).await;
    TestApp {
        base,
        catalog,
        blobs,
        leg2_start_ms,
        stop: Some(stop),
        server: Some(server),
        _dir: dir,
        pg: None,
        audit_key,
        database_url,
        storage_url,
    }
}

fn at(minute: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 9, 0, 0).unwrap() + Duration::minutes(minute)
}

#[allow(clippy::too_many_arguments)]
fn leg(
    index: i64,
    session: &str,
    recording: Option<&str>,
    start: DateTime<Utc>,
    from: &str,
    to: &str,
    ext: &str,
    leg_type: &str,
) -> LegRow {
    LegRow {
        index,
        leg_type: Some(leg_type.into()),
        telephony_session_id: Some(TelephonySessionId::parse(session).unwrap()),
        recording_id: recording.map(|r| RecordingId::parse(r).unwrap()),
        start_time: Some(start),
        duration_ms: Some(6000),
        direction: Some("Inbound".into()),
        from_number: Some(from.into()),
        to_number: Some(to.into()),
        extension_id: Some(ext.into()),
        master: index == 0,
    }
}

async fn store_recording(
    catalog: &Catalog,
    blobs: &BlobStore,
    id: &str,
    record: &str,
    session: &str,
    start: DateTime<Utc>,
    audio: bytes::Bytes,
) {
    let rid = RecordingId::parse(id).unwrap();
    let tsid = TelephonySessionId::parse(session).unwrap();
    catalog
        .upsert_recording(&NewRecording {
            id: rid.clone(),
            call_record_id: Some(CallRecordId::parse(record).unwrap()),
            telephony_session_id: Some(tsid.clone()),
            content_uri: Some(format!(
                "https://media.example/restapi/v1.0/account/~/recording/{id}/content"
            )),
            content_type: Some("audio/mpeg".into()),
            call_start_time: start,
            call_end_time: Some(start + Duration::seconds(6)),
        })
        .await
        .unwrap();
    let key = StorageKey::for_recording(start, &tsid, &rid, BlobExt::Mp3);
    let stored = blobs.put_bytes(&key, audio).await.unwrap();
    assert!(
        catalog
            .mark_recording_stored(&rid, &key, &stored.sha256, stored.size, "audio/mpeg")
            .await
            .unwrap()
    );
}

#[allow(clippy::too_many_arguments)]
fn record(
    id: &str,
    session: &str,
    start: DateTime<Utc>,
    direction: &str,
    from: (&str, &str),
    to: (&str, &str),
    ext: &str,
    legs: Vec<LegRow>,
) -> CallRecordRow {
    CallRecordRow {
        id: CallRecordId::parse(id).unwrap(),
        telephony_session_id: Some(TelephonySessionId::parse(session).unwrap()),
        session_id: None,
        start_time: start,
        duration_ms: Some(12_000),
        direction: Some(direction.into()),
        from_number: Some(from.0.into()),
        from_name: Some(from.1.into()),
        to_number: Some(to.0.into()),
        to_name: Some(to.1.into()),
        extension_id: Some(ext.into()),
        raw: serde_json::json!({"id": id}).to_string(),
        legs,
    }
}

/// Seeds users, conversation A (two legs, stitched) and B (one leg).
/// Returns where leg 2 starts in A's stitched file (ms).
async fn seed(catalog: &Catalog, blobs: &BlobStore) -> u64 {
    let hashes = HASHES.clone();
    for ((name, _), (hash, (role, exts))) in
        [ADMIN, VIEWER_101, VIEWER_201]
            .into_iter()
            .zip(hashes.into_iter().zip([
                (Role::Admin, vec![]),
                (Role::Viewer, vec!["101".to_string()]),
                (Role::Viewer, vec!["201".to_string()]),
            ]))
    {
        catalog
            .create_user(&NewUser {
                name: name.into(),
                password_hash: hash,
                role,
                extensions: exts,
            })
            .await
            .unwrap()
            .unwrap();
    }

    // Conversation A.
    let a_start = at(60);
    let (a1, a2) = (mp3(4_100_001, 6000), mp3(4_100_002, 6000));
    catalog
        .upsert_call_record(
            &record(
                "cr-A",
                CONV_A,
                a_start,
                "Inbound",
                ("+14155550100", "Dana Caller"),
                ("+16505550101", "Ava Front Desk"),
                "101",
                vec![
                    leg(
                        0,
                        CONV_A,
                        Some(REC_A1),
                        a_start,
                        "+14155550100",
                        "101",
                        "101",
                        "PhoneCall",
                    ),
                    leg(
                        1,
                        CONV_A,
                        Some(REC_A2),
                        a_start + Duration::seconds(6),
                        "101",
                        "102",
                        "102",
                        "Transfer",
                    ),
                ],
            ),
            Source::Sync,
        )
        .await
        .unwrap();
    store_recording(catalog, blobs, REC_A1, "cr-A", CONV_A, a_start, a1.clone()).await;
    store_recording(
        catalog,
        blobs,
        REC_A2,
        "cr-A",
        CONV_A,
        a_start + Duration::seconds(6),
        a2.clone(),
    )
    .await;
    let conv_a = ConversationId::parse(CONV_A).unwrap();
    catalog
        .upsert_conversation(&ConversationUpsert {
            id: conv_a.clone(),
            sessions: vec![TelephonySessionId::parse(CONV_A).unwrap()],
            initial_state: ConversationState::Ended,
            started_at: Some(a_start),
            source: Source::Sync,
        })
        .await
        .unwrap();
    let mut out = Vec::new();
    let manifest = stitch::join(
        vec![
            stitch::Leg::new(
                REC_A1,
                "Leg 1: +14155550100 → ext 101",
                Cursor::new(a1.to_vec()),
            ),
            stitch::Leg::new(REC_A2, "Leg 2: ext 101 → ext 102", Cursor::new(a2.to_vec())),
        ],
        &stitch::JoinOptions::default(),
        &mut out,
    )
    .unwrap();
    let key = StorageKey::for_conversation(a_start, &conv_a, BlobExt::Mp3);
    let stored = blobs.put_bytes(&key, out.into()).await.unwrap();
    catalog
        .mark_conversation_stitched(
            &conv_a,
            &key,
            &stored.sha256,
            &serde_json::to_value(&manifest).unwrap(),
        )
        .await
        .unwrap();

    // Conversation B, earlier.
    let b_start = at(0);
    catalog
        .upsert_call_record(
            &record(
                "cr-B",
                CONV_B,
                b_start,
                "Outbound",
                ("+16505550201", "Ben Sales"),
                ("+12125550199", "Zed Customer"),
                "201",
                vec![leg(
                    0,
                    CONV_B,
                    Some(REC_B),
                    b_start,
                    "201",
                    "+12125550199",
                    "201",
                    "PhoneCall",
                )],
            ),
            Source::Sync,
        )
        .await
        .unwrap();
    store_recording(
        catalog,
        blobs,
        REC_B,
        "cr-B",
        CONV_B,
        b_start,
        mp3(4_200_001, 4000),
    )
    .await;
    let conv_b = ConversationId::parse(CONV_B).unwrap();
    catalog
        .upsert_conversation(&ConversationUpsert {
            id: conv_b.clone(),
            sessions: vec![TelephonySessionId::parse(CONV_B).unwrap()],
            initial_state: ConversationState::Single,
            started_at: Some(b_start),
            source: Source::Sync,
        })
        .await
        .unwrap();

    manifest.legs[1].start_ms
}

/// A client that keeps cookies and does not follow redirects.
pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        // A connection per request: the server closes idle keep-alives
        // after its header timeout, and a POST sent on one just closed
        // would fail (a race of any keep-alive client, not of the server).
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

pub use crate::login_support::{csrf_field, form_csrf};

impl TestApp {
    /// Drops the PostgreSQL schema, if any.
    pub async fn finish(self) {
        self.catalog.close().await;
        if let Some((admin, schema)) = &self.pg {
            drop_postgres_schema(admin, schema).await;
        }
    }

    /// Asks the server to stop and returns its task, to await its end.
    pub fn stop(&mut self) -> tokio::task::JoinHandle<std::io::Result<()>> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.server.take().expect("the server task")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Logs `client` in as `who`; panics unless the login succeeds.
    pub async fn login(&self, client: &reqwest::Client, who: (&str, &str)) {
        let response = self.try_login(client, who.0, who.1).await;
        assert_eq!(response.status(), 303, "login of {} failed", who.0);
    }

    /// Fetches the login form and posts it with its CSRF token.
    pub async fn try_login(
        &self,
        client: &reqwest::Client,
        user: &str,
        password: &str,
    ) -> reqwest::Response {
        crate::login_support::post_login(client, &self.base, user, password, "/calls").await
    }

    /// Logs `client` out with its session's CSRF token (taken from the
    /// calls page).
    pub async fn logout(&self, client: &reqwest::Client) -> reqwest::Response {
        let page = client.get(self.url("/calls")).send().await.unwrap();
        assert_eq!(page.status(), 200);
        let csrf = csrf_field(&page.text().await.unwrap());
        client
            .post(self.url("/logout"))
            .form(&[("csrf", &csrf)])
            .send()
            .await
            .unwrap()
    }

    /// A logged-in client.
    pub async fn logged_in(&self, who: (&str, &str)) -> reqwest::Client {
        let c = client();
        self.login(&c, who).await;
        c
    }
}
