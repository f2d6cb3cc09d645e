//! The revoked ids a store keeps in memory, so that the check on every guarded request needs no
//! round trip: `RedisStore`'s (kept current by pub/sub), and `SqlStore`'s (its local cache on a
//! single instance, or kept current by PostgreSQL's LISTEN/NOTIFY).

use std::collections::HashMap;

use crate::clock::now_secs;

/// What a revocation names: one token, or a whole login family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Token,
    Family,
}

/// Revoked ids with the time (Unix seconds) until which each matters; `complete` while the
/// memory holds every revocation (loaded, and nothing missed since), so that a miss means "not
/// revoked" rather than "ask the store".
#[derive(Default)]
pub(super) struct RevokedIds {
    pub(super) complete: bool,
    jtis: HashMap<String, i64>,
    families: HashMap<String, i64>,
}

impl RevokedIds {
    fn map(&mut self, kind: Kind) -> &mut HashMap<String, i64> {
        match kind {
            Kind::Token => &mut self.jtis,
            Kind::Family => &mut self.families,
        }
    }

    /// Remembers a revocation; expired entries are dropped now and then as the map grows.
    pub(super) fn insert(&mut self, kind: Kind, id: &str, until: i64) {
        let map = self.map(kind);
        if map.len() > 1024 && map.len().is_power_of_two() {
            let now = now_secs();
            map.retain(|_, until| *until > now);
        }
        map.insert(id.to_owned(), until);
    }

    /// Whether `id` is known to be revoked (and its revocation still matters).
    pub(super) fn contains(&self, kind: Kind, id: &str) -> bool {
        let map = match kind {
            Kind::Token => &self.jtis,
            Kind::Family => &self.families,
        };
        map.get(id).is_some_and(|until| *until > now_secs())
    }

    /// Until when `id`'s revocation is remembered.
    #[cfg(all(test, feature = "postgres"))]
    pub(super) fn until(&self, kind: Kind, id: &str) -> Option<i64> {
        match kind {
            Kind::Token => self.jtis.get(id).copied(),
            Kind::Family => self.families.get(id).copied(),
        }
    }

    /// The answer for a token with this `jti` and `family`: `Some` when memory can give it (a
    /// hit, or a miss while complete), `None` when the store must be asked.
    pub(super) fn answer(&self, jti: Option<&str>, family: Option<&str>) -> Option<bool> {
        let hit = jti.is_some_and(|j| self.contains(Kind::Token, j))
            || family.is_some_and(|f| self.contains(Kind::Family, f));
        (hit || self.complete).then_some(hit)
    }

    /// Applies a notification `"<j|f> <until> <id>"`; anything else is ignored.
    #[cfg(any(feature = "redis", feature = "postgres"))]
    pub(super) fn apply(&mut self, message: &str) {
        let mut parts = message.splitn(3, ' ');
        let kind = match parts.next() {
            Some("j") => Kind::Token,
            Some("f") => Kind::Family,
            _ => return,
        };
        if let (Some(until), Some(id)) = (parts.next(), parts.next()) {
            self.insert(kind, id, until.parse().unwrap_or(i64::MAX));
        }
    }
}

#[cfg(all(test, any(feature = "redis", feature = "postgres")))]
mod tests {
    use super::*;

    #[test]
    fn a_miss_is_an_answer_only_while_complete() {
        let mut ids = RevokedIds::default();
        ids.apply(&format!("j {} gone", now_secs() + 60));
        ids.apply(&format!("f {} fam", now_secs() + 60));
        ids.apply(&format!("j {} old", now_secs() - 1));
        ids.apply("x 1 junk");
        assert_eq!(ids.answer(Some("gone"), None), Some(true));
        assert_eq!(ids.answer(Some("other"), Some("fam")), Some(true));
        assert_eq!(ids.answer(Some("old"), None), None, "expired: ask");
        assert_eq!(ids.answer(Some("other"), None), None);
        ids.complete = true;
        assert_eq!(ids.answer(Some("other"), None), Some(false));
    }
}
