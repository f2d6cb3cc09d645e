//! Asymmetric keys beyond one key pair: several verification keys by `kid`, one of them
//! signing, the public keys as a JWKS ([`JwtManager::jwks`]), retired keys from PEM text
//! ([`JwtManagerBuilder::verification_key_pem`]) and, with the `remote-jwks` feature,
//! verification with the JWKS of another service (`RemoteJwks`).
//!
//! Flask-JWT-Extended leaves all of this to the app (`@jwt.decode_key_loader`, PyJWT's
//! `PyJWKClient`). A token whose `kid` is not known, or whose `alg` is not the one its key was
//! registered for, is refused with 422 `Signature verification failed`, PyJWT's message for a
//! key that does not match; the `kid` is only logged (debug level), so a client learns nothing
//! about the key set.

use jsonwebtoken::{
    Algorithm, AlgorithmFamily, DecodingKey, DecodingKeyKind,
    jwk::{
        AlgorithmParameters, CommonParameters, EllipticCurve, EllipticCurveKeyParameters,
        EllipticCurveKeyType, Jwk, KeyAlgorithm, OctetKeyPairParameters, OctetKeyPairType,
        PublicKeyUse, RSAKeyParameters, RSAKeyType,
    },
};

pub use jsonwebtoken::jwk::JwkSet;

use base64::Engine;

use crate::{
    config::{ConfigError, JwtConfig},
    decode::B64,
    keys::{self, Keys, is_symmetric},
    manager::{JwtManager, JwtManagerBuilder},
};

#[cfg(feature = "remote-jwks")]
pub use remote::{JwksError, RemoteJwks};

/// What the builder gathers for the key set before `build()`.
#[derive(Default)]
pub(crate) struct KeySetOptions {
    /// Keys added from PEM text, by kid.
    extra: Vec<(String, Algorithm, DecodingKey)>,
    /// The first PEM that did not parse, reported by `build()`.
    error: Option<ConfigError>,
    #[cfg(feature = "remote-jwks")]
    remote: Option<RemoteJwks>,
}

impl KeySetOptions {
    /// The config's keys, then the PEM keys, then the remote set.
    pub(crate) fn into_keys(self, config: &JwtConfig) -> Result<Keys, ConfigError> {
        if let Some(error) = self.error {
            return Err(error);
        }
        #[cfg(feature = "remote-jwks")]
        let mut keys = Keys::from_config(config, self.remote.is_some())?;
        #[cfg(not(feature = "remote-jwks"))]
        let mut keys = Keys::from_config(config, false)?;
        keys.by_kid.extend(
            self.extra
                .into_iter()
                .map(|(kid, alg, key)| (kid, (alg, key))),
        );
        #[cfg(feature = "remote-jwks")]
        {
            keys.remote = self.remote;
        }
        Ok(keys)
    }
}

