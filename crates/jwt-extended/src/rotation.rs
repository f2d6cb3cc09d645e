//! Refresh-token rotation with reuse detection (RFC 9700 §4.14.2), and the sessions it keeps.
//!
//! Every login starts a *family*: its id goes into the `fam` claim of each access and refresh
//! token of that login. A refresh retires the presented refresh token and issues a successor.
//! Presenting a retired refresh token again means it was copied: the whole family is revoked,
//! so both the thief and the user must log in again, and a security event is logged. A short
//! grace window lets parallel refreshes from one SPA (two tabs, a retried request) receive the
//! same successor instead of killing the session.
//!
//! Flask-JWT-Extended leaves all of this to each app; here a [`SessionStore`] keeps the
//! families (in memory, SQL or Redis) and [`JwtManager::login`] / [`JwtManager::rotate`] do the
//! rest.

use std::{fmt, sync::Arc, time::Duration};

use serde::Serialize;
use serde_json::Value;

use crate::{
    claims::{DecodedToken, FAMILY_CLAIM, JsonObject, carried_claims},
    clock::now_secs,
    manager::JwtManager,
    rejection::JwtError,
    stores::{RefreshId, RotateOutcome, SessionInfo, erased::DynSessionStore},
};

/// The tokens of a login or of a refresh.
#[derive(Clone)]
pub struct IssuedTokens {
    /// The new access token.
    pub access_token: String,
    /// The new refresh token.
    pub refresh_token: String,
    /// The family both belong to.
    pub family: String,
}

impl fmt::Debug for IssuedTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedTokens")
            .field("family", &self.family)
            .finish_non_exhaustive()
    }
}

fn identity_string(identity: &Value) -> String {
    identity
        .as_str()
        .map_or_else(|| identity.to_string(), str::to_owned)
}

impl JwtManager {
    fn session_store(&self) -> Result<&Arc<dyn DynSessionStore>, JwtError> {
        self.inner
            .sessions
            .as_ref()
            .ok_or_else(|| JwtError::Internal("no session store configured".into()))
    }

    /// Starts a login family: a fresh access token and a refresh token, both carrying the
    /// family id in `fam`, recorded in the session store.
    ///
    /// `claims` are added to both tokens (e.g. the original's `department`).
    ///
    /// # Errors
    /// [`JwtError::Internal`] without a session store or when signing fails;
    /// [`JwtError::StoreUnavailable`] when the store fails.
    pub async fn login(
        &self,
        identity: impl Serialize,
        claims: JsonObject,
        user_agent: Option<String>,
    ) -> Result<IssuedTokens, JwtError> {
        let store = self.session_store()?;
        let identity =
            serde_json::to_value(identity).map_err(|e| JwtError::Internal(e.to_string()))?;
        let family = uuid::Uuid::new_v4().to_string();
        let (access_token, refresh_token, refresh) =
            self.family_tokens(&identity, &family, &claims, true, None)?;
        let now = now_secs();
        let session = SessionInfo {
            id: family.clone(),
            user: identity_string(&identity),
            created_at: now,
            last_used_at: now,
            user_agent: user_agent.map(|ua| ua.chars().take(256).collect()),
            expires_at: refresh.exp,
        };
        store.create(&session, &refresh).await?;
        Ok(IssuedTokens {
            access_token,
            refresh_token,
            family,
        })
    }

