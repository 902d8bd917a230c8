//! One download job: fetch a recording's content from RingCentral, stream it
//! into its blob (sniffed, hashed, atomic), and commit the ledger row fenced
//! by the job's lease. The outcome decides the recording's and the job's next
//! state; nothing is ever half-stored.

use std::io;

use anyhow::Context;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use rc_api::ladder::{Ladder, Verdict};
use vault::{
    BlobStore, Catalog, KeyLayout, LeasedJob, RecordingId, RecordingState, StorageKey, StoredBlob,
};

use super::bridge;
use super::sniff::{self, Container};
use crate::jobs::Backoff;

/// What a download job came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Stored and verified now.
    Stored {
        /// Bytes stored.
        size: u64,
    },
    /// It was stored already (a repeated job does nothing).
    AlreadyStored,
    /// Not downloadable yet; the job sleeps until `next`, counted from the
    /// call's end on RingCentral's clock.
    NotReady {
        /// Next attempt (local time).
        next: DateTime<Utc>,
    },
    /// Deleted or purged at the source: given up for good.
    Gone {
        /// Why.
        reason: String,
    },
    /// A permanent failure a person must look at.
    Failed {
        /// Why.
        reason: String,
    },
    /// A transient failure; the job retries after a backoff.
    Retry {
        /// Why.
        reason: String,
    },
}

/// What a download needs.
#[derive(Clone)]
pub struct Downloader {
    /// The RingCentral client (one per process: it owns the rate-limit budget).
    pub client: rc_api::RcClient,
    /// The ledger.
    pub catalog: Catalog,
    /// Where recordings go.
    pub blobs: BlobStore,
    /// Key layout for recordings.
    pub layout: KeyLayout,
    /// When to try again a recording that is not available yet
    /// ([`Ladder::recording_content`] in production).
    pub schedule: Ladder,
    /// When to try again after a transient failure: the job runner's
    /// backoff, so a download retries like every other job.
    pub backoff: Backoff,
}

/// Why a body could not become a blob.
#[derive(Debug, thiserror::Error)]
enum PutError {
    #[error("the body is not audio (first bytes {0:02x?})")]
    NotAudio(Vec<u8>),
    #[error("the body is empty")]
    Empty,
    #[error(transparent)]
    Blob(#[from] vault::BlobError),
}

impl Downloader {
    /// Downloads `id` (the job claimed as `job`) and records the outcome in
    /// the ledger and the queue.
    pub async fn run(&self, id: &RecordingId, job: &LeasedJob) -> anyhow::Result<Outcome> {
        let outcome = self.attempt(id, job).await?;
        self.settle(id, job, &outcome).await?;
        Ok(outcome)
    }

    async fn attempt(&self, id: &RecordingId, job: &LeasedJob) -> anyhow::Result<Outcome> {
        let Some(rec) = self.catalog.recording(id).await? else {
            return Ok(Outcome::Failed {
                reason: format!("recording {id} is not in the ledger"),
            });
        };
        if rec.state == RecordingState::Stored {
            return Ok(Outcome::AlreadyStored);
        }
        let (Some(uri), Some(tsid)) = (rec.content_uri.clone(), rec.telephony_session_id.clone())
        else {
            return Ok(Outcome::Failed {
                reason: "the call log gave no contentUri or telephonySessionId".into(),
            });
        };
        let start = rec.call_start_time.unwrap_or(rec.created_at);
        let end = self.conversation_end(&tsid).await?.map_or_else(
            || rec.call_end_time.unwrap_or(start),
            |c| c.max(rec.call_end_time.unwrap_or(start)),
        );
        // A call that ended moments ago (a live call the look listed) has
        // no content yet: waiting costs nothing, a 404 costs a Heavy
        // request. Only once the client knows RingCentral's clock, which a
        // fast sandbox's first answers do not tell.
        let clock = self.client.server_clock();
        let first_try = self.schedule.first_try(end);
        if clock.rate_known() && clock.now() < first_try {
            return Ok(Outcome::NotReady {
                next: clock.to_local(first_try),
            });
        }

        let (mut writer, body) = bridge::pipe();
        let fetch = async {
            let result = self.client.download_recording(&uri, &mut writer).await;
            if let Err(e) = &result {
                writer.fail(io::Error::other(e.to_string())).await;
            } else {
                drop(writer);
            }
            result
        };
        // Under WORM, the lock lasts the governing retention rule's minimum
        // keep (`None`: the store's `--worm-retain-days`).
        let retain_until = crate::retention::retain_until(&self.catalog, id, Utc::now()).await?;
        let store = self.store(body, retain_until, |c| {
            self.layout.recording(start, &tsid, id, c.ext())
        });
        let (fetched, stored) = tokio::join!(fetch, store);

        let downloaded = match fetched {
            Ok(d) => d,
            Err(e) => return Ok(self.classify(id, end, e)),
        };
        let (key, container, blob) = match stored {
            Ok(v) => v,
            Err(PutError::NotAudio(head)) => {
                return Ok(Outcome::Failed {
                    reason: format!("not audio: first bytes {head:02x?}"),
                });
            }
            Err(PutError::Empty) => {
                return Ok(Outcome::Failed {
                    reason: "empty body".into(),
                });
            }
            Err(PutError::Blob(e)) => {
                return Ok(Outcome::Retry {
                    reason: format!("storing the blob: {e}"),
                });
            }
        };
        if blob.size != downloaded.size || blob.sha256.to_hex() != downloaded.sha256_hex() {
            self.blobs
                .delete(&key)
                .await
                .context("removing a blob that does not match its download")?;
            return Ok(Outcome::Retry {
                reason: "stored bytes differ from downloaded bytes".into(),
            });
        }
        let sidecar = serde_json::json!({
            "recordingId": id.as_str(),
            "telephonySessionId": tsid.as_str(),
            "callRecordId": rec.call_record_id.as_ref().map(|c| c.as_str()),
            "contentUri": uri,
            "contentType": container.content_type(),
            "serverContentType": downloaded.content_type,
            "size": blob.size,
            "sha256": blob.sha256.to_hex(),
            "callStart": start,
            "callEnd": end,
        });
        self.blobs
            .put_sidecar(&key, &sidecar)
            .await
            .context("writing the metadata sidecar")?;
        crate::worm::record_lock(&self.catalog, &self.blobs, &key).await?;
        let committed = self
            .catalog
            .complete_with_recording_stored(
                &job.lease,
                id,
                &key,
                &blob.sha256,
                blob.size,
                container.content_type(),
            )
            .await?;
        if committed {
            crate::worm::hold_if_held(&self.catalog, &self.blobs, &key).await;
        } else {
            // Our lease was taken over; the other holder commits the same bytes.
            tracing::warn!(recording = %id, "lease lost before commit; leaving it to the new holder");
        }
        Ok(Outcome::Stored { size: blob.size })
    }

