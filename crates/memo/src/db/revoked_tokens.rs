//! Revoked token ids (the blocklist), kept in the database so that a logout
//! survives a restart and holds across every instance that shares the
//! database. A row is only useful until the token expires on its own, so rows
//! past their `expires_at` are purged whenever a new one is written.

use time::OffsetDateTime;

use super::{Db, on_pool, on_writer};

/// The revoked-token table, as the app's revocation store.
#[derive(Clone, Debug)]
pub struct RevokedTokens {
    db: Db,
}

impl RevokedTokens {
    pub(super) fn new(db: Db) -> Self {
        Self { db }
    }

    /// Records `jti` as revoked until `expires_at` (unix seconds; `None` for
    /// a token that never expires), and purges rows that have expired.
    ///
    /// Revoking twice is not an error: a second logout with the same token
    /// must not fail.
    ///
    /// # Errors
    /// A database error.
    pub async fn revoke(&self, jti: &str, expires_at: Option<i64>) -> Result<(), sqlx::Error> {
        self.purge_expired().await?;
        let sql = "INSERT INTO revoked_tokens (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING";
        on_writer!(&self.db, pool => sqlx::query(sql)
            .bind(jti)
            .bind(expires_at)
            .execute(pool)
            .await
            .map(drop))
    }

    /// Whether `jti` has been revoked.
    ///
    /// # Errors
    /// A database error.
    pub async fn is_revoked(&self, jti: &str) -> Result<bool, sqlx::Error> {
        let sql = "SELECT jti FROM revoked_tokens WHERE jti = $1";
        on_pool!(&self.db, pool => sqlx::query(sql)
            .bind(jti)
            .fetch_optional(pool)
            .await
            .map(|row| row.is_some()))
    }

    /// Deletes the rows of tokens that have expired by now; returns how many.
    ///
    /// # Errors
    /// A database error.
    pub async fn purge_expired(&self) -> Result<u64, sqlx::Error> {
        let sql = "DELETE FROM revoked_tokens WHERE expires_at IS NOT NULL AND expires_at < $1";
        let now = OffsetDateTime::now_utc().unix_timestamp();
        on_writer!(&self.db, pool => sqlx::query(sql)
            .bind(now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))
    }
}
