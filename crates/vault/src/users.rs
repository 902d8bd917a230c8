//! Web users, their extensions and their server-side sessions (login
//! attempt counters are in [`crate::login_throttle`]).
//!
//! Passwords arrive here already hashed (argon2 PHC strings made by the
//! binary); the catalog only stores and returns them. Session cookies are
//! never stored either: the caller stores a hash of the cookie's token, so a
//! copy of the database cannot be replayed as a login.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::db::{Catalog, Flag, replace_set};
use crate::error::CatalogError;
use crate::time::{duration_ms, from_ms};

/// What a user may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Sees and hears every conversation, browses the audit log and status.
    Admin,
    /// Sees and hears only conversations one of their extensions took part in.
    Viewer,
}

impl Role {
    /// The value in the `role` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Viewer => "viewer",
        }
    }

    /// Parses `admin` or `viewer`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "admin" => Some(Role::Admin),
            "viewer" => Some(Role::Viewer),
            _ => None,
        }
    }
}

/// A user's row id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(i64);

impl UserId {
    /// The row id.
    pub fn get(self) -> i64 {
        self.0
    }
}

impl std::fmt::Display for UserId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A web user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Row id.
    pub id: UserId,
    /// Login name.
    pub name: String,
    /// argon2 PHC string of the password.
    pub password_hash: String,
    /// What the user may see.
    pub role: Role,
    /// RingCentral extension ids whose conversations a viewer may see.
    pub extensions: Vec<String>,
    /// Extension groups whose conversations a viewer may see.
    pub extension_groups: Vec<String>,
    /// May play but never download.
    pub listen_only: bool,
    /// The IANA time zone the user chose for the times the web pages show;
    /// `None`: the browser's own. Validated by the caller before it is set.
    pub time_zone: Option<String>,
    /// When the user was created.
    pub created_at: DateTime<Utc>,
}

/// What [`Catalog::create_user`] stores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    /// Login name (unique).
    pub name: String,
    /// argon2 PHC string of the password.
    pub password_hash: String,
    /// What the user may see.
    pub role: Role,
    /// RingCentral extension ids.
    pub extensions: Vec<String>,
}

/// A live web session: who is logged in, and the CSRF token of their forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSession {
    /// The hash of the session's cookie token (its key in the catalog; never
    /// the token itself).
    pub token_hash: String,
    /// The logged-in user.
    pub user: User,
    /// The token every form of this session must carry.
    pub csrf_token: String,
    /// When the session ends.
    pub expires_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct UserSql {
    id: i64,
    name: String,
    password_hash: String,
    role: String,
    #[sqlx(try_from = "Flag")]
    listen_only: bool,
    time_zone: Option<String>,
    created_at: i64,
}

const TABLE: &str = "users";

/// How stale a session's last-use mark may get before a request refreshes
/// it (so the idle timeout is exact to within this).
pub const LAST_SEEN_GRANULARITY: Duration = Duration::from_secs(30);

impl Catalog {
    async fn user_from_row(&self, row: UserSql) -> Result<User, CatalogError> {
        let role = Role::parse(&row.role)
            .ok_or_else(|| CatalogError::corrupt(TABLE, format!("unknown role {:?}", row.role)))?;
        let extensions: Vec<String> = sqlx::query_scalar(
            "SELECT extension_id FROM user_extensions WHERE user_id = $1 ORDER BY extension_id",
        )
        .bind(row.id)
        .fetch_all(&self.pool)
        .await?;
        let extension_groups: Vec<String> = sqlx::query_scalar(
            "SELECT group_name FROM user_extension_groups WHERE user_id = $1 ORDER BY group_name",
        )
        .bind(row.id)
        .fetch_all(&self.pool)
        .await?;
        Ok(User {
            id: UserId(row.id),
            name: row.name,
            password_hash: row.password_hash,
            role,
            extensions,
            extension_groups,
            listen_only: row.listen_only,
            time_zone: row.time_zone,
            created_at: from_ms(TABLE, row.created_at)?,
        })
    }

