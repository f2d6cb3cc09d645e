//! [`SqlStore`]: revocations and login families in SQLite or PostgreSQL through sqlx.
//!
//! Rows outlive restarts and are purged once the tokens they describe have expired. Rotation is
//! one conditional `UPDATE`, so two instances refreshing the same token cannot both win.

use std::{
    collections::HashMap,
    fmt,
    sync::{Arc, RwLock},
    time::Duration,
};

use futures_util::future::BoxFuture;
use serde_json::Value;
use sqlx::{PgPool, Row, SqlitePool};

use crate::{
    claims::DecodedToken,
    decode::now,
    revocation::{RevocationStore, StoreError},
    rotation::{FAMILY_CLAIM, RefreshId, RotateOutcome, SessionInfo, SessionStore, in_grace},
};

const SCHEMA: [&str; 3] = [
    "CREATE TABLE IF NOT EXISTS jwt_revoked_tokens (jti TEXT PRIMARY KEY, expires_at BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS jwt_sessions (family TEXT PRIMARY KEY, user_id TEXT NOT NULL, \
     created_at BIGINT NOT NULL, last_used_at BIGINT NOT NULL, user_agent TEXT, current_jti TEXT NOT NULL, \
     current_exp BIGINT, retired_jti TEXT, retired_at BIGINT, revoked_at BIGINT)",
    "CREATE INDEX IF NOT EXISTS jwt_sessions_user ON jwt_sessions (user_id)",
];

/// Kept when a revoked token never expires: far in the future, so the row is never purged.
const NEVER: i64 = i64::MAX / 2;

#[derive(Clone)]
enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs the same statement on whichever pool the store has (`$1` placeholders work on both).
macro_rules! on_pool {
    ($store:expr, |$pool:ident| $body:expr) => {
        match &$store.pool {
            Pool::Sqlite($pool) => $body,
            Pool::Postgres($pool) => $body,
        }
    };
}

/// Revoked ids held in memory when this process is the only writer.
#[derive(Default)]
struct LocalCache {
    jtis: HashMap<String, i64>,
    families: HashMap<String, ()>,
}

/// Revocations and sessions in SQL tables (`jwt_revoked_tokens`, `jwt_sessions`).
///
/// ```no_run
/// # async fn run(pool: sqlx::SqlitePool) -> Result<(), Box<dyn std::error::Error>> {
/// use jwt_extended::{JwtConfig, JwtManager, SqlStore};
/// let store = SqlStore::sqlite(pool);
/// store.migrate().await?;
/// let jwt = JwtManager::builder(JwtConfig::from_env()?).session_store(store).build()?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct SqlStore {
    pool: Pool,
    cache: Option<Arc<RwLock<LocalCache>>>,
}

impl fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let backend = match self.pool {
            Pool::Sqlite(_) => "sqlite",
            Pool::Postgres(_) => "postgres",
        };
        f.debug_struct("SqlStore")
            .field("backend", &backend)
            .field("local_cache", &self.cache.is_some())
            .finish()
    }
}

fn db_error(e: sqlx::Error) -> StoreError {
    StoreError::new(e)
}

impl SqlStore {
    /// A store in a SQLite database.
    pub fn sqlite(pool: SqlitePool) -> Self {
        Self {
            pool: Pool::Sqlite(pool),
            cache: None,
        }
    }

    /// A store in a PostgreSQL database.
    pub fn postgres(pool: PgPool) -> Self {
        Self {
            pool: Pool::Postgres(pool),
            cache: None,
        }
    }

