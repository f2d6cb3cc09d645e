//! PostgreSQL's pages of the list read in one statement (`db/memos/postgres_pages.rs`): the
//! pages asked at once go to PostgreSQL as one statement per order, each reader gets its own
//! page (its owner's, archived or not, from its position, with `next` when more follow), and
//! a batch PostgreSQL refuses is read one page at a time, so one bad page fails alone.
//!
//! To count the statements, the test's database reads memos through a view that records, for
//! every row read, the statement it was read by (its backend and start time).
//!
//! PostgreSQL: `MEMO_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`); skipped when unreachable,
//! except with `CI=true`.

use memo::db::{Db, DbError, NewUser, Order, Page, PageRequest, Position};
use sqlx::PgPool;

#[path = "support/mod.rs"]
mod support;

use support::{postgres::TempDatabase, tally};

/// Owners, with how many memos each writes (every third archived).
const OWNERS: [(&str, usize); 3] = [("many", 45), ("few", 6), ("poison", 3)];

/// memo's database on a new scratch database with [`OWNERS`]' memos, their ids, and a pool
/// of the test's own. From then on `memos` is a view of the table that records each statement
/// reading it, and fails any statement that reads a memo of `poison`.
async fn open(database: &TempDatabase) -> (Db, PgPool, Vec<i64>) {
    let db = Db::connect(database.url()).await.expect("memo connects");
    db.migrate().await.expect("migrations");
    let mut owners = Vec::new();
    for (name, count) in OWNERS {
        let user = NewUser {
            user_name: name,
            password_hash: "not-a-hash",
            department: None,
            manager_role_attached: false,
        };
        let id = db.insert_user(&user).await.expect("insert");
        let id = id.expect("a new user").id;
        for n in 0..count {
            let memo = db
                .insert_memo(id, &format!("{name} {n}"), "会議のメモ")
                .await;
            let memo = memo.expect("written");
            if n % 3 == 2 {
                let archive = memo::db::MemoChanges {
                    archived: Some(true),
                    ..Default::default()
                };
                db.update_memo(memo.id, id, &archive)
                    .await
                    .expect("archived");
            }
        }
        owners.push(id);
    }
    let pool = PgPool::connect(database.url())
        .await
        .expect("the test's pool");
    let poison = owners[2];
    for statement in [
        "CREATE TABLE read_statements (backend INT, started TIMESTAMPTZ, PRIMARY KEY (backend, started))".to_owned(),
        format!(
            "CREATE FUNCTION record_read(owner BIGINT) RETURNS BOOLEAN LANGUAGE plpgsql AS $$ BEGIN \
             IF owner = {poison} THEN RAISE EXCEPTION 'a poisoned page'; END IF; \
             INSERT INTO read_statements VALUES (pg_backend_pid(), statement_timestamp()) \
             ON CONFLICT DO NOTHING; RETURN TRUE; END $$"
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

fn request(
    user_id: i64,
    archived: bool,
    order: Order,
    after: Option<Position>,
) -> PageRequest<'static> {
    PageRequest {
        user_id,
        archived,
        order,
        after,
        limit: 10,
        search: None,
    }
}

/// The pages asked at once, each one's result in order.
async fn read_at_once(db: &Db, requests: &[PageRequest<'_>]) -> Vec<Result<Page, DbError>> {
    let reads = requests.iter().map(|request| db.memo_page(request));
    futures_util::future::join_all(reads).await
}

/// What each page holds: its titles and where the next starts.
fn titles(page: &Page) -> (Vec<String>, Option<i64>) {
    let titles = page.memos.iter().map(|memo| memo.title.clone()).collect();
    (titles, page.next.map(|next| next.id))
}

// tokio::test runs on one thread: the pages are all queued before the reading task first runs,
// so they meet in one batch (of 32 at most), read with one statement per order.
#[tokio::test]
async fn pages_read_at_once_are_read_by_one_statement_per_order_each_its_own() {
    let Some(database) = TempDatabase::create().await else {
        return;
    };
    tally::ran(tally::Backend::Postgres);
    let (db, pool, owners) = open(&database).await;
    let (many, few) = (owners[0], owners[1]);
    // Pages of two owners, archived or not, first and later, in the three orders.
    let mut requests = Vec::new();
    for order in [Order::Id, Order::IdDesc, Order::UpdatedDesc] {
        for archived in [false, true] {
            for owner in [many, few] {
                requests.push(request(owner, archived, order, None));
            }
        }
    }
    // The pages after each of the first ones (each read alone: one statement each).
    let mut expected = Vec::new();
    let mut later = Vec::new();
    for first in &requests {
        let page = db.memo_page(first).await.expect("a page");
        if let Some(next) = page.next {
            later.push(request(
                first.user_id,
                first.archived,
                first.order,
                Some(next),
            ));
        }
        expected.push(titles(&page));
    }
    for next in &later {
        expected.push(titles(&db.memo_page(next).await.expect("a page")));
    }
    requests.extend(later);
    let alone = statements(&pool).await;
    assert_eq!(alone, i64::try_from(requests.len()).expect("a count"));
    // Each page has what it should: the many owner's 30 live memos in pages of 10, oldest first.
    assert_eq!(
        expected[0].0,
        (0..15)
            .filter(|n| n % 3 != 2)
            .take(10)
            .map(|n| format!("many {n}"))
            .collect::<Vec<_>>()
    );
    assert!(
        expected[0].1.is_some(),
        "more of the many owner's memos follow"
    );
    assert_eq!(
        expected[1],
        (
            vec![
                "few 0".into(),
                "few 1".into(),
                "few 3".into(),
                "few 4".into()
            ],
            None
        )
    );

    // Every page at once: each reader its own page, one statement per order.
    let results = read_at_once(&db, &requests).await;
    let pages: Vec<_> = results
        .iter()
        .map(|result| titles(result.as_ref().expect("a page")))
        .collect();
    assert_eq!(pages, expected);
    assert_eq!(statements(&pool).await - alone, 3);

    // 40 at once: a statement reads at most 32 pages, and a second may run beside it.
    let forty = vec![requests[0]; 40];
    let before = statements(&pool).await;
    let results = read_at_once(&db, &forty).await;
    for result in results {
        assert_eq!(titles(&result.expect("a page")), expected[0]);
    }
    assert_eq!(statements(&pool).await - before, 2);
    db.close().await;
    pool.close().await;
}

#[tokio::test]
async fn a_page_that_cannot_be_read_fails_alone() {
    let Some(database) = TempDatabase::create().await else {
        return;
    };
    tally::ran(tally::Backend::Postgres);
    let (db, pool, owners) = open(&database).await;
    let (many, few, poison) = (owners[0], owners[1], owners[2]);
    let mut requests: Vec<_> = (0..20)
        .map(|n| request(if n % 2 == 0 { many } else { few }, false, Order::Id, None))
        .collect();
    requests[7] = request(poison, false, Order::Id, None);

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
    // The batch's statement recorded nothing (it failed); then each page was read alone.
    assert_eq!(statements(&pool).await, 19);
    db.close().await;
    pool.close().await;
}