    /// Creates a user with their extensions. Returns `None` when the name is
    /// taken (nothing is changed then).
    pub async fn create_user(&self, user: &NewUser) -> Result<Option<UserId>, CatalogError> {
        let mut tx = self.begin_write().await?;
        let id: Option<i64> = sqlx::query_scalar(self.sql(
            "INSERT INTO users (name, password_hash, role, created_at, updated_at)
             VALUES ($1, $2, $3, {now}, {now})
             ON CONFLICT (name) DO NOTHING RETURNING id",
        ))
        .bind(user.name.as_str())
        .bind(user.password_hash.as_str())
        .bind(user.role.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(id) = id else {
            return Ok(None);
        };
        for ext in &user.extensions {
            sqlx::query(
                "INSERT INTO user_extensions (user_id, extension_id) VALUES ($1, $2)
                 ON CONFLICT (user_id, extension_id) DO NOTHING",
            )
            .bind(id)
            .bind(ext.as_str())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(Some(UserId(id)))
    }

    /// The user called `name`.
    pub async fn user_by_name(&self, name: &str) -> Result<Option<User>, CatalogError> {
        let row: Option<UserSql> = sqlx::query_as(
                "SELECT id, name, password_hash, role, CAST(listen_only AS INTEGER) AS listen_only, time_zone, created_at FROM users WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?;
        match row {
            Some(row) => Ok(Some(self.user_from_row(row).await?)),
            None => Ok(None),
        }
    }

    /// Every user, by name.
    pub async fn list_users(&self) -> Result<Vec<User>, CatalogError> {
        let rows: Vec<UserSql> = sqlx::query_as("SELECT id, name, password_hash, role, CAST(listen_only AS INTEGER) AS listen_only, time_zone, created_at FROM users ORDER BY name")
                .fetch_all(&self.pool)
                .await?;
        let mut users = Vec::with_capacity(rows.len());
        for row in rows {
            users.push(self.user_from_row(row).await?);
        }
        Ok(users)
    }

    /// Removes the user called `name` with their sessions. Returns whether
    /// they existed.
    pub async fn remove_user(&self, name: &str) -> Result<bool, CatalogError> {
        let n = sqlx::query("DELETE FROM users WHERE name = $1")
            .bind(name)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    /// Makes `name` listen-only (play, never download) or not. Returns
    /// whether the user exists.
    pub async fn set_listen_only(
        &self,
        name: &str,
        listen_only: bool,
    ) -> Result<bool, CatalogError> {
        let n = sqlx::query(
            self.sql("UPDATE users SET listen_only = $2, updated_at = {now} WHERE name = $1"),
        )
        .bind(name)
        .bind(listen_only)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Sets the time zone user `id` sees times in (`None`: the browser's).
    /// The caller validates the name; the catalog stores it as given.
    pub async fn set_user_time_zone(
        &self,
        id: UserId,
        time_zone: Option<&str>,
    ) -> Result<(), CatalogError> {
        sqlx::query(self.sql("UPDATE users SET time_zone = $2, updated_at = {now} WHERE id = $1"))
            .bind(id.0)
            .bind(time_zone)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Replaces the extension groups in `name`'s scope. Returns whether
    /// the user exists.
    pub async fn set_user_extension_groups(
        &self,
        name: &str,
        groups: &[String],
    ) -> Result<bool, CatalogError> {
        let mut tx = self.begin_write().await?;
        let id: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(id) = id else {
            return Ok(false);
        };
        replace_set(
            &mut tx,
            "DELETE FROM user_extension_groups WHERE user_id = $1",
            "INSERT INTO user_extension_groups (user_id, group_name) VALUES ($1, $2)
             ON CONFLICT (user_id, group_name) DO NOTHING",
            id,
            groups,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Replaces the password hash of `name` and ends all their sessions.
    /// Returns whether the user exists.
    pub async fn set_password_hash(&self, name: &str, phc: &str) -> Result<bool, CatalogError> {
        let mut tx = self.begin_write().await?;
        let id: Option<i64> = sqlx::query_scalar(self.sql(
            "UPDATE users SET password_hash = $2, updated_at = {now} WHERE name = $1 RETURNING id",
        ))
        .bind(name)
        .bind(phc)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(id) = id {
            sqlx::query("DELETE FROM web_sessions WHERE user_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(id.is_some())
    }

    /// Starts a session for `user`, known by the hash of its cookie token,
    /// valid for `ttl` from now (database clock).
    pub async fn create_web_session(
        &self,
        token_hash: &str,
        user: UserId,
        csrf_token: &str,
        ttl: Duration,
    ) -> Result<(), CatalogError> {
        sqlx::query(self.sql(
            "INSERT INTO web_sessions (token_hash, user_id, csrf_token, created_at, expires_at, last_seen_at)
             VALUES ($1, $2, $3, {now}, {now} + $4, {now})"))
            .bind(token_hash)
            .bind(user.0)
            .bind(csrf_token)
            .bind(duration_ms(ttl))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The session whose cookie token hashes to `token_hash`, unless it
    /// has expired or has not been used for `idle` (automatic logoff).
    /// Using it marks it used; the mark is written at most once every
    /// [`LAST_SEEN_GRANULARITY`], so a player fetching audio in chunks does
    /// not write on every chunk.
    pub async fn web_session(
        &self,
        token_hash: &str,
        idle: Duration,
    ) -> Result<Option<WebSession>, CatalogError> {
        let row: Option<(i64, String, i64, i64)> = sqlx::query_as(self.sql(
            "SELECT user_id, csrf_token, expires_at, {now} - last_seen_at FROM web_sessions
                 WHERE token_hash = $1 AND expires_at > {now} AND last_seen_at > {now} - $2",
        ))
        .bind(token_hash)
        .bind(duration_ms(idle))
        .fetch_optional(&self.pool)
        .await?;
        let Some((user_id, csrf_token, expires_at, idle_ms)) = row else {
            return Ok(None);
        };
        if idle_ms >= duration_ms(LAST_SEEN_GRANULARITY) {
            {
                sqlx::query(
                    self.sql("UPDATE web_sessions SET last_seen_at = {now} WHERE token_hash = $1"),
                )
                .bind(token_hash)
                .execute(&self.pool)
                .await?;
            };
        }
        let user: Option<UserSql> = sqlx::query_as("SELECT id, name, password_hash, role, CAST(listen_only AS INTEGER) AS listen_only, time_zone, created_at FROM users WHERE id = $1")
                .bind(user_id)
                .fetch_optional(&self.pool)
                .await?;
        let Some(user) = user else {
            return Ok(None);
        };
        Ok(Some(WebSession {
            token_hash: token_hash.to_owned(),
            user: self.user_from_row(user).await?,
            csrf_token,
            expires_at: from_ms("web_sessions", expires_at)?,
        }))
    }

    /// Ends a session (logout). Ending an unknown session is not an error.
    pub async fn delete_web_session(&self, token_hash: &str) -> Result<(), CatalogError> {
        sqlx::query(
            self.sql("DELETE FROM web_sessions WHERE token_hash = $1 OR expires_at <= {now}"),
        )
        .bind(token_hash)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
