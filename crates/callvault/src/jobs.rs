//! The queue's job kinds and their typed payloads: the one place that knows
//! how a job is stored (kind, dedupe key, payload JSON).
//!
//! Catalogs already hold these strings, so they must never change:
//!
//! | job | kind | dedupe key | payload |
//! |---|---|---|---|
//! | [`Job::Download`] | `download` | `rec:<recording id>` | `{"id": …}` |
//! | [`Job::Session`] | `session` | `session:<tsid>` | `{"tsid": …}` |
//! | [`Job::Look`] | `calllog_look` | `calllog-look` | `{}` |
//! | [`Job::Stitch`] | `stitch` | `stitch:<conversation id>` | `{"conversation": …}` |
//! | [`Job::RetentionApply`] | `retention_apply` | `retention-apply` | `{}` |
//! | [`Job::DeleteAtSource`] | `delete_at_source` | `delete-at-source` | `{}` |
//!
//! A stored job is untrusted data: [`Job::from_leased`] parses it into a
//! [`Job`] or says what is wrong ([`BadJob`]), never panics.
//!
//! Both worker loops (`sync`'s drain and the live workers) give a job whose
//! run failed back to the queue the same way: [`retry_failed`], after a
//! [`Backoff`] delay.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use vault::{
    Catalog, CatalogError, ConversationId, IdError, JobState, LeasedJob, NewJob, RecordingId,
    TelephonySessionId,
};

/// What a queued job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobKind {
    /// Download one recording into the vault.
    Download,
    /// Follow a telephony session up after a party left.
    Session,
    /// One batched call-log look for every waiting session.
    Look,
    /// Stitch one conversation.
    Stitch,
    /// Apply the retention rules (a standing job, see `retention::jobs`).
    RetentionApply,
    /// Delete verified recordings at RingCentral (a standing job).
    DeleteAtSource,
}

impl JobKind {
    /// Every kind.
    pub const ALL: [JobKind; 6] = [
        JobKind::Download,
        JobKind::Session,
        JobKind::Look,
        JobKind::Stitch,
        JobKind::RetentionApply,
        JobKind::DeleteAtSource,
    ];

    /// The kind as stored in the catalog's `jobs.kind`.
    pub const fn as_str(self) -> &'static str {
        match self {
            JobKind::Download => "download",
            JobKind::Session => "session",
            JobKind::Look => "calllog_look",
            JobKind::Stitch => "stitch",
            JobKind::RetentionApply => "retention_apply",
            JobKind::DeleteAtSource => "delete_at_source",
        }
    }

    /// The kind stored as `s`.
    pub fn parse(s: &str) -> Result<JobKind, BadJob> {
        JobKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| BadJob::UnknownKind { kind: s.to_owned() })
    }
}

impl fmt::Display for JobKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for JobKind {
    type Err = BadJob;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        JobKind::parse(s)
    }
}

/// A queued job with its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Job {
    /// Download `recording`.
    Download {
        /// The recording to store.
        recording: RecordingId,
    },
    /// Follow `session` up.
    Session {
        /// The telephony session.
        session: TelephonySessionId,
    },
    /// Look at the call log for every waiting session.
    Look,
    /// Stitch `conversation`.
    Stitch {
        /// The conversation to stitch.
        conversation: ConversationId,
    },
    /// Apply the retention rules, then sleep until the next run.
    RetentionApply,
    /// Delete at RingCentral what the rules allow, then sleep until the next run.
    DeleteAtSource,
}

