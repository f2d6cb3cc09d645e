//! Logout in one call: revoke every valid token the request carries and clear the cookies.
//! Flask-JWT-Extended users write this by hand (#53, #417, #453): revoking only the access
//! token leaves the refresh cookie able to mint new ones.

use http::request::Parts;
use serde_json::Value;

use crate::{
    claims::FAMILY_CLAIM, cookies::AuthCookies, locations::cookie, manager::JwtManager,
    rejection::JwtError,
};

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

    /// Revokes the access and refresh tokens found in the request's cookies (each one that
    /// verifies; an expired one needs no revoking) and ends their login family when a session
    /// store is configured, then returns the cookies that clear all four.
    ///
    /// Call it from a route that already required a valid access token (and so checked CSRF).
    ///
    /// # Errors
    /// [`JwtError::StoreUnavailable`] when the store fails: the tokens would stay valid, so the
    /// logout must not look successful.
    pub async fn logout(&self, parts: &Parts) -> Result<AuthCookies, JwtError> {
        for refresh in [false, true] {
            let Some(raw) = self.cookie_token(parts, refresh) else {
                continue;
            };
            let Ok(token) = self.decode_token(&raw, None, false) else {
                continue;
            };
            if self.inner.revocation.is_some() && token.jti().is_some() {
                self.revoke(&token).await?;
            }
            if let (Some(store), Some(family)) = (
                self.inner.sessions.as_ref(),
                token.claim(FAMILY_CLAIM).and_then(Value::as_str),
            ) {
                store.revoke_family(family).await?;
            }
        }
        Ok(self.unset_jwt_cookies())
    }
}

#[cfg(test)]
mod tests {
    use http::Request;

    use super::*;
    use crate::{JsonObject, JwtConfig, MemorySessionStore, RevocationStore as _};

    #[tokio::test]
    async fn logout_revokes_both_cookies_and_ends_the_family() {
        let store = MemorySessionStore::new();
        let jwt = JwtManager::builder(JwtConfig::default().with_secret_key("k"))
            .session_store(store.clone())
            .build()
            .expect("config");
        let login = jwt
            .login("7", JsonObject::new(), None)
            .await
            .expect("login");
        let other = jwt
            .login("7", JsonObject::new(), None)
            .await
            .expect("second device");
        let cookie = format!(
            "access_token_cookie={}; refresh_token_cookie=\"{}\"",
            login.access_token, login.refresh_token
        );
        let (parts, ()) = Request::post("/logout")
            .header("cookie", cookie)
            .body(())
            .expect("request")
            .into_parts();
        let cleared = jwt.logout(&parts).await.expect("logout");
        assert_eq!(cleared.header_values().len(), 4);
        for token in [&login.access_token, &login.refresh_token] {
            let decoded = jwt
                .decode_token(token, None, false)
                .expect("valid signature");
            assert!(store.is_revoked(&decoded).await.expect("answer"));
        }
        let still = jwt
            .decode_token(&other.access_token, None, false)
            .expect("valid");
        assert!(
            !store.is_revoked(&still).await.expect("answer"),
            "the other device stays logged in"
        );
        assert_eq!(jwt.sessions("7").await.expect("list").len(), 1);
    }

    #[tokio::test]
    async fn logout_without_cookies_or_store_just_clears() {
        let jwt = JwtManager::new(JwtConfig::default().with_secret_key("k")).expect("config");
        let (parts, ()) = Request::post("/logout")
            .body(())
            .expect("request")
            .into_parts();
        assert_eq!(
            jwt.logout(&parts)
                .await
                .expect("logout")
                .header_values()
                .len(),
            4
        );
    }
}
