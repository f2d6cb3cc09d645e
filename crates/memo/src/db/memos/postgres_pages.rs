//! Pages of the list on PostgreSQL, batched: every `GET /api/memos` without a search goes to
//! one task, which reads all the pages asked meanwhile with one statement (`pages_sql!`: the
//! pages' owners and positions as arrays, each page read by its index through a `LATERAL`
//! join), and answers each with its own rows. Alone, a page is read at once, as are two at a
//! time; under more load, several share one round trip and one wake-up of PostgreSQL's
//! backend.
//!
//! Read one per statement from 8 connections, pgbench made 19,100-19,700 pages a second on two
//! cores; 4 per statement from two, 40,600-42,900 (docs/performance.md, "Pages in one
//! statement"). One statement is one snapshot: each page sees every write that was committed
//! before its request was queued, as it would alone.

use std::{sync::Arc, time::Duration};

use futures_util::TryStreamExt as _;
use jwt_extended::PgConnections;
use time::OffsetDateTime;
use tokio::sync::{Semaphore, mpsc, oneshot};

use super::{
    Memo, Order, Page, PageRequest,
    postgres::{KeyedMemos, pages_statement, position_binds},
    postgres_batches::TaskQueue,
};
use crate::db::DbError;

/// The most pages one statement reads; more wait for the next.
const MAX_BATCH: usize = 32;

/// The most rows one statement asks for (the pages' limits): a batch of long pages is read as
/// several statements, which run side by side as [`IN_FLIGHT`] allows.
const MAX_BATCH_ROWS: i64 = 1_024;

/// Statements reading pages at once: PostgreSQL's backends each take a core for a page
/// read from memory, two here.
const IN_FLIGHT: usize = 2;

/// How long a statement may take before its callers get [`DbError::TimedOut`] (503): a batch
/// reads in milliseconds; one stuck (a lock, a connection gone silent) must not keep the
/// list waiting, as every page read goes through these statements.
const STATEMENT_WAIT: Duration = Duration::from_secs(10);

/// Pages queued at most; one more waits for room, then fails with [`DbError::TimedOut`]
/// (503).
const QUEUE_CAPACITY: usize = 4 * MAX_BATCH;

/// One page to read and where its answer goes.
struct Read {
    user_id: i64,
    archived: bool,
    order: Order,
    after_id: i64,
    after_at: OffsetDateTime,
    /// The page's limit (one more row is asked, to tell whether more follow).
    limit: i64,
    reply: oneshot::Sender<Result<Page, DbError>>,
}

/// A row of `pages_sql!`: the page's place in the batch (from 1), and a memo.
struct Paged {
    n: i64,
    memo: Memo,
}

impl Paged {
    /// The index of the row's page among the batch's reads.
    fn place(&self) -> Option<usize> {
        usize::try_from(self.n.checked_sub(1)?).ok()
    }
}

/// The queue of the reading task.
#[derive(Debug)]
pub(crate) struct Pages {
    queue: TaskQueue<Read>,
}

impl Default for Pages {
    fn default() -> Self {
        Self {
            queue: TaskQueue::new(QUEUE_CAPACITY),
        }
    }
}

impl Pages {
    /// A page of the list (`request.search` is not read).
    pub(crate) async fn read(
        &self,
        connections: &PgConnections,
        request: &PageRequest<'_>,
    ) -> Result<Page, DbError> {
        let (after_id, after_at) = position_binds(request);
        let read = |reply| Read {
            user_id: request.user_id,
            archived: request.archived,
            order: request.order,
            after_id,
            after_at,
            limit: request.limit(),
            reply,
        };
        let start = |queue| run(connections.clone(), queue);
        self.queue.ask(read, start).await
    }
}

/// Takes the pages queued whenever a statement may start, and reads them in the background:
/// up to [`IN_FLIGHT`] statements at once, so that a lone page never waits for another's.
async fn run(connections: PgConnections, mut queue: mpsc::Receiver<Read>) {
    let in_flight = Arc::new(Semaphore::new(IN_FLIGHT));
    let mut batch = Vec::with_capacity(MAX_BATCH);
    loop {
        let Ok(mut permit) = in_flight.clone().acquire_owned().await else {
            return;
        };
        if queue.recv_many(&mut batch, MAX_BATCH).await == 0 {
            return;
        }
        let mut statements = statements(std::mem::take(&mut batch)).into_iter();
        while let Some((order, reads)) = statements.next() {
            let connections = connections.clone();
            tokio::spawn(async move {
                read_pages(&connections, order, reads).await;
                drop(permit);
            });
            if statements.len() == 0 {
                break;
            }
            permit = match in_flight.clone().acquire_owned().await {
                Ok(permit) => permit,
                Err(_) => return,
            };
        }
    }
}

/// A batch's statements: its pages of each order, as many statements as their rows need (a
/// caller that stopped waiting, a closed connection, is left out).
fn statements(mut batch: Vec<Read>) -> Vec<(Order, Vec<Read>)> {
    batch.retain(|read| !read.reply.is_closed());
    let mut statements = Vec::new();
    for order in [Order::Id, Order::IdDesc, Order::UpdatedDesc] {
        let (mut reads, rest): (Vec<_>, Vec<_>) =
            batch.drain(..).partition(|read| read.order == order);
        batch = rest;
        while !reads.is_empty() {
            let rest = reads.split_off(within_rows(&reads));
            statements.push((order, reads));
            reads = rest;
        }
    }
    statements
}

