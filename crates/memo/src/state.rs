//! The state shared by every handler. A handler (or jwt-extended's
//! extractors) asks only for the part it uses, through `FromRef`.

use std::{ops::Deref, sync::Arc};

use axum::extract::FromRef;
use jwt_extended::JwtManager;

use crate::{
    config::Config,
    db::Db,
    http::{CursorKey, RedisHealth},
    limits::RateLimiter,
    password::Passwords,
};

/// The app's state, behind one `Arc`: axum clones a route's service, state
/// included, for every request, so this is one count instead of one per part.
/// Everything a handler needs is here rather than in request extensions,
/// whose map and boxes were allocated on every request.
#[derive(Clone, Debug)]
pub struct AppState(Arc<Parts>);

/// The parts of [`AppState`].
#[derive(Debug)]
pub struct Parts {
    /// The database.
    pub db: Db,
    /// Issues and checks tokens; the extractors find it here.
    pub jwt: JwtManager,
    /// Hashes and verifies passwords.
    pub passwords: Passwords,
    /// Signs and checks the memo list's cursors.
    pub cursors: CursorKey,
    /// The login, registration and password limits.
    pub limiter: RateLimiter,
    /// Redis as `/api/health` checks it.
    pub redis_health: RedisHealth,
}

impl AppState {
    /// The state of an app with `config`: the rate limiter and the Redis
    /// health check are made from it.
    #[must_use]
    pub fn new(
        config: &Config,
        db: Db,
        jwt: JwtManager,
        passwords: Passwords,
        cursors: CursorKey,
    ) -> Self {
        let redis_url = config.redis_url.as_deref();
        Self(Arc::new(Parts {
            db,
            jwt,
            passwords,
            cursors,
            limiter: RateLimiter::new(config.rate_limits.clone(), redis_url),
            redis_health: RedisHealth::new(redis_url),
        }))
    }
}

impl Deref for AppState {
    type Target = Parts;

    fn deref(&self) -> &Parts {
        &self.0
    }
}

macro_rules! part {
    ($field:ident: $ty:ty) => {
        impl FromRef<AppState> for $ty {
            fn from_ref(state: &AppState) -> Self {
                state.$field.clone()
            }
        }
    };
}

part!(db: Db);
part!(jwt: JwtManager);
part!(passwords: Passwords);
part!(cursors: CursorKey);
part!(limiter: RateLimiter);
part!(redis_health: RedisHealth);
