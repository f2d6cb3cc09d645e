//! PostgreSQL's pages of the list read in one statement (`db/memos/postgres_pages.rs`): the
//! pages asked at once go to PostgreSQL as one statement per order, each reader gets its own
//! page (its owner's, archived or not, from its position, with `next` when more follow), and
//! a batch PostgreSQL refuses, or with a row memo cannot read (a time of `infinity`), is read
//! one page at a time, so one bad page fails alone.
//!
//! To count the statements, the test's database reads memos through a view that records, for
//! every row read, the statement it was read by (its backend and start time).
//!
//! PostgreSQL: `MEMO_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`); skipped when unreachable,
//! except with `CI=true`.

use std::{cmp::Reverse, time::Duration};

use memo::db::{Db, DbError, Memo, MemoChanges, Order, Page, PageRequest, Position};
use sqlx::PgPool;

#[path = "support/mod.rs"]
mod support;

use support::{add_user, postgres::TempDatabase, tally};

/// Owners, with how many memos each writes (every third archived).
const OWNERS: [(&str, usize); 3] = [("many", 45), ("few", 6), ("poison", 3)];

/// memo's database on a new scratch database with [`OWNERS`]' memos (each owner's id and
/// memos as written), and a pool of the test's own. From then on `memos` is a view of the
/// table that records each statement reading it (`read_statements`; `read_attempts` counts
/// those that read a row, committed or not), and fails any statement that reads a memo of
/// `poison`.
async fn open(database: &TempDatabase) -> (Db, PgPool, Vec<(i64, Vec<Memo>)>) {
    let db = Db::connect(database.url()).await.expect("memo connects");
    db.migrate().await.expect("migrations");
    let mut owners = Vec::new();
    for (name, count) in OWNERS {
        let id = add_user(&db, name).await;
        let mut memos = Vec::new();
        for n in 0..count {
            let memo = db
                .insert_memo(id, &format!("{name} {n}"), "会議のメモ")
                .await;
            let mut memo = memo.expect("written");
            if n % 3 == 2 {
                let archive = MemoChanges {
                    archived: Some(true),
                    ..Default::default()
                };
                let archived = db.update_memo(memo.id, id, &archive).await;
                memo = archived.expect("archived").expect("found");
            }
            memos.push(memo);
        }
        owners.push((id, memos));
    }
    let pool = PgPool::connect(database.url())
        .await
        .expect("the test's pool");
    let poison = owners[2].0;
    for statement in [
        "CREATE TABLE read_statements (backend INT, started TIMESTAMPTZ, PRIMARY KEY (backend, started))".to_owned(),
        "CREATE SEQUENCE read_attempts".to_owned(),
        format!(
            "CREATE FUNCTION record_read(owner BIGINT) RETURNS BOOLEAN LANGUAGE plpgsql AS $$ BEGIN \
             IF owner = {poison} THEN RAISE EXCEPTION 'a poisoned page'; END IF; \
             INSERT INTO read_statements VALUES (pg_backend_pid(), statement_timestamp()) \
             ON CONFLICT DO NOTHING; \
             IF FOUND THEN PERFORM nextval('read_attempts'); END IF; RETURN TRUE; END $$"
        ),
        "ALTER TABLE memos RENAME TO memo_rows".to_owned(),
        "CREATE VIEW memos AS SELECT * FROM memo_rows WHERE record_read(user_id)".to_owned(),
    ] {
        sqlx::raw_sql(&statement)
            .execute(&pool)
            .await
            .expect("the recording view");
    }
    (db, pool, owners)
}

/// The statements that read memos since the view was made.
async fn statements(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM read_statements")
        .fetch_one(pool)
        .await
        .expect("the record")
}

/// The statements that read a memo, whether they then committed or failed.
async fn attempts(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM read_attempts")
        .fetch_one(pool)
        .await
        .expect("the sequence")
}

fn request(
    user_id: i64,
    archived: bool,
    order: Order,
    after: Option<Position>,
    limit: u32,
) -> PageRequest<'static> {
    PageRequest {
        user_id,
        archived,
        order,
        after,
        limit,
        search: None,
    }
}