/// How many of `reads`, from the first, fit in [`MAX_BATCH_ROWS`] (at least one).
fn within_rows(reads: &[Read]) -> usize {
    let mut rows = 0;
    let fit = reads
        .iter()
        .take_while(|read| {
            rows += read.limit + 1;
            rows <= MAX_BATCH_ROWS
        })
        .count();
    fit.max(1)
}

/// Reads `reads` (all in `order`) in one statement and answers each. When the statement
/// failed on one page's values, each page is read alone, so that the one at fault fails alone;
/// when it failed otherwise (the connection broke, PostgreSQL is going away), or took longer
/// than [`STATEMENT_WAIT`], each caller gets the error.
async fn read_pages(connections: &PgConnections, order: Order, reads: Vec<Read>) {
    match select(connections, order, &reads).await {
        Ok(rows) => answer(order, reads, rows),
        Err(Some(error)) if reads.len() > 1 && on_a_pages_values(&error) => {
            for read in reads {
                if read.reply.is_closed() {
                    continue;
                }
                match select(connections, order, std::slice::from_ref(&read)).await {
                    Ok(rows) => answer(order, vec![read], rows),
                    Err(error) => fail(vec![read], error),
                }
            }
        }
        Err(error) => fail(reads, error),
    }
}

/// Answers each of `reads` with `error`, shared when there are several (`None`: the statement
/// took too long).
fn fail(mut reads: Vec<Read>, error: Option<sqlx::Error>) {
    let Some(error) = error else {
        tracing::warn!(
            pages = reads.len(),
            "a statement reading pages took longer than {STATEMENT_WAIT:?}"
        );
        for read in reads {
            let _ = read.reply.send(Err(DbError::TimedOut));
        }
        return;
    };
    if reads.len() == 1 {
        if let Some(read) = reads.pop() {
            let _ = read.reply.send(Err(error.into()));
        }
        return;
    }
    let shared = Arc::new(error);
    for read in reads {
        let _ = read.reply.send(Err(DbError::PgBatchFailed(shared.clone())));
    }
}

/// Whether the statement failed on one page's values: PostgreSQL refused it with a data
/// exception (class 22) or an error raised by a function it ran for the rows (P0: a row
/// security policy, a view), or a row came back that memo cannot read (a time of
/// `infinity`). Any other error a read meets (a lost connection, a cancelled or timed-out
/// statement, a server going away) would meet every page read alone too.
fn on_a_pages_values(error: &sqlx::Error) -> bool {
    let error = match error {
        sqlx::Error::ColumnDecode { .. } => return true,
        sqlx::Error::Database(error) => error,
        _ => return false,
    };
    let code = error.code();
    let code = code.as_deref().unwrap_or_default();
    code.len() == 5 && (code.starts_with("22") || code.starts_with("P0"))
}

/// Gives each read the rows of its place in the batch, each page in `order`. The statement
/// leaves the rows unsorted; PostgreSQL reads each page in its order through the index, so the
/// sort here is one pass over rows already in order, kept so that no plan can reorder a page.
fn answer(order: Order, reads: Vec<Read>, rows: Vec<Paged>) {
    // Each page sized ahead: grown push by push, a page of 21 rows was allocated 4 times.
    let mut sizes = vec![0; reads.len()];
    for row in &rows {
        if let Some(size) = row.place().and_then(|place| sizes.get_mut(place)) {
            *size += 1;
        }
    }
    let mut pages: Vec<Vec<Memo>> = sizes.into_iter().map(Vec::with_capacity).collect();
    for row in rows {
        match row.place().and_then(|place| pages.get_mut(place)) {
            Some(page) => page.push(row.memo),
            None => tracing::error!(n = row.n, "a page's row came back with no page of its own"),
        }
    }
    for (read, mut memos) in reads.into_iter().zip(pages) {
        memos.sort_unstable_by(|a, b| order.compare(a, b));
        let _ = read.reply.send(Ok(Page::from_rows(memos, read.limit)));
    }
}

