//! [`PgConnections`]: PostgreSQL connections kept out of sqlx's pool between statements, so
//! that a one-statement request (a rotation, a revocation check) makes one round trip to
//! PostgreSQL instead of two or three.
//!
//! sqlx 0.8's pool pings an idle connection before handing it out (`test_before_acquire`,
//! unless turned off) and always pings it again, on a task of its own, when it is returned:
//! its guard against a future dropped in the middle of a statement. Both pings are round trips
//! to another process, on the request's path or beside it on the same cores.

use std::{
    fmt,
    ops::{Deref, DerefMut},
    sync::{
        Arc, Mutex, MutexGuard, PoisonError, Weak,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use sqlx::{Connection as _, PgConnection, PgPool, pool::PoolConnection, postgres::PgPoolOptions};
use tokio::{runtime::Handle, task::JoinHandle};

/// A connection used less than this long ago is handed out unchecked (HikariCP's
/// `aliveBypassWindowMs` is the same idea and value): it answered a statement a moment ago, and
/// one that broke since fails its statement and is closed.
const TRUSTED_IDLE: Duration = Duration::from_millis(500);

/// How long the ping of a connection idle for [`TRUSTED_IDLE`] may take: one left half-open
/// behind a firewall would otherwise wait for TCP's timeout.
const PING_TIMEOUT: Duration = Duration::from_secs(1);

/// How long a connection stays out of sqlx's pool before it goes back at its next release, so
/// that the pool's `max_lifetime` and its check on return still apply under steady load, and
/// its statements are prepared again (see [`PgConnections::kept_for`]).
const KEPT_AT_MOST: Duration = Duration::from_secs(60);

/// PostgreSQL connections kept out of sqlx's pool between statements: each is taken with
/// [`take`](Self::take), used, and handed back with [`give_back`](Self::give_back), which
/// keeps it (up to [`most`](Self::keeping)) for the next statement instead of returning it to
/// the pool, where sqlx would ping it.
///
/// A connection is kept only after its statement succeeded, so it is in step with the server;
/// one whose statement failed, or whose future was dropped (a cancelled request), goes back to
/// sqlx, which checks it as always. A kept one idle for 500 ms or more is pinged before use
/// (bounded by 1 s; one that does not answer is closed), and one kept for a minute goes back to
/// the pool at its next release, so the pool's `max_lifetime` applies, its prepared statements
/// closed first so that their plans are made again ([`kept_for`](Self::kept_for)). When the pool is
/// closed, the kept connections go back to it, so `pool.close()` does not wait for them; while
/// it is short (every connection open and none idle), connections go back instead of being
/// kept. The pool itself should
/// be built with [`pool_options`](Self::pool_options) (or without `test_before_acquire`), and
/// be larger by the connections kept than the statements on it need.
///
/// Kept connections bypass the pool's own handling while they are kept: its `after_release`
/// and `before_acquire` hooks do not run between two statements on one (do not rely on them
/// to reset session state; the statements run here set none), its `idle_timeout` does not
/// close them, and its `max_lifetime` applies when they go back. Each `PgConnections` keeps
/// its own set: share one ([`Clone`]) rather than making two over one pool.
///
/// Cheap to clone: clones share the connections.
/// [`SqlStore::postgres_with`](crate::SqlStore::postgres_with) shares them with an app's own
/// statements, so one set is kept for both.
///
/// ```no_run
/// # async fn run(url: &str) -> Result<(), sqlx::Error> {
/// use jwt_extended::PgConnections;
/// let pool = PgConnections::pool_options().max_connections(18).connect(url).await?;
/// let connections = PgConnections::new(pool);
/// let mut connection = connections.take().await?;
/// let outcome = sqlx::query("SELECT 1").execute(&mut *connection).await;
/// connections.give_back(connection, &outcome);
/// outcome?;
/// # Ok(()) }
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
#[derive(Clone)]
pub struct PgConnections {
    inner: Arc<Inner>,
}

struct Inner {
    pool: PgPool,
    most: usize,
    /// [`KEPT_AT_MOST`] unless set, in microseconds.
    kept_for_micros: AtomicU64,
    state: Mutex<State>,
}

struct State {
    /// `None` once [`PgConnections::release`]d: the pool is closing.
    kept: Option<Vec<Idle>>,
    /// The task that releases the kept connections when the pool closes, started on the
    /// runtime that keeps one (again if that runtime has shut down since).
    watcher: Option<JoinHandle<()>>,
}

/// A kept connection and when it was last given back.
struct Idle {
    connection: KeptConnection,
    since: Instant,
}

/// A connection taken with [`PgConnections::take`]: use it as a `&mut PgConnection`
/// (`&mut *connection`) and hand it back with [`PgConnections::give_back`]. Dropped instead, it
/// goes back to sqlx's pool.
pub struct KeptConnection {
    connection: PoolConnection<sqlx::Postgres>,
    /// When it was taken out of sqlx's pool.
    out_since: Instant,
}

impl Deref for KeptConnection {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        &self.connection
    }
}

impl DerefMut for KeptConnection {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.connection
    }
}