    /// Creates the tables if they are missing.
    ///
    /// # Errors
    /// [`StoreError`] when the database refuses.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        for statement in SCHEMA {
            on_pool!(self, |pool| sqlx::query(statement)
                .execute(pool)
                .await
                .map(|_| ()))
            .map_err(db_error)?;
        }
        Ok(())
    }

    /// Answers revocation lookups from memory, loading the revoked ids now. **Only** for a
    /// process that is the sole writer of these tables (one instance): revocations made by
    /// another process would not be seen. Several instances share a Redis store instead.
    ///
    /// # Errors
    /// [`StoreError`] when the revoked ids cannot be loaded.
    pub async fn with_local_cache(mut self) -> Result<Self, StoreError> {
        let now = now() as i64;
        let jti_sql = "SELECT jti, expires_at FROM jwt_revoked_tokens WHERE expires_at > $1";
        let fam_sql = "SELECT family FROM jwt_sessions WHERE revoked_at IS NOT NULL";
        let mut cache = LocalCache::default();
        let rows = on_pool!(self, |pool| sqlx::query(jti_sql)
            .bind(now)
            .fetch_all(pool)
            .await
            .map(|rows| {
                rows.iter()
                    .map(|r| (r.get::<String, _>(0), r.get::<i64, _>(1)))
                    .collect::<Vec<_>>()
            }))
        .map_err(db_error)?;
        cache.jtis.extend(rows);
        let families = on_pool!(self, |pool| sqlx::query(fam_sql).fetch_all(pool).await.map(
            |rows| rows
                .iter()
                .map(|r| r.get::<String, _>(0))
                .collect::<Vec<_>>()
        ))
        .map_err(db_error)?;
        cache.families.extend(families.into_iter().map(|f| (f, ())));
        self.cache = Some(Arc::new(RwLock::new(cache)));
        Ok(self)
    }

    /// Deletes rows of tokens and families that have expired.
    ///
    /// # Errors
    /// [`StoreError`] when the database refuses.
    pub async fn purge_expired(&self) -> Result<u64, StoreError> {
        let now = now() as i64;
        let tokens = "DELETE FROM jwt_revoked_tokens WHERE expires_at <= $1";
        let families =
            "DELETE FROM jwt_sessions WHERE current_exp IS NOT NULL AND current_exp <= $1";
        let a = on_pool!(self, |pool| sqlx::query(tokens)
            .bind(now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()));
        let b = on_pool!(self, |pool| sqlx::query(families)
            .bind(now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()));
        Ok(a.map_err(db_error)? + b.map_err(db_error)?)
    }

    fn cached(&self, jti: Option<&str>, family: Option<&str>) -> Option<bool> {
        let cache = self.cache.as_ref()?.read().ok()?;
        let now = now() as i64;
        let jti_hit = jti.is_some_and(|j| cache.jtis.get(j).is_some_and(|exp| *exp > now));
        Some(jti_hit || family.is_some_and(|f| cache.families.contains_key(f)))
    }

    fn remember_family(&self, family: &str) {
        if let Some(Ok(mut cache)) = self.cache.as_ref().map(|c| c.write()) {
            cache.families.insert(family.to_owned(), ());
        }
    }

    async fn lookup(&self, jti: Option<&str>, family: Option<&str>) -> Result<bool, StoreError> {
        let sql = "SELECT (SELECT COUNT(*) FROM jwt_revoked_tokens WHERE jti = $1 AND expires_at > $2) \
                   + (SELECT COUNT(*) FROM jwt_sessions WHERE family = $3 AND revoked_at IS NOT NULL)";
        let now = now() as i64;
        let (jti, family) = (jti.unwrap_or_default(), family.unwrap_or_default());
        let count: i64 = on_pool!(self, |pool| sqlx::query_scalar(sql)
            .bind(jti)
            .bind(now)
            .bind(family)
            .fetch_one(pool)
            .await)
        .map_err(db_error)?;
        Ok(count > 0)
    }

    async fn mark_revoked(&self, family: &str) -> Result<(), StoreError> {
        let sql =
            "UPDATE jwt_sessions SET revoked_at = $1 WHERE family = $2 AND revoked_at IS NULL";
        let now = now() as i64;
        on_pool!(self, |pool| sqlx::query(sql)
            .bind(now)
            .bind(family)
            .execute(pool)
            .await
            .map(|_| ()))
        .map_err(db_error)?;
        self.remember_family(family);
        Ok(())
    }
}

impl RevocationStore for SqlStore {
    fn is_revoked<'a>(
        &'a self,
        token: &'a DecodedToken,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        let jti = token.jti();
        let family = token.claim(FAMILY_CLAIM).and_then(Value::as_str);
        match self.cached(jti, family) {
            Some(answer) => Box::pin(async move { Ok(answer) }),
            None => Box::pin(self.lookup(jti, family)),
        }
    }

    fn revoke<'a>(
        &'a self,
        jti: &'a str,
        expires_at: Option<i64>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let until = expires_at.unwrap_or(NEVER);
            let sql = "INSERT INTO jwt_revoked_tokens (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING";
            on_pool!(self, |pool| sqlx::query(sql)
                .bind(jti)
                .bind(until)
                .execute(pool)
                .await
                .map(|_| ()))
            .map_err(db_error)?;
            if let Some(Ok(mut cache)) = self.cache.as_ref().map(|c| c.write()) {
                let now = now() as i64;
                cache.jtis.retain(|_, exp| *exp > now);
                cache.jtis.insert(jti.to_owned(), until);
            }
            Ok(())
        })
    }
}