/// Runs the pages' statement of `order` for `reads` on a kept connection; `Err(None)` when it
/// took longer than [`STATEMENT_WAIT`]. The connection is then closed rather than given back
/// (`on_held!` would give it back): sqlx's pool would wait for the abandoned statement, its
/// place taken, as long as PostgreSQL runs it.
async fn select(
    connections: &PgConnections,
    order: Order,
    reads: &[Read],
) -> Result<Vec<Paged>, Option<sqlx::Error>> {
    let owners: Vec<i64> = reads.iter().map(|read| read.user_id).collect();
    let archived: Vec<bool> = reads.iter().map(|read| read.archived).collect();
    let after_ids: Vec<i64> = reads.iter().map(|read| read.after_id).collect();
    let after_ats: Vec<OffsetDateTime> = reads.iter().map(|read| read.after_at).collect();
    let limits: Vec<i64> = reads.iter().map(|read| read.limit + 1).collect();
    let mut connection = connections.take().await.map_err(Some)?;
    let statement = async {
        let mut rows = sqlx::query(pages_statement(order))
            .bind(&owners)
            .bind(&archived)
            .bind(&after_ids)
            .bind(&after_ats)
            .bind(&limits)
            .fetch(&mut *connection);
        // Each row read as it comes, into room for every page's limit: collected first (sqlx's
        // `fetch_all`), the rows were kept to the end in a vector grown 4 to 6 times.
        let mut memos = KeyedMemos::default();
        let mut paged = Vec::with_capacity(limits.iter().sum::<i64>().try_into().unwrap_or(0));
        while let Some(row) = rows.try_next().await? {
            let (n, memo) = memos.read(&row)?;
            paged.push(Paged { n, memo });
        }
        Ok::<_, sqlx::Error>(paged)
    };
    match tokio::time::timeout(STATEMENT_WAIT, statement).await {
        Ok(paged) => {
            connections.give_back(connection, &paged);
            paged.map_err(Some)
        }
        Err(_) => {
            connection.close_on_drop();
            Err(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Timestamp;

    fn read(user_id: i64, limit: i64) -> (Read, oneshot::Receiver<Result<Page, DbError>>) {
        let (reply, answer) = oneshot::channel();
        let read = Read {
            user_id,
            archived: false,
            order: Order::Id,
            after_id: 0,
            after_at: crate::db::now(),
            limit,
            reply,
        };
        (read, answer)
    }

    fn row(n: i64, id: i64) -> Paged {
        let at = Timestamp::try_from(crate::db::now()).expect("a time");
        let memo = Memo {
            id,
            title: format!("memo {id}"),
            content: String::new(),
            archived: false,
            created_at: at,
            updated_at: at,
        };
        Paged { n, memo }
    }

    #[test]
    fn each_page_gets_the_rows_of_its_place_and_says_whether_more_follow() {
        let (reads, answers): (Vec<_>, Vec<_>) =
            [read(7, 2), read(8, 2), read(7, 5)].into_iter().unzip();
        // Place 1 has a row beyond its limit (more follow), place 2 none, place 3 two.
        let rows = vec![row(1, 10), row(1, 11), row(1, 12), row(3, 10), row(3, 11)];
        answer(Order::Id, reads, rows);
        let pages: Vec<(Vec<i64>, Option<i64>)> = answers
            .into_iter()
            .map(|mut answer| {
                let page = answer.try_recv().expect("answered").expect("a page");
                let ids = page.memos.iter().map(|memo| memo.id).collect();
                (ids, page.next.map(|next| next.id))
            })
            .collect();
        assert_eq!(
            pages,
            [
                (vec![10, 11], Some(11)),
                (vec![], None),
                (vec![10, 11], None)
            ]
        );
    }

    /// A row of place `n` for memo `id`, edited `seconds` after the epoch.
    fn edited(n: i64, id: i64, seconds: i64) -> Paged {
        let mut paged = row(n, id);
        let at = OffsetDateTime::from_unix_timestamp(seconds).expect("a time");
        paged.memo.updated_at = Timestamp::try_from(at).expect("a time");
        paged
    }

    #[test]
    fn each_page_is_put_in_its_order_however_the_rows_come() {
        // Two pages' rows interleaved and shuffled, as an unsorted statement may return them.
        let rows = || {
            vec![
                edited(2, 5, 300),
                edited(1, 12, 100),
                edited(2, 3, 300),
                edited(1, 10, 200),
                edited(1, 11, 100),
                edited(2, 4, 100),
            ]
        };
        let expected = [
            (Order::Id, [vec![10, 11, 12], vec![3, 4, 5]]),
            (Order::IdDesc, [vec![12, 11, 10], vec![5, 4, 3]]),
            // Most recently edited first, ties by id, newest first.
            (Order::UpdatedDesc, [vec![10, 12, 11], vec![5, 3, 4]]),
        ];
        for (order, pages) in expected {
            let (reads, answers): (Vec<_>, Vec<_>) = [read(7, 3), read(8, 3)].into_iter().unzip();
            answer(order, reads, rows());
            for (mut answer, ids) in answers.into_iter().zip(pages) {
                let page = answer.try_recv().expect("answered").expect("a page");
                let got: Vec<i64> = page.memos.iter().map(|memo| memo.id).collect();
                assert_eq!(got, ids, "{order:?}");
            }
        }
    }

    #[test]
    fn long_pages_are_split_across_statements() {
        let reads: Vec<Read> = [20, 200, 200, 200, 200, 200, 20]
            .into_iter()
            .map(|limit| read(1, limit).0)
            .collect();
        // 21 + 201 * 4 = 825 rows fit; a fifth page of 201 would make 1,026.
        assert_eq!(within_rows(&reads), 5);
        assert_eq!(within_rows(&reads[5..]), 2);
        let huge = [read(1, 5_000).0];
        assert_eq!(
            within_rows(&huge),
            1,
            "a page alone is read whatever its size"
        );
    }
}
