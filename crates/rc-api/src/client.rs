//! [`RcClient`]: the entry point, and the retry loop every API call goes
//! through (rate-limit slot → bearer token → one attempt → classify → maybe
//! refresh once on 401, back off on 5xx/resets, wait out 429).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use reqwest::Response;
use serde::de::DeserializeOwned;
use url::Url;

use crate::auth::{TokenManager, TokenStatus};
use crate::config::{Config, HostAllowList, derive_media, parse_base};
use crate::error::{Error, Result};
use crate::http::{Credential, Failure, HttpCore, Next, RequestSpec, build_client};
use crate::ratelimit::{GroupMetrics, Scheduler};
use crate::server_clock::ServerClock;

/// A typed RingCentral client for one app + user. Cheap to clone; clones
/// share the token (one refresher per process) and the rate-limit
/// [`Scheduler`] (one budget per group per process). Create one per process.
#[derive(Debug, Clone)]
pub struct RcClient {
    inner: Arc<ClientInner>,
}

#[derive(Debug)]
struct ClientInner {
    core: Arc<HttpCore>,
    auth: TokenManager,
    media: Url,
    /// Largest `perPage` the server accepted so far (starts at the configured value).
    per_page: AtomicU32,
}

/// How a non-retryable HTTP status is reported for a family of endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StatusMap {
    /// 410 → `Gone`; everything else `Protocol`.
    Plain,
    /// Recordings: 404 → `NotReady` (see [`crate::Error`] for the rule), 410 → `Gone`.
    Recording,
    /// Subscriptions: 404 and 410 → `Gone`.
    Subscription,
}

impl StatusMap {
    fn apply(self, e: Error) -> Error {
        match e {
            Error::Protocol {
                status: 410, code, ..
            } => Error::Gone { status: 410, code },
            Error::Protocol {
                status: 404, code, ..
            } if self == StatusMap::Recording => Error::NotReady { code },
            Error::Protocol {
                status: 404, code, ..
            } if self == StatusMap::Subscription => Error::Gone { status: 404, code },
            other => other,
        }
    }
}

impl RcClient {
    /// Builds a client with its own scheduler. No request is made yet.
    pub fn new(config: Config) -> Result<RcClient> {
        let scheduler = Scheduler::new(config.scheduler.clone());
        RcClient::with_scheduler(config, scheduler)
    }

    /// Builds a client that shares an existing scheduler (so several clients
    /// of the same app + user draw on one budget).
    pub fn with_scheduler(config: Config, scheduler: Scheduler) -> Result<RcClient> {
        if config.client_id.trim().is_empty() {
            return Err(Error::Invalid {
                what: "client id",
                reason: "empty".into(),
            });
        }
        if config.jwt.is_empty() {
            return Err(Error::Invalid {
                what: "JWT credential",
                reason: "empty".into(),
            });
        }
        let platform = parse_base(&config.server_url, "server URL")?;
        let media = match &config.media_url {
            Some(m) => parse_base(m, "media URL")?,
            None => derive_media(&platform),
        };
        let hosts = HostAllowList::new(&platform, &media, &config.allowed_hosts)?;
        let core = Arc::new(HttpCore {
            client: build_client(config.connect_timeout, config.read_timeout)?,
            scheduler,
            retry: config.retry.clone(),
            hosts,
            platform,
            clock: ServerClock::default(),
        });
        let auth = TokenManager::new(
            core.clone(),
            &config.client_id,
            &config.client_secret,
            config.jwt.clone(),
        )?;
        Ok(RcClient {
            inner: Arc::new(ClientInner {
                core,
                auth,
                media,
                per_page: AtomicU32::new(config.call_log_per_page.clamp(1, 1000)),
            }),
        })
    }

    /// The shared rate-limit scheduler (for metrics, or to share with another client).
    pub fn scheduler(&self) -> &Scheduler {
        &self.inner.core.scheduler
    }

    /// Per-group rate-limit figures (requests, time waited, 429s), for `/metrics`.
    pub fn rate_limit_metrics(&self) -> Vec<GroupMetrics> {
        self.inner.core.scheduler.metrics()
    }

