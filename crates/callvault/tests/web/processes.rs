//! Real `callvault serve` processes sharing one catalog: the throttle and
//! the login form's signature hold across processes, and logs cannot be
//! forged through user input.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use callvault::web::auth::password::hash_password;
use callvault::web::auth::throttle::PER_USER_AND_ADDRESS;
use vault::Catalog;
use vault::users::{NewUser, Role};

use crate::helpers::*;
use crate::throttle::{post_all, tally, with_form};

/// One `callvault serve --no-workers` process; killed on drop.
pub struct ServeProcess {
    child: Child,
    pub base: String,
    pub log: std::path::PathBuf,
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("log of {}:\n{}", self.base, self.log_text());
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl ServeProcess {
    /// Starts serve on `database` (blobs and data under `dir`), logging to
    /// `dir/serve-{name}.log`, and waits for its "listening" line.
    pub fn start(dir: &Path, database: &str, name: &str) -> ServeProcess {
        let log = dir.join(format!("serve-{name}.log"));
        let mut child = Command::new(env!("CARGO_BIN_EXE_callvault"))
            .arg("serve")
            .arg("--data")
            .arg(dir.join("data"))
            .args(["--database", database])
            .args(["--listen", "127.0.0.1:0", "--no-workers"])
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .env_remove("CALLVAULT_DATABASE")
            .env_remove("CALLVAULT_STORAGE")
            .env_remove("CALLVAULT_LISTEN")
            .env_remove("CALLVAULT_PUBLIC_URL")
            .env_remove("RC_CLIENT_ID")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("callvault serve starts");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let base = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(url) = line.strip_prefix("CallVault listening on ") {
                        break url.trim().to_owned();
                    }
                }
                _ => panic!(
                    "serve {name} exited before listening:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                ),
            }
        };
        ServeProcess { child, base, log }
    }

    /// The process's log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

async fn add_user(catalog: &Catalog, who: (&str, &str)) {
    let hash = hash_password(who.1).unwrap();
    catalog
        .create_user(&NewUser {
            name: who.0.into(),
            password_hash: hash,
            role: Role::Admin,
            extensions: vec![],
        })
        .await
        .unwrap();
}

/// Two processes on `database`; 60 wrong passwords for one user, sent at
/// once, half to each: only the limit's worth may be checked.
async fn two_processes_hold_the_limit(dir: &Path, database: &str) {
    let catalog = Catalog::open(database).await.unwrap();
    add_user(&catalog, ADMIN).await;
    let a = ServeProcess::start(dir, database, "a");
    let b = ServeProcess::start(dir, database, "b");
    let forms = futures::future::join_all((0..60).map(|i| {
        let base = if i % 2 == 0 { &a.base } else { &b.base };
        async move {
            let (c, csrf) = with_form(base, client()).await;
            (base.clone(), c, csrf)
        }
    }))
    .await;
    let statuses = post_all(forms, |_| ADMIN.0.into(), |_| "wrong-password".into()).await;
    let t = tally(&statuses);
    assert_eq!(
        t.get(&200).copied().unwrap_or(0),
        PER_USER_AND_ADDRESS as usize,
        "across both processes only the limit is checked: {t:?}\n{}\n{}",
        a.log_text(),
        b.log_text()
    );
    assert_eq!(
        t.get(&429).copied().unwrap_or(0),
        60 - PER_USER_AND_ADDRESS as usize,
        "{t:?}"
    );
    // A form served by one process is accepted by the other (shared key).
    let c = client();
    let (c, csrf) = with_form(&a.base, c).await;
    let r = c
        .post(format!("{}/login", b.base))
        .form(&[
            ("username", "someone-else"),
            ("password", "x"),
            ("csrf", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "a wrong password, not a CSRF refusal");
    catalog.close().await;
}

#[tokio::test]
async fn on_sqlite_two_serve_processes_share_the_login_limit() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!(
        "sqlite:{}?mode=rwc",
        dir.path().join("catalog.sqlite").display()
    );
    two_processes_hold_the_limit(dir.path(), &database).await;
}

#[tokio::test]
async fn on_postgresql_two_serve_processes_share_the_login_limit() {
    let Some((admin, database, schema)) = postgres_schema().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    two_processes_hold_the_limit(dir.path(), &database).await;
    drop_postgres_schema(&admin, &schema).await;
}

#[tokio::test]
async fn a_user_name_cannot_forge_a_log_line() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!(
        "sqlite:{}?mode=rwc",
        dir.path().join("catalog.sqlite").display()
    );
    let serve = ServeProcess::start(dir.path(), &database, "log");
    let hostile = [
        "mallory\nERROR callvault: admin logged in",
        "mallory\r\nINFO forged",
        "eve\u{1b}[2J\u{1b}[1;1H",
        "quote\" user=\"admin",
    ];
    for name in hostile {
        let (c, csrf) = with_form(&serve.base, client()).await;
        let r = c
            .post(format!("{}/login", serve.base))
            .form(&[("username", name), ("password", "x"), ("csrf", &csrf)])
            .send()
            .await
            .unwrap();
        assert!(
            [200, 400].contains(&r.status().as_u16()),
            "{name:?}: {}",
            r.status()
        );
    }
    // The last name is printable: its failure is logged, quoted. Wait for
    // that line (the log is written by another process).
    let deadline = Instant::now() + Duration::from_secs(30);
    let log = loop {
        let log = serve.log_text();
        if log.contains("login failed") {
            break log;
        }
        assert!(Instant::now() < deadline, "no 'login failed' line:\n{log}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    for line in log.lines() {
        assert!(
            !line.starts_with("ERROR callvault") && !line.starts_with("INFO forged"),
            "a forged line: {line:?}\n{log}"
        );
        assert!(!line.contains('\u{1b}'), "a raw escape: {line:?}");
    }
    assert!(
        log.contains(r#"user="quote\" user=\"admin""#),
        "the name is logged escaped:\n{log}"
    );
}
