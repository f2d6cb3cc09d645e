//! A SQLite file: memo reads on the caller's thread from a small pool of
//! rusqlite connections, memo writes through one writer thread's group
//! commit, and sqlx pools for the users' statements and the migrations.
//!
//! Why memo reads run on the calling (runtime) thread: a profile of
//! `GET /api/memos` on sqlx (whose SQLite connections each live on a thread
//! of their own) spent over half of its CPU in the kernel's task switches,
//! handing each statement and each row to and from that thread, and under
//! 1% in SQLite itself. A read of a page costs about what serializing that
//! page to JSON costs (both are proportional to the page, at most
//! [`MAX_PAGE`](crate::db::MAX_PAGE) memos), so it runs where the
//! serializing does. Searches that must read more rows than a page are
//! bounded by [`SEARCH_SCAN`](crate::db::SEARCH_SCAN).

pub(super) mod group_commit;
mod readers;

use std::{path::PathBuf, time::Duration};

use rusqlite::{Connection, OpenFlags};
use sqlx::SqlitePool;
use time::OffsetDateTime;

use super::{Timestamp, timestamp::stored_text};

pub(super) use self::{group_commit::MemoWrites, readers::Readers};
use super::{DbError, DbSetupError};

/// How long a connection waits for another process's lock (SQLite's
/// `busy_timeout`) before it fails with `SQLITE_BUSY`.
pub(super) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// A SQLite file.
#[derive(Debug)]
pub(crate) struct SqliteDb {
    /// Memo reads.
    pub(super) readers: Readers,
    /// Memo writes: the queue to the group commit's writer thread.
    pub(super) writes: MemoWrites,
    /// sqlx connections that read users (the users' statements are shared
    /// with PostgreSQL through sqlx).
    pub(super) sqlx_readers: SqlitePool,
    /// sqlx's one writing connection: users, migrations. Writers wait their
    /// turn in its pool rather than in SQLite's busy handler, which sleeps in
    /// steps of up to 100 ms.
    pub(super) sqlx_writer: SqlitePool,
    /// The options of the sqlx connections, for other pools on the file
    /// (boxed: they are most of this struct's size otherwise).
    pub(super) options: Box<sqlx::sqlite::SqliteConnectOptions>,
}

impl SqliteDb {
    /// Runs a memo read on a pooled connection.
    pub(super) fn read<T>(
        &self,
        read: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, DbError> {
        self.readers.read(read)
    }
}

/// The VFS that memo opens a SQLite file with unless its URL names one
/// (`?vfs=...`): SQLite's unix VFS in its exclusive variant. The process
/// holds the file for itself (another process opening it waits for
/// `busy_timeout`, then fails), so SQLite keeps its WAL index in the heap and
/// coordinates its connections in memory: a read transaction takes no
/// `fcntl` lock, and concurrent reads do not queue on the mutex that guards
/// those locks (docs/performance.md). One process is what the SQLite backend
/// already assumes: revocations and users are answered from its memory.
pub(crate) const EXCLUSIVE_VFS: &str = "unix-excl";

/// The VFS of a URL that names none: [`EXCLUSIVE_VFS`] where SQLite has it.
#[cfg(unix)]
pub(super) const DEFAULT_VFS: Option<&str> = Some(EXCLUSIVE_VFS);
/// The VFS of a URL that names none: SQLite's default, the only one here.
#[cfg(not(unix))]
pub(super) const DEFAULT_VFS: Option<&str> = None;

/// A SQLite file and the VFS every connection to it uses (mixing VFSes on
/// one file would mix their locking).
#[derive(Clone, Debug)]
pub(super) struct SqliteFile {
    pub(super) path: PathBuf,
    /// `None`: SQLite's default.
    pub(super) vfs: Option<String>,
}

impl SqliteFile {
    /// Opens a rusqlite connection with the settings every connection of the
    /// app uses (see [`Db::connect`](super::Db::connect)).
    pub(super) fn open(&self, flags: OpenFlags) -> rusqlite::Result<Connection> {
        let conn = match &self.vfs {
            Some(vfs) => Connection::open_with_flags_and_vfs(&self.path, flags, vfs)?,
            None => Connection::open_with_flags(&self.path, flags)?,
        };
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.pragma_update(None, "foreign_keys", true)?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        Ok(conn)
    }

    /// Opens (creating it when missing) and locks the file, waiting up to
    /// [`BUSY_TIMEOUT`] for another process's lock. Under [`EXCLUSIVE_VFS`]
    /// the lock is the process's until its last connection to the file
    /// closes; the connection returned holds it.
    pub(super) fn claim(&self) -> Result<Connection, DbSetupError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let locked = self.open(flags).and_then(|conn| {
            conn.query_row("PRAGMA schema_version", [], |row| row.get::<_, i64>(0))?;
            Ok(conn)
        });
        locked.map_err(|err| match err.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                DbSetupError::InUse {
                    path: self.path.display().to_string(),
                }
            }
            _ => DbSetupError::Open(err.into()),
        })
    }
}

/// A timestamp as SQLite stores it: RFC 3339 in UTC with exactly six
/// fractional digits, so that the text sorts as the time does (the
/// `-updated_at` order and its index compare the text). Migration 0003 wrote
/// the rows of earlier versions (trimmed fractions) this way.
pub(crate) fn timestamp_text(at: OffsetDateTime) -> rusqlite::Result<String> {
    stored_text(at).map_err(|err| rusqlite::Error::ToSqlConversionFailure(Box::new(err)))
}

/// Reads a stored timestamp.
pub(crate) fn parse_timestamp(text: &[u8]) -> rusqlite::Result<Timestamp> {
    Timestamp::from_stored(text).ok_or_else(|| {
        let err = format!(
            "{:?} is not an RFC 3339 time",
            String::from_utf8_lossy(text)
        );
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, err.into())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_fixed_width_so_their_text_sorts_like_time() {
        let base = time::macros::datetime!(2026-11-26 08:37:01 UTC);
        let times = [
            base,
            base + time::Duration::microseconds(1),
            base + time::Duration::milliseconds(450),
            base + time::Duration::milliseconds(500),
            base + time::Duration::milliseconds(550),
            base + time::Duration::seconds(1),
        ];
        let texts: Vec<String> = times
            .iter()
            .map(|t| timestamp_text(*t).expect("in range"))
            .collect();
        assert_eq!(texts[0], "2026-11-26T08:37:01.000000Z");
        assert!(texts.windows(2).all(|w| w[0] < w[1]), "{texts:?}");
        for (time, text) in times.iter().zip(&texts) {
            assert_eq!(
                parse_timestamp(text.as_bytes()).ok().map(|t| t.at()),
                Some(*time)
            );
        }
    }
}
