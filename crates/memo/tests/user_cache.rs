//! The users' cache behind `Db::user_by_id` (which the user loader runs on
//! every guarded request): a cached row is served without asking the
//! database, and `Db::user_changed` makes every instance forget it, through
//! Redis pub/sub or PostgreSQL's LISTEN/NOTIFY between instances. On
//! PostgreSQL with neither, nothing is cached, since another instance may
//! change a user unseen.
//!
//! PostgreSQL and Redis: `MEMO_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`) and `MEMO_TEST_REDIS_URL`
//! (default `redis://127.0.0.1:6379`); skipped when unreachable, except with
//! `CI=true`.

use std::time::Duration;

use memo::db::{Db, NewUser, User};
use sqlx::Connection as _;

#[path = "support/mod.rs"]
mod support;

use support::link::{Link, State};

const LIMIT: Duration = Duration::from_secs(10);

fn skip_or_fail<T>(what: &str, why: &str) -> Option<T> {
    assert!(
        !std::env::var("CI").is_ok_and(|v| v == "true"),
        "{what} is unreachable ({why}), and CI=true requires these tests to run"
    );
    eprintln!("SKIPPING: {what} is unreachable ({why})");
    None
}

async fn postgres_database() -> Option<(String, String)> {
    let admin = std::env::var("MEMO_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let mut conn = match sqlx::PgConnection::connect(&admin).await {
        Ok(conn) => conn,
        Err(err) => return skip_or_fail("PostgreSQL", &err.to_string()),
    };
    let name = format!("memo_test_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!(r#"CREATE DATABASE "{name}""#))
        .execute(&mut conn)
        .await
        .expect("CREATE DATABASE");
    let base = admin
        .rsplit_once('/')
        .map_or(admin.as_str(), |(server, _)| server);
    Some((admin.clone(), format!("{base}/{name}")))
}

async fn drop_database(admin: &str, url: &str) {
    let name = url.rsplit('/').next().unwrap_or_default();
    if let Ok(mut conn) = sqlx::PgConnection::connect(admin).await {
        let _ = sqlx::query(&format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#))
            .execute(&mut conn)
            .await;
    }
}

async fn redis_url() -> Option<String> {
    let url =
        std::env::var("MEMO_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let reachable = async {
        let client = redis::Client::open(url.as_str()).map_err(|e| e.to_string())?;
        client
            .get_multiplexed_async_connection()
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    };
    match tokio::time::timeout(Duration::from_secs(5), reachable).await {
        Ok(Ok(())) => Some(url),
        Ok(Err(err)) => skip_or_fail("Redis", &err),
        Err(_) => skip_or_fail("Redis", "timed out"),
    }
}

async fn add_user(db: &Db, name: &str) -> User {
    db.insert_user(&NewUser {
        user_name: name,
        password_hash: "not-a-hash",
        department: Some("sales"),
        manager_role_attached: false,
    })
    .await
    .expect("insert")
    .expect("a new user")
}

/// Changes the user's department behind the cache's back.
macro_rules! set_department {
    ($conn:expr, $id:expr, $department:expr) => {
        sqlx::query("UPDATE users SET department = $1 WHERE id = $2")
            .bind($department)
            .bind($id)
            .execute(&mut $conn)
            .await
            .expect("update")
    };
}

/// Deletes the user behind the cache's back.
macro_rules! delete_user {
    ($conn:expr, $id:expr) => {
        sqlx::query("DELETE FROM users WHERE id = $1")
            .bind($id)
            .execute(&mut $conn)
            .await
            .expect("delete")
    };
}

async fn department(db: &Db, id: i64) -> Option<String> {
    db.user_by_id(id)
        .await
        .expect("a lookup")
        .and_then(|u| u.department)
}

/// Waits (up to [`LIMIT`]) until `db` answers `expected` for user `id`: the
/// change travels through Redis, so it arrives a moment later.
async fn eventually(db: &Db, id: i64, expected: Option<&str>) {
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let found = db.user_by_id(id).await.expect("a lookup");
        let department = found.as_ref().and_then(|u| u.department.as_deref());
        let matches = match expected {
            Some(expected) => department == Some(expected),
            None => found.is_none(),
        };
        if matches {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "user {id} still {found:?}, expected {expected:?}"
        );
        tokio::task::yield_now().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_serves_users_from_the_cache_until_they_change() {
    let dir = tempfile::tempdir().expect("a folder");
    let url = format!("sqlite://{}", dir.path().join("memo.db").display());
    let db = Db::connect(&url).await.expect("the database");
    db.migrate().await.expect("migrations");
    let user = add_user(&db, "alice").await;
    let mut raw = sqlx::SqliteConnection::connect(&url)
        .await
        .expect("a connection");

    assert_eq!(department(&db, user.id).await.as_deref(), Some("sales"));
    set_department!(raw, user.id, "it");
    assert_eq!(
        department(&db, user.id).await.as_deref(),
        Some("sales"),
        "served from the cache: no database round trip"
    );
    db.user_changed(user.id).await;
    assert_eq!(department(&db, user.id).await.as_deref(), Some("it"));

    delete_user!(raw, user.id);
    db.user_changed(user.id).await;
    assert_eq!(db.user_by_id(user.id).await.expect("a lookup"), None);
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_instances_forget_a_changed_user_through_redis() {
    let Some((admin, url)) = postgres_database().await else {
        return;
    };
    let Some(redis) = redis_url().await else {
        drop_database(&admin, &url).await;
        return;
    };
    let scratch = support::redis::ScratchPrefix::new(&redis);
    let prefix = scratch.name().to_owned();
    let one = Db::connect(&url).await.expect("instance one");
    one.migrate().await.expect("migrations");
    let two = Db::connect(&url).await.expect("instance two");
    for db in [&one, &two] {
        db.share_user_changes(&redis, &prefix)
            .await
            .expect("subscribed");
    }
    let user = add_user(&one, "bob").await;
    let mut raw = sqlx::PgConnection::connect(&url)
        .await
        .expect("a connection");

    assert_eq!(department(&two, user.id).await.as_deref(), Some("sales"));
    set_department!(raw, user.id, "it");
    assert_eq!(
        department(&two, user.id).await.as_deref(),
        Some("sales"),
        "instance two answers from its cache"
    );
    // Instance one makes the change known; instance two hears of it.
    one.user_changed(user.id).await;
    eventually(&two, user.id, Some("it")).await;

    delete_user!(raw, user.id);
    one.user_changed(user.id).await;
    eventually(&two, user.id, None).await;
    eventually(&one, user.id, None).await;

    one.close().await;
    two.close().await;
    drop(raw);
    drop_database(&admin, &url).await;
}

/// A subscription that went silent without being closed (a dead host, a
/// dropped route) no longer keeps the cache on: the change it missed is seen
/// well before the cached row would have expired.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_instances_behind_a_silent_redis_stop_serving_cached_rows() {
    let Some((admin, url)) = postgres_database().await else {
        return;
    };
    let Some(redis) = redis_url().await else {
        drop_database(&admin, &url).await;
        return;
    };
    let link = Link::to(redis.trim_start_matches("redis://")).await;
    let scratch = support::redis::ScratchPrefix::new(&redis);
    let prefix = scratch.name().to_owned();
    let one = Db::connect(&url).await.expect("instance one");
    one.migrate().await.expect("migrations");
    let two = Db::connect(&url).await.expect("instance two");
    one.share_user_changes(&redis, &prefix)
        .await
        .expect("one subscribed");
    two.share_user_changes(&link.url(), &prefix)
        .await
        .expect("two subscribed through the link");
    let user = add_user(&one, "dave").await;
    let mut raw = sqlx::PgConnection::connect(&url)
        .await
        .expect("a connection");
    assert_eq!(department(&two, user.id).await.as_deref(), Some("sales"));
    set_department!(raw, user.id, "it");
    assert_eq!(
        department(&two, user.id).await.as_deref(),
        Some("sales"),
        "instance two answers from its cache"
    );

    link.set(State::Silent);
    one.user_changed(user.id).await;
    eventually(&two, user.id, Some("it")).await;

    one.close().await;
    two.close().await;
    drop(raw);
    drop_database(&admin, &url).await;
}

/// An instance that cannot reach Redis when it changes a user publishes the
/// change once Redis answers again, so the others do not keep the old row
/// until it expires.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_made_while_redis_was_unreachable_is_published_once_it_answers() {
    let Some((admin, url)) = postgres_database().await else {
        return;
    };
    let Some(redis) = redis_url().await else {
        drop_database(&admin, &url).await;
        return;
    };
    let link = Link::to(redis.trim_start_matches("redis://")).await;
    let scratch = support::redis::ScratchPrefix::new(&redis);
    let prefix = scratch.name().to_owned();
    let one = Db::connect(&url).await.expect("instance one");
    one.migrate().await.expect("migrations");
    let two = Db::connect(&url).await.expect("instance two");
    one.share_user_changes(&link.url(), &prefix)
        .await
        .expect("one subscribed through the link");
    two.share_user_changes(&redis, &prefix)
        .await
        .expect("two subscribed");
    let user = add_user(&one, "erin").await;
    let mut raw = sqlx::PgConnection::connect(&url)
        .await
        .expect("a connection");
    assert_eq!(department(&two, user.id).await.as_deref(), Some("sales"));

    link.cut().await;
    set_department!(raw, user.id, "it");
    one.user_changed(user.id).await;
    link.set(State::Open);
    eventually(&two, user.id, Some("it")).await;

    one.close().await;
    two.close().await;
    drop(raw);
    drop_database(&admin, &url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_instances_forget_a_changed_user_through_listen_notify() {
    let Some((admin, url)) = postgres_database().await else {
        return;
    };
    let one = Db::connect(&url).await.expect("instance one");
    one.migrate().await.expect("migrations");
    let two = Db::connect(&url).await.expect("instance two");
    for db in [&one, &two] {
        db.share_user_changes_in_postgres()
            .await
            .expect("listening");
    }
    let user = add_user(&one, "frank").await;
    let mut raw = sqlx::PgConnection::connect(&url)
        .await
        .expect("a connection");

    assert_eq!(department(&two, user.id).await.as_deref(), Some("sales"));
    set_department!(raw, user.id, "it");
    assert_eq!(
        department(&two, user.id).await.as_deref(),
        Some("sales"),
        "instance two answers from its cache"
    );
    one.user_changed(user.id).await;
    eventually(&two, user.id, Some("it")).await;

    delete_user!(raw, user.id);
    one.user_changed(user.id).await;
    eventually(&two, user.id, None).await;
    eventually(&one, user.id, None).await;

    one.close().await;
    two.close().await;
    drop(raw);
    drop_database(&admin, &url).await;
}

/// A listening connection that PostgreSQL ended (a restart, an admin's
/// `pg_terminate_backend`) turns the cache off until it listens again: a
/// change made meanwhile is seen at once, not after the entry expires.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_instance_whose_listener_was_ended_stops_serving_cached_rows() {
    let Some((admin, url)) = postgres_database().await else {
        return;
    };
    let db = Db::connect(&url).await.expect("the instance");
    db.migrate().await.expect("migrations");
    db.share_user_changes_in_postgres()
        .await
        .expect("listening");
    let user = add_user(&db, "grace").await;
    let mut raw = sqlx::PgConnection::connect(&url)
        .await
        .expect("a connection");
    assert_eq!(department(&db, user.id).await.as_deref(), Some("sales"));
    set_department!(raw, user.id, "it");
    assert_eq!(department(&db, user.id).await.as_deref(), Some("sales"));

    let ended = sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND application_name = 'memo user changes'",
    )
    .execute(&mut raw)
    .await
    .expect("terminate")
    .rows_affected();
    assert_eq!(ended, 1, "one listening connection");
    // The change was never published: only the dropped listener can make
    // the instance read the row again.
    eventually(&db, user.id, Some("it")).await;

    db.close().await;
    drop(raw);
    drop_database(&admin, &url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_without_shared_changes_caches_nothing() {
    let Some((admin, url)) = postgres_database().await else {
        return;
    };
    let db = Db::connect(&url).await.expect("the database");
    db.migrate().await.expect("migrations");
    let user = add_user(&db, "carol").await;
    let mut raw = sqlx::PgConnection::connect(&url)
        .await
        .expect("a connection");

    assert_eq!(department(&db, user.id).await.as_deref(), Some("sales"));
    set_department!(raw, user.id, "it");
    assert_eq!(
        department(&db, user.id).await.as_deref(),
        Some("it"),
        "another instance may have changed the row: always asked"
    );
    db.close().await;
    drop(raw);
    drop_database(&admin, &url).await;
}
