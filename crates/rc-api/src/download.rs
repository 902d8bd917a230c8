//! Recording metadata and streamed content downloads.
//!
//! A download streams chunk by chunk into the caller's sink (the vault's temp
//! blob), never buffering the recording whole. The bearer token travels only
//! in the `Authorization` header and only to the configured platform/media
//! hosts: a `contentUri` elsewhere is refused before any request. The body is
//! checked against `Content-Length`, hashed with SHA-256 on the way, and an
//! interrupted transfer resumes with `Range: bytes=N-` (a `206` must carry the
//! matching `Content-Range`; a `200` that ignores the range is accepted only if
//! its first N bytes hash to what was already written).

use reqwest::header;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use url::Url;

use crate::client::{RcClient, StatusMap};
use crate::error::{Error, Result, error_chain};
use crate::http::{Failure, Next, RequestSpec};
use crate::ids::RecordingId;
use crate::models::RecordingMetadata;
use crate::ratelimit::Endpoint;

/// What a finished download produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downloaded {
    /// Bytes written to the sink.
    pub size: u64,
    /// SHA-256 of those bytes.
    pub sha256: [u8; 32],
    /// `Content-Type` of the response (e.g. `audio/mpeg`, `audio/wav`).
    pub content_type: String,
    /// How many times the transfer was resumed with `Range`.
    pub resumes: u32,
}

impl Downloaded {
    /// The digest as lower-case hex.
    pub fn sha256_hex(&self) -> String {
        hex::encode(self.sha256)
    }
}

/// Progress of one download across attempts.
struct Progress {
    written: u64,
    /// Total size, from the first `Content-Length` or a `Content-Range`.
    expected: Option<u64>,
    hasher: Sha256,
    content_type: Option<String>,
    resumes: u32,
}

/// How one attempt's body ended.
enum BodyEnd {
    Complete,
    /// Cut off (stream error or early EOF); resume from `written`.
    Interrupted(Error),
}

impl RcClient {
    /// `GET /restapi/v1.0/account/~/recording/{id}`. A 404 is
    /// [`Error::NotReady`] (see the crate's rule on not-ready vs gone).
    pub async fn recording_metadata(&self, id: &RecordingId) -> Result<RecordingMetadata> {
        let url = self
            .core()
            .platform_url(&format!("/restapi/v1.0/account/~/recording/{id}"))?;
        self.execute_json(
            &RequestSpec::get(url, Endpoint::RecordingMetadata),
            StatusMap::Recording,
            "recording metadata",
        )
        .await
    }

    /// Streams the recording at `content_uri` into `sink` and returns its
    /// size, SHA-256 and content type. Errors: [`Error::ForbiddenHost`] (before
    /// any request), [`Error::NotReady`] (404), [`Error::NotAudio`],
    /// [`Error::Truncated`] (resumes exhausted), [`Error::Sink`]. On error the
    /// sink holds a partial body: discard it.
    pub async fn download_recording<W>(&self, content_uri: &str, sink: &mut W) -> Result<Downloaded>
    where
        W: AsyncWrite + Unpin + ?Sized,
    {
        let url = Url::parse(content_uri.trim()).map_err(|e| Error::Invalid {
            what: "contentUri",
            reason: e.to_string(),
        })?;
        self.core().hosts.check_any(&url)?;

        let mut p = Progress {
            written: 0,
            expected: None,
            hasher: Sha256::new(),
            content_type: None,
            resumes: 0,
        };
        let mut failed_attempts = 0u32;
        loop {
            let mut spec = RequestSpec::get(url.clone(), Endpoint::RecordingContent);
            spec.json = false;
            if p.written > 0 {
                spec.range_from = Some(p.written);
                p.resumes += 1;
            }
            let resp = self.execute(&spec, StatusMap::Recording).await?;
            match self.stream_body(resp, &mut p, sink).await? {
                BodyEnd::Complete => break,
                BodyEnd::Interrupted(e) => {
                    failed_attempts += 1;
                    let failure = Failure::Retryable {
                        error: e,
                        retry_after: None,
                    };
                    match self.core().next_step(failure, failed_attempts) {
                        Next::Retry(d) => {
                            tracing::info!(written = p.written, expected = ?p.expected, "download interrupted; resuming");
                            tokio::time::sleep(d).await;
                        }
                        Next::Fail(e) => {
                            return Err(match p.expected {
                                Some(expected) => Error::Truncated {
                                    expected,
                                    got: p.written,
                                },
                                None => e,
                            });
                        }
                    }
                }
            }
        }
        sink.flush().await.map_err(Error::Sink)?;
        Ok(Downloaded {
            size: p.written,
            sha256: p.hasher.finalize().into(),
            content_type: p.content_type.unwrap_or_default(),
            resumes: p.resumes,
        })
    }

