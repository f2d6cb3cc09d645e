//! Brute-force limits on logins (`POST /api/auth/login`, and the password
//! checks of `POST /api/auth/password` and `DELETE /api/auth/account`) and
//! on registrations. The handlers call [`RateLimiter::login`] and
//! [`RateLimiter::register`] themselves: they know the user name and whether
//! the password was right, so nothing is parsed twice or guessed from a
//! status code.
//!
//! - **Login, per user name** (by its key: every spelling of a name shares
//!   one count): at most `login_failures_per_user` wrong
//!   passwords (default 5) in a 15-minute window; the next attempt, even with
//!   the right password, is answered `429` with `Retry-After` until the window
//!   ends. A successful login resets the name's count.
//! - **Login, per client IP**: at most `login_failures_per_ip` wrong passwords
//!   (default 100, so an office behind one NAT address is not locked out by
//!   one user's typos) in 15 minutes.
//! - **Register, per client IP**: at most `register_per_ip_per_minute`
//!   attempts (default 60) a minute.
//!
//! Counters are fixed windows: the first hit creates the key with the
//! window's expiry. They are **reserved before** the password is checked
//! (INCR first, then compare), so a burst of parallel guesses cannot slip
//! more than the limit through; a reservation is given back when the attempt
//! was not a wrong password (success, a server error) or when it was refused
//! with 429 itself.
//!
//! With `REDIS_URL` the counters live in Redis (a Lua script: INCR, then
//! EXPIRE on the first hit, then TTL), shared by every instance; when Redis
//! fails or is slow the instance falls back to its own in-memory counters
//! (still limited, per instance) and logs a warning.
//!
//! The client IP is the socket's peer address, unless the peer is one of
//! `trusted_proxies`: then it is the right-most `X-Forwarded-For` entry that
//! is not itself a trusted proxy (entries left of it were written by the
//! client and are not believed).

use std::{
    collections::HashMap,
    net::{IpAddr, SocketAddr},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    extract::{ConnectInfo, FromRef, FromRequestParts},
    http::{HeaderMap, request::Parts},
};
use tokio::sync::OnceCell;

use crate::{domain::user_name_key, error::ApiError};

/// The login failure window.
pub const LOGIN_WINDOW: Duration = Duration::from_secs(15 * 60);
/// The registration window.
pub const REGISTER_WINDOW: Duration = Duration::from_secs(60);
/// Default of `MEMO_LOGIN_MAX_FAILURES_PER_USER`.
pub const DEFAULT_LOGIN_FAILURES_PER_USER: u32 = 5;
/// Default of `MEMO_LOGIN_MAX_FAILURES_PER_IP`.
pub const DEFAULT_LOGIN_FAILURES_PER_IP: u32 = 100;
/// Default of `MEMO_REGISTER_PER_IP_PER_MINUTE`.
pub const DEFAULT_REGISTER_PER_IP_PER_MINUTE: u32 = 60;
/// Default prefix of the counters' Redis keys.
pub const DEFAULT_REDIS_PREFIX: &str = "memo:limits";

/// The 429 message for login.
pub const LOGIN_LIMITED_MSG: &str = "Too many failed login attempts; try again later";
/// The 429 message for registration.
pub const REGISTER_LIMITED_MSG: &str = "Too many registrations from this address; try again later";

/// Longest user name kept in a counter's key (longer names cannot exist).
const KEY_NAME_MAX_CHARS: usize = 128;
/// How long one Redis operation may take before the in-memory fallback.
const REDIS_TIMEOUT: Duration = Duration::from_millis(500);
/// In-memory keys beyond which expired ones are swept.
const MEMORY_SWEEP_AT: usize = 10_000;

