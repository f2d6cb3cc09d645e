//! [`RedisStore`]: revocations and login families in Redis, shared by every instance.
//!
//! Lookups stay off the network: each instance keeps the set of revoked `jti`s and families in
//! memory, loaded when it starts and kept current through Redis pub/sub, so a logout on one
//! instance is refused on all of them within milliseconds. While the subscription is down the
//! store asks Redis directly, so nothing revoked slips through during a reconnect.

use std::{
    collections::HashMap,
    fmt,
    sync::{Arc, RwLock},
    time::Duration,
};

use futures_util::{StreamExt, future::BoxFuture};
use redis::{AsyncCommands, Client, Script, aio::ConnectionManager};
use serde_json::Value;
use tokio::{sync::oneshot, task::JoinHandle};

use crate::{
    claims::DecodedToken,
    decode::now,
    revocation::{RevocationStore, StoreError},
    rotation::{FAMILY_CLAIM, RefreshId, RotateOutcome, SessionInfo, SessionStore},
};

/// Kept when a revoked token never expires (seconds from now): ten years.
const FOREVER: i64 = 10 * 365 * 24 * 3600;

/// Revoked ids known locally; `complete` while the subscription is live and the snapshot loaded.
#[derive(Default)]
struct Cache {
    complete: bool,
    jtis: HashMap<String, i64>,
    families: HashMap<String, i64>,
}

impl Cache {
    fn insert(&mut self, kind: &str, id: &str, until: i64) {
        let now = now() as i64;
        let map = if kind == "f" {
            &mut self.families
        } else {
            &mut self.jtis
        };
        if map.len() > 1024 && map.len().is_power_of_two() {
            map.retain(|_, until| *until > now);
        }
        map.insert(id.to_owned(), until);
    }

    fn contains(&self, kind: &str, id: &str) -> bool {
        let map = if kind == "f" {
            &self.families
        } else {
            &self.jtis
        };
        map.get(id).is_some_and(|until| *until > now() as i64)
    }
}

struct Inner {
    conn: ConnectionManager,
    prefix: String,
    cache: RwLock<Cache>,
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
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use jwt_extended::{JwtConfig, JwtManager, RedisStore};
/// let store = RedisStore::connect("redis://127.0.0.1:6379", "memo").await?;
/// let jwt = JwtManager::builder(JwtConfig::from_env()?).session_store(store).build()?;
/// # Ok(()) }
/// ```
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
        let conn = client.get_connection_manager().await.map_err(store_error)?;
        let inner = Arc::new(Inner {
            conn,
            prefix: prefix.trim_end_matches(':').to_owned(),
            cache: RwLock::new(Cache::default()),
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

    fn remember(&self, kind: &str, id: &str, until: i64) {
        if let Ok(mut cache) = self.inner.cache.write() {
            cache.insert(kind, id, until);
        }
    }

    /// `Some(answer)` when memory can answer, `None` when Redis must.
    fn cached(&self, jti: Option<&str>, family: Option<&str>) -> Option<bool> {
        let cache = self.inner.cache.read().ok()?;
        let hit = jti.is_some_and(|j| cache.contains("j", j))
            || family.is_some_and(|f| cache.contains("f", f));
        (hit || cache.complete).then_some(hit)
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
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

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
    let mut pubsub = client.get_async_pubsub().await.map_err(store_error)?;
    pubsub.subscribe(&channel).await.map_err(store_error)?;
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
    let mut messages = pubsub.on_message();
    while let Some(message) = messages.next().await {
        let Some(inner) = weak.upgrade() else {
            return Ok(());
        };
        let payload: String = message.get_payload().unwrap_or_default();
        let mut parts = payload.splitn(3, ' ');
        if let (Some(kind @ ("j" | "f")), Some(until), Some(id)) =
            (parts.next(), parts.next(), parts.next())
            && let Ok(mut cache) = inner.cache.write()
        {
            cache.insert(kind, id, until.parse().unwrap_or(i64::MAX));
        }
    }
    Ok(())
}

/// Every revoked id now in Redis, with its expiry.
async fn load_snapshot(
    client: &Client,
    prefix: &str,
) -> Result<Vec<(&'static str, String, i64)>, StoreError> {
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .map_err(store_error)?;
    let mut found = Vec::new();
    for (kind, segment) in [("j", "revoked"), ("f", "revoked-fam")] {
        let pattern = format!("{prefix}:{segment}:*");
        let keys: Vec<String> = {
            let iter: redis::AsyncIter<'_, String> =
                conn.scan_match(&pattern).await.map_err(store_error)?;
            iter.filter_map(|k| async move { k.ok() }).collect().await
        };
        let now = now() as i64;
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
    exp.unwrap_or_else(|| now() as i64 + FOREVER)
}

impl RevocationStore for RedisStore {
    fn is_revoked<'a>(
        &'a self,
        token: &'a DecodedToken,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        let jti = token.jti();
        let family = token.claim(FAMILY_CLAIM).and_then(Value::as_str);
        match self.cached(jti, family) {
            Some(answer) => Box::pin(async move { Ok(answer) }),
            None => Box::pin(self.ask_redis(jti, family)),
        }
    }

    fn revoke<'a>(
        &'a self,
        jti: &'a str,
        expires_at: Option<i64>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
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
            self.remember("j", jti, until);
            Ok(())
        })
    }
}

