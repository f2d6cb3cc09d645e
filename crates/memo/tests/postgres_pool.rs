//! What memo's PostgreSQL pool sends besides the statements: a connection
//! used a moment ago is handed out without a ping (sqlx pinged it before
//! every statement, a second round trip on every request), and one idle for
//! half a second or more is pinged first; memo's and the session store's
//! statements, on connections kept out of the pool, are not pinged on their
//! return either.
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

/// A link to `database`'s server, and the database's URL through it.
async fn linked(database: &TempDatabase) -> (Link, String) {
    let server = database
        .url()
        .split_once("://")
        .and_then(|(_, rest)| rest.split_once('@'))
        .and_then(|(_, rest)| rest.split_once('/'))
        .map(|(host, _)| host.to_owned())
        .expect("host:port in the URL");
    let link = Link::to(&server).await;
    let name = database.url().rsplit('/').next().expect("a database name");
    let url = format!("postgres://postgres@{}/{name}", link.address());
    (link, url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_used_a_moment_ago_is_not_pinged_and_an_idle_one_is() {
    let Some(database) = TempDatabase::create().await else {
        return;
    };
    let (link, url) = linked(&database).await;
    let db = Db::connect(&url).await.expect("the database");

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

/// memo's statements and the session store's share the connections kept
/// out of sqlx's pool: after a warm-up, a page of memos and a rotation make
/// one round trip each, with no ping between them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memo_s_and_the_session_store_s_statements_are_not_pinged_at_all() {
    use jwt_extended::{RefreshId, SessionInfo, SessionStore as _, SqlStore};
    use memo::db::{Order, PageRequest};

    let Some(database) = TempDatabase::create().await else {
        return;
    };
    let (link, url) = linked(&database).await;
    let db = Db::connect(&url).await.expect("the database");
    db.migrate().await.expect("migrations");
    let connections = db.postgres_connections().expect("PostgreSQL");
    let store = SqlStore::postgres_with(connections.clone());
    store.migrate().await.expect("the store's tables");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let session = SessionInfo {
        id: "fam".into(),
        user: "1".into(),
        created_at: now,
        last_used_at: now,
        user_agent: None,
        expires_at: Some(now + 600),
    };
    let mut presented = RefreshId {
        jti: "r0".into(),
        exp: Some(now + 600),
    };
    store.create(&session, &presented).await.expect("login");
    let page = PageRequest {
        user_id: 1,
        archived: false,
        order: Order::default(),
        after: None,
        limit: 20,
        search: None,
    };
    let before = pings_between_statements(&link);
    for n in 1..=30 {
        db.memo_page(&page).await.expect("a page");
        let successor = RefreshId {
            jti: format!("r{n}"),
            exp: Some(now + 600),
        };
        store
            .rotate("fam", &presented.jti, &successor, Duration::ZERO)
            .await
            .expect("a rotation");
        presented = successor;
    }
    let after = pings_between_statements(&link);
    let new: Vec<usize> = after
        .iter()
        .zip(before.iter().chain(std::iter::repeat(&Vec::new())))
        .flat_map(|(now, before)| now[before.len()..].to_vec())
        .collect();
    assert!(
        new.len() >= 60,
        "60 statements on reused connections: {after:?}"
    );
    assert!(
        new.iter().all(|&pings| pings == 0),
        "no ping between two statements on a kept connection: {after:?}"
    );
    db.close().await;
}
