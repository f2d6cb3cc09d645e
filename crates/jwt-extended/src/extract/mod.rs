//! Extractors: the Rust form of `@jwt_required(...)`, `get_jwt()` and `current_user`.
//!
//! Each finds the [`JwtManager`] in the state through `FromRef`, runs
//! [`JwtManager::verify_request`] with its options, and hands the handler typed [`Claims`].
//! `Option<Jwt>` is `@jwt_required(optional=True)`: no token gives `None`, a bad one still
//! rejects.

mod guard;
mod user;

use std::marker::PhantomData;

use axum::extract::{FromRef, FromRequestParts, OptionalFromRequestParts};
use http::request::Parts;
use serde::de::DeserializeOwned;

pub use self::{
    guard::{ClaimGuard, Guarded},
    user::{CurrentUser, UserLoader},
};
use crate::{
    claims::{Claims, JsonObject},
    config::TokenLocation,
    manager::JwtManager,
    rejection::{JwtError, JwtRejection},
    verify::VerifyOptions,
};

/// Runs the verification and types the claims; `Ok(None)` for OPTIONS or an optional miss.
pub(crate) async fn claims_from_parts<C: DeserializeOwned + 'static>(
    jwt: &JwtManager,
    parts: &Parts,
    options: VerifyOptions<'_>,
) -> Result<Option<Claims<C>>, JwtRejection> {
    let reject = |e: JwtError| JwtRejection::new(e, jwt.renderer());
    let Some(verified) = jwt.verify_request(parts, options).await.map_err(reject)? else {
        return Ok(None);
    };
    let identity_claim = &jwt.config().identity_claim;
    Claims::from_decoded(verified.token, identity_claim, verified.location)
        .map(Some)
        .map_err(|e| reject(JwtError::invalid(format!("Invalid claims: {e}"))))
}

/// Which token a [`Jwt`]-like extractor asks for.
pub(crate) async fn required<S, C>(
    parts: &Parts,
    state: &S,
    options: VerifyOptions<'_>,
) -> Result<Claims<C>, JwtRejection>
where
    JwtManager: FromRef<S>,
    C: DeserializeOwned + 'static,
{
    let jwt = JwtManager::from_ref(state);
    claims_from_parts(&jwt, parts, options)
        .await?
        .ok_or_else(|| JwtRejection::new(JwtError::Exempt, jwt.renderer()))
}

macro_rules! jwt_extractor {
    ($(#[$doc:meta])* $name:ident, $options:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $name<C = JsonObject>(pub Claims<C>);

        impl<S, C> FromRequestParts<S> for $name<C>
        where
            JwtManager: FromRef<S>,
            S: Send + Sync,
            C: DeserializeOwned + Send + 'static,
        {
            type Rejection = JwtRejection;

            async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
                required(parts, state, $options).await.map(Self)
            }
        }

        impl<S, C> OptionalFromRequestParts<S> for $name<C>
        where
            JwtManager: FromRef<S>,
            S: Send + Sync,
            C: DeserializeOwned + Send + 'static,
        {
            type Rejection = JwtRejection;

            async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Option<Self>, Self::Rejection> {
                let jwt = JwtManager::from_ref(state);
                let options = VerifyOptions { optional: true, ..$options };
                Ok(claims_from_parts(&jwt, parts, options).await?.map(Self))
            }
        }
    };
}

jwt_extractor! {
    /// `@jwt_required()`: a valid access (non-refresh) token from the configured locations.
    ///
    /// ```
    /// use jwt_extended::Jwt;
    /// async fn protected(Jwt(claims): Jwt) -> String {
    ///     format!("hello {}", claims.sub().unwrap_or("?"))
    /// }
    /// ```
    Jwt, VerifyOptions::default()
}

jwt_extractor! {
    /// `@jwt_required(fresh=True)`: a fresh access token (401 "Fresh token required").
    FreshJwt, VerifyOptions { fresh: true, ..VerifyOptions::default() }
}

jwt_extractor! {
    /// `@jwt_required(refresh=True)`: a refresh token, from the refresh cookie (with the refresh
    /// CSRF header) or the `refresh_token` JSON key.
    RefreshJwt, VerifyOptions { refresh: true, ..VerifyOptions::default() }
}

/// A set of locations for [`JwtFrom`]: `@jwt_required(locations=[...])`.
pub trait Locations: Send + Sync + 'static {
    /// The locations, in order.
    const LOCATIONS: &'static [TokenLocation];
}

macro_rules! location_marker {
    ($(#[$doc:meta])* $name:ident, $($loc:ident),+) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy)]
        pub struct $name;
        impl Locations for $name {
            const LOCATIONS: &'static [TokenLocation] = &[$(TokenLocation::$loc),+];
        }
    };
}

location_marker!(/// Only the `Authorization` header.
    InHeaders, Headers);
location_marker!(/// Only the cookies.
    InCookies, Cookies);
location_marker!(/// Only the query string.
    InQueryString, QueryString);
location_marker!(/// Only the JSON body.
    InJson, Json);

/// An access token looked for only in `L`'s locations, whatever the config says.
///
/// ```
/// use jwt_extended::{InHeaders, JwtFrom};
/// async fn api_client_only(JwtFrom(claims, ..): JwtFrom<InHeaders>) {}
/// ```
#[derive(Debug, Clone)]
pub struct JwtFrom<L: Locations, C = JsonObject>(pub Claims<C>, pub PhantomData<L>);

impl<S, L, C> FromRequestParts<S> for JwtFrom<L, C>
where
    JwtManager: FromRef<S>,
    S: Send + Sync,
    L: Locations,
    C: DeserializeOwned + Send + 'static,
{
    type Rejection = JwtRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let options = VerifyOptions {
            locations: Some(L::LOCATIONS),
            ..VerifyOptions::default()
        };
        required(parts, state, options)
            .await
            .map(|claims| Self(claims, PhantomData))
    }
}
