//! Group commit for [`SqlStore`](super::SqlStore)'s rotations on PostgreSQL: every swap of a
//! refresh token goes to one task, which runs all the swaps queued meanwhile as one `UPDATE`
//! (one round trip, one transaction, one flush of the WAL) and answers each.
//!
//! Committed one per statement, 8 clients' rotations each waited for a WAL flush of their own
//! (or queued behind another's) on a backend of their own: pgbench made 11,100-11,600 of them
//! a second where one client committing 8 per statement made 15,900-16,500 (memo's
//! `docs/performance.md`, "Group commit on PostgreSQL"). A swap is still answered only once
//! committed. The swaps of a batch are sorted by family, so two instances' batches usually
//! lock their rows in one order; when PostgreSQL refuses a batch (a deadlock all the same, a
//! constraint), each of its swaps is run alone, so one bad swap never fails another.
//!
//! Only the happy path is batched: a swap that touched no row (a repeat, reuse, a revoked
//! family) is settled by the caller, reading the family's row, as before.

use std::{
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use tokio::sync::{mpsc, oneshot};

use super::{
    PgConnections,
    sql::on_kept,
    traits::{RefreshId, StoreError},
};

/// The most swaps one statement commits; more wait for the next.
const MAX_BATCH: usize = 256;

/// Swaps queued at most; one more waits for room up to [`QUEUE_WAIT`], then fails (503 in an
/// app) rather than queueing without end while PostgreSQL is slow.
const QUEUE_CAPACITY: usize = 4 * MAX_BATCH;

/// How long a swap may wait for room in the queue: a busy pool's acquire timeout.
const QUEUE_WAIT: Duration = Duration::from_secs(5);

/// The function that swaps each presented token (`$2`) for its successor (`$3`, expiring at
/// `$4`) if it is still its family's (`$1`) current one, at the time `$5`; it returns the
/// families and successors that took. A family twice in one batch is updated once (PostgreSQL
/// uses one of the two): the other swap's caller then finds its token retired a moment ago, as
/// when two requests race. Created by [`SqlStore::migrate`](super::SqlStore::migrate).
///
/// A function, so that the statement runs with sequential scans off: a batch reads its
/// families' rows through the primary key at any size of the table. As a plain statement its
/// generic plan, which PostgreSQL makes for a batch of 10 families, scanned the whole table
/// until it held some 80 pages (a few thousand logins), reading every login for each batch:
/// 0.26 ms a batch of 3 at 1,000 logins against 0.09 ms at 20, and 0.8 ms at 6,000 on a plan
/// made when the table was small.
pub(super) const SWAP_FUNCTION_SQL: &str = "CREATE OR REPLACE FUNCTION jwt_swap_sessions(\
     families TEXT[], presented TEXT[], successors TEXT[], exps BIGINT[], nows BIGINT[]) \
     RETURNS TABLE (swapped_family TEXT, swapped_jti TEXT) LANGUAGE plpgsql \
     SET enable_seqscan = off AS $swap$ BEGIN RETURN QUERY \
     UPDATE jwt_sessions AS s SET retired_jti = s.current_jti, retired_at = b.now, \
     current_jti = b.successor, current_exp = b.exp, last_used_at = b.now \
     FROM unnest($1, $2, $3, $4, $5) AS b(family, presented, successor, exp, now) \
     WHERE s.family = ANY($1) AND s.family = b.family AND s.current_jti = b.presented \
     AND s.revoked_at IS NULL AND (s.current_exp IS NULL OR s.current_exp > b.now) \
     RETURNING s.family, s.current_jti; END $swap$";

/// A batch of swaps: one call of [`SWAP_FUNCTION_SQL`]'s function.
const BATCH_SWAP_SQL: &str = "SELECT swapped_family, swapped_jti \
     FROM jwt_swap_sessions($1::text[], $2::text[], $3::text[], $4::int8[], $5::int8[])";

/// One swap and where its answer goes: whether the successor took.
struct Swap {
    family: String,
    presented: String,
    successor: RefreshId,
    now: i64,
    reply: oneshot::Sender<Result<bool, StoreError>>,
}

impl Swap {
    /// Whether the statement's `rows` say this swap took.
    fn took(&self, rows: &[(String, String)]) -> bool {
        rows.iter()
            .any(|(family, jti)| *family == self.family && *jti == self.successor.jti)
    }
}

/// The queue of the store's swapping task, started by the first rotation on the tokio runtime
/// that makes it, and again by the next one if that runtime has shut down since (tests run
/// each on a runtime of its own); the task ends with the last clone of the store.
#[derive(Default)]
pub(super) struct Swaps {
    queue: Mutex<Option<mpsc::Sender<Swap>>>,
}

impl Swaps {
    /// Swaps `presented` for `successor` in `family` if it is the current token: `Ok(true)`
    /// once committed, `Ok(false)` when no row matched.
    pub(super) async fn swap(
        &self,
        connections: &PgConnections,
        family: &str,
        presented: &str,
        successor: &RefreshId,
        now: i64,
    ) -> Result<bool, StoreError> {
        let (reply, answer) = oneshot::channel();
        let swap = Swap {
            family: family.to_owned(),
            presented: presented.to_owned(),
            successor: successor.clone(),
            now,
            reply,
        };
        self.sender(connections)
            .send_timeout(swap, QUEUE_WAIT)
            .await
            .map_err(|_| StoreError::new("the rotation writer's queue stayed full or stopped"))?;
        answer
            .await
            .map_err(|_| StoreError::new("the rotation writer stopped before answering"))?
    }

    /// The task's queue, started now if there is none or its task has ended.
    fn sender(&self, connections: &PgConnections) -> mpsc::Sender<Swap> {
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(sender) = queue.as_ref().filter(|sender| !sender.is_closed()) {
            return sender.clone();
        }
        let (sender, receiver) = mpsc::channel(QUEUE_CAPACITY);
        tokio::spawn(run(connections.clone(), receiver));
        *queue = Some(sender.clone());
        sender
    }
}

async fn run(connections: PgConnections, mut queue: mpsc::Receiver<Swap>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        commit(&connections, std::mem::take(&mut batch)).await;
    }
}