impl JwtManagerBuilder {
    /// Also accepts tokens whose header names `kid`, verified with this PEM public key (PKCS#8
    /// `PUBLIC KEY`, or PKCS#1 `RSA PUBLIC KEY`): a retired key, kept until its tokens have
    /// expired. Unlike [`verification_key`](Self::verification_key), the key is checked here
    /// (a bad PEM or an HS* algorithm makes [`build`](Self::build) fail) and it is published by
    /// [`JwtManager::jwks`].
    ///
    /// To rotate a key, sign with the new key under a new `kid` and keep the old public key
    /// here until the last token it signed has expired (the refresh token lifetime, 30 days by
    /// default):
    ///
    /// ```
    /// use jwt_extended::{Algorithm, JwtConfig, JwtManager};
    /// # const OLD_PRIVATE: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIFdE+8jooUNXQNWsI/D3rGAMQwuW4PfdluUnzqc2Y1p9\n-----END PRIVATE KEY-----\n";
    /// # const OLD_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEABjjMfn3c60yYFtFj+UgYmwoWjoeYRbBmMyvPQzYgFT4=\n-----END PUBLIC KEY-----\n";
    /// # const NEW_PRIVATE: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIP/ycNnb0YTUpCLsw8YA02mtDXD4ffdt8wGFs4dLvACq\n-----END PRIVATE KEY-----\n";
    /// # const NEW_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEATXdgAIWebDWP4F9wrbM97pXabVvG49f9OlkCyBLbsUw=\n-----END PUBLIC KEY-----\n";
    ///
    /// // Before: one key, "2024-01".
    /// let before = JwtManager::builder(
    ///     JwtConfig::default()
    ///         .with_algorithm(Algorithm::EdDSA)
    ///         .with_private_key_pem(OLD_PRIVATE)
    ///         .with_public_key_pem(OLD_PUBLIC),
    /// )
    /// .signing_kid("2024-01")
    /// .build()?;
    /// let old_token = before.create_access_token("alice")?;
    ///
    /// // After: "2024-07" signs, "2024-01" only verifies until its tokens have expired.
    /// let after = JwtManager::builder(
    ///     JwtConfig::default()
    ///         .with_algorithm(Algorithm::EdDSA)
    ///         .with_private_key_pem(NEW_PRIVATE)
    ///         .with_public_key_pem(NEW_PUBLIC),
    /// )
    /// .signing_kid("2024-07")
    /// .verification_key_pem("2024-01", Algorithm::EdDSA, OLD_PUBLIC)
    /// .build()?;
    /// let new_token = after.create_access_token("alice")?;
    ///
    /// assert_eq!(after.unverified_header(&new_token)?["kid"], "2024-07");
    /// assert!(after.decode_token(&old_token, None, false).is_ok());
    /// assert!(after.decode_token(&new_token, None, false).is_ok());
    /// // The old manager does not know the new kid.
    /// let refused = before.decode_token(&new_token, None, false).map_err(|e| e.to_string());
    /// assert_eq!(refused.err().as_deref(), Some("Signature verification failed"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn verification_key_pem(
        mut self,
        kid: impl Into<String>,
        algorithm: Algorithm,
        pem: impl AsRef<[u8]>,
    ) -> Self {
        let kid = kid.into();
        let invalid = |reason: String| ConfigError::InvalidKey {
            name: "verification_key_pem",
            algorithm,
            reason: format!("kid \"{kid}\": {reason}"),
        };
        let key = if is_symmetric(algorithm) {
            Err(invalid(
                "HS* keys are secrets, not PEM: use verification_key with DecodingKey::from_secret"
                    .into(),
            ))
        } else {
            keys::decoding_key(algorithm, pem.as_ref()).map_err(|e| match e {
                ConfigError::InvalidKey { reason, .. } => invalid(reason),
                other => other,
            })
        };
        match key {
            Ok(key) => self.key_set.extra.push((kid, algorithm, key)),
            Err(e) => {
                self.key_set.error.get_or_insert(e);
            }
        }
        self
    }

    /// Verifies tokens whose `kid` is not one of this manager's own keys with the keys of
    /// another service's JWKS (a resource server trusting an authorization server). With it,
    /// an asymmetric config needs no PEM key at all: `JwtConfig::default().with_algorithm(..)`
    /// builds, and the manager only verifies.
    ///
    /// [`JwtManager::verify_request`] (and so every extractor) fetches the set when a token's
    /// `kid` is not cached; [`JwtManager::decode_token`], being synchronous, only reads the
    /// cache: call [`RemoteJwks::refresh`] first when decoding outside a request.
    #[cfg(feature = "remote-jwks")]
    pub fn remote_jwks(mut self, jwks: RemoteJwks) -> Self {
        self.key_set.remote = Some(jwks);
        self
    }
}

