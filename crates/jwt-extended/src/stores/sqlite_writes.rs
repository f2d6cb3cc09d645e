//! Group commit for [`SqlStore`](super::SqlStore) on SQLite: every write (a login, a rotation, a
//! revocation) goes to one task, which commits whatever has queued up meanwhile in one
//! transaction, so concurrent writes share one fsync.
//!
//! With `synchronous=FULL`, each write committed on its own waited for its own fsync, one at a
//! time on the store's connection: refreshes stayed at about 2,500/s from 1 to 32 concurrent
//! clients on the machine of `docs/performance.md`. A write is still acknowledged only once it
//! is durable. When one write of a batch fails (a duplicate family, say), the batch is rolled
//! back and each of its writes is committed alone, so a bad write never fails another.
//!
//! On a SQLite file the batches run on a thread of the store's own (`sqlite_thread.rs`); here,
//! on the pool's connection, for a database in memory.

use std::time::Duration;

use sqlx::{SqliteConnection, SqlitePool};
use tokio::sync::{mpsc, oneshot};

use super::{
    sql::{
        CREATE_SQL, END_SQL, EndedRow, MARK_REVOKED_SQL, READ_FAMILY_SQL, REVOKE_SQL, SWAP_SQL,
        Settled, create_query, mark_revoked_query, revoke_query, settle, swap_query,
    },
    traits::{RefreshId, RotateOutcome, SessionInfo, StoreError},
};

/// The most writes one transaction commits; more wait for the next.
pub(super) const MAX_BATCH: usize = 256;

/// One write, as the store was asked for it.
#[derive(Debug)]
pub(super) enum Write {
    Create {
        session: SessionInfo,
        refresh: RefreshId,
    },
    Rotate {
        family: String,
        presented: String,
        successor: RefreshId,
        now: i64,
        grace: Duration,
    },
    Revoke {
        jti: String,
        until: i64,
    },
    RevokeFamily {
        family: String,
        now: i64,
    },
    End {
        user: String,
        family: String,
        now: i64,
    },
}

/// What a committed write answers: a rotation's outcome, the login ended, or nothing.
#[derive(Debug)]
pub(super) enum Written {
    Done,
    Rotated(RotateOutcome),
    Ended(Option<EndedRow>),
}

pub(super) struct Job {
    pub(super) write: Write,
    reply: oneshot::Sender<Result<Written, StoreError>>,
}

/// The sending side of the writer task; the task ends when the last store clone drops this.
#[derive(Debug, Clone)]
pub(super) struct Writer {
    jobs: mpsc::UnboundedSender<Job>,
}

impl Writer {
    /// Starts the writer on the current tokio runtime: the file's writer thread, or a task
    /// writing on the pool when the database is in memory.
    pub(super) fn start(pool: SqlitePool) -> Self {
        let (jobs, queue) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            if let Err(queue) = super::sqlite_thread::start(&pool, queue).await {
                run(pool, queue).await;
            }
        });
        Self { jobs }
    }

    /// Queues `write` and waits until it is committed (or failed).
    pub(super) async fn write(&self, write: Write) -> Result<Written, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.jobs.send(Job { write, reply }).map_err(stopped)?;
        answer.await.map_err(stopped)?
    }
}

async fn run(pool: SqlitePool, mut queue: mpsc::UnboundedReceiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        commit(&pool, std::mem::take(&mut batch)).await;
    }
}

/// Commits `jobs` in one transaction, or, when that fails, each in its own.
async fn commit(pool: &SqlitePool, jobs: Vec<Job>) {
    let writes: Vec<&Write> = jobs.iter().map(|job| &job.write).collect();
    let answers = match in_one_transaction(pool, &writes).await {
        Ok(answers) => answers.into_iter().map(Ok).collect(),
        Err(error) if jobs.len() == 1 => vec![Err(error)],
        Err(_) => {
            let mut answers = Vec::with_capacity(jobs.len());
            for write in &writes {
                let alone = in_one_transaction(pool, std::slice::from_ref(write)).await;
                answers.push(alone.and_then(|mut one| one.pop().ok_or_else(no_answer)));
            }
            answers
        }
    };
    reply(jobs, answers);
}

/// Answers each job with its answer, in order.
pub(super) fn reply(jobs: Vec<Job>, answers: Vec<Result<Written, StoreError>>) {
    for (job, answer) in jobs.into_iter().zip(answers) {
        // The caller may have gone (its request was cancelled); the write stands.
        let _ = job.reply.send(answer);
    }
}

fn stopped<E>(_: E) -> StoreError {
    StoreError::new("the SQLite writer has stopped")
}

pub(super) fn no_answer() -> StoreError {
    StoreError::new("the SQLite writer lost an answer")
}

