//! Real headless Chromium through chromedriver (fantoccini). Skipped with a
//! message when Chromium is not installed, unless `CALLVAULT_REQUIRE_BROWSER`
//! is set (as `.ci/run` does after installing it), which turns the skip into
//! a failure.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use crate::helpers::*;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// How long the browser may take to do what it will do: only a backstop
/// against a hang, generous for a 2-core machine busy with other builds.
const PATIENCE: Duration = Duration::from_secs(120);

/// Kills chromedriver (which ends its browsers) when the test ends.
struct Driver {
    child: Child,
    port: u16,
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn browser_available() -> bool {
    let present = Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists();
    if !present {
        assert!(
            std::env::var_os("CALLVAULT_REQUIRE_BROWSER").is_none(),
            "CALLVAULT_REQUIRE_BROWSER is set but {CHROMIUM} or {CHROMEDRIVER} is missing"
        );
        eprintln!(
            "skipped: browser tests need {CHROMIUM} and {CHROMEDRIVER} \
             (apt-get install -y --no-install-recommends chromium chromium-driver)"
        );
    }
    present
}

/// Starts chromedriver on a port of its own choosing (`--port=0`) and
/// returns once it reports that port on stdout: no port is picked here and
/// dropped for the child to bind, so nothing can take it in between.
async fn start_driver() -> (Driver, Client) {
    let mut child = Command::new(CHROMEDRIVER)
        .arg("--port=0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (port_tx, port_rx) = std::sync::mpsc::channel();
    // Reads to the end, so chromedriver never blocks on a full pipe.
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(port) = line
                .split_once("started successfully on port ")
                .and_then(|(_, rest)| rest.trim_end_matches('.').parse::<u16>().ok())
            {
                let _ = port_tx.send(port);
            }
        }
    });
    let port = tokio::task::spawn_blocking(move || port_rx.recv_timeout(PATIENCE))
        .await
        .unwrap()
        .expect("chromedriver did not report its port");
    let driver = Driver {
        child,
        port,
        _profile: tempfile::tempdir().unwrap(),
    };
    let args = json!([
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--disable-extensions",
        "--window-size=1280,900",
        "--mute-audio",
        "--autoplay-policy=no-user-gesture-required",
        format!("--user-data-dir={}", driver._profile.path().display()),
    ]);
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({"binary": CHROMIUM, "args": args}),
    );
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .unwrap();
    (driver, client)
}

