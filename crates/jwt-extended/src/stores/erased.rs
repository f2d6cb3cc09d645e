//! Object-safe views of the store traits, so that the manager can hold any store as
//! `Arc<dyn ...>` while stores themselves are written with `async fn`.

use std::{future::Future, pin::Pin, time::Duration};

use super::traits::{
    RefreshId, RevocationStore, RotateOutcome, SessionInfo, SessionStore, StoreError,
};
use crate::claims::DecodedToken;

/// A boxed, sendable future.
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// [`RevocationStore`], object safe.
pub(crate) trait DynRevocationStore: Send + Sync {
    fn is_revoked<'a>(&'a self, token: &'a DecodedToken)
    -> BoxFuture<'a, Result<bool, StoreError>>;
    fn revoke<'a>(
        &'a self,
        jti: &'a str,
        expires_at: Option<i64>,
    ) -> BoxFuture<'a, Result<(), StoreError>>;
}

impl<T: RevocationStore> DynRevocationStore for T {
    fn is_revoked<'a>(
        &'a self,
        token: &'a DecodedToken,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(RevocationStore::is_revoked(self, token))
    }

    fn revoke<'a>(
        &'a self,
        jti: &'a str,
        expires_at: Option<i64>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(RevocationStore::revoke(self, jti, expires_at))
    }
}

/// [`SessionStore`], object safe.
pub(crate) trait DynSessionStore: Send + Sync {
    fn create<'a>(
        &'a self,
        session: &'a SessionInfo,
        refresh: &'a RefreshId,
    ) -> BoxFuture<'a, Result<(), StoreError>>;
    fn rotate<'a>(
        &'a self,
        family: &'a str,
        presented: &'a str,
        successor: &'a RefreshId,
        grace: Duration,
    ) -> BoxFuture<'a, Result<RotateOutcome, StoreError>>;
    fn revoke_family<'a>(&'a self, family: &'a str) -> BoxFuture<'a, Result<(), StoreError>>;
    fn list<'a>(&'a self, user: &'a str) -> BoxFuture<'a, Result<Vec<SessionInfo>, StoreError>>;
    fn end<'a>(
        &'a self,
        user: &'a str,
        family: &'a str,
    ) -> BoxFuture<'a, Result<Option<SessionInfo>, StoreError>>;
}

impl<T: SessionStore> DynSessionStore for T {
    fn create<'a>(
        &'a self,
        session: &'a SessionInfo,
        refresh: &'a RefreshId,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(SessionStore::create(self, session, refresh))
    }

    fn rotate<'a>(
        &'a self,
        family: &'a str,
        presented: &'a str,
        successor: &'a RefreshId,
        grace: Duration,
    ) -> BoxFuture<'a, Result<RotateOutcome, StoreError>> {
        Box::pin(SessionStore::rotate(
            self, family, presented, successor, grace,
        ))
    }

    fn revoke_family<'a>(&'a self, family: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(SessionStore::revoke_family(self, family))
    }

    fn list<'a>(&'a self, user: &'a str) -> BoxFuture<'a, Result<Vec<SessionInfo>, StoreError>> {
        Box::pin(SessionStore::list(self, user))
    }

    fn end<'a>(
        &'a self,
        user: &'a str,
        family: &'a str,
    ) -> BoxFuture<'a, Result<Option<SessionInfo>, StoreError>> {
        Box::pin(SessionStore::end(self, user, family))
    }
}
