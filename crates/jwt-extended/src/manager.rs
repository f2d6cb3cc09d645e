//! [`JwtManager`]: the config, the keys and the app's hooks, shared by every extractor through
//! axum state (`FromRef`), like Flask's `JWTManager` in `app.extensions`.

use std::{fmt, sync::Arc, time::Duration};

use jsonwebtoken::{DecodingKey, EncodingKey};
use serde_json::Value;

use jsonwebtoken::jwk::JwkSet;

use crate::{
    claims::{DecodedToken, JsonObject},
    config::JwtConfig,
    decode::{self, ClaimRules, DecodeRequest, KnownHeader},
    keys::{Keys, Verifier},
    rejection::{JwtError, JwtRejection, Renderer},
    stores::erased::{DynRevocationStore, DynSessionStore},
    user::DynUserLoader,
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
}

pub(crate) struct Inner {
    pub(crate) config: JwtConfig,
    pub(crate) keys: Keys,
    pub(crate) rules: ClaimRules,
    pub(crate) hooks: Hooks,
    pub(crate) renderer: Renderer,
    /// The blocklist (`token_in_blocklist_loader`): a revocation or session store.
    pub(crate) revocation: Option<Arc<dyn DynRevocationStore>>,
    /// Whether an access token passes when the store cannot answer.
    pub(crate) access_fails_open: bool,
    /// Login families, when the store keeps them.
    pub(crate) sessions: Option<Arc<dyn DynSessionStore>>,
    /// `user_lookup_loader`, run by every guarded extractor.
    pub(crate) users: Option<Arc<dyn DynUserLoader>>,
    /// How long a just-rotated refresh token still gets the same successor.
    pub(crate) refresh_grace: Duration,
    /// The header this manager's tokens carry, parsed once (`None` if it cannot be written).
    pub(crate) known_header: Option<KnownHeader>,
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
    /// The config this manager was built from.
    pub fn config(&self) -> &JwtConfig {
        &self.inner.config
    }

    pub(crate) fn renderer(&self) -> Renderer {
        self.inner.renderer.clone()
    }

    /// `error` as a rejection rendered this manager's way (the error hook,
    /// `JWT_ERROR_MESSAGE_KEY`), for a handler that returns one without the
    /// [`error_layer`](Self::error_layer).
    pub fn reject(&self, error: JwtError) -> JwtRejection {
        JwtRejection::new(error, self.renderer())
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
        let identity = &self.inner.rules.identity_claim;
        let parsed = decode::parse(token, self.inner.known_header.as_ref(), identity)?;
        let alg = parsed.algorithm(&self.inner.rules.algorithms)?;
        let key = match &self.inner.hooks.decode_key {
            Some(loader) => Verifier::Key(std::borrow::Cow::Owned(loader(
                &parsed.header,
                &parsed.payload,
            ))),
            None => {
                let kid = parsed.header.get("kid").and_then(Value::as_str);
                self.inner.keys.for_kid(kid, alg).ok_or_else(|| {
                    tracing::debug!(?kid, ?alg, "no verification key for this kid and alg");
                    JwtError::invalid("Signature verification failed")
                })?
            }
        };
        parsed.verify_signature(&key, alg)?;
        decode::check_claims(parsed, &self.inner.rules, request)
    }

    /// Flask's `get_unverified_jwt_headers`: the header, without any check of the token.
    ///
    /// # Errors
    /// [`JwtError::Invalid`] when the token does not even parse.
    pub fn unverified_header(&self, token: &str) -> Result<JsonObject, JwtError> {
        let identity = &self.inner.rules.identity_claim;
        decode::parse(token, self.inner.known_header.as_ref(), identity).map(|p| p.header)
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

    /// Asks the revocation store whether `token` is revoked: `Ok(false)` without a store.
    ///
    /// # Errors
    /// [`JwtError::StoreUnavailable`] when the store fails.
    pub async fn is_revoked(&self, token: &DecodedToken) -> Result<bool, JwtError> {
        match &self.inner.revocation {
            Some(store) => Ok(store.is_revoked(token).await?),
            None => Ok(false),
        }
    }

    /// Revokes a verified token until it would expire: Flask's documented logout pattern
    /// (`jti` into the blocklist), done by the configured store.
    ///
    /// # Errors
    /// [`JwtError::Internal`] when no store is configured; [`JwtError::StoreUnavailable`] when
    /// the store fails.
    pub async fn revoke(&self, token: &DecodedToken) -> Result<(), JwtError> {
        let store = self
            .inner
            .revocation
            .as_ref()
            .ok_or_else(|| JwtError::Internal("no revocation store configured".into()))?;
        let jti = token
            .jti()
            .ok_or_else(|| JwtError::invalid("Missing claim: jti"))?;
        Ok(store.revoke(jti, token.exp()).await?)
    }

    /// The public keys this manager verifies with, as a JWKS (RFC 7517) to serve at
    /// `/.well-known/jwks.json`: the signing key first, then the other keys by `kid`, each with
    /// `kid`, `alg` and `use: "sig"`. HS* secrets are never included, nor the keys of a
    /// `RemoteJwks`. The config key without a [`signing_kid`](crate::JwtManagerBuilder::signing_kid)
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
        self.inner.keys.jwks()
    }
}
