//! `current_user`: the app's user for the token, loaded by its [`UserLoader`]
//! (Flask's `@jwt.user_lookup_loader`).

use std::{fmt::Display, future::Future};

use axum::extract::{FromRef, FromRequestParts};
use http::request::Parts;

use super::claims_from_parts;
use crate::{
    claims::{Claims, DecodedToken},
    manager::JwtManager,
    rejection::{JwtError, JwtRejection, python_str},
    verify::VerifyOptions,
};

/// Loads the user a verified token stands for. `Ok(None)` gives 401
/// "Error loading the user <identity>"; `Err` gives 500 (and is logged).
///
/// ```
/// use jwt_extended::{Claims, UserLoader};
///
/// #[derive(Clone)]
/// struct Users;
///
/// impl UserLoader for Users {
///     type User = String;
///     type Error = std::convert::Infallible;
///     async fn load_user(&self, claims: &Claims) -> Result<Option<String>, Self::Error> {
///         Ok(claims.sub().filter(|s| *s == "alice").map(str::to_owned))
///     }
/// }
/// ```
pub trait UserLoader: Clone + Send + Sync + 'static {
    /// The app's user.
    type User: Send;
    /// The loader's failure (a database error).
    type Error: Display + Send;

    /// Finds the user for these claims.
    fn load_user(
        &self,
        claims: &Claims,
    ) -> impl Future<Output = Result<Option<Self::User>, Self::Error>> + Send;
}

/// `current_user` of a `@jwt_required()` route: the access token's user, loaded by `L`
/// (which the state provides through `FromRef`).
#[derive(Debug, Clone)]
pub struct CurrentUser<L: UserLoader>(pub L::User);

impl<S, L> FromRequestParts<S> for CurrentUser<L>
where
    JwtManager: FromRef<S>,
    L: UserLoader + FromRef<S>,
    S: Send + Sync,
{
    type Rejection = JwtRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let jwt = JwtManager::from_ref(state);
        let reject = |e: JwtError| JwtRejection::new(e, jwt.renderer());
        let claims: Claims = claims_from_parts(&jwt, parts, VerifyOptions::default())
            .await?
            .ok_or_else(|| reject(JwtError::Exempt))?;
        match L::from_ref(state).load_user(&claims).await {
            Ok(Some(user)) => Ok(Self(user)),
            Ok(None) => Err(reject(JwtError::UserLookup {
                identity: python_str(&claims.identity),
                token: Box::new(DecodedToken {
                    header: claims.header,
                    payload: claims.extra,
                }),
            })),
            Err(e) => Err(reject(JwtError::Internal(format!(
                "user loader failed: {e}"
            )))),
        }
    }
}
