//! All of the app's SQL, for both backends.
//!
//! The backend is chosen at run time from the database URL, so [`Db`] holds
//! an enum rather than taking a type parameter: the handlers stay non-generic
//! and the binary serves either backend.
//!
//! - Memos (`memos/`): SQLite through rusqlite (reads on the caller's thread,
//!   writes group-committed by one writer thread; see `sqlite/`), PostgreSQL
//!   through sqlx. Each backend has its own statements, for its own search
//!   index. A memo's times are [`Timestamp`]s (`timestamp.rs`): read from
//!   SQLite's stored RFC 3339 text and answered from it, not parsed and
//!   formatted again.
//! - Users (`users.rs`): through sqlx on both backends; SQLite and PostgreSQL
//!   share the `$N` placeholder syntax, so each statement is written once and
//!   run on whichever pool is live through [`on_pool!`] / [`on_writer!`].
//!   `user_by_id` is served from a cache (`user_cache.rs`).

mod error;
mod memos;
mod outage;
mod sqlite;
mod timestamp;
mod user_cache;
mod user_changes;
mod users;

use std::{
    path::Path,
    str::FromStr,
    sync::{Arc, OnceLock},
    time::Duration,
};

use jwt_extended::PgConnections;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use time::OffsetDateTime;

pub(crate) use self::timestamp::{FRACTION, TEXT_LEN, put_digits, stored_form};
pub use self::{
    error::DbError,
    memos::{
        MAX_PAGE, MAX_SEARCH_CHARS, Memo, MemoChanges, Order, Page, PageRequest, Position,
        SEARCH_CANDIDATES, SEARCH_SCAN,
    },
    timestamp::{Timestamp, YearOutOfRange},
    users::{NameCollision, NewUser, User, UserWithHash},
};
use self::{
    outage::OutageWatch,
    sqlite::{MemoWrites, Readers, SqliteDb},
    user_cache::UserCache,
    user_changes::UserChanges,
};

/// Runs the same sqlx statement-building expression on whichever pool is
/// live; on SQLite, the sqlx readers' pool. Statements that write use
/// [`on_writer!`].
///
/// The expression is compiled once per backend, so it must only use APIs that
/// both `Sqlite` and `Postgres` support (all the users' SQL does).
macro_rules! on_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match &$db.inner.backend {
            $crate::db::Backend::Sqlite(sqlite) => {
                let $pool = &sqlite.sqlx_readers;
                $body
            }
            $crate::db::Backend::Postgres(postgres) => {
                let $pool = postgres.pool();
                $body
            }
        }
    };
}
pub(crate) use on_pool;

/// Like [`on_pool!`] for a statement that writes: on SQLite it runs on sqlx's
/// one writer connection, so writers queue in the pool (first come, first
/// served) instead of meeting `SQLITE_BUSY` and sleeping in SQLite's busy
/// handler. Memo writes on SQLite go through the group commit instead.
macro_rules! on_writer {
    ($db:expr, $pool:ident => $body:expr) => {
        match &$db.inner.backend {
            $crate::db::Backend::Sqlite(sqlite) => {
                let $pool = &sqlite.sqlx_writer;
                $body
            }
            $crate::db::Backend::Postgres(postgres) => {
                let $pool = postgres.pool();
                $body
            }
        }
    };
}
pub(crate) use on_writer;

/// How long a request waits for a connection (or SQLite for a lock) before it
/// fails, so that an overloaded database gives errors instead of a hang. An
/// unreachable PostgreSQL fails sooner (`outage.rs`).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// sqlx connections that read a SQLite file's users (on a cache miss or a
/// login); memo reads have their own (`sqlite/readers.rs`).
const SQLITE_SQLX_READERS: u32 = 2;

/// PostgreSQL connections, besides those kept out of the pool between
/// statements for the memos' and the session store's statements
/// ([`PgConnections::DEFAULT_MOST`]): the users' statements and the pool's
/// own checks.
const POSTGRES_CONNECTIONS: u32 = 10;

/// The app's database: a SQLite file or a PostgreSQL database. Cheap to
/// clone (one `Arc`).
#[derive(Clone, Debug)]
pub struct Db {
    inner: Arc<DbInner>,
}

