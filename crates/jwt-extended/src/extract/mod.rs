//! Extractors: the Rust form of `@jwt_required(...)`, `get_jwt()` and `current_user`.
//!
//! Each finds the [`JwtManager`](crate::JwtManager) in the state through `FromRef`, runs
//! [`JwtManager::verify_request`](crate::JwtManager::verify_request) with its options (which
//! include the manager's user lookup), and hands the handler typed
//! [`Claims`](crate::Claims).

mod guard;
mod jwt;
mod refresh;
mod requirement;
mod user;
mod verified;

pub use self::{
    guard::{ClaimGuard, Guarded},
    jwt::{FreshJwt, Jwt, JwtFrom, JwtWith, RefreshJwt},
    refresh::RefreshToken,
    requirement::{InCookies, InHeaders, InJson, InQueryString, Locations, Requirement, require},
    user::CurrentUser,
};