impl KeptConnection {
    /// Closes the connection when it is dropped, instead of handing it back to sqlx's pool: for
    /// a statement abandoned half-way (its caller's timeout), which sqlx's pool would otherwise
    /// wait on, its place in the pool taken, until PostgreSQL finishes the statement. The
    /// statement itself runs on in PostgreSQL until it ends or reads the connection's close.
    ///
    /// ```no_run
    /// # async fn example(connections: jwt_extended::PgConnections) -> Result<(), sqlx::Error> {
    /// use std::time::Duration;
    ///
    /// let mut connection = connections.take().await?;
    /// let query = sqlx::query("SELECT pg_sleep(60)").execute(&mut *connection);
    /// match tokio::time::timeout(Duration::from_secs(10), query).await {
    ///     Ok(outcome) => connections.give_back(connection, &outcome),
    ///     // Dropped here: closed, so the pool opens another.
    ///     Err(_) => connection.close_on_drop(),
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn close_on_drop(&mut self) {
        self.connection.close_on_drop();
    }
}

impl fmt::Debug for KeptConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeptConnection")
            .field("out_for", &self.out_since.elapsed())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for PgConnections {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgConnections")
            .field("most", &self.inner.most)
            .field("kept", &self.kept())
            .finish_non_exhaustive()
    }
}

impl PgConnections {
    /// How many connections [`new`](Self::new) keeps at most: as many requests as one
    /// instance has in flight on two cores under load.
    pub const DEFAULT_MOST: usize = 8;

    /// Keeps up to [`DEFAULT_MOST`](Self::DEFAULT_MOST) of `pool`'s connections, and never
    /// more than half its `max_connections`, so that statements run on the pool itself (an
    /// app's own, sharing it) always find connections.
    #[must_use]
    pub fn new(pool: PgPool) -> Self {
        let half = pool.options().get_max_connections() as usize / 2;
        Self::keeping(pool, Self::DEFAULT_MOST.min(half))
    }

