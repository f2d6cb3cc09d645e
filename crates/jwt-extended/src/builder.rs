//! [`JwtManagerBuilder`]: the app's hooks, stores and extra keys (Flask's `@jwt.*_loader`
//! decorators), checked once when the [`JwtManager`] is built.

use std::{fmt, sync::Arc, time::Duration};

use axum::response::Response;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use serde_json::Value;

#[cfg(feature = "remote-jwks")]
use crate::keys::RemoteJwks;
use crate::{
    claims::{DecodedToken, JsonObject},
    config::{ConfigError, JwtConfig},
    decode::{ClaimRules, KnownHeader},
    keys::{self, Keys, is_symmetric},
    manager::{Hooks, Inner, JwtManager},
    rejection::{ErrorHandler, JwtError, Renderer},
    stores::{
        RevocationStore, SessionStore,
        erased::{DynRevocationStore, DynSessionStore},
    },
    user::{DynUserLoader, UserLoader},
};

/// The default grace window of a rotated refresh token.
const DEFAULT_REFRESH_GRACE: Duration = Duration::from_secs(10);

impl JwtManager {
    /// A manager with no hooks.
    ///
    /// # Errors
    /// [`ConfigError`] when the config is inconsistent (no key, empty locations, bad PEM, ...).
    pub fn new(config: JwtConfig) -> Result<Self, ConfigError> {
        Self::builder(config).build()
    }

    /// Starts a manager with hooks (Flask's `@jwt.*_loader` decorators).
    pub fn builder(config: JwtConfig) -> JwtManagerBuilder {
        JwtManagerBuilder {
            config,
            keys: PendingKeys::default(),
            hooks: Hooks::default(),
            handler: None,
            signing_kid: None,
            revocation: None,
            access_fails_open: false,
            sessions: None,
            users: None,
            refresh_grace: DEFAULT_REFRESH_GRACE,
        }
    }
}

/// The extra keys gathered before `build()`.
#[derive(Default)]
struct PendingKeys {
    /// Keys given as `DecodingKey`s, by kid.
    raw: Vec<(String, Algorithm, DecodingKey)>,
    /// Keys added from PEM text, by kid.
    extra: Vec<(String, Algorithm, DecodingKey)>,
    /// The first PEM that did not parse, reported by `build()`.
    error: Option<ConfigError>,
    #[cfg(feature = "remote-jwks")]
    remote: Option<RemoteJwks>,
}

impl PendingKeys {
    /// The config's keys, then the extra keys, then the remote set.
    fn into_keys(self, config: &JwtConfig) -> Result<Keys, ConfigError> {
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
                .chain(self.raw)
                .map(|(kid, alg, key)| (kid, (alg, key))),
        );
        #[cfg(feature = "remote-jwks")]
        {
            keys.remote = self.remote;
        }
        Ok(keys)
    }
}

/// Builds a [`JwtManager`] with the app's hooks. Every hook is optional.
#[must_use]
pub struct JwtManagerBuilder {
    config: JwtConfig,
    keys: PendingKeys,
    hooks: Hooks,
    handler: Option<Arc<ErrorHandler>>,
    signing_kid: Option<String>,
    revocation: Option<Arc<dyn DynRevocationStore>>,
    access_fails_open: bool,
    sessions: Option<Arc<dyn DynSessionStore>>,
    users: Option<Arc<dyn DynUserLoader>>,
    refresh_grace: Duration,
}

