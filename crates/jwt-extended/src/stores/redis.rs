//! [`RedisStore`]: revocations and login families in Redis, shared by every instance.
//!
//! Lookups stay off the network: each instance keeps the set of revoked `jti`s and families in
//! memory, loaded when it starts and kept current through Redis pub/sub, so a logout on one
//! instance is refused on all of them within milliseconds. While the subscription is down the
//! store asks Redis directly, so nothing revoked slips through during a reconnect.
//!
//! Outages fail closed and fast: a command or connection attempt that takes longer than half a
//! second fails (the caller answers 503) instead of waiting for Redis to come back, and the next
//! command tries to reconnect. The subscription is pinged after every quiet second: one that
//! stopped answering without being closed (a dead host, a dropped route) no longer vouches for
//! the memory, which would otherwise miss every revocation made meanwhile.

use std::{
    collections::HashMap,
    fmt,
    sync::{Arc, RwLock},
    time::Duration,
};

use std::sync::LazyLock;

use futures_util::StreamExt;
use redis::{
    AsyncCommands, Client, Script,
    aio::{ConnectionManager, ConnectionManagerConfig},
};
use serde_json::Value;
use tokio::{sync::oneshot, task::JoinHandle};

use super::revoked_ids::{Kind, RevokedIds};
use super::traits::{
    RefreshId, RevocationStore, RotateOutcome, SessionInfo, SessionStore, StoreError,
};
use crate::{
    claims::{DecodedToken, FAMILY_CLAIM},
    clock::now_secs,
};

/// Kept when a revoked token never expires (seconds from now): ten years.
const FOREVER: i64 = 10 * 365 * 24 * 3600;

/// The longest a connection attempt or a command may take before it fails: a request waits at
/// most this long for an unreachable Redis (the redis crate's default retries with backoff for
/// about six seconds first).
const COMMAND_TIMEOUT: Duration = Duration::from_millis(500);

/// How long the subscription may stay quiet before it is pinged; unanswered within
/// [`COMMAND_TIMEOUT`], it is dropped and the memory stops answering until a new one has loaded
/// the revocations again.
const HEARTBEAT: Duration = Duration::from_secs(1);

/// The wait between two attempts to subscribe again.
const RESUBSCRIBE_DELAY: Duration = Duration::from_millis(250);

/// Commands fail fast while Redis is unreachable: one connection attempt, no retry loop, each
/// bounded by [`COMMAND_TIMEOUT`]. The manager reconnects at the next command.
fn fail_fast() -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_number_of_retries(0)
        .set_connection_timeout(Some(COMMAND_TIMEOUT))
        .set_response_timeout(Some(COMMAND_TIMEOUT))
}

struct Inner {
    conn: ConnectionManager,
    prefix: String,
    cache: RwLock<RevokedIds>,
    listener: std::sync::Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Ok(mut guard) = self.listener.lock()
            && let Some(task) = guard.take()
        {
            task.abort();
        }
    }
}

/// Revocations and sessions in Redis, for several instances behind a load balancer.
///
/// Keys live under a prefix (`<prefix>:revoked:<jti>`, `<prefix>:revoked-fam:<id>`,
/// `<prefix>:fam:<id>`, `<prefix>:user:<user>`) and expire with the tokens they describe.
///
/// While Redis is unreachable every call that needs it fails within half a second with a
/// [`StoreError`] (the guard answers 503: fail closed), and ids this instance knows to be revoked
/// are still refused from memory; once Redis answers again the store recovers by itself.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use jwt_extended::{JwtConfig, JwtManager, RedisStore};
/// let store = RedisStore::connect("redis://127.0.0.1:6379", "memo").await?;
/// let jwt = JwtManager::builder(JwtConfig::from_env()?).session_store(store).build()?;
/// # Ok(()) }
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
#[derive(Clone)]
pub struct RedisStore {
    inner: Arc<Inner>,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let complete = self
            .inner
            .cache
            .read()
            .map(|c| c.complete)
            .unwrap_or_default();
        f.debug_struct("RedisStore")
            .field("prefix", &self.inner.prefix)
            .field("cache_live", &complete)
            .finish()
    }
}

