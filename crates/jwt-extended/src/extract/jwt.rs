//! `@jwt_required(...)` as extractors: [`Jwt`], [`FreshJwt`], [`RefreshJwt`], [`JwtFrom`] and
//! [`JwtWith`]. `Option<...>` of each is `@jwt_required(optional=True)`: no token gives `None`,
//! a bad one still rejects.

use std::marker::PhantomData;

use axum::extract::{FromRef, FromRequestParts, OptionalFromRequestParts};
use http::request::Parts;
use serde::de::DeserializeOwned;

use super::{
    requirement::{Locations, Requirement},
    verified::{claims, required},
};
use crate::{
    claims::Claims, manager::JwtManager, payload::Payload, rejection::JwtRejection,
    verify::VerifyOptions,
};

macro_rules! jwt_extractor {
    ($(#[$doc:meta])* $name:ident, $options:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $name<C = Payload>(pub Claims<C>);

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
                Ok(claims(&jwt, parts, options).await?.map(Self))
            }
        }
    };
}

jwt_extractor! {
    /// `@jwt_required()`: a valid access (non-refresh) token from the configured locations,
    /// and its user when the manager has a [`UserLoader`](crate::UserLoader)
    /// ([`Claims::user`]).
    ///
    /// ```
    /// use jwt_extended::Jwt;
    /// async fn protected(Jwt(claims): Jwt) -> String {
    ///     format!("hello {}", claims.sub().unwrap_or("?"))
    /// }
    /// ```
    Jwt, VerifyOptions::REQUIRED
}

jwt_extractor! {
    /// `@jwt_required(fresh=True)`: a fresh access token (401 "Fresh token required").
    FreshJwt, VerifyOptions { fresh: true, ..VerifyOptions::REQUIRED }
}

jwt_extractor! {
    /// `@jwt_required(refresh=True)`: a refresh token, from the refresh cookie (with the refresh
    /// CSRF header) or the `refresh_token` JSON key. A refresh route that issues new tokens
    /// takes a [`RefreshToken`](crate::RefreshToken) instead.
    RefreshJwt, VerifyOptions { refresh: true, ..VerifyOptions::REQUIRED }
}

/// An access token looked for only in `L`'s locations, whatever the config says.
///
/// ```
/// use jwt_extended::{InHeaders, JwtFrom};
/// async fn api_client_only(JwtFrom(claims, ..): JwtFrom<InHeaders>) {}
/// ```
#[derive(Debug, Clone)]
pub struct JwtFrom<L: Locations, C = Payload>(pub Claims<C>, pub PhantomData<L>);

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
            ..VerifyOptions::REQUIRED
        };
        required(parts, state, options)
            .await
            .map(|claims| Self(claims, PhantomData))
    }
}

/// A token meeting `R`: every option of `@jwt_required(...)` (`fresh`, `refresh`, `locations`,
/// `verify_type`, `skip_revocation_check`, and skipping the user lookup), chosen per route.
/// See [`Requirement`] for an example.
#[derive(Debug, Clone)]
pub struct JwtWith<R: Requirement, C = Payload>(pub Claims<C>, pub PhantomData<R>);

impl<S, R, C> FromRequestParts<S> for JwtWith<R, C>
where
    JwtManager: FromRef<S>,
    S: Send + Sync,
    R: Requirement,
    C: DeserializeOwned + Send + 'static,
{
    type Rejection = JwtRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let options = VerifyOptions {
            optional: false,
            ..R::OPTIONS
        };
        required(parts, state, options)
            .await
            .map(|claims| Self(claims, PhantomData))
    }
}

impl<S, R, C> OptionalFromRequestParts<S> for JwtWith<R, C>
where
    JwtManager: FromRef<S>,
    S: Send + Sync,
    R: Requirement,
    C: DeserializeOwned + Send + 'static,
{
    type Rejection = JwtRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        let jwt = JwtManager::from_ref(state);
        let options = VerifyOptions {
            optional: true,
            ..R::OPTIONS
        };
        Ok(claims(&jwt, parts, options)
            .await?
            .map(|claims| Self(claims, PhantomData)))
    }
}
