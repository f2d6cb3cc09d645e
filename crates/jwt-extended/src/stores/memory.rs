//! Stores in this process's memory: right for one instance and for tests; lost on restart.
//! Several instances share a SQL or Redis store instead.

use std::{
    collections::HashMap,
    fmt,
    sync::{Arc, RwLock},
    time::Duration,
};

use serde_json::Value;

use super::traits::{
    RefreshId, RevocationStore, RotateOutcome, SessionInfo, SessionStore, StoreError, in_grace,
};
use crate::{
    claims::{DecodedToken, FAMILY_CLAIM},
    clock::now_secs,
};

/// Revoked `jti`s in this process's memory, forgotten once their token has expired.
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

    fn contains(&self, jti: &str) -> Result<bool, StoreError> {
        let now = now_secs();
        self.revoked
            .read()
            .map(|m| m.get(jti).is_some_and(|exp| exp.is_none_or(|e| e > now)))
            .map_err(|_| StoreError::new("revocation store lock poisoned"))
    }

    fn insert(&self, jti: &str, expires_at: Option<i64>) -> Result<(), StoreError> {
        let mut map = self
            .revoked
            .write()
            .map_err(|_| StoreError::new("revocation store lock poisoned"))?;
        let now = now_secs();
        map.retain(|_, exp| exp.is_none_or(|e| e > now));
        map.insert(jti.to_owned(), expires_at);
        Ok(())
    }
}

impl RevocationStore for MemoryRevocationStore {
    async fn is_revoked(&self, token: &DecodedToken) -> Result<bool, StoreError> {
        match token.jti() {
            Some(jti) => self.contains(jti),
            None => Ok(false),
        }
    }

    async fn revoke(&self, jti: &str, expires_at: Option<i64>) -> Result<(), StoreError> {
        self.insert(jti, expires_at)
    }
}

/// A family's state, as the in-memory store keeps it.
#[derive(Debug, Clone)]
struct Family {
    info: SessionInfo,
    current: RefreshId,
    retired: Option<(String, i64)>,
    revoked: bool,
}

impl Family {
    fn live(&self, now: i64) -> bool {
        !self.revoked && self.current.exp.is_none_or(|e| e > now)
    }
}

/// Sessions and revocations in this process's memory.
#[derive(Clone, Default)]
pub struct MemorySessionStore {
    families: Arc<RwLock<HashMap<String, Family>>>,
    revoked_jtis: MemoryRevocationStore,
}

impl fmt::Debug for MemorySessionStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let len = self.families.read().map(|m| m.len()).unwrap_or_default();
        f.debug_struct("MemorySessionStore")
            .field("families", &len)
            .finish()
    }
}

impl MemorySessionStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn with_families<T>(
        &self,
        f: impl FnOnce(&mut HashMap<String, Family>) -> T,
    ) -> Result<T, StoreError> {
        let mut map = self
            .families
            .write()
            .map_err(|_| StoreError::new("session store lock poisoned"))?;
        Ok(f(&mut map))
    }
}

/// The rotation rule of a family held in memory.
fn rotate_family(
    family: Option<&mut Family>,
    presented: &str,
    successor: &RefreshId,
    grace: Duration,
) -> RotateOutcome {
    let now = now_secs();
    let Some(family) = family.filter(|f| f.live(now)) else {
        return RotateOutcome::Revoked;
    };
    if family.current.jti == presented {
        family.retired = Some((presented.to_owned(), now));
        family.current = successor.clone();
        family.info.last_used_at = now;
        family.info.expires_at = successor.exp;
        return RotateOutcome::Rotated;
    }
    match &family.retired {
        Some((jti, at)) if jti == presented && in_grace(now, *at, grace) => {
            RotateOutcome::Grace(family.current.clone())
        }
        _ => {
            family.revoked = true;
            RotateOutcome::Reused
        }
    }
}

impl RevocationStore for MemorySessionStore {
    async fn is_revoked(&self, token: &DecodedToken) -> Result<bool, StoreError> {
        if let Some(fam) = token.claim(FAMILY_CLAIM).and_then(Value::as_str) {
            let revoked = self.with_families(|m| m.get(fam).is_none_or(|f| f.revoked))?;
            if revoked {
                return Ok(true);
            }
        }
        self.revoked_jtis.is_revoked(token).await
    }

    async fn revoke(&self, jti: &str, expires_at: Option<i64>) -> Result<(), StoreError> {
        self.revoked_jtis.revoke(jti, expires_at).await
    }
}

impl SessionStore for MemorySessionStore {
    async fn create(&self, session: &SessionInfo, refresh: &RefreshId) -> Result<(), StoreError> {
        let family = Family {
            info: session.clone(),
            current: refresh.clone(),
            retired: None,
            revoked: false,
        };
        self.with_families(|m| {
            let now = now_secs();
            m.retain(|_, f| f.current.exp.is_none_or(|e| e > now));
            m.insert(session.id.clone(), family);
        })
    }

    async fn rotate(
        &self,
        family: &str,
        presented: &str,
        successor: &RefreshId,
        grace: Duration,
    ) -> Result<RotateOutcome, StoreError> {
        self.with_families(|m| rotate_family(m.get_mut(family), presented, successor, grace))
    }

    async fn revoke_family(&self, family: &str) -> Result<(), StoreError> {
        self.with_families(|m| {
            if let Some(f) = m.get_mut(family) {
                f.revoked = true;
            }
        })
    }

    async fn end(&self, user: &str, family: &str) -> Result<Option<SessionInfo>, StoreError> {
        let now = now_secs();
        self.with_families(|m| {
            let f = m
                .get_mut(family)
                .filter(|f| f.info.user == user && f.live(now))?;
            f.revoked = true;
            Some(f.info.clone())
        })
    }

    async fn list(&self, user: &str) -> Result<Vec<SessionInfo>, StoreError> {
        let now = now_secs();
        self.with_families(|m| {
            let mut live: Vec<SessionInfo> = m
                .values()
                .filter(|f| f.info.user == user && f.live(now))
                .map(|f| f.info.clone())
                .collect();
            live.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
            live
        })
    }
}