    /// Rotates a verified refresh token (from [`RefreshJwt`](crate::RefreshJwt)): a new access
    /// token and a successor refresh token of the same family.
    ///
    /// A token without a family (minted by [`create_refresh_token`](Self::create_refresh_token))
    /// is not rotated: it gets a new access token and itself back.
    ///
    /// # Errors
    /// [`JwtError::Revoked`] when the token was already rotated (outside the grace window: the
    /// family is now revoked) or its family is revoked; [`JwtError::StoreUnavailable`] when the
    /// store fails.
    pub async fn rotate(
        &self,
        refresh: &DecodedToken,
        raw_refresh: &str,
        grace: Duration,
    ) -> Result<IssuedTokens, JwtError> {
        let identity = refresh
            .claim(&self.config().identity_claim)
            .cloned()
            .unwrap_or_default();
        let claims = carried_claims(&refresh.payload, &self.config().identity_claim);
        let Some(family) = refresh
            .claim(FAMILY_CLAIM)
            .and_then(Value::as_str)
            .map(str::to_owned)
        else {
            let access_token = self
                .access_token(&identity)
                .additional_claims(claims)
                .encode()
                .map_err(internal)?;
            return Ok(IssuedTokens {
                access_token,
                refresh_token: raw_refresh.to_owned(),
                family: String::new(),
            });
        };
        let store = self.session_store()?;
        let presented = refresh
            .jti()
            .ok_or_else(|| JwtError::invalid("Missing claim: jti"))?;
        let successor = RefreshId {
            jti: uuid::Uuid::new_v4().to_string(),
            exp: self.refresh_exp(),
        };
        let successor = match store.rotate(&family, presented, &successor, grace).await? {
            RotateOutcome::Rotated => successor,
            RotateOutcome::Grace(same) => same,
            RotateOutcome::Reused => {
                tracing::warn!(
                    security_event = "refresh_token_reuse",
                    family = %family,
                    user = %identity_string(&identity),
                    "a retired refresh token was presented again; the login family is revoked"
                );
                return Err(JwtError::Revoked(Box::new(refresh.clone())));
            }
            RotateOutcome::Revoked => return Err(JwtError::Revoked(Box::new(refresh.clone()))),
        };
        let (access_token, refresh_token, _) =
            self.family_tokens(&identity, &family, &claims, false, Some(&successor))?;
        Ok(IssuedTokens {
            access_token,
            refresh_token,
            family,
        })
    }

    /// Revokes one login family of `user` (only theirs: another user's id is `Ok(false)`).
    ///
    /// # Errors
    /// [`JwtError::StoreUnavailable`] when the store fails.
    pub async fn end_session(&self, user: &str, family: &str) -> Result<bool, JwtError> {
        let store = self.session_store()?;
        let owned = store.list(user).await?.iter().any(|s| s.id == family);
        if owned {
            store.revoke_family(family).await?;
        }
        Ok(owned)
    }

    /// Revokes every login family of `user` ("log out everywhere").
    ///
    /// # Errors
    /// [`JwtError::StoreUnavailable`] when the store fails.
    pub async fn end_all_sessions(&self, user: &str) -> Result<usize, JwtError> {
        let store = self.session_store()?;
        let sessions = store.list(user).await?;
        for session in &sessions {
            store.revoke_family(&session.id).await?;
        }
        Ok(sessions.len())
    }

    /// The user's live logins.
    ///
    /// # Errors
    /// [`JwtError::StoreUnavailable`] when the store fails.
    pub async fn sessions(&self, user: &str) -> Result<Vec<SessionInfo>, JwtError> {
        Ok(self.session_store()?.list(user).await?)
    }

    fn refresh_exp(&self) -> Option<i64> {
        self.config()
            .refresh_token_expires()
            .map(|d| now_secs() + d.as_secs() as i64)
    }

    /// An access and a refresh token of `family`; the refresh token takes `successor`'s id and
    /// expiry when given (so a grace-window repeat is the same token id).
    fn family_tokens(
        &self,
        identity: &Value,
        family: &str,
        claims: &JsonObject,
        fresh: bool,
        successor: Option<&RefreshId>,
    ) -> Result<(String, String, RefreshId), JwtError> {
        let access = self
            .access_token(identity)
            .fresh(fresh)
            .additional_claims(claims.clone())
            .claim(FAMILY_CLAIM, family)
            .encode()
            .map_err(internal)?;
        let id = successor.cloned().unwrap_or_else(|| RefreshId {
            jti: uuid::Uuid::new_v4().to_string(),
            exp: self.refresh_exp(),
        });
        let mut refresh = self
            .refresh_token(identity)
            .additional_claims(claims.clone())
            .claim(FAMILY_CLAIM, family)
            .claim("jti", id.jti.as_str());
        if let Some(exp) = id.exp {
            refresh = refresh.claim("exp", exp);
        }
        let refresh = refresh.encode().map_err(internal)?;
        Ok((access, refresh, id))
    }
}