/// Runs `swaps` as one statement; answers each (a caller that stopped waiting, a cancelled
/// request, is skipped).
///
/// When PostgreSQL refuses the statement, nothing of it was done, and each swap is run alone,
/// so the one at fault fails alone. When the statement is lost without PostgreSQL's answer (the
/// connection broke), it may have committed: each caller gets the error, as one would have
/// whose own statement was lost.
async fn commit(connections: &PgConnections, mut swaps: Vec<Swap>) {
    // A caller that stopped waiting (a cancelled request) never got its successor: leaving its
    // token current lets the client's retry rotate it, instead of finding it retired.
    swaps.retain(|swap| !swap.reply.is_closed());
    if swaps.is_empty() {
        return;
    }
    // Sorted, the families usually lock in one order in every instance's batches; a deadlock
    // all the same (PostgreSQL breaks it after `deadlock_timeout`) runs each swap alone.
    swaps.sort_unstable_by(|a, b| a.family.cmp(&b.family));
    match run_batch(connections, &swaps).await {
        Ok(took) => {
            for swap in swaps {
                let took = swap.took(&took);
                let _ = swap.reply.send(Ok(took));
            }
        }
        Err(error) if swaps.len() == 1 => {
            if let Some(swap) = swaps.pop() {
                let _ = swap.reply.send(Err(StoreError::new(error)));
            }
        }
        Err(error) if refused(&error) => {
            for swap in swaps {
                let alone = run_batch(connections, std::slice::from_ref(&swap)).await;
                let took = alone.map(|took| swap.took(&took));
                let _ = swap.reply.send(took.map_err(StoreError::new));
            }
        }
        Err(error) => {
            let shared = Arc::new(error);
            for swap in swaps {
                let _ = swap.reply.send(Err(StoreError::new(Arc::clone(&shared))));
            }
        }
    }
}

/// Whether PostgreSQL refused the statement itself (a constraint, a deadlock), so that nothing
/// of it was done and each swap may run alone; not when the server is going away or out of
/// resources (classes 57P, 08 and 53), where each alone would fail the same way, one by one.
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

/// The families and successors that took: one statement, on a kept connection.
async fn run_batch(
    connections: &PgConnections,
    swaps: &[Swap],
) -> Result<Vec<(String, String)>, sqlx::Error> {
    let column = |f: fn(&Swap) -> &str| swaps.iter().map(f).collect::<Vec<&str>>();
    let families = column(|s| &s.family);
    let presented = column(|s| &s.presented);
    let successors = column(|s| &s.successor.jti);
    let exps: Vec<Option<i64>> = swaps.iter().map(|s| s.successor.exp).collect();
    let nows: Vec<i64> = swaps.iter().map(|s| s.now).collect();
    on_kept!(connections, |connection| sqlx::query_as(BATCH_SWAP_SQL)
        .bind(&families)
        .bind(&presented)
        .bind(&successors)
        .bind(&exps)
        .bind(&nows)
        .fetch_all(connection)
        .await)
}
