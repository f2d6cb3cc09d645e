//! The step every extractor shares: run [`JwtManager::verify_request`] with its options, leave
//! the loaded user in the request's extensions (for [`CurrentUser`](crate::CurrentUser)), and
//! type the claims.

use axum::extract::FromRef;
use http::request::Parts;
use serde::de::DeserializeOwned;

use crate::{
    claims::Claims,
    manager::JwtManager,
    rejection::{JwtError, JwtRejection},
    verify::{Verified, VerifyOptions},
};

/// Verifies the request; `Ok(None)` for OPTIONS or an optional miss. The user, when loaded, is
/// left in the extensions.
pub(crate) async fn verify(
    jwt: &JwtManager,
    parts: &mut Parts,
    options: VerifyOptions<'_>,
) -> Result<Option<Verified>, JwtRejection> {
    let verified = jwt
        .verify_request(parts, options)
        .await
        .map_err(|e| jwt.reject(e))?;
    if let Some(user) = verified.as_ref().and_then(Verified::loaded_user) {
        parts.extensions.insert(user.clone());
    }
    Ok(verified)
}

/// [`verify`], with the claims typed.
pub(crate) async fn claims<C: DeserializeOwned + 'static>(
    jwt: &JwtManager,
    parts: &mut Parts,
    options: VerifyOptions<'_>,
) -> Result<Option<Claims<C>>, JwtRejection> {
    let Some(verified) = verify(jwt, parts, options).await? else {
        return Ok(None);
    };
    let (_, token, location, user) = verified.into_parts();
    Claims::from_decoded(token, &jwt.config().identity_claim, location, user)
        .map(Some)
        .map_err(|e| jwt.reject(JwtError::invalid(format!("Invalid claims: {e}"))))
}

/// [`claims`] for a required token: OPTIONS requests are answered as exempt.
pub(crate) async fn required<S, C>(
    parts: &mut Parts,
    state: &S,
    options: VerifyOptions<'_>,
) -> Result<Claims<C>, JwtRejection>
where
    JwtManager: FromRef<S>,
    C: DeserializeOwned + 'static,
{
    let jwt = JwtManager::from_ref(state);
    claims(&jwt, parts, options)
        .await?
        .ok_or_else(|| jwt.reject(JwtError::Exempt))
}
