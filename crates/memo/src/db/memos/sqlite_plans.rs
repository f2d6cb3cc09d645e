//! Each memo read's plan on SQLite, with 100,000 memos in one account: every
//! statement reads one index range from the page's position (or the search
//! index's range of the owner), never the whole account, and sorts nothing
//! that grows with it.

use rusqlite::Connection;

use super::sqlite::reads;

const MIGRATIONS: [&str; 3] = [
    include_str!("../../../migrations/sqlite/0001_init.sql"),
    include_str!("../../../migrations/sqlite/0002_drop_revoked_tokens.sql"),
    include_str!("../../../migrations/sqlite/0003_paging_and_search.sql"),
];

fn account_of(memos: usize) -> rusqlite::Result<Connection> {
    let conn = Connection::open_in_memory()?;
    for migration in MIGRATIONS {
        conn.execute_batch(migration)?;
    }
    conn.execute_batch(
        "INSERT INTO users (user_name, password_hash, created_at) VALUES ('a', 'x', 'now'), ('b', 'x', 'now');",
    )?;
    let tx = conn.unchecked_transaction()?;
    {
        let mut insert = tx.prepare(
            "INSERT INTO memos (user_id, title, content, archived, created_at, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
        )?;
        for i in 0..memos {
            let updated = format!("2026-01-01T00:00:00.{:06}Z", i % 1_000_000);
            let content = format!("memo {i}: 東京で会議 meeting notes");
            insert.execute(rusqlite::params![
                1 + i % 2,
                format!("title {i}"),
                content,
                i % 5 == 0,
                updated
            ])?;
        }
    }
    tx.commit()?;
    conn.execute_batch("ANALYZE")?;
    Ok(conn)
}

fn plan(conn: &Connection, sql: &str) -> rusqlite::Result<String> {
    let mut statement = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
    let nulls = vec![rusqlite::types::Null; statement.parameter_count()];
    let steps = statement
        .query_map(rusqlite::params_from_iter(nulls), |row| {
            row.get::<_, String>(3)
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(steps.join(" | "))
}

#[test]
fn every_read_uses_an_index_range_and_sorts_only_matches() -> rusqlite::Result<()> {
    let conn = account_of(100_000)?;
    for (name, sql) in reads() {
        let plan = plan(&conn, sql)?;
        println!("{name}: {plan}");
        let full_scan = plan
            .split(" | ")
            .any(|step| step.starts_with("SCAN memos") && !step.contains("VIRTUAL TABLE"));
        assert!(!full_scan, "{name} scans memos: {plan}");
        if name.starts_with("list") {
            assert!(!plan.contains("TEMP B-TREE"), "{name} sorts: {plan}");
            assert!(
                plan.contains("USING INDEX memos_user_archived"),
                "{name}: {plan}"
            );
        }
        if name.starts_with("search") {
            assert!(plan.contains("VIRTUAL TABLE INDEX"), "{name}: {plan}");
            assert!(
                plan.contains("INTEGER PRIMARY KEY (rowid=?)"),
                "{name} looks up matches by id: {plan}"
            );
        }
    }
    Ok(())
}

/// The `-updated_at` index range narrows on `updated_at` alone: memos that
/// share one `updated_at` must still page by id, none lost or repeated.
#[test]
fn memos_with_one_updated_at_page_by_id() -> rusqlite::Result<()> {
    let conn = account_of(0)?;
    conn.execute_batch(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10) \
         INSERT INTO memos (user_id, title, content, archived, created_at, updated_at) \
         SELECT 1, 't', 'c', FALSE, '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z' FROM n",
    )?;
    let mut request = super::PageRequest {
        user_id: 1,
        archived: false,
        order: super::Order::UpdatedDesc,
        after: None,
        limit: 3,
        search: None,
    };
    let mut ids = Vec::new();
    loop {
        let page = super::sqlite::page(&conn, &request)?;
        ids.extend(page.memos.iter().map(|m| m.id));
        match page.next {
            Some(next) => request.after = Some(next),
            None => break,
        }
    }
    assert_eq!(ids, (1..=10).rev().collect::<Vec<i64>>());
    Ok(())
}