    /// RingCentral's clock as its answers tell it: compare the times it
    /// stamps (call ends, expiries) with its `now`, not ours.
    pub fn server_clock(&self) -> &ServerClock {
        &self.inner.core.clock
    }

    /// The platform base URL.
    pub fn platform_url(&self) -> &Url {
        &self.inner.core.platform
    }

    /// The media base URL.
    pub fn media_url(&self) -> &Url {
        &self.inner.media
    }

    /// Obtains a token now (checks the credentials early). Optional: every
    /// call authenticates on demand.
    pub async fn authenticate(&self) -> Result<()> {
        self.inner.auth.bearer().await.map(|_| ())
    }

    /// Revokes the OAuth session; for one-shot commands on exit.
    pub async fn revoke(&self) -> Result<()> {
        self.inner.auth.revoke().await
    }

    /// Token state without secrets.
    pub async fn token_status(&self) -> TokenStatus {
        self.inner.auth.status().await
    }

    pub(crate) fn core(&self) -> &HttpCore {
        &self.inner.core
    }

    pub(crate) fn per_page(&self) -> u32 {
        self.inner.per_page.load(Ordering::Relaxed)
    }

    pub(crate) fn set_per_page(&self, n: u32) {
        self.inner
            .per_page
            .store(n.clamp(1, 1000), Ordering::Relaxed);
    }

    /// Runs one API call to completion: retries transport errors, 5xx and
    /// 429 within the retry policy; on 401 drops the token and retries with a
    /// fresh one (the first time without counting an attempt, then within the
    /// attempt budget, so a session revoked mid-run does not fail the call).
    pub(crate) async fn execute(&self, spec: &RequestSpec, map: StatusMap) -> Result<Response> {
        let mut attempts = 0u32;
        let mut refreshed = false;
        loop {
            let bearer = self.inner.auth.bearer().await?;
            attempts += 1;
            let failure = match self
                .inner
                .core
                .attempt(spec, Credential::Bearer(&bearer.token), &[&bearer.token])
                .await
            {
                Ok(resp) => return Ok(resp),
                Err(Failure::Unauthorized { status, code }) => {
                    // The token was refused: drop it so the next attempt gets a
                    // fresh grant. The first refresh is free; later ones (a
                    // session revoked again mid-run) spend the attempt budget.
                    self.inner.auth.invalidate(bearer.generation).await;
                    if !refreshed {
                        tracing::info!(path = spec.url.path(), "401: refreshing the token once");
                        refreshed = true;
                        attempts -= 1;
                        continue;
                    }
                    if !self.inner.core.retry.allows_another(attempts) {
                        return Err(Error::Unauthorized { status, code });
                    }
                    tracing::info!(
                        path = spec.url.path(),
                        attempt = attempts,
                        "401 again with a fresh token; retrying"
                    );
                    tokio::time::sleep(self.inner.core.retry.backoff(attempts)).await;
                    continue;
                }
                Err(f) => f,
            };
            match self.inner.core.next_step(failure, attempts) {
                Next::Retry(d) => tokio::time::sleep(d).await,
                Next::Fail(e) => return Err(map.apply(e)),
            }
        }
    }

    /// [`execute`](Self::execute) and parse the JSON body; a body cut off
    /// mid-way is retried like a transport error.
    pub(crate) async fn execute_json<T: DeserializeOwned>(
        &self,
        spec: &RequestSpec,
        map: StatusMap,
        what: &'static str,
    ) -> Result<T> {
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let resp = self.execute(spec, map).await?;
            match resp.bytes().await {
                Ok(bytes) => {
                    return serde_json::from_slice(&bytes).map_err(|e| Error::Malformed {
                        what,
                        reason: e.to_string(),
                    });
                }
                Err(e) => {
                    let failure = Failure::Retryable {
                        error: Error::transport(&e),
                        retry_after: None,
                    };
                    match self.inner.core.next_step(failure, attempts) {
                        Next::Retry(d) => tokio::time::sleep(d).await,
                        Next::Fail(e) => return Err(e),
                    }
                }
            }
        }
    }
}
