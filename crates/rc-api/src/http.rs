//! One HTTP attempt: host check, rate-limit slot, send, learn the rate-limit
//! headers, classify the answer. The retry loops live with their callers
//! (token grants in [`crate::auth`], API calls in [`crate::client`]).

use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{self, HeaderValue};
use reqwest::{Method, Response, StatusCode};
use url::Url;

use crate::config::HostAllowList;
use crate::error::{Error, error_chain};
use crate::models::ApiErrorBody;
use crate::ratelimit::{Endpoint, RateHeaders, Scheduler};
use crate::retry::RetryPolicy;
use crate::secret::{Secret, scrub};
use crate::server_clock::ServerClock;

/// Longest error body kept for parsing; longest excerpt kept in an error.
const ERROR_BODY_LIMIT: usize = 16 * 1024;
const EXCERPT_CHARS: usize = 400;

/// Shared by the client and the token manager.
#[derive(Debug)]
pub(crate) struct HttpCore {
    pub(crate) client: reqwest::Client,
    pub(crate) scheduler: Scheduler,
    pub(crate) retry: RetryPolicy,
    pub(crate) hosts: HostAllowList,
    pub(crate) platform: Url,
    pub(crate) clock: ServerClock,
}

/// What to send.
#[derive(Debug, Clone)]
pub(crate) struct RequestSpec {
    pub(crate) method: Method,
    pub(crate) url: Url,
    pub(crate) endpoint: Endpoint,
    /// `(content type, bytes)`. May hold secrets (token grants): never logged.
    pub(crate) body: Option<(&'static str, Bytes)>,
    /// `Range: bytes=N-` for resumed downloads.
    pub(crate) range_from: Option<u64>,
    /// Ask for JSON (everything but recording content).
    pub(crate) json: bool,
}

impl RequestSpec {
    pub(crate) fn get(url: Url, endpoint: Endpoint) -> RequestSpec {
        RequestSpec {
            method: Method::GET,
            url,
            endpoint,
            body: None,
            range_from: None,
            json: true,
        }
    }

    pub(crate) fn with_json_body(mut self, body: Vec<u8>) -> RequestSpec {
        self.body = Some(("application/json", Bytes::from(body)));
        self
    }
}

/// How the request is authenticated. Header values are marked sensitive.
pub(crate) enum Credential<'a> {
    /// `Authorization: Bearer <access token>`.
    Bearer(&'a Secret),
    /// `Authorization: Basic <base64(id:secret)>`, value given whole.
    Basic(&'a Secret),
}

/// Why an attempt did not produce a usable response.
#[derive(Debug)]
pub(crate) enum Failure {
    /// 401: the access token (or client credentials) was refused.
    Unauthorized { status: u16, code: Option<String> },
    /// 429: the scheduler has blocked the group already.
    RateLimited {
        group: String,
        retry_after: Duration,
    },
    /// Transport error, 5xx or 408: may succeed later.
    Retryable {
        error: Error,
        retry_after: Option<Duration>,
    },
    /// Anything else: do not retry.
    Fatal(Error),
}

impl Failure {
    /// The error to report when no retry follows.
    pub(crate) fn into_error(self) -> Error {
        match self {
            Failure::Unauthorized { status, code } => Error::Unauthorized { status, code },
            Failure::RateLimited { group, retry_after } => {
                Error::RateLimited { group, retry_after }
            }
            Failure::Retryable { error, .. } | Failure::Fatal(error) => error,
        }
    }
}

/// What a retry loop does after a failure.
pub(crate) enum Next {
    Retry(Duration),
    Fail(Error),
}

impl HttpCore {
    /// Makes exactly one request (after waiting for a rate-limit slot).
    pub(crate) async fn attempt(
        &self,
        spec: &RequestSpec,
        credential: Credential<'_>,
        secrets: &[&Secret],
    ) -> Result<Response, Failure> {
        self.hosts.check_any(&spec.url).map_err(Failure::Fatal)?;
        let permit = self.scheduler.acquire(spec.endpoint).await;

        let auth_value = match credential {
            Credential::Bearer(t) => format!("Bearer {}", t.expose()),
            Credential::Basic(b) => format!("Basic {}", b.expose()),
        };
        let mut auth_header = HeaderValue::from_str(&auth_value).map_err(|_| {
            Failure::Fatal(Error::Invalid {
                what: "credential",
                reason: "not a valid header value".into(),
            })
        })?;
        auth_header.set_sensitive(true);

        let mut req = self
            .client
            .request(spec.method.clone(), spec.url.clone())
            .header(header::AUTHORIZATION, auth_header);
        if spec.json {
            req = req.header(header::ACCEPT, "application/json");
        }
        if let Some(from) = spec.range_from {
            req = req.header(header::RANGE, format!("bytes={from}-"));
        }
        if let Some((content_type, body)) = &spec.body {
            req = req
                .header(header::CONTENT_TYPE, *content_type)
                .body(body.clone());
        }

        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                self.scheduler.failed(&permit);
                tracing::debug!(method = %spec.method, path = spec.url.path(), error = %error_chain(&e), "request failed");
                return Err(if e.is_builder() {
                    Failure::Fatal(Error::Invalid {
                        what: "request",
                        reason: error_chain(&e),
                    })
                } else {
                    Failure::Retryable {
                        error: Error::transport(&e),
                        retry_after: None,
                    }
                });
            }
        };
        let status = resp.status();
        self.clock.observe(resp.headers());
        let penalty = self
            .scheduler
            .observe(&permit, status.as_u16(), resp.headers());
        tracing::debug!(method = %spec.method, path = spec.url.path(), status = status.as_u16(), group = %permit.group(), "response");

        if status.is_success() {
            return Ok(resp);
        }
        let retry_after = RateHeaders::parse(resp.headers()).retry_after;
        let (body, excerpt) = read_error_body(resp, secrets).await;
        let code = body.as_ref().and_then(|b| b.code().map(str::to_owned));
        Err(match status {
            StatusCode::TOO_MANY_REQUESTS => {
                let (group, retry_after) = penalty.unwrap_or_else(|| {
                    (
                        permit.group().clone(),
                        retry_after.unwrap_or(Duration::from_secs(30)),
                    )
                });
                Failure::RateLimited {
                    group: group.as_str().to_owned(),
                    retry_after,
                }
            }
            StatusCode::UNAUTHORIZED => Failure::Unauthorized {
                status: status.as_u16(),
                code,
            },
            s if s.is_server_error() || s == StatusCode::REQUEST_TIMEOUT => Failure::Retryable {
                error: Error::Protocol {
                    status: s.as_u16(),
                    code,
                    body_excerpt: excerpt,
                },
                retry_after,
            },
            s => Failure::Fatal(Error::Protocol {
                status: s.as_u16(),
                code,
                body_excerpt: excerpt,
            }),
        })
    }

