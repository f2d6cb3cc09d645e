//! `SqlStore`'s rotations on PostgreSQL are group-committed: the swaps waiting at once go to
//! PostgreSQL as one statement, each settled as if alone (two tabs, a replay), and a batch
//! PostgreSQL refuses is run one swap at a time. A trigger on
//! `jwt_sessions` counts the `UPDATE` statements and the rows each changed.
//!
//! PostgreSQL: `POSTGRES_ADMIN_URL` (default `postgres://postgres@127.0.0.1:5432/test`);
//! skipped when unreachable, except with `CI=true`.
#![cfg(feature = "postgres")]

mod common;

use std::{str::FromStr as _, time::Duration};

use common::{
    logins::{login, now, refresh},
    scratch_db::ScratchDatabase,
};
use jwt_extended::{PgConnections, RotateOutcome, SessionStore as _, SqlStore};
use sqlx::{PgPool, postgres::PgConnectOptions};

const FAMILIES: usize = 40;

/// A login of user 7 as `family`, presenting `r0`.
async fn log_in(store: &SqlStore, family: &str) {
    let (session, r0) = login(family);
    store.create(&session, &r0).await.expect("login");
}

/// A store with [`FAMILIES`] logins, `fam-0`... presenting `r0`, and a trigger recording each
/// `UPDATE` of `jwt_sessions` as a row of `swap_statements` (how many rows it changed); with
/// `one_row_at_a_time`, the trigger also fails any statement that changed more than one.
async fn store_with_logins(
    scratch: &ScratchDatabase,
    one_row_at_a_time: bool,
) -> (SqlStore, PgPool) {
    let pool = PgConnections::pool_options()
        .max_connections(4)
        .connect(&scratch.url)
        .await
        .expect("connect");
    let store = SqlStore::postgres_with(PgConnections::new(pool.clone()));
    store.migrate().await.expect("migrate");
    let refuse = if one_row_at_a_time {
        "IF (SELECT count(*) FROM changed) > 1 THEN RAISE EXCEPTION 'one row at a time'; END IF;"
    } else {
        ""
    };
    for statement in [
        "CREATE TABLE swap_statements (changed BIGINT NOT NULL)".to_owned(),
        format!(
            "CREATE FUNCTION record_swap() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN {refuse} \
             INSERT INTO swap_statements SELECT count(*) FROM changed; RETURN NULL; END $$"
        ),
        "CREATE TRIGGER record_swap AFTER UPDATE ON jwt_sessions REFERENCING NEW TABLE AS changed \
         FOR EACH STATEMENT EXECUTE FUNCTION record_swap()"
            .to_owned(),
    ] {
        sqlx::raw_sql(&statement)
            .execute(&pool)
            .await
            .expect("the trigger");
    }
    for n in 0..FAMILIES {
        log_in(&store, &format!("fam-{n}")).await;
    }
    (store, pool)
}

/// Rotates every family at once, from `r0` to `r1-<n>`.
async fn rotate_all(store: &SqlStore) -> Vec<RotateOutcome> {
    let rotations = (0..FAMILIES).map(|n| async move {
        let successor = refresh(&format!("r1-{n}"));
        store
            .rotate(&format!("fam-{n}"), "r0", &successor, Duration::ZERO)
            .await
            .expect("an answer")
    });
    futures_util::future::join_all(rotations).await
}

/// The rows each recorded statement changed, in order.
async fn changed_per_statement(pool: &PgPool) -> Vec<i64> {
    sqlx::query_scalar("SELECT changed FROM swap_statements ORDER BY ctid")
        .fetch_all(pool)
        .await
        .expect("the record")
}

/// `(statements, rows changed)` recorded by the trigger.
async fn recorded(pool: &PgPool) -> (i64, i64) {
    sqlx::query_as("SELECT count(*), COALESCE(sum(changed), 0)::BIGINT FROM swap_statements")
        .fetch_one(pool)
        .await
        .expect("the record")
}

