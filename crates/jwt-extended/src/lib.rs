//! # jwt-extended
//!
//! Flask-JWT-Extended's feature set for [axum]: JWTs in HttpOnly cookies, the CSRF
//! double-submit token an SPA echoes in `X-CSRF-TOKEN`, SameSite cookies, claims hooks, user
//! lookup, refresh tokens, revocation and public-key signing, with **the same defaults, claim
//! layout, cookie names, statuses and messages**, so a Flask API can move to Rust with its SPA
//! unchanged and its users still logged in. Beyond it: refresh rotation with reuse detection,
//! logout of both tokens in one call, the user's sessions, key rotation with a JWKS, and async
//! stores in memory, SQLite, PostgreSQL and Redis.
//!
//! ## Quickstart: a cookie API for an SPA
//!
//! ```
//! use axum::{Json, Router, extract::{FromRef, Request, State}, routing::{get, post}};
//! use jwt_extended::{
//!     AuthCookies, CurrentUser, DecodedToken, IssuedTokens, JsonObject, JwtConfig, JwtError,
//!     JwtManager, MemorySessionStore, RefreshToken, SameSite, TokenLocation, UserLoader,
//! };
//! use serde_json::Value;
//!
//! #[derive(Clone, serde::Serialize)]
//! struct User {
//!     id: String,
//!     department: String,
//! }
//!
//! /// `@jwt.user_lookup_loader`: run for every guarded request; a deleted user's tokens get 401.
//! struct Users;
//! impl UserLoader for Users {
//!     type User = User;
//!     type Error = std::convert::Infallible;
//!     async fn load_user(&self, identity: &Value, _: &DecodedToken) -> Result<Option<User>, Self::Error> {
//!         Ok((identity == "1").then(|| User { id: "1".into(), department: "CTO Office".into() }))
//!     }
//! }
//!
//! #[derive(Clone, FromRef)]
//! struct AppState {
//!     jwt: JwtManager,
//! }
//!
//! async fn login(State(jwt): State<JwtManager>) -> Result<IssuedTokens, JwtError> {
//!     // (check the password first)
//!     jwt.login("1", JsonObject::new(), None).await // sets the four cookies
//! }
//!
//! async fn refresh(State(jwt): State<JwtManager>, token: RefreshToken) -> Result<IssuedTokens, JwtError> {
//!     jwt.rotate(&token).await // new cookies; a replayed old token revokes the login
//! }
//!
//! async fn logout(State(jwt): State<JwtManager>, request: Request) -> Result<AuthCookies, JwtError> {
//!     jwt.logout(&request.into_parts().0).await // checks each token's CSRF value, revokes, clears
//! }
//!
//! async fn me(CurrentUser(user): CurrentUser<User>) -> Json<User> {
//!     Json(user)
//! }
//!
//! let config = JwtConfig::from_env()? // the same JWT_* variables as a Flask app
//!     .with_secret_key("a long random secret from the environment")
//!     .with_token_location([TokenLocation::Cookies])
//!     .with_cookie_samesite(Some(SameSite::Strict));
//! let jwt = JwtManager::builder(config)
//!     .session_store(MemorySessionStore::new())
//!     .user_loader(Users)
//!     .build()?;
//! let app: Router = Router::new()
//!     .route("/auth/login", post(login))
//!     .route("/auth/refresh", post(refresh))
//!     .route("/auth/logout", post(logout))
//!     .route("/me", get(me))
//!     .layer(jwt.error_layer())
//!     .with_state(AppState { jwt });
//! # Ok::<(), jwt_extended::ConfigError>(())
//! ```
//!
//! Every protected `POST`, `PUT`, `PATCH` and `DELETE` then needs the `X-CSRF-TOKEN` header
//! holding the `csrf_access_token` cookie's value, exactly as with Flask-JWT-Extended. The
//! `examples/` directory has the whole cookie SPA API (with a claim guard), a Bearer API and a
//! resource server that verifies with a remote JWKS.
//!
//! ## Cargo features
//!
//! None is on by default.
//!
//! | feature | adds |
//! |---|---|
//! | `sqlite` | `SqlStore::sqlite`: revocations and sessions in SQLite (sqlx) |
//! | `postgres` | `SqlStore::postgres`: the same in PostgreSQL; `with_shared_cache()` answers revocation checks from memory on every instance, kept current by LISTEN/NOTIFY; `PgConnections` keeps connections out of sqlx's pool between statements (no ping on their return) |
//! | `redis` | `RedisStore`: the same in Redis, answered from memory kept current by pub/sub |
//! | `remote-jwks` | `RemoteJwks`: verify with another service's JWKS, fetched with reqwest and rustls |
//!
//! ## Errors: statuses and messages
//!
//! Each failure is a [`JwtError`] with Flask-JWT-Extended's status and message, rendered as
//! `{"msg": "..."}` (the key follows `JWT_ERROR_MESSAGE_KEY`), or by the manager's
//! [`error_handler`](JwtManagerBuilder::error_handler), whether an extractor rejects or a handler
//! returns it (behind [`JwtManager::error_layer`]):
//!
//! | status | message | when |
//! |---|---|---|
//! | 401 | `Missing cookie "access_token_cookie"`, `Missing Authorization Header`, `Missing 'Bearer' type in 'Authorization' header. Expected 'Authorization: Bearer <JWT>'`, `Missing 'jwt' query paramater`, `Invalid content-type. Must be application/json.`, `Missing "access_token" key in json data.` | no token in that location |
//! | 401 | `Missing JWT in headers, cookies, query_string or json (...)` | no token in any of several locations |
//! | 401 | `Missing CSRF token` / `CSRF double submit tokens do not match` | cookie token on a CSRF method |
//! | 401 | `Token has expired` | `exp` passed |
//! | 401 | `Fresh token required` | [`FreshJwt`] with a non-fresh token |
//! | 401 | `Token has been revoked` | the [`RevocationStore`] says so |
//! | 401 | `Error loading the user <id>` | the [`UserLoader`] found no user |
//! | 400 | `User claims verification failed` | the verification hook said no |
//! | 403 | `access to this resource is not allowed` | a [`ClaimGuard`] said no |
//! | 422 | `Bad Authorization header. Expected 'Authorization: Bearer <JWT>'` | malformed header |
//! | 422 | `Invalid value for query parameter 'jwt'. Expected the value to start with '...'` | missing prefix |
//! | 422 | `Only non-refresh tokens are allowed` / `Only refresh tokens are allowed` | wrong type |
//! | 422 | `Not enough segments`, `Invalid header padding`, `Invalid payload padding`, `Invalid crypto padding`, `Signature verification failed`, `The specified alg value is not allowed`, `The token is not yet valid (nbf)`, `The token is not yet valid (iat)`, `Subject must be a string`, `Token is missing the "aud" claim`, `Audience doesn't match`, `Token is missing the "iss" claim`, `Invalid issuer`, `Expiration Time claim (exp) must be an integer.`, `JWT ID must be a string`, `Missing claim: sub`, `Missing claim: csrf` | invalid token |
//! | 503 | `Revocation store unavailable`, `User lookup unavailable` | a store or the user loader failed (fail closed) |
//!
//! ## From Flask-JWT-Extended to jwt-extended
//!
//! | Flask-JWT-Extended | jwt-extended |
//! |---|---|
//! | `JWTManager(app)` | [`JwtManager::new`] / [`JwtManager::builder`], in state via `FromRef` |
//! | `app.config["JWT_*"]` | [`JwtConfig`] `with_*` methods, or [`JwtConfig::from_env`] |
//! | `create_access_token(identity, fresh, expires_delta, additional_claims, additional_headers)` | [`JwtManager::access_token`] `.fresh()` `.fresh_for()` `.fresh_until()` `.expires_in()` `.expires_in_seconds()` `.claim()` `.additional_claims()` `.additional_headers()` `.encode()` / `.mint()`; [`JwtManager::create_access_token`] |
//! | `create_refresh_token(...)` | [`JwtManager::refresh_token`], [`JwtManager::create_refresh_token`] |
//! | `decode_token(token, csrf_value, allow_expired)` | [`JwtManager::decode_token`] |
//! | `get_jti`, `get_csrf_token`, `get_unverified_jwt_headers` | [`JwtManager::get_jti`], [`JwtManager::get_csrf_token`], [`JwtManager::unverified_header`] |
//! | `set_access_cookies`, `set_refresh_cookies` (`max_age=`, `domain=`) | [`JwtManager::cookies_for`] for a token just minted (cannot fail); [`JwtManager::set_access_cookies`], [`JwtManager::set_refresh_cookies`], `*_with(`[`CookieOptions`]`)` for a token as text |
//! | `unset_access_cookies`, `unset_refresh_cookies`, `unset_jwt_cookies` (`domain=`) | [`JwtManager::unset_access_cookies`], [`JwtManager::unset_refresh_cookies`], [`JwtManager::unset_jwt_cookies`], and their `*_with(`[`CookieOptions`]`)` |
//! | `@jwt_required()` | [`Jwt`] extractor |
//! | `@jwt_required(optional=True)` | `Option<Jwt>` |
//! | `@jwt_required(fresh=True)` | [`FreshJwt`] |
//! | `@jwt_required(refresh=True)` | [`RefreshJwt`]; [`RefreshToken`] on the route that rotates |
//! | `@jwt_required(locations=[...])` | [`JwtFrom<L>`](JwtFrom) with [`InHeaders`], [`InCookies`], ... or your [`Locations`] |
//! | `@jwt_required(verify_type=False, skip_revocation_check=True, ...)` | [`JwtWith<R>`](JwtWith) with your [`Requirement`] |
//! | `verify_jwt_in_request(optional, fresh, refresh, locations, verify_type, skip_revocation_check)` | [`JwtManager::verify_request`] with [`VerifyOptions`] |
//! | `get_jwt()`, `get_jwt_header()`, `get_jwt_identity()`, `get_jwt_request_location()` | [`Claims::extra`], [`Claims::header`], [`Claims::identity`], [`Claims::location`] |
//! | `@jwt.user_lookup_loader`, `current_user` | [`JwtManagerBuilder::user_loader`] with your [`UserLoader`]; [`CurrentUser<U>`](CurrentUser), [`Claims::user`] |
//! | custom decorator checking a claim | [`Guarded<G, R>`](Guarded) with your [`ClaimGuard`] |
//! | `@jwt.user_identity_loader` | [`JwtManagerBuilder::identity_loader`] |
//! | `@jwt.additional_claims_loader` | [`JwtManagerBuilder::additional_claims_loader`]; on refresh, [`UserLoader::claims_for`] |
//! | `@jwt.additional_headers_loader` | [`JwtManagerBuilder::additional_headers_loader`] |
//! | `@jwt.encode_key_loader`, `@jwt.decode_key_loader` | [`JwtManagerBuilder::encode_key_loader`], [`JwtManagerBuilder::decode_key_loader`] |
//! | a `decode_key_loader` picking the key by `kid` (key rotation); a JWKS route; PyJWT's `PyJWKClient` | [`JwtManagerBuilder::signing_kid`], [`JwtManagerBuilder::verification_key_pem`]; [`JwtManager::jwks`]; `JwtManagerBuilder::remote_jwks` with a `RemoteJwks` (feature `remote-jwks`) |
//! | `@jwt.token_in_blocklist_loader` | [`JwtManagerBuilder::revocation_store`] ([`RevocationStore`], async) or [`JwtManagerBuilder::session_store`] |
//! | `@jwt.token_verification_loader` | [`JwtManagerBuilder::token_verification_loader`] |
//! | `@jwt.expired_token_loader`, `invalid_token_loader`, `unauthorized_loader`, `revoked_token_loader`, `needs_fresh_token_loader`, `user_lookup_error_loader`, `token_verification_failed_loader` | [`JwtManagerBuilder::error_handler`] (one hook, matching on [`JwtError`]), [`JwtManager::error_layer`] |
//! | `JWT_TOKEN_LOCATION = ["json"]`, `JWT_CSRF_CHECK_FORM` | also add the [`read_token_body`] middleware |
//! | implicit refresh in `after_request` | [`ImplicitRefreshLayer`] |
//! | a refresh route; a logout route revoking both tokens (#53, #417, #453) | [`JwtManager::rotate`] with [`RefreshToken`]; [`JwtManager::logout`] |
//! | the app's tests minting tokens (`expires_delta=timedelta(seconds=-60)`) | [`testing::TestSession`] |
//!
//! ## Differences from Flask-JWT-Extended, on purpose
//!
#![doc = include_str!("../doc/differences.md")]
//!
//! [axum]: https://docs.rs/axum
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(missing_debug_implementations)]
#![cfg_attr(docsrs, feature(doc_cfg))]

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
mod payload;
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
pub use payload::Payload;
pub use refresh_layer::{ImplicitRefresh, ImplicitRefreshLayer};
pub use rejection::{ErrorHandler, JwtError, JwtRejection};
pub use rotation::IssuedTokens;
#[cfg(feature = "redis")]
pub use stores::RedisStore;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub use stores::SqlStore;
#[cfg(feature = "postgres")]
pub use stores::{KeptConnection, PgConnections};
pub use stores::{
    MemoryRevocationStore, MemorySessionStore, RefreshId, RevocationStore, RotateOutcome,
    SessionInfo, SessionStore, StoreError,
};
pub use tokens::{MintedToken, TokenBuilder, TokenError};
pub use user::UserLoader;
pub use verify::{Verified, VerifyOptions};
