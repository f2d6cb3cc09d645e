//! Claim guards: Flask-JWT-Extended's documented "custom decorator" pattern (check a claim,
//! answer 403) as a typed extractor.

use std::marker::PhantomData;

use axum::extract::{FromRef, FromRequestParts};
use http::request::Parts;

use super::required;
use crate::{
    claims::{Claims, JsonObject},
    manager::JwtManager,
    rejection::{JwtError, JwtRejection},
    verify::VerifyOptions,
};

/// A rule on an access token's claims; a token that fails it gets 403 with [`MESSAGE`](Self::MESSAGE).
///
/// ```
/// use jwt_extended::{ClaimGuard, Claims, Guarded};
///
/// struct Manager;
/// impl ClaimGuard for Manager {
///     fn allows(claims: &Claims) -> bool {
///         claims.extra.get("manager_role_attached") == Some(&serde_json::Value::Bool(true))
///     }
/// }
///
/// async fn list_users(Guarded(claims, ..): Guarded<Manager>) {}
/// ```
pub trait ClaimGuard: Send + Sync + 'static {
    /// The message of the 403 body.
    const MESSAGE: &'static str = "access to this resource is not allowed";

    /// Whether these claims may pass.
    fn allows(claims: &Claims) -> bool;
}

/// A valid access token whose claims `G` allows.
#[derive(Debug, Clone)]
pub struct Guarded<G: ClaimGuard>(pub Claims<JsonObject>, pub PhantomData<G>);

impl<S, G> FromRequestParts<S> for Guarded<G>
where
    JwtManager: FromRef<S>,
    S: Send + Sync,
    G: ClaimGuard,
{
    type Rejection = JwtRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let claims = required(parts, state, VerifyOptions::default()).await?;
        if G::allows(&claims) {
            Ok(Self(claims, PhantomData))
        } else {
            let jwt = JwtManager::from_ref(state);
            Err(JwtRejection::new(
                JwtError::Forbidden(G::MESSAGE.to_owned()),
                jwt.renderer(),
            ))
        }
    }
}
