//! One suite for every store: the contract of `RevocationStore` and `SessionStore`, run against
//! the memory store, SQLite (with and without its local cache), PostgreSQL (with and without
//! its shared cache) and Redis.
//!
//! PostgreSQL and Redis are the local services (`POSTGRES_ADMIN_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`; `REDIS_URL`, default `redis://127.0.0.1:6379`);
//! each test makes its own database or key prefix and removes it. Without the services the
//! tests say so and pass, except under `CI=true`, where they fail.

#[cfg(feature = "postgres")]
mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jwt_extended::{
    DecodedToken, FAMILY_CLAIM, JsonObject, MemorySessionStore, RefreshId, RevocationStore,
    RotateOutcome, SessionInfo, SessionStore,
};

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

fn session(id: &str, user: &str, created_at: i64) -> SessionInfo {
    SessionInfo {
        id: id.into(),
        user: user.into(),
        created_at,
        last_used_at: created_at,
        user_agent: Some("suite".into()),
        expires_at: Some(now() + 600),
    }
}

fn refresh(jti: &str) -> RefreshId {
    RefreshId {
        jti: jti.into(),
        exp: Some(now() + 600),
    }
}

/// Whether a test without its service should fail (CI) or say so and pass.
#[cfg(feature = "redis")]
fn required(service: &str, error: &dyn std::fmt::Display) -> bool {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{service} is required under CI=true: {error}");
    }
    eprintln!("skipped: no {service} ({error})");
    false
}

/// A store and what removes its data afterwards.
struct Fixture<S> {
    store: S,
    cleanup: Option<std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>>,
}

impl<S> Fixture<S> {
    async fn done(mut self) {
        if let Some(cleanup) = self.cleanup.take() {
            cleanup.await;
        }
    }
}

async fn memory() -> Option<Fixture<MemorySessionStore>> {
    Some(Fixture {
        store: MemorySessionStore::new(),
        cleanup: None,
    })
}

#[cfg(feature = "sqlite")]
async fn sqlite() -> Option<Fixture<jwt_extended::SqlStore>> {
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect("sqlite::memory:")
        .await
        .expect("sqlite in memory");
    let store = jwt_extended::SqlStore::sqlite(pool);
    store.migrate().await.expect("migrate");
    Some(Fixture {
        store,
        cleanup: None,
    })
}

/// A SQLite file, whose writes run on the store's writer thread (an in-memory database's run
/// on the pool).
#[cfg(feature = "sqlite")]
async fn sqlite_file() -> Option<Fixture<jwt_extended::SqlStore>> {
    sqlite_file_with_vfs(None).await
}

/// A SQLite file that the process holds for itself (the `unix-excl` VFS, as memo opens its
/// file): the writer thread opens it with the pool's VFS.
#[cfg(feature = "sqlite")]
async fn sqlite_exclusive_file() -> Option<Fixture<jwt_extended::SqlStore>> {
    sqlite_file_with_vfs(Some("unix-excl")).await
}

#[cfg(feature = "sqlite")]
async fn sqlite_file_with_vfs(
    vfs: Option<&'static str>,
) -> Option<Fixture<jwt_extended::SqlStore>> {
    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
    let dir = std::env::temp_dir().join(format!("jwt-suite-{}", uuid_like()));
    std::fs::create_dir_all(&dir).expect("a folder");
    let options = SqliteConnectOptions::new()
        .filename(dir.join("sessions.db"))
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full);
    let options = match vfs {
        Some(vfs) => options.vfs(vfs),
        None => options,
    };
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(2)
        .connect_with(options)
        .await
        .expect("sqlite file");
    let store = jwt_extended::SqlStore::sqlite(pool.clone());
    store.migrate().await.expect("migrate");
    Some(Fixture {
        store,
        cleanup: Some(Box::pin(async move {
            pool.close().await;
            let _ = std::fs::remove_dir_all(dir);
        })),
    })
}

#[cfg(feature = "sqlite")]
async fn sqlite_cached() -> Option<Fixture<jwt_extended::SqlStore>> {
    let fixture = sqlite().await?;
    Some(Fixture {
        store: fixture.store.with_local_cache().await.expect("cache"),
        cleanup: None,
    })
}

