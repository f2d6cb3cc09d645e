//! How memo's PostgreSQL pool hands out connections: without a round trip
//! to check one that was in use a moment ago.
//!
//! sqlx's pool, by default, pings every idle connection before handing it
//! out (`test_before_acquire`), and pings it again when it is returned. A
//! request that runs one statement (a page of memos, a rotation) therefore
//! made three round trips to PostgreSQL: ping, statement, ping. The ping
//! on return is sqlx's (0.8 always makes it, off the request's path); the
//! one before is made only for a connection idle for [`TRUSTED_IDLE`] or
//! more, as HikariCP does with its `aliveBypassWindowMs`. A connection
//! returned less than that ago has just answered that ping, and one that
//! broke since fails its statement, which answers 503 and is closed; the
//! outage watcher (`outage.rs`) makes the requests after it fail fast.
//!
//! The ping on return is avoided for memo's own statements by not returning
//! their connections: [`Postgres`].

use std::{
    sync::{Mutex, MutexGuard, PoisonError},
    time::{Duration, Instant},
};

use sqlx::{Connection as _, PgPool, pool::PoolConnection, postgres::PgPoolOptions};

/// A connection idle for less than this is handed out unchecked
/// (HikariCP's default bypass window).
const TRUSTED_IDLE: Duration = Duration::from_millis(500);

/// The pool's options, with `max_connections` and `acquire_timeout`.
pub(super) fn options(max_connections: u32, acquire_timeout: Duration) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(acquire_timeout)
        .test_before_acquire(false)
        .before_acquire(|connection, meta| {
            Box::pin(async move {
                if meta.idle_for >= TRUSTED_IDLE {
                    connection.ping().await?;
                }
                Ok(true)
            })
        })
}

/// The most connections [`Postgres`] keeps between statements: the requests
/// one instance has in flight at a time under load. The pool is this much
/// larger, so that the connections kept never leave the users' and sessions'
/// statements short.
pub(super) const HELD: usize = 8;

/// PostgreSQL's pool, and the connections memo's own statements (the
/// memos') keep between requests, checked out of the pool and not given back
/// to it, so that none is pinged on its return.
///
/// sqlx 0.8 pings every connection given back to its pool (its guard against
/// a future dropped in the middle of a statement), a second round trip to
/// PostgreSQL after each one-statement request, off the request's path but
/// on the same two cores. A connection is kept here only after its statement
/// completed (so it is in step with the server); one whose request failed or
/// was cancelled goes back to sqlx, which checks it as before. A kept one
/// idle for [`TRUSTED_IDLE`] or more is pinged before use, as the pool does.
#[derive(Debug)]
pub(super) struct Postgres {
    pub(super) pool: PgPool,
    /// `None` once [`release`](Self::release)d: the pool is closing.
    kept: Mutex<Option<Vec<Kept>>>,
}

type Kept = (PoolConnection<sqlx::Postgres>, Instant);

/// How long the ping of a kept connection may take: one left half-open
/// behind a firewall would otherwise wait for TCP's timeout.
const PING_TIMEOUT: Duration = Duration::from_secs(1);

impl Postgres {
    pub(super) fn new(pool: PgPool) -> Self {
        Self {
            pool,
            kept: Mutex::new(Some(Vec::with_capacity(HELD))),
        }
    }

    fn kept(&self) -> MutexGuard<'_, Option<Vec<Kept>>> {
        self.kept.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The connection used last, when one is kept and answers; else the
    /// pool's.
    pub(super) async fn take(&self) -> Result<PoolConnection<sqlx::Postgres>, sqlx::Error> {
        loop {
            let kept = self.kept().as_mut().and_then(Vec::pop);
            let Some((mut connection, since)) = kept else {
                return self.pool.acquire().await;
            };
            if since.elapsed() < TRUSTED_IDLE {
                return Ok(connection);
            }
            if let Ok(Ok(())) = tokio::time::timeout(PING_TIMEOUT, connection.ping()).await {
                return Ok(connection);
            }
            // Broken while idle: closed, not checked again by the pool.
            connection.close_on_drop();
        }
    }

    /// Keeps `connection` for the next statement when its statement
    /// succeeded and fewer than [`HELD`] are kept; otherwise gives it back
    /// to the pool.
    pub(super) fn give_back<T, E>(
        &self,
        connection: PoolConnection<sqlx::Postgres>,
        outcome: &Result<T, E>,
    ) {
        if outcome.is_err() {
            return;
        }
        if let Some(kept) = self.kept().as_mut()
            && kept.len() < HELD
        {
            kept.push((connection, Instant::now()));
        }
    }

    /// Gives every kept connection back to the pool and keeps none from now
    /// on: the pool waits for them when it closes.
    pub(super) fn release(&self) {
        self.kept().take();
    }
}