/// Rotation in one atomic step. KEYS: family hash, revoked-family key, user set.
/// ARGV: presented jti, successor jti, successor exp ("" = none), now, grace seconds, channel,
/// family id. Returns {outcome, jti, exp}.
const ROTATE: &str = r#"
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
redis.call('SREM', KEYS[3], ARGV[7])
redis.call('PUBLISH', ARGV[6], 'f ' .. expiry .. ' ' .. ARGV[7])
return {'reused'}
"#;

/// Revokes a family. KEYS: family hash, revoked-family key, user set. ARGV: now, channel, id.
const REVOKE_FAMILY: &str = r#"
local now = tonumber(ARGV[1])
local expiry = tonumber(redis.call('HGET', KEYS[1], 'current_exp') or '') or (now + 315360000)
redis.call('SET', KEYS[2], 1, 'EXAT', expiry)
redis.call('SREM', KEYS[3], ARGV[3])
redis.call('PUBLISH', ARGV[2], 'f ' .. expiry .. ' ' .. ARGV[3])
return expiry
"#;

impl RedisStore {
    async fn user_of(&self, family: &str) -> Result<Option<String>, StoreError> {
        let mut conn = self.inner.conn.clone();
        conn.hget(self.key("fam", family), "user")
            .await
            .map_err(store_error)
    }

    async fn session(&self, family: &str) -> Result<Option<SessionInfo>, StoreError> {
        let mut conn = self.inner.conn.clone();
        let fields: HashMap<String, String> = conn
            .hgetall(self.key("fam", family))
            .await
            .map_err(store_error)?;
        let int = |name: &str| fields.get(name).and_then(|v| v.parse::<i64>().ok());
        let Some(user) = fields.get("user") else {
            return Ok(None);
        };
        Ok(Some(SessionInfo {
            id: family.to_owned(),
            user: user.clone(),
            created_at: int("created_at").unwrap_or_default(),
            last_used_at: int("last_used_at").unwrap_or_default(),
            user_agent: fields.get("user_agent").filter(|v| !v.is_empty()).cloned(),
            expires_at: int("current_exp"),
        }))
    }
}