    /// Validates one response's headers against the progress so far and
    /// copies its body into the sink.
    async fn stream_body<W>(
        &self,
        mut resp: reqwest::Response,
        p: &mut Progress,
        sink: &mut W,
    ) -> Result<BodyEnd>
    where
        W: AsyncWrite + Unpin + ?Sized,
    {
        let status = resp.status().as_u16();
        let headers = resp.headers();
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.trim().to_owned())
            .unwrap_or_default();
        let essence = content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if !essence.starts_with("audio/") {
            return Err(Error::NotAudio { content_type });
        }
        let content_length = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|s| s.trim().parse::<u64>().ok());

        // How many leading bytes of this body we already have.
        let mut skip: u64 = 0;
        match (status, p.written) {
            (200, 0) => {
                p.expected = content_length;
            }
            (200, written) => {
                // The server ignored Range and sent everything again.
                skip = written;
                if let (Some(total), Some(expected)) = (content_length, p.expected)
                    && total != expected
                {
                    return Err(malformed(format!(
                        "resumed body is {total} bytes, first answer said {expected}"
                    )));
                }
            }
            (206, written) => {
                let range = headers
                    .get(header::CONTENT_RANGE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(parse_content_range)
                    .ok_or_else(|| malformed("206 without a usable Content-Range".into()))?;
                if range.start != written {
                    return Err(malformed(format!(
                        "asked for bytes from {written}, got a range starting at {}",
                        range.start
                    )));
                }
                if let Some(total) = range.total {
                    if p.expected.is_some_and(|e| e != total) {
                        return Err(malformed(format!(
                            "Content-Range total {total} differs from the announced size"
                        )));
                    }
                    p.expected = Some(total);
                }
            }
            (s, _) => {
                return Err(malformed(format!(
                    "unexpected status {s} for recording content"
                )));
            }
        }
        if p.content_type.is_none() {
            p.content_type = Some(content_type);
        }

        let mut prefix = (skip > 0).then(Sha256::new);
        loop {
            let chunk = match resp.chunk().await {
                Ok(Some(c)) => c,
                Ok(None) => break,
                Err(e) => {
                    return Ok(BodyEnd::Interrupted(Error::Transport {
                        reason: error_chain(&e),
                    }));
                }
            };
            let mut data: &[u8] = &chunk;
            if skip > 0 {
                let n = usize::try_from(skip).unwrap_or(usize::MAX).min(data.len());
                let (head, tail) = data.split_at(n);
                if let Some(h) = prefix.as_mut() {
                    h.update(head);
                }
                skip -= n as u64;
                data = tail;
                if skip == 0 {
                    let seen = prefix.take().map(Sha256::finalize);
                    if seen != Some(p.hasher.clone().finalize()) {
                        return Err(malformed(
                            "content changed between attempts (prefix hash differs)".into(),
                        ));
                    }
                }
            }
            if data.is_empty() {
                continue;
            }
            let len = data.len() as u64;
            if p.expected
                .is_some_and(|e| p.written.saturating_add(len) > e)
            {
                return Err(malformed(format!(
                    "body longer than the announced {} bytes",
                    p.expected.unwrap_or_default()
                )));
            }
            p.hasher.update(data);
            sink.write_all(data).await.map_err(Error::Sink)?;
            p.written = p.written.saturating_add(len);
        }
        if skip > 0 {
            return Ok(BodyEnd::Interrupted(Error::Transport {
                reason: "body ended before the already-downloaded prefix".into(),
            }));
        }
        match p.expected {
            Some(e) if p.written < e => Ok(BodyEnd::Interrupted(Error::Truncated {
                expected: e,
                got: p.written,
            })),
            _ => Ok(BodyEnd::Complete),
        }
    }
}

fn malformed(reason: String) -> Error {
    Error::Malformed {
        what: "recording content",
        reason,
    }
}

/// `Content-Range: bytes start-end/total` (total may be `*`).
#[derive(Debug, PartialEq, Eq)]
struct ContentRange {
    start: u64,
    end: u64,
    total: Option<u64>,
}

fn parse_content_range(v: &str) -> Option<ContentRange> {
    let rest = v.trim().strip_prefix("bytes")?.trim_start();
    let (range, total) = rest.split_once('/')?;
    let (start, end) = range.trim().split_once('-')?;
    let start: u64 = start.trim().parse().ok()?;
    let end: u64 = end.trim().parse().ok()?;
    if end < start {
        return None;
    }
    let total = match total.trim() {
        "*" => None,
        t => {
            let t: u64 = t.parse().ok()?;
            if end >= t {
                return None;
            }
            Some(t)
        }
    };
    Some(ContentRange { start, end, total })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range_headers_are_parsed_strictly() {
        assert_eq!(
            parse_content_range("bytes 100-199/200"),
            Some(ContentRange {
                start: 100,
                end: 199,
                total: Some(200)
            })
        );
        assert_eq!(
            parse_content_range("bytes 5-9/*"),
            Some(ContentRange {
                start: 5,
                end: 9,
                total: None
            })
        );
        for bad in [
            "bytes 9-5/10",
            "bytes 0-10/10",
            "items 0-1/2",
            "bytes x-1/2",
            "bytes */10",
        ] {
            assert_eq!(parse_content_range(bad), None, "{bad}");
        }
    }
}