    /// Keeps up to `most` of `pool`'s connections (0 keeps none: every statement returns its
    /// connection to the pool). Whatever `most`, a connection goes back to the pool instead of
    /// being kept while the pool has opened all it may and none is idle: a statement may be
    /// waiting for one.
    #[must_use]
    pub fn keeping(pool: PgPool, most: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                pool,
                most,
                kept_for_micros: AtomicU64::new(micros(KEPT_AT_MOST)),
                state: Mutex::new(State {
                    kept: Some(Vec::with_capacity(most)),
                    watcher: None,
                }),
            }),
        }
    }

    /// How long a connection stays out of sqlx's pool (a minute unless set; for this set and
    /// every clone of it): at its first release after that, its prepared statements are closed
    /// and it goes back to the pool (`Duration::ZERO`: at every release). A connection that
    /// goes back another way (its statement failed, the pool was short, enough were kept) keeps
    /// its statements until sqlx closes it (its `max_lifetime`).
    ///
    /// PostgreSQL makes a prepared statement's generic plan for the tables as they are when
    /// it is prepared, and keeps it while the statement lives: for the connection's life, up
    /// to the pool's `max_lifetime`, unless an `ANALYZE` (autovacuum's) invalidates it. A plan
    /// made on a table of a few rows scans the table, and goes on scanning it as it grows:
    /// on a server without autovacuum, a statement's cost grew with the table for as long as
    /// its connection lived. Closed a minute on, the statements are prepared again, on the
    /// tables as they are then. (The session store's rotations no longer depend on it: they
    /// run in a function with sequential scans off.)
    ///
    /// ```no_run
    /// # fn example(pool: sqlx::PgPool) {
    /// use std::time::Duration;
    /// let connections = jwt_extended::PgConnections::new(pool).kept_for(Duration::from_secs(30));
    /// # }
    /// ```
    #[must_use]
    pub fn kept_for(self, kept_for: Duration) -> Self {
        self.inner
            .kept_for_micros
            .store(micros(kept_for), Ordering::Relaxed);
        self
    }

    /// Pool options that ping a connection before handing it out only when it has been idle
    /// for 500 ms or more, instead of always (sqlx's default): set `max_connections` and the
    /// rest, then connect.
    #[must_use]
    pub fn pool_options() -> PgPoolOptions {
        PgPoolOptions::new()
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

    /// The pool the connections come from, for statements that need no kept connection.
    #[must_use]
    pub fn pool(&self) -> &PgPool {
        &self.inner.pool
    }

    /// How many connections are kept now (for metrics and tests).
    #[must_use]
    pub fn kept(&self) -> usize {
        self.inner.state().kept.as_ref().map_or(0, Vec::len)
    }

    /// The connection given back last, when one is kept and answers; else one of the pool's.
    ///
    /// # Errors
    /// The pool's error when it has no connection to give (its `acquire_timeout`, a closed
    /// pool, PostgreSQL unreachable).
    pub async fn take(&self) -> Result<KeptConnection, sqlx::Error> {
        loop {
            let kept = self.inner.state().kept.as_mut().and_then(Vec::pop);
            let Some(Idle {
                mut connection,
                since,
            }) = kept
            else {
                let connection = self.inner.pool.acquire().await?;
                let out_since = Instant::now();
                return Ok(KeptConnection {
                    connection,
                    out_since,
                });
            };
            if since.elapsed() < TRUSTED_IDLE {
                return Ok(connection);
            }
            if let Ok(Ok(())) = tokio::time::timeout(PING_TIMEOUT, connection.ping()).await {
                return Ok(connection);
            }
            // Broken while idle: closed, not checked again by the pool. The others kept, idle
            // as long or longer, go back to the pool, which checks them off this request's
            // path, so that a network gone half-open costs one ping's timeout, not one each.
            connection.connection.close_on_drop();
            let others = self.inner.state().kept.as_mut().map(std::mem::take);
            drop(others);
        }
    }

    /// Keeps `connection` for the next statement when its statement succeeded, it has been out
    /// of the pool for less than [`kept_for`](Self::kept_for) (a minute), the pool is not short
    /// of connections and fewer than `most` are kept; otherwise returns it to the pool, which
    /// checks it. One out for its time first has its prepared statements closed.
    pub fn give_back<T, E>(&self, connection: KeptConnection, outcome: &Result<T, E>) {
        if outcome.is_err() {
            return;
        }
        let kept_for = Duration::from_micros(self.inner.kept_for_micros.load(Ordering::Relaxed));
        if connection.out_since.elapsed() >= kept_for && !self.inner.pool.is_closed() {
            prepare_again_then_return(connection);
            return;
        }
        if self.pool_is_short() {
            return;
        }
        let Ok(runtime) = Handle::try_current() else {
            return;
        };
        let mut state = self.inner.state();
        let State {
            kept: Some(kept),
            watcher,
        } = &mut *state
        else {
            return;
        };
        if kept.len() >= self.inner.most {
            return;
        }
        // `pool.close()` waits for every connection: this task gives the kept ones back then.
        if watcher.as_ref().is_none_or(JoinHandle::is_finished) {
            let closed = self.inner.pool.close_event();
            let inner = Arc::downgrade(&self.inner);
            *watcher = Some(runtime.spawn(release_on_close(closed, inner)));
        }
        let since = Instant::now();
        kept.push(Idle { connection, since });
    }

    /// Whether the pool has opened every connection it may and has none idle: a statement on
    /// it may be waiting.
    fn pool_is_short(&self) -> bool {
        let pool = &self.inner.pool;
        pool.num_idle() == 0 && pool.size() >= pool.options().get_max_connections()
    }

    /// Returns every kept connection to the pool and keeps none from now on: call it before
    /// closing the pool, which waits for every connection to come back.
    pub fn release(&self) {
        self.inner.release();
    }
}

/// Closes `connection`'s prepared statements on a task of its own, then lets it go back to
/// the pool: their plans are made again on the tables as they are by the next statements on
/// it ([`PgConnections::kept_for`]). A connection that fails to close them in [`PING_TIMEOUT`]
/// (one round trip) is closed. Without a runtime it is dropped here, as before.
fn prepare_again_then_return(mut connection: KeptConnection) {
    let Ok(runtime) = Handle::try_current() else {
        return;
    };
    runtime.spawn(async move {
        let cleared = tokio::time::timeout(
            PING_TIMEOUT,
            connection.connection.clear_cached_statements(),
        )
        .await;
        if !matches!(cleared, Ok(Ok(()))) {
            connection.close_on_drop();
        }
    });
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

async fn release_on_close(closed: sqlx::pool::CloseEvent, inner: Weak<Inner>) {
    closed.await;
    if let Some(inner) = inner.upgrade() {
        inner.release();
    }
}

impl Inner {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn release(&self) {
        let kept = self.state().kept.take();
        drop(kept);
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let state = self.state.get_mut().unwrap_or_else(PoisonError::into_inner);
        if let Some(watcher) = state.watcher.take() {
            watcher.abort();
        }
        // sqlx gives a connection back to its pool on a task of the runtime; without one here
        // (the last clone dropped after its runtime's `block_on`), each kept connection is
        // detached from the pool instead: closed, its place in the pool freed.
        if Handle::try_current().is_err() {
            for idle in state.kept.take().into_iter().flatten() {
                drop(idle.connection.connection.detach());
            }
        }
    }
}
