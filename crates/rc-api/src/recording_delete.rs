//! Deleting recordings at the source:
//! `DELETE /restapi/v1.0/account/~/call-recordings` with `{"records": […]}`
//! (1–100 ids, Heavy group, 204). It removes the recording files, not the
//! call-log records.
//!
//! The request goes through the rate-limit scheduler like every other call
//! ([`Endpoint::RecordingDelete`] is Heavy), so it waits for budget rather
//! than drawing a 429. RingCentral does not say which id of a batch was
//! unknown when it answers 404; [`RcClient::delete_recordings`] then splits
//! the batch in halves until each 404 names one id.

use reqwest::Method;

use crate::client::{RcClient, StatusMap};
use crate::error::{Error, Result};
use crate::http::RequestSpec;
use crate::ids::RecordingId;
use crate::ratelimit::Endpoint;

/// Most ids one request may carry (`CallRecordingIds.records.maxItems`).
pub const MAX_DELETE_BATCH: usize = 100;

/// What became of a batch given to [`RcClient::delete_recordings`].
#[derive(Debug, Default)]
pub struct BatchDeletion {
    /// Deleted by one of our requests (answered 204).
    pub deleted: Vec<RecordingId>,
    /// Answered 404 alone: unknown to RingCentral, or deleted already.
    pub not_found: Vec<RecordingId>,
    /// Not deleted because a request failed otherwise (see `error`).
    pub failed: Vec<RecordingId>,
    /// The first failure other than a 404, if any; the requests after it
    /// were not sent.
    pub error: Option<Error>,
    /// How many requests were sent (each at most [`MAX_DELETE_BATCH`] ids).
    pub requests: u32,
}

impl RcClient {
    /// Deletes `ids` at RingCentral in requests of at most
    /// [`MAX_DELETE_BATCH`] ids. A 404 batch is bisected to find the ids
    /// RingCentral does not know; any other error stops the run and leaves
    /// the rest in [`BatchDeletion::failed`]. Never panics, never retries a
    /// 4xx.
    pub async fn delete_recordings(&self, ids: &[RecordingId]) -> BatchDeletion {
        let mut out = BatchDeletion::default();
        // A stack of slices still to send, first batch on top.
        let mut todo: Vec<&[RecordingId]> = ids.chunks(MAX_DELETE_BATCH).rev().collect();
        while let Some(batch) = todo.pop() {
            if out.error.is_some() {
                out.failed.extend_from_slice(batch);
                continue;
            }
            out.requests += 1;
            match self.delete_batch(batch).await {
                Ok(()) => out.deleted.extend_from_slice(batch),
                Err(Error::Protocol { status: 404, .. }) if batch.len() == 1 => {
                    out.not_found.extend_from_slice(batch);
                }
                Err(Error::Protocol { status: 404, .. }) => {
                    let (left, right) = batch.split_at(batch.len() / 2);
                    todo.push(right);
                    todo.push(left);
                }
                Err(e) => {
                    out.failed.extend_from_slice(batch);
                    out.error = Some(e);
                }
            }
        }
        out
    }

    async fn delete_batch(&self, batch: &[RecordingId]) -> Result<()> {
        let url = self
            .core()
            .platform_url("/restapi/v1.0/account/~/call-recordings")?;
        let ids: Vec<&str> = batch.iter().map(|id| id.as_str()).collect();
        let body = serde_json::to_vec(&serde_json::json!({ "records": ids })).map_err(|e| {
            Error::Invalid {
                what: "request body",
                reason: e.to_string(),
            }
        })?;
        let spec = RequestSpec {
            method: Method::DELETE,
            ..RequestSpec::get(url, Endpoint::RecordingDelete).with_json_body(body)
        };
        self.execute(&spec, StatusMap::Plain).await.map(|_| ())
    }
}
