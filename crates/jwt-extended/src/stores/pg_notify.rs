//! `SqlStore::with_shared_cache` on PostgreSQL: revocation checks answered from memory on
//! every instance that shares the database, kept current by PostgreSQL's LISTEN/NOTIFY the way
//! `RedisStore`'s memory is kept current by pub/sub.
//!
//! Every revoking write on PostgreSQL notifies, in the statement that writes (so the message
//! goes out exactly when the write commits): the channel is named after the schema the tables
//! are in, so two apps in one database with their own schemas do not hear each other. Each
//! instance listens on a connection of its own, then loads the revoked ids, and only then lets
//! memory answer; while the connection is down (or silent: it is pinged after every quiet
//! [`HEARTBEAT`]) memory stops vouching for misses and the store asks the database again.

use std::{
    sync::{Arc, RwLock, Weak},
    time::Duration,
};

use sqlx::{
    PgPool,
    postgres::{PgListener, PgPoolOptions},
};
use tokio::{sync::oneshot, task::JoinHandle};

use super::{
    pg_connections::PgConnections,
    revoked_ids::RevokedIds,
    sql::{Pool, revoked_snapshot},
    traits::StoreError,
};

/// The channel's name as SQL, from the schema the store's tables are in.
macro_rules! channel {
    () => {
        "'jwt_revocations_' || left(md5(current_schema()), 16)"
    };
}
pub(super) use channel;

const CHANNEL_SQL: &str = concat!("SELECT ", channel!());

/// The listening connection's `application_name`.
const APPLICATION_NAME: &str = "jwt-extended revocations";

/// How long [`start`] waits for the first subscription and load.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a connection attempt or a ping may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(1);

/// How long loading every revoked id may take.
const LOAD_TIMEOUT: Duration = Duration::from_secs(8);

/// How long the listening connection may stay quiet before it is pinged.
const HEARTBEAT: Duration = Duration::from_secs(1);

/// The wait between two attempts to listen again.
const RETRY_DELAY: Duration = Duration::from_millis(250);

/// The listening task; stopped when the last clone of the store goes.
pub(super) struct Listener(JoinHandle<()>);

impl Drop for Listener {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts listening for `cache`, and returns once it is loaded and live.
pub(super) async fn start(
    connections: &PgConnections,
    cache: &Arc<RwLock<RevokedIds>>,
) -> Result<Listener, StoreError> {
    let pool = connections.pool();
    // A connection of its own: the listener must not hold one of the app's. Named, so that
    // `pg_stat_activity` tells what it is.
    let options = (*pool.connect_options()).clone();
    let own = PgPoolOptions::new()
        .max_connections(1)
        .max_lifetime(None)
        .idle_timeout(None)
        .connect_lazy_with(options.application_name(APPLICATION_NAME));
    // The schema, hence the channel, is the pool's for good: named once.
    let channel: String = within(
        COMMAND_TIMEOUT,
        sqlx::query_scalar(CHANNEL_SQL).fetch_one(pool),
    )
    .await?;
    let tables = Pool::Postgres(connections.clone());
    let (ready, loaded) = oneshot::channel();
    let task = tokio::spawn(listen(tables, own, channel, Arc::downgrade(cache), ready));
    let listener = Listener(task);
    match tokio::time::timeout(START_TIMEOUT, loaded).await {
        Ok(Ok(Ok(()))) => Ok(listener),
        Ok(Ok(Err(e))) => Err(e),
        _ => Err(StoreError::new(
            "timed out listening for revocations on PostgreSQL",
        )),
    }
}

/// Follows the channel; whenever that stops, memory stops vouching for misses, and it starts
/// again.
async fn listen(
    tables: Pool,
    own: PgPool,
    channel: String,
    cache: Weak<RwLock<RevokedIds>>,
    ready: oneshot::Sender<Result<(), StoreError>>,
) {
    let mut ready = Some(ready);
    loop {
        let result = follow(&tables, &own, &channel, &cache, &mut ready).await;
        let Some(strong) = cache.upgrade() else {
            return;
        };
        if let Ok(mut ids) = strong.write() {
            ids.complete = false;
        }
        drop(strong);
        if let Err(e) = result {
            if let Some(tx) = ready.take() {
                let _ = tx.send(Err(e));
                return;
            }
            tracing::warn!(error = %e, "listening for revocations on PostgreSQL failed; retrying");
        }
        tokio::time::sleep(RETRY_DELAY).await;
    }
}

/// Listens, loads every revoked id, marks memory complete, then applies each notification
/// until the connection is lost or stops answering its heartbeat.
async fn follow(
    tables: &Pool,
    own: &PgPool,
    channel: &str,
    cache: &Weak<RwLock<RevokedIds>>,
    ready: &mut Option<oneshot::Sender<Result<(), StoreError>>>,
) -> Result<(), StoreError> {
    let mut listener = within(COMMAND_TIMEOUT, PgListener::connect_with(own)).await?;
    within(COMMAND_TIMEOUT, listener.listen(channel)).await?;
    // Loaded after LISTEN: a revocation committed meanwhile is in the load or in a message.
    let snapshot = within(LOAD_TIMEOUT, revoked_snapshot(tables)).await?;
    {
        let Some(strong) = cache.upgrade() else {
            return Ok(());
        };
        let Ok(mut ids) = strong.write() else {
            return Err(StoreError::new("the revocation cache's lock is poisoned"));
        };
        for (kind, id, until) in snapshot {
            ids.insert(kind, &id, until);
        }
        ids.complete = true;
    }
    if let Some(tx) = ready.take() {
        let _ = tx.send(Ok(()));
    }
    loop {
        let notification = match tokio::time::timeout(HEARTBEAT, listener.try_recv()).await {
            Ok(Ok(Some(notification))) => notification,
            Ok(Ok(None)) => {
                return Err(StoreError::new(
                    "the connection listening for revocations was lost",
                ));
            }
            Ok(Err(e)) => return Err(StoreError::new(e)),
            Err(_quiet) => {
                let ping = sqlx::query("SELECT 1").execute(&mut listener);
                within(COMMAND_TIMEOUT, ping).await?;
                continue;
            }
        };
        let Some(strong) = cache.upgrade() else {
            return Ok(());
        };
        if let Ok(mut ids) = strong.write() {
            ids.apply(notification.payload());
        }
    }
}

/// `operation`, failed with a [`StoreError`] past `limit`.
async fn within<T>(
    limit: Duration,
    operation: impl Future<Output = Result<T, sqlx::Error>>,
) -> Result<T, StoreError> {
    tokio::time::timeout(limit, operation)
        .await
        .map_err(|_| StoreError::new("timed out waiting for PostgreSQL"))?
        .map_err(StoreError::new)
}
