//! Group commit for SQLite's memo writes.
//!
//! SQLite runs with `synchronous=FULL`, so each commit waits for an fsync,
//! and one commit per write caps memo writes at the disk's fsync rate. Memo
//! writes therefore go through a bounded queue to one writer thread, which
//! owns a rusqlite connection with its prepared statements, takes every
//! write already waiting (up to [`MAX_BATCH`]) and runs them in one
//! transaction, each in a savepoint of its own so that a write that fails is
//! undone alone and gets its own error. One commit, one fsync, makes the
//! whole batch durable, and only then is any write of the batch answered: a
//! success still means the write survives a power cut. When the batch as a
//! whole fails (`BEGIN`, a savepoint or the `COMMIT` fails), every write in
//! it gets [`DbError::BatchFailed`] and none was acknowledged.
//!
//! The search index (`memos_search`) is written by the memos' triggers, so
//! it is in the same savepoint and the same commit as its memo.
//!
//! A thread rather than a task: every statement runs where the connection
//! lives, so a batch costs one hand-off in and one answer out per write,
//! instead of a hand-off per statement to sqlx's connection thread (which a
//! profile showed to be most of a write's CPU).

use std::{sync::Arc, thread};

use rusqlite::{Connection, OpenFlags};
use tokio::sync::{mpsc, oneshot};

use super::SqliteFile;
use crate::db::{DbError, DbSetupError, Memo, MemoChanges, memos::sqlite as statements};

/// The most writes one batch takes. It bounds how long a transaction holds
/// the write lock and its answers back; a full batch commits at once and the
/// rest wait for the next one.
const MAX_BATCH: usize = 64;

/// How many writes may wait for the writer thread. A caller that finds the
/// queue full waits for room, up to [`QUEUE_WAIT`], then fails rather than
/// hang.
const QUEUE_CAPACITY: usize = 4 * MAX_BATCH;

/// How long a write waits for room in a full queue.
const QUEUE_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// `BEGIN IMMEDIATE` takes the write lock (waiting `busy_timeout` for another
/// connection) once for the batch, so no write inside it can meet
/// `SQLITE_BUSY` and make the rest wait again.
const BEGIN: &str = "BEGIN IMMEDIATE";

/// The queue to the writer thread. When the last sender is dropped, the
/// thread finishes what is queued and ends.
#[derive(Clone, Debug)]
pub(crate) struct MemoWrites {
    queue: mpsc::Sender<Message>,
}

enum Message {
    Write(Job),
    /// From [`MemoWrites::close`]: answered once the thread has ended.
    Close(oneshot::Sender<()>),
}

type Reply<T> = oneshot::Sender<Result<T, DbError>>;

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
    /// Opens the writer's connection to `file` and starts its thread, which
    /// logs to the subscriber current here.
    pub(crate) fn spawn(file: SqliteFile) -> Result<Self, DbSetupError> {
        let conn = open_writer(&file).map_err(|err| DbSetupError::Open(err.into()))?;
        let (queue, jobs) = mpsc::channel(QUEUE_CAPACITY);
        let dispatch = tracing::dispatcher::get_default(Clone::clone);
        thread::Builder::new()
            .name("memo-sqlite-writer".into())
            .spawn(move || {
                tracing::dispatcher::with_default(&dispatch, || Writer { file, conn }.run(jobs));
            })
            .map_err(DbSetupError::Thread)?;
        Ok(Self { queue })
    }

    pub(crate) async fn insert(
        &self,
        user_id: i64,
        title: &str,
        content: &str,
    ) -> Result<Memo, DbError> {
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

    pub(crate) async fn update(
        &self,
        id: i64,
        user_id: i64,
        changes: &MemoChanges<'_>,
    ) -> Result<Option<Memo>, DbError> {
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

    pub(crate) async fn delete(&self, id: i64, user_id: i64) -> Result<bool, DbError> {
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Delete { id, user_id, reply }).await?;
        receive(answer).await
    }

    /// Stops the writer thread: writes queued before it stops are run (and
    /// answered) as usual, later ones fail with [`DbError::Closed`]. Returns
    /// once the thread has ended.
    pub(crate) async fn close(&self) {
        let (done, ended) = oneshot::channel();
        if self.queue.send(Message::Close(done)).await.is_ok() {
            // An error only means the thread is gone already.
            let _ = ended.await;
        }
    }

    async fn submit(&self, job: Job) -> Result<(), DbError> {
        match tokio::time::timeout(QUEUE_WAIT, self.queue.send(Message::Write(job))).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_closed)) => Err(DbError::Closed),
            Err(_elapsed) => Err(DbError::TimedOut),
        }
    }
}

/// The thread's answer; if it dropped the job unanswered (it panicked), the
/// write is reported as lost with the thread.
async fn receive<T>(answer: oneshot::Receiver<Result<T, DbError>>) -> Result<T, DbError> {
    answer.await.unwrap_or(Err(DbError::WriterGone))
}

fn open_writer(file: &SqliteFile) -> rusqlite::Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    file.open(flags)
}

/// The writer thread's state: its connection, reopened after a failed batch.
struct Writer {
    file: SqliteFile,
    conn: Connection,
}