// A current-thread runtime (tokio::test's): the rotations are all queued before the store's
// writer task first runs, so the batch holds every one of them.
#[tokio::test]
async fn rotations_waiting_at_once_are_committed_by_one_statement() {
    let Some(scratch) = ScratchDatabase::create("jwt_swaps").await else {
        return;
    };
    let (store, pool) = store_with_logins(&scratch, false).await;

    let outcomes = rotate_all(&store).await;
    assert!(
        outcomes.iter().all(|o| *o == RotateOutcome::Rotated),
        "{outcomes:?}"
    );
    assert_eq!(recorded(&pool).await, (1, FAMILIES as i64));

    // Each family now takes only its successor: the batch did not mix them up, and the
    // token it retired is reuse.
    let next = store
        .rotate("fam-7", "r1-7", &refresh("r2-7"), Duration::ZERO)
        .await;
    assert_eq!(next.expect("answer"), RotateOutcome::Rotated);
    let replay = store
        .rotate("fam-8", "r0", &refresh("r2-8"), Duration::ZERO)
        .await;
    assert_eq!(replay.expect("answer"), RotateOutcome::Reused);
    drop(store);
    pool.close().await;
    scratch.drop_now().await;
}

#[tokio::test]
async fn two_tabs_and_a_replay_in_one_batch_are_each_settled() {
    let Some(scratch) = ScratchDatabase::create("jwt_swaps").await else {
        return;
    };
    let (store, pool) = store_with_logins(&scratch, false).await;
    rotate_all(&store).await;
    let grace = Duration::from_secs(30);
    let (a, b) = (refresh("r2-0a"), refresh("r2-0b"));
    let (r2_1, r2_2) = (refresh("r2-1"), refresh("r2-2"));

    // One batch: two tabs refresh fam-0 with the same token, fam-1's retired r0 comes back
    // (no grace: reuse), and fam-2 rotates as usual.
    let (tab_a, tab_b, replay, usual) = futures_util::join!(
        store.rotate("fam-0", "r1-0", &a, grace),
        store.rotate("fam-0", "r1-0", &b, grace),
        store.rotate("fam-1", "r0", &r2_1, Duration::ZERO),
        store.rotate("fam-2", "r1-2", &r2_2, Duration::ZERO),
    );
    let tabs = (tab_a.expect("answer"), tab_b.expect("answer"));
    let a_won = (RotateOutcome::Rotated, RotateOutcome::Grace(a.clone()));
    let b_won = (RotateOutcome::Grace(b.clone()), RotateOutcome::Rotated);
    assert!(tabs == a_won || tabs == b_won, "{tabs:?}");
    assert_eq!(replay.expect("answer"), RotateOutcome::Reused);
    assert_eq!(usual.expect("answer"), RotateOutcome::Rotated);
    // The first batch's 40, this batch's 2 (a tab and fam-2), the revocation of fam-1.
    assert_eq!(changed_per_statement(&pool).await, [40, 2, 1]);

    // The replay revoked fam-1 as a whole; the winning tab's token rotates on.
    let revoked = store
        .rotate("fam-1", "r1-1", &refresh("r3-1"), Duration::ZERO)
        .await;
    assert_eq!(revoked.expect("answer"), RotateOutcome::Revoked);
    let winner = if tabs == a_won { &a } else { &b };
    let next = store
        .rotate("fam-0", &winner.jti, &refresh("r3-0"), Duration::ZERO)
        .await;
    assert_eq!(next.expect("answer"), RotateOutcome::Rotated);
    drop(store);
    pool.close().await;
    scratch.drop_now().await;
}

#[tokio::test]
async fn a_batch_that_fails_is_run_one_swap_at_a_time() {
    let Some(scratch) = ScratchDatabase::create("jwt_swaps").await else {
        return;
    };
    let (store, pool) = store_with_logins(&scratch, true).await;

    let outcomes = rotate_all(&store).await;
    assert!(
        outcomes.iter().all(|o| *o == RotateOutcome::Rotated),
        "{outcomes:?}"
    );
    // The batch's statement failed and left no record; each swap then committed alone.
    assert_eq!(recorded(&pool).await, (FAMILIES as i64, FAMILIES as i64));
    drop(store);
    pool.close().await;
    scratch.drop_now().await;
}

