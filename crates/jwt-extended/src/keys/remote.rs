//! [`RemoteJwks`]: verifying with the JWKS of another service, fetched over HTTP(S) with
//! reqwest and rustls (feature `remote-jwks`).

use std::{
    collections::HashMap,
    fmt,
    str::FromStr,
    sync::{Arc, PoisonError, RwLock, RwLockReadGuard},
    time::{Duration, Instant},
};

use base64::Engine;
use http::header::ACCEPT;
use jsonwebtoken::{
    Algorithm, AlgorithmFamily, DecodingKey,
    jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyOperations, PublicKeyUse},
};
use serde::Deserialize;
use tokio::sync::Mutex;

use crate::base64url::B64;

/// A JWKS larger than this is refused (a real one is a few kilobytes).
const MAX_BODY: usize = 1024 * 1024;

/// Why a JWKS could not be fetched.
#[cfg_attr(docsrs, doc(cfg(feature = "remote-jwks")))]
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JwksError {
    /// The HTTP client failed (connection, TLS, timeout, ...).
    #[error("fetching the JWKS failed: {0}")]
    Http(#[from] reqwest::Error),
    /// The server answered with a status other than 2xx.
    #[error("the JWKS endpoint answered HTTP {0}")]
    Status(u16),
    /// The body is larger than 1 MiB.
    #[error("the JWKS is larger than {MAX_BODY} bytes")]
    TooLarge,
    /// The body is not a JSON object with a `keys` array.
    #[error("the JWKS is not a JSON object with a \"keys\" array: {0}")]
    Json(#[from] serde_json::Error),
}

/// A verification key of the remote set.
#[derive(Clone)]
struct RemoteKey {
    /// The JWK's `alg` (or the one its curve implies); `None`: any of its family.
    alg: Option<Algorithm>,
    key: DecodingKey,
}

#[derive(Default)]
struct Cache {
    by_kid: HashMap<String, RemoteKey>,
    /// The first key without a `kid`, for tokens without one (as `PyJWKClient` does).
    no_kid: Option<RemoteKey>,
    fetched_at: Option<Instant>,
}

struct State {
    cache: RwLock<Cache>,
    /// Held while fetching, so that one fetch runs at a time; holds the last attempt.
    fetch: Mutex<Option<Instant>>,
}

/// Whether a token's key calls for a fetch.
#[derive(Debug, PartialEq, Eq)]
enum Need {
    Nothing,
    /// Known, but the set is older than `max_age`.
    Stale,
    /// Not in the cached set.
    Missing,
}

/// The JWKS of another service (an authorization server), fetched over HTTP(S) and cached
/// by `kid`; give it to [`JwtManagerBuilder::remote_jwks`](crate::JwtManagerBuilder::remote_jwks).
///
/// The set is fetched when a request's token names a `kid` that is not cached (the first
/// token, or the issuer rotated its key), at most once per
/// [`refetch_interval`](Self::refetch_interval) whether the fetch worked or not, and one
/// fetch at a time: concurrent requests wait for the running fetch instead of starting
/// their own. A set older than [`max_age`](Self::max_age) is fetched again on the next
/// request, so that keys the issuer removed stop verifying. A failed fetch keeps the cached
/// keys and is logged. Keys for encryption, HS* secrets and curves jsonwebtoken does not
/// verify are skipped; a key with an `alg` verifies only tokens of that `alg`.
///
/// Cheap to clone; clones share the cache.
///
/// ```no_run
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use jwt_extended::{Algorithm, JwtConfig, JwtManager, RemoteJwks};
///
/// let jwks = RemoteJwks::new("https://auth.example.com/api/.well-known/jwks.json")?
///     .refetch_interval(Duration::from_secs(5));
/// let jwt = JwtManager::builder(JwtConfig::default().with_algorithm(Algorithm::RS256))
///     .remote_jwks(jwks)
///     .build()?;
/// // Use `jwt` with the extractors as usual; creating tokens fails (no signing key).
/// # let _ = jwt;
/// # Ok(())
/// # }
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "remote-jwks")))]
#[derive(Clone)]
pub struct RemoteJwks {
    url: Arc<str>,
    client: reqwest::Client,
    refetch_interval: Duration,
    max_age: Duration,
    state: Arc<State>,
}

impl fmt::Debug for RemoteJwks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteJwks")
            .field("url", &self.url)
            .field("refetch_interval", &self.refetch_interval)
            .field("max_age", &self.max_age)
            .field("kids", &self.kids())
            .finish_non_exhaustive()
    }
}

