//! # jwt-extended
//!
//! Flask-JWT-Extended's feature set for [axum]: JWTs in HttpOnly cookies, the CSRF
//! double-submit token an SPA echoes in `X-CSRF-TOKEN`, SameSite cookies, claims hooks, user
//! lookup, refresh tokens, revocation and public-key signing, with **the same defaults, claim
//! layout, cookie names, statuses and messages**, so a Flask API can move to Rust with its SPA
//! unchanged and its users still logged in.
//!
//! ## Quickstart: the original memo app's cookie setup
//!
//! ```
//! use std::time::Duration;
//!
//! use axum::{Json, Router, extract::{FromRef, State}, http::StatusCode, routing::{get, post}};
//! use jwt_extended::{AuthCookies, Jwt, JwtConfig, JwtManager, SameSite, TokenLocation};
//! use serde::Deserialize;
//!
//! #[derive(Clone, FromRef)]
//! struct AppState {
//!     jwt: JwtManager,
//! }
//!
//! #[derive(Deserialize)]
//! struct Login {
//!     user_name: String,
//!     password: String,
//! }
//!
//! async fn login(State(jwt): State<JwtManager>, Json(body): Json<Login>) -> Result<AuthCookies, (StatusCode, &'static str)> {
//!     if body.user_name != "alice" || body.password != "correct horse" {
//!         return Err((StatusCode::UNAUTHORIZED, r#"{"msg":"Wrong login id or password."}"#));
//!     }
//!     let failed = |_| (StatusCode::INTERNAL_SERVER_ERROR, "");
//!     let access = jwt.access_token("1").claim("department", "CTO Office").encode().map_err(|_| failed(()))?;
//!     jwt.set_access_cookies(&access).map_err(|_| failed(()))
//! }
//!
//! /// `verify_jwt_in_request()` in the original: 200 with a valid access cookie, 401 without.
//! async fn status(_: Jwt) {}
//!
//! async fn logout(State(jwt): State<JwtManager>) -> AuthCookies {
//!     jwt.unset_jwt_cookies()
//! }
//!
//! async fn memos(Jwt(claims): Jwt) -> String {
//!     format!("memos of user {}", claims.sub().unwrap_or_default())
//! }
//!
//! let config = JwtConfig::default()
//!     .with_secret_key("a long random secret from the environment")
//!     .with_access_token_expires(Some(Duration::from_secs(600)))
//!     .with_token_location([TokenLocation::Cookies])
//!     .with_cookie_samesite(Some(SameSite::Strict));
//! let jwt = JwtManager::new(config)?;
//! let app: Router = Router::new()
//!     .route("/auth/login", post(login))
//!     .route("/auth/status", get(status))
//!     .route("/auth/logout", post(logout))
//!     .route("/memos", get(memos))
//!     .with_state(AppState { jwt });
//! # Ok::<(), jwt_extended::ConfigError>(())
//! ```
//!
//! Every protected `POST`, `PUT`, `PATCH` and `DELETE` then needs the `X-CSRF-TOKEN` header
//! holding the `csrf_access_token` cookie's value, exactly as with Flask-JWT-Extended.
//!
//! ## Errors: statuses and messages
//!
//! Each failure is a [`JwtError`] with Flask-JWT-Extended's status and message, rendered as
//! `{"msg": "..."}` (the key follows `JWT_ERROR_MESSAGE_KEY`):
//!
//! | status | message | when |
//! |---|---|---|
//! | 401 | `Missing cookie "access_token_cookie"`, `Missing Authorization Header`, `Missing 'Bearer' type in 'Authorization' header. Expected 'Authorization: Bearer <JWT>'`, `Missing 'jwt' query paramater`, `Invalid content-type. Must be application/json.`, `Missing "access_token" key in json data.` | no token in that location |
//! | 401 | `Missing JWT in headers, cookies, query_string or json (...)` | no token in any of several locations |
//! | 401 | `Missing CSRF token` / `CSRF double submit tokens do not match` | cookie token on a CSRF method |
//! | 401 | `Token has expired` | `exp` passed |
//! | 401 | `Fresh token required` | [`FreshJwt`] with a non-fresh token |
//! | 401 | `Token has been revoked` | the [`RevocationStore`] says so |
//! | 401 | `Error loading the user <id>` | [`CurrentUser`]'s loader found none |
//! | 400 | `User claims verification failed` | the verification hook said no |
//! | 403 | `access to this resource is not allowed` | a [`ClaimGuard`] said no |
//! | 422 | `Bad Authorization header. Expected 'Authorization: Bearer <JWT>'` | malformed header |
//! | 422 | `Invalid value for query parameter 'jwt'. Expected the value to start with '...'` | missing prefix |
//! | 422 | `Only non-refresh tokens are allowed` / `Only refresh tokens are allowed` | wrong type |
//! | 422 | `Not enough segments`, `Invalid header padding`, `Invalid payload padding`, `Invalid crypto padding`, `Signature verification failed`, `The specified alg value is not allowed`, `The token is not yet valid (nbf)`, `The token is not yet valid (iat)`, `Subject must be a string`, `Token is missing the "aud" claim`, `Audience doesn't match`, `Token is missing the "iss" claim`, `Invalid issuer`, `Expiration Time claim (exp) must be an integer.`, `JWT ID must be a string`, `Missing claim: sub`, `Missing claim: csrf` | invalid token |
//! | 503 | `Revocation store unavailable` | the store failed (fail-closed policy) |
//!
//! ## From Flask-JWT-Extended to jwt-extended
//!
//! | Flask-JWT-Extended | jwt-extended |
//! |---|---|
//! | `JWTManager(app)` | [`JwtManager::new`] / [`JwtManager::builder`], in state via `FromRef` |
//! | `app.config["JWT_*"]` | [`JwtConfig`] `with_*` methods, or [`JwtConfig::from_env`] |
//! | `create_access_token(identity, fresh, expires_delta, additional_claims, additional_headers)` | [`JwtManager::access_token`] `.fresh()` `.fresh_for()` `.expires_in()` `.claim()` `.additional_claims()` `.additional_headers()` `.encode()`; [`JwtManager::create_access_token`] |
//! | `create_refresh_token(...)` | [`JwtManager::refresh_token`], [`JwtManager::create_refresh_token`] |
//! | `decode_token(token, csrf_value, allow_expired)` | [`JwtManager::decode_token`] |
//! | `get_jti`, `get_csrf_token`, `get_unverified_jwt_headers` | [`JwtManager::get_jti`], [`JwtManager::get_csrf_token`], [`JwtManager::unverified_header`] |
//! | `set_access_cookies`, `set_refresh_cookies` (`max_age=`, `domain=`) | [`JwtManager::set_access_cookies`], [`JwtManager::set_refresh_cookies`], `*_with(`[`CookieOptions`]`)` → [`AuthCookies`] |
//! | `unset_access_cookies`, `unset_refresh_cookies`, `unset_jwt_cookies` | [`JwtManager::unset_access_cookies`], [`JwtManager::unset_refresh_cookies`], [`JwtManager::unset_jwt_cookies`] |
//! | `@jwt_required()` | [`Jwt`] extractor |
//! | `@jwt_required(optional=True)` | `Option<Jwt>` |
//! | `@jwt_required(fresh=True)` | [`FreshJwt`] |
//! | `@jwt_required(refresh=True)` | [`RefreshJwt`] |
//! | `@jwt_required(locations=[...])` | [`JwtFrom<L>`](JwtFrom) with [`InHeaders`], [`InCookies`], ... or your [`Locations`] |
//! | `verify_jwt_in_request(optional, fresh, refresh, locations, verify_type, skip_revocation_check)` | [`JwtManager::verify_request`] with [`VerifyOptions`] |
//! | `get_jwt()`, `get_jwt_header()`, `get_jwt_identity()`, `get_jwt_request_location()` | [`Claims::extra`], [`Claims::header`], [`Claims::identity`], [`Claims::location`] |
//! | `current_user`, `@jwt.user_lookup_loader` | [`CurrentUser<L>`](CurrentUser) with your [`UserLoader`] |
//! | custom decorator checking a claim | [`Guarded<G>`](Guarded) with your [`ClaimGuard`] |
//! | `@jwt.user_identity_loader` | [`JwtManagerBuilder::identity_loader`] |
//! | `@jwt.additional_claims_loader` | [`JwtManagerBuilder::additional_claims_loader`] |
//! | `@jwt.additional_headers_loader` | [`JwtManagerBuilder::additional_headers_loader`] |
//! | `@jwt.encode_key_loader`, `@jwt.decode_key_loader` | [`JwtManagerBuilder::encode_key_loader`], [`JwtManagerBuilder::decode_key_loader`] |
//! | a `decode_key_loader` picking the key by `kid` (key rotation); a JWKS route; PyJWT's `PyJWKClient` | [`JwtManagerBuilder::signing_kid`], [`JwtManagerBuilder::verification_key_pem`]; [`JwtManager::jwks`]; `JwtManagerBuilder::remote_jwks` with a `RemoteJwks` (feature `remote-jwks`) |
//! | `@jwt.token_in_blocklist_loader` | [`JwtManagerBuilder::revocation_store`] ([`RevocationStore`], async) |
//! | `@jwt.token_verification_loader` | [`JwtManagerBuilder::token_verification_loader`] |
//! | `@jwt.expired_token_loader`, `invalid_token_loader`, `unauthorized_loader`, `revoked_token_loader`, `needs_fresh_token_loader`, `user_lookup_error_loader`, `token_verification_failed_loader` | [`JwtManagerBuilder::error_handler`] (one hook, matching on [`JwtError`]) |
//! | `JWT_TOKEN_LOCATION = ["json"]`, `JWT_CSRF_CHECK_FORM` | also add the [`read_token_body`] middleware |
//! | implicit refresh in `after_request` | [`ImplicitRefreshLayer`] |
//!
//! Differences on purpose: bad input that makes Flask answer 500 (an `Authorization` entry of
//! only spaces, a JSON array body) gets the matching 401/422 here; rejections are values, so no
//! framework can bypass them; loaders may be async ([`RevocationStore`], [`UserLoader`]).

