//! WORM storage: S3 Object Lock on the blobs of a bucket created with it.
//!
//! `object_store` 0.14 has no Object Lock API, and headers added after it
//! signs a request would break SigV4. So every lock call here is a request
//! presigned by `object_store` itself ([`Signer::signed_url_opts`]) with the
//! lock headers and sub-resource queries folded into the signature, then
//! sent with reqwest carrying exactly those headers:
//! * a new blob is PUT with `x-amz-object-lock-mode` and
//!   `x-amz-object-lock-retain-until-date` (and `If-None-Match: *`, so a
//!   retry never adds a second locked version); a multipart upload gets
//!   its retention right after completion (`PUT ?retention&versionId=`);
//! * legal holds are `PUT ?legal-hold&versionId=`;
//! * deleting a blob deletes its *version*: a plain DELETE on a versioned
//!   bucket only adds a delete marker and would report success while the
//!   locked bytes stay, which is exactly the lie this module must not tell.
//!   The lock refuses the version DELETE, and that refusal is
//!   [`BlobError::Locked`].
//!
//! A server can accept the lock headers and enforce nothing (s3s-fs does),
//! so [`crate::BlobStore::check_worm`] proves enforcement at startup: the
//! bucket says Object Lock is `Enabled`, a canary written with a short
//! GOVERNANCE lock refuses a version DELETE, and is then removed with the
//! governance bypass (best effort: it expires within a minute anyway).

use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use object_store::aws::AmazonS3;
use object_store::path::Path;
use object_store::signer::{SignedUrlOptions, Signer};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode};

use crate::blob_error::BlobError;

/// How long a presigned lock request stays valid: it is sent at once.
const SIGNED_FOR: Duration = Duration::from_secs(300);

/// The Object Lock retention mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    /// Users with `s3:BypassGovernanceRetention` may still delete: the
    /// default, because a mistaken COMPLIANCE lock can never be undone.
    Governance,
    /// Nobody, root included, can delete before the date; it can only be
    /// extended. Chosen explicitly.
    Compliance,
}

impl LockMode {
    /// The S3 spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            LockMode::Governance => "GOVERNANCE",
            LockMode::Compliance => "COMPLIANCE",
        }
    }

    /// Parses the S3 spelling (any case).
    pub fn parse(s: &str) -> Option<LockMode> {
        match s.to_ascii_uppercase().as_str() {
            "GOVERNANCE" => Some(LockMode::Governance),
            "COMPLIANCE" => Some(LockMode::Compliance),
            _ => None,
        }
    }
}

/// What new recordings and stitched files are locked with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WormConfig {
    /// The retention mode.
    pub mode: LockMode,
    /// Retain-until, counted from the write, when the writer names no date.
    pub default_keep: chrono::Duration,
}

/// The lock state of a blob's current version, read with HEAD (moto
/// answers `GetObjectRetention` with a 500; HEAD carries the same facts).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LockInfo {
    /// The version id (`x-amz-version-id`).
    pub version_id: Option<String>,
    /// Its retention mode, if locked.
    pub mode: Option<LockMode>,
    /// Its retain-until date, if locked.
    pub retain_until: Option<DateTime<Utc>>,
    /// Whether a legal hold is on.
    pub legal_hold: bool,
}

/// The lock client of one bucket.
#[derive(Debug, Clone)]
pub(crate) struct Worm {
    s3: AmazonS3,
    http: reqwest::Client,
    pub(crate) config: WormConfig,
}

fn header(name: &'static str, value: &str) -> Result<(HeaderName, HeaderValue), BlobError> {
    let value = HeaderValue::from_str(value)
        .map_err(|_| BlobError::Worm(format!("bad {name} header value")))?;
    Ok((HeaderName::from_static(name), value))
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// `x-amz-checksum-sha256`: base64 of the body's sha256 (S3 demands a
/// checksum on any request that sets a lock).
fn checksum(body: &[u8]) -> String {
    use base64::Engine;
    use sha2::Digest;
    base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(body))
}

/// The S3 error code in an error body, for messages.
fn error_code(body: &str) -> String {
    body.split_once("<Code>")
        .and_then(|(_, rest)| rest.split_once("</Code>"))
        .map_or_else(|| "no error code".to_owned(), |(code, _)| code.to_owned())
}

