//! `current_user`: the user the manager's [`UserLoader`](crate::UserLoader) loaded for the
//! request's token.

use std::any::type_name;

use axum::extract::{FromRef, FromRequestParts, OptionalFromRequestParts};
use http::request::Parts;

use super::verified::verify;
use crate::{
    loaded_user::LoadedUser,
    manager::JwtManager,
    rejection::{JwtError, JwtRejection},
    verify::VerifyOptions,
};

/// Flask's `current_user`: the user of the request's token, as the manager's
/// [`UserLoader`](crate::UserLoader) loaded it (see
/// [`JwtManagerBuilder::user_loader`](crate::JwtManagerBuilder::user_loader)).
///
/// After another extractor of this crate in the handler's arguments (`FreshJwt`, `Guarded`,
/// ...), it takes the user that extractor loaded, without a second lookup; alone, it verifies
/// the request as [`Jwt`](crate::Jwt) does. `Option<CurrentUser<U>>` is `None` without a token.
///
/// ```
/// use jwt_extended::{CurrentUser, FreshJwt};
///
/// #[derive(Clone)]
/// struct User {
///     name: String,
/// }
///
/// async fn me(CurrentUser(user): CurrentUser<User>) -> String {
///     user.name
/// }
///
/// async fn change_password(_: FreshJwt, CurrentUser(user): CurrentUser<User>) {}
/// ```
#[derive(Debug, Clone)]
pub struct CurrentUser<U>(pub U);

fn typed<U: Clone + 'static>(jwt: &JwtManager, user: &LoadedUser) -> Result<U, JwtRejection> {
    user.get::<U>().cloned().ok_or_else(|| {
        jwt.reject(JwtError::Internal(format!(
            "CurrentUser<{}>, but the user loader returns {}",
            type_name::<U>(),
            user.type_name()
        )))
    })
}

async fn current<U: Clone + 'static>(
    jwt: &JwtManager,
    parts: &mut Parts,
    optional: bool,
) -> Result<Option<U>, JwtRejection> {
    if let Some(user) = parts.extensions.get::<LoadedUser>() {
        return typed(jwt, user).map(Some);
    }
    if jwt.inner.users.is_none() {
        return Err(jwt.reject(JwtError::Internal(
            "CurrentUser needs a user loader: JwtManagerBuilder::user_loader".into(),
        )));
    }
    let options = VerifyOptions {
        optional,
        ..VerifyOptions::REQUIRED
    };
    match verify(jwt, parts, options).await? {
        Some(verified) => match verified.loaded_user() {
            Some(user) => typed(jwt, user).map(Some),
            None => Err(jwt.reject(JwtError::Internal("no user was loaded".into()))),
        },
        None if optional => Ok(None),
        None => Err(jwt.reject(JwtError::Exempt)),
    }
}

impl<S, U> FromRequestParts<S> for CurrentUser<U>
where
    JwtManager: FromRef<S>,
    S: Send + Sync,
    U: Clone + Send + Sync + 'static,
{
    type Rejection = JwtRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let jwt = JwtManager::from_ref(state);
        match current(&jwt, parts, false).await? {
            Some(user) => Ok(Self(user)),
            None => Err(jwt.reject(JwtError::Exempt)),
        }
    }
}

impl<S, U> OptionalFromRequestParts<S> for CurrentUser<U>
where
    JwtManager: FromRef<S>,
    S: Send + Sync,
    U: Clone + Send + Sync + 'static,
{
    type Rejection = JwtRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        let jwt = JwtManager::from_ref(state);
        Ok(current(&jwt, parts, true).await?.map(Self))
    }
}
