//! Refresh-token rotation with reuse detection (RFC 9700 §4.14.2), and the sessions it keeps.
//!
//! Every login starts a *family*: its id goes into the `fam` claim of each access and refresh
//! token of that login. A refresh retires the presented refresh token and issues a successor.
//! Presenting a retired refresh token again means it was copied: the whole family is revoked,
//! so both the thief and the user must log in again, and a security event is logged. A short
//! grace window ([`JwtManagerBuilder::refresh_grace`](crate::JwtManagerBuilder::refresh_grace))
//! lets parallel refreshes from one SPA (two tabs, a retried request) receive the same
//! successor instead of killing the session.
//!
//! Flask-JWT-Extended leaves all of this to each app; here a
//! [`SessionStore`](crate::SessionStore) keeps the families (in memory, SQL or Redis) and
//! [`JwtManager::login`] / [`JwtManager::rotate`] do the rest, each with one store round trip.

use std::{fmt, sync::Arc};

use axum::response::{IntoResponse, IntoResponseParts, Response, ResponseParts};
use futures_util::{StreamExt as _, stream};
use serde::Serialize;
use serde_json::Value;

use crate::{
    claims::{Claims, DecodedToken, FAMILY_CLAIM, JsonObject, carried_claims},
    clock::now_secs,
    cookies::AuthCookies,
    extract::RefreshToken,
    manager::JwtManager,
    rejection::JwtError,
    stores::{RefreshId, RotateOutcome, SessionInfo, erased::DynSessionStore},
    tokens::MintedToken,
};

/// The tokens of a login or of a refresh. Returned from a handler (alone or in a tuple) it sets
/// their four cookies; [`cookies`](Self::cookies) gives them as [`AuthCookies`].
#[derive(Clone)]
pub struct IssuedTokens {
    /// The new access token.
    pub access: MintedToken,
    /// The new refresh token (or the presented one, when it has no family to rotate in).
    pub refresh: MintedToken,
    /// The login family both belong to (`None` for a token minted outside a login).
    pub family: Option<String>,
    jwt: JwtManager,
}

impl fmt::Debug for IssuedTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedTokens")
            .field("family", &self.family)
            .finish_non_exhaustive()
    }
}

impl IssuedTokens {
    /// The access, access-CSRF, refresh and refresh-CSRF cookies, made without decoding the
    /// tokens again.
    pub fn cookies(&self) -> AuthCookies {
        self.jwt
            .cookies_for(&self.access)
            .and(self.jwt.cookies_for(&self.refresh))
    }
}

impl IntoResponseParts for IssuedTokens {
    type Error = std::convert::Infallible;

    fn into_response_parts(self, res: ResponseParts) -> Result<ResponseParts, Self::Error> {
        self.cookies().into_response_parts(res)
    }
}

impl IntoResponse for IssuedTokens {
    fn into_response(self) -> Response {
        self.cookies().into_response()
    }
}

