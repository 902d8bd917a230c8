//! The sealed audit trail end to end: logins on the trail, and the real
//! `callvault audit` and `user` commands sealing, verifying, exporting and
//! catching tampering, with two processes appending at once.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use sqlx::Connection;

use crate::helpers::*;

#[tokio::test]
async fn logins_failed_logins_and_logouts_are_on_the_trail() {
    let app = spawn_app().await;
    let c = client();
    assert_eq!(
        app.try_login(&c, ADMIN.0, "wrong-password").await.status(),
        200
    );
    app.login(&c, ADMIN).await;
    assert_eq!(app.logout(&c).await.status(), 303);
    let entries = app.catalog.audit_entries(10, 0).await.unwrap();
    let got: Vec<(&str, &str, &str, Option<&str>)> = entries
        .iter()
        .rev()
        .map(|e| {
            (
                e.action.as_str(),
                e.object_kind.as_str(),
                e.object_id.as_str(),
                e.client.as_deref(),
            )
        })
        .collect();
    let who = Some("127.0.0.1");
    assert_eq!(
        got,
        [
            ("login_failed", "user", ADMIN.0, who),
            ("login", "user", ADMIN.0, who),
            ("logout", "user", ADMIN.0, who),
        ]
    );
}

/// Runs the real binary with `args` (and `stdin` as its input).
pub fn callvault(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_callvault"))
        .args(args)
        .env_remove("CALLVAULT_DATABASE")
        .env_remove("CALLVAULT_AUDIT_KEY")
        .env("USER", "auditor")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(text) = stdin {
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn add_user(database: &str, key: &Path, name: &str) -> Output {
    callvault(
        &[
            "user",
            "add",
            "--database",
            database,
            "--audit-key",
            key.to_str().unwrap(),
            name,
            "--role",
            "viewer",
            "--extension",
            "101",
            "--password-stdin",
        ],
        Some("a-long-password\n"),
    )
}

fn keygen(dir: &Path) -> PathBuf {
    let key = dir.join("audit.key");
    let out = callvault(&["audit", "keygen", "-o", key.to_str().unwrap()], None);
    assert!(out.status.success(), "{}", text(&out));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the private key is readable by others");
    }
    assert_eq!(
        std::fs::read_to_string(dir.join("audit.key.pub"))
            .unwrap()
            .trim()
            .len(),
        64
    );
    // Never overwritten.
    let again = callvault(&["audit", "keygen", "-o", key.to_str().unwrap()], None);
    assert!(!again.status.success());
    key
}

fn verify(database: &str, public: &Path, file: Option<&Path>) -> Output {
    let mut args = vec![
        "audit",
        "verify",
        "--database",
        database,
        "--public-key",
        public.to_str().unwrap(),
    ];
    if let Some(file) = file {
        args.extend(["--file", file.to_str().unwrap()]);
    }
    callvault(&args, None)
}

#[tokio::test]
async fn the_cli_seals_verifies_exports_and_names_the_first_tampered_entry() {
    let dir = tempfile::tempdir().unwrap();
    let db_path = dir.path().join("catalog.sqlite");
    let database = format!("sqlite:{}?mode=rwc", db_path.display());
    let key = keygen(dir.path());
    let public = dir.path().join("audit.key.pub");
    for name in ["ann", "bob", "cy"] {
        let out = add_user(&database, &key, name);
        assert!(out.status.success(), "{}", text(&out));
    }
    // `user add` sealed each change: the head is signed.
    let out = verify(&database, &public, None);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("3 entries, 3 checkpoints"),
        "{}",
        text(&out)
    );

    // The export verifies with the public key alone.
    let export = dir.path().join("trail.jsonl");
    let out = callvault(
        &[
            "audit",
            "export",
            "--database",
            &database,
            "-o",
            export.to_str().unwrap(),
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = verify("sqlite:/nonexistent/unused.sqlite", &public, Some(&export));
    assert!(out.status.success(), "{}", text(&out));
    // A changed byte in the export is named.
    let original = std::fs::read_to_string(&export).unwrap();
    std::fs::write(&export, original.replacen("\\\"bob\\\"", "\\\"eve\\\"", 1)).unwrap();
    let out = verify("sqlite:/nonexistent/unused.sqlite", &public, Some(&export));
    assert!(!out.status.success());
    assert!(text(&out).contains("entry 2 was altered"), "{}", text(&out));

    // An attacker with a SQL shell drops the trigger and edits entry 2.
    let mut conn = sqlx::SqliteConnection::connect(&database).await.unwrap();
    for statement in [
        "DROP TRIGGER audit_events_no_update",
        "UPDATE audit_events SET subject_id = 'eve' WHERE seq = 2",
    ] {
        sqlx::query(statement).execute(&mut conn).await.unwrap();
    }
    conn.close().await.unwrap();
    let out = verify(&database, &public, None);
    assert!(!out.status.success());
    assert!(text(&out).contains("entry 2 was altered"), "{}", text(&out));
}

#[tokio::test]
async fn two_processes_appending_at_once_keep_one_chain() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path());
    let public = dir.path().join("audit.key.pub");
    let sqlite = format!("sqlite:{}?mode=rwc", dir.path().join("c.sqlite").display());
    let mut databases = vec![(sqlite, None)];
    if let Some((admin, url, schema)) = postgres_schema().await {
        databases.push((url, Some((admin, schema))));
    }
    for (database, schema) in databases {
        // Migrate once, so the two streams race on appends, not on setup.
        vault::Catalog::open(&database).await.unwrap().close().await;
        let streams: Vec<_> = ["p", "q"]
            .into_iter()
            .map(|prefix| {
                let (database, key) = (database.clone(), key.clone());
                std::thread::spawn(move || {
                    for i in 0..4 {
                        let out = add_user(&database, &key, &format!("{prefix}{i}"));
                        assert!(out.status.success(), "{}", text(&out));
                    }
                })
            })
            .collect();
        for s in streams {
            s.join().unwrap();
        }
        let out = verify(&database, &public, None);
        assert!(out.status.success(), "{database}: {}", text(&out));
        assert!(text(&out).contains("8 entries"), "{}", text(&out));
        if let Some((admin, schema)) = schema {
            drop_postgres_schema(&admin, &schema).await;
        }
    }
}

#[tokio::test]
async fn the_serve_checkpoint_task_seals_new_entries_and_once_more_on_stop() {
    let app = spawn_app().await;
    let signer = std::sync::Arc::new(vault::audit::AuditSigner::load(&app.audit_key).unwrap());
    let stop = tokio_util::sync::CancellationToken::new();
    let task = tokio::spawn(callvault::audit::run_checkpoints(
        app.catalog.clone(),
        signer.clone(),
        std::time::Duration::from_millis(50),
        stop.clone(),
    ));
    let signed = |n: i64| {
        let catalog = app.catalog.clone();
        let public = signer.public_key();
        async move {
            let report = catalog.verify_audit(&public).await.unwrap();
            report.is_intact() && report.signed_entries == n && report.entries == n
        }
    };
    app.logged_in(ADMIN).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !signed(1).await {
        assert!(
            std::time::Instant::now() < deadline,
            "no checkpoint signed the login"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    app.logged_in(VIEWER_101).await;
    stop.cancel();
    task.await.unwrap();
    // The last round on the way out signed the second login too.
    assert!(signed(2).await);
}