/// The limits' settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateLimitConfig {
    /// `false` turns every limit off (`MEMO_RATE_LIMITS=off`).
    pub enabled: bool,
    /// Wrong passwords per user name per [`LOGIN_WINDOW`].
    pub login_failures_per_user: u32,
    /// Wrong passwords per client IP per [`LOGIN_WINDOW`].
    pub login_failures_per_ip: u32,
    /// Registration attempts per client IP per minute.
    pub register_per_ip_per_minute: u32,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpAddr>,
    /// Prefix of the Redis keys (when `REDIS_URL` is set).
    pub redis_prefix: String,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            login_failures_per_user: DEFAULT_LOGIN_FAILURES_PER_USER,
            login_failures_per_ip: DEFAULT_LOGIN_FAILURES_PER_IP,
            register_per_ip_per_minute: DEFAULT_REGISTER_PER_IP_PER_MINUTE,
            trusted_proxies: Vec::new(),
            redis_prefix: DEFAULT_REDIS_PREFIX.to_owned(),
        }
    }
}

impl RateLimitConfig {
    /// No limits (test rigs, benchmarks).
    #[must_use]
    pub fn off() -> Self {
        Self {
            enabled: false,
            ..Self::default()
        }
    }
}

/// Parses `MEMO_TRUSTED_PROXIES`: comma-separated IP addresses.
///
/// # Errors
/// The first entry that is not an IP address.
pub fn parse_trusted_proxies(raw: &str) -> Result<Vec<IpAddr>, String> {
    raw.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| entry.parse::<IpAddr>().map_err(|_| entry.to_owned()))
        .collect()
}

/// The client's address: the peer, or (from a trusted proxy) the right-most
/// untrusted `X-Forwarded-For` entry. `None` when the server was not served
/// with connect info (in-process `oneshot` calls).
#[must_use]
pub fn client_ip(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[IpAddr]) -> Option<IpAddr> {
    let peer = peer?;
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let mut client = peer;
    let entries: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    for entry in entries.iter().rev() {
        match parse_forwarded_ip(entry) {
            Some(ip) if trusted.contains(&ip) => client = ip,
            Some(ip) => return Some(ip),
            // A garbled hop: nothing left of it can be believed.
            None => return Some(client),
        }
    }
    Some(client)
}

/// An `X-Forwarded-For` entry: an IP, maybe with a port (`1.2.3.4:5`,
/// `[::1]:5`).
fn parse_forwarded_ip(entry: &str) -> Option<IpAddr> {
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

/// Counted hits: the count after this one and the time left in its window.
#[derive(Clone, Copy, Debug)]
struct Hit {
    count: i64,
    retry_after: Duration,
}

#[derive(Debug)]
struct MemoryEntry {
    count: i64,
    expires: Instant,
}

/// In-memory fixed-window counters.
#[derive(Debug, Default)]
struct MemoryCounters(Mutex<HashMap<String, MemoryEntry>>);

impl MemoryCounters {
    fn incr(&self, key: &str, window: Duration) -> Hit {
        let now = Instant::now();
        let mut map = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= MEMORY_SWEEP_AT {
            map.retain(|_, entry| entry.expires > now);
        }
        let entry = map.entry(key.to_owned()).or_insert(MemoryEntry {
            count: 0,
            expires: now + window,
        });
        if entry.expires <= now {
            *entry = MemoryEntry {
                count: 0,
                expires: now + window,
            };
        }
        entry.count += 1;
        Hit {
            count: entry.count,
            retry_after: entry.expires.saturating_duration_since(now),
        }
    }

    fn decr(&self, key: &str) {
        let now = Instant::now();
        let mut map = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(entry) = map.get_mut(key)
            && entry.expires > now
        {
            entry.count = (entry.count - 1).max(0);
        }
    }

    fn reset(&self, key: &str) {
        let mut map = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.remove(key);
    }
}

/// INCR, EXPIRE on the first hit (or on a key left without one), then the
/// TTL in milliseconds.
const INCR_SCRIPT: &str = r"
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if n == 1 or ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
";

/// DECR, only while the key exists (never creating one without an expiry).
const DECR_SCRIPT: &str = r"
if redis.call('EXISTS', KEYS[1]) == 1 then
  local n = redis.call('DECR', KEYS[1])
  if n < 0 then redis.call('SET', KEYS[1], 0, 'KEEPTTL') end
end
return 0
";

/// Redis counters, connected on first use.
struct RedisCounters {
    client: redis::Client,
    connection: OnceCell<redis::aio::ConnectionManager>,
    prefix: String,
}

impl std::fmt::Debug for RedisCounters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCounters")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisCounters {
    async fn connection(&self) -> Result<redis::aio::ConnectionManager, String> {
        self.connection
            .get_or_try_init(|| async {
                tokio::time::timeout(
                    REDIS_TIMEOUT * 4,
                    crate::redis_client::connect(&self.client),
                )
                .await
                .map_err(|_| "timed out connecting".to_owned())?
                .map_err(|e| e.to_string())
            })
            .await
            .cloned()
    }

    fn key(&self, key: &str) -> String {
        format!("{}:{key}", self.prefix)
    }

    async fn incr(&self, key: &str, window: Duration) -> Result<Hit, String> {
        let mut connection = self.connection().await?;
        let window_ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX);
        let script = redis::Script::new(INCR_SCRIPT);
        let mut invocation = script.key(self.key(key));
        invocation.arg(window_ms);
        let (count, ttl_ms): (i64, i64) =
            tokio::time::timeout(REDIS_TIMEOUT, invocation.invoke_async(&mut connection))
                .await
                .map_err(|_| "timed out".to_owned())?
                .map_err(|e| e.to_string())?;
        Ok(Hit {
            count,
            retry_after: Duration::from_millis(u64::try_from(ttl_ms).unwrap_or(0)),
        })
    }

    async fn decr(&self, key: &str) -> Result<(), String> {
        let mut connection = self.connection().await?;
        let script = redis::Script::new(DECR_SCRIPT);
        let invocation = script.key(self.key(key));
        tokio::time::timeout(
            REDIS_TIMEOUT,
            invocation.invoke_async::<i64>(&mut connection),
        )
        .await
        .map_err(|_| "timed out".to_owned())?
        .map(drop)
        .map_err(|e| e.to_string())
    }

    async fn reset(&self, key: &str) -> Result<(), String> {
        let mut connection = self.connection().await?;
        let mut command = redis::cmd("DEL");
        command.arg(self.key(key));
        tokio::time::timeout(REDIS_TIMEOUT, command.query_async::<i64>(&mut connection))
            .await
            .map_err(|_| "timed out".to_owned())?
            .map(drop)
            .map_err(|e| e.to_string())
    }
}

