//! OAuth: the JWT bearer grant, proactive refresh, refresh-once-on-401 and
//! revocation.
//!
//! There is **one refresher per process**: the token state sits behind a
//! `tokio::sync::Mutex`, and whoever finds the token stale refreshes it while
//! holding the lock, so concurrent requests wait for that one grant and share
//! its result. That matters because refresh tokens are single-use: two
//! parallel refreshes would race and the loser's token would already be dead.
//! Share one [`crate::RcClient`] (clones share the manager) across the process.
//!
//! Refresh policy: a token is refreshed once 90 % of its lifetime (at most
//! 5 minutes before expiry) has passed, with the `refresh_token` grant while a
//! refresh token is held and alive, else (or if that grant is refused) by
//! re-running the JWT grant. A 401 on an API call invalidates the token it
//! was sent with, and the call is retried once with a fresh one.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use reqwest::Method;
use tokio::sync::Mutex;
use tokio::time::Instant;
use url::Url;

use crate::error::{Error, Result};
use crate::http::{Credential, Failure, HttpCore, Next, RequestSpec};
use crate::models::TokenInfo;
use crate::ratelimit::Endpoint;
use crate::secret::Secret;

/// Longest lead time for a proactive refresh.
const MAX_REFRESH_LEAD: Duration = Duration::from_secs(300);
/// Lifetimes from the server are clamped to this (untrusted numbers must not
/// overflow `Instant` arithmetic; real ones are at most 30 days).
const MAX_LIFETIME: Duration = Duration::from_secs(366 * 24 * 3600);

/// The access token to put on one request, and which grant produced it.
#[derive(Debug, Clone)]
pub(crate) struct Bearer {
    pub(crate) token: Secret,
    pub(crate) generation: u64,
}

/// A snapshot of the token state, for tests and diagnostics (no secrets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenStatus {
    /// How many grants (JWT or refresh) this process has made.
    pub grants: u64,
    /// Of which refresh-token grants.
    pub refresh_grants: u64,
    /// Time left on the current access token (`None`: no token).
    pub access_expires_in: Option<Duration>,
    /// Whether a live refresh token is held.
    pub has_refresh_token: bool,
    /// Token owner's extension id, from the last grant.
    pub owner_id: Option<String>,
    /// The app permissions the last grant's `scope` lists (space-separated).
    pub scope: Option<String>,
}

#[derive(Debug)]
struct TokenSet {
    access: Secret,
    expires_at: Instant,
    refresh_at: Instant,
    refresh: Option<Secret>,
    refresh_expires_at: Option<Instant>,
    owner_id: Option<String>,
    scope: Option<String>,
}

#[derive(Debug, Default)]
struct TokenState {
    current: Option<TokenSet>,
    generation: u64,
    refresh_grants: u64,
}

/// Obtains, caches, refreshes and revokes the access token.
#[derive(Debug)]
pub struct TokenManager {
    core: Arc<HttpCore>,
    token_url: Url,
    revoke_url: Url,
    basic: Secret,
    jwt: Secret,
    state: Mutex<TokenState>,
}

impl TokenManager {
    pub(crate) fn new(
        core: Arc<HttpCore>,
        client_id: &str,
        client_secret: &Secret,
        jwt: Secret,
    ) -> Result<TokenManager> {
        let token_url = core.platform_url("/restapi/oauth/token")?;
        let revoke_url = core.platform_url("/restapi/oauth/revoke")?;
        let basic = Secret::new(
            base64::engine::general_purpose::STANDARD
                .encode(format!("{client_id}:{}", client_secret.expose())),
        );
        Ok(TokenManager {
            core,
            token_url,
            revoke_url,
            basic,
            jwt,
            state: Mutex::new(TokenState::default()),
        })
    }

