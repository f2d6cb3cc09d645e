//! Memos. Every statement that touches one memo names its owner too
//! (`WHERE id = $1 AND user_id = $2`), so ownership is enforced by the SQL
//! itself and another user's memo is indistinguishable from a missing one.
//!
//! SQLite runs these statements through rusqlite (`sqlite.rs`): reads on the
//! calling thread from a small pool of connections with cached prepared
//! statements, writes through the group commit's writer thread. PostgreSQL
//! runs them through sqlx (`postgres.rs`), new memos group-committed
//! (`postgres_inserts.rs`) and pages of the list read several in one
//! statement (`postgres_pages.rs`). Both keep the search index in step
//! inside the write's own transaction: SQLite's FTS5 table through triggers,
//! PostgreSQL's GIN index as any index.

/// Runs a memo statement on one of the PostgreSQL connections kept out of
/// the pool between statements (jwt-extended's `PgConnections`, shared with
/// the session store), kept again when it succeeded. Defined before the
/// modules, so that `postgres_inserts.rs` runs its statement the same way
/// (`postgres_pages.rs` takes and gives back by hand, to close a connection
/// whose statement it gave up on).
macro_rules! on_held {
    ($pg:expr, $connection:ident => $call:expr) => {{
        let mut $connection = $pg.take().await?;
        let outcome = $call.await;
        $pg.give_back($connection, &outcome);
        outcome
    }};
}

mod page;
mod postgres;
mod postgres_batches;
mod postgres_inserts;
mod postgres_pages;
#[cfg(test)]
mod postgres_plans;
pub(super) mod sqlite;
#[cfg(test)]
mod sqlite_plans;

use serde::Serialize;
use sqlx::FromRow;
use utoipa::ToSchema;

pub use self::page::{
    MAX_PAGE, MAX_SEARCH_CHARS, Order, Page, PageRequest, Position, SEARCH_CANDIDATES, SEARCH_SCAN,
};
pub(crate) use self::{postgres_inserts::Inserts as PgInserts, postgres_pages::Pages as PgPages};
use super::{Backend, Db, DbError, Timestamp};

/// A memo as stored and as the API returns it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, FromRow, ToSchema)]
pub struct Memo {
    /// The memo's id, ascending in creation order.
    pub id: i64,
    /// The title (1 to 200 characters).
    pub title: String,
    /// The body text (up to 100 000 characters).
    pub content: String,
    /// Whether the memo is archived (hidden from the default list).
    pub archived: bool,
    /// When the memo was created (RFC 3339).
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// When the memo last changed (RFC 3339).
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

impl Memo {
    /// Where this memo stands in a page's order.
    #[must_use]
    pub fn position(&self) -> Position {
        Position {
            id: self.id,
            updated_at: self.updated_at.at(),
        }
    }
}

/// The fields a PATCH may change; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct MemoChanges<'a> {
    /// A new, already validated title.
    pub title: Option<&'a str>,
    /// A new, already validated content.
    pub content: Option<&'a str>,
    /// Archive (`true`) or unarchive (`false`).
    pub archived: Option<bool>,
}

impl Db {
    /// One page of the owner's memos (see [`PageRequest`]).
    ///
    /// # Errors
    /// A database error.
    pub async fn memo_page(&self, request: &PageRequest<'_>) -> Result<Page, DbError> {
        match &self.inner.backend {
            Backend::Sqlite(sqlite) => sqlite.read(|conn| sqlite::page(conn, request)),
            Backend::Postgres(pg) => match request.search {
                None => self.inner.pages.read(pg, request).await,
                Some(search) => {
                    on_held!(pg, connection => postgres::search(&mut connection, request, search))
                }
            },
        }
    }

    /// One of the owner's memos.
    ///
    /// # Errors
    /// A database error.
    pub async fn memo(&self, id: i64, user_id: i64) -> Result<Option<Memo>, DbError> {
        match &self.inner.backend {
            Backend::Sqlite(sqlite) => sqlite.read(|conn| sqlite::memo(conn, id, user_id)),
            Backend::Postgres(pg) => {
                on_held!(pg, connection => postgres::memo(&mut connection, id, user_id))
            }
        }
    }

    /// Creates an unarchived memo for the owner.
    ///
    /// The write goes through a group commit, SQLite's writer thread
    /// (`db/sqlite/group_commit.rs`) or PostgreSQL's inserting task
    /// (`postgres_inserts.rs`); this returns once the write is durable.
    ///
    /// # Errors
    /// A database error.
    pub async fn insert_memo(
        &self,
        user_id: i64,
        title: &str,
        content: &str,
    ) -> Result<Memo, DbError> {
        match &self.inner.backend {
            Backend::Sqlite(sqlite) => sqlite.writes.insert(user_id, title, content).await,
            Backend::Postgres(pg) => {
                let inserts = &self.inner.inserts;
                inserts.insert(pg, user_id, title, content).await
            }
        }
    }

    /// Applies `changes` to one of the owner's memos and bumps `updated_at`.
    /// `Ok(None)` when the owner has no such memo.
    ///
    /// # Errors
    /// A database error.
    pub async fn update_memo(
        &self,
        id: i64,
        user_id: i64,
        changes: &MemoChanges<'_>,
    ) -> Result<Option<Memo>, DbError> {
        match &self.inner.backend {
            Backend::Sqlite(sqlite) => sqlite.writes.update(id, user_id, changes).await,
            Backend::Postgres(pg) => {
                on_held!(pg, connection => postgres::update(&mut connection, id, user_id, changes))
            }
        }
    }

    /// Deletes one of the owner's memos; `false` when there was none.
    ///
    /// # Errors
    /// A database error.
    pub async fn delete_memo(&self, id: i64, user_id: i64) -> Result<bool, DbError> {
        match &self.inner.backend {
            Backend::Sqlite(sqlite) => sqlite.writes.delete(id, user_id).await,
            Backend::Postgres(pg) => {
                on_held!(pg, connection => postgres::delete(&mut connection, id, user_id))
            }
        }
    }
}