fn store_error(e: redis::RedisError) -> StoreError {
    StoreError::new(e)
}

impl RedisStore {
    /// Connects, subscribes to revocations and loads the revoked ids, then returns.
    ///
    /// # Errors
    /// [`StoreError`] when Redis cannot be reached or the first subscription fails.
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, StoreError> {
        let client = Client::open(url).map_err(store_error)?;
        let conn = client
            .get_connection_manager_with_config(fail_fast())
            .await
            .map_err(store_error)?;
        let inner = Arc::new(Inner {
            conn,
            prefix: prefix.trim_end_matches(':').to_owned(),
            cache: RwLock::new(RevokedIds::default()),
            listener: std::sync::Mutex::new(None),
        });
        let (ready_tx, ready_rx) = oneshot::channel();
        let task = tokio::spawn(listen(client, Arc::downgrade(&inner), Some(ready_tx)));
        if let Ok(mut guard) = inner.listener.lock() {
            *guard = Some(task);
        }
        match tokio::time::timeout(Duration::from_secs(5), ready_rx).await {
            Ok(Ok(Ok(()))) => Ok(Self { inner }),
            Ok(Ok(Err(e))) => Err(e),
            _ => Err(StoreError::new("timed out subscribing to Redis")),
        }
    }

    /// Whether lookups are answered from memory (the subscription is live).
    pub fn cache_is_live(&self) -> bool {
        self.inner
            .cache
            .read()
            .map(|c| c.complete)
            .unwrap_or_default()
    }

    fn key(&self, kind: &str, id: &str) -> String {
        format!("{}:{kind}:{id}", self.inner.prefix)
    }

    fn channel(&self) -> String {
        format!("{}:revocations", self.inner.prefix)
    }

    fn remember(&self, kind: Kind, id: &str, until: i64) {
        if let Ok(mut cache) = self.inner.cache.write() {
            cache.insert(kind, id, until);
        }
    }

    /// `Some(answer)` when memory can answer, `None` when Redis must.
    fn cached(&self, jti: Option<&str>, family: Option<&str>) -> Option<bool> {
        self.inner.cache.read().ok()?.answer(jti, family)
    }

    async fn ask_redis(&self, jti: Option<&str>, family: Option<&str>) -> Result<bool, StoreError> {
        let mut conn = self.inner.conn.clone();
        let mut keys = Vec::with_capacity(2);
        keys.extend(jti.map(|j| self.key("revoked", j)));
        keys.extend(family.map(|f| self.key("revoked-fam", f)));
        if keys.is_empty() {
            return Ok(false);
        }
        let found: i64 = conn.exists(keys).await.map_err(store_error)?;
        Ok(found > 0)
    }
}

/// Keeps the cache current: subscribe, load the snapshot, apply messages; on a dropped
/// subscription mark the cache incomplete and start again.
async fn listen(
    client: Client,
    inner: std::sync::Weak<Inner>,
    mut ready: Option<oneshot::Sender<Result<(), StoreError>>>,
) {
    loop {
        let result = subscribe_and_follow(&client, &inner, &mut ready).await;
        let Some(strong) = inner.upgrade() else {
            return;
        };
        if let Ok(mut cache) = strong.cache.write() {
            cache.complete = false;
        }
        drop(strong);
        if let Err(e) = result {
            if let Some(tx) = ready.take() {
                let _ = tx.send(Err(e));
                return;
            }
            tracing::warn!(error = %e, "redis revocation subscription lost; retrying");
        }
        tokio::time::sleep(RESUBSCRIBE_DELAY).await;
    }
}