impl SessionStore for RedisStore {
    fn create<'a>(
        &'a self,
        session: &'a SessionInfo,
        refresh: &'a RefreshId,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
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
        })
    }

    fn rotate<'a>(
        &'a self,
        family: &'a str,
        presented: &'a str,
        successor: &'a RefreshId,
        grace: Duration,
    ) -> BoxFuture<'a, Result<RotateOutcome, StoreError>> {
        Box::pin(async move {
            let user = self.user_of(family).await?.unwrap_or_default();
            let mut conn = self.inner.conn.clone();
            let reply: Vec<String> = Script::new(ROTATE)
                .key(self.key("fam", family))
                .key(self.key("revoked-fam", family))
                .key(self.key("user", &user))
                .arg(presented)
                .arg(&successor.jti)
                .arg(successor.exp.map(|e| e.to_string()).unwrap_or_default())
                .arg(now() as i64)
                .arg(grace.as_secs())
                .arg(self.channel())
                .arg(family)
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
                    self.remember("f", family, i64::MAX);
                    RotateOutcome::Reused
                }
                _ => RotateOutcome::Revoked,
            })
        })
    }

    fn revoke_family<'a>(&'a self, family: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let user = self.user_of(family).await?.unwrap_or_default();
            let mut conn = self.inner.conn.clone();
            let until: i64 = Script::new(REVOKE_FAMILY)
                .key(self.key("fam", family))
                .key(self.key("revoked-fam", family))
                .key(self.key("user", &user))
                .arg(now() as i64)
                .arg(self.channel())
                .arg(family)
                .invoke_async(&mut conn)
                .await
                .map_err(store_error)?;
            self.remember("f", family, until);
            Ok(())
        })
    }

    fn list<'a>(&'a self, user: &'a str) -> BoxFuture<'a, Result<Vec<SessionInfo>, StoreError>> {
        Box::pin(async move {
            let mut conn = self.inner.conn.clone();
            let ids: Vec<String> = conn
                .smembers(self.key("user", user))
                .await
                .map_err(store_error)?;
            let mut live = Vec::with_capacity(ids.len());
            for id in ids {
                match self.session(&id).await? {
                    Some(session) if !self.cached(None, Some(&id)).unwrap_or(false) => {
                        live.push(session)
                    }
                    Some(_) => {}
                    None => {
                        let _: () = conn
                            .srem(self.key("user", user), &id)
                            .await
                            .map_err(store_error)?;
                    }
                }
            }
            live.sort_by_key(|s| s.created_at);
            Ok(live)
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::{JsonObject, JwtConfig, JwtError, JwtManager};

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
            payload,
        }
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
        a.revoke("jti-1", Some(now() as i64 + 60))
            .await
            .expect("revoke");
        let start = Instant::now();
        while !b.cached(Some("jti-1"), None).unwrap_or(false)
            && start.elapsed() < Duration::from_millis(100)
        {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        assert!(
            b.is_revoked(&t).await.expect("answer"),
            "B learned of A's revocation in {:?}",
            start.elapsed()
        );
        // A third instance started later loads the revocation from Redis.
        let Some(c) = redis_store(&prefix).await else {
            return;
        };
        assert!(c.is_revoked(&t).await.expect("answer"));
        cleanup(&prefix).await;
    }

    #[tokio::test]
    async fn rotation_replay_on_another_instance_revokes_the_family() {
        let prefix = format!("jwt-test-{}", uuid::Uuid::new_v4());
        let (Some(a), Some(b)) = (redis_store(&prefix).await, redis_store(&prefix).await) else {
            return;
        };
        let config = || JwtConfig::default().with_secret_key("shared secret");
        let jwt_a = JwtManager::builder(config())
            .session_store(a)
            .build()
            .expect("config");
        let jwt_b = JwtManager::builder(config())
            .session_store(b.clone())
            .build()
            .expect("config");
        let login = jwt_a
            .login("7", JsonObject::new(), Some("ua".into()))
            .await
            .expect("login");
        assert_eq!(jwt_b.sessions("7").await.expect("list").len(), 1);
        let old = jwt_a
            .decode_token(&login.refresh_token, None, false)
            .expect("valid");
        let next = jwt_a
            .rotate(&old, &login.refresh_token, Duration::ZERO)
            .await
            .expect("rotated on A");
        let replay = jwt_b
            .rotate(&old, &login.refresh_token, Duration::ZERO)
            .await;
        assert!(
            matches!(replay, Err(JwtError::Revoked(_))),
            "replay on B refused"
        );
        let new = jwt_a
            .decode_token(&next.refresh_token, None, false)
            .expect("valid signature");
        assert!(
            b.is_revoked(&new).await.expect("answer"),
            "the successor died with the family"
        );
        assert!(jwt_a.sessions("7").await.expect("list").is_empty());
        cleanup(&prefix).await;
    }

    #[tokio::test]
    async fn grace_window_and_logout_all() {
        let prefix = format!("jwt-test-{}", uuid::Uuid::new_v4());
        let Some(store) = redis_store(&prefix).await else {
            return;
        };
        let jwt = JwtManager::builder(JwtConfig::default().with_secret_key("k"))
            .session_store(store.clone())
            .build()
            .expect("config");
        let login = jwt
            .login("9", JsonObject::new(), None)
            .await
            .expect("login");
        let old = jwt
            .decode_token(&login.refresh_token, None, false)
            .expect("valid");
        let a = jwt
            .rotate(&old, &login.refresh_token, Duration::from_secs(5))
            .await
            .expect("first");
        let b = jwt
            .rotate(&old, &login.refresh_token, Duration::from_secs(5))
            .await
            .expect("second, in grace");
        assert_eq!(
            jwt.get_jti(&a.refresh_token).expect("jti"),
            jwt.get_jti(&b.refresh_token).expect("jti")
        );
        jwt.login("9", JsonObject::new(), None)
            .await
            .expect("second login");
        assert_eq!(jwt.end_all_sessions("9").await.expect("ended"), 2);
        let access = jwt
            .decode_token(&login.access_token, None, false)
            .expect("valid");
        assert!(store.is_revoked(&access).await.expect("answer"));
        cleanup(&prefix).await;
    }
}
