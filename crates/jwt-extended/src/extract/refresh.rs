//! [`RefreshToken`]: what a refresh route needs to issue new tokens, in one extractor.

use std::fmt;

use axum::extract::{FromRef, FromRequestParts};
use http::request::Parts;

use super::verified::verify;
use crate::{
    claims::DecodedToken,
    config::TokenLocation,
    loaded_user::LoadedUser,
    manager::JwtManager,
    rejection::{JwtError, JwtRejection},
    verify::VerifyOptions,
};

/// `@jwt_required(refresh=True)` for the route that refreshes: the verified refresh token, raw
/// and decoded, from any configured location (the refresh cookie with its CSRF header, the
/// `refresh_token` JSON key, the `Authorization` header, the query string), and its user.
/// [`JwtManager::rotate`] turns it into new tokens and their cookies.
///
/// ```
/// use axum::extract::State;
/// use jwt_extended::{IssuedTokens, JwtError, JwtManager, RefreshToken};
///
/// async fn refresh(State(jwt): State<JwtManager>, token: RefreshToken) -> Result<IssuedTokens, JwtError> {
///     jwt.rotate(&token).await // new access and refresh cookies
/// }
/// ```
#[derive(Clone)]
pub struct RefreshToken {
    raw: String,
    token: DecodedToken,
    location: TokenLocation,
    user: Option<LoadedUser>,
}

impl fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshToken")
            .field("location", &self.location)
            .field("jti", &self.token.jti())
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl RefreshToken {
    /// The token as the request carried it.
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// The token's header and payload.
    pub fn token(&self) -> &DecodedToken {
        &self.token
    }

    /// Where the token was found.
    pub fn location(&self) -> TokenLocation {
        self.location
    }

    /// The user the manager's [`UserLoader`](crate::UserLoader) loaded, when it is a `U`.
    pub fn user<U: 'static>(&self) -> Option<&U> {
        self.user.as_ref()?.get()
    }

    pub(crate) fn loaded_user(&self) -> Option<&LoadedUser> {
        self.user.as_ref()
    }
}

impl<S> FromRequestParts<S> for RefreshToken
where
    JwtManager: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = JwtRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let jwt = JwtManager::from_ref(state);
        let options = VerifyOptions {
            refresh: true,
            ..VerifyOptions::REQUIRED
        };
        let verified = verify(&jwt, parts, options)
            .await?
            .ok_or_else(|| jwt.reject(JwtError::Exempt))?;
        let (raw, token, location, user) = verified.into_parts();
        Ok(Self {
            raw,
            token,
            location,
            user,
        })
    }
}