#[cfg(feature = "postgres")]
async fn postgres() -> Option<Fixture<jwt_extended::SqlStore>> {
    let scratch = common::scratch_db::ScratchDatabase::create("jwt_suite").await?;
    let pool = sqlx::PgPool::connect(&scratch.url).await.expect("connect");
    let store = jwt_extended::SqlStore::postgres(pool.clone());
    store.migrate().await.expect("migrate");
    let cleanup = async move {
        pool.close().await;
        scratch.drop_now().await;
    };
    Some(Fixture {
        store,
        cleanup: Some(Box::pin(cleanup)),
    })
}

/// PostgreSQL with the revocation cache shared by LISTEN/NOTIFY.
#[cfg(feature = "postgres")]
async fn postgres_shared() -> Option<Fixture<jwt_extended::SqlStore>> {
    let fixture = postgres().await?;
    Some(Fixture {
        store: fixture
            .store
            .clone()
            .with_shared_cache()
            .await
            .expect("listen"),
        cleanup: fixture.cleanup,
    })
}

#[cfg(feature = "redis")]
async fn redis() -> Option<Fixture<jwt_extended::RedisStore>> {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let prefix = format!("jwt-suite-{}", uuid_like());
    let store = match jwt_extended::RedisStore::connect(&url, &prefix).await {
        Ok(store) => store,
        Err(e) => {
            required("Redis", &e);
            return None;
        }
    };
    let cleanup = async move {
        let Ok(client) = redis::Client::open(url) else {
            return;
        };
        let Ok(mut conn) = client.get_multiplexed_async_connection().await else {
            return;
        };
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{prefix}:*"))
            .query_async(&mut conn)
            .await
            .unwrap_or_default();
        if !keys.is_empty() {
            let _: Result<(), _> = redis::cmd("DEL").arg(keys).query_async(&mut conn).await;
        }
    };
    Some(Fixture {
        store,
        cleanup: Some(Box::pin(cleanup)),
    })
}

/// A unique enough name for a folder or a key prefix.
#[cfg(any(feature = "sqlite", feature = "redis"))]
fn uuid_like() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{nanos:x}{:x}", std::process::id())
}

