//! [`SqlStore`]: revocations and login families in SQLite (feature `sqlite`) or PostgreSQL
//! (feature `postgres`) through sqlx.
//!
//! Rows outlive restarts and are purged once the tokens they describe have expired. Rotation is
//! one conditional `UPDATE`, so two instances refreshing the same token cannot both win. On
//! SQLite every write goes through a group commit (`sqlite_writes.rs`, on a file
//! `sqlite_thread.rs`); on PostgreSQL the rotations do (`pg_swaps.rs`).

use std::{
    fmt,
    sync::{Arc, RwLock},
    time::Duration,
};

use serde_json::Value;
#[cfg(feature = "postgres")]
use sqlx::PgPool;
#[cfg(feature = "sqlite")]
use sqlx::SqlitePool;

#[cfg(feature = "postgres")]
use super::pg_connections::PgConnections;
#[cfg(feature = "postgres")]
use super::pg_notify::{self, channel};
#[cfg(feature = "postgres")]
use super::pg_swaps::Swaps;
use super::revoked_ids::{Kind, RevokedIds};
#[cfg(feature = "sqlite")]
use super::sqlite_writes::{Write, Writer, Written};
use super::traits::{
    RefreshId, RevocationStore, RotateOutcome, SessionInfo, SessionStore, StoreError, in_grace,
};
use crate::{
    claims::{DecodedToken, FAMILY_CLAIM},
    clock::now_secs,
};

pub(super) const SCHEMA: [&str; 3] = [
    "CREATE TABLE IF NOT EXISTS jwt_revoked_tokens (jti TEXT PRIMARY KEY, expires_at BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS jwt_sessions (family TEXT PRIMARY KEY, user_id TEXT NOT NULL, \
     created_at BIGINT NOT NULL, last_used_at BIGINT NOT NULL, user_agent TEXT, current_jti TEXT NOT NULL, \
     current_exp BIGINT, retired_jti TEXT, retired_at BIGINT, revoked_at BIGINT)",
    "CREATE INDEX IF NOT EXISTS jwt_sessions_user ON jwt_sessions (user_id)",
];

/// PostgreSQL's schema as one script, so one implicit transaction: the advisory lock first
/// (held to its end), then the rotations' function (PL/pgSQL does not look its tables up
/// until it runs) and [`SCHEMA`], whose `CREATE INDEX` locks `jwt_sessions` against writes
/// until the commit.
#[cfg(feature = "postgres")]
fn postgres_schema() -> String {
    let mut script =
        String::from("SELECT pg_advisory_xact_lock(hashtextextended('jwt-extended schema', 0));\n");
    for statement in [&super::pg_swaps::SWAP_FUNCTION_SQL]
        .into_iter()
        .chain(&SCHEMA)
    {
        script.push_str(statement);
        script.push_str(";\n");
    }
    script
}

/// Kept when a revoked token never expires: far in the future, so the row is never purged.
const NEVER: i64 = i64::MAX / 2;

pub(super) const CREATE_SQL: &str = "INSERT INTO jwt_sessions (family, user_id, created_at, last_used_at, \
     user_agent, current_jti, current_exp) VALUES ($1, $2, $3, $4, $5, $6, $7)";

/// Rotation's happy path: swaps the presented token for its successor if it is current.
#[cfg(feature = "sqlite")]
pub(super) const SWAP_SQL: &str = "UPDATE jwt_sessions SET retired_jti = current_jti, retired_at = $1, \
     current_jti = $2, current_exp = $3, last_used_at = $1 WHERE family = $4 AND current_jti = $5 \
     AND revoked_at IS NULL AND (current_exp IS NULL OR current_exp > $1)";

/// A family's row, read when the swap did not happen ([`FamilyRow`]).
pub(super) const READ_FAMILY_SQL: &str = "SELECT current_jti, current_exp, retired_jti, retired_at, \
     revoked_at FROM jwt_sessions WHERE family = $1";

#[cfg(feature = "sqlite")]
pub(super) const MARK_REVOKED_SQL: &str =
    "UPDATE jwt_sessions SET revoked_at = $1 WHERE family = $2 AND revoked_at IS NULL";

#[cfg(feature = "sqlite")]
pub(super) const REVOKE_SQL: &str =
    "INSERT INTO jwt_revoked_tokens (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING";