/// Subscribes, loads the revoked ids, marks the memory complete, then applies each message
/// until the subscription ends or stops answering its heartbeat.
async fn subscribe_and_follow(
    client: &Client,
    weak: &std::sync::Weak<Inner>,
    ready: &mut Option<oneshot::Sender<Result<(), StoreError>>>,
) -> Result<(), StoreError> {
    let (channel, prefix) = match weak.upgrade() {
        Some(inner) => (
            format!("{}:revocations", inner.prefix),
            inner.prefix.clone(),
        ),
        None => return Ok(()),
    };
    let mut pubsub = within_timeout(client.get_async_pubsub()).await?;
    within_timeout(pubsub.subscribe(&channel)).await?;
    let snapshot = load_snapshot(client, &prefix).await?;
    if let Some(inner) = weak.upgrade()
        && let Ok(mut cache) = inner.cache.write()
    {
        for (kind, id, until) in snapshot {
            cache.insert(kind, &id, until);
        }
        cache.complete = true;
    }
    if let Some(tx) = ready.take() {
        let _ = tx.send(Ok(()));
    }
    let (mut sink, mut messages) = pubsub.split();
    loop {
        let message = match tokio::time::timeout(HEARTBEAT, messages.next()).await {
            Ok(Some(message)) => message,
            Ok(None) => return Ok(()),
            Err(_quiet) => {
                within_timeout(sink.ping::<redis::Value>())
                    .await
                    .map_err(|e| {
                        StoreError::new(format!("the subscription's heartbeat failed: {e}"))
                    })?;
                continue;
            }
        };
        let Some(inner) = weak.upgrade() else {
            return Ok(());
        };
        let payload: String = message.get_payload().unwrap_or_default();
        if let Ok(mut cache) = inner.cache.write() {
            cache.apply(&payload);
        }
    }
}

/// `operation`, failed with a [`StoreError`] past [`COMMAND_TIMEOUT`].
async fn within_timeout<T>(
    operation: impl Future<Output = redis::RedisResult<T>>,
) -> Result<T, StoreError> {
    tokio::time::timeout(COMMAND_TIMEOUT, operation)
        .await
        .map_err(|_| StoreError::new("timed out waiting for Redis"))?
        .map_err(store_error)
}

/// Every revoked id now in Redis, with its expiry.
async fn load_snapshot(
    client: &Client,
    prefix: &str,
) -> Result<Vec<(Kind, String, i64)>, StoreError> {
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(COMMAND_TIMEOUT))
        .set_response_timeout(Some(COMMAND_TIMEOUT));
    let mut conn = client
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .map_err(store_error)?;
    let mut found = Vec::new();
    for (kind, segment) in [(Kind::Token, "revoked"), (Kind::Family, "revoked-fam")] {
        let pattern = format!("{prefix}:{segment}:*");
        let keys: Vec<String> = {
            let iter: redis::AsyncIter<'_, String> =
                conn.scan_match(&pattern).await.map_err(store_error)?;
            iter.filter_map(|k| async move { k.ok() }).collect().await
        };
        let now = now_secs();
        for key in keys {
            let ttl: i64 = conn.ttl(&key).await.map_err(store_error)?;
            let until = if ttl < 0 { i64::MAX } else { now + ttl };
            let id = key
                .rsplit_once(':')
                .map(|(_, id)| id.to_owned())
                .unwrap_or_default();
            found.push((kind, id, until));
        }
    }
    Ok(found)
}

fn expiry_args(exp: Option<i64>) -> i64 {
    exp.unwrap_or_else(|| now_secs() + FOREVER)
}

impl RevocationStore for RedisStore {
    /// From memory while the subscription is live (no round trip); from Redis otherwise.
    async fn is_revoked(&self, token: &DecodedToken) -> Result<bool, StoreError> {
        let jti = token.jti();
        let family = token.claim(FAMILY_CLAIM).and_then(Value::as_str);
        match self.cached(jti, family) {
            Some(answer) => Ok(answer),
            None => self.ask_redis(jti, family).await,
        }
    }

