//! Users' changes between instances: the id of every user that changed is
//! published, and every instance (this one too) forgets its cached row when
//! the message comes in, the way jwt-extended's stores spread revocations.
//! With `REDIS_URL` the channel is Redis's `<prefix>:user-changes`; on
//! PostgreSQL without Redis it is PostgreSQL's own `LISTEN`/`NOTIFY`
//! (channel `memo_user_changes_<hash of the schema>`, listened to on a
//! connection of its own named `memo user changes`).
//!
//! Across an outage no instance serves a row it may have missed a change
//! of: PostgreSQL's cache is off whenever the subscription is down, and the
//! subscription is pinged after every quiet [`HEARTBEAT`], so one that went
//! silent without being closed (a dead host, a dropped route) counts as
//! down too. A change that could not be published is published again once
//! the channel answers, so the others hear of it before their entries
//! expire.

use std::{
    sync::{Arc, Weak},
    time::Duration,
};

use futures_util::StreamExt as _;
use redis::{AsyncCommands as _, Client, aio::ConnectionManager};
use sqlx::{
    PgPool,
    postgres::{PgListener, PgPoolOptions},
};
use tokio::{sync::oneshot, task::JoinHandle};

use super::{Backend, Db, DbInner, user_cache::TTL};
use crate::redis_client::{self, within_timeout};

/// How long start-up waits for the first subscription.
const SUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(5);

/// How long the subscription may stay quiet before it is pinged; unanswered
/// within [`redis_client::TIMEOUT`], it is dropped and made again.
const HEARTBEAT: Duration = Duration::from_secs(1);

/// The wait between two attempts to subscribe, or to publish a change again.
const RETRY_DELAY: Duration = Duration::from_millis(250);

/// The PostgreSQL channel's name, from the schema memo's tables are in (two
/// apps in one database with schemas of their own do not hear each other).
const POSTGRES_CHANNEL_SQL: &str = "SELECT 'memo_user_changes_' || left(md5(current_schema()), 16)";

/// The longest a PostgreSQL connection attempt, `LISTEN`, ping or publish may
/// take, as for Redis.
const POSTGRES_TIMEOUT: Duration = redis_client::TIMEOUT;

/// The listening PostgreSQL connection's `application_name`.
const POSTGRES_LISTENER_NAME: &str = "memo user changes";

/// Where changes are published.
#[derive(Debug, Clone)]
enum Publisher {
    Redis(ConnectionManager),
    /// The app's pool: `pg_notify` on any of its connections.
    Postgres(PgPool),
}

/// Where changes are heard.
enum Subscriber {
    Redis(Client),
    /// A pool of one connection, the listener's own.
    Postgres(PgPool),
}

/// The publishing side and the subscriber task.
#[derive(Debug)]
pub(super) struct UserChanges {
    publisher: Publisher,
    channel: String,
    listener: JoinHandle<()>,
}

impl Drop for UserChanges {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

impl Db {
    /// Shares users' changes with the other instances through Redis at
    /// `redis_url` (channel `<prefix>:user-changes`); on PostgreSQL this is
    /// what turns the users' cache on. Returns once subscribed.
    ///
    /// # Errors
    /// The Redis error when Redis cannot be reached or subscribed to.
    pub async fn share_user_changes(&self, redis_url: &str, prefix: &str) -> Result<(), String> {
        let client = Client::open(redis_url).map_err(|e| e.to_string())?;
        let publisher = redis_client::connect(&client)
            .await
            .map_err(|e| e.to_string())?;
        let channel = format!("{}:user-changes", prefix.trim_end_matches(':'));
        self.share(
            Publisher::Redis(publisher),
            Subscriber::Redis(client),
            channel,
        )
        .await
    }

