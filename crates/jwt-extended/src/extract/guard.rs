//! Claim guards: Flask-JWT-Extended's documented "custom decorator" pattern (check a claim,
//! answer 403) as a typed extractor, async and with the app's state, on top of any
//! [`Requirement`] (an access token by default, or a fresh one, or one from some locations).

use std::{future::Future, marker::PhantomData};

use axum::extract::{FromRef, FromRequestParts};
use http::request::Parts;

use super::{
    requirement::{Requirement, require},
    verified::required,
};
use crate::{
    claims::Claims,
    manager::JwtManager,
    rejection::{JwtError, JwtRejection},
    verify::VerifyOptions,
};

/// A rule on a verified token's claims, which may ask the app's state `S` (a database, a
/// cache); a token that fails it gets 403 with [`MESSAGE`](Self::MESSAGE).
///
/// ```
/// use jwt_extended::{ClaimGuard, Claims, Guarded, JwtError, require};
///
/// /// Managers only, from the claim the login put in the token.
/// struct Manager;
/// impl<S: Sync> ClaimGuard<S> for Manager {
///     async fn allows(claims: &Claims, _state: &S) -> Result<bool, JwtError> {
///         Ok(claims.extra.get("manager_role_attached") == Some(&serde_json::Value::Bool(true)))
///     }
/// }
///
/// async fn list_users(Guarded(claims, ..): Guarded<Manager>) {}
/// // The same rule on a fresh token:
/// async fn delete_user(Guarded(claims, ..): Guarded<Manager, require::Fresh>) {}
/// ```
pub trait ClaimGuard<S>: Send + Sync + 'static {
    /// The message of the 403 body.
    const MESSAGE: &'static str = "access to this resource is not allowed";

    /// Whether these claims may pass. An `Err` is the answer as it is (e.g. a 503 when a
    /// database is down).
    fn allows(claims: &Claims, state: &S) -> impl Future<Output = Result<bool, JwtError>> + Send;
}

/// A token meeting `R` ([`require::Access`] by default) whose claims `G` allows.
#[derive(Debug, Clone)]
pub struct Guarded<G, R = require::Access>(pub Claims, pub PhantomData<(G, R)>);

impl<S, G, R> FromRequestParts<S> for Guarded<G, R>
where
    JwtManager: FromRef<S>,
    S: Send + Sync,
    G: ClaimGuard<S>,
    R: Requirement,
{
    type Rejection = JwtRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let options = VerifyOptions {
            optional: false,
            ..R::OPTIONS
        };
        let claims = required(parts, state, options).await?;
        let jwt = JwtManager::from_ref(state);
        match G::allows(&claims, state).await {
            Ok(true) => Ok(Self(claims, PhantomData)),
            Ok(false) => Err(jwt.reject(JwtError::Forbidden(G::MESSAGE.to_owned()))),
            Err(error) => Err(jwt.reject(error)),
        }
    }
}
