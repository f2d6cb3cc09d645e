//! `PgConnections`, under `SqlStore` on PostgreSQL: a store's statements run on connections
//! kept out of sqlx's pool, so the pool never gets them back (and never pings them on their
//! return), except after a failure, and closing the pool still completes.
//!
//! PostgreSQL: `POSTGRES_ADMIN_URL` (default `postgres://postgres@127.0.0.1:5432/test`);
//! skipped when unreachable, except with `CI=true`.
#![cfg(feature = "postgres")]

mod common;

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use common::{
    logins::{login, refresh},
    scratch_db::ScratchDatabase,
};
use jwt_extended::{PgConnections, RotateOutcome, SessionStore as _, SqlStore};
use sqlx::PgPool;

/// A pool built as `PgConnections` asks, counting the connections returned to it; lazy, so
/// that connecting returns none.
fn pool(scratch: &ScratchDatabase, returned: &Arc<AtomicUsize>) -> PgPool {
    let returned = Arc::clone(returned);
    PgConnections::pool_options()
        .max_connections(4)
        .after_release(move |_, _| {
            returned.fetch_add(1, Ordering::SeqCst);
            Box::pin(async { Ok(true) })
        })
        .connect_lazy(&scratch.url)
        .expect("a PostgreSQL URL")
}

/// `SELECT 1` on a connection of `connections`, given back after.
async fn select_one(connections: &PgConnections) -> Result<(), sqlx::Error> {
    let mut connection = connections.take().await?;
    let outcome = sqlx::query("SELECT 1").execute(&mut *connection).await;
    connections.give_back(connection, &outcome);
    outcome.map(drop)
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
    let Some(scratch) = ScratchDatabase::create("jwt_kept").await else {
        return;
    };
    let returned = Arc::new(AtomicUsize::new(0));
    let pool = pool(&scratch, &returned);
    let store = SqlStore::postgres_with(PgConnections::new(pool.clone()));
    store.migrate().await.expect("migrate");
    let (session, first) = login("fam");
    store.create(&session, &first).await.expect("login");
    let mut presented = first.jti;
    for n in 1..=20 {
        let successor = refresh(&format!("r{n}"));
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
    scratch.drop_now().await;
}

/// How many statements the connection has prepared, read without preparing one.
async fn prepared_statements(connection: &mut sqlx::PgConnection) -> i64 {
    use sqlx::Row as _;
    sqlx::raw_sql("SELECT count(*) FROM pg_prepared_statements")
        .fetch_one(connection)
        .await
        .expect("count the prepared statements")
        .get(0)
}

#[tokio::test]
async fn a_connection_out_for_its_time_goes_back_with_its_statements_closed() {
    let Some(scratch) = ScratchDatabase::create("jwt_kept").await else {
        return;
    };
    // One connection, so that the pool hands back the one the statement ran on.
    let pool = PgConnections::pool_options()
        .max_connections(1)
        .connect_lazy(&scratch.url)
        .expect("a PostgreSQL URL");
    let connections = PgConnections::keeping(pool.clone(), 1).kept_for(Duration::ZERO);

    let mut connection = connections.take().await.expect("a connection");
    let outcome = sqlx::query("SELECT 1").execute(&mut *connection).await;
    assert_eq!(
        prepared_statements(&mut connection).await,
        1,
        "sqlx prepared it"
    );
    connections.give_back(connection, &outcome);

    // The same connection, once back: a plan made on it from now on is made on the tables as
    // they are, not as they were when `SELECT 1` was first prepared.
    let mut connection = tokio::time::timeout(Duration::from_secs(5), pool.acquire())
        .await
        .expect("the connection came back to the pool")
        .expect("the pool's connection");
    assert_eq!(
        prepared_statements(&mut connection).await,
        0,
        "its statements were closed before it went back"
    );
    drop(connection);
    pool.close().await;
    scratch.drop_now().await;
}

#[tokio::test]
async fn a_connection_within_its_time_is_kept_with_its_statements() {
    let Some(scratch) = ScratchDatabase::create("jwt_kept").await else {
        return;
    };
    let returned = Arc::new(AtomicUsize::new(0));
    let pool = pool(&scratch, &returned);
    let connections = PgConnections::keeping(pool.clone(), 1);

    select_one(&connections).await.expect("SELECT 1");
    assert_eq!(connections.kept(), 1, "within its minute: kept");
    let mut connection = connections.take().await.expect("the kept connection");
    assert_eq!(
        prepared_statements(&mut connection).await,
        1,
        "its statement is still prepared"
    );
    let outcome: Result<(), sqlx::Error> = Ok(());
    connections.give_back(connection, &outcome);
    assert_eq!(returned.load(Ordering::SeqCst), 0, "never back in the pool");
    connections.release();
    pool.close().await;
    scratch.drop_now().await;
}

#[tokio::test]
async fn a_connection_whose_statement_failed_goes_back_to_the_pool() {
    let Some(scratch) = ScratchDatabase::create("jwt_kept").await else {
        return;
    };
    let returned = Arc::new(AtomicUsize::new(0));
    let pool = pool(&scratch, &returned);
    let connections = PgConnections::new(pool.clone());

    let mut connection = connections.take().await.expect("a connection");
    let outcome = sqlx::query("SELECT * FROM no_such_table")
        .execute(&mut *connection)
        .await;
    assert!(outcome.is_err(), "the statement fails");
    connections.give_back(connection, &outcome);
    assert_eq!(connections.kept(), 0, "the failed one is not kept");
    returned_reaches(&returned, 1).await;

    select_one(&connections).await.expect("SELECT 1");
    assert_eq!(
        connections.kept(),
        1,
        "a connection whose statement succeeded is kept"
    );
    connections.release();
    pool.close().await;
    scratch.drop_now().await;
}

#[tokio::test]
async fn a_statement_waiting_on_a_pool_at_its_maximum_gets_the_connection_given_back() {
    let Some(scratch) = ScratchDatabase::create("jwt_kept").await else {
        return;
    };
    let returned = Arc::new(AtomicUsize::new(0));
    let pool = pool(&scratch, &returned);
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
    scratch.drop_now().await;
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
        let scratch = ScratchDatabase::create("jwt_kept").await?;
        let pool = pool(&scratch, &returned);
        let connections = PgConnections::new(pool.clone());
        select_one(&connections).await.expect("SELECT 1");
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
        scratch.drop_now().await;
    });
}