async fn in_one_transaction(
    pool: &SqlitePool,
    writes: &[&Write],
) -> Result<Vec<Written>, StoreError> {
    let mut conn = pool.acquire().await.map_err(StoreError::new)?;
    // IMMEDIATE: the write lock is taken (or waited for) before anything is read.
    run_sql(&mut conn, "BEGIN IMMEDIATE").await?;
    let mut answers = Vec::with_capacity(writes.len());
    for write in writes {
        match apply(&mut conn, write).await {
            Ok(answer) => answers.push(answer),
            Err(error) => {
                let _ = run_sql(&mut conn, "ROLLBACK").await;
                return Err(error);
            }
        }
    }
    if let Err(error) = run_sql(&mut conn, "COMMIT").await {
        let _ = run_sql(&mut conn, "ROLLBACK").await;
        return Err(error);
    }
    Ok(answers)
}

async fn run_sql(conn: &mut SqliteConnection, sql: &str) -> Result<(), StoreError> {
    sqlx::query(sql)
        .execute(conn)
        .await
        .map(drop)
        .map_err(StoreError::new)
}

async fn apply(conn: &mut SqliteConnection, write: &Write) -> Result<Written, StoreError> {
    let done = match write {
        Write::Create { session, refresh } => create_query!(session, refresh).execute(&mut *conn),
        Write::Rotate {
            family,
            presented,
            successor,
            now,
            grace,
        } => return rotate(conn, family, presented, successor, *now, *grace).await,
        Write::Revoke { jti, until } => revoke_query!(jti, until).execute(&mut *conn),
        Write::RevokeFamily { family, now } => mark_revoked_query!(family, now).execute(&mut *conn),
        Write::End { user, family, now } => {
            let ended = sqlx::query_as(END_SQL)
                .bind(now)
                .bind(family)
                .bind(user)
                .fetch_optional(&mut *conn)
                .await;
            return ended.map(Written::Ended).map_err(StoreError::new);
        }
    };
    done.await.map(|_| Written::Done).map_err(StoreError::new)
}

async fn rotate(
    conn: &mut SqliteConnection,
    family: &str,
    presented: &str,
    successor: &RefreshId,
    now: i64,
    grace: Duration,
) -> Result<Written, StoreError> {
    let swapped = swap_query!(family, presented, successor, now)
        .execute(&mut *conn)
        .await
        .map_err(StoreError::new)?
        .rows_affected();
    if swapped == 1 {
        return Ok(Written::Rotated(RotateOutcome::Rotated));
    }
    let row = sqlx::query_as(READ_FAMILY_SQL)
        .bind(family)
        .fetch_optional(&mut *conn)
        .await
        .map_err(StoreError::new)?;
    let outcome = match settle(row, presented, now, grace) {
        Settled::Outcome(outcome) => outcome,
        Settled::Reused => {
            mark_revoked_query!(family, now)
                .execute(&mut *conn)
                .await
                .map_err(StoreError::new)?;
            RotateOutcome::Reused
        }
    };
    Ok(Written::Rotated(outcome))
}

/// Writes and jobs for the group commit's tests (here and `sqlite_thread.rs`).
#[cfg(test)]
pub(super) mod test_jobs {
    use super::*;

    /// A login of `family` with its first refresh token, `{family}-r1`.
    pub(in crate::stores) fn create(family: &str) -> Write {
        Write::Create {
            session: SessionInfo {
                id: family.to_owned(),
                user: "7".to_owned(),
                created_at: 1,
                last_used_at: 1,
                user_agent: None,
                expires_at: None,
            },
            refresh: RefreshId {
                jti: format!("{family}-r1"),
                exp: None,
            },
        }
    }

    /// `write` as a job, and where its answer arrives.
    pub(in crate::stores) fn job(
        write: Write,
    ) -> (Job, oneshot::Receiver<Result<Written, StoreError>>) {
        let (reply, answer) = oneshot::channel();
        (Job { write, reply }, answer)
    }
}

#[cfg(test)]
mod tests {
    use sqlx::sqlite::SqlitePoolOptions;

    use super::{
        test_jobs::{create, job},
        *,
    };
    use crate::SqlStore;

    #[tokio::test]
    async fn a_failing_write_fails_alone_and_the_rest_of_its_batch_commits() {
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .expect("sqlite");
        let store = SqlStore::sqlite(pool.clone());
        store.migrate().await.expect("migrate");
        let (first, answer) = job(create("fam-dup"));
        commit(&pool, vec![first]).await;
        assert!(answer.await.expect("answered").is_ok());

        let (dup, dup_answer) = job(create("fam-dup"));
        let (ok, ok_answer) = job(create("fam-ok"));
        let revoke = Write::Revoke {
            jti: "gone".to_owned(),
            until: i64::MAX / 2,
        };
        let (revoke, revoke_answer) = job(revoke);
        commit(&pool, vec![ok, dup, revoke]).await;

        assert!(
            dup_answer.await.expect("answered").is_err(),
            "same family twice"
        );
        assert!(ok_answer.await.expect("answered").is_ok());
        assert!(revoke_answer.await.expect("answered").is_ok());
        let families: Vec<String> =
            sqlx::query_scalar("SELECT family FROM jwt_sessions ORDER BY family")
                .fetch_all(&pool)
                .await
                .expect("read");
        assert_eq!(families, ["fam-dup", "fam-ok"]);
        let revoked: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM jwt_revoked_tokens WHERE jti = 'gone'")
                .fetch_one(&pool)
                .await
                .expect("read");
        assert_eq!(revoked, 1);
    }
}