impl JwtManager {
    /// The public keys this manager verifies with, as a JWKS (RFC 7517) to serve at
    /// `/.well-known/jwks.json`: the signing key first, then the other keys by `kid`, each with
    /// `kid`, `alg` and `use: "sig"`. HS* secrets are never included, nor the keys of a
    /// `RemoteJwks`. The config key without a [`signing_kid`](JwtManagerBuilder::signing_kid)
    /// is published without a `kid`.
    ///
    /// ```
    /// use axum::{Json, Router, extract::State, routing::get};
    /// use jwt_extended::{Algorithm, JwkSet, JwtConfig, JwtManager};
    /// # const PRIVATE: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIP/ycNnb0YTUpCLsw8YA02mtDXD4ffdt8wGFs4dLvACq\n-----END PRIVATE KEY-----\n";
    /// # const PUBLIC: &str = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEATXdgAIWebDWP4F9wrbM97pXabVvG49f9OlkCyBLbsUw=\n-----END PUBLIC KEY-----\n";
    /// # const RETIRED_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEABjjMfn3c60yYFtFj+UgYmwoWjoeYRbBmMyvPQzYgFT4=\n-----END PUBLIC KEY-----\n";
    ///
    /// async fn jwks(State(jwt): State<JwtManager>) -> Json<JwkSet> {
    ///     Json(jwt.jwks())
    /// }
    ///
    /// let jwt = JwtManager::builder(
    ///     JwtConfig::default()
    ///         .with_algorithm(Algorithm::EdDSA)
    ///         .with_private_key_pem(PRIVATE)
    ///         .with_public_key_pem(PUBLIC),
    /// )
    /// .signing_kid("2024-07")
    /// .verification_key_pem("2024-01", Algorithm::EdDSA, RETIRED_PUBLIC)
    /// .build()?;
    ///
    /// let set = serde_json::to_value(jwt.jwks())?;
    /// assert_eq!(set["keys"][0]["kid"], "2024-07"); // the signing key first
    /// assert_eq!(set["keys"][0]["kty"], "OKP");
    /// assert_eq!(set["keys"][0]["alg"], "EdDSA");
    /// assert_eq!(set["keys"][0]["use"], "sig");
    /// assert_eq!(set["keys"][1]["kid"], "2024-01");
    ///
    /// let app: Router = Router::new()
    ///     .route("/.well-known/jwks.json", get(jwks))
    ///     .with_state(jwt);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn jwks(&self) -> JwkSet {
        let keys = &self.inner.keys;
        let mut out = Vec::new();
        if keys.signing_kid.is_none()
            && let Some(key) = &keys.verifying
            && let Some(jwk) = public_jwk(None, keys.algorithm, key)
        {
            out.push(jwk);
        }
        let mut by_kid: Vec<_> = keys.by_kid.iter().collect();
        by_kid.sort_by_key(|(kid, _)| (Some(*kid) != keys.signing_kid.as_ref(), kid.as_str()));
        out.extend(
            by_kid
                .into_iter()
                .filter_map(|(kid, (alg, key))| public_jwk(Some(kid), *alg, key)),
        );
        JwkSet { keys: out }
    }

    /// Before a request's token is decoded: when a remote JWKS is configured and the token's
    /// `kid` is not known, a throttled refetch of the set. Any parse error is left to the
    /// decode.
    pub(crate) async fn refresh_remote_keys(&self, token: &str) {
        #[cfg(feature = "remote-jwks")]
        {
            let keys = &self.inner.keys;
            let Some(remote) = &keys.remote else { return };
            if self.inner.hooks.decode_key.is_some() {
                return;
            }
            let Some(kid) = header_kid(token) else { return };
            let local = match kid.as_deref() {
                Some(kid) => keys.by_kid.contains_key(kid),
                None => keys.verifying.is_some(),
            };
            if !local {
                remote.ensure(kid.as_deref()).await;
            }
        }
        #[cfg(not(feature = "remote-jwks"))]
        let _ = token;
    }
}

/// The `kid` of a token's header: `Some(None)` when it has none, `None` when the header does
/// not parse or its `kid` is not a string (the decode reports those).
#[cfg(feature = "remote-jwks")]
fn header_kid(token: &str) -> Option<Option<String>> {
    let header = token.split('.').next()?;
    let bytes = B64.decode(header).ok()?;
    let header: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&bytes).ok()?;
    match header.get("kid") {
        None => Some(None),
        Some(serde_json::Value::String(kid)) => Some(Some(kid.clone())),
        Some(_) => None,
    }
}

fn key_algorithm(alg: Algorithm) -> KeyAlgorithm {
    match alg {
        Algorithm::HS256 => KeyAlgorithm::HS256,
        Algorithm::HS384 => KeyAlgorithm::HS384,
        Algorithm::HS512 => KeyAlgorithm::HS512,
        Algorithm::ES256 => KeyAlgorithm::ES256,
        Algorithm::ES384 => KeyAlgorithm::ES384,
        Algorithm::RS256 => KeyAlgorithm::RS256,
        Algorithm::RS384 => KeyAlgorithm::RS384,
        Algorithm::RS512 => KeyAlgorithm::RS512,
        Algorithm::PS256 => KeyAlgorithm::PS256,
        Algorithm::PS384 => KeyAlgorithm::PS384,
        Algorithm::PS512 => KeyAlgorithm::PS512,
        Algorithm::EdDSA => KeyAlgorithm::EdDSA,
    }
}