/// The suite, for one store fixture.
macro_rules! store_tests {
    ($name:ident, $fixture:path) => {
        mod $name {
            use super::*;

            #[tokio::test]
            async fn a_revoked_jti_stays_revoked_until_its_token_expires() {
                let Some(f) = $fixture().await else { return };
                let s = &f.store;
                s.revoke("live", Some(now() + 60)).await.expect("revoke");
                s.revoke("forever", None).await.expect("revoke");
                s.revoke("expired", Some(now() - 5)).await.expect("revoke");
                assert!(s.is_revoked(&token("live", None)).await.expect("answer"));
                assert!(s.is_revoked(&token("forever", None)).await.expect("answer"));
                assert!(!s.is_revoked(&token("expired", None)).await.expect("answer"));
                assert!(!s.is_revoked(&token("other", None)).await.expect("answer"));
                s.revoke("live", Some(now() + 60))
                    .await
                    .expect("twice is fine");
                f.done().await;
            }

            #[tokio::test]
            async fn a_rotation_retires_the_presented_token_and_a_replay_revokes_the_family() {
                let Some(f) = $fixture().await else { return };
                let s = &f.store;
                s.create(&session("fam-a", "7", now()), &refresh("r1"))
                    .await
                    .expect("login");
                assert!(
                    !s.is_revoked(&token("a1", Some("fam-a")))
                        .await
                        .expect("answer")
                );
                let rotated = s
                    .rotate("fam-a", "r1", &refresh("r2"), Duration::ZERO)
                    .await;
                assert_eq!(rotated.expect("answer"), RotateOutcome::Rotated);
                let replay = s
                    .rotate("fam-a", "r1", &refresh("r3"), Duration::ZERO)
                    .await;
                assert_eq!(replay.expect("answer"), RotateOutcome::Reused);
                assert!(
                    s.is_revoked(&token("r2", Some("fam-a")))
                        .await
                        .expect("answer")
                );
                assert!(
                    s.is_revoked(&token("a1", Some("fam-a")))
                        .await
                        .expect("answer")
                );
                let after = s
                    .rotate("fam-a", "r2", &refresh("r4"), Duration::ZERO)
                    .await;
                assert_eq!(after.expect("answer"), RotateOutcome::Revoked);
                assert!(s.list("7").await.expect("list").is_empty());
                f.done().await;
            }

            #[tokio::test]
            async fn a_repeat_within_the_grace_window_gets_the_same_successor_once_removed() {
                let Some(f) = $fixture().await else { return };
                let s = &f.store;
                let grace = Duration::from_secs(30);
                s.create(&session("fam-g", "7", now()), &refresh("r1"))
                    .await
                    .expect("login");
                // One value: a second call of refresh() may fall in the next second.
                let r2 = refresh("r2");
                let first = s.rotate("fam-g", "r1", &r2, grace).await;
                assert_eq!(first.expect("answer"), RotateOutcome::Rotated);
                let repeat = s.rotate("fam-g", "r1", &refresh("other"), grace).await;
                assert_eq!(repeat.expect("answer"), RotateOutcome::Grace(r2));
                assert!(
                    !s.is_revoked(&token("r2", Some("fam-g")))
                        .await
                        .expect("answer")
                );
                let next = s.rotate("fam-g", "r2", &refresh("r3"), grace).await;
                assert_eq!(next.expect("answer"), RotateOutcome::Rotated);
                // Two rotations ago is reuse, grace or not.
                let old = s.rotate("fam-g", "r1", &refresh("r4"), grace).await;
                assert_eq!(old.expect("answer"), RotateOutcome::Reused);
                f.done().await;
            }

            #[tokio::test]
            async fn concurrent_logins_and_rotations_each_land_once() {
                let Some(f) = $fixture().await else { return };
                let s = &f.store;
                let grace = Duration::from_secs(30);
                let logins = (0..40).map(|i| async move {
                    let family = format!("fam-c{i}");
                    s.create(&session(&family, "9", now()), &refresh(&format!("c{i}-1")))
                        .await
                        .expect("login");
                    family
                });
                let families = futures_util::future::join_all(logins).await;
                // Two tabs refresh each login at once with the same token: one rotates,
                // the other gets the winner's successor.
                let races = families.iter().map(|family| async move {
                    let presented = format!("{}-1", &family[4..]);
                    let a = refresh(&format!("{family}-a"));
                    let b = refresh(&format!("{family}-b"));
                    let (x, y) = futures_util::future::join(
                        s.rotate(family, &presented, &a, grace),
                        s.rotate(family, &presented, &b, grace),
                    )
                    .await;
                    (x.expect("answer"), y.expect("answer"), a, b)
                });
                for (x, y, a, b) in futures_util::future::join_all(races).await {
                    let won_a = (RotateOutcome::Rotated, RotateOutcome::Grace(a.clone()));
                    let won_b = (RotateOutcome::Grace(b.clone()), RotateOutcome::Rotated);
                    assert!(
                        (x.clone(), y.clone()) == won_a || (x.clone(), y.clone()) == won_b,
                        "{x:?} {y:?}"
                    );
                }
                assert_eq!(s.list("9").await.expect("list").len(), 40);
                f.done().await;
            }

            #[tokio::test]
            async fn an_unknown_family_does_not_rotate() {
                let Some(f) = $fixture().await else { return };
                let s = &f.store;
                let unknown = s.rotate("nope", "r1", &refresh("r2"), Duration::ZERO).await;
                assert_eq!(unknown.expect("answer"), RotateOutcome::Revoked);
                f.done().await;
            }

            #[tokio::test]
            async fn revoking_a_family_ends_its_tokens_and_no_other() {
                let Some(f) = $fixture().await else { return };
                let s = &f.store;
                s.create(&session("fam-1", "7", now()), &refresh("r1"))
                    .await
                    .expect("login");
                s.create(&session("fam-2", "7", now()), &refresh("r2"))
                    .await
                    .expect("login");
                s.revoke_family("fam-1").await.expect("revoke");
                s.revoke_family("fam-1").await.expect("twice is fine");
                assert!(
                    s.is_revoked(&token("x", Some("fam-1")))
                        .await
                        .expect("answer")
                );
                assert!(
                    !s.is_revoked(&token("y", Some("fam-2")))
                        .await
                        .expect("answer")
                );
                let ended = s
                    .rotate("fam-1", "r1", &refresh("r3"), Duration::ZERO)
                    .await;
                assert_eq!(ended.expect("answer"), RotateOutcome::Revoked);
                let ids: Vec<String> = s
                    .list("7")
                    .await
                    .expect("list")
                    .into_iter()
                    .map(|i| i.id)
                    .collect();
                assert_eq!(ids, ["fam-2"]);
                f.done().await;
            }

            #[tokio::test]
            async fn a_login_is_ended_once_and_only_by_its_user() {
                let Some(f) = $fixture().await else { return };
                let s = &f.store;
                let login = session("fam-e", "7", now());
                let r1 = RefreshId {
                    jti: "r1".into(),
                    exp: login.expires_at,
                };
                s.create(&login, &r1).await.expect("login");
                let gone = session("fam-x", "7", now() - 100);
                let expired = RefreshId {
                    jti: "rx".into(),
                    exp: Some(now() - 5),
                };
                s.create(&gone, &expired).await.expect("login");

                assert_eq!(
                    s.end("8", "fam-e").await.expect("answer"),
                    None,
                    "not theirs"
                );
                assert_eq!(s.end("7", "nope").await.expect("answer"), None, "unknown");
                assert_eq!(s.end("7", "fam-x").await.expect("answer"), None, "expired");
                assert!(
                    !s.is_revoked(&token("a1", Some("fam-e")))
                        .await
                        .expect("answer")
                );
                // Two tabs end it at once: one of them does.
                let (a, b) =
                    futures_util::future::join(s.end("7", "fam-e"), s.end("7", "fam-e")).await;
                let ended: Vec<SessionInfo> = [a, b]
                    .into_iter()
                    .filter_map(|answer| answer.expect("answer"))
                    .collect();
                assert_eq!(ended, [login]);
                assert!(
                    s.is_revoked(&token("a1", Some("fam-e")))
                        .await
                        .expect("answer")
                );
                let after = s
                    .rotate("fam-e", "r1", &refresh("r2"), Duration::ZERO)
                    .await;
                assert_eq!(after.expect("answer"), RotateOutcome::Revoked);
                assert!(s.list("7").await.expect("list").is_empty());
                f.done().await;
            }

            #[tokio::test]
            async fn a_users_live_logins_are_listed_oldest_first_and_only_theirs() {
                let Some(f) = $fixture().await else { return };
                let s = &f.store;
                let t = now();
                s.create(&session("late", "7", t), &refresh("r1"))
                    .await
                    .expect("login");
                let early = session("early", "7", t - 100);
                let r2 = RefreshId {
                    jti: "r2".into(),
                    exp: early.expires_at,
                };
                s.create(&early, &r2).await.expect("login");
                s.create(&session("theirs", "8", t - 200), &refresh("r3"))
                    .await
                    .expect("login");
                let listed = s.list("7").await.expect("list");
                let ids: Vec<&str> = listed.iter().map(|i| i.id.as_str()).collect();
                assert_eq!(ids, ["early", "late"]);
                assert_eq!(listed[0], early);
                assert!(s.list("9").await.expect("list").is_empty());
                // A rotation shows as last use and the new expiry.
                let later = RefreshId {
                    jti: "r4".into(),
                    exp: Some(t + 900),
                };
                s.rotate("late", "r1", &later, Duration::ZERO)
                    .await
                    .expect("rotated");
                let late = s
                    .list("7")
                    .await
                    .expect("list")
                    .into_iter()
                    .find(|i| i.id == "late");
                assert_eq!(late.and_then(|i| i.expires_at), Some(t + 900));
                f.done().await;
            }
        }
    };
}

store_tests!(memory_store, memory);
#[cfg(feature = "sqlite")]
store_tests!(sqlite_store, sqlite);
#[cfg(feature = "sqlite")]
store_tests!(sqlite_file_store, sqlite_file);
#[cfg(feature = "sqlite")]
store_tests!(sqlite_exclusive_file_store, sqlite_exclusive_file);
#[cfg(feature = "sqlite")]
store_tests!(sqlite_store_with_local_cache, sqlite_cached);
#[cfg(feature = "postgres")]
store_tests!(postgres_store, postgres);
#[cfg(feature = "postgres")]
store_tests!(postgres_store_with_shared_cache, postgres_shared);
#[cfg(feature = "redis")]
store_tests!(redis_store, redis);