impl RemoteJwks {
    /// The set at `url`, fetched with a rustls client (10 s timeout), refetched at most
    /// every 5 s on an unknown `kid` and every 5 minutes in any case.
    ///
    /// # Errors
    /// [`JwksError::Http`] when the HTTP client cannot be built.
    pub fn new(url: impl Into<String>) -> Result<Self, JwksError> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(5))
            .build()?;
        Ok(Self::with_client(url, client))
    }

    /// Like [`new`](Self::new), with your HTTP client (proxy, root certificates, ...).
    pub fn with_client(url: impl Into<String>, client: reqwest::Client) -> Self {
        Self {
            url: Arc::from(url.into()),
            client,
            refetch_interval: Duration::from_secs(5),
            max_age: Duration::from_secs(300),
            state: Arc::new(State {
                cache: RwLock::new(Cache::default()),
                fetch: Mutex::new(None),
            }),
        }
    }

    /// The shortest time between two fetches caused by unknown kids (default 5 s): a flood
    /// of tokens with made-up kids costs the issuer one request per interval.
    #[must_use]
    pub fn refetch_interval(mut self, interval: Duration) -> Self {
        self.refetch_interval = interval;
        self
    }

    /// How long a fetched set is used before it is fetched again (default 5 minutes, as
    /// `PyJWKClient`'s `lifespan`).
    #[must_use]
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    /// The URL of the set.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The kids of the cached keys, sorted.
    pub fn kids(&self) -> Vec<String> {
        let mut kids: Vec<String> = self.read().by_kid.keys().cloned().collect();
        kids.sort();
        kids
    }

    /// Fetches the set now (for example at start-up), without the throttle but after any
    /// fetch already running, and returns how many usable keys it holds.
    ///
    /// # Errors
    /// [`JwksError`] when the fetch fails; the cached keys are then kept.
    pub async fn refresh(&self) -> Result<usize, JwksError> {
        let mut last = self.state.fetch.lock().await;
        self.fetch_and_store(&mut last).await
    }

    /// Makes sure a token's key is cached, fetching the set when it is missing (or stale)
    /// and the throttle allows.
    pub(crate) async fn ensure(&self, kid: Option<&str>) {
        let mut last = match self.need(kid) {
            Need::Nothing => return,
            Need::Stale => match self.state.fetch.try_lock() {
                Ok(last) => last,
                // Another request is fetching; the cached key is still good meanwhile.
                Err(_) => return,
            },
            Need::Missing => self.state.fetch.lock().await,
        };
        // Another request may have fetched while this one waited.
        if self.need(kid) == Need::Nothing {
            return;
        }
        if let Some(at) = *last
            && at.elapsed() < self.refetch_interval
        {
            tracing::debug!(url = %self.url, ?kid, "JWKS refetch throttled");
            return;
        }
        if let Err(error) = self.fetch_and_store(&mut last).await {
            tracing::warn!(url = %self.url, %error, "JWKS refetch failed; keeping the cached keys");
        }
    }

    /// The cached key for a token's `kid` and `alg`.
    pub(crate) fn cached_key(&self, kid: Option<&str>, alg: Algorithm) -> Option<DecodingKey> {
        let cache = self.read();
        let key = match kid {
            Some(kid) => cache.by_kid.get(kid),
            None => cache.no_kid.as_ref(),
        }?;
        let fits = match key.alg {
            Some(key_alg) => key_alg == alg,
            None => key.key.family() == alg.family(),
        };
        fits.then(|| key.key.clone())
    }

    fn read(&self) -> RwLockReadGuard<'_, Cache> {
        self.state
            .cache
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn need(&self, kid: Option<&str>) -> Need {
        let cache = self.read();
        let known = match kid {
            Some(kid) => cache.by_kid.contains_key(kid),
            None => cache.no_kid.is_some(),
        };
        if !known {
            Need::Missing
        } else if cache
            .fetched_at
            .is_none_or(|at| at.elapsed() >= self.max_age)
        {
            Need::Stale
        } else {
            Need::Nothing
        }
    }

    async fn fetch_and_store(&self, last: &mut Option<Instant>) -> Result<usize, JwksError> {
        *last = Some(Instant::now());
        let body = self.fetch().await?;
        let cache = parse_set(&body)?;
        let count = cache.by_kid.len() + usize::from(cache.no_kid.is_some());
        tracing::debug!(url = %self.url, count, "JWKS fetched");
        *self
            .state
            .cache
            .write()
            .unwrap_or_else(PoisonError::into_inner) = cache;
        Ok(count)
    }

    async fn fetch(&self) -> Result<Vec<u8>, JwksError> {
        let mut response = self
            .client
            .get(&*self.url)
            .header(ACCEPT, "application/json")
            .send()
            .await?;
        let status = response.status();
        if !status.is_success() {
            return Err(JwksError::Status(status.as_u16()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(JwksError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

/// The usable keys of a JWKS body; a key that does not parse is skipped, not the set.
fn parse_set(body: &[u8]) -> Result<Cache, JwksError> {
    #[derive(Deserialize)]
    struct RawSet {
        keys: Vec<serde_json::Value>,
    }
    let raw: RawSet = serde_json::from_slice(body)?;
    let mut cache = Cache {
        fetched_at: Some(Instant::now()),
        ..Cache::default()
    };
    for value in raw.keys {
        let Ok(jwk) = serde_json::from_value::<Jwk>(value) else {
            tracing::debug!("JWKS entry skipped: not a JWK jsonwebtoken reads");
            continue;
        };
        let Some(key) = usable_key(&jwk) else {
            tracing::debug!(kid = ?jwk.common.key_id, "JWKS entry skipped: not a signature verification key");
            continue;
        };
        match jwk.common.key_id {
            Some(kid) => {
                cache.by_kid.entry(kid).or_insert(key);
            }
            None => {
                cache.no_kid.get_or_insert(key);
            }
        }
    }
    Ok(cache)
}

/// A JWK as a verification key: public, for signatures, of an algorithm jsonwebtoken
/// verifies, and consistent with its own `alg`.
fn usable_key(jwk: &Jwk) -> Option<RemoteKey> {
    let common = &jwk.common;
    if common
        .public_key_use
        .as_ref()
        .is_some_and(|u| *u != PublicKeyUse::Signature)
    {
        return None;
    }
    if common
        .key_operations
        .as_ref()
        .is_some_and(|ops| !ops.contains(&KeyOperations::Verify))
    {
        return None;
    }
    let alg = match common.key_algorithm {
        Some(alg) => Some(Algorithm::from_str(&alg.to_string()).ok()?),
        None => None,
    };
    let family = |a: Algorithm| a.family();
    let alg = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => {
            if alg.is_some_and(|a| family(a) != AlgorithmFamily::Rsa) {
                return None;
            }
            alg
        }
        AlgorithmParameters::EllipticCurve(ec) => {
            let implied = match ec.curve {
                EllipticCurve::P256 => Algorithm::ES256,
                EllipticCurve::P384 => Algorithm::ES384,
                _ => return None,
            };
            if alg.is_some_and(|a| a != implied) {
                return None;
            }
            Some(implied)
        }
        AlgorithmParameters::OctetKeyPair(okp) => {
            if okp.curve != EllipticCurve::Ed25519 || alg.is_some_and(|a| a != Algorithm::EdDSA) {
                return None;
            }
            Some(Algorithm::EdDSA)
        }
        // A shared secret has no place in a published set.
        AlgorithmParameters::OctetKey(_) => return None,
    };
    let key = DecodingKey::from_jwk(jwk).ok()?;
    Some(RemoteKey { alg, key })
}

/// The `kid` of a token's header: `Some(None)` when it has none, `None` when the header does
/// not parse or its `kid` is not a string (the decode reports those).
pub(crate) fn header_kid(token: &str) -> Option<Option<String>> {
    let header = token.split('.').next()?;
    let bytes = B64.decode(header).ok()?;
    let header: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&bytes).ok()?;
    match header.get("kid") {
        None => Some(None),
        Some(serde_json::Value::String(kid)) => Some(Some(kid.clone())),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(value: &serde_json::Value) -> Cache {
        parse_set(value.to_string().as_bytes()).expect("a set")
    }

    const RSA_N: &str = "sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw";

    #[test]
    fn a_set_keeps_only_public_signature_keys_and_skips_bad_entries() {
        let cache = parse(&json!({"keys": [
            {"kty": "RSA", "kid": "rsa", "alg": "RS256", "use": "sig", "n": RSA_N, "e": "AQAB"},
            {"kty": "RSA", "kid": "enc", "use": "enc", "n": RSA_N, "e": "AQAB"},
            {"kty": "RSA", "kid": "wrap", "key_ops": ["wrapKey"], "n": RSA_N, "e": "AQAB"},
            {"kty": "RSA", "kid": "oaep", "alg": "RSA-OAEP", "n": RSA_N, "e": "AQAB"},
            {"kty": "oct", "kid": "secret", "alg": "HS256", "k": "c2VjcmV0"},
            {"kty": "EC", "kid": "p256", "crv": "P-256",
             "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
             "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
            {"kty": "EC", "kid": "p256-as-384", "alg": "ES384", "crv": "P-256",
             "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
             "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
            {"kty": "EC", "kid": "p521", "crv": "P-521", "x": "AA", "y": "AA"},
            {"kty": "OKP", "kid": "ed", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
            {"kty": "AKP", "kid": "future", "alg": "ML-DSA-44", "pub": "AA"},
            {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
        ]}));
        let mut kids: Vec<_> = cache.by_kid.keys().map(String::as_str).collect();
        kids.sort_unstable();
        assert_eq!(kids, ["ed", "p256", "rsa"]);
        assert_eq!(cache.by_kid["rsa"].alg, Some(Algorithm::RS256));
        assert_eq!(cache.by_kid["p256"].alg, Some(Algorithm::ES256));
        assert_eq!(cache.by_kid["ed"].alg, Some(Algorithm::EdDSA));
        assert!(cache.no_kid.is_some());
    }

    #[test]
    fn a_body_without_a_keys_array_is_an_error() {
        for body in [&b"[]"[..], b"{}", b"not json", br#"{"keys": {}}"#] {
            assert!(matches!(parse_set(body), Err(JwksError::Json(_))));
        }
        let empty = parse(&json!({"keys": []}));
        assert!(empty.by_kid.is_empty() && empty.no_kid.is_none());
    }

    fn remote_with(cache: Cache) -> RemoteJwks {
        let remote = RemoteJwks::with_client("http://127.0.0.1:9/jwks", reqwest::Client::new());
        *remote.state.cache.write().expect("lock") = cache;
        remote
    }

    #[test]
    fn a_cached_key_verifies_only_its_algorithm() {
        let remote = remote_with(parse(&json!({"keys": [
            {"kty": "RSA", "kid": "pinned", "alg": "RS256", "n": RSA_N, "e": "AQAB"},
            {"kty": "RSA", "kid": "any-rsa", "n": RSA_N, "e": "AQAB"},
        ]})));
        assert!(
            remote
                .cached_key(Some("pinned"), Algorithm::RS256)
                .is_some()
        );
        assert!(
            remote
                .cached_key(Some("pinned"), Algorithm::PS256)
                .is_none()
        );
        assert!(
            remote
                .cached_key(Some("any-rsa"), Algorithm::PS384)
                .is_some()
        );
        assert!(
            remote
                .cached_key(Some("any-rsa"), Algorithm::ES256)
                .is_none()
        );
        assert!(remote.cached_key(Some("other"), Algorithm::RS256).is_none());
        assert!(remote.cached_key(None, Algorithm::RS256).is_none());
        assert_eq!(remote.kids(), ["any-rsa", "pinned"]);
    }

    #[test]
    fn need_tells_missing_stale_and_fresh_keys_apart() {
        let remote = remote_with(parse(&json!({"keys": [
            {"kty": "RSA", "kid": "k", "n": RSA_N, "e": "AQAB"},
        ]})));
        assert_eq!(remote.need(Some("k")), Need::Nothing);
        assert_eq!(remote.need(Some("x")), Need::Missing);
        assert_eq!(remote.need(None), Need::Missing);
        let remote = remote.max_age(Duration::ZERO);
        assert_eq!(remote.need(Some("k")), Need::Stale);
    }

    #[tokio::test]
    async fn an_unreachable_set_keeps_the_cache_and_is_throttled() {
        let remote = remote_with(parse(&json!({"keys": [
            {"kty": "RSA", "kid": "k", "n": RSA_N, "e": "AQAB"},
        ]})))
        .refetch_interval(Duration::from_secs(3600));
        // Port 9 (discard) is closed: the fetch fails, the cached key stays.
        assert!(remote.refresh().await.is_err());
        assert_eq!(remote.kids(), ["k"]);
        let before = *remote.state.fetch.lock().await;
        remote.ensure(Some("unknown")).await;
        assert_eq!(
            *remote.state.fetch.lock().await,
            before,
            "throttled: no new attempt"
        );
    }

    #[test]
    fn header_kid_reads_only_the_header() {
        let token = |header: &str| format!("{}.e30.c2ln", B64.encode(header));
        assert_eq!(header_kid(&token(r#"{"kid":"a"}"#)), Some(Some("a".into())));
        assert_eq!(header_kid(&token(r#"{"alg":"RS256"}"#)), Some(None));
        assert_eq!(header_kid(&token(r#"{"kid":1}"#)), None);
        assert_eq!(header_kid("!!!.e30.c2ln"), None);
    }
}