/// The public JWK of a verification key, or `None` for a secret (HS*) or a key whose public
/// components cannot be read (a compressed EC point, a key of another family than `alg`).
pub(crate) fn public_jwk(kid: Option<&str>, alg: Algorithm, key: &DecodingKey) -> Option<Jwk> {
    if key.family() != alg.family() {
        return None;
    }
    let algorithm = match (alg.family(), key.kind()) {
        (AlgorithmFamily::Rsa, DecodingKeyKind::SecretOrDer(der)) => {
            // What jsonwebtoken keeps of an RSA PEM: the PKCS#1 `RSAPublicKey`.
            let public = pkcs1::RsaPublicKey::try_from(der.as_slice()).ok()?;
            rsa_parameters(public.modulus.as_bytes(), public.public_exponent.as_bytes())
        }
        (AlgorithmFamily::Rsa, DecodingKeyKind::RsaModulusExponent { n, e }) => {
            rsa_parameters(strip_zeros(n), strip_zeros(e))
        }
        (AlgorithmFamily::Ec, DecodingKeyKind::SecretOrDer(point)) => {
            // An uncompressed point, 0x04 || x || y.
            let (curve, size) = match alg {
                Algorithm::ES256 => (EllipticCurve::P256, 32),
                Algorithm::ES384 => (EllipticCurve::P384, 48),
                _ => return None,
            };
            let (&tag, xy) = point.split_first()?;
            if tag != 4 || xy.len() != 2 * size {
                return None;
            }
            let (x, y) = xy.split_at(size);
            AlgorithmParameters::EllipticCurve(EllipticCurveKeyParameters {
                key_type: EllipticCurveKeyType::EC,
                curve,
                x: B64.encode(x),
                y: B64.encode(y),
            })
        }
        (AlgorithmFamily::Ed, DecodingKeyKind::SecretOrDer(x)) if x.len() == 32 => {
            AlgorithmParameters::OctetKeyPair(OctetKeyPairParameters {
                key_type: OctetKeyPairType::OctetKeyPair,
                curve: EllipticCurve::Ed25519,
                x: B64.encode(x),
            })
        }
        _ => return None,
    };
    Some(Jwk {
        common: CommonParameters {
            public_key_use: Some(PublicKeyUse::Signature),
            key_algorithm: Some(key_algorithm(alg)),
            key_id: kid.map(str::to_owned),
            ..CommonParameters::default()
        },
        algorithm,
    })
}

fn strip_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

fn rsa_parameters(n: &[u8], e: &[u8]) -> AlgorithmParameters {
    AlgorithmParameters::RSA(RSAKeyParameters {
        key_type: RSAKeyType::RSA,
        n: B64.encode(n),
        e: B64.encode(e),
    })
}

#[cfg(feature = "remote-jwks")]
mod remote {
    use std::{
        collections::HashMap,
        fmt,
        str::FromStr,
        sync::{Arc, PoisonError, RwLock, RwLockReadGuard},
        time::{Duration, Instant},
    };

