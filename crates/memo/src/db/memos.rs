//! Memos. Every statement that touches one memo names its owner too
//! (`WHERE id = $1 AND user_id = $2`), so ownership is enforced by the SQL
//! itself and another user's memo is indistinguishable from a missing one.

use serde::Serialize;
use sqlx::FromRow;
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::{Db, on_pool};

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
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// When the memo last changed (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
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

/// [`Memo`]'s columns, as a literal so that `concat!` can build the
/// statements below at compile time.
macro_rules! memo_columns {
    () => {
        "id, title, content, archived, created_at, updated_at"
    };
}

const MEMO_COLUMNS: &str = memo_columns!();

pub(super) const INSERT_MEMO: &str = concat!(
    "INSERT INTO memos (user_id, title, content, archived, created_at, updated_at) \
     VALUES ($1, $2, $3, FALSE, $4, $4) RETURNING ",
    memo_columns!()
);

pub(super) const UPDATE_MEMO: &str = concat!(
    "UPDATE memos SET title = COALESCE($3, title), content = COALESCE($4, content), \
     archived = COALESCE($5, archived), updated_at = $6 \
     WHERE id = $1 AND user_id = $2 RETURNING ",
    memo_columns!()
);

pub(super) const DELETE_MEMO: &str = "DELETE FROM memos WHERE id = $1 AND user_id = $2";

/// The memo writes' statements, each written once and compiled for both
/// backends (like [`on_pool!`](super::on_pool)): PostgreSQL runs them on its
/// pool, SQLite's group commit on a batch's savepoint. Each expands to the
/// query's future, which the caller awaits.
macro_rules! insert_memo {
    ($executor:expr, $user_id:expr, $title:expr, $content:expr) => {
        sqlx::query_as::<_, $crate::db::Memo>($crate::db::memos::INSERT_MEMO)
            .bind($user_id)
            .bind($title)
            .bind($content)
            .bind($crate::db::now())
            .fetch_one($executor)
    };
}

/// See [`insert_memo!`]; resolves to `None` when the owner has no such memo.
macro_rules! update_memo {
    ($executor:expr, $id:expr, $user_id:expr, $title:expr, $content:expr, $archived:expr) => {
        sqlx::query_as::<_, $crate::db::Memo>($crate::db::memos::UPDATE_MEMO)
            .bind($id)
            .bind($user_id)
            .bind($title)
            .bind($content)
            .bind($archived)
            .bind($crate::db::now())
            .fetch_optional($executor)
    };
}

/// See [`insert_memo!`]; resolves to the number of rows deleted (0 or 1).
macro_rules! delete_memo {
    ($executor:expr, $id:expr, $user_id:expr) => {
        async {
            sqlx::query($crate::db::memos::DELETE_MEMO)
                .bind($id)
                .bind($user_id)
                .execute($executor)
                .await
                .map(|done| done.rows_affected())
        }
    };
}

pub(super) use {delete_memo, insert_memo, update_memo};

impl Db {
    /// The owner's memos with the given archived flag, by id ascending.
    ///
    /// # Errors
    /// A database error.
    pub async fn list_memos(&self, user_id: i64, archived: bool) -> Result<Vec<Memo>, sqlx::Error> {
        let sql = format!(
            "SELECT {MEMO_COLUMNS} FROM memos WHERE user_id = $1 AND archived = $2 ORDER BY id"
        );
        on_pool!(self, pool => sqlx::query_as::<_, Memo>(&sql)
            .bind(user_id)
            .bind(archived)
            .fetch_all(pool)
            .await)
    }

    /// One of the owner's memos.
    ///
    /// # Errors
    /// A database error.
    pub async fn memo(&self, id: i64, user_id: i64) -> Result<Option<Memo>, sqlx::Error> {
        let sql = format!("SELECT {MEMO_COLUMNS} FROM memos WHERE id = $1 AND user_id = $2");
        on_pool!(self, pool => sqlx::query_as::<_, Memo>(&sql)
            .bind(id)
            .bind(user_id)
            .fetch_optional(pool)
            .await)
    }

    /// Creates an unarchived memo for the owner.
    ///
    /// On SQLite the write goes through the group commit
    /// (`db/group_commit.rs`); as on PostgreSQL, this returns once the write
    /// is durable.
    ///
    /// # Errors
    /// A database error.
    pub async fn insert_memo(
        &self,
        user_id: i64,
        title: &str,
        content: &str,
    ) -> Result<Memo, sqlx::Error> {
        match self {
            Self::Sqlite(sqlite) => sqlite.memo_writes.insert(user_id, title, content).await,
            Self::Postgres(pool) => insert_memo!(pool, user_id, title, content).await,
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
    ) -> Result<Option<Memo>, sqlx::Error> {
        match self {
            Self::Sqlite(sqlite) => sqlite.memo_writes.update(id, user_id, changes).await,
            Self::Postgres(pool) => {
                let MemoChanges {
                    title,
                    content,
                    archived,
                } = *changes;
                update_memo!(pool, id, user_id, title, content, archived).await
            }
        }
    }

    /// Deletes one of the owner's memos; `false` when there was none.
    ///
    /// # Errors
    /// A database error.
    pub async fn delete_memo(&self, id: i64, user_id: i64) -> Result<bool, sqlx::Error> {
        match self {
            Self::Sqlite(sqlite) => sqlite.memo_writes.delete(id, user_id).await,
            Self::Postgres(pool) => delete_memo!(pool, id, user_id).await.map(|n| n > 0),
        }
    }
}