    async fn revoke(&self, jti: &str, expires_at: Option<i64>) -> Result<(), StoreError> {
        let until = expiry_args(expires_at);
        let mut conn = self.inner.conn.clone();
        redis::pipe()
            .cmd("SET")
            .arg(self.key("revoked", jti))
            .arg(1)
            .arg("EXAT")
            .arg(until)
            .ignore()
            .publish(self.channel(), format!("j {until} {jti}"))
            .ignore()
            .query_async::<()>(&mut conn)
            .await
            .map_err(store_error)?;
        self.remember(Kind::Token, jti, until);
        Ok(())
    }
}

/// Rotation in one atomic step and one round trip. KEYS: family hash, revoked-family key.
/// ARGV: presented jti, successor jti, successor exp ("" = none), now, grace seconds, channel,
/// family id, the user-set key prefix. Returns {outcome, jti, exp}.
///
/// The user set's key is derived from the family's `user` field inside the script, so the
/// store does not read it first; this is why the store needs one Redis, not a cluster.
static ROTATE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local fam = KEYS[1]
if redis.call('EXISTS', KEYS[2]) == 1 then return {'revoked'} end
local current = redis.call('HGET', fam, 'current_jti')
if not current then return {'revoked'} end
local now = tonumber(ARGV[4])
if current == ARGV[1] then
  redis.call('HSET', fam, 'current_jti', ARGV[2], 'current_exp', ARGV[3], 'retired_jti', ARGV[1],
    'retired_at', ARGV[4], 'last_used_at', ARGV[4])
  if ARGV[3] ~= '' then redis.call('EXPIREAT', fam, tonumber(ARGV[3])) end
  return {'rotated'}
end
local retired = redis.call('HGET', fam, 'retired_jti')
local at = tonumber(redis.call('HGET', fam, 'retired_at') or '0')
local grace = tonumber(ARGV[5])
if retired == ARGV[1] and grace > 0 and now - at <= grace then
  return {'grace', current, redis.call('HGET', fam, 'current_exp') or ''}
end
local expiry = tonumber(redis.call('HGET', fam, 'current_exp') or '') or (now + 315360000)
redis.call('SET', KEYS[2], 1, 'EXAT', expiry)
redis.call('SREM', ARGV[8] .. (redis.call('HGET', fam, 'user') or ''), ARGV[7])
redis.call('PUBLISH', ARGV[6], 'f ' .. expiry .. ' ' .. ARGV[7])
return {'reused'}
"#,
    )
});

/// Revokes a family in one round trip. KEYS: family hash, revoked-family key. ARGV: now,
/// channel, id, the user-set key prefix. Returns the revocation's expiry.
static REVOKE_FAMILY: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local now = tonumber(ARGV[1])
local expiry = tonumber(redis.call('HGET', KEYS[1], 'current_exp') or '') or (now + 315360000)
redis.call('SET', KEYS[2], 1, 'EXAT', expiry)
redis.call('SREM', ARGV[4] .. (redis.call('HGET', KEYS[1], 'user') or ''), ARGV[3])
redis.call('PUBLISH', ARGV[2], 'f ' .. expiry .. ' ' .. ARGV[3])
return expiry
"#,
    )
});

/// Ends a live login of one user in one round trip. KEYS: family hash, revoked-family key.
/// ARGV: now, channel, id, the user-set key prefix, user. Returns the revocation's expiry, then
/// the family hash as it was (field, value, ...), or nil when the family is not a live login of
/// that user.
static END: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local now = tonumber(ARGV[1])
if redis.call('EXISTS', KEYS[2]) == 1 then return false end
local hash = redis.call('HGETALL', KEYS[1])
local f = {}
for i = 1, #hash, 2 do f[hash[i]] = hash[i + 1] end
if f.user ~= ARGV[5] then return false end
local exp = tonumber(f.current_exp or '')
if exp and exp <= now then return false end
local expiry = exp or (now + 315360000)
redis.call('SET', KEYS[2], 1, 'EXAT', expiry)
redis.call('SREM', ARGV[4] .. ARGV[5], ARGV[3])
redis.call('PUBLISH', ARGV[2], 'f ' .. expiry .. ' ' .. ARGV[3])
table.insert(hash, 1, tostring(expiry))
return hash
"#,
    )
});

