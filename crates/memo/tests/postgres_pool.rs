//! What memo's PostgreSQL pool sends besides the statements: a connection
//! used a moment ago is handed out without a ping (sqlx pinged it before
//! every statement, a second round trip on every request), and one idle for
//! half a second or more is pinged first.
//!
//! PostgreSQL: `MEMO_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`); skipped when unreachable,
//! except with `CI=true`.

use std::time::Duration;

use memo::db::Db;

#[path = "support/mod.rs"]
mod support;

use support::{link::Link, postgres::TempDatabase};

/// A client message as the link saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sent {
    /// A `Sync` on its own: sqlx's ping.
    Ping,
    /// `Parse`, `Bind` or `Query`: a statement.
    Statement,
}

/// Each connection's pings and statements, in order; the connection
/// start-up and the rest left out.
fn pings_and_statements(link: &Link) -> Vec<Vec<Sent>> {
    link.sent()
        .into_iter()
        .map(|chunks| {
            chunks
                .into_iter()
                .filter_map(|chunk| match chunk {
                    (b'S', 5) => Some(Sent::Ping),
                    (b'P' | b'B' | b'Q', _) => Some(Sent::Statement),
                    _ => None,
                })
                .collect()
        })
        .collect()
}

/// Per connection, how many pings came between each statement and the one
/// before it (the first statement of each connection is left out).
fn pings_between_statements(link: &Link) -> Vec<Vec<usize>> {
    let mut connections = Vec::new();
    for connection in pings_and_statements(link) {
        let mut counts = Vec::new();
        let mut pings = None;
        for sent in connection {
            match (sent, pings) {
                (Sent::Ping, Some(n)) => pings = Some(n + 1),
                (Sent::Ping, None) => {}
                (Sent::Statement, Some(n)) => {
                    counts.push(n);
                    pings = Some(0);
                }
                (Sent::Statement, None) => pings = Some(0),
            }
        }
        connections.push(counts);
    }
    connections
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_used_a_moment_ago_is_not_pinged_and_an_idle_one_is() {
    let Some(database) = TempDatabase::create().await else {
        return;
    };
    let server = database
        .url()
        .split_once("://")
        .and_then(|(_, rest)| rest.split_once('@'))
        .and_then(|(_, rest)| rest.split_once('/'))
        .map(|(host, _)| host.to_owned())
        .expect("host:port in the URL");
    let link = Link::to(&server).await;
    let name = database.url().rsplit('/').next().expect("a database name");
    let db = Db::connect(&format!("postgres://postgres@{}/{name}", link.address()))
        .await
        .expect("the database");

    for _ in 0..50 {
        db.ping().await.expect("SELECT 1");
    }
    let warm = pings_between_statements(&link);
    let reuses: usize = warm.iter().map(Vec::len).sum();
    assert!(reuses >= 40, "statements reused connections: {warm:?}");
    assert!(
        warm.iter().flatten().all(|&pings| pings <= 1),
        "a warm connection gets only the ping after its use: {warm:?}"
    );

    // The idle time is what is tested, not a wait for something to happen.
    tokio::time::sleep(Duration::from_millis(700)).await;
    db.ping().await.expect("SELECT 1");
    let after_idle = pings_between_statements(&link);
    let reused: Vec<&usize> = after_idle
        .iter()
        .zip(warm.iter().chain(std::iter::repeat(&Vec::new())))
        .filter(|(now, before)| now.len() > before.len())
        .filter_map(|(now, _)| now.last())
        .collect();
    assert_eq!(
        reused,
        [&2],
        "the idle connection was pinged after its last use and again before this one: {after_idle:?}"
    );
    db.close().await;
}
