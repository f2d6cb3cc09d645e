//! The memo reads' connections: taken from a stack, used on the calling
//! thread, put back. Each keeps its prepared statements (rusqlite's
//! statement cache), so a read compiles nothing. A read that finds the stack
//! empty (more threads reading at once than connections kept) opens one
//! more; at most [`KEEP`] are kept afterwards.

use std::sync::Mutex;

use rusqlite::{Connection, OpenFlags};

use super::SqliteFile;
use crate::db::DbError;

/// Connections kept between reads: one per thread that reads at once (the
/// runtime's workers, a few more for tests' runtimes and blocking threads).
const KEEP: usize = 8;

/// Prepared statements each connection keeps (the memo reads use a dozen).
const STATEMENTS: usize = 32;

/// The pool.
#[derive(Debug)]
pub(crate) struct Readers {
    file: SqliteFile,
    idle: Mutex<Vec<Connection>>,
}

impl Readers {
    /// A pool for `file`; opens one connection to check it.
    pub(crate) fn open(file: SqliteFile) -> Result<Self, DbError> {
        let readers = Self {
            file,
            idle: Mutex::new(Vec::with_capacity(KEEP)),
        };
        let first = readers.connect()?;
        readers.put_back(first);
        Ok(readers)
    }

    /// Runs `read` on a connection of the pool.
    pub(crate) fn read<T>(
        &self,
        read: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, DbError> {
        let idle = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let conn = match idle {
            Some(conn) => conn,
            None => self.connect()?,
        };
        let result = read(&conn);
        self.put_back(conn);
        Ok(result?)
    }

    /// Drops every kept connection (the pool opens new ones if used again).
    pub(crate) fn close(&self) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.clear();
        }
    }

    fn connect(&self) -> Result<Connection, DbError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = self.file.open(flags)?;
        // A reader never writes: a bug that tried would fail loudly.
        conn.pragma_update(None, "query_only", true)?;
        conn.set_prepared_statement_cache_capacity(STATEMENTS);
        Ok(conn)
    }

    fn put_back(&self, conn: Connection) {
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < KEEP
        {
            idle.push(conn);
        }
    }
}