    /// Decides between another attempt (after a delay) and giving up.
    pub(crate) fn next_step(&self, failure: Failure, attempts_done: u32) -> Next {
        let more = self.retry.allows_another(attempts_done);
        match failure {
            Failure::Fatal(e) => Next::Fail(e),
            Failure::Unauthorized { status, code } => {
                Next::Fail(Error::Unauthorized { status, code })
            }
            Failure::RateLimited { group, retry_after } => {
                if more {
                    // The scheduler holds the next attempt until the penalty ends.
                    Next::Retry(Duration::ZERO)
                } else {
                    Next::Fail(Error::RateLimited { group, retry_after })
                }
            }
            Failure::Retryable { error, retry_after } => {
                if more {
                    let backoff = self.retry.backoff(attempts_done);
                    let delay = retry_after.map_or(backoff, |r| r.max(backoff));
                    tracing::debug!(error = %error, delay_ms = delay.as_millis() as u64, attempt = attempts_done, "retrying");
                    Next::Retry(delay)
                } else {
                    Next::Fail(error)
                }
            }
        }
    }

    /// An absolute URL on the platform host from an API path.
    pub(crate) fn platform_url(&self, path: &str) -> Result<Url, Error> {
        self.platform.join(path).map_err(|e| Error::Invalid {
            what: "URL",
            reason: e.to_string(),
        })
    }
}

/// Reads at most [`ERROR_BODY_LIMIT`] bytes of an error body; returns the
/// parsed body (if JSON) and a short, secret-free excerpt.
async fn read_error_body(
    mut resp: Response,
    secrets: &[&Secret],
) -> (Option<ApiErrorBody>, String) {
    let mut buf: Vec<u8> = Vec::new();
    while buf.len() < ERROR_BODY_LIMIT {
        match resp.chunk().await {
            Ok(Some(c)) => {
                let room = ERROR_BODY_LIMIT - buf.len();
                buf.extend_from_slice(c.get(..room.min(c.len())).unwrap_or(&c));
            }
            Ok(None) | Err(_) => break,
        }
    }
    let parsed = serde_json::from_slice::<ApiErrorBody>(&buf).ok();
    let text = String::from_utf8_lossy(&buf);
    let scrubbed = scrub(&text, secrets);
    let excerpt: String = scrubbed.chars().take(EXCERPT_CHARS).collect();
    (parsed, excerpt)
}

/// Builds the reqwest client (rustls with the ring provider, no redirects:
/// a redirect could carry the request to a host we did not check).
pub(crate) fn build_client(
    connect_timeout: Duration,
    read_timeout: Duration,
) -> Result<reqwest::Client, Error> {
    // Ignore the error: a provider is already installed for this process.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .user_agent(concat!("callvault-rc-api/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(connect_timeout)
        .read_timeout(read_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| Error::Invalid {
            what: "HTTP client",
            reason: error_chain(&e),
        })
}