/// PostgreSQL's revocation of a token: notifies the instances that share the database
/// (`pg_notify.rs`) when the row is new, in the same statement, so on commit.
#[cfg(feature = "postgres")]
const PG_REVOKE_SQL: &str = concat!(
    "WITH revoked AS (INSERT INTO jwt_revoked_tokens (jti, expires_at) VALUES ($1, $2) \
     ON CONFLICT (jti) DO NOTHING RETURNING jti, expires_at) \
     SELECT pg_notify(",
    channel!(),
    ", 'j ' || expires_at || ' ' || jti) FROM revoked"
);

/// PostgreSQL's revocation of a family, notifying like [`PG_REVOKE_SQL`].
#[cfg(feature = "postgres")]
const PG_MARK_REVOKED_SQL: &str = concat!(
    "WITH revoked AS (UPDATE jwt_sessions SET revoked_at = $1 WHERE family = $2 \
     AND revoked_at IS NULL RETURNING family, COALESCE(current_exp, 4611686018427387903) AS until) \
     SELECT until, pg_notify(",
    channel!(),
    ", 'f ' || until || ' ' || family) FROM revoked"
);

/// Ends a live login of one user ([`SessionStore::end`]): `$1` now, `$2` family, `$3` user.
/// The returned row is an [`EndedRow`].
macro_rules! end_update {
    () => {
        "UPDATE jwt_sessions SET revoked_at = $1 WHERE family = $2 AND user_id = $3 \
         AND revoked_at IS NULL AND (current_exp IS NULL OR current_exp > $1) \
         RETURNING family, created_at, last_used_at, user_agent, current_exp"
    };
}

#[cfg(feature = "sqlite")]
pub(super) const END_SQL: &str = end_update!();

/// PostgreSQL's [`END_SQL`], notifying like [`PG_REVOKE_SQL`].
#[cfg(feature = "postgres")]
const PG_END_SQL: &str = concat!(
    "WITH ended AS (",
    end_update!(),
    ") SELECT family, created_at, last_used_at, user_agent, current_exp, pg_notify(",
    channel!(),
    ", 'f ' || COALESCE(current_exp, 4611686018427387903) || ' ' || family) FROM ended"
);

/// `family, created_at, last_used_at, user_agent, current_exp` of a login just ended.
pub(super) type EndedRow = (String, i64, i64, Option<String>, Option<i64>);

/// Every revocation that still matters, with its expiry: what a cache starts from.
const REVOKED_TOKENS_SQL: &str =
    "SELECT jti, expires_at FROM jwt_revoked_tokens WHERE expires_at > $1";
const REVOKED_FAMILIES_SQL: &str = "SELECT family, COALESCE(current_exp, 4611686018427387903) \
     FROM jwt_sessions WHERE revoked_at IS NOT NULL AND (current_exp IS NULL OR current_exp > $1)";

/// Each write's statement with its values bound, for either backend: run on a PostgreSQL pool
/// here, and on SQLite inside the group commit (`sqlite_writes.rs`).
macro_rules! create_query {
    ($session:expr, $refresh:expr) => {
        sqlx::query(CREATE_SQL)
            .bind(&$session.id)
            .bind(&$session.user)
            .bind($session.created_at)
            .bind($session.last_used_at)
            .bind($session.user_agent.as_deref())
            .bind(&$refresh.jti)
            .bind($refresh.exp)
    };
}

#[cfg(feature = "sqlite")]
macro_rules! swap_query {
    ($family:expr, $presented:expr, $successor:expr, $now:expr) => {
        sqlx::query(SWAP_SQL)
            .bind($now)
            .bind(&$successor.jti)
            .bind($successor.exp)
            .bind($family)
            .bind($presented)
    };
}

#[cfg(feature = "sqlite")]
macro_rules! mark_revoked_query {
    ($family:expr, $now:expr) => {
        sqlx::query(MARK_REVOKED_SQL).bind($now).bind($family)
    };
}

#[cfg(feature = "sqlite")]
macro_rules! revoke_query {
    ($jti:expr, $until:expr) => {
        sqlx::query(REVOKE_SQL).bind($jti).bind($until)
    };
}

#[cfg(feature = "sqlite")]
pub(super) use {create_query, mark_revoked_query, revoke_query, swap_query};

/// `current_jti, current_exp, retired_jti, retired_at, revoked_at` of a family.
pub(super) type FamilyRow = (
    String,
    Option<i64>,
    Option<String>,
    Option<i64>,
    Option<i64>,
);