#[derive(Debug)]
struct DbInner {
    backend: Backend,
    /// `user_by_id`'s cache.
    users: UserCache,
    /// With `REDIS_URL`: where users' changes are published and heard.
    user_changes: OnceLock<UserChanges>,
    /// On PostgreSQL: makes requests fail fast while it is down.
    outage: Option<OutageWatch>,
    /// On PostgreSQL: the group commit of new memos (`memos/postgres_inserts.rs`).
    inserts: memos::PgInserts,
    /// On PostgreSQL: pages of the list, batched (`memos/postgres_pages.rs`).
    pages: memos::PgPages,
}

#[derive(Debug)]
enum Backend {
    /// A SQLite database file (the default, in the data dir).
    Sqlite(SqliteDb),
    /// A PostgreSQL database (`DATABASE_URL=postgres://...`): its pool, and
    /// the connections memo's statements keep out of it between requests
    /// (sqlx pings every connection returned to its pool).
    Postgres(PgConnections),
}

/// Why the database could not be opened or migrated.
#[derive(Debug, thiserror::Error)]
pub enum DbSetupError {
    /// The URL is neither `sqlite:` nor `postgres:`/`postgresql:`.
    #[error("DATABASE_URL must start with sqlite:// or postgres:// (got a URL with scheme {0:?})")]
    UnsupportedScheme(String),
    /// The SQLite file's folder could not be created.
    #[error("could not create the folder for the SQLite file {path}: {source}")]
    CreateDir {
        /// The folder.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Connecting failed.
    #[error("could not connect to the database: {0}")]
    Connect(#[source] sqlx::Error),
    /// Another process holds the SQLite file: memo opens it exclusively
    /// unless its URL names another VFS ([`Db::connect`]).
    #[error(
        "the SQLite file {path} is in use by another process (a running `memo serve` keeps its file \
         to itself): stop that process first. To open it beside the one memo serve (memo user \
         add, backup tools), add ?vfs=unix to DATABASE_URL in each memo process; never run two \
         memo serve on one SQLite file"
    )]
    InUse {
        /// The file.
        path: String,
    },
    /// An in-memory SQLite database: memo's reads and writes use connections
    /// of their own, which would each see an empty database of their own.
    #[error("memo needs a SQLite file, not an in-memory database (DATABASE_URL=sqlite://PATH)")]
    InMemory,
    /// Opening the SQLite file for the memo reads or writes failed.
    #[error("could not open the SQLite file: {0}")]
    Open(#[source] DbError),
    /// The SQLite writer thread could not be started.
    #[error("could not start the SQLite writer thread: {0}")]
    Thread(#[source] std::io::Error),
    /// A migration failed.
    #[error("could not migrate the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl Db {
    /// Opens the database named by `url` (`sqlite://PATH` or `postgres://...`).
    ///
    /// A SQLite file and its folder are created when missing. SQLite runs with:
    /// - the file held by this process alone (the `unix-excl` VFS), unless
    ///   the URL names a VFS (`?vfs=unix` shares it with other processes
    ///   that name it too): one process is what the SQLite backend assumes
    ///   (revocations and users are answered from its memory), and its reads
    ///   then take no file lock. Another process's hold is waited for up to
    ///   5 s, then [`DbSetupError::InUse`];
    /// - `journal_mode=WAL`, so readers never block the writer;
    /// - `foreign_keys=ON`, since SQLite leaves them off by default and a memo
    ///   must never outlive its user;
    /// - `busy_timeout`, so a writer waits for another connection's lock
    ///   instead of failing at once with `SQLITE_BUSY`;
    /// - `synchronous=FULL`: in WAL mode `NORMAL` may lose the last commits on
    ///   a power cut or OS crash, and a write the API acknowledged with a 2xx
    ///   must survive one. The cost is one fsync per commit, so memo writes
    ///   are group-committed (`db/sqlite/group_commit.rs`): the writes waiting
    ///   at a time share one transaction and one fsync, and each is answered
    ///   only after that commit.
    ///
    /// On SQLite this starts the group commit's writer thread; [`Db::close`]
    /// stops it.
    ///
    /// # Errors
    /// [`DbSetupError`] when the URL is not supported or the connection fails.
    pub async fn connect(url: &str) -> Result<Self, DbSetupError> {
        let scheme = url.split(':').next().unwrap_or_default();
        let backend = match scheme {
            "sqlite" => Backend::Sqlite(open_sqlite(url).await?),
            "postgres" | "postgresql" => {
                let most = POSTGRES_CONNECTIONS + PgConnections::DEFAULT_MOST as u32;
                let pool = PgConnections::pool_options()
                    .max_connections(most)
                    .acquire_timeout(ACQUIRE_TIMEOUT)
                    .connect_with(postgres_options(url).map_err(DbSetupError::Connect)?)
                    .await
                    .map_err(DbSetupError::Connect)?;
                Backend::Postgres(PgConnections::new(pool))
            }
            other => return Err(DbSetupError::UnsupportedScheme(other.to_owned())),
        };
        // One process serves a SQLite file; see `user_cache.rs` for PostgreSQL.
        let cache_is_live = matches!(backend, Backend::Sqlite(_));
        let outage = match &backend {
            Backend::Postgres(postgres) => Some(OutageWatch::start(postgres.pool())),
            Backend::Sqlite(_) => None,
        };
        Ok(Self {
            inner: Arc::new(DbInner {
                backend,
                users: UserCache::new(cache_is_live),
                user_changes: OnceLock::new(),
                outage,
                inserts: memos::PgInserts::default(),
                pages: memos::PgPages::default(),
            }),
        })
    }

    /// Applies the embedded migrations of this backend that have not run yet.
    ///
    /// # Errors
    /// [`DbSetupError::Migrate`] when a migration fails or the recorded
    /// history does not match the embedded one.
    pub async fn migrate(&self) -> Result<(), DbSetupError> {
        match &self.inner.backend {
            Backend::Sqlite(sqlite) => {
                sqlx::migrate!("./migrations/sqlite")
                    .run(&sqlite.sqlx_writer)
                    .await?;
            }
            Backend::Postgres(postgres) => {
                sqlx::migrate!("./migrations/postgres")
                    .run(postgres.pool())
                    .await?;
            }
        }
        Ok(())
    }

    /// Runs a trivial query, for the health check.
    ///
    /// # Errors
    /// The database error when the database cannot answer.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        on_pool!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(drop))
    }

    /// Closes every connection, waiting for those in use to be returned. On
    /// SQLite, the memo writes already queued are run and answered first;
    /// later ones fail with [`DbError::Closed`].
    pub async fn close(&self) {
        if let Some(outage) = &self.inner.outage {
            outage.stop();
        }
        match &self.inner.backend {
            Backend::Sqlite(sqlite) => {
                sqlite.writes.close().await;
                sqlite.readers.close();
                sqlite.sqlx_readers.close().await;
                sqlite.sqlx_writer.close().await;
            }
            Backend::Postgres(postgres) => {
                postgres.release();
                postgres.pool().close().await;
            }
        }
    }

    /// The backend's name, for logs.
    #[must_use]
    pub fn backend(&self) -> &'static str {
        match self.inner.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// The PostgreSQL connections memo's statements keep between requests
    /// and the pool they come from, to share with jwt-extended's session
    /// store; `None` on SQLite.
    #[must_use]
    pub fn postgres_connections(&self) -> Option<&PgConnections> {
        match &self.inner.backend {
            Backend::Postgres(postgres) => Some(postgres),
            Backend::Sqlite(_) => None,
        }
    }

    /// The database as another component of the app (jwt-extended's session
    /// store) shares it.
    #[must_use]
    pub fn shared(&self) -> SharedDb<'_> {
        match &self.inner.backend {
            Backend::Sqlite(sqlite) => SharedDb::Sqlite(sqlite.options.clone()),
            Backend::Postgres(postgres) => SharedDb::Postgres(postgres),
        }
    }
}

