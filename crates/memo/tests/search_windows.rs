//! PostgreSQL's search by windows of the list (`memo_search_windows`,
//! migration 0006), called as memo calls it but with windows small enough
//! that a call stops before the list's end: resuming from each call's
//! position (its row of kind 1) must give every match exactly once and in
//! the list's order, in each order, however the matches are spread.
//!
//! PostgreSQL: `MEMO_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`); skipped when unreachable,
//! except with `CI=true`.

use memo::db::Db;
use sqlx::{PgPool, Row as _};
use time::{OffsetDateTime, macros::datetime};

#[path = "support/mod.rs"]
mod support;

use support::{postgres::TempDatabase, tally};

/// One account of 3,000 memos: `議事録` in every 40th of the first 1,000,
/// in none of the next 1,500 and in every 3rd of the last 500, so windows
/// sized from a sparse stretch land on a dense one and the other way round;
/// every 7th memo edited later, so `-updated_at` differs from the ids.
async fn seed(pool: &PgPool) {
    sqlx::query(
        "INSERT INTO users (user_name, password_hash, created_at) VALUES ('w', 'x', now())",
    )
    .execute(pool)
    .await
    .expect("user");
    sqlx::query(
        "INSERT INTO memos (user_id, title, content, archived, created_at, updated_at) \
         SELECT 1, 'memo ' || n, CASE WHEN (n <= 1000 AND n % 40 = 0) OR (n > 2500 AND n % 3 = 0) \
         THEN '本日の週次議事録' ELSE '日記' END, n % 11 = 0, \
         '2026-01-01'::timestamptz + n * interval '1 minute', \
         '2026-01-01'::timestamptz + n * interval '1 minute' FROM generate_series(1, 3000) AS n",
    )
    .execute(pool)
    .await
    .expect("memos");
    sqlx::query(
        "UPDATE memos SET updated_at = '2026-06-01'::timestamptz + id * interval '1 second' \
         WHERE id % 7 = 0",
    )
    .execute(pool)
    .await
    .expect("edits");
}

/// Every match by following the windows' positions: the ids, in order.
async fn by_windows(pool: &PgPool, ord: i32, archived: bool, need: i32) -> Vec<i64> {
    let (mut after_id, mut after_at): (i64, OffsetDateTime) = match ord {
        0 => (0, datetime!(9999-12-31 0:00 UTC)),
        _ => (i64::MAX, datetime!(9999-12-31 0:00 UTC)),
    };
    let mut found = Vec::new();
    for _ in 0..1_000 {
        let rows = sqlx::query(
            "SELECT id, updated_at, kind FROM memo_search_windows(1, $1, '%議事録%', $2, $3, $4, $5, 64, 2) \
             WITH ORDINALITY AS w (id, title, content, archived, created_at, updated_at, kind, n) ORDER BY n",
        )
        .bind(archived)
        .bind(ord)
        .bind(after_id)
        .bind(after_at)
        .bind(need)
        .fetch_all(pool)
        .await
        .expect("the search");
        let mut resume = None;
        let mut hits = 0;
        for row in &rows {
            let kind: i32 = row.get("kind");
            assert_ne!(kind, 2, "every window is covered");
            let position = (
                row.get::<i64, _>("id"),
                row.get::<OffsetDateTime, _>("updated_at"),
            );
            if kind == 0 {
                hits += 1;
                found.push(position.0);
            }
            resume = Some(position);
        }
        let full = hits == need;
        match resume {
            Some(position) if full || rows.last().is_some_and(|r| r.get::<i32, _>("kind") == 1) => {
                (after_id, after_at) = position;
            }
            _ => return found,
        }
    }
    panic!("the windows never reach the list's end");
}

async fn expected(pool: &PgPool, ord: i32, archived: bool) -> Vec<i64> {
    let order = match ord {
        0 => "id",
        1 => "id DESC",
        _ => "updated_at DESC, id DESC",
    };
    sqlx::query_scalar(&format!(
        "SELECT id FROM memos WHERE user_id = 1 AND archived = $1 \
         AND (title ILIKE '%議事録%' OR content ILIKE '%議事録%') ORDER BY {order}"
    ))
    .bind(archived)
    .fetch_all(pool)
    .await
    .expect("the plain search")
}

#[tokio::test]
async fn resuming_from_each_window_finds_every_match_once_and_in_order() {
    let Some(database) = TempDatabase::create().await else {
        return;
    };
    tally::ran(tally::Backend::Postgres);
    Db::connect(database.url())
        .await
        .expect("memo connects")
        .migrate()
        .await
        .expect("migrations");
    let pool = PgPool::connect(database.url()).await.expect("a pool");
    seed(&pool).await;
    for ord in [0, 1, 2] {
        for archived in [false, true] {
            let want = expected(&pool, ord, archived).await;
            assert!(want.len() > 10, "the seed has matches");
            for need in [1, 7, 50] {
                let got = by_windows(&pool, ord, archived, need).await;
                assert_eq!(
                    got, want,
                    "order {ord}, archived {archived}, pages of {need}"
                );
            }
        }
    }
    pool.close().await;
}