/// What a rotation that did not swap comes to, from the family's row.
pub(super) enum Settled {
    Outcome(RotateOutcome),
    /// A token retired before the grace window: the family must be revoked.
    Reused,
}

/// Decides a rotation that did not swap: revoked or expired family, a repeat within the grace
/// window, or reuse.
pub(super) fn settle(
    row: Option<FamilyRow>,
    presented: &str,
    now: i64,
    grace: Duration,
) -> Settled {
    let Some((current, current_exp, retired, retired_at, revoked_at)) = row else {
        return Settled::Outcome(RotateOutcome::Revoked);
    };
    if revoked_at.is_some() || current_exp.is_some_and(|e| e <= now) {
        return Settled::Outcome(RotateOutcome::Revoked);
    }
    if retired.as_deref() == Some(presented) && in_grace(now, retired_at.unwrap_or_default(), grace)
    {
        return Settled::Outcome(RotateOutcome::Grace(RefreshId {
            jti: current,
            exp: current_exp,
        }));
    }
    Settled::Reused
}

#[derive(Clone)]
pub(super) enum Pool {
    #[cfg(feature = "sqlite")]
    Sqlite(SqlitePool),
    #[cfg(feature = "postgres")]
    Postgres(PgConnections),
}

/// Runs the same statement on whichever pool the store has (`$1` placeholders work on both).
macro_rules! on_pool {
    ($pool_enum:expr, |$pool:ident| $body:expr) => {
        match $pool_enum {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite($pool) => $body,
            #[cfg(feature = "postgres")]
            Pool::Postgres(connections) => on_kept!(connections, |$pool| $body),
        }
    };
}

/// Runs a statement on a connection `connections` keeps between statements
/// ([`PgConnections`]), kept again when it succeeded.
#[cfg(feature = "postgres")]
macro_rules! on_kept {
    ($connections:expr, |$connection:ident| $body:expr) => {
        match $connections.take().await {
            Ok(mut kept) => {
                let $connection = &mut *kept;
                let outcome = $body;
                $connections.give_back(kept, &outcome);
                outcome
            }
            Err(e) => Err(e),
        }
    };
}

#[cfg(feature = "postgres")]
pub(super) use on_kept;

/// Every revocation in the tables that still matters (see [`RevokedIds`]).
pub(super) async fn revoked_snapshot(pool: &Pool) -> Result<Vec<(Kind, String, i64)>, sqlx::Error> {
    let now = now_secs();
    let tokens: Vec<(String, i64)> = on_pool!(pool, |pool| sqlx::query_as(REVOKED_TOKENS_SQL)
        .bind(now)
        .fetch_all(pool)
        .await)?;
    let families: Vec<(String, i64)> = on_pool!(pool, |pool| sqlx::query_as(REVOKED_FAMILIES_SQL)
        .bind(now)
        .fetch_all(pool)
        .await)?;
    let tokens = tokens
        .into_iter()
        .map(|(id, until)| (Kind::Token, id, until));
    let families = families
        .into_iter()
        .map(|(id, until)| (Kind::Family, id, until));
    Ok(tokens.chain(families).collect())
}

/// Revocations and sessions in SQL tables (`jwt_revoked_tokens`, `jwt_sessions`).
///
/// ```no_run
/// # #[cfg(feature = "postgres")]
/// # async fn run(pool: sqlx::PgPool) -> Result<(), Box<dyn std::error::Error>> {
/// use jwt_extended::{JwtConfig, JwtManager, SqlStore};
/// let store = SqlStore::postgres(pool); // or SqlStore::sqlite(pool) with the `sqlite` feature
/// store.migrate().await?;
/// let jwt = JwtManager::builder(JwtConfig::from_env()?).session_store(store).build()?;
/// # Ok(()) }
/// ```
#[cfg_attr(docsrs, doc(cfg(any(feature = "sqlite", feature = "postgres"))))]
#[derive(Clone)]
pub struct SqlStore {
    pool: Pool,
    /// Revoked ids in memory: [`Self::with_local_cache`] or [`Self::with_shared_cache`].
    cache: Option<Arc<RwLock<RevokedIds>>>,
    /// What keeps a shared cache current, stopped with the last clone of the store.
    #[cfg(feature = "postgres")]
    listener: Option<Arc<pg_notify::Listener>>,
    /// SQLite's group commit (`sqlite_writes.rs`), started by the first write: the constructor
    /// may run outside a tokio runtime.
    #[cfg(feature = "sqlite")]
    writer: Arc<std::sync::OnceLock<Writer>>,
    /// PostgreSQL's group commit of rotations (`pg_swaps.rs`), started by the first one.
    #[cfg(feature = "postgres")]
    swaps: Arc<Swaps>,
}

