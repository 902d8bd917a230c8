//! The files in `deploy/`, checked by the tools that will read them: the
//! systemd unit by `systemd-analyze verify`, the nginx site by a real nginx
//! in front of the app (TLS with a certificate made here, Range passed
//! through, `/healthz` reachable, so `callvault doctor`'s public-URL check
//! passes; the sandbox, refusing http like production, validates and
//! delivers its webhooks through it to a real `serve`). With `CALLVAULT_REQUIRE_DEPLOY_TOOLS=1` (set by `.ci/run`) a
//! missing tool fails the test instead of skipping it.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::*;
use crate::listening::{Front, SERVE_LINE, Target, address_in_log};

fn deploy_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy")
        .join(name)
}

/// The tool at `path`, or `None` (skip) — a failure when CI requires it.
fn tool(path: &str) -> Option<PathBuf> {
    let p = PathBuf::from(path);
    if p.exists() {
        return Some(p);
    }
    assert!(
        std::env::var_os("CALLVAULT_REQUIRE_DEPLOY_TOOLS").is_none(),
        "{path} is missing and CALLVAULT_REQUIRE_DEPLOY_TOOLS is set"
    );
    eprintln!("skipped: {path} is missing");
    None
}

#[test]
fn the_systemd_unit_passes_systemd_analyze_verify() {
    let Some(analyze) = tool("/usr/bin/systemd-analyze") else {
        return;
    };
    // verify needs ExecStart's binary to exist: point it at the one built.
    let unit = std::fs::read_to_string(deploy_file("callvault.service")).unwrap();
    for needed in [
        "DynamicUser=yes",
        "ProtectSystem=strict",
        "StateDirectory=callvault",
        "LoadCredential=rc-jwt:",
    ] {
        assert!(unit.contains(needed), "the unit lacks {needed}");
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("callvault.service");
    std::fs::write(
        &path,
        unit.replace("/usr/local/bin/callvault", env!("CARGO_BIN_EXE_callvault")),
    )
    .unwrap();
    let out = Command::new(analyze)
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    // verify exits 0 on unknown keys and only says so: any diagnostic fails.
    assert!(
        out.status.success() && said.trim().is_empty(),
        "systemd-analyze verify:\n{said}{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// nginx on a loopback port, killed on drop.
struct Nginx {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "nginx error log:\n{}",
                std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
            );
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A self-signed certificate for localhost / 127.0.0.1: (cert, key).
fn certificate(openssl: &Path, dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let out = Command::new(openssl)
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
        ])
        .args([
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ])
        // A server certificate, not a CA: webpki refuses a CA as the end entity.
        .args([
            "-addext",
            "basicConstraints=critical,CA:FALSE",
            "-addext",
            "extendedKeyUsage=serverAuth",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (cert, key)
}

/// Starts nginx with `deploy/nginx/callvault.conf`, its placeholders
/// pointed at this test's certificate, port and upstream.
///
/// nginx cannot be handed a listener nor report a port it chose, so the
/// ports are picked here. Another process may take one before nginx binds
/// it: nginx then exits saying so, and the start is tried again with new
/// ports. Ready means nginx wrote its pid file, which it does only after
/// binding every port, so a stranger on our port is never mistaken for it.
fn start_nginx(nginx: &Path, cert: &Path, key: &Path, upstream: &str) -> Nginx {
    for _ in 0..5 {
        match try_start_nginx(nginx, cert, key, upstream) {
            Ok(n) => return n,
            Err(log) if log.contains("Address already in use") => continue,
            Err(log) => panic!("nginx exited:\n{log}"),
        }
    }
    panic!("nginx found its ports taken five times running");
}

/// One start of nginx; `Err` holds its error log when it exits instead.
fn try_start_nginx(nginx: &Path, cert: &Path, key: &Path, upstream: &str) -> Result<Nginx, String> {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let site = std::fs::read_to_string(deploy_file("nginx/callvault.conf"))
        .unwrap()
        .replace("listen 443 ssl;", &format!("listen 127.0.0.1:{port} ssl;"))
        .replace("listen 80;", &format!("listen 127.0.0.1:{};", free_port()))
        .replace("server 127.0.0.1:8080;", &format!("server {upstream};"))
        .replace(
            "/etc/ssl/callvault/fullchain.pem",
            &cert.display().to_string(),
        )
        .replace("/etc/ssl/callvault/privkey.pem", &key.display().to_string());
    std::fs::write(dir.path().join("callvault.conf"), site).unwrap();
    let tmp = dir.path().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    // Workers may run as an unprivileged user: let them use the temp paths.
    let _ = std::fs::set_permissions(&tmp, std::os::unix::fs::PermissionsExt::from_mode(0o777));
    let d = dir.path().display();
    let main = format!(
        "daemon off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
         events {{ worker_connections 64; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {d}/tmp/body;\n  proxy_temp_path {d}/tmp/proxy;\n\
         fastcgi_temp_path {d}/tmp/fastcgi;\n  uwsgi_temp_path {d}/tmp/uwsgi;\n  scgi_temp_path {d}/tmp/scgi;\n\
         include {d}/callvault.conf;\n}}\n"
    );
    std::fs::write(dir.path().join("nginx.conf"), main).unwrap();
    let child = Command::new(nginx)
        .arg("-p")
        .arg(dir.path())
        .arg("-c")
        .arg(dir.path().join("nginx.conf"))
        .arg("-e")
        .arg(dir.path().join("error.log"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut n = Nginx { child, dir, port };
    let pid_file = n.dir.path().join("nginx.pid");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !pid_file.exists() {
        if let Ok(Some(_)) = n.child.try_wait() {
            return Err(std::fs::read_to_string(n.dir.path().join("error.log")).unwrap_or_default());
        }
        assert!(
            Instant::now() < deadline,
            "nginx did not start on {}",
            n.port
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(n)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_example_serves_tls_health_and_ranges_in_front_of_the_app() {
    let (Some(nginx), Some(openssl)) = (tool("/usr/sbin/nginx"), tool("/usr/bin/openssl")) else {
        return;
    };
    // Arrange: the app, a certificate, nginx with the shipped site.
    let app = spawn_app().await;
    let certs = tempfile::tempdir().unwrap();
    let (cert, key) = certificate(&openssl, certs.path());
    let upstream = app.base.trim_start_matches("http://").to_owned();
    let proxy = start_nginx(&nginx, &cert, &key, &upstream);
    let public = format!("https://localhost:{}", proxy.port);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let pem = std::fs::read(&cert).unwrap();
    let tls = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    // /healthz answers through TLS.
    let r = tls.get(format!("{public}/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);

    // A Range request for a recording passes through as a 206 of exactly those bytes.
    crate::login_support::post_login(&tls, &public, ADMIN.0, ADMIN.1, "/calls").await;
    let direct = app.logged_in(ADMIN).await;
    let whole = direct
        .get(app.url(&format!("/audio/recording/{REC_A1}")))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let r = tls
        .get(format!("{public}/audio/recording/{REC_A1}"))
        .header("Range", "bytes=100-355")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    let range = r.headers()["content-range"].to_str().unwrap().to_owned();
    assert_eq!(range, format!("bytes 100-355/{}", whole.len()));
    assert_eq!(r.bytes().await.unwrap(), whole.slice(100..356));

    // The webhook route reaches the app (which, with no RingCentral
    // configured here, has no receiver and answers its own 404).
    let r = tls
        .post(format!("{public}/webhook/ringcentral"))
        .header("Validation-Token", "abc")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert!(
        r.headers().get("x-content-type-options").is_some(),
        "the app's answer, not nginx's"
    );

    // doctor's public-URL check passes through it, trusting the test CA.
    let out = Command::new(env!("CARGO_BIN_EXE_callvault"))
        .args(["doctor", "--json", "--public-url", &public])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("SSL_CERT_FILE", &cert)
        .env("CALLVAULT_DATA", certs.path().join("data"))
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let check = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "public url")
        .unwrap()
        .clone();
    assert_eq!(check["outcome"], "ok", "{check}");
    app.finish().await;
}

/// `callvault serve` as a child process, killed on drop; its stderr is
/// printed if the test fails.
struct Serve {
    child: Child,
    log: PathBuf,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "serve's log:\n{}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
        }
    }
}

/// The value of the unlabelled metric `name` in Prometheus text.
fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .filter_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .find_map(|v| v.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_the_nginx_example_ringcentral_validates_the_https_webhook_and_delivers_through_it()
{
    let (Some(nginx), Some(openssl)) = (tool("/usr/sbin/nginx"), tool("/usr/bin/openssl")) else {
        return;
    };
    // Arrange: a certificate; a sandbox that, like production, takes only
    // https webhook addresses and trusts that certificate's issuer as a
    // public CA; nginx with the shipped site in front of a real `serve`
    // whose public URL is the proxy's.
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = certificate(&openssl, dir.path());
    let pem = std::fs::read_to_string(&cert).unwrap();
    let sandbox = rc_sandbox::Sandbox::builder()
        .seed(1618)
        .configure(|c| {
            c.scenario.calls = 0;
            c.live_calls_per_minute = 120.0;
            c.subscriptions.require_https = true;
            c.subscriptions.extra_root_certificates = vec![pem.clone()];
        })
        .spawn()
        .await
        .unwrap();
    // serve binds port 0 and says where; until it has, the test-held front
    // (nginx's upstream) holds connections back.
    let front = Front::bind().await;
    front.point_at(Target::Starting);
    let proxy = start_nginx(&nginx, &cert, &key, &front.addr().to_string());
    let public = format!("https://localhost:{}", proxy.port);
    let log = dir.path().join("serve.log");
    let mut serve = Command::new(env!("CARGO_BIN_EXE_callvault"));
    serve
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("RUST_LOG", "warn")
        .env("CALLVAULT_DATA", dir.path().join("data"))
        .env("CALLVAULT_PUBLIC_URL", &public)
        .stdin(Stdio::null());
    let log_file = std::fs::File::create(&log).unwrap();
    serve.stdout(log_file.try_clone().unwrap()).stderr(log_file);
    for (k, v) in sandbox.client_env() {
        serve.env(k, v);
    }
    let mut serve = Serve {
        child: serve.spawn().unwrap(),
        log,
    };
    let bound = address_in_log(
        &serve.log,
        SERVE_LINE,
        &mut serve.child,
        Duration::from_secs(60),
    )
    .await;
    front.point_at(Target::Up(bound));
    let _ = rustls::crypto::ring::default_provider().install_default();
    let tls = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap())
        .build()
        .unwrap();

    // Assert: through the proxy, the subscription's validation handshake
    // passed (RingCentral created it only after the Validation-Token came
    // back over https), notifications arrive, and the jobs they start finish.
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut last = String::new();
    loop {
        if let Ok(r) = tls.get(format!("{public}/metrics")).send().await
            && r.status() == 200
        {
            last = r.text().await.unwrap();
            let value = |name| metric(&last, name).unwrap_or(0.0);
            if value("callvault_subscription_active") == 1.0
                && value("callvault_webhook_validations_total") >= 1.0
                && value("callvault_notifications_received_total") >= 3.0
                && value("callvault_jobs{state=\"done\"}") >= 1.0
            {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no validated subscription with deliveries through nginx; last /metrics:\n{last}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    sandbox.shutdown().await;
}
