//! [`JwtManager`]: the config, the keys and the app's hooks, shared by every extractor through
//! axum state (`FromRef`), like Flask's `JWTManager` in `app.extensions`.

use std::{fmt, sync::Arc};

use axum::response::Response;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use serde_json::Value;

use crate::{
    claims::{DecodedToken, JsonObject},
    config::{ConfigError, JwtConfig},
    decode::{self, ClaimRules, DecodeRequest},
    keys::Keys,
    rejection::{ErrorHandler, JwtError, Renderer},
    revocation::RevocationStore,
    rotation::SessionStore,
};

pub(crate) type IdentityLoader = dyn Fn(&Value) -> Value + Send + Sync;
pub(crate) type ObjectLoader = dyn Fn(&Value) -> JsonObject + Send + Sync;
pub(crate) type EncodeKeyLoader = dyn Fn(&Value) -> EncodingKey + Send + Sync;
pub(crate) type DecodeKeyLoader = dyn Fn(&JsonObject, &JsonObject) -> DecodingKey + Send + Sync;
pub(crate) type VerificationHook = dyn Fn(&DecodedToken) -> bool + Send + Sync;

/// The app's callbacks; each is optional and defaults to Flask's behaviour.
#[derive(Default, Clone)]
pub(crate) struct Hooks {
    pub(crate) identity: Option<Arc<IdentityLoader>>,
    pub(crate) additional_claims: Option<Arc<ObjectLoader>>,
    pub(crate) additional_headers: Option<Arc<ObjectLoader>>,
    pub(crate) encode_key: Option<Arc<EncodeKeyLoader>>,
    pub(crate) decode_key: Option<Arc<DecodeKeyLoader>>,
    pub(crate) verification: Option<Arc<VerificationHook>>,
    pub(crate) revocation: Option<Arc<dyn RevocationStore>>,
    pub(crate) access_fails_open: bool,
}

pub(crate) struct Inner {
    pub(crate) config: JwtConfig,
    pub(crate) keys: Keys,
    pub(crate) rules: ClaimRules,
    pub(crate) hooks: Hooks,
    pub(crate) renderer: Renderer,
    pub(crate) sessions: Option<Arc<dyn SessionStore>>,
}

/// Issues, reads and checks tokens for an axum app: the Rust counterpart of Flask's
/// `JWTManager` plus the module-level functions (`create_access_token`, `decode_token`,
/// `set_access_cookies`, ...).
///
/// Cheap to clone (an `Arc` inside). Put it in the app state and let the extractors find it
/// with `FromRef`:
///
/// ```
/// use axum::{Router, extract::FromRef, routing::get};
/// use jwt_extended::{Jwt, JwtConfig, JwtManager};
///
/// #[derive(Clone, FromRef)]
/// struct AppState {
///     jwt: JwtManager,
/// }
///
/// async fn whoami(Jwt(claims): Jwt) -> String {
///     claims.sub().unwrap_or_default().to_owned()
/// }
///
/// let jwt = JwtManager::new(JwtConfig::default().with_secret_key("change me"))?;
/// let app: Router = Router::new().route("/whoami", get(whoami)).with_state(AppState { jwt });
/// # Ok::<(), jwt_extended::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct JwtManager {
    pub(crate) inner: Arc<Inner>,
}