    /// Shares users' changes with the other instances through PostgreSQL's
    /// `LISTEN`/`NOTIFY`, which turns the users' cache on without Redis.
    /// Returns once listening.
    ///
    /// # Errors
    /// The database's error when it cannot be listened to (a pooler in
    /// transaction mode, say), or when the database is not PostgreSQL.
    pub async fn share_user_changes_in_postgres(&self) -> Result<(), String> {
        let Backend::Postgres(postgres) = &self.inner.backend else {
            return Err("users' changes are shared through PostgreSQL only on PostgreSQL".into());
        };
        let pool = postgres.pool();
        let channel: String = sqlx::query_scalar(POSTGRES_CHANNEL_SQL)
            .fetch_one(pool)
            .await
            .map_err(|e| e.to_string())?;
        let options = (*pool.connect_options()).clone();
        let own = PgPoolOptions::new()
            .max_connections(1)
            .max_lifetime(None)
            .idle_timeout(None)
            .connect_lazy_with(options.application_name(POSTGRES_LISTENER_NAME));
        self.share(
            Publisher::Postgres(pool.clone()),
            Subscriber::Postgres(own),
            channel,
        )
        .await
    }

    async fn share(
        &self,
        publisher: Publisher,
        subscriber: Subscriber,
        channel: String,
    ) -> Result<(), String> {
        let (ready, subscribed) = oneshot::channel();
        let listener = tokio::spawn(listen(
            subscriber,
            channel.clone(),
            Arc::downgrade(&self.inner),
            ready,
        ));
        let changes = UserChanges {
            publisher,
            channel,
            listener,
        };
        match tokio::time::timeout(SUBSCRIBE_TIMEOUT, subscribed).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(err))) => return Err(err),
            _ => return Err("timed out subscribing to users' changes".into()),
        }
        self.inner
            .user_changes
            .set(changes)
            .map_err(|_| "user changes are already shared".to_owned())
    }

    /// Forgets user `id`'s cached row here and, with Redis, on every other
    /// instance. **Every write that changes or deletes a user row calls this
    /// once it has committed**, so that no instance goes on answering with
    /// the old row (see `db/user_cache.rs`).
    pub async fn user_changed(&self, id: i64) {
        self.inner.users.forget(id);
        let Some(changes) = self.inner.user_changes.get() else {
            return;
        };
        let publisher = changes.publisher.clone();
        if let Err(err) = publish(publisher.clone(), &changes.channel, id).await {
            // Instances that cannot hear the channel turn their caches off
            // by themselves; those that can hear it again once it answers.
            tracing::error!(error = %err, user_id = id, "could not publish a user's change; retrying");
            tokio::spawn(publish_until_sent(publisher, changes.channel.clone(), id));
        }
    }
}

async fn publish(publisher: Publisher, channel: &str, id: i64) -> Result<(), String> {
    match publisher {
        Publisher::Redis(mut redis) => within_timeout(redis.publish::<_, _, i64>(channel, id))
            .await
            .map(drop),
        Publisher::Postgres(pool) => {
            let notify = sqlx::query("SELECT pg_notify($1, $2)")
                .bind(channel)
                .bind(id.to_string())
                .execute(&pool);
            within_pg(notify).await.map(drop)
        }
    }
}

/// A PostgreSQL `operation`, failed past [`POSTGRES_TIMEOUT`].
async fn within_pg<T>(
    operation: impl Future<Output = Result<T, sqlx::Error>>,
) -> Result<T, String> {
    tokio::time::timeout(POSTGRES_TIMEOUT, operation)
        .await
        .map_err(|_| "timed out waiting for PostgreSQL".to_owned())?
        .map_err(|e| e.to_string())
}

/// Publishes a change that could not be at first, until it is or until every
/// entry it concerns has expired anyway.
async fn publish_until_sent(publisher: Publisher, channel: String, id: i64) {
    let give_up = tokio::time::Instant::now() + TTL;
    while tokio::time::Instant::now() < give_up {
        tokio::time::sleep(RETRY_DELAY).await;
        if publish(publisher.clone(), &channel, id).await.is_ok() {
            tracing::info!(user_id = id, "published a user's change after all");
            return;
        }
    }
}