/// What another component needs to use memo's database ([`Db::shared`]).
#[derive(Debug)]
pub enum SharedDb<'a> {
    /// memo's PostgreSQL pool and the connections it keeps out of it.
    Postgres(&'a PgConnections),
    /// The options of memo's own connections to its SQLite file (WAL,
    /// `synchronous=FULL`, its VFS), for a pool of one's own on the file:
    /// every connection of the process must open it with the same VFS.
    Sqlite(Box<SqliteConnectOptions>),
}

/// A PostgreSQL URL's options, with `plan_cache_mode = force_generic_plan`
/// (after any `options` of the URL, so it wins): every statement runs on one
/// generic plan per connection, sqlx's unnamed ones too, rebuilt only when
/// the statistics or the schema change. Left to choose, PostgreSQL planned a
/// page of the list again on every call once the table was large
/// (docs/performance.md, "PostgreSQL's plans"). Each read is written so that
/// its generic plan is its index's range (`memos/postgres.rs`, checked by
/// `memos/postgres_plans.rs`); only functions that set their own mode (the
/// search's `memo_search_hits`) plan per call.
pub(crate) fn postgres_options(url: &str) -> Result<sqlx::postgres::PgConnectOptions, sqlx::Error> {
    Ok(sqlx::postgres::PgConnectOptions::from_str(url)?
        .options([("plan_cache_mode", "force_generic_plan")]))
}

