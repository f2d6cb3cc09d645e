//! Group commit for SQLite's memo writes.
//!
//! SQLite runs with `synchronous=FULL`, so each commit waits for an fsync,
//! and one commit per write caps memo writes at the disk's fsync rate. Memo
//! writes therefore go through a bounded queue to one task, which takes every
//! write already waiting (up to [`MAX_BATCH`]) and runs them in one
//! transaction, each in a savepoint of its own so that a write that fails is
//! undone alone and gets its own error. One commit, one fsync, makes the
//! whole batch durable, and only then is any write of the batch answered: a
//! success still means the write survives a power cut. When the batch as a
//! whole fails (no connection, `BEGIN`, a savepoint or the `COMMIT` fails),
//! every write in it gets an error and none was acknowledged.
//!
//! The batch holds the writer pool's one connection only while it runs, so
//! the other writers (users, migrations) take their turns in the pool between
//! batches as before.

use std::sync::Arc;

use sqlx::{Acquire as _, Connection as _, SqliteConnection, SqlitePool};
use tokio::sync::{mpsc, oneshot};

use super::{
    ACQUIRE_TIMEOUT, Memo, MemoChanges,
    memos::{delete_memo, insert_memo, update_memo},
};

/// The most writes one batch takes. It bounds how long a transaction holds
/// the write lock and its answers back; a full batch commits at once and the
/// rest wait for the next one.
const MAX_BATCH: usize = 64;

/// How many writes may wait for the writer task. A caller that finds the
/// queue full waits for room, up to [`ACQUIRE_TIMEOUT`] like a caller waiting
/// for a pool's connection, then fails rather than hang.
const QUEUE_CAPACITY: usize = 4 * MAX_BATCH;

/// `BEGIN IMMEDIATE` takes the write lock (waiting `busy_timeout` for another
/// process) once for the batch, so no write inside it can meet `SQLITE_BUSY`
/// and make the rest wait again.
const BEGIN: &str = "BEGIN IMMEDIATE";

/// Why a memo write was not made when the cause was its whole batch's (the
/// `BEGIN`, a savepoint or the `COMMIT` failed). Each write of the batch gets
/// one, inside [`sqlx::Error::Io`], since `sqlx::Error` cannot be cloned.
#[derive(Debug, thiserror::Error)]
#[error("the group commit's transaction failed, so the write was not made: {0}")]
pub struct BatchFailed(#[source] pub Arc<sqlx::Error>);

/// The queue to the writer task. Cloned with the [`Db`](super::Db); when the
/// last clone is dropped, the task finishes what is queued and ends.
#[derive(Clone, Debug)]
pub(super) struct MemoWrites {
    queue: mpsc::Sender<Message>,
}

enum Message {
    Write(Job),
    /// From [`MemoWrites::close`]: answered once the task has ended.
    Close(oneshot::Sender<()>),
}

type Reply<T> = oneshot::Sender<Result<T, sqlx::Error>>;

/// One memo write, with owned values since it outlives the caller's borrows.
enum Job {
    Insert {
        user_id: i64,
        title: String,
        content: String,
        reply: Reply<Memo>,
    },
    Update {
        id: i64,
        user_id: i64,
        title: Option<String>,
        content: Option<String>,
        archived: Option<bool>,
        reply: Reply<Option<Memo>>,
    },
    Delete {
        id: i64,
        user_id: i64,
        reply: Reply<bool>,
    },
}

impl MemoWrites {
    /// Starts the writer task on `writer`, the pool of SQLite's one writer
    /// connection.
    pub(super) fn spawn(writer: SqlitePool) -> Self {
        let (queue, jobs) = mpsc::channel(QUEUE_CAPACITY);
        tokio::spawn(run(writer, jobs));
        Self { queue }
    }

    pub(super) async fn insert(
        &self,
        user_id: i64,
        title: &str,
        content: &str,
    ) -> Result<Memo, sqlx::Error> {
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Insert {
            user_id,
            title: title.to_owned(),
            content: content.to_owned(),
            reply,
        })
        .await?;
        receive(answer).await
    }

    pub(super) async fn update(
        &self,
        id: i64,
        user_id: i64,
        changes: &MemoChanges<'_>,
    ) -> Result<Option<Memo>, sqlx::Error> {
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Update {
            id,
            user_id,
            title: changes.title.map(str::to_owned),
            content: changes.content.map(str::to_owned),
            archived: changes.archived,
            reply,
        })
        .await?;
        receive(answer).await
    }

    pub(super) async fn delete(&self, id: i64, user_id: i64) -> Result<bool, sqlx::Error> {
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Delete { id, user_id, reply }).await?;
        receive(answer).await
    }

    /// Stops the writer task: writes queued before it stops are run (and
    /// answered) as usual, later ones fail with [`sqlx::Error::PoolClosed`].
    /// Returns once the task has ended, so the writer pool may be closed
    /// next.
    pub(super) async fn close(&self) {
        let (done, ended) = oneshot::channel();
        if self.queue.send(Message::Close(done)).await.is_ok() {
            // An error only means the task is gone already.
            let _ = ended.await;
        }
    }

    async fn submit(&self, job: Job) -> Result<(), sqlx::Error> {
        match tokio::time::timeout(ACQUIRE_TIMEOUT, self.queue.send(Message::Write(job))).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_closed)) => Err(sqlx::Error::PoolClosed),
            Err(_elapsed) => Err(sqlx::Error::PoolTimedOut),
        }
    }
}