fn screenshot_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Fills the login form (of the page we were sent to, or a fresh one).
async fn log_in(b: &Client, app: &TestApp, who: (&str, &str)) {
    if path(b).await != "/login" {
        b.goto(&app.url("/login")).await.unwrap();
    }
    b.find(Locator::Css("#username"))
        .await
        .unwrap()
        .send_keys(who.0)
        .await
        .unwrap();
    b.find(Locator::Css("#password"))
        .await
        .unwrap()
        .send_keys(who.1)
        .await
        .unwrap();
    b.find(Locator::Css("#login-submit"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    arrived(b, "the page after logging in", |path, _| path != "/login").await;
}

/// Waits until the browser has left the page it was on for one whose path
/// and query `is_next` accepts, and that page has loaded. Right after a click, the old
/// page's elements still answer queries, so waiting for an element that both
/// pages have (an `h1`) races the navigation.
async fn arrived(b: &Client, what: &str, is_next: impl Fn(&str, &str) -> bool) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let url = b.current_url().await.unwrap();
        let ready = b
            .execute("return document.readyState;", vec![])
            .await
            .unwrap();
        if is_next(url.path(), url.query().unwrap_or("")) && ready == "complete" {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: still at {url} ({ready})"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn path(b: &Client) -> String {
    b.current_url().await.unwrap().path().to_owned()
}

async fn h1(b: &Client) -> String {
    b.find(Locator::Css("h1"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

async fn current_time(b: &Client) -> f64 {
    b.execute(
        "return document.getElementById('player').currentTime;",
        vec![],
    )
    .await
    .unwrap()
    .as_f64()
    .unwrap_or(0.0)
}

/// Polls `check` on the player's time until it holds.
async fn wait_time(b: &Client, what: &str, check: impl Fn(f64) -> bool) -> f64 {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let t = current_time(b).await;
        if check(t) {
            return t;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: currentTime stuck at {t}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Status and Content-Disposition of a same-origin fetch from the page.
async fn fetch(b: &Client, url: &str) -> (u64, Value) {
    let v = b
        .execute_async(
            "const done = arguments[arguments.length - 1];
             fetch(arguments[0]).then(r => done([r.status, r.headers.get('content-disposition')]))
                                .catch(e => done([0, String(e)]));",
            vec![json!(url)],
        )
        .await
        .unwrap();
    (v[0].as_u64().unwrap_or(0), v[1].clone())
}

#[tokio::test]
async fn an_admin_logs_in_filters_plays_a_stitched_call_and_jumps_to_leg_two() {
    if !browser_available() {
        return;
    }
    let app = spawn_app().await;
    let (_driver, b) = start_driver().await;
    let shots = screenshot_dir();

    // Logged out: the calls page sends us to the login page.
    b.goto(&app.url("/calls")).await.unwrap();
    assert_eq!(path(&b).await, "/login");
    log_in(&b, &app, ADMIN).await;
    assert_eq!(path(&b).await, "/calls");
    assert_eq!(b.find_all(Locator::Css("tr.call")).await.unwrap().len(), 2);
    std::fs::write(shots.join("calls.png"), b.screenshot().await.unwrap()).unwrap();

    // Filter by extension 201: only B remains.
    b.find(Locator::Css("#extension"))
        .await
        .unwrap()
        .send_keys("201")
        .await
        .unwrap();
    b.find(Locator::Css("#apply-filters"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    arrived(&b, "the filtered calls page", |_, query| {
        query.split('&').any(|pair| pair == "extension=201")
    })
    .await;
    let rows = b.find_all(Locator::Css("tr.call")).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0].attr("data-id").await.unwrap().as_deref(),
        Some(CONV_B)
    );

    // Open the stitched conversation A from the unfiltered list.
    b.goto(&app.url("/calls")).await.unwrap();
    b.find(Locator::Css(&format!("tr.call[data-id='{CONV_A}'] a")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.wait().for_element(Locator::Css("#player")).await.unwrap();
    assert_eq!(path(&b).await, format!("/conversations/{CONV_A}"));

    // Press play (leg 1's chapter link plays from the start): time advances.
    b.find(Locator::Css("#chapter-1"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let t = wait_time(&b, "playing", |t| t > 0.5).await;
    assert!(
        t < app.leg2_start_ms as f64 / 1000.0,
        "still in leg 1 at {t}"
    );

    // The chapters track carries both legs.
    let deadline = Instant::now() + PATIENCE;
    loop {
        let cues = b
            .execute(
                "const t = document.getElementById('player').textTracks[0]; t.mode = 'hidden';
                 return t.cues ? t.cues.length : 0;",
                vec![],
            )
            .await
            .unwrap();
        if cues == json!(2) {
            break;
        }
        assert!(Instant::now() < deadline, "chapter cues: {cues}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Jump to leg 2's chapter.
    b.find(Locator::Css("#chapter-2"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let leg2 = app.leg2_start_ms as f64 / 1000.0;
    let t = wait_time(&b, "leg 2", |t| t >= leg2).await;
    assert!(t < leg2 + 5.0, "jumped to {t}, leg 2 starts at {leg2}");
    let active = b.find(Locator::Css(".chapters a.active")).await.unwrap();
    assert_eq!(
        active.attr("id").await.unwrap().as_deref(),
        Some("chapter-2")
    );
    b.execute("document.getElementById('player').pause();", vec![])
        .await
        .unwrap();
    std::fs::write(
        shots.join("conversation.png"),
        b.screenshot().await.unwrap(),
    )
    .unwrap();

    // Download: the button's URL answers an attachment.
    let href = b
        .find(Locator::Css("#download-main"))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    let (status, disposition) = fetch(&b, &href).await;
    assert_eq!(status, 200);
    assert!(
        disposition.as_str().unwrap_or("").starts_with("attachment"),
        "{disposition}"
    );

    // The play and the download are in the audit log.
    let audit = app.catalog.audit_entries(50, 0).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.action == "play" && e.object_id == CONV_A)
    );
    assert!(
        audit
            .iter()
            .any(|e| e.action == "download" && e.object_id == CONV_A)
    );

    // The status page.
    b.goto(&app.url("/status")).await.unwrap();
    assert_eq!(h1(&b).await, "Status");
    std::fs::write(shots.join("status.png"), b.screenshot().await.unwrap()).unwrap();

    // A form posted without its CSRF token is refused.
    b.execute(
        "document.querySelector('form.logout input[name=csrf]').remove();
         document.querySelector('form.logout').submit();",
        vec![],
    )
    .await
    .unwrap();
    arrived(&b, "the answer to a form without its token", |path, _| {
        path == "/logout"
    })
    .await;
    assert_eq!(h1(&b).await, "Form expired");
    b.close().await.unwrap();
}

#[tokio::test]
async fn a_viewer_cannot_reach_another_extensions_call_by_page_or_audio_url() {
    if !browser_available() {
        return;
    }
    let app = spawn_app().await;
    let (_driver, b) = start_driver().await;

    // Logged out, a conversation URL lands on the login page.
    b.goto(&app.url(&format!("/conversations/{CONV_A}")))
        .await
        .unwrap();
    assert_eq!(path(&b).await, "/login");
    log_in(&b, &app, VIEWER_101).await;
    // After login we return where we were going.
    assert_eq!(path(&b).await, format!("/conversations/{CONV_A}"));

    let rows_page = app.url("/calls");
    b.goto(&rows_page).await.unwrap();
    let ids: Vec<Option<String>> = {
        let mut ids = vec![];
        for row in b.find_all(Locator::Css("tr.call")).await.unwrap() {
            ids.push(row.attr("data-id").await.unwrap());
        }
        ids
    };
    assert_eq!(ids, vec![Some(CONV_A.to_string())]);

    b.goto(&app.url(&format!("/conversations/{CONV_B}")))
        .await
        .unwrap();
    assert_eq!(h1(&b).await, "Not found");
    for url in [
        format!("/audio/conversation/{CONV_B}"),
        format!("/audio/recording/{REC_B}"),
        format!("/audio/recording/{REC_B}?download=1"),
    ] {
        assert_eq!(fetch(&b, &url).await.0, 404, "{url}");
    }
    assert_eq!(
        fetch(&b, &format!("/audio/recording/{REC_A1}")).await.0,
        200
    );
    b.close().await.unwrap();
}

#[tokio::test]
async fn call_times_show_in_the_zone_the_viewer_chose_with_utc_on_hover() {
    if !browser_available() {
        return;
    }
    let app = spawn_app().await;
    let (_driver, b) = start_driver().await;
    b.goto(&app.url("/calls")).await.unwrap();
    log_in(&b, &app, ADMIN).await;

    // Choose Tokyo (UTC+9, no daylight saving) as this user's zone.
    b.find(Locator::Css("#time-zone"))
        .await
        .unwrap()
        .select_by_value("Asia/Tokyo")
        .await
        .unwrap();
    let first = "tr.call time.local";
    let read = |attr: &'static str| {
        let b = b.clone();
        async move {
            let e = b.find(Locator::Css(first)).await.unwrap();
            match attr {
                "text" => e.text().await.unwrap(),
                a => e.attr(a).await.unwrap().unwrap_or_default(),
            }
        }
    };
    let utc = chrono::DateTime::parse_from_rfc3339(&read("datetime").await).unwrap();
    let tokyo = (utc + chrono::Duration::hours(9))
        .format("%Y-%m-%d %H:%M:%S GMT+9")
        .to_string();
    let deadline = Instant::now() + PATIENCE;
    while read("text").await != tokyo {
        assert!(
            Instant::now() < deadline,
            "the time never showed as {tokyo}: {}",
            read("text").await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        read("title").await,
        utc.format("%Y-%m-%d %H:%M:%S UTC").to_string()
    );

    // The choice stays with the user across pages, and the date filter
    // means that day in Tokyo: its midnight is sent as UTC+9.
    let day = (utc + chrono::Duration::hours(9))
        .format("%Y-%m-%d")
        .to_string();
    b.goto(&app.url("/calls")).await.unwrap();
    let from = b.find(Locator::Css("#from")).await.unwrap();
    b.execute(
        "arguments[0].value = arguments[1];",
        vec![serde_json::to_value(&from).unwrap(), json!(day)],
    )
    .await
    .unwrap();
    b.find(Locator::Css("#apply-filters"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    arrived(&b, "the filtered calls", |_, q| {
        q.contains("from_offset=540")
    })
    .await;
    assert_eq!(
        read("text").await,
        tokyo,
        "still in Tokyo time after a reload"
    );
    b.close().await.unwrap();

    // The zone is the user's, kept in the catalog: another browser, with
    // nothing stored, shows a conversation's leg times in Tokyo at once.
    let admin = app.catalog.user_by_name(ADMIN.0).await.unwrap().unwrap();
    assert_eq!(admin.time_zone.as_deref(), Some("Asia/Tokyo"));
    let (_driver2, b2) = start_driver().await;
    b2.goto(&app.url(&format!("/conversations/{CONV_A}")))
        .await
        .unwrap();
    log_in(&b2, &app, ADMIN).await;
    let leg_time = "table.legs td time.local";
    let deadline = Instant::now() + PATIENCE;
    loop {
        let e = b2.find(Locator::Css(leg_time)).await.unwrap();
        let (text, title) = (
            e.text().await.unwrap(),
            e.attr("title").await.unwrap().unwrap_or_default(),
        );
        if text.ends_with("GMT+9") {
            assert!(title.ends_with("UTC"), "UTC on hover: {title}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the leg time never showed in Tokyo time: {text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    b2.close().await.unwrap();
}

#[tokio::test]
async fn a_listen_only_user_plays_a_call_but_sees_no_download_button_and_gets_404_on_download() {
    if !browser_available() {
        return;
    }
    let app = spawn_app().await;
    let (listener, _) = crate::records::finer_users(&app).await;
    let (_driver, b) = start_driver().await;
    b.goto(&app.url(&format!("/conversations/{CONV_A}")))
        .await
        .unwrap();
    log_in(&b, &app, listener).await;
    assert_eq!(path(&b).await, format!("/conversations/{CONV_A}"));
    b.wait().for_element(Locator::Css("#player")).await.unwrap();

    // It plays ...
    b.find(Locator::Css("#chapter-1"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_time(&b, "playing", |t| t > 0.5).await;
    b.execute("document.getElementById('player').pause();", vec![])
        .await
        .unwrap();
    // ... but nothing on the page offers a download,
    assert!(
        b.find_all(Locator::Css("#download-main"))
            .await
            .unwrap()
            .is_empty()
    );
    let links = b
        .execute(
            "return [...document.querySelectorAll('a')].filter(a => a.hasAttribute('download') || a.href.includes('download=')).length;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(links, json!(0), "download links on the page");
    // and the download routes do not exist for this user.
    for url in [
        format!("/audio/conversation/{CONV_A}?download=1"),
        format!("/audio/recording/{REC_A1}?download=1"),
    ] {
        assert_eq!(fetch(&b, &url).await.0, 404, "{url}");
    }
    assert_eq!(
        fetch(&b, &format!("/audio/recording/{REC_A1}")).await.0,
        200
    );
    b.close().await.unwrap();
}