impl RedisStore {
    /// The prefix of the per-user set of family ids (`<prefix>:user:`).
    fn user_set_prefix(&self) -> String {
        self.key("user", "")
    }
}

/// A family hash as a [`SessionInfo`]; `None` when the hash is gone (expired).
fn session_from(family: &str, fields: &HashMap<String, String>) -> Option<SessionInfo> {
    let int = |name: &str| fields.get(name).and_then(|v| v.parse::<i64>().ok());
    Some(SessionInfo {
        id: family.to_owned(),
        user: fields.get("user")?.clone(),
        created_at: int("created_at").unwrap_or_default(),
        last_used_at: int("last_used_at").unwrap_or_default(),
        user_agent: fields.get("user_agent").filter(|v| !v.is_empty()).cloned(),
        expires_at: int("current_exp"),
    })
}

impl SessionStore for RedisStore {
    async fn create(&self, session: &SessionInfo, refresh: &RefreshId) -> Result<(), StoreError> {
        let mut conn = self.inner.conn.clone();
        let key = self.key("fam", &session.id);
        let exp = refresh.exp.map(|e| e.to_string()).unwrap_or_default();
        let fields = [
            ("user", session.user.clone()),
            ("created_at", session.created_at.to_string()),
            ("last_used_at", session.last_used_at.to_string()),
            ("user_agent", session.user_agent.clone().unwrap_or_default()),
            ("current_jti", refresh.jti.clone()),
            ("current_exp", exp),
        ];
        let mut pipe = redis::pipe();
        pipe.atomic().hset_multiple(&key, &fields).ignore();
        if let Some(exp) = refresh.exp {
            pipe.cmd("EXPIREAT").arg(&key).arg(exp).ignore();
        }
        pipe.sadd(self.key("user", &session.user), &session.id)
            .ignore();
        pipe.query_async::<()>(&mut conn).await.map_err(store_error)
    }

    async fn rotate(
        &self,
        family: &str,
        presented: &str,
        successor: &RefreshId,
        grace: Duration,
    ) -> Result<RotateOutcome, StoreError> {
        let mut conn = self.inner.conn.clone();
        let reply: Vec<String> = ROTATE
            .key(self.key("fam", family))
            .key(self.key("revoked-fam", family))
            .arg(presented)
            .arg(&successor.jti)
            .arg(successor.exp.map(|e| e.to_string()).unwrap_or_default())
            .arg(now_secs())
            .arg(grace.as_secs())
            .arg(self.channel())
            .arg(family)
            .arg(self.user_set_prefix())
            .invoke_async(&mut conn)
            .await
            .map_err(store_error)?;
        Ok(match reply.first().map(String::as_str) {
            Some("rotated") => RotateOutcome::Rotated,
            Some("grace") => RotateOutcome::Grace(RefreshId {
                jti: reply.get(1).cloned().unwrap_or_default(),
                exp: reply.get(2).and_then(|e| e.parse().ok()),
            }),
            Some("reused") => {
                self.remember(Kind::Family, family, i64::MAX);
                RotateOutcome::Reused
            }
            _ => RotateOutcome::Revoked,
        })
    }

    async fn revoke_family(&self, family: &str) -> Result<(), StoreError> {
        let mut conn = self.inner.conn.clone();
        let until: i64 = REVOKE_FAMILY
            .key(self.key("fam", family))
            .key(self.key("revoked-fam", family))
            .arg(now_secs())
            .arg(self.channel())
            .arg(family)
            .arg(self.user_set_prefix())
            .invoke_async(&mut conn)
            .await
            .map_err(store_error)?;
        self.remember(Kind::Family, family, until);
        Ok(())
    }

