//! Client configuration and the host allow-list that keeps the bearer token
//! on RingCentral's hosts.

use std::time::Duration;

use url::Url;

use crate::error::{Error, Result};
use crate::ratelimit::SchedulerConfig;
use crate::retry::RetryPolicy;
use crate::secret::Secret;

/// What the client needs to talk to one RingCentral app + user.
/// `Debug` shows no secret.
#[derive(Debug, Clone)]
pub struct Config {
    /// Platform base URL (REST + OAuth), e.g. `https://platform.ringcentral.com`.
    pub server_url: String,
    /// Media base URL (recording content). `None`: derived from `server_url`
    /// (`platform.X` → `media.X`, otherwise the platform itself).
    pub media_url: Option<String>,
    /// OAuth client id.
    pub client_id: String,
    /// OAuth client secret.
    pub client_secret: Secret,
    /// The JWT credential minted in the developer console.
    pub jwt: Secret,
    /// Extra hosts the token may be sent to (bare `host` = https on 443, or a
    /// full origin `http://127.0.0.1:9000`). Empty by default.
    pub allowed_hosts: Vec<String>,
    /// Retry policy for 5xx, resets and truncated bodies.
    pub retry: RetryPolicy,
    /// Rate-limit pacing.
    pub scheduler: SchedulerConfig,
    /// TCP connect timeout.
    pub connect_timeout: Duration,
    /// Longest silence while reading a response (a stalled download is retried).
    pub read_timeout: Duration,
    /// Largest `perPage` to ask the call log for (the API maximum is 1000).
    pub call_log_per_page: u32,
}

impl Config {
    /// A configuration with production defaults for everything but the credentials.
    pub fn new(
        server_url: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<Secret>,
        jwt: impl Into<Secret>,
    ) -> Config {
        Config {
            server_url: server_url.into(),
            media_url: None,
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            jwt: jwt.into(),
            allowed_hosts: Vec::new(),
            retry: RetryPolicy::default(),
            scheduler: SchedulerConfig::default(),
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(60),
            call_log_per_page: 1000,
        }
    }

    /// Sets the media base URL.
    pub fn with_media_url(mut self, media_url: impl Into<String>) -> Config {
        self.media_url = Some(media_url.into());
        self
    }
}

/// Scheme, host and port (default port made explicit), compared exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Origin {
    scheme: String,
    host: String,
    port: u16,
}

impl Origin {
    pub(crate) fn of(url: &Url) -> Option<Origin> {
        Some(Origin {
            scheme: url.scheme().to_ascii_lowercase(),
            host: url.host_str()?.to_ascii_lowercase(),
            port: url.port_or_known_default()?,
        })
    }
}

/// Where the bearer token may go: the platform and media origins plus any
/// configured extras. Anything else is refused before a request is made.
#[derive(Debug, Clone)]
pub(crate) struct HostAllowList {
    platform: Origin,
    media: Origin,
    extra: Vec<Origin>,
}

impl HostAllowList {
    pub(crate) fn new(platform: &Url, media: &Url, extra: &[String]) -> Result<HostAllowList> {
        let origin = |u: &Url, what: &'static str| {
            Origin::of(u).ok_or_else(|| Error::Invalid {
                what,
                reason: "needs a host".into(),
            })
        };
        let extra = extra
            .iter()
            .map(|h| {
                let text = if h.contains("://") {
                    h.clone()
                } else {
                    format!("https://{h}")
                };
                let u = Url::parse(&text).map_err(|e| Error::Invalid {
                    what: "allowed host",
                    reason: e.to_string(),
                })?;
                origin(&u, "allowed host")
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(HostAllowList {
            platform: origin(platform, "server URL")?,
            media: origin(media, "media URL")?,
            extra,
        })
    }

    /// Ok if `url` is on the platform, media or an extra origin.
    pub(crate) fn check_any(&self, url: &Url) -> Result<()> {
        match Origin::of(url) {
            Some(o) if o == self.platform || o == self.media || self.extra.contains(&o) => Ok(()),
            _ => Err(forbidden(url)),
        }
    }

    /// Ok only if `url` is on the platform origin (call-log `nextPage` links).
    pub(crate) fn check_platform(&self, url: &Url) -> Result<()> {
        match Origin::of(url) {
            Some(o) if o == self.platform => Ok(()),
            _ => Err(forbidden(url)),
        }
    }
}

fn forbidden(url: &Url) -> Error {
    let host = match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_owned(),
        (None, _) => String::new(),
    };
    Error::ForbiddenHost {
        host: format!("{}://{host}", url.scheme()),
    }
}