impl fmt::Debug for JwtManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtManager")
            .field("config", &self.inner.config)
            .field("keys", &self.inner.keys)
            .finish_non_exhaustive()
    }
}

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
            key_set: crate::jwks::KeySetOptions::default(),
            hooks: Hooks::default(),
            handler: None,
            signing_kid: None,
            extra_keys: Vec::new(),
            sessions: None,
        }
    }

    /// The config this manager was built from.
    pub fn config(&self) -> &JwtConfig {
        &self.inner.config
    }

    pub(crate) fn renderer(&self) -> Renderer {
        self.inner.renderer.clone()
    }

    /// Flask's `decode_token(token, csrf_value=None, allow_expired=False)`: checks the signature,
    /// the standard claims, the identity claim and, when given, the CSRF value. It does not check
    /// the token type, freshness or the blocklist.
    ///
    /// # Errors
    /// The [`JwtError`] Flask would raise (`Expired`, `Invalid`, `Csrf`).
    pub fn decode_token(
        &self,
        token: &str,
        csrf: Option<&str>,
        allow_expired: bool,
    ) -> Result<DecodedToken, JwtError> {
        self.decode(
            token,
            DecodeRequest {
                csrf,
                allow_expired,
            },
        )
    }

    pub(crate) fn decode(
        &self,
        token: &str,
        request: DecodeRequest<'_>,
    ) -> Result<DecodedToken, JwtError> {
        let parsed = decode::parse(token)?;
        let alg = parsed.algorithm(&self.inner.rules.algorithms)?;
        let key = match &self.inner.hooks.decode_key {
            Some(loader) => std::borrow::Cow::Owned(loader(&parsed.header, &parsed.payload)),
            None => {
                let kid = parsed.header.get("kid").and_then(Value::as_str);
                self.inner.keys.for_kid(kid, alg).ok_or_else(|| {
                    tracing::debug!(?kid, ?alg, "no verification key for this kid and alg");
                    JwtError::invalid("Signature verification failed")
                })?
            }
        };
        parsed.verify_signature(&key, alg)?;
        decode::check_claims(parsed.header, parsed.payload, &self.inner.rules, request)
    }

    /// Flask's `get_unverified_jwt_headers`: the header, without any check of the token.
    ///
    /// # Errors
    /// [`JwtError::Invalid`] when the token does not even parse.
    pub fn unverified_header(&self, token: &str) -> Result<JsonObject, JwtError> {
        decode::parse(token).map(|p| p.header)
    }

    /// Flask's `get_jti`: the `jti` of a token, after verifying it.
    ///
    /// # Errors
    /// As [`decode_token`](Self::decode_token).
    pub fn get_jti(&self, token: &str) -> Result<Option<String>, JwtError> {
        Ok(self
            .decode_token(token, None, false)?
            .jti()
            .map(str::to_owned))
    }

    /// Flask's `get_csrf_token`: the `csrf` claim, after verifying the token.
    ///
    /// # Errors
    /// As [`decode_token`](Self::decode_token).
    pub fn get_csrf_token(&self, token: &str) -> Result<Option<String>, JwtError> {
        let token = self.decode_token(token, None, false)?;
        Ok(token
            .claim("csrf")
            .and_then(Value::as_str)
            .map(str::to_owned))
    }

    /// The revocation store, to revoke tokens at logout.
    pub fn revocation_store(&self) -> Option<&Arc<dyn RevocationStore>> {
        self.inner.hooks.revocation.as_ref()
    }

    /// Revokes a verified token until it would expire: Flask's documented logout pattern
    /// (`jti` into the blocklist), done by the configured store.
    ///
    /// # Errors
    /// [`JwtError::Internal`] when no store is configured; [`JwtError::StoreUnavailable`] when
    /// the store fails.
    pub async fn revoke(&self, token: &DecodedToken) -> Result<(), JwtError> {
        let store = self
            .revocation_store()
            .ok_or_else(|| JwtError::Internal("no revocation store configured".into()))?;
        let jti = token
            .jti()
            .ok_or_else(|| JwtError::invalid("Missing claim: jti"))?;
        store.revoke(jti, token.exp()).await.map_err(|e| {
            tracing::warn!(error = %e, "revocation store failed to revoke");
            JwtError::StoreUnavailable
        })
    }
}

/// Builds a [`JwtManager`] with the app's hooks. Every hook is optional.
#[must_use]
pub struct JwtManagerBuilder {
    config: JwtConfig,
    pub(crate) key_set: crate::jwks::KeySetOptions,
    hooks: Hooks,
    handler: Option<Arc<ErrorHandler>>,
    signing_kid: Option<String>,
    extra_keys: Vec<(String, Algorithm, DecodingKey)>,
    sessions: Option<Arc<dyn SessionStore>>,
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
        self.hooks.revocation = Some(Arc::new(store));
        self
    }

    /// A store of login families for refresh rotation with reuse detection and the sessions
    /// list ([`JwtManager::login`], [`JwtManager::rotate`]); it is also the revocation store.
    pub fn session_store<S: SessionStore>(mut self, store: S) -> Self {
        let store = Arc::new(store);
        self.hooks.revocation = Some(store.clone());
        self.sessions = Some(store);
        self
    }

    /// Like [`revocation_store`](Self::revocation_store), with a store already shared.
    pub fn shared_revocation_store(mut self, store: Arc<dyn RevocationStore>) -> Self {
        self.hooks.revocation = Some(store);
        self
    }

    /// What to do with an **access** token when the store cannot answer: `false` (the default)
    /// refuses it with 503; `true` lets it through and logs a warning. Refresh tokens are always
    /// refused when the store cannot answer: a refresh mints new tokens.
    pub fn revocation_fails_open_for_access(mut self, fail_open: bool) -> Self {
        self.hooks.access_fails_open = fail_open;
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
        self.extra_keys.push((kid.into(), algorithm, key));
        self
    }

    /// Checks the config and builds the manager.
    ///
    /// # Errors
    /// [`ConfigError`] for missing keys, empty locations, invalid header names or PEM.
    pub fn build(self) -> Result<JwtManager, ConfigError> {
        self.config.validate()?;
        let mut keys = self.key_set.into_keys(&self.config)?;
        keys.by_kid.extend(
            self.extra_keys
                .into_iter()
                .map(|(kid, alg, key)| (kid, (alg, key))),
        );
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
        Ok(JwtManager {
            inner: Arc::new(Inner {
                config: self.config,
                keys,
                rules,
                hooks: self.hooks,
                renderer,
                sessions: self.sessions,
            }),
        })
    }
}
