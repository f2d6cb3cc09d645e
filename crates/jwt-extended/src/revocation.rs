//! Revocation (Flask's `token_in_blocklist_loader`), as an async store: a database or Redis can
//! answer without blocking the runtime. [`MemoryRevocationStore`] serves a single process.

use std::{
    collections::HashMap,
    fmt,
    sync::{Arc, RwLock},
};

use futures_util::future::BoxFuture;

use crate::{claims::DecodedToken, decode::now};

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

/// Where revoked tokens are kept. Asked for every access **and** refresh token, after the
/// signature, type and freshness checks (§4.6 of the reference).
///
/// Object safe, so a manager holds any store as `Arc<dyn RevocationStore>`.
///
/// ```
/// use futures_util::future::BoxFuture;
/// use jwt_extended::{DecodedToken, RevocationStore, StoreError};
///
/// /// Revokes nothing: every token is good until it expires.
/// struct NeverRevoked;
///
/// impl RevocationStore for NeverRevoked {
///     fn is_revoked<'a>(&'a self, _token: &'a DecodedToken) -> BoxFuture<'a, Result<bool, StoreError>> {
///         Box::pin(async { Ok(false) })
///     }
///     fn revoke<'a>(&'a self, _jti: &'a str, _exp: Option<i64>) -> BoxFuture<'a, Result<(), StoreError>> {
///         Box::pin(async { Ok(()) })
///     }
/// }
/// ```
pub trait RevocationStore: Send + Sync + 'static {
    /// Whether this token was revoked.
    fn is_revoked<'a>(&'a self, token: &'a DecodedToken)
    -> BoxFuture<'a, Result<bool, StoreError>>;

    /// Revokes the token `jti` until `expires_at` (seconds; `None`: the token never expires, so
    /// keep it forever).
    fn revoke<'a>(
        &'a self,
        jti: &'a str,
        expires_at: Option<i64>,
    ) -> BoxFuture<'a, Result<(), StoreError>>;
}

impl<T: RevocationStore + ?Sized> RevocationStore for Arc<T> {
    fn is_revoked<'a>(
        &'a self,
        token: &'a DecodedToken,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        (**self).is_revoked(token)
    }

    fn revoke<'a>(
        &'a self,
        jti: &'a str,
        expires_at: Option<i64>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        (**self).revoke(jti, expires_at)
    }
}

/// Revoked `jti`s in this process's memory, forgotten once their token has expired.
///
/// Right for a single instance and for tests; lost on restart. Several instances need a shared
/// store (SQL or Redis).
#[derive(Clone, Default)]
pub struct MemoryRevocationStore {
    revoked: Arc<RwLock<HashMap<String, Option<i64>>>>,
}

impl fmt::Debug for MemoryRevocationStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let len = self.revoked.read().map(|m| m.len()).unwrap_or_default();
        f.debug_struct("MemoryRevocationStore")
            .field("revoked", &len)
            .finish()
    }
}

impl MemoryRevocationStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn contains(&self, jti: &str) -> bool {
        self.revoked
            .read()
            .map(|m| m.contains_key(jti))
            .unwrap_or(true)
    }

    fn insert(&self, jti: &str, expires_at: Option<i64>) -> Result<(), StoreError> {
        let mut map = self
            .revoked
            .write()
            .map_err(|_| StoreError::new("revocation store lock poisoned"))?;
        let now = now() as i64;
        map.retain(|_, exp| exp.is_none_or(|e| e > now));
        map.insert(jti.to_owned(), expires_at);
        Ok(())
    }
}

impl RevocationStore for MemoryRevocationStore {
    fn is_revoked<'a>(
        &'a self,
        token: &'a DecodedToken,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        let revoked = token.jti().is_some_and(|jti| self.contains(jti));
        Box::pin(async move { Ok(revoked) })
    }

    fn revoke<'a>(
        &'a self,
        jti: &'a str,
        expires_at: Option<i64>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        let result = self.insert(jti, expires_at);
        Box::pin(async move { result })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn token(jti: &str) -> DecodedToken {
        DecodedToken {
            header: Default::default(),
            payload: json!({"jti": jti}).as_object().cloned().unwrap_or_default(),
        }
    }

    #[tokio::test]
    async fn revoked_jtis_are_remembered_and_expired_ones_purged() {
        let store = MemoryRevocationStore::new();
        store
            .revoke("a", Some(now() as i64 + 60))
            .await
            .expect("revoke");
        store.revoke("old", Some(1)).await.expect("revoke");
        store.revoke("b", None).await.expect("revoke");
        assert!(store.is_revoked(&token("a")).await.expect("answer"));
        assert!(!store.is_revoked(&token("c")).await.expect("answer"));
        assert!(!store.contains("old"), "purged on the next insert");
        assert!(store.contains("b"));
    }
}