fn internal(e: impl fmt::Display) -> JwtError {
    JwtError::Internal(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{JwtConfig, JwtManager, MemorySessionStore};

    fn manager() -> JwtManager {
        JwtManager::builder(JwtConfig::default().with_secret_key("k"))
            .session_store(MemorySessionStore::new())
            .build()
            .expect("config")
    }

    async fn verify(jwt: &JwtManager, token: &str) -> Result<(), JwtError> {
        let decoded = jwt.decode_token(token, None, false)?;
        match jwt.is_revoked(&decoded).await {
            Ok(false) => Ok(()),
            _ => Err(JwtError::Revoked(Box::new(decoded))),
        }
    }

    #[tokio::test]
    async fn a_refresh_rotates_and_replaying_the_old_token_revokes_the_family() {
        let jwt = manager();
        let login = jwt
            .login("7", JsonObject::new(), Some("test".into()))
            .await
            .expect("login");
        let first = jwt
            .decode_token(&login.refresh_token, None, false)
            .expect("valid");
        let second = jwt
            .rotate(&first, &login.refresh_token, Duration::ZERO)
            .await
            .expect("rotated");
        assert_ne!(second.refresh_token, login.refresh_token);
        assert_eq!(second.family, login.family);
        assert!(verify(&jwt, &second.access_token).await.is_ok());

        let replay = jwt
            .rotate(&first, &login.refresh_token, Duration::ZERO)
            .await;
        assert!(
            matches!(replay, Err(JwtError::Revoked(_))),
            "reuse is refused"
        );
        assert!(
            matches!(
                verify(&jwt, &second.refresh_token).await,
                Err(JwtError::Revoked(_))
            ),
            "the family is revoked"
        );
        assert!(matches!(
            verify(&jwt, &login.access_token).await,
            Err(JwtError::Revoked(_))
        ));
        assert!(jwt.sessions("7").await.expect("list").is_empty());
    }

    #[tokio::test]
    async fn parallel_refreshes_within_the_grace_window_get_the_same_successor() {
        let jwt = manager();
        let login = jwt
            .login("7", JsonObject::new(), None)
            .await
            .expect("login");
        let first = jwt
            .decode_token(&login.refresh_token, None, false)
            .expect("valid");
        let a = jwt
            .rotate(&first, &login.refresh_token, Duration::from_secs(10))
            .await
            .expect("first");
        let b = jwt
            .rotate(&first, &login.refresh_token, Duration::from_secs(10))
            .await
            .expect("second in grace");
        let jti = |t: &str| jwt.get_jti(t).expect("valid");
        assert_eq!(jti(&a.refresh_token), jti(&b.refresh_token));
        assert!(
            verify(&jwt, &b.refresh_token).await.is_ok(),
            "the session lives on"
        );
    }

    #[tokio::test]
    async fn sessions_are_listed_and_ended_one_or_all() {
        let jwt = manager();
        let one = jwt
            .login("7", JsonObject::new(), Some("firefox".into()))
            .await
            .expect("login");
        let two = jwt
            .login("7", JsonObject::new(), Some("curl".into()))
            .await
            .expect("login");
        jwt.login("8", JsonObject::new(), None)
            .await
            .expect("other user");
        let listed = jwt.sessions("7").await.expect("list");
        assert_eq!(listed.len(), 2);
        assert!(
            !jwt.end_session("8", &one.family).await.expect("answer"),
            "not theirs"
        );
        assert!(jwt.end_session("7", &one.family).await.expect("answer"));
        assert!(verify(&jwt, &one.access_token).await.is_err());
        assert!(verify(&jwt, &two.access_token).await.is_ok());
        assert_eq!(jwt.end_all_sessions("7").await.expect("answer"), 1);
        assert!(verify(&jwt, &two.refresh_token).await.is_err());
        assert_eq!(jwt.sessions("8").await.expect("list").len(), 1);
    }
}