/// Why a stored job cannot be run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BadJob {
    /// The kind is none of [`JobKind::ALL`].
    #[error("unknown job kind {kind:?}")]
    UnknownKind {
        /// The stored kind.
        kind: String,
    },
    /// The payload lacks a field, or the field is not a string.
    #[error("{kind} job payload has no {field:?}")]
    Missing {
        /// The job's kind.
        kind: JobKind,
        /// The payload field.
        field: &'static str,
    },
    /// The payload's id is not a valid id.
    #[error("{kind} job payload has a bad {field:?}: {source}")]
    BadId {
        /// The job's kind.
        kind: JobKind,
        /// The payload field.
        field: &'static str,
        /// What is wrong with it.
        source: IdError,
    },
    /// A job of another kind reached this kind's handler.
    #[error("a {found} job is not a {expected} job")]
    WrongKind {
        /// The kind the handler runs.
        expected: JobKind,
        /// The job's kind.
        found: JobKind,
    },
}

impl Job {
    /// Its kind.
    pub fn kind(&self) -> JobKind {
        match self {
            Job::Download { .. } => JobKind::Download,
            Job::Session { .. } => JobKind::Session,
            Job::Look => JobKind::Look,
            Job::Stitch { .. } => JobKind::Stitch,
            Job::RetentionApply => JobKind::RetentionApply,
            Job::DeleteAtSource => JobKind::DeleteAtSource,
        }
    }

    /// Its identity in the queue: one live job per kind and key.
    pub fn dedupe_key(&self) -> String {
        match self {
            Job::Download { recording } => format!("rec:{recording}"),
            Job::Session { session } => format!("session:{session}"),
            Job::Look => "calllog-look".to_owned(),
            Job::Stitch { conversation } => format!("stitch:{conversation}"),
            Job::RetentionApply => "retention-apply".to_owned(),
            Job::DeleteAtSource => "delete-at-source".to_owned(),
        }
    }

    /// Its arguments as stored.
    pub fn payload(&self) -> Value {
        match self {
            Job::Download { recording } => json!({ "id": recording.as_str() }),
            Job::Session { session } => json!({ "tsid": session.as_str() }),
            Job::Look | Job::RetentionApply | Job::DeleteAtSource => json!({}),
            Job::Stitch { conversation } => json!({ "conversation": conversation.as_str() }),
        }
    }

    /// The job to enqueue: due now, priority 0 (callers set their own).
    pub fn to_new_job(&self) -> NewJob {
        NewJob::new(self.kind().as_str(), self.dedupe_key(), self.payload())
    }

    /// The claimed job, parsed.
    pub fn from_leased(job: &LeasedJob) -> Result<Job, BadJob> {
        Job::parse(&job.kind, &job.payload)
    }

    /// A job stored as `kind` with `payload`.
    pub fn parse(kind: &str, payload: &Value) -> Result<Job, BadJob> {
        let kind = JobKind::parse(kind)?;
        Ok(match kind {
            JobKind::Download => Job::Download {
                recording: id(kind, payload, "id", RecordingId::parse)?,
            },
            JobKind::Session => Job::Session {
                session: id(kind, payload, "tsid", TelephonySessionId::parse)?,
            },
            JobKind::Look => Job::Look,
            JobKind::Stitch => Job::Stitch {
                conversation: id(kind, payload, "conversation", ConversationId::parse)?,
            },
            JobKind::RetentionApply => Job::RetentionApply,
            JobKind::DeleteAtSource => Job::DeleteAtSource,
        })
    }

    /// The recording of a claimed download job.
    pub fn recording_of(job: &LeasedJob) -> Result<RecordingId, BadJob> {
        match Job::from_leased(job)? {
            Job::Download { recording } => Ok(recording),
            other => Err(other.not_a(JobKind::Download)),
        }
    }

    /// The session of a claimed session job.
    pub fn session_of(job: &LeasedJob) -> Result<TelephonySessionId, BadJob> {
        match Job::from_leased(job)? {
            Job::Session { session } => Ok(session),
            other => Err(other.not_a(JobKind::Session)),
        }
    }

    /// The conversation of a claimed stitch job.
    pub fn conversation_of(job: &LeasedJob) -> Result<ConversationId, BadJob> {
        match Job::from_leased(job)? {
            Job::Stitch { conversation } => Ok(conversation),
            other => Err(other.not_a(JobKind::Stitch)),
        }
    }