/// The task's answer; if the task dropped the job unanswered (it can only
/// have been cancelled with its runtime), the write is reported as lost with
/// the task.
async fn receive<T>(answer: oneshot::Receiver<Result<T, sqlx::Error>>) -> Result<T, sqlx::Error> {
    answer.await.unwrap_or(Err(sqlx::Error::WorkerCrashed))
}

/// The writer task: batches until asked to close or every sender is gone,
/// then runs what is still queued and acknowledges the close requests.
async fn run(writer: SqlitePool, mut queue: mpsc::Receiver<Message>) {
    let mut closers = Vec::new();
    while closers.is_empty() {
        let Some(first) = queue.recv().await else {
            break;
        };
        let mut batch = Vec::with_capacity(MAX_BATCH);
        match first {
            Message::Write(job) => batch.push(job),
            Message::Close(done) => closers.push(done),
        }
        while closers.is_empty() && batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(Message::Write(job)) => batch.push(job),
                Ok(Message::Close(done)) => closers.push(done),
                Err(_) => break,
            }
        }
        if !batch.is_empty() {
            commit_batch(&writer, batch).await;
        }
    }
    // From here on, sending fails; what is already queued is still received.
    queue.close();
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(message) = queue.recv().await {
        match message {
            Message::Write(job) => batch.push(job),
            Message::Close(done) => closers.push(done),
        }
        if batch.len() == MAX_BATCH {
            commit_batch(&writer, std::mem::take(&mut batch)).await;
        }
    }
    if !batch.is_empty() {
        commit_batch(&writer, batch).await;
    }
    for done in closers {
        let _ = done.send(());
    }
}

/// Runs `jobs` in one transaction and answers each of them.
async fn commit_batch(writer: &SqlitePool, jobs: Vec<Job>) {
    let size = jobs.len();
    let done = match writer.acquire().await {
        Ok(mut conn) => {
            let done = run_batch(&mut conn, jobs).await;
            if done.is_err() {
                // The transaction may be left in any state: start afresh.
                conn.close_on_drop();
            }
            done
        }
        Err(err) => Err(fail_batch(err, Vec::new(), jobs)),
    };
    match done {
        Ok(()) => tracing::trace!(writes = size, "group commit"),
        Err(err) => {
            tracing::error!(error = %err, writes = size, "a group commit failed; its writes were not made");
        }
    }
}