/// Opens a SQLite file: sqlx's writer first (it creates the file and
/// switches it to WAL), then sqlx's readers, the memo readers and the memo
/// writer thread.
async fn open_sqlite(url: &str) -> Result<SqliteDb, DbSetupError> {
    let options = SqliteConnectOptions::from_str(url)
        .map_err(DbSetupError::Connect)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .foreign_keys(true)
        .busy_timeout(ACQUIRE_TIMEOUT)
        .synchronous(SqliteSynchronous::Full);
    if url.contains(":memory:") || url.contains("mode=memory") {
        return Err(DbSetupError::InMemory);
    }
    let vfs = named_vfs(url).or(sqlite::DEFAULT_VFS).map(str::to_owned);
    let options = match &vfs {
        Some(vfs) => options.vfs(vfs.clone()),
        None => options,
    };
    create_parent_dir(options.get_filename())?;
    let file = sqlite::SqliteFile {
        path: options.get_filename().to_owned(),
        vfs,
    };
    // Held until every connection below is open, so that no other process
    // takes the file in between.
    let _claim = file.claim()?;
    let sqlx_writer = SqlitePoolOptions::new()
        .max_connections(1)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(options.clone())
        .await
        .map_err(DbSetupError::Connect)?;
    let sqlx_readers = SqlitePoolOptions::new()
        .max_connections(SQLITE_SQLX_READERS)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(options.clone())
        .await
        .map_err(DbSetupError::Connect)?;
    let readers = Readers::open(file.clone()).map_err(DbSetupError::Open)?;
    let writes = MemoWrites::spawn(file)?;
    Ok(SqliteDb {
        readers,
        writes,
        sqlx_readers,
        sqlx_writer,
        options: Box::new(options),
    })
}

/// The VFS a SQLite URL names (`?vfs=NAME`), if any.
fn named_vfs(url: &str) -> Option<&str> {
    let (_, query) = url.split_once('?')?;
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("vfs="))
        .filter(|vfs| !vfs.is_empty())
}

/// The current time, cut to whole microseconds: PostgreSQL keeps no more, so
/// cutting here makes both backends return exactly what was written.
pub(crate) fn now() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_microsecond(now.microsecond()).unwrap_or(now)
}

fn create_parent_dir(file: &Path) -> Result<(), DbSetupError> {
    let Some(parent) = file.parent().filter(|p| !p.as_os_str().is_empty()) else {
        return Ok(());
    };
    std::fs::create_dir_all(parent).map_err(|source| DbSetupError::CreateDir {
        path: parent.display().to_string(),
        source,
    })
}

/// Whether `err` is a unique-constraint violation (the same check on both
/// backends).
pub(crate) fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_names_its_vfs_in_its_query() {
        assert_eq!(named_vfs("sqlite://data/memo.db"), None);
        assert_eq!(named_vfs("sqlite://data/memo.db?vfs=unix"), Some("unix"));
        assert_eq!(
            named_vfs("sqlite://a:b/memo.db?mode=rwc&vfs=unix-excl"),
            Some("unix-excl")
        );
        assert_eq!(named_vfs("sqlite://memo.db?vfs="), None);
    }

    #[tokio::test]
    async fn any_file_name_opens_and_a_database_in_memory_is_refused() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        // sqlx cannot make a URL of this name (it once panicked here).
        let url = format!("sqlite://{}/snap:old/memo.db", dir.path().display());
        let db = Db::connect(&url)
            .await
            .expect("a file whose folder has a colon");
        db.migrate().await.expect("migrated");
        db.close().await;
        for url in [
            "sqlite::memory:",
            "sqlite://:memory:",
            "sqlite://x.db?mode=memory",
        ] {
            assert!(
                matches!(Db::connect(url).await, Err(DbSetupError::InMemory)),
                "{url}"
            );
        }
    }
}