    /// Makes this job's pending twin due now (or asks a running one to run
    /// again); whether there was one.
    pub async fn run_now(&self, catalog: &Catalog) -> Result<bool, CatalogError> {
        catalog
            .run_now(self.kind().as_str(), &self.dedupe_key())
            .await
    }

    fn not_a(&self, expected: JobKind) -> BadJob {
        BadJob::WrongKind {
            expected,
            found: self.kind(),
        }
    }
}

/// When a failed job runs again: [`vault::backoff`] from `base`, doubling
/// with jitter up to `cap`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first delay.
    pub base: Duration,
    /// The longest delay.
    pub cap: Duration,
}

impl Backoff {
    /// 2 s, doubling up to 10 minutes.
    pub const DEFAULT: Backoff = Backoff {
        base: Duration::from_secs(2),
        cap: Duration::from_secs(600),
    };

    /// When a job that failed on its `attempt` (from 1) runs again.
    pub fn retry_at(self, attempt: u32) -> DateTime<Utc> {
        let delay = vault::backoff(attempt, self.base, self.cap);
        Utc::now() + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::minutes(10))
    }
}

/// Gives `job`, whose run failed with `reason`, back to the queue to run
/// again after `backoff` (`dead` after its last attempt). Returns the new
/// state, or `None` when the lease was no longer ours.
pub async fn retry_failed(
    catalog: &Catalog,
    job: &LeasedJob,
    reason: &str,
    backoff: Backoff,
) -> Result<Option<JobState>, CatalogError> {
    catalog
        .retry(&job.lease, backoff.retry_at(job.attempt), reason)
        .await
}

