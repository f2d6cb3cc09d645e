//! Brute-force limits on `POST /api/auth/login` and `POST /api/auth/register`.
//!
//! - **Login, per user name**: at most `login_failures_per_user` wrong
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
//! was not a wrong password (success, a malformed body, a server error) or
//! when it was refused with 429 itself.
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
    Json,
    body::{Body, Bytes},
    extract::{ConnectInfo, Request, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use tokio::sync::OnceCell;

use crate::error::{ApiError, BODY_LIMIT_BYTES, ErrorBody};

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
                tokio::time::timeout(REDIS_TIMEOUT * 4, self.client.get_connection_manager())
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

/// The route a request is for, when it is limited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Limited {
    Login,
    Register,
}

fn limited_route(method: &Method, path: &str) -> Option<Limited> {
    if method != Method::POST {
        return None;
    }
    match path {
        "/api/auth/login" => Some(Limited::Login),
        "/api/auth/register" => Some(Limited::Register),
        _ => None,
    }
}

/// The middleware: counts and refuses logins and registrations.
pub async fn enforce(State(limiter): State<RateLimiter>, request: Request, next: Next) -> Response {
    if !limiter.config.enabled {
        return next.run(request).await;
    }
    let Some(route) = limited_route(request.method(), request.uri().path()) else {
        return next.run(request).await;
    };
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    let ip = client_ip(peer, request.headers(), &limiter.config.trusted_proxies)
        .map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
    match route {
        Limited::Register => register(&limiter, &ip, request, next).await,
        Limited::Login => login(&limiter, &ip, request, next).await,
    }
}

async fn register(limiter: &RateLimiter, ip: &str, request: Request, next: Next) -> Response {
    let key = format!("register:ip:{ip}");
    let hit = limiter.counters.incr(&key, REGISTER_WINDOW).await;
    if hit.count > i64::from(limiter.config.register_per_ip_per_minute) {
        limiter.counters.decr(&key).await;
        tracing::warn!(client_ip = ip, "registration refused: per-IP limit");
        return too_many(REGISTER_LIMITED_MSG, hit.retry_after);
    }
    next.run(request).await
}

async fn login(limiter: &RateLimiter, ip: &str, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, BODY_LIMIT_BYTES).await else {
        return ApiError::PayloadTooLarge.into_response();
    };
    let Some(name) = user_name(&bytes) else {
        // No name: the handler refuses the body (400/422) without checking
        // any password, so there is nothing to count.
        return next
            .run(Request::from_parts(parts, Body::from(bytes)))
            .await;
    };
    let user_key = format!("login:user:{name}");
    let ip_key = format!("login:ip:{ip}");
    let user_hit = limiter.counters.incr(&user_key, LOGIN_WINDOW).await;
    let ip_hit = limiter.counters.incr(&ip_key, LOGIN_WINDOW).await;
    let user_over = user_hit.count > i64::from(limiter.config.login_failures_per_user);
    let ip_over = ip_hit.count > i64::from(limiter.config.login_failures_per_ip);
    if user_over || ip_over {
        limiter.counters.decr(&user_key).await;
        limiter.counters.decr(&ip_key).await;
        let retry_after = match (user_over, ip_over) {
            (true, true) => user_hit.retry_after.max(ip_hit.retry_after),
            (true, false) => user_hit.retry_after,
            _ => ip_hit.retry_after,
        };
        tracing::warn!(
            client_ip = ip,
            per_user = user_over,
            per_ip = ip_over,
            "login refused: too many failures"
        );
        return too_many(LOGIN_LIMITED_MSG, retry_after);
    }
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    let status = response.status();
    if status == StatusCode::UNAUTHORIZED {
        // A wrong password: the reservations stay counted.
    } else if status.is_success() {
        limiter.counters.reset(&user_key).await;
        limiter.counters.decr(&ip_key).await;
    } else {
        limiter.counters.decr(&user_key).await;
        limiter.counters.decr(&ip_key).await;
    }
    response
}

/// The body's `user_name`, when it is a JSON object with a string there.
fn user_name(body: &Bytes) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Name {
        user_name: String,
    }
    let Name { user_name } = serde_json::from_slice::<Name>(body).ok()?;
    Some(user_name.chars().take(KEY_NAME_MAX_CHARS).collect())
}

/// 429 `{"msg"}` with `Retry-After` in whole seconds (at least 1).
fn too_many(msg: &str, retry_after: Duration) -> Response {
    let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
    let seconds = seconds.max(1);
    let mut response = (
        StatusCode::TOO_MANY_REQUESTS,
        Json(ErrorBody {
            msg: msg.to_owned(),
        }),
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
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
    ] {
        let Some(operation) = openapi
            .paths
            .paths
            .get_mut(path)
            .and_then(|item| item.post.as_mut())
        else {
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
            HeaderValue::from_str(value).expect("a header value"),
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
        let response = too_many("x", Duration::from_millis(1500));
        assert_eq!(response.headers()[header::RETRY_AFTER], "2");
        let response = too_many("x", Duration::ZERO);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
    }
}