/// The page `request` asks of `memos` (its owner's, as written), worked out here: its
/// memos' titles, and the position after its last memo when more follow.
fn expected_page(memos: &[Memo], request: &PageRequest<'_>) -> (Vec<String>, Option<Position>) {
    let mut list: Vec<&Memo> = memos
        .iter()
        .filter(|memo| memo.archived == request.archived)
        .collect();
    match request.order {
        Order::Id => list.sort_by_key(|memo| memo.id),
        Order::IdDesc => list.sort_by_key(|memo| Reverse(memo.id)),
        Order::UpdatedDesc => list.sort_by_key(|memo| Reverse((memo.updated_at.at(), memo.id))),
    }
    let after = |memo: &&Memo| match (request.after, request.order) {
        (None, _) => true,
        (Some(at), Order::Id) => memo.id > at.id,
        (Some(at), Order::IdDesc) => memo.id < at.id,
        (Some(at), Order::UpdatedDesc) => (memo.updated_at.at(), memo.id) < (at.updated_at, at.id),
    };
    let rest: Vec<&Memo> = list.into_iter().filter(after).collect();
    let limit = usize::try_from(request.limit).expect("a limit");
    let page = &rest[..rest.len().min(limit)];
    let next = (rest.len() > limit)
        .then(|| page.last().map(|memo| memo.position()))
        .flatten();
    (page.iter().map(|memo| memo.title.clone()).collect(), next)
}

/// The pages asked at once, each one's result in order.
async fn read_at_once(db: &Db, requests: &[PageRequest<'_>]) -> Vec<Result<Page, DbError>> {
    let reads = requests.iter().map(|request| db.memo_page(request));
    futures_util::future::join_all(reads).await
}

/// What a page holds: its titles and where the next starts.
fn titles(page: &Page) -> (Vec<String>, Option<Position>) {
    let titles = page.memos.iter().map(|memo| memo.title.clone()).collect();
    (titles, page.next)
}

/// 20 first pages of 10 (by id, not archived), `many`'s and `few`'s in turn.
fn first_pages_in_turn(many: i64, few: i64) -> Vec<PageRequest<'static>> {
    (0..20)
        .map(|n| {
            let owner = if n % 2 == 0 { many } else { few };
            request(owner, false, Order::Id, None, 10)
        })
        .collect()
}