impl fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let backend = match self.pool {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(_) => "sqlite",
            #[cfg(feature = "postgres")]
            Pool::Postgres(_) => "postgres",
        };
        f.debug_struct("SqlStore")
            .field("backend", &backend)
            .field("cache", &self.cache.is_some())
            .field("cache_is_live", &self.cache_is_live())
            .finish()
    }
}

fn db_error(e: sqlx::Error) -> StoreError {
    StoreError::new(e)
}

impl SqlStore {
    /// A store in a SQLite database.
    ///
    /// Its writes (logins, rotations, revocations) are group-committed: one writer, started by
    /// the first write on the tokio runtime that makes it, commits all the writes that arrived
    /// meanwhile in one transaction, so concurrent writes share one fsync and each is
    /// answered only once durable. On a file the writer is a thread of the store's own with a
    /// second connection to the file (rusqlite, with the pool's `synchronous` and
    /// `busy_timeout`), which runs a whole batch without handing each statement to sqlx; for a
    /// database in memory, or a pool in exclusive locking mode, it is a task on the pool. Use the store on that runtime: when it
    /// shuts down, the store's writes fail with a [`StoreError`].
    #[cfg(feature = "sqlite")]
    #[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
    pub fn sqlite(pool: SqlitePool) -> Self {
        Self {
            pool: Pool::Sqlite(pool),
            cache: None,
            #[cfg(feature = "postgres")]
            listener: None,
            writer: Arc::default(),
            #[cfg(feature = "postgres")]
            swaps: Arc::default(),
        }
    }

    /// A store in a PostgreSQL database.
    ///
    /// Rotations are group-committed: the swaps waiting at once run as one statement (one round
    /// trip and one WAL flush for all of them, each answered once committed), on a task started
    /// by the first rotation on the tokio runtime that makes it.
    ///
    /// Each write or uncached read runs one statement on a connection the store keeps out of
    /// `pool` between statements (up to 8, at most half the pool; see [`PgConnections`]), so that sqlx does not ping
    /// it on its return, a second round trip to PostgreSQL for every rotation; make `pool`
    /// larger by as many. Build it with [`PgConnections::pool_options`] (or without
    /// `test_before_acquire`) so that a connection used a moment ago is not pinged before
    /// use either.
    #[cfg(feature = "postgres")]
    #[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
    pub fn postgres(pool: PgPool) -> Self {
        Self::postgres_with(PgConnections::new(pool))
    }

