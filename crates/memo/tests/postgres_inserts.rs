//! PostgreSQL's group commit of new memos (`db/memos/postgres_inserts.rs`): the memos written
//! at once go to PostgreSQL as one statement (several when their text passes 1 MiB), each
//! writer gets its own memo back, and a batch that fails is written one memo at a time, so
//! one bad insert fails alone. A trigger on `memos` records each `INSERT` statement and the
//! rows it wrote.
//!
//! PostgreSQL: `MEMO_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`); skipped when unreachable,
//! except with `CI=true`.

use std::collections::HashSet;

use memo::db::{Db, DbError, Memo};
use sqlx::PgPool;

#[path = "support/mod.rs"]
mod support;

use support::{add_user, postgres::TempDatabase, tally};

/// memo's database on a new scratch database, with one user, and a pool of the test's own
/// holding the trigger that records each insert statement.
async fn open(database: &TempDatabase) -> (Db, PgPool, i64) {
    let db = Db::connect(database.url()).await.expect("memo connects");
    db.migrate().await.expect("migrations");
    let user = add_user(&db, "writer").await;
    let pool = PgPool::connect(database.url())
        .await
        .expect("the test's pool");
    for statement in [
        "CREATE TABLE insert_statements (written BIGINT NOT NULL)",
        "CREATE FUNCTION record_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
         INSERT INTO insert_statements SELECT count(*) FROM written; RETURN NULL; END $$",
        "CREATE TRIGGER record_insert AFTER INSERT ON memos REFERENCING NEW TABLE AS written \
         FOR EACH STATEMENT EXECUTE FUNCTION record_insert()",
    ] {
        sqlx::raw_sql(statement)
            .execute(&pool)
            .await
            .expect("the trigger");
    }
    (db, pool, user)
}

/// The memos `(owner, title, content)` written at once, each one's result in order.
async fn write_at_once(db: &Db, memos: &[(i64, String, String)]) -> Vec<Result<Memo, DbError>> {
    let writes = memos
        .iter()
        .map(|(owner, title, content)| db.insert_memo(*owner, title, content));
    futures_util::future::join_all(writes).await
}

/// The insert statements recorded: how many rows each wrote, in order.
async fn statements(pool: &PgPool) -> Vec<i64> {
    sqlx::query_scalar("SELECT written FROM insert_statements ORDER BY ctid")
        .fetch_all(pool)
        .await
        .expect("the record")
}

/// Each result is the memo its writer asked for, unarchived, and no two share an id.
fn assert_each_got_its_own(memos: &[(i64, String, String)], results: Vec<Result<Memo, DbError>>) {
    let mut ids = HashSet::new();
    for ((_, title, content), result) in memos.iter().zip(results) {
        let memo = result.expect("written");
        assert_eq!((&memo.title, &memo.content), (title, content));
        assert!(!memo.archived);
        assert!(ids.insert(memo.id), "id {} given twice", memo.id);
    }
}

// tokio::test runs on one thread: the writes are all queued before the inserting task first
// runs, so they meet in one batch.
#[tokio::test]
async fn memos_written_at_once_are_committed_by_one_statement() {
    let Some(database) = TempDatabase::create().await else {
        return;
    };
    tally::ran(tally::Backend::Postgres);
    let (db, pool, user) = open(&database).await;
    let other = add_user(&db, "other").await;
    // Two alike of one owner (either may get either row), and the same memo by another owner.
    let mut memos: Vec<_> = (0..37)
        .map(|n| (user, format!("memo {n}"), format!("会議のメモ {n}")))
        .collect();
    memos.extend(vec![(user, "twin".to_owned(), "same".to_owned()); 2]);
    memos.push((other, "twin".to_owned(), "same".to_owned()));

    let results = write_at_once(&db, &memos).await;
    let ids: Vec<i64> = results.iter().flatten().map(|memo| memo.id).collect();
    assert_each_got_its_own(&memos, results);
    assert_eq!(statements(&pool).await, [40]);
    // Each memo is its writer's: readable by its owner only.
    for ((owner, ..), id) in memos.iter().zip(ids) {
        let not_owner = if *owner == user { other } else { user };
        assert!(db.memo(id, *owner).await.expect("read").is_some());
        assert!(db.memo(id, not_owner).await.expect("read").is_none());
    }
    db.close().await;
    pool.close().await;
}

#[tokio::test]
async fn long_memos_written_at_once_are_split_by_their_size() {
    let Some(database) = TempDatabase::create().await else {
        return;
    };
    tally::ran(tally::Backend::Postgres);
    let (db, pool, user) = open(&database).await;
    // 300,000 bytes each: three fit in one statement's 1 MiB, a fourth does not.
    let memos: Vec<_> = (0..8)
        .map(|n| (user, format!("long {n}"), "あ".repeat(100_000)))
        .collect();

    let results = write_at_once(&db, &memos).await;
    assert_each_got_its_own(&memos, results);
    assert_eq!(statements(&pool).await, [3, 3, 2]);
    db.close().await;
    pool.close().await;
}

#[tokio::test]
async fn a_memo_that_cannot_be_written_fails_alone() {
    let Some(database) = TempDatabase::create().await else {
        return;
    };
    tally::ran(tally::Backend::Postgres);
    let (db, pool, user) = open(&database).await;
    // The 20th names a user that does not exist: the batch's statement fails on the foreign key.
    let mut memos: Vec<_> = (0..40)
        .map(|n| (user, format!("memo {n}"), format!("text {n}")))
        .collect();
    memos[20].0 = user + 1_000;

    let mut results = write_at_once(&db, &memos).await;
    let refused = results.remove(20);
    assert!(
        refused
            .as_ref()
            .is_err_and(DbError::is_foreign_key_violation),
        "{refused:?}"
    );
    memos.remove(20);
    assert_each_got_its_own(&memos, results);
    // The batch left no record; each memo was then written alone.
    assert_eq!(statements(&pool).await, [1; 39]);
    db.close().await;
    pool.close().await;
}
