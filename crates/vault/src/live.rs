//! What the live (webhook) flow keeps: notifications, settings and
//! cluster-wide singleton leases.
//!
//! # Durability of a notification commit
//! [`Catalog::commit_notifications`] is the receiver's group commit: many
//! notifications (and the jobs their arrival triggers) in one transaction,
//! so one flush to disk is shared by every request in the batch. On
//! PostgreSQL the commit returns after the server has flushed its WAL (with
//! the server's default `synchronous_commit = on`). On SQLite the catalog
//! runs in WAL mode with `synchronous = NORMAL` (a commit survives a crash
//! of the process, but the last commits may be lost on a power failure or
//! an OS crash); this commit alone switches its connection to
//! `synchronous = FULL`, so the WAL is fsync'd before it returns and an
//! acknowledged notification survives a power failure too.

mod group_commit;

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::db::Catalog;
use crate::error::{CatalogError, OrCorrupt};
use crate::ids::TelephonySessionId;
use crate::queue::NewJob;
use crate::time::{duration_ms, from_ms, from_opt_ms, to_ms};

/// A webhook notification to commit before answering 200.
#[derive(Debug, Clone, PartialEq)]
pub struct NewNotification {
    /// The envelope's `uuid`; duplicates are absorbed by it.
    pub uuid: String,
    /// `body.telephonySessionId`, when present.
    pub telephony_session_id: Option<TelephonySessionId>,
    /// `body.sequence` (per-session order).
    pub sequence: Option<i64>,
    /// `body.eventTime`.
    pub event_time: Option<DateTime<Utc>>,
    /// The whole notification, the JSON text exactly as received: stored
    /// as it is, so unknown fields survive and the receiver neither builds
    /// a value tree nor serialises one again on its hot path.
    pub body: String,
}

/// A notification to commit in a batch, with the job its arrival triggers.
#[derive(Debug, Clone, PartialEq)]
pub struct NotificationWrite {
    /// The notification.
    pub notification: NewNotification,
    /// Enqueued in the same transaction, and only if the notification is
    /// new (a redelivery must not queue its follow-up again); a live job of
    /// the same kind and dedupe key absorbs it, as [`Catalog::enqueue`] does.
    pub job: Option<NewJob>,
}

/// A stored notification.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// The envelope's `uuid`.
    pub uuid: String,
    /// Its telephony session.
    pub telephony_session_id: Option<TelephonySessionId>,
    /// Per-session order.
    pub sequence: Option<i64>,
    /// `eventTime`.
    pub event_time: Option<DateTime<Utc>>,
    /// The notification as received.
    pub body: serde_json::Value,
    /// When we committed it (database clock).
    pub received_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct NotificationSql {
    uuid: String,
    telephony_session_id: Option<String>,
    sequence: Option<i64>,
    event_time: Option<i64>,
    body: String,
    received_at: i64,
}

/// Proof of holding a cluster-wide singleton (e.g. `rc-gateway`): only
/// [`Catalog::acquire_singleton`] makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SingletonLease {
    name: String,
    token: i64,
}

impl SingletonLease {
    /// The singleton's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The fencing token of this tenure (rises with every new holder).
    pub fn token(&self) -> i64 {
        self.token
    }
}

const TABLE: &str = "notifications";

