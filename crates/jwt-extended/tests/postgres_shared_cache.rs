//! `SqlStore::with_shared_cache`: several instances on one PostgreSQL database answer
//! revocation checks from memory, told of each other's revocations by LISTEN/NOTIFY, and fall
//! back to the database while their listening connection is down.
//!
//! PostgreSQL is the local service (`POSTGRES_ADMIN_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`); each test makes its own database and drops it.
//! Without it the tests say so and pass, except under `CI=true`, where they fail.
#![cfg(feature = "postgres")]

mod common;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::scratch_db::{ScratchDatabase, admin_url};
use jwt_extended::{
    DecodedToken, FAMILY_CLAIM, JsonObject, RefreshId, RevocationStore, RotateOutcome, SessionInfo,
    SessionStore, SqlStore,
};
use sqlx::{Connection, PgConnection, PgPool};

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn token(jti: &str, family: Option<&str>) -> DecodedToken {
    let mut payload = JsonObject::new();
    payload.insert("jti".into(), jti.into());
    if let Some(family) = family {
        payload.insert(FAMILY_CLAIM.into(), family.into());
    }
    DecodedToken {
        header: JsonObject::new(),
        payload: payload.into(),
    }
}

/// A database of its own, dropped by [`Database::drop_now`].
struct Database(ScratchDatabase);

impl Database {
    async fn create() -> Option<Self> {
        ScratchDatabase::create("jwt_shared").await.map(Self)
    }

    async fn pool(&self) -> PgPool {
        PgPool::connect(&self.0.url).await.expect("connect")
    }

    /// A store as an instance of the app would make it, on a pool of its own.
    async fn instance(&self) -> (SqlStore, PgPool) {
        let pool = self.pool().await;
        let store = SqlStore::postgres(pool.clone());
        store.migrate().await.expect("migrate");
        let store = store.with_shared_cache().await.expect("listen");
        (store, pool)
    }

    /// Ends this database's listening connections from outside, as a restart of PostgreSQL
    /// or a dropped route would.
    async fn kill_listeners(&self) -> u64 {
        let mut admin = PgConnection::connect(&admin_url()).await.expect("admin");
        let sql = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                   WHERE datname = $1 AND application_name = 'jwt-extended revocations'";
        sqlx::query(sql)
            .bind(&self.0.name)
            .execute(&mut admin)
            .await
            .expect("terminate")
            .rows_affected()
    }

    async fn drop_now(self) {
        self.0.drop_now().await;
    }
}

/// Waits (at most `limit`) until `done` holds; whether it did.
async fn within(limit: Duration, mut done: impl AsyncFnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if done().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    done().await
}

#[tokio::test]
async fn a_logout_on_one_instance_is_refused_by_the_other_from_memory() {
    let Some(db) = Database::create().await else {
        return;
    };
    let (a, _pool_a) = db.instance().await;
    let (b, pool_b) = db.instance().await;
    assert!(a.cache_is_live() && b.cache_is_live());
    // From now on B cannot reach the database through its pool: every answer below is
    // memory's (without the cache, each would fail with PoolClosed).
    pool_b.close().await;
    assert!(
        !b.is_revoked(&token("access-1", None))
            .await
            .expect("memory")
    );

    a.revoke("access-1", Some(now() + 60))
        .await
        .expect("logout");
    let heard = within(Duration::from_secs(2), async || {
        b.is_revoked(&token("access-1", None))
            .await
            .unwrap_or(false)
    })
    .await;
    assert!(heard, "B refuses the token A revoked");
    assert!(
        !b.is_revoked(&token("access-2", None))
            .await
            .expect("memory")
    );
    db.drop_now().await;
}

#[tokio::test]
async fn a_replayed_refresh_token_revokes_its_family_on_every_instance() {
    let Some(db) = Database::create().await else {
        return;
    };
    let (a, _pool_a) = db.instance().await;
    let (b, pool_b) = db.instance().await;
    let exp = Some(now() + 600);
    let login = SessionInfo {
        id: "fam-1".into(),
        user: "7".into(),
        created_at: now(),
        last_used_at: now(),
        user_agent: None,
        expires_at: exp,
    };
    let first = RefreshId {
        jti: "r1".into(),
        exp,
    };
    let second = RefreshId {
        jti: "r2".into(),
        exp,
    };
    a.create(&login, &first).await.expect("login");
    let rotated = a.rotate("fam-1", "r1", &second, Duration::ZERO).await;
    assert_eq!(rotated.expect("rotate"), RotateOutcome::Rotated);
    pool_b.close().await;
    let access = token("access-of-r2", Some("fam-1"));
    assert!(!b.is_revoked(&access).await.expect("memory"));

    // The stolen r1 comes back to A: the whole family is revoked, on B too.
    let replay = a.rotate("fam-1", "r1", &second, Duration::ZERO).await;
    assert_eq!(replay.expect("answer"), RotateOutcome::Reused);
    let heard = within(Duration::from_secs(2), async || {
        b.is_revoked(&access).await.unwrap_or(false)
    })
    .await;
    assert!(heard, "B refuses the family's tokens");
    db.drop_now().await;
}

#[tokio::test]
async fn an_instance_started_later_loads_the_revocations_made_before() {
    let Some(db) = Database::create().await else {
        return;
    };
    let (a, _pool_a) = db.instance().await;
    a.revoke("early", Some(now() + 60)).await.expect("revoke");
    a.revoke("long-gone", Some(now() - 1))
        .await
        .expect("revoke");
    let (c, pool_c) = db.instance().await;
    pool_c.close().await;
    assert!(c.is_revoked(&token("early", None)).await.expect("memory"));
    assert!(
        !c.is_revoked(&token("long-gone", None))
            .await
            .expect("memory")
    );
    db.drop_now().await;
}

#[tokio::test]
async fn while_its_listener_is_down_an_instance_asks_the_database_then_catches_up() {
    let Some(db) = Database::create().await else {
        return;
    };
    let (a, _pool_a) = db.instance().await;
    let (b, _pool_b) = db.instance().await;
    assert_eq!(db.kill_listeners().await, 2, "both instances listen");
    let down = within(Duration::from_secs(3), async || !b.cache_is_live()).await;
    assert!(down, "B noticed its listener was gone");

    // Made while B may not hear it: B must still refuse it (from the database, or from
    // memory once it has listened and loaded again).
    a.revoke("during", Some(now() + 60)).await.expect("revoke");
    assert!(b.is_revoked(&token("during", None)).await.expect("answer"));

    let back = within(Duration::from_secs(5), async || b.cache_is_live()).await;
    assert!(back, "B listens again by itself");
    assert!(b.is_revoked(&token("during", None)).await.expect("answer"));
    a.revoke("after", Some(now() + 60)).await.expect("revoke");
    let heard = within(Duration::from_secs(2), async || {
        b.is_revoked(&token("after", None)).await.unwrap_or(false)
    })
    .await;
    assert!(heard, "B hears revocations again");
    db.drop_now().await;
}

#[tokio::test]
async fn a_store_without_the_cache_still_notifies_those_with_it() {
    let Some(db) = Database::create().await else {
        return;
    };
    let (b, pool_b) = db.instance().await;
    let plain = SqlStore::postgres(db.pool().await);
    assert!(!plain.cache_is_live());
    pool_b.close().await;
    plain
        .revoke("from-plain", Some(now() + 60))
        .await
        .expect("revoke");
    let heard = within(Duration::from_secs(2), async || {
        b.is_revoked(&token("from-plain", None))
            .await
            .unwrap_or(false)
    })
    .await;
    assert!(heard);
    db.drop_now().await;
}