type FamilyRow = (
    String,
    Option<i64>,
    Option<String>,
    Option<i64>,
    Option<i64>,
);

impl SessionStore for SqlStore {
    fn create<'a>(
        &'a self,
        session: &'a SessionInfo,
        refresh: &'a RefreshId,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let sql = "INSERT INTO jwt_sessions (family, user_id, created_at, last_used_at, user_agent, current_jti, current_exp) \
                       VALUES ($1, $2, $3, $4, $5, $6, $7)";
            on_pool!(self, |pool| sqlx::query(sql)
                .bind(&session.id)
                .bind(&session.user)
                .bind(session.created_at)
                .bind(session.last_used_at)
                .bind(session.user_agent.as_deref())
                .bind(&refresh.jti)
                .bind(refresh.exp)
                .execute(pool)
                .await
                .map(|_| ()))
            .map_err(db_error)?;
            Ok(())
        })
    }

    fn rotate<'a>(
        &'a self,
        family: &'a str,
        presented: &'a str,
        successor: &'a RefreshId,
        grace: Duration,
    ) -> BoxFuture<'a, Result<RotateOutcome, StoreError>> {
        Box::pin(async move {
            let now = now() as i64;
            let swap = "UPDATE jwt_sessions SET retired_jti = current_jti, retired_at = $1, current_jti = $2, \
                        current_exp = $3, last_used_at = $1 WHERE family = $4 AND current_jti = $5 \
                        AND revoked_at IS NULL AND (current_exp IS NULL OR current_exp > $1)";
            let swapped = on_pool!(self, |pool| sqlx::query(swap)
                .bind(now)
                .bind(&successor.jti)
                .bind(successor.exp)
                .bind(family)
                .bind(presented)
                .execute(pool)
                .await
                .map(|r| r.rows_affected()))
            .map_err(db_error)?;
            if swapped == 1 {
                return Ok(RotateOutcome::Rotated);
            }
            let read = "SELECT current_jti, current_exp, retired_jti, retired_at, revoked_at FROM jwt_sessions WHERE family = $1";
            let row: Option<FamilyRow> = on_pool!(self, |pool| sqlx::query_as(read)
                .bind(family)
                .fetch_optional(pool)
                .await)
            .map_err(db_error)?;
            let Some((current, current_exp, retired, retired_at, revoked_at)) = row else {
                return Ok(RotateOutcome::Revoked);
            };
            if revoked_at.is_some() || current_exp.is_some_and(|e| e <= now) {
                return Ok(RotateOutcome::Revoked);
            }
            if retired.as_deref() == Some(presented)
                && in_grace(now, retired_at.unwrap_or_default(), grace)
            {
                return Ok(RotateOutcome::Grace(RefreshId {
                    jti: current,
                    exp: current_exp,
                }));
            }
            self.mark_revoked(family).await?;
            Ok(RotateOutcome::Reused)
        })
    }

    fn revoke_family<'a>(&'a self, family: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.mark_revoked(family))
    }

    fn list<'a>(&'a self, user: &'a str) -> BoxFuture<'a, Result<Vec<SessionInfo>, StoreError>> {
        Box::pin(async move {
            let sql = "SELECT family, user_id, created_at, last_used_at, user_agent, current_exp FROM jwt_sessions \
                       WHERE user_id = $1 AND revoked_at IS NULL AND (current_exp IS NULL OR current_exp > $2) \
                       ORDER BY created_at, family";
            let now = now() as i64;
            type Row = (String, String, i64, i64, Option<String>, Option<i64>);
            let rows: Vec<Row> = on_pool!(self, |pool| sqlx::query_as(sql)
                .bind(user)
                .bind(now)
                .fetch_all(pool)
                .await)
            .map_err(db_error)?;
            Ok(rows
                .into_iter()
                .map(
                    |(id, user, created_at, last_used_at, user_agent, expires_at)| SessionInfo {
                        id,
                        user,
                        created_at,
                        last_used_at,
                        user_agent,
                        expires_at,
                    },
                )
                .collect())
        })
    }
}

#[cfg(test)]
mod tests {
    use sqlx::{Connection, Executor, PgConnection, sqlite::SqlitePoolOptions};

