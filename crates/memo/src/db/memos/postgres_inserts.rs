//! Group commit for new memos on PostgreSQL: every insert goes to one task, which writes all
//! the memos queued meanwhile with one `INSERT ... SELECT FROM unnest(...)` (one round trip,
//! one transaction, one flush of the WAL) and answers each once committed. SQLite's writes
//! have the same (`db/sqlite/group_commit.rs`).
//!
//! Committed one per statement, 8 clients' inserts each waited for a WAL flush of their own,
//! or queued behind another's (79.5% of an insert's time inside PostgreSQL, sampled in
//! docs/performance.md): pgbench made 5,500-6,700 a second where one client writing 8 per
//! statement made 9,000-10,100 (docs/performance.md, "Group commit on PostgreSQL"). When
//! PostgreSQL refuses a batch (a memo of a user deleted meanwhile breaks the foreign key), each
//! of its memos is written alone, so one bad insert never fails another.

use std::sync::Arc;

use jwt_extended::PgConnections;
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};

use super::{Memo, postgres::keyed_memos, postgres_batches::TaskQueue};
use crate::db::DbError;

/// The most memos one statement writes; more wait for the next.
const MAX_BATCH: usize = 64;

/// Memos queued at most; one more waits for room, then fails with [`DbError::TimedOut`]
/// (503), as SQLite's group commit does.
const QUEUE_CAPACITY: usize = 4 * MAX_BATCH;

/// The most text (titles and contents, in bytes) one statement carries: a batch of long memos
/// is written as several statements.
const MAX_BATCH_BYTES: usize = 1 << 20;

/// The memos `$1` (owners), `$2` (titles), `$3` (contents), all created at `$4`; each row
/// comes back with its owner, to be matched to its request.
const INSERT_MEMOS: &str = "INSERT INTO memos (user_id, title, content, archived, created_at, updated_at) \
     SELECT user_id, title, content, FALSE, $4, $4 FROM unnest($1::int8[], $2::text[], $3::text[]) \
     AS new(user_id, title, content) \
     RETURNING user_id, id, title, content, archived, created_at, updated_at";

/// One new memo and where its answer goes.
struct Insert {
    user_id: i64,
    title: String,
    content: String,
    reply: oneshot::Sender<Result<Memo, DbError>>,
}

/// A row of [`INSERT_MEMOS`]: the owner and the memo.
struct Inserted {
    user_id: i64,
    memo: Memo,
}

/// The queue of the inserting task.
#[derive(Debug)]
pub(crate) struct Inserts {
    queue: TaskQueue<Insert>,
}

impl Default for Inserts {
    fn default() -> Self {
        Self {
            queue: TaskQueue::new(QUEUE_CAPACITY),
        }
    }
}

impl Inserts {
    /// Writes a memo; returns it once committed.
    pub(crate) async fn insert(
        &self,
        connections: &PgConnections,
        user_id: i64,
        title: &str,
        content: &str,
    ) -> Result<Memo, DbError> {
        let insert = |reply| Insert {
            user_id,
            title: title.to_owned(),
            content: content.to_owned(),
            reply,
        };
        let start = |queue| run(connections.clone(), queue);
        self.queue.ask(insert, start).await
    }
}

async fn run(connections: PgConnections, mut queue: mpsc::Receiver<Insert>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let mut inserts = std::mem::take(&mut batch);
        while !inserts.is_empty() {
            let rest = inserts.split_off(within_bytes(&inserts));
            commit(&connections, inserts).await;
            inserts = rest;
        }
    }
}

/// How many of `inserts`, from the first, fit in [`MAX_BATCH_BYTES`] (at least one).
fn within_bytes(inserts: &[Insert]) -> usize {
    let mut bytes = 0;
    let fit = inserts
        .iter()
        .take_while(|insert| {
            bytes += insert.title.len() + insert.content.len();
            bytes <= MAX_BATCH_BYTES
        })
        .count();
    fit.max(1)
}