    /// Sniffs the first bytes, picks the key, and streams the rest in.
    async fn store<S>(
        &self,
        body: S,
        retain_until: Option<chrono::DateTime<chrono::Utc>>,
        key_for: impl FnOnce(Container) -> StorageKey,
    ) -> Result<(StorageKey, Container, StoredBlob), PutError>
    where
        S: futures::Stream<Item = io::Result<bytes::Bytes>> + Send + Unpin,
    {
        let mut body = body;
        let mut head: Vec<bytes::Bytes> = Vec::new();
        let mut seen = 0usize;
        while seen < sniff::NEEDED {
            match body.next().await {
                Some(Ok(chunk)) => {
                    seen += chunk.len();
                    head.push(chunk);
                }
                Some(Err(_)) | None => break,
            }
        }
        let first: Vec<u8> = head
            .iter()
            .flat_map(|c| c.iter().copied())
            .take(sniff::NEEDED)
            .collect();
        if first.is_empty() {
            return Err(PutError::Empty);
        }
        let Some(container) = sniff::sniff(&first) else {
            return Err(PutError::NotAudio(first));
        };
        let key = key_for(container);
        let source = futures::stream::iter(head.into_iter().map(Ok)).chain(body);
        let blob = self
            .blobs
            .put_stream_retained(&key, source, retain_until)
            .await?;
        Ok((key, container, blob))
    }

    /// When the whole call of session `tsid` ended, as far as the catalog
    /// knows: an attended transfer's first session ends before the call
    /// does, and RingCentral makes no content available while the call goes
    /// on, so its recording's readiness counts from the last session's end.
    async fn conversation_end(
        &self,
        tsid: &vault::TelephonySessionId,
    ) -> anyhow::Result<Option<DateTime<Utc>>> {
        let Some(id) = self.catalog.conversation_for_session(tsid).await? else {
            return Ok(None);
        };
        let Some(conversation) = self.catalog.conversation(&id).await? else {
            return Ok(None);
        };
        let mut end = conversation.ended_at;
        for session in &conversation.sessions {
            for r in self.catalog.recordings_for_session(session).await? {
                end = end.max(r.call_end_time);
            }
        }
        Ok(end)
    }

    fn classify(&self, id: &RecordingId, call_end: DateTime<Utc>, e: rc_api::Error) -> Outcome {
        use rc_api::Error as E;
        let clock = self.client.server_clock();
        match e {
            // `call_end` is on RingCentral's clock: so is the schedule.
            E::NotReady { .. } => match self.schedule.verdict(call_end, clock.now()) {
                Verdict::RetryAt(next) => Outcome::NotReady {
                    next: clock.to_local(next),
                },
                Verdict::Gone => Outcome::Gone {
                    reason: format!("recording {id} still 404 long after the call ended"),
                },
            },
            E::Gone { .. } => Outcome::Gone {
                reason: e.to_string(),
            },
            E::ForbiddenHost { .. } | E::NotAudio { .. } | E::Invalid { .. } => Outcome::Failed {
                reason: e.to_string(),
            },
            other => Outcome::Retry {
                reason: other.to_string(),
            },
        }
    }

    async fn settle(
        &self,
        id: &RecordingId,
        job: &LeasedJob,
        outcome: &Outcome,
    ) -> anyhow::Result<()> {
        let c = &self.catalog;
        match outcome {
            Outcome::Stored { .. } => {}
            Outcome::AlreadyStored => {
                c.complete(&job.lease).await?;
            }
            Outcome::NotReady { next } => {
                c.mark_recording_not_ready(id, *next, "content not available yet")
                    .await?;
                c.snooze(&job.lease, *next, "content not available yet")
                    .await?;
            }
            Outcome::Gone { reason } => {
                c.mark_recording_gone(id, reason).await?;
                c.complete(&job.lease).await?;
            }
            Outcome::Failed { reason } => {
                c.mark_recording_failed(id, reason).await?;
                c.fail(&job.lease, reason).await?;
            }
            Outcome::Retry { reason } => {
                let state = crate::jobs::retry_failed(c, job, reason, self.backoff).await?;
                if state == Some(vault::JobState::Dead) {
                    c.mark_recording_failed(id, reason).await?;
                }
            }
        }
        Ok(())
    }
}
