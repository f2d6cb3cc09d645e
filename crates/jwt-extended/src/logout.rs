//! Logout in one call: revoke what the request carries, after checking the CSRF value of each
//! token it revokes, and clear the cookies. Flask-JWT-Extended users write this by hand (#53,
//! #417, #453), and revoking only the access token leaves the refresh cookie able to mint new
//! ones.

use http::request::Parts;
use serde_json::Value;

use crate::{
    claims::{DecodedToken, FAMILY_CLAIM},
    config::TokenLocation,
    cookies::AuthCookies,
    csrf,
    decode::DecodeRequest,
    locations::{cookie, find_token},
    manager::JwtManager,
    rejection::JwtError,
};

/// A token the request carries, with the CSRF proof it came with.
struct Carried {
    token: DecodedToken,
    expired: bool,
    /// The CSRF value sent for it: `None` when none is needed (not a cookie, or not a CSRF
    /// method), `Some(None)` when one is needed but none was sent.
    csrf: Option<Option<String>>,
}

impl Carried {
    /// Whether the request proves it may act for this token: no CSRF value is needed, or the
    /// one sent matches its `csrf` claim.
    fn proven(&self) -> bool {
        match &self.csrf {
            None => true,
            Some(sent) => {
                let claim = self.token.claim("csrf").and_then(Value::as_str);
                matches!((claim, sent), (Some(claim), Some(sent)) if csrf::matches(claim, sent))
            }
        }
    }

    fn family(&self) -> Option<&str> {
        self.token.claim(FAMILY_CLAIM).and_then(Value::as_str)
    }
}

impl JwtManager {
    /// The raw access (or refresh) token of the request's cookie, by the library's cookie rules
    /// (first cookie wins, quotes removed, empty means missing). Nothing is verified.
    pub fn cookie_token(&self, parts: &Parts, refresh: bool) -> Option<String> {
        let config = self.config();
        let name = if refresh {
            &config.refresh_cookie_name
        } else {
            &config.access_cookie_name
        };
        cookie(&parts.headers, name).filter(|t| !t.is_empty())
    }

    /// Logs out in one call: revokes the access and the refresh token the request carries (from
    /// the configured locations), ends their login families when a session store is configured,
    /// and returns the cookies that clear all four.
    ///
    /// Each token it revokes must come with its proof, as on any other route: a cookie token on
    /// a CSRF method needs the CSRF header (or form field) holding its own `csrf` claim. A
    /// token whose login family was proven by the other token needs none (the SPA sends the
    /// access token's CSRF value; the refresh cookie of the same login goes with its family).
    /// When a live token of the request is not proven, nothing is revoked and nothing cleared:
    /// 401 `Missing CSRF token` or `CSRF double submit tokens do not match`, so that a forged
    /// cross-site request cannot end a login. Expired, revoked and invalid tokens need nothing
    /// (a dead session can always clear its cookies); an expired token whose CSRF value is
    /// proven still ends its family.
    ///
    /// # Errors
    /// [`JwtError::Csrf`] as above; [`JwtError::StoreUnavailable`] when the store fails: the
    /// tokens would stay valid, so the logout must not look successful.
    pub async fn logout(&self, parts: &Parts) -> Result<AuthCookies, JwtError> {
        let mut carried = Vec::with_capacity(2);
        for refresh in [false, true] {
            if let Some(token) = self.carried(parts, refresh) {
                carried.push(token);
            }
        }
        let proven_families: Vec<&str> = carried
            .iter()
            .filter(|c| c.proven())
            .filter_map(Carried::family)
            .collect();
        for unproven in carried.iter().filter(|c| !c.proven() && !c.expired) {
            let covered = unproven
                .family()
                .is_some_and(|f| proven_families.contains(&f));
            if !covered && !self.is_revoked(&unproven.token).await? {
                return Err(JwtError::Csrf(match unproven.csrf {
                    Some(None) => "Missing CSRF token".into(),
                    _ => "CSRF double submit tokens do not match".into(),
                }));
            }
        }
        let store = self.inner.sessions.as_ref();
        for token in &carried {
            let covered = token.family().is_some_and(|f| proven_families.contains(&f));
            if !token.proven() && !covered {
                continue;
            }
            if !token.expired && self.inner.revocation.is_some() && token.token.jti().is_some() {
                self.revoke(&token.token).await?;
            }
            if let (Some(store), Some(family)) = (store, token.family()) {
                store.revoke_family(family).await?;
            }
        }
        Ok(self.unset_jwt_cookies())
    }

    /// The access (or refresh) token the request carries, when it verifies (expired or not).
    fn carried(&self, parts: &Parts, refresh: bool) -> Option<Carried> {
        let config = self.config();
        // A refresh token has its own names only in a cookie and in a JSON body.
        let locations: Vec<TokenLocation> = config
            .token_location
            .iter()
            .copied()
            .filter(|l| !refresh || matches!(l, TokenLocation::Cookies | TokenLocation::Json))
            .collect();
        let (raw, csrf) = match find_token(parts, config, &locations, refresh) {
            Ok(Some(found)) => {
                let needs_csrf = found.location == TokenLocation::Cookies && found.csrf.is_some();
                (found.token, needs_csrf.then_some(found.csrf))
            }
            // A cookie token on a CSRF method without any CSRF value.
            Err((JwtError::Csrf(_), _)) => (self.cookie_token(parts, refresh)?, Some(None)),
            _ => return None,
        };
        let request = DecodeRequest {
            csrf: None,
            allow_expired: false,
        };
        let (token, expired) = match self.decode(&raw, request) {
            Ok(token) => (token, false),
            Err(JwtError::Expired(token)) => (*token, true),
            Err(_) => return None,
        };
        (refresh == (token.token_type() == "refresh")).then_some(Carried {
            token,
            expired,
            csrf,
        })
    }
}
