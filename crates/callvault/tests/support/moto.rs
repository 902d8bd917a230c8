//! A real S3 server for tests: moto's `moto_server` (PyPI `moto[server]`),
//! which enforces Object Lock (s3s-fs does not). One server per test binary,
//! shared by the tests running at the time and stopped when the last of
//! them lets go; each test works in a bucket of its own.
//!
//! The server runs under a `sh` that kills it as soon as its stdin closes:
//! when the last [`Moto`] is dropped, or when the test binary dies (even by
//! SIGKILL), so no server outlives its tests.
//!
//! `moto_server` missing: the tests that need it skip, unless
//! `CALLVAULT_REQUIRE_S3` is set (as `.ci/run` does), which makes them fail.

// Each test binary that includes this uses a part of it.
#![allow(dead_code)]

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

/// Credentials moto accepts (it checks none); the standard `AWS_*` names,
/// which the product reads from the environment.
pub const AWS_ENV: [(&str, &str); 3] = [
    ("AWS_ACCESS_KEY_ID", "testing"),
    ("AWS_SECRET_ACCESS_KEY", "testing"),
    ("AWS_REGION", "us-east-1"),
];

/// A running `moto_server` on a loopback port.
pub struct Moto {
    child: Child,
    endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        // Closing stdin makes the wrapper kill the server and exit.
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

static SHARED: tokio::sync::Mutex<Weak<Moto>> = tokio::sync::Mutex::const_new(Weak::new());

/// The binary's moto server, started if none is running. `None` (the test
/// should skip) when `moto_server` is not installed and
/// `CALLVAULT_REQUIRE_S3` is not set; a panic when it is set.
pub async fn moto() -> Option<Arc<Moto>> {
    let mut shared = SHARED.lock().await;
    if let Some(running) = shared.upgrade() {
        return Some(running);
    }
    if !installed() {
        assert!(
            std::env::var_os("CALLVAULT_REQUIRE_S3").is_none(),
            "CALLVAULT_REQUIRE_S3 is set but moto_server is not installed (pip install 'moto[server]')"
        );
        eprintln!("skipped: moto_server is not installed");
        return None;
    }
    let moto = Arc::new(Moto::start().await);
    *shared = Arc::downgrade(&moto);
    Some(moto)
}

fn installed() -> bool {
    Command::new("moto_server")
        .arg("--help")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().no_proxy().build().unwrap()
}

impl Moto {
    async fn start() -> Moto {
        // moto_server binds port 0 itself and says where ("Running on
        // http://127.0.0.1:PORT"); its log goes to our pipe, which a thread
        // reads to the end so the server never blocks on a full pipe.
        let mut child = Command::new("sh")
            .arg("-c")
            .arg("moto_server -H 127.0.0.1 -p 0 2>&1 & pid=$!; read _; kill $pid; wait $pid")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("sh starts moto_server");
        let out = child.stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        std::thread::spawn(move || {
            use std::io::BufRead;
            let mut tx = Some(tx);
            for line in std::io::BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if let Some(url) = line.split("Running on ").nth(1)
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(url.trim().trim_end_matches('/').to_owned());
                }
            }
        });
        let endpoint =
            tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(60)))
                .await
                .unwrap()
                .expect("moto_server never said where it listens");
        let moto = Moto { child, endpoint };
        let deadline = Instant::now() + Duration::from_secs(60);
        let client = http();
        loop {
            if let Ok(r) = client.get(&moto.endpoint).send().await
                && r.status().is_success()
            {
                return moto;
            }
            assert!(Instant::now() < deadline, "moto_server never answered");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Creates a bucket with a fresh name (with Object Lock, and so
    /// versioning, when `object_lock`) and returns its name.
    pub async fn bucket(&self, object_lock: bool) -> String {
        let name = format!("t-{}", uuid::Uuid::new_v4().simple());
        let mut req = http().put(format!("{}/{name}", self.endpoint));
        if object_lock {
            req = req.header("x-amz-bucket-object-lock-enabled", "true");
        }
        let r = req.send().await.expect("moto answers");
        assert!(r.status().is_success(), "creating bucket: {}", r.status());
        name
    }

    /// A blob store on `bucket`, with explicit credentials (no environment).
    pub fn blob_store(&self, bucket: &str) -> vault::BlobStore {
        vault::BlobStore::open_s3(&vault::S3Config {
            bucket: bucket.to_owned(),
            endpoint: Some(self.endpoint.clone()),
            region: Some("us-east-1".into()),
            access_key_id: Some("testing".into()),
            secret_access_key: Some("testing".into()),
            allow_http: true,
        })
        .expect("an S3 blob store")
    }

    /// The `--storage` URL of `bucket`.
    pub fn storage_url(&self, bucket: &str) -> String {
        format!(
            "s3://{bucket}?endpoint={}&region=us-east-1&allow_http=true",
            self.endpoint
        )
    }

    /// Every key in `bucket` with the number of versions it has (moto lists
    /// them, including delete markers, with `?versions`).
    pub async fn versions(&self, bucket: &str) -> Vec<(String, usize)> {
        let text = http()
            .get(format!("{}/{bucket}?versions", self.endpoint))
            .send()
            .await
            .expect("moto answers")
            .text()
            .await
            .unwrap();
        let mut counts = std::collections::BTreeMap::<String, usize>::new();
        for part in text.split("<Key>").skip(1) {
            if let Some((key, _)) = part.split_once("</Key>") {
                *counts.entry(key.to_owned()).or_default() += 1;
            }
        }
        counts.into_iter().collect()
    }

    /// Multipart uploads started and never completed or aborted in `bucket`.
    pub async fn open_uploads(&self, bucket: &str) -> usize {
        let text = http()
            .get(format!("{}/{bucket}?uploads", self.endpoint))
            .send()
            .await
            .expect("moto answers")
            .text()
            .await
            .unwrap();
        text.matches("<UploadId>").count()
    }
}
