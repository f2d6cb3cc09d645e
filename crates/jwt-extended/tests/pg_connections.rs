//! `PgConnections`, under `SqlStore` on PostgreSQL: a store's statements run on connections
//! kept out of sqlx's pool, so the pool never gets them back (and never pings them on their
//! return), except after a failure, and closing the pool still completes.
//!
//! PostgreSQL: `POSTGRES_ADMIN_URL` (default `postgres://postgres@127.0.0.1:5432/test`);
//! skipped when unreachable, except with `CI=true`.
#![cfg(feature = "postgres")]

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use jwt_extended::{
    PgConnections, RefreshId, RotateOutcome, SessionInfo, SessionStore as _, SqlStore,
};
use sqlx::{Connection as _, Executor as _, PgConnection, PgPool};

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// A scratch database, dropped by [`Scratch::drop_database`].
struct Scratch {
    admin: String,
    name: String,
    url: String,
}

impl Scratch {
    async fn create() -> Option<Self> {
        let admin = std::env::var("POSTGRES_ADMIN_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let mut conn = match PgConnection::connect(&admin).await {
            Ok(conn) => conn,
            Err(e) if std::env::var("CI").as_deref() == Ok("true") => {
                panic!("PostgreSQL is required under CI=true: {e}")
            }
            Err(e) => {
                eprintln!("skipped: no PostgreSQL ({e})");
                return None;
            }
        };
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let name = format!("jwt_kept_{nanos:x}{:x}", std::process::id());
        conn.execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .expect("create database");
        let (base, _) = admin.rsplit_once('/').expect("a database in the URL");
        let url = format!("{base}/{name}");
        Some(Self { admin, name, url })
    }

    /// A pool built as `PgConnections` asks, counting the connections returned to it; lazy, so
    /// that connecting returns none.
    fn pool(&self, returned: &Arc<AtomicUsize>) -> PgPool {
        let returned = Arc::clone(returned);
        PgConnections::pool_options()
            .max_connections(4)
            .after_release(move |_, _| {
                returned.fetch_add(1, Ordering::SeqCst);
                Box::pin(async { Ok(true) })
            })
            .connect_lazy(&self.url)
            .expect("a PostgreSQL URL")
    }

    async fn drop_database(self) {
        if let Ok(mut conn) = PgConnection::connect(&self.admin).await {
            let drop = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
            let _ = conn.execute(drop.as_str()).await;
        }
    }
}

fn login(family: &str) -> (SessionInfo, RefreshId) {
    let session = SessionInfo {
        id: family.into(),
        user: "7".into(),
        created_at: now(),
        last_used_at: now(),
        user_agent: None,
        expires_at: Some(now() + 600),
    };
    let refresh = RefreshId {
        jti: "r0".into(),
        exp: Some(now() + 600),
    };
    (session, refresh)
}

