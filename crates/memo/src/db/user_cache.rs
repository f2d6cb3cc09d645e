//! The users' cache behind [`Db::user_by_id`](super::Db::user_by_id), which
//! jwt-extended's user loader calls on every guarded request: a hit costs no
//! database round trip.
//!
//! Correctness rests on one rule: **every write that changes or deletes a
//! user row calls [`Db::user_changed`](super::Db::user_changed) once it has
//! committed.** That forgets the entry here and publishes the id (on Redis,
//! or on PostgreSQL) so that every instance forgets it too.
//!
//! - A load that raced with a change must not put the old row back: each
//!   load notes the cache's generation before it reads, and its row is kept
//!   only if no change came in between.
//! - A SQLite file is served by one process, so its cache is always on.
//!   PostgreSQL may be shared by several instances: there the cache is used
//!   only while the subscription that carries other instances' changes
//!   (Redis pub/sub, or PostgreSQL's `LISTEN`/`NOTIFY` without Redis) is
//!   live, and emptied whenever it comes back.
//! - Entries also expire after [`TTL`], which bounds how long a change made
//!   outside the app (another process on the file, a message lost with a
//!   dropped subscription) can go unseen.

use std::{
    collections::HashMap,
    sync::{
        RwLock,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use super::User;

/// The most users kept; beyond it, an arbitrary entry makes room.
const CAPACITY: usize = 10_000;

/// How long an entry is trusted at most.
pub(super) const TTL: Duration = Duration::from_secs(60);

/// The cache.
#[derive(Debug)]
pub(super) struct UserCache {
    entries: RwLock<HashMap<i64, (User, Instant)>>,
    /// Bumped by every change; see the module's documentation.
    generation: AtomicU64,
    /// Whether entries may be used (see the module's documentation).
    live: AtomicBool,
}

impl UserCache {
    /// A cache that is used at once (`live`) or only once [`Self::set_live`].
    pub(super) fn new(live: bool) -> Self {
        Self {
            entries: RwLock::new(HashMap::new()),
            generation: AtomicU64::new(0),
            live: AtomicBool::new(live),
        }
    }

    /// The user, when cached, fresh and the cache is live.
    pub(super) fn get(&self, id: i64) -> Option<User> {
        if !self.live.load(Ordering::Acquire) {
            return None;
        }
        let entries = self.entries.read().ok()?;
        let (user, loaded) = entries.get(&id)?;
        (loaded.elapsed() < TTL).then(|| user.clone())
    }

    /// The generation to pass to [`Self::insert`], read before the load.
    pub(super) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Keeps a row loaded at `generation`, unless a change came since.
    pub(super) fn insert(&self, generation: u64, user: &User) {
        if !self.live.load(Ordering::Acquire) {
            return;
        }
        let Ok(mut entries) = self.entries.write() else {
            return;
        };
        // Checked under the lock that `forget` takes too, so a change cannot
        // slip between the check and the insert.
        if self.generation() != generation {
            return;
        }
        if entries.len() >= CAPACITY
            && !entries.contains_key(&user.id)
            && let Some(&evicted) = entries.keys().next()
        {
            entries.remove(&evicted);
        }
        entries.insert(user.id, (user.clone(), Instant::now()));
    }

    /// Forgets a user that changed (here or on another instance).
    pub(super) fn forget(&self, id: i64) {
        if let Ok(mut entries) = self.entries.write() {
            self.generation.fetch_add(1, Ordering::AcqRel);
            entries.remove(&id);
        }
    }

    /// Turns the cache on (emptied: changes may have been missed while it
    /// was off) or off.
    pub(super) fn set_live(&self, live: bool) {
        if let Ok(mut entries) = self.entries.write() {
            self.generation.fetch_add(1, Ordering::AcqRel);
            entries.clear();
            self.live.store(live, Ordering::Release);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: i64, name: &str) -> User {
        User {
            id,
            user_name: name.into(),
            department: None,
            manager_role_attached: false,
        }
    }

    #[test]
    fn a_change_during_a_load_keeps_the_old_row_out() {
        let cache = UserCache::new(true);
        let before = cache.generation();
        cache.forget(1);
        cache.insert(before, &user(1, "old"));
        assert_eq!(cache.get(1), None);

        let now = cache.generation();
        cache.insert(now, &user(1, "new"));
        assert_eq!(cache.get(1).map(|u| u.user_name), Some("new".into()));
        cache.forget(1);
        assert_eq!(cache.get(1), None);
    }

    #[test]
    fn an_idle_cache_keeps_nothing_and_is_bounded() {
        let cache = UserCache::new(false);
        cache.insert(cache.generation(), &user(1, "a"));
        assert_eq!(cache.get(1), None);
        cache.set_live(true);
        for id in 0..i64::try_from(CAPACITY).expect("fits") + 10 {
            cache.insert(cache.generation(), &user(id, "u"));
        }
        assert_eq!(cache.entries.read().expect("lock").len(), CAPACITY);
        cache.set_live(false);
        assert_eq!(cache.get(CAPACITY as i64), None);
    }
}