    /// A store in a PostgreSQL database, running its statements on `connections`: share an
    /// app's [`PgConnections`] so that one set of connections is kept for both.
    ///
    /// ```no_run
    /// # async fn run(url: &str) -> Result<(), Box<dyn std::error::Error>> {
    /// use jwt_extended::{PgConnections, SqlStore};
    /// let pool = PgConnections::pool_options().max_connections(18).connect(url).await?;
    /// let connections = PgConnections::new(pool);
    /// let store = SqlStore::postgres_with(connections.clone());
    /// store.migrate().await?;
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "postgres")]
    #[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
    pub fn postgres_with(connections: PgConnections) -> Self {
        Self {
            pool: Pool::Postgres(connections),
            cache: None,
            listener: None,
            #[cfg(feature = "sqlite")]
            writer: Arc::default(),
            swaps: Arc::default(),
        }
    }

    /// Creates the tables if they are missing; on PostgreSQL also the function that rotations
    /// run (`jwt_swap_sessions`, made again every time). Run it at start-up, before the store
    /// rotates a token, with a role that owns the tables (and so the function).
    ///
    /// On PostgreSQL it runs as one transaction under an advisory lock, so instances that start
    /// at once do not trip over each other's `CREATE`s.
    ///
    /// # Errors
    /// [`StoreError`] when the database refuses.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match &self.pool {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(pool) => {
                for statement in SCHEMA {
                    sqlx::query(statement)
                        .execute(pool)
                        .await
                        .map_err(db_error)?;
                }
                Ok(())
            }
            #[cfg(feature = "postgres")]
            Pool::Postgres(connections) => {
                let script = postgres_schema();
                on_kept!(connections, |connection| sqlx::raw_sql(&script)
                    .execute(connection)
                    .await
                    .map(|_| ()))
                .map_err(db_error)
            }
        }
    }

    /// Answers revocation lookups from memory, loading the revoked ids now. **Only** for a
    /// process that is the sole writer of these tables (one instance): revocations made by
    /// another process would not be seen. Several instances sharing PostgreSQL use
    /// [`Self::with_shared_cache`]; a Redis store shares its memory by itself.
    ///
    /// # Errors
    /// [`StoreError`] when the revoked ids cannot be loaded.
    pub async fn with_local_cache(mut self) -> Result<Self, StoreError> {
        let mut ids = RevokedIds::default();
        for (kind, id, until) in revoked_snapshot(&self.pool).await.map_err(db_error)? {
            ids.insert(kind, &id, until);
        }
        ids.complete = true;
        self.cache = Some(Arc::new(RwLock::new(ids)));
        Ok(self)
    }

    /// Answers revocation lookups from memory on every instance that shares this PostgreSQL
    /// database: each instance loads the revoked ids and is told of every new revocation by
    /// PostgreSQL's `LISTEN`/`NOTIFY` (channel `jwt_revocations_<hash of the schema>`), so a
    /// logout on one instance is refused on all of them within milliseconds, and the check on
    /// a guarded request needs no round trip.
    ///
    /// The listening connection is the store's own (not one of `pool`'s; `application_name`
    /// `jwt-extended revocations`), and is pinged after
    /// every quiet second; while it is down, lookups that memory cannot answer go to the
    /// database, as without a cache. Every store on PostgreSQL notifies when it revokes, cached
    /// or not. Needs a session-level connection: not through a pooler in transaction mode.
    ///
    /// ```no_run
    /// # async fn run(pool: sqlx::PgPool) -> Result<(), jwt_extended::StoreError> {
    /// let store = jwt_extended::SqlStore::postgres(pool);
    /// store.migrate().await?;
    /// let store = store.with_shared_cache().await?;
    /// assert!(store.cache_is_live());
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`StoreError`] when it cannot listen or load the revoked ids within 10 seconds; the
    /// store itself is still usable without the cache.
    #[cfg(feature = "postgres")]
    #[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
    pub async fn with_shared_cache(mut self) -> Result<Self, StoreError> {
        // Irrefutable when `postgres` is the only backend built.
        #[allow(clippy::infallible_destructuring_match)]
        let connections = match &self.pool {
            Pool::Postgres(connections) => connections,
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(_) => {
                return Err(StoreError::new(
                    "a shared cache needs PostgreSQL; use with_local_cache on SQLite",
                ));
            }
        };
        let cache = Arc::new(RwLock::new(RevokedIds::default()));
        let listener = pg_notify::start(connections, &cache).await?;
        self.cache = Some(cache);
        self.listener = Some(Arc::new(listener));
        Ok(self)
    }

    /// Whether misses are answered from memory: always with [`Self::with_local_cache`], while
    /// the listening connection is live with [`Self::with_shared_cache`], never without a cache.
    pub fn cache_is_live(&self) -> bool {
        self.cache
            .as_ref()
            .and_then(|cache| cache.read().ok().map(|ids| ids.complete))
            .unwrap_or_default()
    }

    /// Deletes rows of tokens and families that have expired.
    ///
    /// # Errors
    /// [`StoreError`] when the database refuses.
    pub async fn purge_expired(&self) -> Result<u64, StoreError> {
        let now = now_secs();
        let tokens = "DELETE FROM jwt_revoked_tokens WHERE expires_at <= $1";
        let families =
            "DELETE FROM jwt_sessions WHERE current_exp IS NOT NULL AND current_exp <= $1";
        let a = on_pool!(&self.pool, |pool| sqlx::query(tokens)
            .bind(now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()));
        let b = on_pool!(&self.pool, |pool| sqlx::query(families)
            .bind(now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()));
        Ok(a.map_err(db_error)? + b.map_err(db_error)?)
    }

    /// The group commit's writer for this SQLite store, started by the first write.
    #[cfg(feature = "sqlite")]
    fn writer(&self, pool: &SqlitePool) -> &Writer {
        self.writer.get_or_init(|| Writer::start(pool.clone()))
    }

    fn cached(&self, jti: Option<&str>, family: Option<&str>) -> Option<bool> {
        self.cache.as_ref()?.read().ok()?.answer(jti, family)
    }

    /// Notes a revocation made here (other instances hear of it by notification).
    fn remember(&self, kind: Kind, id: &str, until: i64) {
        if let Some(Ok(mut cache)) = self.cache.as_ref().map(|c| c.write()) {
            cache.insert(kind, id, until);
        }
    }

    async fn lookup(&self, jti: Option<&str>, family: Option<&str>) -> Result<bool, StoreError> {
        let sql = "SELECT (SELECT COUNT(*) FROM jwt_revoked_tokens WHERE jti = $1 AND expires_at > $2) \
                   + (SELECT COUNT(*) FROM jwt_sessions WHERE family = $3 AND revoked_at IS NOT NULL)";
        let now = now_secs();
        let (jti, family) = (jti.unwrap_or_default(), family.unwrap_or_default());
        let count: i64 = on_pool!(&self.pool, |pool| sqlx::query_scalar(sql)
            .bind(jti)
            .bind(now)
            .bind(family)
            .fetch_one(pool)
            .await)
        .map_err(db_error)?;
        Ok(count > 0)
    }

    async fn mark_revoked(&self, family: &str) -> Result<(), StoreError> {
        let now = now_secs();
        // Until when the revocation matters: the family's expiry where known, so that memory
        // lets go of it then.
        let until = match &self.pool {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(pool) => {
                // Remembered before the write: a caller that stops waiting (a cancelled
                // request) does not stop the commit, and memory must not miss it then.
                self.remember(Kind::Family, family, NEVER);
                let family = family.to_owned();
                self.writer(pool)
                    .write(Write::RevokeFamily { family, now })
                    .await?;
                NEVER
            }
            #[cfg(feature = "postgres")]
            Pool::Postgres(connections) => on_kept!(connections, |connection| {
                sqlx::query_scalar::<_, i64>(PG_MARK_REVOKED_SQL)
                    .bind(now)
                    .bind(family)
                    .fetch_optional(connection)
                    .await
            })
            .map_err(db_error)?
            .unwrap_or(NEVER),
        };
        self.remember(Kind::Family, family, until);
        Ok(())
    }
}