    /// A valid access token, refreshing first if it is missing or near expiry.
    /// Concurrent callers share one refresh.
    pub(crate) async fn bearer(&self) -> Result<Bearer> {
        let mut st = self.state.lock().await;
        let now = Instant::now();
        if let Some(t) = &st.current
            && now < t.refresh_at
        {
            return Ok(Bearer {
                token: t.access.clone(),
                generation: st.generation,
            });
        }
        let set = self.grant(&mut st).await?;
        st.generation += 1;
        let token = set.access.clone();
        st.current = Some(set);
        Ok(Bearer {
            token,
            generation: st.generation,
        })
    }

    /// The token of `generation` was refused (401): make the next
    /// [`bearer`](Self::bearer) call refresh. A no-op if another request
    /// already replaced that token.
    pub(crate) async fn invalidate(&self, generation: u64) {
        let mut st = self.state.lock().await;
        if st.generation == generation
            && let Some(t) = st.current.as_mut()
        {
            let now = Instant::now();
            t.refresh_at = now;
            t.expires_at = now;
        }
    }

    /// Revokes the session (all its tokens) and forgets it. For one-shot
    /// commands on exit. Not retried (the guide says not to); a no-op when
    /// no token was ever obtained.
    pub async fn revoke(&self) -> Result<()> {
        let mut st = self.state.lock().await;
        let Some(set) = st.current.take() else {
            return Ok(());
        };
        let body = form(&[("token", set.access.expose())]);
        let spec = RequestSpec {
            method: Method::POST,
            url: self.revoke_url.clone(),
            endpoint: Endpoint::Revoke,
            body: Some(("application/x-www-form-urlencoded", body)),
            range_from: None,
            json: true,
        };
        let secrets = [&set.access, &self.basic];
        self.core
            .attempt(&spec, Credential::Basic(&self.basic), &secrets)
            .await
            .map(|_| ())
            .map_err(Failure::into_error)
    }

    /// Token state without secrets.
    pub async fn status(&self) -> TokenStatus {
        let st = self.state.lock().await;
        let now = Instant::now();
        TokenStatus {
            grants: st.generation,
            refresh_grants: st.refresh_grants,
            access_expires_in: st
                .current
                .as_ref()
                .map(|t| t.expires_at.saturating_duration_since(now)),
            has_refresh_token: st
                .current
                .as_ref()
                .is_some_and(|t| refresh_usable(t, now).is_some()),
            owner_id: st.current.as_ref().and_then(|t| t.owner_id.clone()),
            scope: st.current.as_ref().and_then(|t| t.scope.clone()),
        }
    }

    /// Refresh grant if possible, else (or if refused) the JWT grant.
    async fn grant(&self, st: &mut TokenState) -> Result<TokenSet> {
        let now = Instant::now();
        if let Some(refresh) = st.current.as_ref().and_then(|t| refresh_usable(t, now)) {
            let body = form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh.expose()),
            ]);
            match self.post_token(body, &refresh).await {
                Ok(set) => {
                    st.refresh_grants += 1;
                    tracing::info!("access token refreshed");
                    return Ok(set);
                }
                Err(e @ (Error::Unauthorized { .. } | Error::Protocol { .. })) => {
                    tracing::info!(error = %e, "refresh grant refused; falling back to the JWT grant");
                }
                Err(e) => return Err(e),
            }
        }
        let body = form(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", self.jwt.expose()),
        ]);
        let set = self.post_token(body, &self.jwt).await?;
        tracing::info!("access token obtained with the JWT grant");
        Ok(set)
    }

    /// `POST /restapi/oauth/token` with retries; 400/401 → `Unauthorized`.
    async fn post_token(&self, body: Bytes, sent_secret: &Secret) -> Result<TokenSet> {
        let spec = RequestSpec {
            method: Method::POST,
            url: self.token_url.clone(),
            endpoint: Endpoint::Token,
            body: Some(("application/x-www-form-urlencoded", body)),
            range_from: None,
            json: true,
        };
        let secrets = [sent_secret, &self.basic, &self.jwt];
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let failure = match self
                .core
                .attempt(&spec, Credential::Basic(&self.basic), &secrets)
                .await
            {
                Ok(resp) => match resp.bytes().await {
                    Ok(bytes) => return parse_token(&bytes, &secrets),
                    Err(e) => Failure::Retryable {
                        error: Error::transport(&e),
                        retry_after: None,
                    },
                },
                Err(Failure::Fatal(Error::Protocol { status, code, .. }))
                    if status == 400 || status == 401 =>
                {
                    return Err(Error::Unauthorized { status, code });
                }
                Err(f) => f,
            };
            match self.core.next_step(failure, attempts) {
                Next::Retry(d) => tokio::time::sleep(d).await,
                Next::Fail(e) => return Err(e),
            }
        }
    }
}