/// Parses a base URL (must be http or https with a host).
pub(crate) fn parse_base(text: &str, what: &'static str) -> Result<Url> {
    let url = Url::parse(text.trim()).map_err(|e| Error::Invalid {
        what,
        reason: e.to_string(),
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(Error::Invalid {
            what,
            reason: "must be an http(s) URL with a host".into(),
        });
    }
    Ok(url)
}

/// `platform.X` → `media.X`; any other host: the platform itself serves media.
pub(crate) fn derive_media(platform: &Url) -> Url {
    let mut media = platform.clone();
    if let Some(rest) = platform
        .host_str()
        .and_then(|h| h.strip_prefix("platform."))
    {
        let _ = media.set_host(Some(&format!("media.{rest}")));
    }
    media
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allow() -> HostAllowList {
        let p = Url::parse("https://platform.ringcentral.com").unwrap();
        HostAllowList::new(&p, &derive_media(&p), &["http://127.0.0.1:9000".into()]).unwrap()
    }

    #[test]
    fn media_host_is_derived_from_the_platform_host() {
        let p = Url::parse("https://platform.ringcentral.com").unwrap();
        assert_eq!(derive_media(&p).as_str(), "https://media.ringcentral.com/");
        let local = Url::parse("http://127.0.0.1:4000").unwrap();
        assert_eq!(derive_media(&local), local);
    }

    #[test]
    fn content_uris_on_the_media_host_are_allowed_with_or_without_the_default_port() {
        let a = allow();
        for ok in [
            "https://media.ringcentral.com/restapi/v1.0/account/1/recording/2/content",
            "https://media.ringcentral.com:443/restapi/v1.0/account/1/recording/2/content",
            "https://MEDIA.ringcentral.com/x",
            "https://platform.ringcentral.com/restapi/v1.0/account/~/recording/2",
            "http://127.0.0.1:9000/anything",
        ] {
            assert!(a.check_any(&Url::parse(ok).unwrap()).is_ok(), "{ok}");
        }
    }

    #[test]
    fn other_hosts_ports_and_schemes_are_forbidden() {
        let a = allow();
        for bad in [
            "https://evil.example.com/restapi/v1.0/account/1/recording/2/content",
            "http://media.ringcentral.com/x",
            "https://media.ringcentral.com:8443/x",
            "https://media.ringcentral.com.evil.example/x",
            "https://user@evil.example/x",
            "http://127.0.0.1:9001/x",
        ] {
            let err = a.check_any(&Url::parse(bad).unwrap()).unwrap_err();
            assert!(matches!(err, Error::ForbiddenHost { .. }), "{bad}: {err}");
        }
    }

    #[test]
    fn next_page_links_must_stay_on_the_platform_host() {
        let a = allow();
        assert!(
            a.check_platform(
                &Url::parse(
                    "https://platform.ringcentral.com/restapi/v1.0/account/1/call-log?page=2"
                )
                .unwrap()
            )
            .is_ok()
        );
        assert!(
            a.check_platform(
                &Url::parse("https://media.ringcentral.com/restapi/v1.0/account/1/call-log?page=2")
                    .unwrap()
            )
            .is_err()
        );
    }

    #[test]
    fn debug_of_a_config_shows_no_secret() {
        let c = Config::new(
            "https://platform.ringcentral.com",
            "client-id-visible",
            "very-secret-client-secret",
            "eyJhbGciOiJSUzI1NiJ9.jwt-credential-body.signature",
        );
        let text = format!("{c:?}");
        assert!(text.contains("client-id-visible"));
        assert!(!text.contains("very-secret-client-secret"));
        assert!(!text.contains("jwt-credential-body"));
        assert!(text.contains("[redacted]"));
    }
}