impl SqlStore {
    /// [`SessionStore::end`], to its end.
    async fn end_now(&self, user: &str, family: &str) -> Result<Option<SessionInfo>, StoreError> {
        let now = now_secs();
        let ended: Option<EndedRow> = match &self.pool {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(pool) => {
                let write = Write::End {
                    user: user.to_owned(),
                    family: family.to_owned(),
                    now,
                };
                let Written::Ended(row) = self.writer(pool).write(write).await? else {
                    return Err(StoreError::new(
                        "the SQLite writer answered the end of a login with nothing",
                    ));
                };
                row
            }
            #[cfg(feature = "postgres")]
            Pool::Postgres(connections) => on_kept!(connections, |connection| {
                sqlx::query_as(PG_END_SQL)
                    .bind(now)
                    .bind(family)
                    .bind(user)
                    .fetch_optional(connection)
                    .await
            })
            .map_err(db_error)?,
        };
        let Some((id, created_at, last_used_at, user_agent, expires_at)) = ended else {
            return Ok(None);
        };
        self.remember(Kind::Family, family, expires_at.unwrap_or(NEVER));
        Ok(Some(SessionInfo {
            id,
            user: user.to_owned(),
            created_at,
            last_used_at,
            user_agent,
            expires_at,
        }))
    }
}

impl RevocationStore for SqlStore {
    async fn is_revoked(&self, token: &DecodedToken) -> Result<bool, StoreError> {
        let jti = token.jti();
        let family = token.claim(FAMILY_CLAIM).and_then(Value::as_str);
        match self.cached(jti, family) {
            Some(answer) => Ok(answer),
            None => self.lookup(jti, family).await,
        }
    }

    async fn revoke(&self, jti: &str, expires_at: Option<i64>) -> Result<(), StoreError> {
        let until = expires_at.unwrap_or(NEVER);
        match &self.pool {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(pool) => {
                // Before the write, as in `mark_revoked`.
                self.remember(Kind::Token, jti, until);
                let jti = jti.to_owned();
                self.writer(pool)
                    .write(Write::Revoke { jti, until })
                    .await?;
            }
            #[cfg(feature = "postgres")]
            Pool::Postgres(connections) => {
                on_kept!(connections, |connection| sqlx::query(PG_REVOKE_SQL)
                    .bind(jti)
                    .bind(until)
                    .execute(connection)
                    .await)
                .map_err(db_error)?;
            }
        }
        self.remember(Kind::Token, jti, until);
        Ok(())
    }
}

