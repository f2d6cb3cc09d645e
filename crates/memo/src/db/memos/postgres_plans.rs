//! Each prepared memo read's plan on PostgreSQL, as memo's connections plan
//! it (`db::postgres_options`: one generic plan per statement), beside an
//! account of 100,000 memos: every statement reads its page, not the
//! account or the table, whoever asks and wherever the page is.
//!
//! PostgreSQL (14 or later, for `pg_prepared_statements.generic_plans`):
//! `MEMO_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/test`);
//! skipped when unreachable, except with `CI=true`.

use std::{io::Write as _, time::Duration};

use sqlx::{Connection as _, PgConnection, Row as _};

use super::{SEARCH_SCAN, postgres::reads};
use crate::db::postgres_options;

/// Buffer reads a page of 21 memos may make: the index's levels and a leaf
/// or two, and a heap page per memo at most (the walk of another owner's
/// memos through the primary key made over 5,000).
const MOST_BUFFERS: i64 = 40;

/// A scan, or its end, reads up to [`SEARCH_SCAN`] memos of one owner, each a
/// heap fetch.
const MOST_SCAN_BUFFERS: i64 = SEARCH_SCAN + MOST_BUFFERS;

/// A search by the index: the trigram index's entries for the text (about
/// 170-240 here) and the matches by id; an owner's whole list is thousands.
const MOST_SEARCH_BUFFERS: i64 = 500;

/// Writes past the test harness's capture, so that a skip shows.
fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// `url` with its database replaced by `name`, its query kept.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let server = base.rsplit_once('/').map_or(base, |(server, _)| server);
    match query {
        Some(query) => format!("{server}/{name}?{query}"),
        None => format!("{server}/{name}"),
    }
}

/// A database of the test's own, dropped (`WITH (FORCE)`) with this value.
pub(super) struct Scratch {
    admin_url: String,
    name: String,
}