impl Writer {
    /// Batches until asked to close or every sender is gone, then runs what
    /// is still queued and acknowledges the close requests.
    fn run(mut self, mut queue: mpsc::Receiver<Message>) {
        let mut closers = Vec::new();
        while closers.is_empty() {
            let Some(first) = queue.blocking_recv() else {
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
                self.commit_batch(batch);
            }
        }
        // From here on, sending fails; what is already queued is received.
        queue.close();
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while let Some(message) = queue.blocking_recv() {
            match message {
                Message::Write(job) => batch.push(job),
                Message::Close(done) => closers.push(done),
            }
            if batch.len() == MAX_BATCH {
                self.commit_batch(std::mem::take(&mut batch));
            }
        }
        if !batch.is_empty() {
            self.commit_batch(batch);
        }
        drop(self);
        for done in closers {
            let _ = done.send(());
        }
    }

    /// Runs `jobs` in one transaction and answers each of them.
    fn commit_batch(&mut self, jobs: Vec<Job>) {
        let size = jobs.len();
        match run_batch(&self.conn, jobs) {
            Ok(()) => {}
            Err(err) => {
                tracing::error!(error = %err, writes = size, "a group commit failed; its writes were not made");
                // The transaction may be left in any state: start afresh.
                match open_writer(&self.file) {
                    Ok(conn) => self.conn = conn,
                    Err(err) => tracing::error!(error = %err, "could not reopen the SQLite writer"),
                }
            }
        }
    }
}

/// Runs `jobs` each in a savepoint of one transaction, commits, then answers
/// each job. On an error that concerns the whole batch, every job has been
/// answered with it and the error is returned.
fn run_batch(conn: &Connection, jobs: Vec<Job>) -> Result<(), Arc<rusqlite::Error>> {
    if let Err(err) = execute(conn, BEGIN) {
        return Err(fail_batch(err, Vec::new(), jobs));
    }
    let mut held: Vec<Box<dyn Answer>> = Vec::with_capacity(jobs.len());
    let mut jobs = jobs.into_iter();
    let mut failed = None;
    for job in jobs.by_ref() {
        if let Err(err) = execute(conn, "SAVEPOINT write") {
            failed = Some((err, Some(job)));
            break;
        }
        let answer = job.run(conn);
        // A job that failed is undone alone; the batch goes on.
        let closed = if answer.is_ok() {
            execute(conn, "RELEASE write")
        } else {
            execute(conn, "ROLLBACK TO write").and_then(|()| execute(conn, "RELEASE write"))
        };
        held.push(answer);
        if let Err(err) = closed {
            failed = Some((err, None));
            break;
        }
    }
    if let Some((err, unrun)) = failed {
        // Nothing of the batch may be committed: the rollback undoes it, and
        // reopening the connection after undoes what a failed rollback could
        // not.
        let _ = execute(conn, "ROLLBACK");
        return Err(fail_batch(err, held, unrun.into_iter().chain(jobs)));
    }
    match execute(conn, "COMMIT") {
        Ok(()) => {
            // Before the answers, so that whoever got one sees the event.
            tracing::trace!(writes = held.len(), "group commit");
            for answer in held {
                answer.send();
            }
            Ok(())
        }
        Err(err) => {
            let _ = execute(conn, "ROLLBACK");
            Err(fail_batch(err, held, Vec::new()))
        }
    }
}

/// Runs a statement without results through the statement cache.
fn execute(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(drop)
}

/// Answers every job, run or not, with `err`, shared; returns it.
fn fail_batch(
    err: rusqlite::Error,
    held: Vec<Box<dyn Answer>>,
    unrun: impl IntoIterator<Item = Job>,
) -> Arc<rusqlite::Error> {
    let err = Arc::new(err);
    for answer in held {
        answer.fail(DbError::BatchFailed(Arc::clone(&err)));
    }
    for job in unrun {
        job.fail(DbError::BatchFailed(Arc::clone(&err)));
    }
    err
}

impl Job {
    /// Runs the job's statement on `conn`; the result is held, not sent.
    fn run(self, conn: &Connection) -> Box<dyn Answer> {
        match self {
            Self::Insert {
                user_id,
                title,
                content,
                reply,
            } => Held::boxed(reply, statements::insert(conn, user_id, &title, &content)),
            Self::Update {
                id,
                user_id,
                title,
                content,
                archived,
                reply,
            } => {
                let changes = MemoChanges {
                    title: title.as_deref(),
                    content: content.as_deref(),
                    archived,
                };
                Held::boxed(reply, statements::update(conn, id, user_id, &changes))
            }
            Self::Delete { id, user_id, reply } => {
                Held::boxed(reply, statements::delete(conn, id, user_id))
            }
        }
    }

    /// Answers the job with `err` without running it (its batch failed).
    fn fail(self, err: DbError) {
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
    result: rusqlite::Result<T>,
}

impl<T: Send + 'static> Held<T> {
    fn boxed(reply: Reply<T>, result: rusqlite::Result<T>) -> Box<dyn Answer> {
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
    fn fail(self: Box<Self>, err: DbError);
}

impl<T: Send> Answer for Held<T> {
    fn is_ok(&self) -> bool {
        self.result.is_ok()
    }

    fn send(self: Box<Self>) {
        // The caller may have gone (its request was cancelled): the write
        // stands all the same, as it would have without group commit.
        let _ = self.reply.send(self.result.map_err(DbError::Sqlite));
    }

    fn fail(self: Box<Self>, err: DbError) {
        let _ = self.reply.send(Err(err));
    }
}
