//! The public URL `serve` is reached at: https (RingCentral refuses plain
//! http webhooks in production), and `GET /healthz` answers through it.

use std::time::Duration;

use super::Check;

/// How long `/healthz` may take through the public URL.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The public-URL check (skipped when none is configured).
pub async fn check(public_url: Option<&str>) -> Check {
    let name = "public url";
    let Some(raw) = public_url else {
        return Check::skip(
            name,
            "CALLVAULT_PUBLIC_URL is not set (needed only for serve's webhooks)",
        );
    };
    let url = match reqwest::Url::parse(raw) {
        Ok(u) => u,
        Err(e) => {
            return Check::fail(
                name,
                format!("{raw:?} is not a URL: {e}"),
                "set CALLVAULT_PUBLIC_URL to the https URL of the reverse proxy, e.g. https://callvault.example.com",
            );
        }
    };
    if url.scheme() != "https" {
        return Check::fail(
            name,
            format!(
                "{raw} is {}: RingCentral refuses webhook addresses that are not https",
                url.scheme()
            ),
            "put serve behind a TLS reverse proxy (deploy/nginx.conf) and set CALLVAULT_PUBLIC_URL=https://…",
        );
    }
    let healthz = match url.join("healthz") {
        Ok(u) => u,
        Err(e) => {
            return Check::fail(
                name,
                format!("{raw}: {e}"),
                "set CALLVAULT_PUBLIC_URL to a base URL",
            );
        }
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = match reqwest::Client::builder()
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(c) => c,
        Err(e) => return Check::fail(name, format!("no HTTP client: {e}"), "report this as a bug"),
    };
    match client.get(healthz.clone()).send().await {
        Ok(r) if r.status().is_success() => Check::ok(
            name,
            format!("GET {healthz} answered {}", r.status().as_u16()),
        ),
        Ok(r) => Check::fail(
            name,
            format!("GET {healthz} answered {}", r.status()),
            "start `callvault serve` and make the proxy pass /healthz to it (deploy/nginx.conf)",
        ),
        Err(e) => Check::fail(
            name,
            format!("GET {healthz} failed: {}", error_chain(&e)),
            "make the public URL reach serve through the TLS proxy with a certificate this machine trusts (deploy/nginx.conf)",
        ),
    }
}

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}
