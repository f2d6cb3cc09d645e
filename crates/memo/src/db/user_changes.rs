//! Users' changes between instances: with `REDIS_URL`, the id of every user
//! that changed is published on `<prefix>:user-changes`, and every instance
//! (this one too) forgets its cached row when the message comes in, the way
//! jwt-extended's Redis store spreads revocations.

use std::{
    sync::{Arc, Weak},
    time::Duration,
};

use futures_util::StreamExt as _;
use redis::{AsyncCommands as _, Client, aio::ConnectionManager};
use tokio::{sync::oneshot, task::JoinHandle};

use super::{Backend, Db, DbInner};

/// How long start-up waits for the first subscription.
const SUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(5);

/// The publishing side and the subscriber task.
#[derive(Debug)]
pub(super) struct UserChanges {
    publisher: ConnectionManager,
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
        let publisher = client
            .get_connection_manager()
            .await
            .map_err(|e| e.to_string())?;
        let channel = format!("{}:user-changes", prefix.trim_end_matches(':'));
        let (ready, subscribed) = oneshot::channel();
        let listener = tokio::spawn(listen(
            client,
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
            _ => return Err("timed out subscribing to Redis".into()),
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
        let mut publisher = changes.publisher.clone();
        let published: Result<i64, _> = publisher.publish(&changes.channel, id).await;
        if let Err(err) = published {
            // Instances that cannot hear Redis turn their caches off by
            // themselves; the others see the change within the cache's TTL.
            tracing::error!(error = %err, user_id = id, "could not publish a user's change");
        }
    }
}

/// Follows the channel: forgets each published id; while the subscription
/// is down, PostgreSQL's cache is off (it may be missing changes).
async fn listen(
    client: Client,
    channel: String,
    db: Weak<DbInner>,
    ready: oneshot::Sender<Result<(), String>>,
) {
    let mut ready = Some(ready);
    loop {
        let result = follow(&client, &channel, &db, &mut ready).await;
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
            tracing::warn!(error = %err, "the Redis subscription to users' changes was lost; retrying");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn follow(
    client: &Client,
    channel: &str,
    db: &Weak<DbInner>,
    ready: &mut Option<oneshot::Sender<Result<(), String>>>,
) -> Result<(), String> {
    let mut pubsub = client.get_async_pubsub().await.map_err(|e| e.to_string())?;
    pubsub.subscribe(channel).await.map_err(|e| e.to_string())?;
    match db.upgrade() {
        // Changes may have been missed before: start empty.
        Some(inner) => inner.users.set_live(true),
        None => return Ok(()),
    }
    if let Some(ready) = ready.take() {
        let _ = ready.send(Ok(()));
    }
    let mut messages = pubsub.on_message();
    while let Some(message) = messages.next().await {
        let Some(inner) = db.upgrade() else {
            return Ok(());
        };
        match message.get_payload::<i64>() {
            Ok(id) => inner.users.forget(id),
            Err(err) => tracing::warn!(error = %err, "an unreadable user change on Redis"),
        }
    }
    Ok(())
}