    use http::header::ACCEPT;
    use jsonwebtoken::{
        Algorithm, AlgorithmFamily, DecodingKey,
        jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyOperations, PublicKeyUse},
    };
    use serde::Deserialize;
    use tokio::sync::Mutex;

    /// A JWKS larger than this is refused (a real one is a few kilobytes).
    const MAX_BODY: usize = 1024 * 1024;

    /// Why a JWKS could not be fetched.
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
                if okp.curve != EllipticCurve::Ed25519 || alg.is_some_and(|a| a != Algorithm::EdDSA)
                {
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
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    const ED_PRIVATE: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIFdE+8jooUNXQNWsI/D3rGAMQwuW4PfdluUnzqc2Y1p9\n-----END PRIVATE KEY-----\n";
    const ED_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEABjjMfn3c60yYFtFj+UgYmwoWjoeYRbBmMyvPQzYgFT4=\n-----END PUBLIC KEY-----\n";
    const ED2_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEATXdgAIWebDWP4F9wrbM97pXabVvG49f9OlkCyBLbsUw=\n-----END PUBLIC KEY-----\n";

    fn ed_config() -> JwtConfig {
        JwtConfig::default()
            .with_algorithm(Algorithm::EdDSA)
            .with_private_key_pem(ED_PRIVATE)
            .with_public_key_pem(ED_PUBLIC)
    }

    fn json(jwk: Option<Jwk>) -> Value {
        serde_json::to_value(jwk.expect("a public JWK")).expect("serializes")
    }

    /// A PKCS#1 `RSAPublicKey` DER by hand: SEQUENCE { INTEGER n, INTEGER e }.
    fn pkcs1_der(n: &[u8], e: &[u8]) -> Vec<u8> {
        let mut body = vec![0x02, n.len() as u8 + 1, 0x00];
        body.extend_from_slice(n);
        body.extend_from_slice(&[0x02, e.len() as u8]);
        body.extend_from_slice(e);
        let mut der = vec![0x30, body.len() as u8];
        der.extend(body);
        der
    }

    #[test]
    fn rsa_keys_publish_n_and_e_from_der_or_components() {
        let n: Vec<u8> = (0..64u8).map(|i| i | 0x80).collect();
        let der = DecodingKey::from_rsa_der(&pkcs1_der(&n, &[1, 0, 1]));
        let jwk = json(public_jwk(Some("r"), Algorithm::PS256, &der));
        assert_eq!(
            jwk,
            json!({"use": "sig", "alg": "PS256", "kid": "r", "kty": "RSA", "n": B64.encode(&n), "e": "AQAB"})
        );
        let mut padded = vec![0, 0];
        padded.extend_from_slice(&n);
        let components = DecodingKey::from_rsa_raw_components(&padded, &[1, 0, 1]);
        assert_eq!(
            json(public_jwk(Some("r"), Algorithm::PS256, &components)),
            jwk
        );
        assert!(public_jwk(None, Algorithm::RS256, &DecodingKey::from_rsa_der(b"junk")).is_none());
    }

    #[test]
    fn ec_and_ed_keys_publish_their_points() {
        let mut point = vec![4];
        point.extend(1..=64u8);
        let jwk = json(public_jwk(
            Some("e"),
            Algorithm::ES256,
            &DecodingKey::from_ec_der(&point),
        ));
        assert_eq!(jwk["kty"], "EC");
        assert_eq!(jwk["crv"], "P-256");
        assert_eq!(jwk["x"], B64.encode(&point[1..33]));
        assert_eq!(jwk["y"], B64.encode(&point[33..]));
        // The wrong size for the curve, or a compressed point: not publishable.
        assert!(public_jwk(None, Algorithm::ES384, &DecodingKey::from_ec_der(&point)).is_none());
        assert!(
            public_jwk(
                None,
                Algorithm::ES256,
                &DecodingKey::from_ec_der(&point[..33])
            )
            .is_none()
        );
        let ed = json(public_jwk(
            None,
            Algorithm::EdDSA,
            &DecodingKey::from_ed_der(&[7; 32]),
        ));
        assert_eq!(
            ed,
            json!({"use": "sig", "alg": "EdDSA", "kty": "OKP", "crv": "Ed25519", "x": B64.encode([7; 32])})
        );
    }

    #[test]
    fn secrets_and_keys_of_another_family_are_never_published() {
        let secret = DecodingKey::from_secret(b"secret");
        assert!(public_jwk(Some("h"), Algorithm::HS256, &secret).is_none());
        let ed = DecodingKey::from_ed_der(&[7; 32]);
        assert!(public_jwk(Some("x"), Algorithm::RS256, &ed).is_none());
        let jwt = JwtManager::builder(JwtConfig::default().with_secret_key("secret"))
            .signing_kid("hs")
            .verification_key("hs-old", Algorithm::HS256, secret)
            .build()
            .expect("valid");
        assert!(jwt.jwks().keys.is_empty());
    }

    #[test]
    fn jwks_lists_the_signing_key_first_then_the_others_by_kid() {
        let jwt = JwtManager::builder(ed_config())
            .signing_kid("b-current")
            .verification_key_pem("c-old", Algorithm::EdDSA, ED2_PUBLIC)
            .verification_key_pem("a-older", Algorithm::EdDSA, ED2_PUBLIC)
            .build()
            .expect("valid");
        let kids: Vec<_> = jwt
            .jwks()
            .keys
            .into_iter()
            .filter_map(|k| k.common.key_id)
            .collect();
        assert_eq!(kids, ["b-current", "a-older", "c-old"]);
        // Without a signing kid the config key is published without one.
        let jwt = JwtManager::new(ed_config()).expect("valid");
        let set = serde_json::to_value(jwt.jwks()).expect("json");
        assert_eq!(set["keys"].as_array().map(Vec::len), Some(1));
        assert!(set["keys"][0].get("kid").is_none());
    }

    #[test]
    fn verification_key_pem_reports_bad_keys_at_build() {
        let err = JwtManager::builder(ed_config())
            .verification_key_pem("old", Algorithm::EdDSA, "not a pem")
            .build()
            .expect_err("bad PEM");
        assert!(matches!(
            &err,
            ConfigError::InvalidKey { name: "verification_key_pem", reason, .. } if reason.starts_with("kid \"old\": ")
        ));
        let err = JwtManager::builder(ed_config())
            .verification_key_pem("hs", Algorithm::HS256, ED_PUBLIC)
            .build()
            .expect_err("HS");
        assert!(matches!(
            err,
            ConfigError::InvalidKey {
                algorithm: Algorithm::HS256,
                ..
            }
        ));
    }

    #[test]
    fn a_kid_verifies_only_the_algorithm_it_was_registered_for() {
        let jwt = JwtManager::builder(ed_config())
            .signing_kid("k")
            .build()
            .expect("valid");
        let keys = &jwt.inner.keys;
        assert!(keys.for_kid(Some("k"), Algorithm::EdDSA).is_some());
        assert!(keys.for_kid(Some("k"), Algorithm::ES256).is_none());
        assert!(keys.for_kid(Some("unknown"), Algorithm::EdDSA).is_none());
        assert!(keys.for_kid(None, Algorithm::EdDSA).is_some());
    }

    #[test]
    fn an_asymmetric_config_without_keys_still_needs_a_public_key_without_a_remote_set() {
        let config = JwtConfig::default().with_algorithm(Algorithm::RS256);
        assert_eq!(
            JwtManager::new(config).expect_err("no key"),
            ConfigError::MissingPublicKey(Algorithm::RS256)
        );
        let private_only = JwtConfig::default()
            .with_algorithm(Algorithm::EdDSA)
            .with_private_key_pem(ED_PRIVATE);
        assert_eq!(
            JwtManager::new(private_only).expect_err("no public key"),
            ConfigError::MissingPublicKey(Algorithm::EdDSA)
        );
    }

    #[cfg(feature = "remote-jwks")]
    #[test]
    fn a_remote_set_alone_makes_a_verify_only_manager() {
        let remote = RemoteJwks::with_client("http://127.0.0.1:9/jwks", reqwest::Client::new());
        let jwt = JwtManager::builder(JwtConfig::default().with_algorithm(Algorithm::RS256))
            .remote_jwks(remote.clone())
            .build()
            .expect("verify-only");
        assert!(matches!(
            jwt.create_access_token("a"),
            Err(crate::TokenError::NoSigningKey)
        ));
        assert!(jwt.jwks().keys.is_empty());
        // A private key without its public key is still refused.
        let private_only = JwtConfig::default()
            .with_algorithm(Algorithm::EdDSA)
            .with_private_key_pem(ED_PRIVATE);
        assert_eq!(
            JwtManager::builder(private_only)
                .remote_jwks(remote.clone())
                .build()
                .expect_err("no public key"),
            ConfigError::MissingPublicKey(Algorithm::EdDSA)
        );
        // HS* still needs its secret.
        assert_eq!(
            JwtManager::builder(JwtConfig::default())
                .remote_jwks(remote)
                .build()
                .expect_err("no secret"),
            ConfigError::MissingSecret(Algorithm::HS256)
        );
    }

    #[cfg(feature = "remote-jwks")]
    #[test]
    fn header_kid_reads_only_the_header() {
        let token = |header: &str| format!("{}.e30.c2ln", B64.encode(header));
        assert_eq!(header_kid(&token(r#"{"kid":"a"}"#)), Some(Some("a".into())));
        assert_eq!(header_kid(&token(r#"{"alg":"RS256"}"#)), Some(None));
        assert_eq!(header_kid(&token(r#"{"kid":1}"#)), None);
        assert_eq!(header_kid("!!!.e30.c2ln"), None);
    }
}
