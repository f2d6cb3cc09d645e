//! Users' changes between instances: with `REDIS_URL`, the id of every user
//! that changed is published on `<prefix>:user-changes`, and every instance
//! (this one too) forgets its cached row when the message comes in, the way
//! jwt-extended's Redis store spreads revocations.
//!
//! Across a Redis outage no instance serves a row it may have missed a
//! change of: PostgreSQL's cache is off whenever the subscription is down,
//! and the subscription is pinged after every quiet [`HEARTBEAT`], so one
//! that went silent without being closed (a dead host, a dropped route)
//! counts as down too. A change that could not be published is published
//! again once Redis answers, so the others hear of it before their entries
//! expire.

use std::{
    sync::{Arc, Weak},
    time::Duration,
};

use futures_util::StreamExt as _;
use redis::{AsyncCommands as _, Client, aio::ConnectionManager};
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
        let publisher = redis_client::connect(&client)
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
        let publisher = changes.publisher.clone();
        if let Err(err) = publish(publisher.clone(), &changes.channel, id).await {
            // Instances that cannot hear Redis turn their caches off by
            // themselves; those that can hear it again once it answers.
            tracing::error!(error = %err, user_id = id, "could not publish a user's change; retrying");
            tokio::spawn(publish_until_sent(publisher, changes.channel.clone(), id));
        }
    }
}

async fn publish(mut publisher: ConnectionManager, channel: &str, id: i64) -> Result<(), String> {
    within_timeout(publisher.publish::<_, _, i64>(channel, id))
        .await
        .map(drop)
}

/// Publishes a change that could not be at first, until it is or until every
/// entry it concerns has expired anyway.
async fn publish_until_sent(publisher: ConnectionManager, channel: String, id: i64) {
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
    match db.upgrade() {
        // Changes may have been missed before: start empty.
        Some(inner) => inner.users.set_live(true),
        None => return Ok(()),
    }
    if let Some(ready) = ready.take() {
        let _ = ready.send(Ok(()));
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