    async fn end(&self, user: &str, family: &str) -> Result<Option<SessionInfo>, StoreError> {
        let mut conn = self.inner.conn.clone();
        let reply: Option<Vec<String>> = END
            .key(self.key("fam", family))
            .key(self.key("revoked-fam", family))
            .arg(now_secs())
            .arg(self.channel())
            .arg(family)
            .arg(self.user_set_prefix())
            .arg(user)
            .invoke_async(&mut conn)
            .await
            .map_err(store_error)?;
        let Some(mut reply) = reply.map(Vec::into_iter) else {
            return Ok(None);
        };
        let until = reply.next().and_then(|until| until.parse().ok());
        self.remember(Kind::Family, family, until.unwrap_or(i64::MAX));
        let mut fields = HashMap::new();
        while let (Some(field), Some(value)) = (reply.next(), reply.next()) {
            fields.insert(field, value);
        }
        Ok(session_from(family, &fields))
    }

    /// Two round trips whatever the number of logins: the user's set, then every family hash
    /// in one pipeline. Ids whose hash has expired are dropped from the set.
    async fn list(&self, user: &str) -> Result<Vec<SessionInfo>, StoreError> {
        let mut conn = self.inner.conn.clone();
        let set = self.key("user", user);
        let ids: Vec<String> = conn.smembers(&set).await.map_err(store_error)?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for id in &ids {
            pipe.hgetall(self.key("fam", id));
        }
        let hashes: Vec<HashMap<String, String>> =
            pipe.query_async(&mut conn).await.map_err(store_error)?;
        let (mut live, mut gone) = (Vec::with_capacity(ids.len()), Vec::new());
        for (id, fields) in ids.into_iter().zip(hashes) {
            match session_from(&id, &fields) {
                Some(session) if !self.cached(None, Some(&id)).unwrap_or(false) => {
                    live.push(session);
                }
                Some(_) => {}
                None => gone.push(id),
            }
        }
        if !gone.is_empty() {
            let _: () = conn.srem(&set, gone).await.map_err(store_error)?;
        }
        live.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(live)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::JsonObject;

    /// The local Redis, or `None` (and a note) on a machine without one; under `CI=true` a
    /// missing Redis fails the test.
    async fn redis_store(prefix: &str) -> Option<RedisStore> {
        let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        match RedisStore::connect(&url, prefix).await {
            Ok(store) => Some(store),
            Err(e) if std::env::var("CI").as_deref() == Ok("true") => {
                panic!("Redis is required under CI: {e}")
            }
            Err(e) => {
                eprintln!("skipped: no Redis at {url} ({e})");
                None
            }
        }
    }

    async fn cleanup(prefix: &str) {
        let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        let Ok(client) = Client::open(url) else {
            return;
        };
        let Ok(mut conn) = client.get_multiplexed_async_connection().await else {
            return;
        };
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{prefix}:*"))
            .query_async(&mut conn)
            .await
            .unwrap_or_default();
        if !keys.is_empty() {
            let _: Result<(), _> = conn.del(keys).await;
        }
    }

    fn token(jti: &str, fam: Option<&str>) -> DecodedToken {
        let mut payload = JsonObject::new();
        payload.insert("jti".into(), jti.into());
        if let Some(f) = fam {
            payload.insert(FAMILY_CLAIM.into(), f.into());
        }
        DecodedToken {
            header: JsonObject::new(),
            payload: payload.into(),
        }
    }

    /// Waits up to 100 ms (what pub/sub promises) for `store`'s memory to hold the revocation
    /// of `jti` or `family`; returns how long it waited.
    async fn learned(store: &RedisStore, jti: Option<&str>, family: Option<&str>) -> Duration {
        let start = Instant::now();
        while !store.cached(jti, family).unwrap_or(false)
            && start.elapsed() < Duration::from_millis(100)
        {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        start.elapsed()
    }

    /// User 7's login `family` and its first refresh token `r1`, both expiring in a minute.
    fn login(family: &str, user_agent: Option<&str>) -> (SessionInfo, RefreshId) {
        let exp = Some(now_secs() + 60);
        let session = SessionInfo {
            id: family.into(),
            user: "7".into(),
            created_at: now_secs(),
            last_used_at: now_secs(),
            user_agent: user_agent.map(str::to_owned),
            expires_at: exp,
        };
        let first = RefreshId {
            jti: "r1".into(),
            exp,
        };
        (session, first)
    }

    #[tokio::test]
    async fn a_revocation_on_one_instance_reaches_the_other_within_100_ms() {
        let prefix = format!("jwt-test-{}", uuid::Uuid::new_v4());
        let (Some(a), Some(b)) = (redis_store(&prefix).await, redis_store(&prefix).await) else {
            return;
        };
        assert!(a.cache_is_live() && b.cache_is_live());
        let t = token("jti-1", None);
        assert!(!b.is_revoked(&t).await.expect("answer"));
        a.revoke("jti-1", Some(now_secs() + 60))
            .await
            .expect("revoke");
        let waited = learned(&b, Some("jti-1"), None).await;
        assert!(
            b.is_revoked(&t).await.expect("answer"),
            "B learned of A's revocation in {waited:?}"
        );
        // A third instance started later loads the revocation from Redis.
        let Some(c) = redis_store(&prefix).await else {
            return;
        };
        assert!(c.is_revoked(&t).await.expect("answer"));
        cleanup(&prefix).await;
    }

    #[tokio::test]
    async fn an_ended_login_leaves_its_users_set_and_reaches_the_other_instance() {
        let prefix = format!("jwt-test-{}", uuid::Uuid::new_v4());
        let (Some(a), Some(b)) = (redis_store(&prefix).await, redis_store(&prefix).await) else {
            return;
        };
        let (session, first) = login("fam-e", Some("browser"));
        a.create(&session, &first).await.expect("login");
        assert_eq!(a.end("7", "fam-e").await.expect("ended"), Some(session));
        let mut conn = a.inner.conn.clone();
        let member: bool = conn
            .sismember(a.key("user", "7"), "fam-e")
            .await
            .expect("SISMEMBER");
        assert!(!member, "the family left the user's set");
        learned(&b, None, Some("fam-e")).await;
        assert_eq!(b.cached(None, Some("fam-e")), Some(true), "B learned of it");
        cleanup(&prefix).await;
    }

    #[tokio::test]
    async fn a_replay_on_another_instance_revokes_the_family_everywhere() {
        let prefix = format!("jwt-test-{}", uuid::Uuid::new_v4());
        let (Some(a), Some(b)) = (redis_store(&prefix).await, redis_store(&prefix).await) else {
            return;
        };
        let (session, first) = login("fam-1", None);
        let exp = first.exp;
        let second = RefreshId {
            jti: "r2".into(),
            exp,
        };
        a.create(&session, &first).await.expect("login on A");
        assert_eq!(b.list("7").await.expect("list on B").len(), 1);
        let rotated = a.rotate("fam-1", "r1", &second, Duration::ZERO).await;
        assert_eq!(rotated.expect("rotated on A"), RotateOutcome::Rotated);
        let third = RefreshId {
            jti: "r3".into(),
            exp,
        };
        let replay = b.rotate("fam-1", "r1", &third, Duration::ZERO).await;
        assert_eq!(replay.expect("answer"), RotateOutcome::Reused);
        learned(&a, None, Some("fam-1")).await;
        assert!(
            a.is_revoked(&token("r2", Some("fam-1")))
                .await
                .expect("answer"),
            "A learned of the reuse B saw"
        );
        assert!(
            a.list("7").await.expect("list").is_empty(),
            "the family left the user's set"
        );
        cleanup(&prefix).await;
    }
}