impl fmt::Debug for JwtManagerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtManagerBuilder")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl JwtManagerBuilder {
    /// `@jwt.user_identity_loader`: turns the identity given to `create_*_token` into the
    /// identity claim. Default: the identity unchanged.
    pub fn identity_loader(mut self, f: impl Fn(&Value) -> Value + Send + Sync + 'static) -> Self {
        self.hooks.identity = Some(Arc::new(f));
        self
    }

    /// `@jwt.additional_claims_loader`: claims added to every token; receives the raw identity.
    /// Claims passed at creation win ties.
    pub fn additional_claims_loader(
        mut self,
        f: impl Fn(&Value) -> JsonObject + Send + Sync + 'static,
    ) -> Self {
        self.hooks.additional_claims = Some(Arc::new(f));
        self
    }

    /// `@jwt.additional_headers_loader`: JOSE header entries added to every token.
    pub fn additional_headers_loader(
        mut self,
        f: impl Fn(&Value) -> JsonObject + Send + Sync + 'static,
    ) -> Self {
        self.hooks.additional_headers = Some(Arc::new(f));
        self
    }

    /// `@jwt.encode_key_loader`: the signing key for an identity. Default: the configured key.
    pub fn encode_key_loader(
        mut self,
        f: impl Fn(&Value) -> EncodingKey + Send + Sync + 'static,
    ) -> Self {
        self.hooks.encode_key = Some(Arc::new(f));
        self
    }

    /// `@jwt.decode_key_loader`: the verification key for an unverified `(header, payload)`.
    /// Default: the configured key (or the key of the token's `kid`).
    pub fn decode_key_loader(
        mut self,
        f: impl Fn(&JsonObject, &JsonObject) -> DecodingKey + Send + Sync + 'static,
    ) -> Self {
        self.hooks.decode_key = Some(Arc::new(f));
        self
    }

    /// `@jwt.token_verification_loader`: a last check of a valid token's claims; `false` gives
    /// 400 "User claims verification failed".
    pub fn token_verification_loader(
        mut self,
        f: impl Fn(&DecodedToken) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.hooks.verification = Some(Arc::new(f));
        self
    }

    /// `@jwt.token_in_blocklist_loader`, async: the store asked whether a token is revoked, for
    /// access and refresh tokens.
    pub fn revocation_store(mut self, store: impl RevocationStore) -> Self {
        self.revocation = Some(Arc::new(store));
        self
    }

    /// `@jwt.user_lookup_loader`: the app's user for each verified token, loaded by every
    /// guarded extractor ([`Jwt`](crate::Jwt), [`FreshJwt`](crate::FreshJwt),
    /// [`RefreshJwt`](crate::RefreshJwt), [`JwtFrom`](crate::JwtFrom), `Option<Jwt>`,
    /// [`Guarded`](crate::Guarded), [`RefreshToken`](crate::RefreshToken)) and by
    /// [`JwtManager::verify_request`], after every other check. A token whose user is gone gets
    /// 401 `Error loading the user <identity>`. Handlers read the user with
    /// [`CurrentUser`](crate::CurrentUser) or [`Claims::user`](crate::Claims::user), without a
    /// second lookup; a route that must not look users up says so with
    /// [`VerifyOptions::skip_user_lookup`](crate::VerifyOptions::skip_user_lookup).
    pub fn user_loader(mut self, loader: impl UserLoader) -> Self {
        self.users = Some(Arc::new(loader));
        self
    }

    /// How long a just-rotated refresh token still gets the same successor from
    /// [`JwtManager::rotate`] (two tabs refreshing at once, a retried request), instead of
    /// counting as reuse. Defaults to 10 seconds; zero admits no repeat.
    pub fn refresh_grace(mut self, grace: Duration) -> Self {
        self.refresh_grace = grace;
        self
    }

    /// A store of login families for refresh rotation with reuse detection and the sessions
    /// list ([`JwtManager::login`], [`JwtManager::rotate`]); it is also the revocation store.
    pub fn session_store(mut self, store: impl SessionStore) -> Self {
        let store = Arc::new(store);
        self.revocation = Some(store.clone());
        self.sessions = Some(store);
        self
    }

    /// What to do with an **access** token when the store cannot answer: `false` (the default)
    /// refuses it with 503; `true` lets it through and logs a warning. Refresh tokens are always
    /// refused when the store cannot answer: a refresh mints new tokens.
    pub fn revocation_fails_open_for_access(mut self, fail_open: bool) -> Self {
        self.access_fails_open = fail_open;
        self
    }

    /// Every error response at once (Flask's `expired_token_loader`, `invalid_token_loader`,
    /// `unauthorized_loader`, `revoked_token_loader`, `needs_fresh_token_loader`,
    /// `user_lookup_error_loader`, `token_verification_failed_loader`): return `Some(response)`
    /// to answer yourself, `None` for the default `{"msg": ...}`.
    pub fn error_handler(
        mut self,
        f: impl Fn(&JwtError) -> Option<Response> + Send + Sync + 'static,
    ) -> Self {
        self.handler = Some(Arc::new(f));
        self
    }

    /// Signs new tokens with `kid` in their header, so that the key can later be rotated.
    pub fn signing_kid(mut self, kid: impl Into<String>) -> Self {
        self.signing_kid = Some(kid.into());
        self
    }

    /// Also accepts tokens whose header names `kid`, verified with `key` (a retired or
    /// another service's key). Tokens with an unknown `kid` are then refused.
    pub fn verification_key(
        mut self,
        kid: impl Into<String>,
        algorithm: Algorithm,
        key: DecodingKey,
    ) -> Self {
        self.keys.raw.push((kid.into(), algorithm, key));
        self
    }

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
            Ok(key) => self.keys.extra.push((kid, algorithm, key)),
            Err(e) => {
                self.keys.error.get_or_insert(e);
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
    #[cfg_attr(docsrs, doc(cfg(feature = "remote-jwks")))]
    pub fn remote_jwks(mut self, jwks: RemoteJwks) -> Self {
        self.keys.remote = Some(jwks);
        self
    }

    /// Checks the config and builds the manager.
    ///
    /// # Errors
    /// [`ConfigError`] for missing keys, empty locations, invalid header names or PEM.
    pub fn build(self) -> Result<JwtManager, ConfigError> {
        self.config.validate()?;
        let mut keys = self.keys.into_keys(&self.config)?;
        if let Some(kid) = self.signing_kid {
            if let Some(verifying) = keys.verifying.clone() {
                keys.by_kid.insert(kid.clone(), (keys.algorithm, verifying));
            }
            keys.signing_kid = Some(kid);
        }
        let c = &self.config;
        let rules = ClaimRules {
            algorithms: c.effective_decode_algorithms(),
            leeway: c.leeway as f64,
            audience: c.decode_audience.clone(),
            issuer: c.decode_issuer.clone(),
            verify_sub: c.verify_sub,
            identity_claim: c.identity_claim.clone(),
        };
        let renderer = Renderer {
            message_key: Arc::from(c.error_message_key.as_str()),
            handler: self.handler,
        };
        let known_header = KnownHeader::new(keys.algorithm, keys.signing_kid.as_deref()).ok();
        Ok(JwtManager {
            inner: Arc::new(Inner {
                config: self.config,
                known_header,
                keys,
                rules,
                hooks: self.hooks,
                renderer,
                revocation: self.revocation,
                access_fails_open: self.access_fails_open,
                sessions: self.sessions,
                users: self.users,
                refresh_grace: self.refresh_grace,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
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

    #[test]
    fn hs_secrets_are_never_published() {
        let jwt = JwtManager::builder(JwtConfig::default().with_secret_key("secret"))
            .signing_kid("hs")
            .verification_key("hs-old", Algorithm::HS256, DecodingKey::from_secret(b"old"))
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
}