/// The id in `payload[field]`.
fn id<T>(
    kind: JobKind,
    payload: &Value,
    field: &'static str,
    parse: fn(&str) -> Result<T, IdError>,
) -> Result<T, BadJob> {
    let text = payload
        .get(field)
        .and_then(Value::as_str)
        .ok_or(BadJob::Missing { kind, field })?;
    parse(text).map_err(|source| BadJob::BadId {
        kind,
        field,
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn examples() -> Vec<Job> {
        vec![
            Job::Download {
                recording: RecordingId::parse("401786818008").unwrap(),
            },
            Job::Session {
                session: TelephonySessionId::parse("s-a0d7e3c1").unwrap(),
            },
            Job::Look,
            Job::Stitch {
                conversation: ConversationId::parse("s-a0d7e3c1").unwrap(),
            },
            Job::RetentionApply,
            Job::DeleteAtSource,
        ]
    }

    #[test]
    fn kinds_keys_and_payloads_are_the_ones_stored_catalogs_hold() {
        let want = [
            NewJob::new(
                "download",
                "rec:401786818008",
                json!({"id": "401786818008"}),
            ),
            NewJob::new(
                "session",
                "session:s-a0d7e3c1",
                json!({"tsid": "s-a0d7e3c1"}),
            ),
            NewJob::new("calllog_look", "calllog-look", json!({})),
            NewJob::new(
                "stitch",
                "stitch:s-a0d7e3c1",
                json!({"conversation": "s-a0d7e3c1"}),
            ),
            NewJob::new("retention_apply", "retention-apply", json!({})),
            NewJob::new("delete_at_source", "delete-at-source", json!({})),
        ];
        for (job, want) in examples().iter().zip(want) {
            assert_eq!(job.to_new_job(), want, "{job:?}");
        }
    }

    #[test]
    fn every_kind_parses_from_its_stored_string_and_nothing_else_does() {
        for kind in JobKind::ALL {
            assert_eq!(kind.as_str().parse::<JobKind>(), Ok(kind));
            assert_eq!(kind.to_string(), kind.as_str());
        }
        for bad in ["", "Download", "look", "calllog-look", "stitch "] {
            assert_eq!(
                JobKind::parse(bad),
                Err(BadJob::UnknownKind { kind: bad.into() }),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn every_job_parses_back_from_its_kind_and_payload() {
        for job in examples() {
            assert_eq!(
                Job::parse(job.kind().as_str(), &job.payload()),
                Ok(job.clone())
            );
        }
    }

    #[test]
    fn bad_payloads_are_errors_that_name_the_kind_and_the_field() {
        let cases = [
            ("download", json!({}), "download job payload has no \"id\""),
            (
                "download",
                json!(null),
                "download job payload has no \"id\"",
            ),
            (
                "download",
                json!({"id": 7}),
                "download job payload has no \"id\"",
            ),
            (
                "download",
                json!({"id": ""}),
                "download job payload has a bad \"id\": ",
            ),
            (
                "session",
                json!({"id": "s-1"}),
                "session job payload has no \"tsid\"",
            ),
            (
                "session",
                json!({"tsid": "../x"}),
                "session job payload has a bad \"tsid\": ",
            ),
            (
                "stitch",
                json!("s-1"),
                "stitch job payload has no \"conversation\"",
            ),
            (
                "stitch",
                json!({"conversation": "a b"}),
                "stitch job payload has a bad \"conversation\": ",
            ),
            ("frobnicate", json!({}), "unknown job kind \"frobnicate\""),
        ];
        for (kind, payload, want) in cases {
            let err = Job::parse(kind, &payload).expect_err(kind);
            assert!(err.to_string().starts_with(want), "{kind} {payload}: {err}");
        }
        // A look has no arguments: whatever its payload, it is a look.
        assert_eq!(Job::parse("calllog_look", &json!(null)), Ok(Job::Look));
    }

    #[test]
    fn a_retry_waits_half_to_all_of_a_doubling_delay_never_past_the_cap() {
        let backoff = Backoff::DEFAULT;
        let within = |attempt: u32, low: i64, high: i64| {
            let before = Utc::now();
            let at = backoff.retry_at(attempt);
            let after = Utc::now();
            assert!(at >= before + chrono::Duration::seconds(low), "{attempt}");
            assert!(at <= after + chrono::Duration::seconds(high), "{attempt}");
        };
        within(1, 1, 2);
        within(3, 4, 8);
        within(40, 300, 600);
        within(u32::MAX, 300, 600);
    }

    /// Through a real catalog: what is enqueued is what is claimed.
    #[tokio::test]
    async fn every_job_comes_back_from_the_queue_as_enqueued() {
        let (catalog, _dir) = crate::test_catalog::sqlite_catalog().await;
        let kinds = JobKind::ALL.map(JobKind::as_str);
        let lease = std::time::Duration::from_secs(60);
        for job in examples() {
            catalog.enqueue(&job.to_new_job()).await.unwrap();
            let leased = catalog.claim("test", &kinds, lease).await.unwrap().unwrap();
            assert_eq!(Job::from_leased(&leased), Ok(job.clone()));
            assert_eq!(leased.dedupe_key, job.dedupe_key());
            if job.kind() != JobKind::Download {
                assert_eq!(
                    Job::recording_of(&leased),
                    Err(BadJob::WrongKind {
                        expected: JobKind::Download,
                        found: job.kind()
                    })
                );
            }
        }
        catalog
            .enqueue(&NewJob::new("stitch", "stitch:x", json!({})))
            .await
            .unwrap();
        let leased = catalog.claim("test", &kinds, lease).await.unwrap().unwrap();
        assert_eq!(
            Job::conversation_of(&leased),
            Err(BadJob::Missing {
                kind: JobKind::Stitch,
                field: "conversation"
            })
        );
        assert_eq!(
            Job::recording_of(&leased),
            Err(BadJob::Missing {
                kind: JobKind::Stitch,
                field: "conversation"
            })
        );
    }
}