    use super::*;
    use crate::{JsonObject, JwtConfig, JwtError, JwtManager};

    async fn sqlite_store() -> SqlStore {
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .expect("sqlite");
        let store = SqlStore::sqlite(pool);
        store.migrate().await.expect("migrate");
        store
    }

    /// A fresh PostgreSQL database (dropped by the caller), or `None` without a server; under
    /// `CI=true` a missing server fails the test.
    struct TempDb {
        admin: String,
        name: String,
        url: String,
    }

    async fn postgres_db() -> Option<TempDb> {
        let admin = std::env::var("POSTGRES_ADMIN_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let mut conn = match PgConnection::connect(&admin).await {
            Ok(c) => c,
            Err(e) if std::env::var("CI").as_deref() == Ok("true") => {
                panic!("PostgreSQL is required under CI: {e}")
            }
            Err(e) => {
                eprintln!("skipped: no PostgreSQL at {admin} ({e})");
                return None;
            }
        };
        let name = format!("jwt_test_{}", uuid::Uuid::new_v4().simple());
        conn.execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .expect("create database");
        let url = admin
            .rsplit_once('/')
            .map(|(base, _)| format!("{base}/{name}"))
            .expect("url names a database");
        Some(TempDb { admin, name, url })
    }

    async fn drop_db(db: &TempDb) {
        if let Ok(mut conn) = PgConnection::connect(&db.admin).await {
            let _ = conn
                .execute(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", db.name).as_str())
                .await;
        }
    }

    async fn exercise(store: SqlStore) {
        let jwt = JwtManager::builder(JwtConfig::default().with_secret_key("k"))
            .session_store(store.clone())
            .build()
            .expect("config");
        let login = jwt
            .login("7", JsonObject::new(), Some("ua".into()))
            .await
            .expect("login");
        let old = jwt
            .decode_token(&login.refresh_token, None, false)
            .expect("valid");
        let a = jwt
            .rotate(&old, &login.refresh_token, Duration::from_secs(5))
            .await
            .expect("rotated");
        let b = jwt
            .rotate(&old, &login.refresh_token, Duration::from_secs(5))
            .await
            .expect("grace");
        assert_eq!(
            jwt.get_jti(&a.refresh_token).expect("jti"),
            jwt.get_jti(&b.refresh_token).expect("jti")
        );
        let newer = jwt
            .decode_token(&a.refresh_token, None, false)
            .expect("valid");
        jwt.rotate(&newer, &a.refresh_token, Duration::ZERO)
            .await
            .expect("rotated again");
        let replay = jwt
            .rotate(&old, &login.refresh_token, Duration::from_secs(5))
            .await;
        assert!(
            matches!(replay, Err(JwtError::Revoked(_))),
            "two rotations ago is reuse"
        );
        let access = jwt
            .decode_token(&login.access_token, None, false)
            .expect("valid");
        assert!(store.is_revoked(&access).await.expect("answer"));

        let other = jwt
            .login("7", JsonObject::new(), None)
            .await
            .expect("login");
        assert_eq!(jwt.sessions("7").await.expect("list").len(), 1);
        let token = jwt
            .decode_token(&other.access_token, None, false)
            .expect("valid");
        jwt.revoke(&token).await.expect("revoke jti");
        assert!(store.is_revoked(&token).await.expect("answer"));
        assert_eq!(jwt.end_all_sessions("7").await.expect("ended"), 1);
        assert!(jwt.sessions("7").await.expect("list").is_empty());
    }

    #[tokio::test]
    async fn sqlite_store_rotates_detects_reuse_and_revokes() {
        exercise(sqlite_store().await).await;
    }

    #[tokio::test]
    async fn the_local_cache_answers_from_memory_and_survives_a_restart() {
        let store = sqlite_store().await;
        store
            .revoke("gone", Some(now() as i64 + 60))
            .await
            .expect("revoke");
        let cached = store.clone().with_local_cache().await.expect("load");
        assert_eq!(cached.cached(Some("gone"), None), Some(true));
        exercise(cached).await;
    }

    #[tokio::test]
    async fn postgres_store_rotates_detects_reuse_and_revokes() {
        let Some(db) = postgres_db().await else {
            return;
        };
        let pool = PgPool::connect(&db.url).await.expect("connect");
        let store = SqlStore::postgres(pool.clone());
        store.migrate().await.expect("migrate");
        exercise(store).await;
        pool.close().await;
        drop_db(&db).await;
    }
}
