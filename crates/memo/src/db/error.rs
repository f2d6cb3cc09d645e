//! The data layer's error: PostgreSQL and the users' statements go through
//! sqlx, SQLite's memo statements through rusqlite.

use std::sync::Arc;

/// Why a database call failed.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// A statement run through sqlx failed.
    #[error(transparent)]
    Sqlx(#[from] sqlx::Error),
    /// A statement run through rusqlite (SQLite's memo statements) failed.
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    /// The database was closed ([`Db::close`](super::Db::close)).
    #[error("the database is closed")]
    Closed,
    /// A queue to the database stayed full for the whole wait (SQLite's
    /// writer, PostgreSQL's batched inserts or pages), or a statement reading
    /// pages on PostgreSQL took over 10 s: the database is overloaded or
    /// stuck (a caller gets an error rather than a hang).
    #[error("timed out waiting for the database")]
    TimedOut,
    /// The SQLite writer thread ended without answering (it panicked).
    #[error("the SQLite writer thread is gone")]
    WriterGone,
    /// The write was in a group commit whose transaction as a whole failed
    /// (`BEGIN`, a savepoint or `COMMIT`): it was not made.
    #[error("the group commit's transaction failed, so the write was not made: {0}")]
    BatchFailed(#[source] Arc<rusqlite::Error>),
    /// A statement run for several callers at once on PostgreSQL (new memos,
    /// pages of the list) failed, and not because PostgreSQL refused one
    /// caller's part (the connection broke, say): each caller gets this
    /// error, and memos are not written again, as the statement may have
    /// committed.
    #[error("a statement shared with other requests failed: {0}")]
    PgBatchFailed(#[source] Arc<sqlx::Error>),
}

impl DbError {
    /// Whether a foreign key refused the statement (e.g. a memo for a user
    /// that does not exist), on either backend.
    #[must_use]
    pub fn is_foreign_key_violation(&self) -> bool {
        match self {
            Self::Sqlx(sqlx::Error::Database(db)) => db.is_foreign_key_violation(),
            Self::Sqlite(rusqlite::Error::SqliteFailure(err, _)) => {
                err.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY
            }
            _ => false,
        }
    }
}