fn refresh_usable(t: &TokenSet, now: Instant) -> Option<Secret> {
    let refresh = t.refresh.as_ref()?;
    match t.refresh_expires_at {
        // Keep a little slack: a refresh token about to die is not worth a try.
        Some(at) if at <= now + Duration::from_secs(5) => None,
        _ => Some(refresh.clone()),
    }
}

fn form(pairs: &[(&str, &str)]) -> Bytes {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    Bytes::from(s.finish())
}

fn parse_token(bytes: &[u8], secrets: &[&Secret]) -> Result<TokenSet> {
    let info: TokenInfo = serde_json::from_slice(bytes).map_err(|e| Error::Malformed {
        what: "token response",
        reason: crate::secret::scrub(&e.to_string(), secrets),
    })?;
    if info.access_token.is_empty() {
        return Err(Error::Malformed {
            what: "token response",
            reason: "empty access_token".into(),
        });
    }
    let now = Instant::now();
    let lifetime = Duration::from_secs(info.expires_in).min(MAX_LIFETIME);
    let lead = (lifetime / 10).min(MAX_REFRESH_LEAD);
    Ok(TokenSet {
        access: info.access_token,
        expires_at: now + lifetime,
        refresh_at: now + lifetime.saturating_sub(lead),
        refresh: info.refresh_token.filter(|r| !r.is_empty()),
        refresh_expires_at: info
            .refresh_token_expires_in
            .map(|s| now + Duration::from_secs(s).min(MAX_LIFETIME)),
        owner_id: info.owner_id,
        scope: info.scope,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_responses_keep_their_lifetimes_and_hide_their_tokens() {
        let body = br#"{"access_token":"AAAA-secret-access-token","token_type":"bearer","expires_in":3600,
            "refresh_token":"RRRR-secret-refresh-token","refresh_token_expires_in":604800,"scope":"ReadCallLog","owner_id":"42"}"#;
        let set = parse_token(body, &[]).unwrap();
        let left = set.expires_at - Instant::now();
        assert!(left <= Duration::from_secs(3600) && left > Duration::from_secs(3590));
        let lead = set.expires_at - set.refresh_at;
        assert_eq!(lead, Duration::from_secs(300));
        let dbg = format!("{set:?}");
        assert!(!dbg.contains("secret-access-token"));
        assert!(!dbg.contains("secret-refresh-token"));
    }

    #[test]
    fn short_lived_tokens_are_refreshed_after_ninety_percent_of_their_life() {
        let set =
            parse_token(br#"{"access_token":"x-token-value","expires_in":100}"#, &[]).unwrap();
        assert_eq!(set.expires_at - set.refresh_at, Duration::from_secs(10));
        assert!(set.refresh.is_none());
    }

    #[test]
    fn a_malformed_token_response_does_not_echo_secrets() {
        let secret = Secret::new("SECRET-JWT-VALUE-123");
        let err = parse_token(
            br#"{"access_token": 5, "x": "SECRET-JWT-VALUE-123"}"#,
            &[&secret],
        )
        .unwrap_err();
        assert!(!err.to_string().contains("SECRET-JWT-VALUE-123"));
    }
}