/// The counters: Redis when configured (with the in-memory ones as the
/// fallback), else in memory.
#[derive(Debug)]
struct Counters {
    memory: MemoryCounters,
    redis: Option<RedisCounters>,
}

impl Counters {
    async fn incr(&self, key: &str, window: Duration) -> Hit {
        if let Some(redis) = &self.redis {
            match redis.incr(key, window).await {
                Ok(hit) => return hit,
                Err(error) => {
                    tracing::warn!(%error, "rate limit counter in Redis failed; counting in memory");
                }
            }
        }
        self.memory.incr(key, window)
    }

    async fn decr(&self, key: &str) {
        if let Some(redis) = &self.redis
            && let Err(error) = redis.decr(key).await
        {
            tracing::warn!(%error, "rate limit counter in Redis failed; counting in memory");
        }
        self.memory.decr(key);
    }

    async fn reset(&self, key: &str) {
        if let Some(redis) = &self.redis
            && let Err(error) = redis.reset(key).await
        {
            tracing::warn!(%error, "rate limit counter in Redis failed; counting in memory");
        }
        self.memory.reset(key);
    }
}

/// The limiter shared by every request.
#[derive(Clone, Debug)]
pub struct RateLimiter {
    config: Arc<RateLimitConfig>,
    counters: Arc<Counters>,
}