/// Waits (bounded) until the pool has had `count` connections back: sqlx returns one on a task
/// of its own after the connection is dropped.
async fn returned_reaches(returned: &AtomicUsize, count: usize) {
    let reached = async {
        while returned.load(Ordering::SeqCst) < count {
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(Duration::from_secs(5), reached)
        .await
        .unwrap_or_else(|_| panic!("the pool got {count} connections back"));
}

#[tokio::test]
async fn a_store_s_statements_keep_their_connection_out_of_the_pool() {
    let Some(scratch) = Scratch::create().await else {
        return;
    };
    let returned = Arc::new(AtomicUsize::new(0));
    let pool = scratch.pool(&returned);
    let store = SqlStore::postgres_with(PgConnections::new(pool.clone()));
    store.migrate().await.expect("migrate");
    let (session, first) = login("fam");
    store.create(&session, &first).await.expect("login");
    let mut presented = first.jti;
    for n in 1..=20 {
        let successor = RefreshId {
            jti: format!("r{n}"),
            exp: Some(now() + 600),
        };
        let outcome = store
            .rotate("fam", &presented, &successor, Duration::ZERO)
            .await
            .expect("rotate");
        assert_eq!(outcome, RotateOutcome::Rotated);
        presented = successor.jti;
    }
    assert_eq!(
        returned.load(Ordering::SeqCst),
        0,
        "no statement's connection went back to the pool (sqlx pings each one it gets back)"
    );
    assert_eq!(pool.size(), 1, "one connection served them all");

    // Closing the pool does not wait for the connection the store keeps.
    tokio::time::timeout(Duration::from_secs(5), pool.close())
        .await
        .expect("the pool closed while the store still kept a connection");
    drop(store);
    scratch.drop_database().await;
}

#[tokio::test]
async fn a_connection_whose_statement_failed_goes_back_to_the_pool() {
    let Some(scratch) = Scratch::create().await else {
        return;
    };
    let returned = Arc::new(AtomicUsize::new(0));
    let pool = scratch.pool(&returned);
    let connections = PgConnections::new(pool.clone());

    let mut connection = connections.take().await.expect("a connection");
    let outcome = sqlx::query("SELECT * FROM no_such_table")
        .execute(&mut *connection)
        .await;
    assert!(outcome.is_err(), "the statement fails");
    connections.give_back(connection, &outcome);
    assert_eq!(connections.kept(), 0, "the failed one is not kept");
    returned_reaches(&returned, 1).await;

    let mut connection = connections.take().await.expect("a connection");
    let outcome = sqlx::query("SELECT 1").execute(&mut *connection).await;
    connections.give_back(connection, &outcome);
    outcome.expect("SELECT 1");
    assert_eq!(
        connections.kept(),
        1,
        "a connection whose statement succeeded is kept"
    );
    connections.release();
    pool.close().await;
    scratch.drop_database().await;
}

#[tokio::test]
async fn a_statement_waiting_on_a_pool_at_its_maximum_gets_the_connection_given_back() {
    let Some(scratch) = Scratch::create().await else {
        return;
    };
    let returned = Arc::new(AtomicUsize::new(0));
    let pool = scratch.pool(&returned);
    let connections = PgConnections::keeping(pool.clone(), 4);
    let mut first = connections.take().await.expect("a connection");
    let mut second = connections.take().await.expect("a connection");
    let mut third = connections.take().await.expect("a connection");
    let fourth = connections
        .take()
        .await
        .expect("the pool's last connection");
    let waiting = tokio::spawn({
        let pool = pool.clone();
        async move { pool.acquire().await.map(drop) }
    });
    for connection in [&mut first, &mut second, &mut third] {
        sqlx::query("SELECT 1")
            .execute(&mut **connection)
            .await
            .expect("SELECT 1");
    }
    let outcome: Result<(), sqlx::Error> = Ok(());
    connections.give_back(first, &outcome);
    tokio::time::timeout(Duration::from_secs(3), waiting)
        .await
        .expect("the waiting statement got a connection before the pool's timeout")
        .expect("the task")
        .expect("a connection");
    drop((second, third, fourth));
    connections.release();
    pool.close().await;
    scratch.drop_database().await;
}

/// A store built inside `block_on` and dropped after it: sqlx gives a connection back to its
/// pool on a task, which needs a runtime.
#[test]
fn the_last_clone_dropped_outside_a_runtime_closes_what_it_kept() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let returned = Arc::new(AtomicUsize::new(0));
    let setup = runtime.block_on(async {
        let scratch = Scratch::create().await?;
        let pool = scratch.pool(&returned);
        let connections = PgConnections::new(pool.clone());
        let mut connection = connections.take().await.expect("a connection");
        let outcome = sqlx::query("SELECT 1").execute(&mut *connection).await;
        connections.give_back(connection, &outcome);
        assert_eq!(connections.kept(), 1);
        Some((scratch, pool, connections))
    });
    let Some((scratch, pool, connections)) = setup else {
        return;
    };
    drop(connections);
    runtime.block_on(async {
        assert_eq!(
            pool.size(),
            0,
            "the kept connection was closed, its place freed"
        );
        pool.close().await;
        scratch.drop_database().await;
    });
}
