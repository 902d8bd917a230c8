//! Login attempt counters that hold under concurrency and across processes.
//!
//! An attempt is *reserved* before the password is checked: one
//! transaction bumps every counter the attempt falls under and, if any of
//! them would pass its limit, rolls the bumps back and refuses. So the check
//! and the count are one atomic step in the catalog. Checking first and
//! counting after the (slow) password hash lets every concurrent attempt
//! pass the check; here the 6th of 50 simultaneous attempts already sees
//! five reservations, whichever process made them.
//!
//! * SQLite: the transaction takes the write lock at once (`BEGIN
//!   IMMEDIATE`), so reservations run one after another, across processes
//!   sharing the file.
//! * PostgreSQL: `INSERT … ON CONFLICT DO UPDATE` locks each counter's row
//!   until commit or rollback; a concurrent reservation of the same counter
//!   waits and then sees the committed count. Counters are always taken in
//!   the caller's order (most specific first), so two reservations cannot
//!   wait on each other in a cycle.
//!
//! A reservation that turns out to be a good password is given back with
//! [`Catalog::forgive_login_attempt`]; a wrong one simply stays counted.
//! Counters live in fixed windows: the first reservation after a window
//! ends starts a new one at 1.

use std::time::Duration;

use crate::db::Catalog;
use crate::error::CatalogError;
use crate::time::duration_ms;

/// One counter an attempt falls under, and how many attempts it allows per
/// window (e.g. `user+address:alice|10.0.0.1` allowing 5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptLimit {
    /// The counter's key.
    pub key: String,
    /// Attempts allowed within one window.
    pub limit: u32,
}

/// What [`Catalog::reserve_login_attempt`] decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptReservation {
    /// Counted under every key; the password may be checked.
    Granted,
    /// Nothing was counted: the counter `key` is at its limit.
    Refused {
        /// The first counter found at its limit.
        key: String,
    },
}

impl Catalog {
    /// Counts one login attempt under every counter of `limits`, atomically,
    /// unless one of them is already at its limit (then nothing is counted).
    /// Pass the counters most specific first, always in the same order.
    pub async fn reserve_login_attempt(
        &self,
        limits: &[AttemptLimit],
        window: Duration,
    ) -> Result<AttemptReservation, CatalogError> {
        let mut tx = self.begin_write().await?;
        for limit in limits {
            let n: i64 = sqlx::query_scalar(self.sql(
                "INSERT INTO login_attempts (key, failures, window_start) VALUES ($1, 1, {now})
                 ON CONFLICT (key) DO UPDATE SET
                    failures = CASE WHEN login_attempts.window_start > {now} - $2
                                    THEN login_attempts.failures + 1 ELSE 1 END,
                    window_start = CASE WHEN login_attempts.window_start > {now} - $2
                                        THEN login_attempts.window_start ELSE {now} END
                 RETURNING failures",
            ))
            .bind(limit.key.as_str())
            .bind(duration_ms(window))
            .fetch_one(&mut *tx)
            .await?;
            if n > i64::from(limit.limit) {
                tx.rollback().await?;
                return Ok(AttemptReservation::Refused {
                    key: limit.key.clone(),
                });
            }
        }
        tx.commit().await?;
        Ok(AttemptReservation::Granted)
    }

    /// Gives back a granted reservation whose password was right: the
    /// counters of `forget` are deleted (e.g. this user from this address
    /// has proved themselves) and those of `give_back` lose the one attempt
    /// this login reserved.
    pub async fn forgive_login_attempt(
        &self,
        forget: &[&str],
        give_back: &[&str],
    ) -> Result<(), CatalogError> {
        let mut tx = self.begin().await?;
        for key in forget {
            sqlx::query("DELETE FROM login_attempts WHERE key = $1")
                .bind(*key)
                .execute(&mut *tx)
                .await?;
        }
        for key in give_back {
            sqlx::query(
                "UPDATE login_attempts SET failures = failures - 1 WHERE key = $1 AND failures > 0",
            )
            .bind(*key)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Attempts counted under `key` in its current window (0 when the
    /// window is over); for tests and diagnostics.
    pub async fn login_attempts(&self, key: &str, window: Duration) -> Result<u32, CatalogError> {
        let n: Option<i64> = sqlx::query_scalar(self.sql(
            "SELECT failures FROM login_attempts WHERE key = $1 AND window_start > {now} - $2",
        ))
        .bind(key)
        .bind(duration_ms(window))
        .fetch_optional(&self.pool)
        .await?;
        Ok(n.and_then(|n| u32::try_from(n).ok()).unwrap_or(0))
    }

    /// Deletes counters whose window is over, so guessed user names and
    /// addresses do not pile up. Returns how many went.
    pub async fn prune_login_attempts(&self, window: Duration) -> Result<u64, CatalogError> {
        let n =
            sqlx::query(self.sql("DELETE FROM login_attempts WHERE window_start <= {now} - $1"))
                .bind(duration_ms(window))
                .execute(&self.pool)
                .await?
                .rows_affected();
        Ok(n)
    }
}
