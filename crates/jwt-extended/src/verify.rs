//! `verify_jwt_in_request`: the whole check of a request, in Flask-JWT-Extended's order
//! (§4.6): OPTIONS exempt, locate (with the CSRF presence check), decode, identity and CSRF
//! claims, type, freshness, blocklist, claims verification, user lookup.

use http::{Method, request::Parts};
use serde_json::Value;

use crate::{
    claims::{DecodedToken, Fresh},
    clock::now,
    config::TokenLocation,
    decode::DecodeRequest,
    loaded_user::LoadedUser,
    locations::find_token,
    manager::JwtManager,
    rejection::{JwtError, python_str},
};

/// The parameters of Flask's `verify_jwt_in_request` / `@jwt_required(...)`.
///
/// ```
/// use jwt_extended::VerifyOptions;
/// let refresh = VerifyOptions { refresh: true, ..VerifyOptions::default() };
/// assert!(!refresh.optional);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VerifyOptions<'a> {
    /// No token is fine (only a *missing* token; a bad one still fails).
    pub optional: bool,
    /// The token must be fresh.
    pub fresh: bool,
    /// A refresh token is required (and the refresh cookie, CSRF header and JSON key are read).
    pub refresh: bool,
    /// Accept any token type (Flask's `verify_type=False`).
    pub skip_type_check: bool,
    /// Do not ask the revocation store (Flask's `skip_revocation_check`).
    pub skip_revocation_check: bool,
    /// Do not run the manager's [`UserLoader`](crate::UserLoader) (a health check, a route
    /// that must answer while the user database is down).
    pub skip_user_lookup: bool,
    /// Look only here, in this order, instead of the config's locations.
    pub locations: Option<&'a [TokenLocation]>,
}

impl VerifyOptions<'static> {
    /// `@jwt_required()`: every check, an access token from the configured locations. The
    /// same as `VerifyOptions::default()`, usable in a `const`.
    pub const REQUIRED: Self = Self {
        optional: false,
        fresh: false,
        refresh: false,
        skip_type_check: false,
        skip_revocation_check: false,
        skip_user_lookup: false,
        locations: None,
    };
}

/// A request's verified token: where it was found, the token itself (raw and decoded), and the
/// user the manager's loader found for it.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The token, with Flask's defaults filled in.
    pub token: DecodedToken,
    /// Where it was found.
    pub location: TokenLocation,
    raw: String,
    user: Option<LoadedUser>,
}

impl Verified {
    /// The token as the request carried it.
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// The user the manager's [`UserLoader`](crate::UserLoader) loaded, when it is a `U`.
    pub fn user<U: 'static>(&self) -> Option<&U> {
        self.user.as_ref()?.get()
    }

    pub(crate) fn loaded_user(&self) -> Option<&LoadedUser> {
        self.user.as_ref()
    }

    pub(crate) fn into_parts(self) -> (String, DecodedToken, TokenLocation, Option<LoadedUser>) {
        (self.raw, self.token, self.location, self.user)
    }
}

impl JwtManager {
    /// Flask's `verify_jwt_in_request`: `Ok(None)` for OPTIONS requests and for an optional
    /// check without a token.
    ///
    /// # Errors
    /// The [`JwtError`] Flask-JWT-Extended would raise, at the step it would raise it. Returned
    /// from a handler, it renders through the manager's hook behind its
    /// [`error_layer`](Self::error_layer) (or call [`reject`](Self::reject)).
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
        // A remote JWKS learns an unknown `kid` here, throttled.
        #[cfg(feature = "remote-jwks")]
        if self.inner.hooks.decode_key.is_none() {
            self.inner.keys.ensure_remote_key(&found.token).await;
        }
        let token = self.decode(&found.token, request)?;
        let token = self.check_token(token, options).await?;
        let user = if options.skip_user_lookup {
            None
        } else {
            self.load_user(&token).await?
        };
        Ok(Some(Verified {
            token,
            location: found.location,
            raw: found.token,
            user,
        }))
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
        if options.fresh && !Fresh::from_claim(token.claim("fresh")).is_fresh_at(now()) {
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

    /// Step 10: the user lookup, when a loader is registered.
    pub(crate) async fn load_user(
        &self,
        token: &DecodedToken,
    ) -> Result<Option<LoadedUser>, JwtError> {
        let Some(loader) = &self.inner.users else {
            return Ok(None);
        };
        let identity = token
            .claim(&self.inner.config.identity_claim)
            .unwrap_or(&Value::Null);
        match loader.load(identity, token).await {
            Ok(Some(user)) => Ok(Some(user)),
            Ok(None) => Err(JwtError::UserLookup {
                identity: python_str(identity),
                token: Box::new(token.clone()),
            }),
            Err(detail) => {
                tracing::warn!(%detail, "user loader failed; token refused");
                Err(JwtError::UserLoaderUnavailable)
            }
        }
    }
}