impl Catalog {
    /// Commits a notification; returns `false` for a duplicate `uuid`
    /// (nothing changes).
    pub async fn insert_notification(&self, n: &NewNotification) -> Result<bool, CatalogError> {
        let body = n.body.as_str();
        let rows = sqlx::query(self.sql(
            "INSERT INTO notifications (uuid, telephony_session_id, sequence, event_time, body,
                    received_at)
                 VALUES ($1, $2, $3, $4, $5, {now}) ON CONFLICT (uuid) DO NOTHING",
        ))
        .bind(n.uuid.as_str())
        .bind(n.telephony_session_id.as_ref().map(|t| t.as_str()))
        .bind(n.sequence)
        .bind(n.event_time.map(to_ms))
        .bind(body)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(rows == 1)
    }

    /// A session's notifications in `sequence` order (then arrival order),
    /// for folding its parties' states.
    pub async fn notifications_for_session(
        &self,
        session: &TelephonySessionId,
    ) -> Result<Vec<Notification>, CatalogError> {
        let rows: Vec<NotificationSql> = sqlx::query_as(
            "SELECT uuid, telephony_session_id, sequence, event_time, body, received_at
                 FROM notifications WHERE telephony_session_id = $1
                 ORDER BY sequence, received_at, uuid",
        )
        .bind(session.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(Notification {
                    telephony_session_id: r
                        .telephony_session_id
                        .as_deref()
                        .map(TelephonySessionId::parse)
                        .transpose()
                        .or_corrupt(TABLE)?,
                    uuid: r.uuid,
                    sequence: r.sequence,
                    event_time: from_opt_ms(TABLE, r.event_time)?,
                    body: serde_json::from_str(&r.body)?,
                    received_at: from_ms(TABLE, r.received_at)?,
                })
            })
            .collect()
    }

    /// A small named setting (subscription id, verification token, …).
    pub async fn setting(&self, name: &str) -> Result<Option<String>, CatalogError> {
        let value: Option<String> =
            sqlx::query_scalar("SELECT value FROM settings WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?;
        Ok(value)
    }

    /// A named setting and how long ago it was last set (database clock),
    /// e.g. the subscription state the gateway last saw, for `/healthz`.
    pub async fn setting_with_age(
        &self,
        name: &str,
    ) -> Result<Option<(String, Duration)>, CatalogError> {
        let row: Option<(String, i64)> = sqlx::query_as(
            self.sql("SELECT value, {now} - updated_at FROM settings WHERE name = $1"),
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(value, age_ms)| {
            let age = Duration::from_millis(u64::try_from(age_ms).unwrap_or(0));
            (value, age)
        }))
    }

    /// Sets a named setting.
    pub async fn set_setting(&self, name: &str, value: &str) -> Result<(), CatalogError> {
        sqlx::query(self.sql(
            "INSERT INTO settings (name, value, updated_at) VALUES ($1, $2, {now})
             ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at"))
            .bind(name)
            .bind(value)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Becomes (or stays) the one holder of the singleton `name` for
    /// `lease_for`, on the database clock; each success returns a new lease
    /// (a new token). Works the same on SQLite and
    /// PostgreSQL. `None` while another holder's lease runs. Renew well
    /// before expiry with [`Catalog::renew_singleton`]; a holder that dies is
    /// replaced once its lease runs out.
    pub async fn acquire_singleton(
        &self,
        name: &str,
        holder: &str,
        lease_for: Duration,
    ) -> Result<Option<SingletonLease>, CatalogError> {
        let token: Option<i64> = sqlx::query_scalar(self.sql(
            "INSERT INTO singletons (name, holder, token, leased_until)
                 VALUES ($1, $2, 1, {now} + $3)
                 ON CONFLICT (name) DO UPDATE SET holder = excluded.holder,
                    token = singletons.token + 1, leased_until = excluded.leased_until
                 WHERE singletons.leased_until < {now} OR singletons.holder = excluded.holder
                 RETURNING token",
        ))
        .bind(name)
        .bind(holder)
        .bind(duration_ms(lease_for))
        .fetch_optional(&self.pool)
        .await?;
        Ok(token.map(|token| SingletonLease {
            name: name.to_owned(),
            token,
        }))
    }

    /// Extends a singleton lease; `false` means it was lost (expired and
    /// taken over): stop acting as the singleton at once.
    pub async fn renew_singleton(
        &self,
        lease: &SingletonLease,
        lease_for: Duration,
    ) -> Result<bool, CatalogError> {
        let n =
            sqlx::query(self.sql(
                "UPDATE singletons SET leased_until = {now} + $3 WHERE name = $1 AND token = $2",
            ))
            .bind(lease.name.as_str())
            .bind(lease.token)
            .bind(duration_ms(lease_for))
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    /// Gives a singleton up (graceful shutdown) so another process can take
    /// it at once. `false` if it was no longer ours.
    pub async fn release_singleton(&self, lease: &SingletonLease) -> Result<bool, CatalogError> {
        let n =
            sqlx::query(self.sql(
                "UPDATE singletons SET leased_until = {now} - 1 WHERE name = $1 AND token = $2",
            ))
            .bind(lease.name.as_str())
            .bind(lease.token)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    /// Who holds the singleton `name` now, with its lease token, or `None`
    /// when nobody's lease runs: for operators (`status`) and cluster tests.
    pub async fn singleton_holder(
        &self,
        name: &str,
    ) -> Result<Option<(String, i64)>, CatalogError> {
        let row: Option<(String, i64)> =
            sqlx::query_as(self.sql(
                "SELECT holder, token FROM singletons WHERE name = $1 AND leased_until >= {now}",
            ))
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row)
    }
}