impl RateLimiter {
    /// A limiter with in-memory counters, or Redis ones when `redis_url` is
    /// given (connected on first use). A Redis URL that does not parse is
    /// logged and leaves the counters in memory (start-up has already refused
    /// such a URL for the revocation store).
    #[must_use]
    pub fn new(config: RateLimitConfig, redis_url: Option<&str>) -> Self {
        let redis = match redis_url {
            Some(url) if config.enabled => match redis::Client::open(url) {
                Ok(client) => Some(RedisCounters {
                    client,
                    connection: OnceCell::new(),
                    prefix: config.redis_prefix.clone(),
                }),
                Err(error) => {
                    tracing::warn!(%error, "REDIS_URL cannot be used for rate limits; counting in memory");
                    None
                }
            },
            _ => None,
        };
        Self {
            config: Arc::new(config),
            counters: Arc::new(Counters {
                memory: MemoryCounters::default(),
                redis,
            }),
        }
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> &RateLimitConfig {
        &self.config
    }
}

impl RateLimiter {
    /// Counts a registration from `ip`: `Err` (429) over the per-IP limit.
    ///
    /// # Errors
    /// [`ApiError::TooManyRequests`] over the limit.
    pub async fn register(&self, ip: &ClientIp) -> Result<(), ApiError> {
        if !self.config.enabled {
            return Ok(());
        }
        let key = format!("register:ip:{}", ip.0);
        let hit = self.counters.incr(&key, REGISTER_WINDOW).await;
        if hit.count > i64::from(self.config.register_per_ip_per_minute) {
            self.counters.decr(&key).await;
            tracing::warn!(client_ip = %ip.0, "registration refused: per-IP limit");
            return Err(ApiError::TooManyRequests {
                msg: REGISTER_LIMITED_MSG,
                retry_after: hit.retry_after,
            });
        }
        Ok(())
    }

    /// Runs one password check for `user_name` from `ip` within the login
    /// limits. `check` answers `Ok(Some(_))` for the right password,
    /// `Ok(None)` for a wrong one (it stays counted) or an error (the
    /// reservation is given back). Over a limit, `check` does not run.
    ///
    /// # Errors
    /// [`ApiError::TooManyRequests`] over a limit; `check`'s own error.
    pub async fn login<T>(
        &self,
        user_name: &str,
        ip: &ClientIp,
        check: impl Future<Output = Result<Option<T>, ApiError>>,
    ) -> Result<Option<T>, ApiError> {
        if !self.config.enabled {
            return check.await;
        }
        let name: String = user_name_key(user_name)
            .chars()
            .take(KEY_NAME_MAX_CHARS)
            .collect();
        let user_key = format!("login:user:{name}");
        let ip_key = format!("login:ip:{}", ip.0);
        let user_hit = self.counters.incr(&user_key, LOGIN_WINDOW).await;
        let ip_hit = self.counters.incr(&ip_key, LOGIN_WINDOW).await;
        let user_over = user_hit.count > i64::from(self.config.login_failures_per_user);
        let ip_over = ip_hit.count > i64::from(self.config.login_failures_per_ip);
        if user_over || ip_over {
            self.counters.decr(&user_key).await;
            self.counters.decr(&ip_key).await;
            let retry_after = match (user_over, ip_over) {
                (true, true) => user_hit.retry_after.max(ip_hit.retry_after),
                (true, false) => user_hit.retry_after,
                _ => ip_hit.retry_after,
            };
            tracing::warn!(
                client_ip = %ip.0,
                per_user = user_over,
                per_ip = ip_over,
                "login refused: too many failures"
            );
            return Err(ApiError::TooManyRequests {
                msg: LOGIN_LIMITED_MSG,
                retry_after,
            });
        }
        let outcome = check.await;
        match &outcome {
            // A wrong password: the reservations stay counted.
            Ok(None) => {}
            Ok(Some(_)) => {
                self.counters.reset(&user_key).await;
                self.counters.decr(&ip_key).await;
            }
            Err(_) => {
                self.counters.decr(&user_key).await;
                self.counters.decr(&ip_key).await;
            }
        }
        outcome
    }
}

/// The client's address as the limits see it (see [`client_ip`]):
/// `unknown` when the server was not served with connect info.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientIp(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp
where
    RateLimiter: FromRef<S>,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        let limiter = RateLimiter::from_ref(state);
        Ok(Self(
            client_ip(peer, &parts.headers, &limiter.config.trusted_proxies)
                .map_or_else(|| "unknown".to_owned(), |ip| ip.to_string()),
        ))
    }
}