/// Runs `jobs` each in a savepoint of one transaction, commits, then answers
/// each job. On an error that concerns the whole batch, every job has been
/// answered with it and the error is returned.
async fn run_batch(conn: &mut SqliteConnection, jobs: Vec<Job>) -> Result<(), Arc<sqlx::Error>> {
    let mut tx = match conn.begin_with(BEGIN).await {
        Ok(tx) => tx,
        Err(err) => return Err(fail_batch(err, Vec::new(), jobs)),
    };
    let mut held: Vec<Box<dyn Answer>> = Vec::with_capacity(jobs.len());
    let mut jobs = jobs.into_iter();
    let mut failed = None;
    for job in jobs.by_ref() {
        let mut savepoint = match tx.begin().await {
            Ok(savepoint) => savepoint,
            Err(err) => {
                failed = Some((err, Some(job)));
                break;
            }
        };
        let answer = job.run(&mut savepoint).await;
        // A job that failed is undone alone; the batch goes on.
        let closed = if answer.is_ok() {
            savepoint.commit().await
        } else {
            savepoint.rollback().await
        };
        held.push(answer);
        if let Err(err) = closed {
            failed = Some((err, None));
            break;
        }
    }
    if let Some((err, unrun)) = failed {
        // Nothing of the batch may be committed: the rollback undoes it, and
        // closing the connection after undoes what a failed rollback could
        // not.
        let _ = tx.rollback().await;
        return Err(fail_batch(err, held, unrun.into_iter().chain(jobs)));
    }
    match tx.commit().await {
        Ok(()) => {
            for answer in held {
                answer.send();
            }
            Ok(())
        }
        Err(err) => Err(fail_batch(err, held, Vec::new())),
    }
}

/// Answers every job, run or not, with `err`, shared; returns it.
fn fail_batch(
    err: sqlx::Error,
    held: Vec<Box<dyn Answer>>,
    unrun: impl IntoIterator<Item = Job>,
) -> Arc<sqlx::Error> {
    let err = Arc::new(err);
    for answer in held {
        answer.fail(batch_error(&err));
    }
    for job in unrun {
        job.fail(batch_error(&err));
    }
    err
}

/// One job's copy of its batch's error. The pool's own timeouts keep their
/// variant, so that callers may still tell them apart.
fn batch_error(err: &Arc<sqlx::Error>) -> sqlx::Error {
    match **err {
        sqlx::Error::PoolTimedOut => sqlx::Error::PoolTimedOut,
        sqlx::Error::PoolClosed => sqlx::Error::PoolClosed,
        _ => sqlx::Error::Io(std::io::Error::other(BatchFailed(Arc::clone(err)))),
    }
}

impl Job {
    /// Runs the job's statement on `conn`; the result is held, not sent.
    async fn run(self, conn: &mut SqliteConnection) -> Box<dyn Answer> {
        match self {
            Self::Insert {
                user_id,
                title,
                content,
                reply,
            } => Held::boxed(reply, insert_memo!(conn, user_id, title, content).await),
            Self::Update {
                id,
                user_id,
                title,
                content,
                archived,
                reply,
            } => Held::boxed(
                reply,
                update_memo!(conn, id, user_id, title, content, archived).await,
            ),
            Self::Delete { id, user_id, reply } => {
                Held::boxed(reply, delete_memo!(conn, id, user_id).await.map(|n| n > 0))
            }
        }
    }

    /// Answers the job with `err` without running it (its batch failed).
    fn fail(self, err: sqlx::Error) {
        match self {
            Self::Insert { reply, .. } => {
                let _ = reply.send(Err(err));
            }
            Self::Update { reply, .. } => {
                let _ = reply.send(Err(err));
            }
            Self::Delete { reply, .. } => {
                let _ = reply.send(Err(err));
            }
        }
    }
}

/// A job's result, held back until its batch has committed.
struct Held<T> {
    reply: Reply<T>,
    result: Result<T, sqlx::Error>,
}

impl<T: Send + 'static> Held<T> {
    fn boxed(reply: Reply<T>, result: Result<T, sqlx::Error>) -> Box<dyn Answer> {
        Box::new(Self { reply, result })
    }
}

/// A held result of any job's type.
trait Answer: Send {
    /// Whether the job's statement succeeded.
    fn is_ok(&self) -> bool;
    /// Sends the held result (the batch has committed).
    fn send(self: Box<Self>);
    /// Sends `err` instead (the batch failed).
    fn fail(self: Box<Self>, err: sqlx::Error);
}

impl<T: Send> Answer for Held<T> {
    fn is_ok(&self) -> bool {
        self.result.is_ok()
    }

    fn send(self: Box<Self>) {
        // The caller may have gone (its request was cancelled): the write
        // stands all the same, as it would have without group commit.
        let _ = self.reply.send(self.result);
    }

    fn fail(self: Box<Self>, err: sqlx::Error) {
        let _ = self.reply.send(Err(err));
    }
}