/// Follows the channel: forgets each published id; while the subscription
/// is down, PostgreSQL's cache is off (it may be missing changes).
async fn listen(
    subscriber: Subscriber,
    channel: String,
    db: Weak<DbInner>,
    ready: oneshot::Sender<Result<(), String>>,
) {
    let mut ready = Some(ready);
    loop {
        let result = match &subscriber {
            Subscriber::Redis(client) => follow(client, &channel, &db, &mut ready).await,
            Subscriber::Postgres(own) => follow_postgres(own, &channel, &db, &mut ready).await,
        };
        let Some(inner) = db.upgrade() else {
            return;
        };
        if matches!(inner.backend, Backend::Postgres(_)) {
            inner.users.set_live(false);
        }
        drop(inner);
        if let Err(err) = result {
            if let Some(ready) = ready.take() {
                let _ = ready.send(Err(err));
                return;
            }
            tracing::warn!(error = %err, "the subscription to users' changes was lost; retrying");
        }
        tokio::time::sleep(RETRY_DELAY).await;
    }
}

async fn follow(
    client: &Client,
    channel: &str,
    db: &Weak<DbInner>,
    ready: &mut Option<oneshot::Sender<Result<(), String>>>,
) -> Result<(), String> {
    let mut pubsub = within_timeout(client.get_async_pubsub()).await?;
    within_timeout(pubsub.subscribe(channel)).await?;
    if !subscribed(db, ready) {
        return Ok(());
    }
    let (mut sink, mut messages) = pubsub.split();
    loop {
        let message = match tokio::time::timeout(HEARTBEAT, messages.next()).await {
            Ok(Some(message)) => message,
            Ok(None) => return Ok(()),
            Err(_quiet) => {
                within_timeout(sink.ping::<redis::Value>())
                    .await
                    .map_err(|e| format!("the subscription's heartbeat failed: {e}"))?;
                continue;
            }
        };
        let Some(inner) = db.upgrade() else {
            return Ok(());
        };
        match message.get_payload::<i64>() {
            Ok(id) => inner.users.forget(id),
            Err(err) => tracing::warn!(error = %err, "an unreadable user change on Redis"),
        }
    }
}

/// Turns the cache on once subscribed (empty: changes may have been missed
/// before) and tells start-up; false when the database is gone.
fn subscribed(db: &Weak<DbInner>, ready: &mut Option<oneshot::Sender<Result<(), String>>>) -> bool {
    match db.upgrade() {
        Some(inner) => inner.users.set_live(true),
        None => return false,
    }
    if let Some(ready) = ready.take() {
        let _ = ready.send(Ok(()));
    }
    true
}

/// [`follow`] for PostgreSQL's `LISTEN`, on the listener's own connection.
async fn follow_postgres(
    own: &PgPool,
    channel: &str,
    db: &Weak<DbInner>,
    ready: &mut Option<oneshot::Sender<Result<(), String>>>,
) -> Result<(), String> {
    let mut listener = within_pg(PgListener::connect_with(own)).await?;
    within_pg(listener.listen(channel)).await?;
    if !subscribed(db, ready) {
        return Ok(());
    }
    loop {
        let notification = match tokio::time::timeout(HEARTBEAT, listener.try_recv()).await {
            Ok(Ok(Some(notification))) => notification,
            Ok(Ok(None)) => return Err("the listening connection was lost".into()),
            Ok(Err(err)) => return Err(err.to_string()),
            Err(_quiet) => {
                within_pg(sqlx::query("SELECT 1").execute(&mut listener))
                    .await
                    .map_err(|e| format!("the listener's heartbeat failed: {e}"))?;
                continue;
            }
        };
        let Some(inner) = db.upgrade() else {
            return Ok(());
        };
        match notification.payload().parse::<i64>() {
            Ok(id) => inner.users.forget(id),
            Err(err) => tracing::warn!(error = %err, "an unreadable user change on PostgreSQL"),
        }
    }
}