/// Adds the 429 answer (with `Retry-After`) to the limited operations of the
/// OpenAPI document, so that clients and schemathesis know it.
pub fn document(openapi: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{
        ContentBuilder, Ref, ResponseBuilder, header::HeaderBuilder, schema::Type,
    };
    for (path, msg) in [
        ("/api/auth/login", LOGIN_LIMITED_MSG),
        ("/api/auth/register", REGISTER_LIMITED_MSG),
        ("/api/auth/password", LOGIN_LIMITED_MSG),
        ("/api/auth/account", LOGIN_LIMITED_MSG),
    ] {
        let Some(operation) = openapi.paths.paths.get_mut(path).and_then(|item| {
            if item.post.is_some() {
                item.post.as_mut()
            } else {
                item.delete.as_mut()
            }
        }) else {
            continue;
        };
        let response = ResponseBuilder::new()
            .description(format!(
                "`{msg}`: a brute-force limit (see docs/security.md)"
            ))
            .header(
                "Retry-After",
                HeaderBuilder::new()
                    .schema(utoipa::openapi::schema::Object::with_type(Type::Integer))
                    .description(Some("Seconds until the limit's window ends"))
                    .build(),
            )
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build(),
            )
            .build();
        operation
            .responses
            .responses
            .insert("429".to_owned(), response.into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("an IP")
    }

    fn xff(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            axum::http::HeaderValue::from_str(value).expect("a header value"),
        );
        headers
    }

    #[test]
    fn forwarded_for_is_ignored_from_an_untrusted_peer() {
        let headers = xff("9.9.9.9");
        assert_eq!(
            client_ip(Some(ip("10.0.0.5")), &headers, &[]),
            Some(ip("10.0.0.5"))
        );
    }

    #[test]
    fn the_right_most_untrusted_entry_is_the_client() {
        let trusted = [ip("10.0.0.1"), ip("10.0.0.2")];
        let headers = xff("6.6.6.6, 1.2.3.4, 10.0.0.2");
        assert_eq!(
            client_ip(Some(ip("10.0.0.1")), &headers, &trusted),
            Some(ip("1.2.3.4"))
        );
        assert_eq!(
            client_ip(Some(ip("10.0.0.1")), &xff("[::1]:443"), &trusted),
            Some(ip("::1"))
        );
        assert_eq!(
            client_ip(Some(ip("10.0.0.1")), &xff("garbage, 10.0.0.2"), &trusted),
            Some(ip("10.0.0.2"))
        );
        assert_eq!(
            client_ip(Some(ip("10.0.0.1")), &HeaderMap::new(), &trusted),
            Some(ip("10.0.0.1"))
        );
    }

    #[test]
    fn trusted_proxies_parse() {
        assert_eq!(
            parse_trusted_proxies(" 10.0.0.1, ::1 ,"),
            Ok(vec![ip("10.0.0.1"), ip("::1")])
        );
        assert_eq!(
            parse_trusted_proxies("10.0.0.0/8"),
            Err("10.0.0.0/8".to_owned())
        );
    }

    #[test]
    fn memory_counters_use_fixed_windows() {
        let counters = MemoryCounters::default();
        assert_eq!(counters.incr("k", Duration::from_secs(60)).count, 1);
        let hit = counters.incr("k", Duration::from_secs(60));
        assert_eq!(hit.count, 2);
        assert!(hit.retry_after <= Duration::from_secs(60));
        counters.decr("k");
        assert_eq!(counters.incr("k", Duration::from_secs(60)).count, 2);
        counters.reset("k");
        assert_eq!(counters.incr("k", Duration::from_secs(60)).count, 1);
        assert_eq!(counters.incr("gone", Duration::ZERO).count, 1);
        assert_eq!(counters.incr("gone", Duration::ZERO).count, 1, "expired");
    }

    #[test]
    fn retry_after_rounds_up() {
        use axum::response::IntoResponse as _;
        let response = |retry_after| {
            ApiError::TooManyRequests {
                msg: "x",
                retry_after,
            }
            .into_response()
        };
        assert_eq!(
            response(Duration::from_millis(1500)).headers()["retry-after"],
            "2"
        );
        assert_eq!(response(Duration::ZERO).headers()["retry-after"], "1");
    }
}