/// Writes `inserts` in one statement; answers each (a caller that stopped waiting, a cancelled
/// request, is skipped: its memo is written all the same).
///
/// When PostgreSQL refuses the statement, nothing of it was written, and each memo is written
/// alone, so the one at fault fails alone. When the statement is lost without PostgreSQL's
/// answer (the connection broke), it may have committed: each caller gets the error, and no
/// memo is written twice.
async fn commit(connections: &PgConnections, mut inserts: Vec<Insert>) {
    match write(connections, &inserts).await {
        Ok(rows) => answer(inserts, rows),
        Err(error) if inserts.len() == 1 => {
            if let Some(insert) = inserts.pop() {
                let _ = insert.reply.send(Err(error.into()));
            }
        }
        Err(error) if refused(&error) => {
            for insert in inserts {
                match write(connections, std::slice::from_ref(&insert)).await {
                    Ok(rows) => answer(vec![insert], rows),
                    Err(error) => {
                        let _ = insert.reply.send(Err(error.into()));
                    }
                }
            }
        }
        Err(error) => {
            let shared = Arc::new(error);
            for insert in inserts {
                let _ = insert
                    .reply
                    .send(Err(DbError::PgBatchFailed(shared.clone())));
            }
        }
    }
}

/// Whether PostgreSQL refused the statement itself (a foreign key, a constraint), so that
/// nothing of it was written and each memo may be written alone; not when the server is going
/// away or out of resources (classes 57P, 08 and 53), where each alone would fail the same
/// way, one by one.
fn refused(error: &sqlx::Error) -> bool {
    let sqlx::Error::Database(error) = error else {
        return false;
    };
    let code = error.code();
    let code = code.as_deref().unwrap_or_default();
    !["57P", "08", "53"]
        .iter()
        .any(|class| code.starts_with(class))
}

/// Gives each insert its row: the first not yet given with its owner, title and content (two
/// rows alike are interchangeable). A row missing would be PostgreSQL's fault; that insert
/// gets an error.
fn answer(inserts: Vec<Insert>, rows: Vec<Inserted>) {
    let mut rows: Vec<Option<Inserted>> = rows.into_iter().map(Some).collect();
    for insert in inserts {
        let row = rows.iter_mut().find(|row| {
            row.as_ref().is_some_and(|row| {
                row.user_id == insert.user_id
                    && row.memo.title == insert.title
                    && row.memo.content == insert.content
            })
        });
        let memo = row.and_then(Option::take).map(|row| row.memo);
        let memo = memo.ok_or_else(|| {
            tracing::error!(
                user_id = insert.user_id,
                "a memo written by the group commit did not come back from PostgreSQL"
            );
            DbError::Sqlx(sqlx::Error::RowNotFound)
        });
        let _ = insert.reply.send(memo);
    }
}

/// Runs [`INSERT_MEMOS`] for `inserts` on a kept connection.
async fn write(
    connections: &PgConnections,
    inserts: &[Insert],
) -> Result<Vec<Inserted>, sqlx::Error> {
    let owners: Vec<i64> = inserts.iter().map(|insert| insert.user_id).collect();
    let titles: Vec<&str> = inserts.iter().map(|insert| insert.title.as_str()).collect();
    let contents: Vec<&str> = inserts
        .iter()
        .map(|insert| insert.content.as_str())
        .collect();
    let now: OffsetDateTime = crate::db::now();
    let rows = on_held!(connections, connection => sqlx::query(INSERT_MEMOS)
        .bind(&owners)
        .bind(&titles)
        .bind(&contents)
        .bind(now)
        .fetch_all(&mut *connection))?;
    keyed_memos(&rows, |user_id, memo| Inserted { user_id, memo })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Timestamp;

    fn row(user_id: i64, id: i64, text: &str) -> Inserted {
        let at = Timestamp::try_from(crate::db::now()).expect("a time");
        let memo = Memo {
            id,
            title: text.into(),
            content: text.into(),
            archived: false,
            created_at: at,
            updated_at: at,
        };
        Inserted { user_id, memo }
    }

    #[test]
    fn each_insert_gets_the_row_of_its_owner_whatever_the_order_rows_come_back_in() {
        let (inserts, answers): (Vec<_>, Vec<_>) = [(1, "twin"), (2, "twin"), (1, "solo")]
            .into_iter()
            .map(|(user_id, text)| {
                let (reply, answer) = oneshot::channel();
                let insert = Insert {
                    user_id,
                    title: text.into(),
                    content: text.into(),
                    reply,
                };
                (insert, answer)
            })
            .unzip();
        // Owner 2's twin first: a match on the text alone would give it to owner 1.
        answer(
            inserts,
            vec![row(2, 11, "twin"), row(1, 12, "solo"), row(1, 10, "twin")],
        );
        let ids: Vec<i64> = answers
            .into_iter()
            .map(|mut answer| answer.try_recv().expect("answered").expect("a memo").id)
            .collect();
        assert_eq!(ids, [10, 11, 12]);
    }
}
