//! Memos. Every statement that touches one memo names its owner too
//! (`WHERE id = $1 AND user_id = $2`), so ownership is enforced by the SQL
//! itself and another user's memo is indistinguishable from a missing one.

use serde::Serialize;
use sqlx::FromRow;
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::{Db, now, on_pool, on_writer};

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

const MEMO_COLUMNS: &str = "id, title, content, archived, created_at, updated_at";

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
    /// # Errors
    /// A database error.
    pub async fn insert_memo(
        &self,
        user_id: i64,
        title: &str,
        content: &str,
    ) -> Result<Memo, sqlx::Error> {
        let sql = format!(
            "INSERT INTO memos (user_id, title, content, archived, created_at, updated_at) \
             VALUES ($1, $2, $3, FALSE, $4, $4) RETURNING {MEMO_COLUMNS}"
        );
        on_writer!(self, pool => sqlx::query_as::<_, Memo>(&sql)
            .bind(user_id)
            .bind(title)
            .bind(content)
            .bind(now())
            .fetch_one(pool)
            .await)
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
        let sql = format!(
            "UPDATE memos SET title = COALESCE($3, title), content = COALESCE($4, content), \
             archived = COALESCE($5, archived), updated_at = $6 \
             WHERE id = $1 AND user_id = $2 RETURNING {MEMO_COLUMNS}"
        );
        on_writer!(self, pool => sqlx::query_as::<_, Memo>(&sql)
            .bind(id)
            .bind(user_id)
            .bind(changes.title)
            .bind(changes.content)
            .bind(changes.archived)
            .bind(now())
            .fetch_optional(pool)
            .await)
    }

    /// Deletes one of the owner's memos; `false` when there was none.
    ///
    /// # Errors
    /// A database error.
    pub async fn delete_memo(&self, id: i64, user_id: i64) -> Result<bool, sqlx::Error> {
        let sql = "DELETE FROM memos WHERE id = $1 AND user_id = $2";
        let done = on_writer!(self, pool => sqlx::query(sql)
            .bind(id)
            .bind(user_id)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(done > 0)
    }
}
