//! The contract of a store: [`RevocationStore`], [`SessionStore`], the types they exchange,
//! and how a store failure becomes a response.

use std::{future::Future, sync::Arc, time::Duration};

use serde::Serialize;

use crate::{claims::DecodedToken, rejection::JwtError};

/// A store failed to answer (connection lost, timeout, ...).
#[derive(Debug, thiserror::Error)]
#[error("revocation store error: {0}")]
pub struct StoreError(#[source] pub Box<dyn std::error::Error + Send + Sync>);

impl StoreError {
    /// Wraps any error of a store's backend.
    pub fn new(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self(error.into())
    }
}

impl From<StoreError> for JwtError {
    /// The one place a store failure becomes a response: 503 "Revocation store unavailable"
    /// (fail closed), with the cause logged and never sent.
    fn from(error: StoreError) -> Self {
        tracing::warn!(%error, "revocation or session store unavailable");
        Self::StoreUnavailable
    }
}

/// Where revoked tokens are kept (Flask's `token_in_blocklist_loader`, async). Asked for every
/// access **and** refresh token, after the signature, type and freshness checks (§4.6 of the
/// reference).
///
/// ```
/// use jwt_extended::{DecodedToken, RevocationStore, StoreError};
///
/// /// Revokes nothing: every token is good until it expires.
/// struct NeverRevoked;
///
/// impl RevocationStore for NeverRevoked {
///     async fn is_revoked(&self, _token: &DecodedToken) -> Result<bool, StoreError> {
///         Ok(false)
///     }
///     async fn revoke(&self, _jti: &str, _expires_at: Option<i64>) -> Result<(), StoreError> {
///         Ok(())
///     }
/// }
/// ```
pub trait RevocationStore: Send + Sync + 'static {
    /// Whether this token was revoked.
    fn is_revoked(
        &self,
        token: &DecodedToken,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Revokes the token `jti` until `expires_at` (seconds; `None`: the token never expires, so
    /// keep it forever).
    fn revoke(
        &self,
        jti: &str,
        expires_at: Option<i64>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

impl<T: RevocationStore> RevocationStore for Arc<T> {
    fn is_revoked(
        &self,
        token: &DecodedToken,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        (**self).is_revoked(token)
    }

    fn revoke(
        &self,
        jti: &str,
        expires_at: Option<i64>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).revoke(jti, expires_at)
    }
}

/// One login, as listed to its user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionInfo {
    /// The family id (the `fam` claim).
    pub id: String,
    /// Whose login it is: the identity claim as a string.
    pub user: String,
    /// When the login happened (seconds).
    pub created_at: i64,
    /// When a token of it was last refreshed (seconds).
    pub last_used_at: i64,
    /// The browser's `User-Agent` at login.
    pub user_agent: Option<String>,
    /// When the newest refresh token expires (seconds); `None`: never.
    pub expires_at: Option<i64>,
}

/// A refresh token's id and expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshId {
    /// Its `jti`.
    pub jti: String,
    /// Its `exp` (seconds).
    pub exp: Option<i64>,
}

/// What a store says of a presented refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RotateOutcome {
    /// It was the family's current token: the successor given is now current.
    Rotated,
    /// It was retired within the grace window: issue this same successor again.
    Grace(RefreshId),
    /// It was retired earlier: reuse. The store has revoked the family.
    Reused,
    /// The family is unknown, expired or revoked.
    Revoked,
}

/// Keeps login families for refresh rotation with reuse detection. Also a
/// [`RevocationStore`]: a token whose family is revoked is revoked.
///
/// Implementations make [`rotate`](Self::rotate) atomic and one round trip, so two instances
/// refreshing the same token at once cannot both win.
pub trait SessionStore: RevocationStore {
    /// Records a new login whose first refresh token is `refresh`.
    fn create(
        &self,
        session: &SessionInfo,
        refresh: &RefreshId,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Retires `presented` in favour of `successor` if it is the family's current token
    /// (see [`RotateOutcome`]). `grace` is how long a retired token still gets its successor.
    fn rotate(
        &self,
        family: &str,
        presented: &str,
        successor: &RefreshId,
        grace: Duration,
    ) -> impl Future<Output = Result<RotateOutcome, StoreError>> + Send;

    /// Revokes one family (a logout, or `DELETE /sessions/{id}`).
    fn revoke_family(&self, family: &str) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The user's live (unrevoked, unexpired) families, oldest first.
    fn list(&self, user: &str)
    -> impl Future<Output = Result<Vec<SessionInfo>, StoreError>> + Send;

    /// Ends `family` if it is a live login of `user`, and returns it as it was; `None` when it
    /// is unknown, another user's, expired or already ended. What "log out that device" and a
    /// renewed login rest on: its cost does not grow with the user's logins, and of two calls
    /// ending one login at once exactly one gets it.
    ///
    /// The default finds the login in [`list`](Self::list) and then revokes it: two steps, and
    /// as many rows read as the user has logins. This crate's stores override it with one atomic
    /// step; a store of your own should too.
    fn end(
        &self,
        user: &str,
        family: &str,
    ) -> impl Future<Output = Result<Option<SessionInfo>, StoreError>> + Send {
        async move {
            let found = self.list(user).await?.into_iter().find(|s| s.id == family);
            if found.is_some() {
                self.revoke_family(family).await?;
            }
            Ok(found)
        }
    }
}

/// Whether a token retired at `retired_at` (seconds) is still within `grace` at `now`. A zero
/// window admits nothing.
pub(crate) fn in_grace(now: i64, retired_at: i64, grace: Duration) -> bool {
    !grace.is_zero() && now - retired_at <= grace.as_secs() as i64
}