// The tests run on one thread: the pages asked at once are all queued before the reading task
// first runs, so they meet in one batch (of 32 at most), read with one statement per order.
#[tokio::test(flavor = "current_thread")]
async fn pages_read_at_once_are_read_by_one_statement_per_order_each_its_own() {
    let Some(database) = TempDatabase::create().await else {
        return;
    };
    tally::ran(tally::Backend::Postgres);
    let (db, pool, owners) = open(&database).await;
    // The first pages of two owners, archived or not, in the three orders, of 3, 10 or 25
    // memos, and the page after each that has one.
    let mut requests = Vec::new();
    for order in [Order::Id, Order::IdDesc, Order::UpdatedDesc] {
        for archived in [false, true] {
            for (owner, _) in &owners[..2] {
                let limit = [3, 10, 25][requests.len() % 3];
                requests.push(request(*owner, archived, order, None, limit));
            }
        }
    }
    let memos_of = |owner: i64| {
        &owners
            .iter()
            .find(|(id, _)| *id == owner)
            .expect("an owner")
            .1
    };
    let seconds: Vec<_> = requests
        .iter()
        .filter_map(|first| {
            let (_, next) = expected_page(memos_of(first.user_id), first);
            Some(request(
                first.user_id,
                first.archived,
                first.order,
                Some(next?),
                first.limit,
            ))
        })
        .collect();
    requests.extend(seconds);
    assert!(requests.len() > 12, "some first pages have a second");
    let expected: Vec<_> = requests
        .iter()
        .map(|request| expected_page(memos_of(request.user_id), request))
        .collect();

    let results = read_at_once(&db, &requests).await;
    let pages: Vec<_> = results
        .iter()
        .map(|result| titles(result.as_ref().expect("a page")))
        .collect();
    assert_eq!(pages, expected);
    assert_eq!(statements(&pool).await, 3);

    // 40 at once: a statement reads at most 32 pages, and a second may run beside it.
    let forty = vec![requests[0]; 40];
    let results = read_at_once(&db, &forty).await;
    for result in results {
        assert_eq!(titles(&result.expect("a page")), expected[0]);
    }
    assert_eq!(statements(&pool).await, 5);
    db.close().await;
    pool.close().await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_page_that_cannot_be_read_fails_alone() {
    let Some(database) = TempDatabase::create().await else {
        return;
    };
    tally::ran(tally::Backend::Postgres);
    let (db, pool, owners) = open(&database).await;
    let (many, few, poison) = (owners[0].0, owners[1].0, owners[2].0);
    let mut requests = first_pages_in_turn(many, few);
    requests[7] = request(poison, false, Order::Id, None, 10);

    let mut results = read_at_once(&db, &requests).await;
    let refused = results.remove(7);
    assert!(
        refused
            .as_ref()
            .is_err_and(|error| error.to_string().contains("a poisoned page")),
        "{refused:?}"
    );
    for (n, result) in results.iter().enumerate() {
        let page = result.as_ref().expect("a page");
        let owner = if n < 7 { n } else { n + 1 };
        let prefix = if owner % 2 == 0 { "many " } else { "few " };
        assert!(
            page.memos.iter().all(|memo| memo.title.starts_with(prefix)),
            "{page:?}"
        );
    }
    // The batch's statement read the first pages, then failed on the poisoned one (its record
    // rolled back, its attempt counted); then each page was read alone.
    assert_eq!((attempts(&pool).await, statements(&pool).await), (20, 19));
    db.close().await;
    pool.close().await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_page_with_a_row_memo_cannot_read_fails_alone() {
    let Some(database) = TempDatabase::create().await else {
        return;
    };
    tally::ran(tally::Backend::Postgres);
    let (db, pool, owners) = open(&database).await;
    let (many, few) = (owners[0].0, owners[1].0);
    // A time RFC 3339 cannot write, in the first of `few`'s memos (not archived).
    sqlx::query("UPDATE memo_rows SET created_at = 'infinity' WHERE id = $1")
        .bind(owners[1].1[0].id)
        .execute(&pool)
        .await
        .expect("a time of infinity");
    let requests = first_pages_in_turn(many, few);

    let results = read_at_once(&db, &requests).await;
    for (n, result) in results.iter().enumerate() {
        if n % 2 == 1 {
            assert!(result.is_err(), "few's page {n}: {result:?}");
            continue;
        }
        let page = result.as_ref().expect("many's page");
        assert!(
            page.memos.len() == 10
                && page
                    .memos
                    .iter()
                    .all(|memo| memo.title.starts_with("many ")),
            "{page:?}"
        );
    }
    db.close().await;
    pool.close().await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_stuck_statement_fails_its_pages_and_the_next_read_works() {
    let Some(database) = TempDatabase::create().await else {
        return;
    };
    tally::ran(tally::Backend::Postgres);
    let (db, pool, owners) = open(&database).await;
    let page = request(owners[0].0, false, Order::Id, None, 10);
    // The test's transaction holds the table: every read of it waits.
    let mut lock = pool.begin().await.expect("a transaction");
    sqlx::raw_sql("LOCK TABLE memo_rows IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *lock)
        .await
        .expect("the lock");
    let stuck = tokio::time::timeout(Duration::from_secs(30), db.memo_page(&page)).await;
    let stuck = stuck.expect("answered within 30 s");
    assert!(matches!(stuck, Err(DbError::TimedOut)), "{stuck:?}");
    // Its connection is closed, not left to sqlx's pool, which would wait for the statement
    // (still waiting for the lock) with the connection out: every connection of memo's is
    // soon idle in the pool or kept again, none out.
    let connections = db.postgres_connections().expect("PostgreSQL");
    let memo_pool = connections.pool();
    let none_out = tokio::time::timeout(Duration::from_secs(5), async {
        while memo_pool.size()
            > u32::try_from(memo_pool.num_idle() + connections.kept()).unwrap_or(0)
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    assert!(
        none_out.await.is_ok(),
        "the stuck statement's connection is still out"
    );
    lock.rollback().await.expect("released");
    let (titles_read, _) = titles(&db.memo_page(&page).await.expect("a page"));
    assert_eq!(titles_read, expected_page(&owners[0].1, &page).0);
    db.close().await;
    pool.close().await;
}