/// Sequential scans of `jwt_sessions` so far, with the statistics of the pool's one connection
/// flushed first (PostgreSQL 15's `pg_stat_force_next_flush`; a backend reports its own when it
/// goes idle, before answering).
async fn table_scans(connections: &PgConnections) -> i64 {
    let mut connection = connections.take().await.expect("the connection");
    sqlx::query("SELECT pg_stat_force_next_flush()")
        .execute(&mut *connection)
        .await
        .expect("flush the statistics");
    let scans = sqlx::query_scalar(
        "SELECT seq_scan FROM pg_stat_user_tables WHERE relname = 'jwt_sessions'",
    )
    .fetch_one(&mut *connection)
    .await;
    connections.give_back(connection, &scans);
    scans.expect("the statistics")
}

/// A rotation reads its family's row through the primary key, not the whole table, whether
/// PostgreSQL plans it per call or once (memo's connections pin one generic plan). With 1,000
/// logins (some 11 pages), the batch's generic plan as a plain statement scanned them all for
/// every batch; plans made per call read the key already (that loop guards against a change
/// that would lose it). Needs PostgreSQL 15 or later (`pg_stat_force_next_flush`): skipped
/// on an older server.
#[tokio::test]
async fn a_rotation_reads_its_family_by_the_key_not_the_whole_table() {
    for plan_cache_mode in ["auto", "force_generic_plan"] {
        let Some(scratch) = ScratchDatabase::create("jwt_swaps").await else {
            return;
        };
        let options = PgConnectOptions::from_str(&scratch.url)
            .expect("the URL")
            .options([("plan_cache_mode", plan_cache_mode)]);
        let pool = PgConnections::pool_options()
            .max_connections(1)
            .connect_with(options)
            .await
            .expect("connect");
        let version: i32 = sqlx::query_scalar("SELECT current_setting('server_version_num')::int")
            .fetch_one(&pool)
            .await
            .expect("the server's version");
        if version < 150_000 {
            eprintln!("skipped: PostgreSQL {version} has no pg_stat_force_next_flush");
            pool.close().await;
            scratch.drop_now().await;
            return;
        }
        let connections = PgConnections::new(pool.clone());
        let store = SqlStore::postgres_with(connections.clone());
        store.migrate().await.expect("migrate");
        sqlx::query(
            "INSERT INTO jwt_sessions (family, user_id, created_at, last_used_at, current_jti, \
             current_exp) SELECT 'login-' || n, '7', 0, 0, 'r0', $1 FROM generate_series(1, 1000) n",
        )
        .bind(now() + 600)
        .execute(&pool)
        .await
        .expect("1,000 logins");

        let before = table_scans(&connections).await;
        for n in 0..10 {
            let family = format!("login-{}", 1 + n * 97);
            let rotated = store
                .rotate(&family, "r0", &refresh(&format!("r1-{n}")), Duration::ZERO)
                .await;
            assert_eq!(rotated.expect("an answer"), RotateOutcome::Rotated);
        }
        let scans = table_scans(&connections).await - before;
        assert_eq!(
            scans, 0,
            "{plan_cache_mode}: 10 rotations scanned the table"
        );
        drop(store);
        drop(connections);
        pool.close().await;
        scratch.drop_now().await;
    }
}

/// Instances that start at once each migrate the same database: every one succeeds, and the
/// rotations' function they all create works. Without the migration's lock, two
/// `CREATE TABLE IF NOT EXISTS` at once failed one with a duplicate key in `pg_type`.
#[tokio::test]
async fn instances_starting_at_once_all_migrate() {
    let Some(scratch) = ScratchDatabase::create("jwt_swaps").await else {
        return;
    };
    let pool = PgConnections::pool_options()
        .max_connections(8)
        .connect(&scratch.url)
        .await
        .expect("connect");
    for _ in 0..5 {
        let migrations = (0..8).map(|_| async {
            let store = SqlStore::postgres_with(PgConnections::new(pool.clone()));
            store.migrate().await
        });
        for outcome in futures_util::future::join_all(migrations).await {
            outcome.expect("a migration beside others");
        }
    }
    let store = SqlStore::postgres_with(PgConnections::new(pool.clone()));
    log_in(&store, "fam").await;
    let rotated = store
        .rotate("fam", "r0", &refresh("r1"), Duration::ZERO)
        .await;
    assert_eq!(rotated.expect("an answer"), RotateOutcome::Rotated);
    drop(store);
    pool.close().await;
    scratch.drop_now().await;
}