impl Worm {
    pub(crate) fn new(s3: AmazonS3, config: WormConfig) -> Result<Worm, BlobError> {
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| BlobError::Worm(format!("HTTP client: {e}")))?;
        Ok(Worm { s3, http, config })
    }

    /// Sends one request presigned with `query` and `headers`.
    async fn send(
        &self,
        method: Method,
        path: &Path,
        query: &[(&str, &str)],
        headers: Vec<(HeaderName, HeaderValue)>,
        body: Bytes,
    ) -> Result<reqwest::Response, BlobError> {
        let mut options = SignedUrlOptions::new().with_query(query.iter().copied());
        let mut sent = HeaderMap::new();
        for (name, value) in headers {
            options = options.with_signed_header(name.clone(), value.clone());
            sent.insert(name, value);
        }
        let url = self
            .s3
            .signed_url_opts(method.clone(), path, SIGNED_FOR, &options)
            .await
            .map_err(BlobError::Store)?;
        self.http
            .request(method, url)
            .headers(sent)
            .body(body)
            .send()
            .await
            .map_err(|e| BlobError::Worm(format!("request failed: {e}")))
    }

    /// PUTs `body` at `path` locked until `until`, unless something is
    /// there already. `Ok(None)`: the key exists (nothing written).
    pub(crate) async fn put_locked(
        &self,
        path: &Path,
        body: Bytes,
        until: DateTime<Utc>,
    ) -> Result<Option<String>, BlobError> {
        let headers = vec![
            header("x-amz-object-lock-mode", self.config.mode.as_str())?,
            header("x-amz-object-lock-retain-until-date", &rfc3339(until))?,
            header("x-amz-checksum-sha256", &checksum(&body))?,
            header("x-amz-sdk-checksum-algorithm", "SHA256")?,
            header("if-none-match", "*")?,
        ];
        let r = self.send(Method::PUT, path, &[], headers, body).await?;
        match r.status() {
            s if s.is_success() => Ok(version_of(r.headers())),
            StatusCode::PRECONDITION_FAILED | StatusCode::CONFLICT => Ok(None),
            s => Err(refused("locked PUT", path, s, r).await),
        }
    }

    /// Locks the version `version` of `path` until `until`.
    pub(crate) async fn set_retention(
        &self,
        path: &Path,
        version: &str,
        until: DateTime<Utc>,
    ) -> Result<(), BlobError> {
        let body = format!(
            "<Retention xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Mode>{}</Mode><RetainUntilDate>{}</RetainUntilDate></Retention>",
            self.config.mode.as_str(),
            rfc3339(until)
        );
        self.put_config(path, version, "retention", body).await
    }

    /// Turns the legal hold of version `version` of `path` on or off.
    pub(crate) async fn set_legal_hold(
        &self,
        path: &Path,
        version: &str,
        on: bool,
    ) -> Result<(), BlobError> {
        let body = format!(
            "<LegalHold xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Status>{}</Status></LegalHold>",
            if on { "ON" } else { "OFF" }
        );
        self.put_config(path, version, "legal-hold", body).await
    }

    async fn put_config(
        &self,
        path: &Path,
        version: &str,
        what: &str,
        body: String,
    ) -> Result<(), BlobError> {
        let body = Bytes::from(body);
        let headers = vec![
            header("x-amz-checksum-sha256", &checksum(&body))?,
            header("x-amz-sdk-checksum-algorithm", "SHA256")?,
            header("content-type", "application/xml")?,
        ];
        let query = [(what, ""), ("versionId", version)];
        let r = self.send(Method::PUT, path, &query, headers, body).await?;
        if r.status().is_success() {
            Ok(())
        } else {
            let status = r.status();
            Err(refused(what, path, status, r).await)
        }
    }

    /// The lock state of the current version of `path`; `None` if absent.
    pub(crate) async fn lock_info(&self, path: &Path) -> Result<Option<LockInfo>, BlobError> {
        let r = self
            .send(Method::HEAD, path, &[], Vec::new(), Bytes::new())
            .await?;
        if r.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !r.status().is_success() {
            let status = r.status();
            return Err(refused("HEAD", path, status, r).await);
        }
        let h = r.headers();
        let text = |name: &str| h.get(name).and_then(|v| v.to_str().ok());
        Ok(Some(LockInfo {
            version_id: version_of(h),
            mode: text("x-amz-object-lock-mode").and_then(LockMode::parse),
            retain_until: text("x-amz-object-lock-retain-until-date")
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&Utc)),
            legal_hold: text("x-amz-object-lock-legal-hold") == Some("ON"),
        }))
    }

    /// Deletes version `version` of `path` (with the governance bypass when
    /// `bypass`). A lock's refusal is [`BlobError::Locked`].
    pub(crate) async fn delete_version(
        &self,
        path: &Path,
        version: &str,
        bypass: bool,
    ) -> Result<(), BlobError> {
        let headers = if bypass {
            vec![header("x-amz-bypass-governance-retention", "true")?]
        } else {
            Vec::new()
        };
        let query = [("versionId", version)];
        let r = self
            .send(Method::DELETE, path, &query, headers, Bytes::new())
            .await?;
        match r.status() {
            s if s.is_success() || s == StatusCode::NOT_FOUND => Ok(()),
            StatusCode::FORBIDDEN => {
                let body = r.text().await.unwrap_or_default();
                Err(BlobError::Locked {
                    key: path.to_string(),
                    reason: error_code(&body),
                })
            }
            s => Err(refused("version DELETE", path, s, r).await),
        }
    }

    /// Whether the bucket has Object Lock enabled (`GET /?object-lock`).
    pub(crate) async fn bucket_lock_enabled(&self) -> Result<bool, BlobError> {
        let r = self
            .send(
                Method::GET,
                &Path::from(""),
                &[("object-lock", "")],
                Vec::new(),
                Bytes::new(),
            )
            .await?;
        let status = r.status();
        let body = r.text().await.unwrap_or_default();
        if status == StatusCode::NOT_FOUND {
            return Ok(false);
        }
        if !status.is_success() {
            return Err(BlobError::Worm(format!(
                "GET ?object-lock answered {status} ({})",
                error_code(&body)
            )));
        }
        Ok(body.contains("<ObjectLockEnabled>Enabled</ObjectLockEnabled>"))
    }
}

fn version_of(h: &HeaderMap) -> Option<String> {
    h.get("x-amz-version-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && *v != "null")
        .map(str::to_owned)
}

async fn refused(what: &str, path: &Path, status: StatusCode, r: reqwest::Response) -> BlobError {
    let body = r.text().await.unwrap_or_default();
    BlobError::Worm(format!(
        "{what} of {path} answered {status} ({})",
        error_code(&body)
    ))
}