/// How many families one "log out everywhere" revokes at once: enough to share a group commit
/// or a pipeline, fewer than a pool's connections, so other requests still get one.
const CONCURRENT_REVOCATIONS: usize = 8;

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
    /// family id in `fam`, recorded in the session store (one round trip).
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
        let identity =
            serde_json::to_value(identity).map_err(|e| JwtError::Internal(e.to_string()))?;
        let user_agent = user_agent.map(|ua| ua.chars().take(256).collect());
        self.start_family(&identity, &claims, None, user_agent)
            .await
    }

    /// Records a new family whose login happened at `created_at` (now, when `None`) and returns
    /// its first tokens.
    async fn start_family(
        &self,
        identity: &Value,
        claims: &JsonObject,
        created_at: Option<i64>,
        user_agent: Option<String>,
    ) -> Result<IssuedTokens, JwtError> {
        let store = self.session_store()?;
        let family = uuid::Uuid::new_v4().to_string();
        let refresh_id = RefreshId {
            jti: uuid::Uuid::new_v4().to_string(),
            exp: self.refresh_exp(),
        };
        let tokens = self.family_tokens(identity, &family, claims, true, &refresh_id)?;
        let now = now_secs();
        let session = SessionInfo {
            id: family,
            user: identity_string(identity),
            created_at: created_at.unwrap_or(now),
            last_used_at: now,
            user_agent,
            expires_at: refresh_id.exp,
        };
        store.create(&session, &refresh_id).await?;
        Ok(tokens)
    }

    /// Rotates a verified refresh token: a new access token and a successor refresh token of
    /// the same family, in one store round trip, signed once and turned into cookies without
    /// being decoded again. Their app claims are the user loader's
    /// ([`UserLoader::claims_for`](crate::UserLoader::claims_for)) for the token's user, else
    /// the presented token's own. The grace window is the manager's
    /// ([`JwtManagerBuilder::refresh_grace`](crate::JwtManagerBuilder::refresh_grace)).
    ///
    /// A token without a family (minted by [`create_refresh_token`](Self::create_refresh_token))
    /// is not rotated: it gets a new access token and itself back.
    ///
    /// # Errors
    /// [`JwtError::Revoked`] when the token was already rotated (outside the grace window: the
    /// family is now revoked) or its family is revoked; [`JwtError::StoreUnavailable`] when the
    /// store fails.
    pub async fn rotate(&self, presented: &RefreshToken) -> Result<IssuedTokens, JwtError> {
        let token = presented.token();
        let identity_claim = &self.config().identity_claim;
        let identity = token.claim(identity_claim).cloned().unwrap_or_default();
        let claims = presented
            .loaded_user()
            .and_then(|user| self.inner.users.as_ref()?.claims_for(user))
            .unwrap_or_else(|| carried_claims(&token.payload, identity_claim));
        let Some(family) = token.claim(FAMILY_CLAIM).and_then(Value::as_str) else {
            let access = self
                .access_token(&identity)
                .additional_claims(claims)
                .mint()?;
            let refresh = MintedToken::from_verified(presented.raw().to_owned(), &token.payload);
            return Ok(IssuedTokens {
                access,
                refresh,
                family: None,
                jwt: self.clone(),
            });
        };
        let store = self.session_store()?;
        let jti = token
            .jti()
            .ok_or_else(|| JwtError::invalid("Missing claim: jti"))?;
        let successor = RefreshId {
            jti: uuid::Uuid::new_v4().to_string(),
            exp: self.refresh_exp(),
        };
        let grace = self.inner.refresh_grace;
        let successor = match store.rotate(family, jti, &successor, grace).await? {
            RotateOutcome::Rotated => successor,
            RotateOutcome::Grace(same) => same,
            RotateOutcome::Reused => {
                tracing::warn!(
                    security_event = "refresh_token_reuse",
                    family = %family,
                    user = %identity_string(&identity),
                    "a retired refresh token was presented again; the login family is revoked"
                );
                return Err(JwtError::Revoked(Box::new(token.clone())));
            }
            RotateOutcome::Revoked => return Err(JwtError::Revoked(Box::new(token.clone()))),
        };
        self.family_tokens(&identity, family, &claims, false, &successor)
    }

    /// Renews the login `current` belongs to once its user has proved who they are again (a
    /// password change): its family is revoked, so every token issued to it so far dies,
    /// copies included, and it goes on under a new family with a fresh access token, keeping
    /// its login time and browser in [`sessions`](Self::sessions) (under the new family's id).
    /// With [`end_sessions_other_than`](Self::end_sessions_other_than) first, this is "every
    /// other login ended, this one kept". A token from before login families (no `fam`) has no family to
    /// revoke: it starts one, as [`login`](Self::login) does with `user_agent`.
    ///
    /// ```no_run
    /// # use jwt_extended::{IssuedTokens, Jwt, JsonObject, JwtError, JwtManager};
    /// async fn after_password_change(
    ///     jwt: JwtManager,
    ///     Jwt(current): Jwt,
    /// ) -> Result<IssuedTokens, JwtError> {
    ///     jwt.end_sessions_other_than(&current).await?;
    ///     jwt.renew_session(&current, JsonObject::new(), None).await
    /// }
    /// ```
    ///
    /// # Errors
    /// [`JwtError::Revoked`] when the login has ended meanwhile; [`JwtError::StoreUnavailable`]
    /// when the store fails (the login may have ended); [`JwtError::Internal`] without a
    /// session store or when signing fails.
    pub async fn renew_session(
        &self,
        current: &Claims,
        claims: JsonObject,
        user_agent: Option<String>,
    ) -> Result<IssuedTokens, JwtError> {
        let Some(family) = current.extra.claim(FAMILY_CLAIM).and_then(Value::as_str) else {
            return self.login(&current.identity, claims, user_agent).await;
        };
        let store = self.session_store()?;
        let user = identity_string(&current.identity);
        // Ended first, in one step: a login ended meanwhile (another tab's "log out that
        // device") is not renewed, and a store failing before the new family leaves no extra
        // login behind.
        let Some(before) = store.end(&user, family).await? else {
            let token = DecodedToken {
                header: current.header.clone(),
                payload: current.extra.clone(),
            };
            return Err(JwtError::Revoked(Box::new(token)));
        };
        self.start_family(
            &current.identity,
            &claims,
            Some(before.created_at),
            before.user_agent,
        )
        .await
    }

    /// Revokes one login family of `user` ("log out that device"): `Ok(true)` when it ended a
    /// live login of theirs, `Ok(false)` for another user's id, an unknown one, or a login
    /// already ended. With this crate's stores it is one atomic store step
    /// ([`SessionStore::end`](crate::SessionStore::end)), however many logins the user has, and
    /// of two calls at once one gets `true` (a store keeping the trait's default may answer
    /// `true` to both).
    ///
    /// # Errors
    /// [`JwtError::StoreUnavailable`] when the store fails.
    pub async fn end_session(&self, user: &str, family: &str) -> Result<bool, JwtError> {
        Ok(self.session_store()?.end(user, family).await?.is_some())
    }

    /// Revokes every login family of `user` ("log out everywhere").
    ///
    /// # Errors
    /// [`JwtError::StoreUnavailable`] when the store fails.
    pub async fn end_all_sessions(&self, user: &str) -> Result<usize, JwtError> {
        self.end_sessions_but(user, None).await
    }

    /// Revokes every login family of `user` but `keep` ("log out everywhere else", from the
    /// login whose family is `keep`): one call, however many logins the user has.
    ///
    /// ```no_run
    /// # async fn demo(jwt: jwt_extended::JwtManager) -> Result<(), jwt_extended::JwtError> {
    /// let ended = jwt.end_other_sessions("42", "family-of-this-login").await?;
    /// # let _ = ended; Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`JwtError::StoreUnavailable`] when the store fails.
    pub async fn end_other_sessions(&self, user: &str, keep: &str) -> Result<usize, JwtError> {
        self.end_sessions_but(user, Some(keep)).await
    }

    /// [`end_other_sessions`](Self::end_other_sessions) from the login `current` belongs to:
    /// every login family of its user but that one ends. A token from before login families
    /// (no `fam`) belongs to none, so every family ends.
    ///
    /// ```no_run
    /// # async fn demo(jwt: jwt_extended::JwtManager, Jwt(current): jwt_extended::Jwt)
    /// # -> Result<(), jwt_extended::JwtError> {
    /// let ended = jwt.end_sessions_other_than(&current).await?;
    /// # let _ = ended; Ok(()) }
    /// # use jwt_extended::Jwt;
    /// ```
    ///
    /// # Errors
    /// [`JwtError::StoreUnavailable`] when the store fails.
    pub async fn end_sessions_other_than(&self, current: &Claims) -> Result<usize, JwtError> {
        let this = current.extra.claim(FAMILY_CLAIM).and_then(Value::as_str);
        self.end_sessions_but(&identity_string(&current.identity), this)
            .await
    }

    /// Revokes the families [`CONCURRENT_REVOCATIONS`] at a time: one after another, each
    /// waited for its own commit (bench `sessions`: 300 logins on a SQLite file), where
    /// concurrent revocations share a group commit, a pipeline or the pool's connections.
    /// Every revocation runs to its end even when one fails; the first error is returned.
    async fn end_sessions_but(&self, user: &str, keep: Option<&str>) -> Result<usize, JwtError> {
        let store = self.session_store()?;
        let mut ended = store.list(user).await?;
        ended.retain(|session| keep != Some(session.id.as_str()));
        // Made up front (they start when polled): a stream mapping with a closure here made
        // the handler's future not `Send` (a higher-ranked lifetime in the closure).
        let revocations: Vec<_> = ended.iter().map(|s| store.revoke_family(&s.id)).collect();
        let outcomes: Vec<_> = stream::iter(revocations)
            .buffer_unordered(CONCURRENT_REVOCATIONS)
            .collect()
            .await;
        outcomes.into_iter().collect::<Result<(), _>>()?;
        Ok(ended.len())
    }

    /// The user's live logins, oldest first.
    ///
    /// # Errors
    /// [`JwtError::StoreUnavailable`] when the store fails.
    pub async fn sessions(&self, user: &str) -> Result<Vec<SessionInfo>, JwtError> {
        Ok(self.session_store()?.list(user).await?)
    }

    fn refresh_exp(&self) -> Option<i64> {
        self.config()
            .refresh_token_expires()
            .map(|d| now_secs().saturating_add(i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 2)))
    }

    /// An access and a refresh token of `family`; the refresh token takes `id`'s `jti` and
    /// `exp` (so a grace-window repeat is the same token id).
    fn family_tokens(
        &self,
        identity: &Value,
        family: &str,
        claims: &JsonObject,
        fresh: bool,
        id: &RefreshId,
    ) -> Result<IssuedTokens, JwtError> {
        let access = self
            .access_token(identity)
            .fresh(fresh)
            .additional_claims(claims.clone())
            .claim(FAMILY_CLAIM, family)
            .mint()?;
        let mut refresh = self
            .refresh_token(identity)
            .additional_claims(claims.clone())
            .claim(FAMILY_CLAIM, family)
            .claim("jti", id.jti.as_str());
        if let Some(exp) = id.exp {
            refresh = refresh.claim("exp", exp);
        }
        Ok(IssuedTokens {
            access,
            refresh: refresh.mint()?,
            family: Some(family.to_owned()),
            jwt: self.clone(),
        })
    }
}
