//! All of the app's SQL, for both backends.
//!
//! The backend is chosen at run time from the database URL, so the pool is an
//! enum rather than a type parameter: the handlers stay non-generic and the
//! binary serves either backend. SQLite and PostgreSQL share the `$N`
//! placeholder syntax, so every statement is written once and run on whichever
//! pool is live through [`on_pool!`]; only the migrations differ per backend.

mod group_commit;
mod memos;
mod users;

use std::{path::Path, str::FromStr, time::Duration};

use sqlx::{
    PgPool, SqlitePool,
    postgres::PgPoolOptions,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};
use time::OffsetDateTime;

use self::group_commit::MemoWrites;

pub use self::{
    group_commit::BatchFailed,
    memos::{Memo, MemoChanges},
    users::{NameCollision, NewUser, User, UserWithHash},
};

/// Runs the same statement-building expression on whichever pool is live; on
/// SQLite, the readers' pool. Statements that write use [`on_writer!`].
///
/// The expression is compiled once per backend, so it must only use APIs that
/// both `Sqlite` and `Postgres` support (all the app's SQL does).
macro_rules! on_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::db::Db::Sqlite(sqlite) => {
                let $pool = &sqlite.readers;
                $body
            }
            $crate::db::Db::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

/// Like [`on_pool!`] for a statement that writes: on SQLite it runs on the one
/// writer connection, so writers queue in the pool (first come, first served)
/// instead of meeting `SQLITE_BUSY` and sleeping in SQLite's busy handler.
/// Memo writes on SQLite go through [`group_commit`] instead.
macro_rules! on_writer {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::db::Db::Sqlite(sqlite) => {
                let $pool = &sqlite.writer;
                $body
            }
            $crate::db::Db::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_writer;

/// How long a request waits for a connection (or SQLite for a lock) before it
/// fails, so that an overloaded database gives errors instead of a hang.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// Connections that read a SQLite file. Each sqlx SQLite connection is a
/// thread, and reads in WAL mode run side by side, so a few serve two cores.
const SQLITE_READERS: u32 = 8;

/// The app's database: a SQLite file or a PostgreSQL server.
#[derive(Clone, Debug)]
pub enum Db {
    /// A SQLite database file (the default, in the data dir).
    Sqlite(SqliteDb),
    /// A PostgreSQL database (`DATABASE_URL=postgres://...`).
    Postgres(PgPool),
}

/// A SQLite file: a pool of readers and one writer.
#[derive(Clone, Debug)]
pub struct SqliteDb {
    readers: SqlitePool,
    /// SQLite has one writer at a time anyway: with a single connection,
    /// writers wait their turn in the pool's queue rather than in SQLite's
    /// busy handler, which sleeps in steps of up to 100 ms.
    writer: SqlitePool,
    /// The memo writes' queue to the group-commit task, which runs them in
    /// batches on `writer`: one fsync per batch instead of per write.
    memo_writes: MemoWrites,
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
    /// A migration failed.
    #[error("could not migrate the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl Db {
    /// Opens the database named by `url` (`sqlite://PATH` or `postgres://...`).
    ///
    /// A SQLite file and its folder are created when missing. SQLite runs with:
    /// - `journal_mode=WAL`, so readers never block the writer;
    /// - `foreign_keys=ON`, since SQLite leaves them off by default and a memo
    ///   must never outlive its user;
    /// - `busy_timeout`, so a writer from another process waits for the lock
    ///   instead of failing at once with `SQLITE_BUSY` (this process's writes
    ///   go through its one writer connection and never contend);
    /// - `synchronous=FULL`: in WAL mode `NORMAL` may lose the last commits on
    ///   a power cut or OS crash, and a write the API acknowledged with a 2xx
    ///   must survive one. The cost is one fsync per commit, so memo writes
    ///   are group-committed (`db/group_commit.rs`): the writes waiting at a time
    ///   share one transaction and one fsync, and each is answered only after
    ///   that commit.
    ///
    /// On SQLite this starts the group-commit task, so it must be called
    /// within the Tokio runtime that will serve the writes; [`Db::close`]
    /// stops the task.
    ///
    /// # Errors
    /// [`DbSetupError`] when the URL is not supported or the connection fails.
    pub async fn connect(url: &str) -> Result<Self, DbSetupError> {
        let scheme = url.split(':').next().unwrap_or_default();
        match scheme {
            "sqlite" => {
                let options = SqliteConnectOptions::from_str(url)
                    .map_err(DbSetupError::Connect)?
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .foreign_keys(true)
                    .busy_timeout(ACQUIRE_TIMEOUT)
                    .synchronous(SqliteSynchronous::Full);
                create_parent_dir(options.get_filename())?;
                // The writer first: it creates the file and switches it to WAL.
                let writer = SqlitePoolOptions::new()
                    .max_connections(1)
                    .acquire_timeout(ACQUIRE_TIMEOUT)
                    .connect_with(options.clone())
                    .await
                    .map_err(DbSetupError::Connect)?;
                let readers = SqlitePoolOptions::new()
                    .max_connections(SQLITE_READERS)
                    .acquire_timeout(ACQUIRE_TIMEOUT)
                    .connect_with(options)
                    .await
                    .map_err(DbSetupError::Connect)?;
                let memo_writes = MemoWrites::spawn(writer.clone());
                Ok(Self::Sqlite(SqliteDb {
                    readers,
                    writer,
                    memo_writes,
                }))
            }
            "postgres" | "postgresql" => {
                let pool = PgPoolOptions::new()
                    .max_connections(10)
                    .acquire_timeout(ACQUIRE_TIMEOUT)
                    .connect(url)
                    .await
                    .map_err(DbSetupError::Connect)?;
                Ok(Self::Postgres(pool))
            }
            other => Err(DbSetupError::UnsupportedScheme(other.to_owned())),
        }
    }

    /// Applies the embedded migrations of this backend that have not run yet.
    ///
    /// # Errors
    /// [`DbSetupError::Migrate`] when a migration fails or the recorded
    /// history does not match the embedded one.
    pub async fn migrate(&self) -> Result<(), DbSetupError> {
        match self {
            Self::Sqlite(sqlite) => {
                sqlx::migrate!("./migrations/sqlite")
                    .run(&sqlite.writer)
                    .await?;
            }
            Self::Postgres(pool) => sqlx::migrate!("./migrations/postgres").run(pool).await?,
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
    /// later ones fail with [`sqlx::Error::PoolClosed`].
    pub async fn close(&self) {
        match self {
            Self::Sqlite(sqlite) => {
                sqlite.memo_writes.close().await;
                sqlite.readers.close().await;
                sqlite.writer.close().await;
            }
            Self::Postgres(pool) => pool.close().await,
        }
    }

    /// The backend's name, for logs.
    #[must_use]
    pub fn backend(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }
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