impl SessionStore for SqlStore {
    async fn create(&self, session: &SessionInfo, refresh: &RefreshId) -> Result<(), StoreError> {
        match &self.pool {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(pool) => {
                let (session, refresh) = (session.clone(), refresh.clone());
                let write = Write::Create { session, refresh };
                self.writer(pool).write(write).await.map(drop)
            }
            #[cfg(feature = "postgres")]
            Pool::Postgres(connections) => {
                on_kept!(connections, |connection| create_query!(session, refresh)
                    .execute(connection)
                    .await)
                .map(drop)
                .map_err(db_error)
            }
        }
    }

    /// One conditional `UPDATE` on the happy path; the row is read only when it did not swap.
    /// On SQLite the three steps are one transaction of the group commit.
    async fn rotate(
        &self,
        family: &str,
        presented: &str,
        successor: &RefreshId,
        grace: Duration,
    ) -> Result<RotateOutcome, StoreError> {
        let now = now_secs();
        match &self.pool {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(pool) => {
                let write = Write::Rotate {
                    family: family.to_owned(),
                    presented: presented.to_owned(),
                    successor: successor.clone(),
                    now,
                    grace,
                };
                let Written::Rotated(outcome) = self.writer(pool).write(write).await? else {
                    return Err(StoreError::new(
                        "the SQLite writer answered a rotation with nothing",
                    ));
                };
                if outcome == RotateOutcome::Reused {
                    self.remember(Kind::Family, family, NEVER);
                }
                Ok(outcome)
            }
            #[cfg(feature = "postgres")]
            Pool::Postgres(connections) => {
                let swapped = self
                    .swaps
                    .swap(connections, family, presented, successor, now)
                    .await?;
                if swapped {
                    return Ok(RotateOutcome::Rotated);
                }
                let row: Option<FamilyRow> =
                    on_kept!(connections, |connection| sqlx::query_as(READ_FAMILY_SQL)
                        .bind(family)
                        .fetch_optional(connection)
                        .await)
                    .map_err(db_error)?;
                match settle(row, presented, now, grace) {
                    Settled::Outcome(outcome) => Ok(outcome),
                    Settled::Reused => {
                        self.mark_revoked(family).await?;
                        Ok(RotateOutcome::Reused)
                    }
                }
            }
        }
    }

    async fn revoke_family(&self, family: &str) -> Result<(), StoreError> {
        self.mark_revoked(family).await
    }

    /// One conditional `UPDATE`, on a task of its own: a caller that stops waiting (a cancelled
    /// request) does not stop the write, and this process's memory must learn of it all the same.
    async fn end(&self, user: &str, family: &str) -> Result<Option<SessionInfo>, StoreError> {
        let (store, user, family) = (self.clone(), user.to_owned(), family.to_owned());
        tokio::spawn(async move { store.end_now(&user, &family).await })
            .await
            .map_err(StoreError::new)?
    }

    async fn list(&self, user: &str) -> Result<Vec<SessionInfo>, StoreError> {
        let sql = "SELECT family, user_id, created_at, last_used_at, user_agent, current_exp FROM jwt_sessions \
                   WHERE user_id = $1 AND revoked_at IS NULL AND (current_exp IS NULL OR current_exp > $2) \
                   ORDER BY created_at, family";
        let now = now_secs();
        type Row = (String, String, i64, i64, Option<String>, Option<i64>);
        let rows: Vec<Row> = on_pool!(&self.pool, |pool| sqlx::query_as(sql)
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
    }
}

#[cfg(all(test, feature = "sqlite"))]
mod tests {
    use sqlx::sqlite::SqlitePoolOptions;

    use super::*;

    /// A migrated store on an in-memory database, without a cache.
    async fn in_memory() -> SqlStore {
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .expect("sqlite");
        let store = SqlStore::sqlite(pool);
        store.migrate().await.expect("migrate");
        store
    }