#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations)]

// Modules from the bottom up: each imports only those above it in this list.
mod base64url;
mod body;
mod builder;
mod claims;
mod clock;
mod config;
mod cookies;
mod csrf;
mod decode;
mod env;
mod error_layer;
mod extract;
mod keys;
mod loaded_user;
mod locations;
mod logout;
mod manager;
mod refresh_layer;
mod rejection;
mod rotation;
mod stores;
pub mod testing;
mod tokens;
mod user;
mod verify;

pub use body::read_token_body;
pub use builder::JwtManagerBuilder;
pub use claims::{Claims, DecodedToken, FAMILY_CLAIM, Fresh, JsonObject};
pub use config::{Algorithm, Audience, ConfigError, JwtConfig, SameSite, TokenLocation};
pub use cookies::{AuthCookies, CookieOptions};
pub use error_layer::{JwtErrorLayer, JwtErrorService};
pub use extract::{
    ClaimGuard, CurrentUser, FreshJwt, Guarded, InCookies, InHeaders, InJson, InQueryString, Jwt,
    JwtFrom, JwtWith, Locations, RefreshJwt, RefreshToken, Requirement, require,
};
pub use jsonwebtoken::{DecodingKey, EncodingKey, jwk::JwkSet};
#[cfg(feature = "remote-jwks")]
pub use keys::{JwksError, RemoteJwks};
pub use manager::JwtManager;
pub use refresh_layer::{ImplicitRefresh, ImplicitRefreshLayer};
pub use rejection::{ErrorHandler, JwtError, JwtRejection};
pub use rotation::IssuedTokens;
#[cfg(feature = "redis")]
pub use stores::RedisStore;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub use stores::SqlStore;
pub use stores::{
    MemoryRevocationStore, MemorySessionStore, RefreshId, RevocationStore, RotateOutcome,
    SessionInfo, SessionStore, StoreError,
};
pub use tokens::{MintedToken, TokenBuilder, TokenError};
pub use user::UserLoader;
pub use verify::{Verified, VerifyOptions};