impl Scratch {
    pub(super) async fn create() -> Option<(Self, String)> {
        let admin_url = std::env::var("MEMO_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
        let connected =
            tokio::time::timeout(Duration::from_secs(5), PgConnection::connect(&admin_url)).await;
        let mut admin = match connected {
            Ok(Ok(admin)) => admin,
            failed => {
                let why = failed.map_or_else(|_| "timed out".to_owned(), |e| format!("{e:?}"));
                assert!(
                    !std::env::var("CI").is_ok_and(|v| v == "true"),
                    "PostgreSQL is unreachable at {admin_url} ({why}), and CI=true requires it"
                );
                say(&format!(
                    "SKIPPING a test of memo's PostgreSQL statements: {admin_url} is unreachable ({why})"
                ));
                return None;
            }
        };
        let name = format!("memo_test_{}", uuid::Uuid::new_v4().simple());
        let url = with_database(&admin_url, &name);
        sqlx::query(&format!(r#"CREATE DATABASE "{name}""#))
            .execute(&mut admin)
            .await
            .expect("CREATE DATABASE");
        Some((Self { admin_url, name }, url))
    }

    /// A database of the test's own with memo's schema, and a connection to it
    /// as memo's pool makes them.
    pub(super) async fn migrated() -> Option<(Self, PgConnection)> {
        let (scratch, url) = Self::create().await?;
        let mut connection = PgConnection::connect_with(&postgres_options(&url).expect("url"))
            .await
            .expect("connect");
        sqlx::migrate!("./migrations/postgres")
            .run(&mut connection)
            .await
            .expect("migrate");
        Some((scratch, connection))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                let mut admin = PgConnection::connect(&admin_url).await?;
                sqlx::query(&format!(r#"DROP DATABASE "{name}" WITH (FORCE)"#))
                    .execute(&mut admin)
                    .await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(_))) {
            say(&format!(
                "warning: could not drop the test database {}",
                self.name
            ));
        }
    }
}

/// Runs `sql` unprepared (sqlx's own statements stay out of the way).
async fn execute(connection: &mut PgConnection, sql: &str) {
    sqlx::raw_sql(sql)
        .execute(&mut *connection)
        .await
        .expect(sql);
}

/// Owner 1 writes 20 memos (every other one archived), then owner 2 writes
/// 100,000 (every fifth archived), edited in an order of their own. The
/// table is vacuumed as one in service is, and autovacuum kept from
/// rebuilding the plans halfway.
async fn two_owners(connection: &mut PgConnection) {
    for sql in [
        "ALTER TABLE memos SET (autovacuum_enabled = off)",
        "INSERT INTO users (user_name, user_name_key, password_hash, created_at) \
         VALUES ('few', 'few', 'x', now()), ('many', 'many', 'x', now())",
        "INSERT INTO memos (user_id, title, content, archived, created_at, updated_at) \
         SELECT 1, 'memo ' || n, 'a note', n % 2 = 0, now(), '2026-01-01'::timestamptz + n * interval '1 s' \
         FROM generate_series(1, 20) AS n",
        "INSERT INTO memos (user_id, title, content, archived, created_at, updated_at) \
         SELECT 2, 'memo ' || n, '東京で会議 meeting notes', n % 5 = 0, now(), \
         '2026-01-01'::timestamptz + ((n * 7919) % 100000) * interval '1 s' \
         FROM generate_series(1, 100000) AS n",
        "VACUUM ANALYZE memos",
    ] {
        execute(connection, sql).await;
    }
}

/// The parameter types of a read, by its name.
fn parameter_types(name: &str) -> &'static str {
    if name.starts_with("scan by") || name.starts_with("search by") {
        "bigint, boolean, bigint, timestamptz, bigint, text, bigint"
    } else if name.starts_with("pages") {
        "bigint[], boolean[], bigint[], timestamptz[], bigint[]"
    } else {
        "bigint, boolean, bigint, timestamptz, bigint"
    }
}

/// Arguments that ask `owner`'s first page, and the page after its end.
fn pages(name: &str, owner: i64, archived: bool) -> [String; 2] {
    let by_id = name.ends_with("by id");
    let first = if by_id { "0" } else { "9223372036854775807" };
    let past_end = match (by_id, owner) {
        (true, 1) => "20",
        (true, _) => "100020",
        (false, _) => "0",
    };
    let limit = if name.starts_with("scan end") {
        "1000"
    } else {
        "21"
    };
    let tail = match name.split(" by").next() {
        Some("scan") => ", '%zzz%', 1000",
        // 11 of the 100,000 memos ("memo 4242", "memo 42420" to "memo 42429").
        Some("search") => ", '%memo 4242%', 1001",
        _ => "",
    };
    [first, past_end].map(|id| {
        let at = if id == "0" && !by_id {
            "'2025-01-01'"
        } else {
            "'9999-12-31'"
        };
        if name.starts_with("pages") {
            // One page of a batch: the arrays of one.
            return format!("'{{{owner}}}', '{{{archived}}}', '{{{id}}}', ARRAY[{at}]::timestamptz[], '{{{limit}}}'");
        }
        format!("{owner}, {archived}, {id}, {at}, {limit}{tail}")
    })
}

/// Checks a plan: a page, a scan or a scan's end reads one range of a list
/// index (a scan up to [`SEARCH_SCAN`] memos); a search by the index reads
/// its matches by id, never the owner's range.
fn check(name: &str, arguments: &str, plan: &str) {
    assert!(!plan.contains("Seq Scan"), "{name} scans memos:\n{plan}");
    let read = buffers(plan);
    assert!(read > 0, "{name} ({arguments}) read nothing?\n{plan}");
    let most = if name.starts_with("search") {
        assert!(
            plan.contains("memos_pkey"),
            "{name} reads the matches by id:\n{plan}"
        );
        assert!(
            !plan.contains("memos_user_archived"),
            "{name} reads the owner's range:\n{plan}"
        );
        MOST_SEARCH_BUFFERS
    } else {
        assert!(
            !plan.contains("memos_pkey"),
            "{name} walks the primary key:\n{plan}"
        );
        assert!(plan.contains("memos_user_archived"), "{name}:\n{plan}");
        if name.starts_with("scan") {
            MOST_SCAN_BUFFERS
        } else {
            MOST_BUFFERS
        }
    };
    assert!(
        read <= most,
        "{name} ({arguments}) made {read} buffer reads:\n{plan}"
    );
}

/// The buffer reads (hits and reads from disk) of the plan's top node, which
/// counts its children's and, for a function, the function's statements'.
fn buffers(plan: &str) -> i64 {
    let line = plan
        .lines()
        .find(|line| line.trim_start().starts_with("Buffers: shared"))
        .unwrap_or_else(|| panic!("no shared buffers in the plan:\n{plan}"));
    let shared = line.split("Buffers: shared").nth(1).unwrap_or_default();
    let shared = shared.split(',').next().unwrap_or_default();
    ["hit=", "read="]
        .iter()
        .filter_map(|key| {
            let (_, after) = shared.split_once(key)?;
            after.split_whitespace().next()?.parse::<i64>().ok()
        })
        .sum()
}

/// Then 2,000 more owners of 20 memos each: a generic plan is costed for
/// the average owner, now one of 20 memos, and must still suit both.
async fn many_small_owners(connection: &mut PgConnection) {
    for sql in [
        "INSERT INTO users (user_name, user_name_key, password_hash, created_at) \
         SELECT 'small' || n, 'small' || n, 'x', now() FROM generate_series(1, 2000) AS n",
        "INSERT INTO memos (user_id, title, content, archived, created_at, updated_at) \
         SELECT 3 + n % 2000, 'memo ' || n, 'a note', n % 5 = 0, now(), \
         '2026-01-01'::timestamptz + n * interval '1 s' FROM generate_series(1, 40000) AS n",
        "VACUUM ANALYZE memos",
    ] {
        execute(connection, sql).await;
    }
}

/// Prepares every read as memo's connection would (as `{round}_N`), runs it
/// for owners 1 and 2, and checks each plan, and that every run was on the
/// generic plan (the connection's option took).
async fn check_every_read(connection: &mut PgConnection, round: &str) {
    let reads = reads();
    // The windows' search is a function that plans its own statements.
    let prepared = reads
        .iter()
        .filter(|(name, _)| *name != "search by windows");
    for (n, (name, sql)) in prepared.enumerate() {
        let statement = format!("{round}_{n}");
        let prepare = format!("PREPARE {statement} ({}) AS {sql}", parameter_types(name));
        execute(connection, &prepare).await;
        for (owner, archived) in [(1, false), (1, true), (2, false), (2, true)] {
            for arguments in pages(name, owner, archived) {
                let explain = format!(
                    "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF, SUMMARY OFF) \
                     EXECUTE {statement}({arguments})"
                );
                let rows = sqlx::raw_sql(&explain)
                    .fetch_all(&mut *connection)
                    .await
                    .expect(&explain);
                let plan: Vec<String> = rows.iter().map(|row| row.get(0)).collect();
                let plan = plan.join("\n");
                println!(
                    "{name} ({arguments}): {} buffer reads\n{plan}",
                    buffers(&plan)
                );
                check(name, &arguments, &plan);
            }
        }
        let (generic, custom): (i64, i64) = sqlx::query_as(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE name = $1",
        )
        .bind(&statement)
        .fetch_one(&mut *connection)
        .await
        .expect("pg_prepared_statements");
        assert_eq!(
            (generic, custom),
            (8, 0),
            "{name} was planned per call: is plan_cache_mode set on the connection?"
        );
    }
}

#[tokio::test]
async fn every_read_runs_on_one_generic_plan_and_reads_its_page_not_the_table() {
    let Some((_scratch, mut connection)) = Scratch::migrated().await else {
        return;
    };
    two_owners(&mut connection).await;
    check_every_read(&mut connection, "two_owners").await;
    many_small_owners(&mut connection).await;
    check_every_read(&mut connection, "many_owners").await;
}

/// The search's matches are planned per call with the text (migration 0007),
/// whatever the connection's mode.
#[tokio::test]
async fn the_searchs_matches_are_planned_with_the_text() {
    let Some((_scratch, mut connection)) = Scratch::migrated().await else {
        return;
    };
    let (settings,): (Vec<String>,) =
        sqlx::query_as("SELECT proconfig FROM pg_proc WHERE proname = 'memo_search_hits'")
            .fetch_one(&mut connection)
            .await
            .expect("memo_search_hits");
    assert!(
        settings
            .iter()
            .any(|s| s == "plan_cache_mode=force_custom_plan"),
        "{settings:?}"
    );
}
