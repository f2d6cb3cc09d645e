//! `verify_jwt_in_request`: the whole check of a request, in Flask-JWT-Extended's order
//! (§4.6): OPTIONS exempt, locate (with the CSRF presence check), decode, identity and CSRF
//! claims, type, freshness, blocklist, claims verification. User lookup is the
//! [`CurrentUser`](crate::CurrentUser) extractor's step.

use http::{Method, request::Parts};

use crate::{
    claims::DecodedToken, clock::now, config::TokenLocation, decode::DecodeRequest,
    locations::find_token, manager::JwtManager, rejection::JwtError,
};

/// The parameters of Flask's `verify_jwt_in_request` / `@jwt_required(...)`.
///
/// ```
/// use jwt_extended::VerifyOptions;
/// let refresh = VerifyOptions { refresh: true, ..VerifyOptions::default() };
/// assert!(!refresh.optional);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct VerifyOptions<'a> {
    /// No token is fine (only a *missing* token; a bad one still fails).
    pub optional: bool,
    /// The token must be fresh.
    pub fresh: bool,
    /// A refresh token is required (and the refresh cookie, CSRF header and JSON key are read).
    pub refresh: bool,
    /// Accept any token type.
    pub skip_type_check: bool,
    /// Do not ask the revocation store.
    pub skip_revocation_check: bool,
    /// Look only here, in this order, instead of the config's locations.
    pub locations: Option<&'a [TokenLocation]>,
}

/// A request's verified token and where it was found.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The token, with Flask's defaults filled in.
    pub token: DecodedToken,
    /// Where it was found.
    pub location: TokenLocation,
}

impl JwtManager {
    /// Flask's `verify_jwt_in_request`: `Ok(None)` for OPTIONS requests and for an optional
    /// check without a token.
    ///
    /// # Errors
    /// The [`JwtError`] Flask-JWT-Extended would raise, at the step it would raise it.
    pub async fn verify_request(
        &self,
        parts: &Parts,
        options: VerifyOptions<'_>,
    ) -> Result<Option<Verified>, JwtError> {
        if parts.method == Method::OPTIONS {
            return Ok(None);
        }
        let config = &self.inner.config;
        let locations = options.locations.unwrap_or(&config.token_location);
        let found = match find_token(parts, config, locations, options.refresh) {
            Ok(found) => found,
            Err((JwtError::NoAuthorization(_), _)) if options.optional => return Ok(None),
            Err((error, _)) => return Err(error),
        };
        let Some(found) = found else { return Ok(None) };
        let request = DecodeRequest {
            csrf: found.csrf.as_deref(),
            allow_expired: false,
        };
        // A remote JWKS (feature `remote-jwks`) learns an unknown `kid` here, throttled.
        #[cfg(feature = "remote-jwks")]
        if self.inner.hooks.decode_key.is_none() {
            self.inner.keys.ensure_remote_key(&found.token).await;
        }
        let token = self.decode(&found.token, request)?;
        self.check_token(token, options).await.map(|token| {
            Some(Verified {
                token,
                location: found.location,
            })
        })
    }

    /// Steps 6 to 9: type, freshness, blocklist, claims verification.
    async fn check_token(
        &self,
        token: DecodedToken,
        options: VerifyOptions<'_>,
    ) -> Result<DecodedToken, JwtError> {
        let is_refresh = token.token_type() == "refresh";
        if !options.skip_type_check {
            if options.refresh && !is_refresh {
                return Err(JwtError::WrongType(
                    "Only refresh tokens are allowed".into(),
                ));
            }
            if !options.refresh && is_refresh {
                return Err(JwtError::WrongType(
                    "Only non-refresh tokens are allowed".into(),
                ));
            }
        }
        if options.fresh
            && !crate::claims::Fresh::from_claim(token.claim("fresh")).is_fresh_at(now())
        {
            return Err(JwtError::NeedsFresh(Box::new(token)));
        }
        if !options.skip_revocation_check {
            self.check_revocation(&token, is_refresh).await?;
        }
        if let Some(verify) = &self.inner.hooks.verification
            && !verify(&token)
        {
            return Err(JwtError::ClaimsVerification(Box::new(token)));
        }
        Ok(token)
    }

    async fn check_revocation(
        &self,
        token: &DecodedToken,
        is_refresh: bool,
    ) -> Result<(), JwtError> {
        let Some(store) = &self.inner.revocation else {
            return Ok(());
        };
        match store.is_revoked(token).await {
            Ok(false) => Ok(()),
            Ok(true) => Err(JwtError::Revoked(Box::new(token.clone()))),
            Err(e) if self.inner.access_fails_open && !is_refresh => {
                tracing::warn!(error = %e, "revocation store unavailable; access token let through (fail open)");
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }
}
