//! The app's use of jwt-extended: the manager built from [`Config`], the
//! database as user loader, and the claims the original
//! app put in its tokens.

use jwt_extended::{
    DecodedToken, JsonObject, JwtManager, JwtManagerBuilder, RevocationStore, SessionStore,
    TokenLocation, UserLoader,
};
use serde_json::Value;

use crate::{
    config::Config,
    db::{Db, User},
};

/// The refresh cookie's path: the browser sends the long-lived token only to
/// the auth routes that use it (refresh and logout), not with every request.
pub const REFRESH_COOKIE_PATH: &str = "/api/auth";

/// Default key prefix of the app's entries in Redis (`memo:revoked:<jti>`,
/// ...); MEMO_REDIS_PREFIX changes it.
pub const REDIS_PREFIX: &str = "memo";

/// Builds the token manager with `sessions` as its session store (login
/// families, refresh rotation, revocations): jwt-extended's `SqlStore` in the
/// app's database, or its `RedisStore` when REDIS_URL is set; and `users` as
/// its user loader, run for every guarded request.
///
/// # Errors
/// The library's message when it refuses the settings (e.g. a bad PEM key).
pub fn session_manager(
    config: &Config,
    sessions: impl SessionStore,
    users: Db,
) -> Result<JwtManager, String> {
    builder(config)
        .session_store(sessions)
        .user_loader(users)
        .refresh_grace(config.refresh_grace)
        .build()
        .map_err(|e| e.to_string())
}

/// Builds a token manager with `revoked` as its revocation store only (no
/// login families, no user lookup): the fuzz harness's.
///
/// # Errors
/// The library's message when it refuses the settings (e.g. a bad PEM key).
pub fn manager(config: &Config, revoked: impl RevocationStore) -> Result<JwtManager, String> {
    builder(config)
        .revocation_store(revoked)
        .build()
        .map_err(|e| e.to_string())
}

/// The manager's settings: the JWT_* settings jwt-extended read, with
/// memo's own on top (tokens in cookies only, like the original; `__Host-`
/// names or the refresh cookie's path; the key's `kid` and retired keys).
fn builder(config: &Config) -> JwtManagerBuilder {
    let jwt_config = config
        .jwt
        .config
        .clone()
        .with_token_location([TokenLocation::Cookies])
        .with_cookie_secure(config.cookie_secure);
    // A `__Host-` cookie must have Path=/, so the refresh cookie then goes
    // with every request (still HttpOnly, same origin only).
    let jwt_config = if config.cookie_host_prefix {
        jwt_config.with_host_prefixed_cookies()
    } else {
        jwt_config.with_refresh_cookie_path(REFRESH_COOKIE_PATH)
    };
    let algorithm = jwt_config.algorithm();
    let mut builder = JwtManager::builder(jwt_config);
    if let Some(kid) = &config.jwt.key_id {
        builder = builder.signing_kid(kid);
    }
    for (kid, pem) in &config.jwt.retired_public_keys {
        builder = builder.verification_key_pem(kid, algorithm, pem);
    }
    builder
}

/// The claims the original added to every token (its
/// `additional_claims_loader`), taken from the user row so that a change of
/// role shows in the next token.
#[must_use]
pub fn user_claims(user: &User) -> JsonObject {
    let mut claims = JsonObject::new();
    claims.insert(
        "department".into(),
        user.department.clone().map_or(Value::Null, Value::String),
    );
    claims.insert(
        "manager_role_attached".into(),
        Value::Bool(user.manager_role_attached),
    );
    claims
}

/// The original's `user_lookup_loader`: the user row of the token's `sub`,
/// run by jwt-extended for every guarded request, so a deleted user's tokens
/// stop working at once (401 `Error loading the user <id>`).
impl UserLoader for Db {
    type User = User;
    type Error = sqlx::Error;

    async fn load_user(
        &self,
        identity: &Value,
        _token: &DecodedToken,
    ) -> Result<Option<User>, sqlx::Error> {
        // `sub` is the user id as a string; anything else names no user.
        match identity.as_str().and_then(|sub| sub.parse::<i64>().ok()) {
            Some(id) => self.user_by_id(id).await,
            None => Ok(None),
        }
    }

    /// The claims of the tokens a refresh issues: the user row's current
    /// ones, so a change of role shows after the next refresh.
    fn claims_for(&self, user: &User) -> Option<JsonObject> {
        Some(user_claims(user))
    }
}