    #[tokio::test]
    async fn the_local_cache_is_loaded_at_start_and_kept_by_this_process() {
        let store = in_memory().await;
        store
            .revoke("gone", Some(now_secs() + 60))
            .await
            .expect("revoke");
        let cached = store.clone().with_local_cache().await.expect("load");
        assert_eq!(cached.cached(Some("gone"), None), Some(true));
        assert_eq!(cached.cached(Some("other"), None), Some(false));
        cached.revoke("later", None).await.expect("revoke");
        assert_eq!(cached.cached(Some("later"), None), Some(true));
        assert_eq!(
            store.cached(Some("gone"), None),
            None,
            "no cache: ask the database"
        );
    }

    /// A revocation whose caller stops waiting (its request cancelled) is still committed by
    /// the writer; this process's memory, which answers every check, must know it too.
    #[tokio::test]
    async fn a_revocation_whose_caller_stops_waiting_is_remembered() {
        let store = in_memory().await.with_local_cache().await.expect("load");
        let refresh = RefreshId {
            jti: "r1".into(),
            exp: Some(now_secs() + 600),
        };
        for family in ["fam", "other", "ended"] {
            let session = SessionInfo {
                id: family.into(),
                user: "7".into(),
                created_at: now_secs(),
                last_used_at: now_secs(),
                user_agent: None,
                expires_at: refresh.exp,
            };
            store.create(&session, &refresh).await.expect("login");
        }

        // Polled once (the write is handed to the writer), then dropped.
        {
            let mut family = std::pin::pin!(store.revoke_family("fam"));
            assert!(futures_util::poll!(family.as_mut()).is_pending());
            let mut token = std::pin::pin!(store.revoke("jti-1", None));
            assert!(futures_util::poll!(token.as_mut()).is_pending());
            let mut end = std::pin::pin!(store.end("7", "ended"));
            assert!(futures_util::poll!(end.as_mut()).is_pending());
        }
        // The writer runs writes in order: once this one is answered, those are committed.
        store.revoke_family("other").await.expect("revoke");

        assert_eq!(store.cached(None, Some("fam")), Some(true));
        assert_eq!(store.cached(Some("jti-1"), None), Some(true));
        // The end runs on a task of its own, which learns of its commit after it.
        for _ in 0..10_000 {
            if store.cached(None, Some("ended")) == Some(true) {
                break;
            }
            tokio::task::yield_now().await;
        }
        assert_eq!(store.cached(None, Some("ended")), Some(true));
        assert!(store.list("7").await.expect("list").is_empty());
    }
}

#[cfg(all(test, feature = "postgres"))]
mod postgres_tests {
    use sqlx::{Connection, Executor, PgConnection};

    use super::*;

    /// A family's revocation matters only until the family expires: memory keeps it that
    /// long, not forever, so a long-running instance lets go of old logouts.
    #[tokio::test]
    async fn a_family_revoked_here_is_remembered_until_it_expires() {
        let admin = std::env::var("POSTGRES_ADMIN_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let mut conn = match PgConnection::connect(&admin).await {
            Ok(conn) => conn,
            Err(e) if std::env::var("CI").as_deref() == Ok("true") => {
                panic!("PostgreSQL is required under CI=true: {e}")
            }
            Err(e) => return eprintln!("skipped: no PostgreSQL ({e})"),
        };
        let name = format!("jwt_unit_{}", uuid::Uuid::new_v4().simple());
        conn.execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .expect("create database");
        let (base, _) = admin.rsplit_once('/').expect("a database in the URL");
        let pool = PgPool::connect(&format!("{base}/{name}"))
            .await
            .expect("connect");
        let store = SqlStore::postgres(pool.clone());
        store.migrate().await.expect("migrate");
        // The local cache: only this store's own writes reach it, no notification.
        let store = store.with_local_cache().await.expect("load");
        let exp = now_secs() + 600;
        let session = SessionInfo {
            id: "fam".into(),
            user: "7".into(),
            created_at: now_secs(),
            last_used_at: now_secs(),
            user_agent: None,
            expires_at: Some(exp),
        };
        let refresh = RefreshId {
            jti: "r1".into(),
            exp: Some(exp),
        };
        store.create(&session, &refresh).await.expect("login");
        store.revoke_family("fam").await.expect("logout");
        let until = store
            .cache
            .as_ref()
            .and_then(|cache| cache.read().ok()?.until(Kind::Family, "fam"));
        assert_eq!(until, Some(exp));
        pool.close().await;
        let _ = conn
            .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
            .await;
    }
}
