//! Crash safety: the real `memo` binary is killed with SIGKILL in the middle
//! of a stream of memo writes from several clients, then restarted on the
//! same data. Every write that was answered 2xx must be there, unchanged, and
//! no row may be half-written: each memo's title carries a checksum of its
//! content and the number of its content's characters, checked on every row
//! read back. The same for refresh-token rotations (the session store's
//! writes, group-committed on SQLite): every login's newest acknowledged
//! refresh token still refreshes after the restart.
//!
//! Runs on SQLite (a temporary data dir; the file is also checked with
//! `PRAGMA integrity_check`) and on PostgreSQL (a fresh database, dropped
//! after; `MEMO_TEST_POSTGRES_URL`, see `tests/support/mod.rs`; skipped
//! when unreachable, except with `CI=true`).

#[path = "support/mod.rs"]
mod support;

use std::{
    collections::HashMap,
    io::Write as _,
    path::Path,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use reqwest::{StatusCode, cookie::CookieStore as _};
use serde_json::{Value, json};
use support::{postgres::TempDatabase, process::MemoProcess, tally};

const SECRET: &str = "crash-test-secret-crash-test-secret-crash-test-secret";
const WRITERS: usize = 4;
/// Acknowledged writes before the kill (the writers keep going meanwhile).
const KILL_AFTER_ACKS: usize = 80;
const USER: &str = "crash-tester";
const PASSWORD: &str = "crash-tester-password";

/// Starts `memo` on a free port; returns it and its base URL.
fn start(data_dir: &Path, database_url: &str, log: &Path) -> (MemoProcess, String) {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("the log file");
    let server = MemoProcess::start(
        MemoProcess::command(data_dir)
            .env("DATABASE_URL", database_url)
            .env("JWT_SECRET_KEY", SECRET)
            .env("MEMO_RATE_LIMITS", "off")
            .stderr(log),
    );
    let address = server.address.clone();
    (server, address)
}

/// FNV-1a, 64 bits: enough to tell a torn or mixed-up content.
fn checksum(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Content of a few bytes to ~40 KB, so some writes span many pages.
fn content_for(writer: usize, n: usize) -> String {
    let len = (n * 7919 + writer * 104_729) % 40_000 + 1;
    let unit = format!("w{writer}n{n}-");
    unit.repeat(len / unit.len() + 1)[..len].to_owned()
}

fn title_for(writer: usize, n: usize, content: &str) -> String {
    format!(
        "w{writer} n{n} len{} sum{:016x}",
        content.chars().count(),
        checksum(content)
    )
}

/// A logged-in client and its CSRF value.
async fn logged_in(address: &str, register: bool) -> (reqwest::Client, String) {
    let (client, jar) = login(address, register).await;
    let csrf = jar_cookie(&jar, address, "/", "csrf_access_token");
    (client, csrf)
}

/// A client logged in (registered first if asked) with a cookie jar of its
/// own: one login, one refresh-token family.
async fn login(address: &str, register: bool) -> (reqwest::Client, Arc<reqwest::cookie::Jar>) {
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let client = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .timeout(Duration::from_secs(20))
        .build()
        .expect("a client");
    let credentials = json!({ "user_name": USER, "password": PASSWORD });
    if register {
        let response = client
            .post(format!("{address}/api/auth/register"))
            .json(&credentials)
            .send()
            .await
            .expect("register");
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    let response = client
        .post(format!("{address}/api/auth/login"))
        .json(&credentials)
        .send()
        .await
        .expect("login");
    assert_eq!(response.status(), StatusCode::OK);
    (client, jar)
}

/// One write as sent.
#[derive(Clone, Debug)]
struct Sent {
    title: String,
    content: String,
}

#[derive(Default)]
struct Ledger {
    /// Every write sent, by title: a write whose answer was lost in the kill
    /// may or may not be there, but nothing else may.
    attempted: Mutex<HashMap<String, Sent>>,
    /// Writes answered 2xx, with the id the server gave.
    acknowledged: Mutex<Vec<(i64, Sent)>>,
    acks: AtomicUsize,
}

async fn writer(
    id: usize,
    client: reqwest::Client,
    csrf: String,
    address: String,
    ledger: Arc<Ledger>,
    stop: Arc<AtomicBool>,
) {
    for n in 0.. {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let content = content_for(id, n);
        let sent = Sent {
            title: title_for(id, n, &content),
            content,
        };
        if let Ok(mut attempted) = ledger.attempted.lock() {
            attempted.insert(sent.title.clone(), sent.clone());
        }
        let response = client
            .post(format!("{address}/api/memos"))
            .header("X-CSRF-TOKEN", &csrf)
            .json(&json!({ "title": sent.title, "content": sent.content }))
            .send()
            .await;
        let Ok(response) = response else { return };
        if !response.status().is_success() {
            return;
        }
        // The 2xx status line is the acknowledgement; a body cut by the kill
        // still means the server had committed.
        let id = match response.json::<Value>().await {
            Ok(body) => body["id"].as_i64().unwrap_or(-1),
            Err(_) => -1,
        };
        if let Ok(mut acknowledged) = ledger.acknowledged.lock() {
            acknowledged.push((id, sent));
        }
        ledger.acks.fetch_add(1, Ordering::SeqCst);
    }
}

/// The whole scenario on one database.
async fn kill_mid_stream_and_check(database_url: &str, sqlite_file: Option<&Path>) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let log = dir.path().join("memo.log");
    let (mut server, address) = start(dir.path(), database_url, &log);
    let (client, csrf) = logged_in(&address, true).await;

    let ledger = Arc::new(Ledger::default());
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..WRITERS)
        .map(|id| {
            tokio::spawn(writer(
                id,
                client.clone(),
                csrf.clone(),
                address.clone(),
                ledger.clone(),
                stop.clone(),
            ))
        })
        .collect();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while ledger.acks.load(Ordering::SeqCst) < KILL_AFTER_ACKS {
        assert!(
            tokio::time::Instant::now() < deadline,
            "too few writes acknowledged; server log:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // SIGKILL while the writers are still sending: no shutdown code runs.
    server.kill();
    stop.store(true, Ordering::Relaxed);
    for writer in writers {
        writer.await.expect("a writer");
    }
    drop(server);

    let (mut server, address) = start(dir.path(), database_url, &log);
    let (client, _) = logged_in(&address, false).await;
    // Every page of the list, by its `next` links.
    let mut rows: Vec<Value> = Vec::new();
    let mut next = Some("/api/memos?limit=200".to_owned());
    while let Some(path) = next {
        let response = client
            .get(format!("{address}{path}"))
            .send()
            .await
            .expect("the list");
        next = response
            .headers()
            .get("link")
            .and_then(|link| link.to_str().ok())
            .and_then(|link| link.split_once('>'))
            .and_then(|(url, _)| url.strip_prefix('<'))
            .map(str::to_owned);
        let page: Vec<Value> = response.json().await.expect("JSON");
        rows.extend(page);
    }

    let acknowledged = ledger.acknowledged.lock().expect("the ledger").clone();
    let attempted = ledger.attempted.lock().expect("the ledger").clone();
    assert!(acknowledged.len() >= KILL_AFTER_ACKS);
    let mut found: HashMap<&str, &Value> = HashMap::new();
    for row in &rows {
        let title = row["title"].as_str().expect("a title");
        let content = row["content"].as_str().expect("a content");
        assert!(
            found.insert(title, row).is_none(),
            "the write {title:?} is there twice"
        );
        let sent = attempted
            .get(title)
            .unwrap_or_else(|| panic!("a row nobody wrote: {title:?}"));
        assert_eq!(
            title_for_content(title, content),
            title,
            "a half-written or mixed-up row"
        );
        assert_eq!(content, sent.content, "{title}: content differs");
    }
    for (id, sent) in &acknowledged {
        let row = found
            .get(sent.title.as_str())
            .unwrap_or_else(|| panic!("acknowledged write {:?} is lost", sent.title));
        assert_eq!(row["content"].as_str(), Some(sent.content.as_str()));
        if *id >= 0 {
            assert_eq!(row["id"].as_i64(), Some(*id), "{}: id changed", sent.title);
        }
    }
    let _ = writeln!(
        std::io::stderr(),
        "crash test: {} acknowledged, {} attempted, {} rows after the restart",
        acknowledged.len(),
        attempted.len(),
        rows.len()
    );

    if let Some(file) = sqlite_file {
        use sqlx::Connection as _;
        // memo serve keeps its SQLite file to itself while it runs.
        server.terminate();
        assert!(
            server.wait().success(),
            "memo stops cleanly after recovering"
        );
        let url = format!("sqlite://{}", file.display());
        let mut connection = sqlx::SqliteConnection::connect(&url)
            .await
            .expect("the SQLite file opens");
        let (check,): (String,) = sqlx::query_as("PRAGMA integrity_check")
            .fetch_one(&mut connection)
            .await
            .expect("integrity_check");
        assert_eq!(check, "ok");
        let (mode,): (String,) = sqlx::query_as("PRAGMA journal_mode")
            .fetch_one(&mut connection)
            .await
            .expect("journal_mode");
        assert_eq!(mode, "wal");
    }
}

/// The title the content should have, keeping the writer/number part of the
/// stored title.
fn title_for_content(title: &str, content: &str) -> String {
    let prefix: Vec<&str> = title.split(' ').take(2).collect();
    format!(
        "{} len{} sum{:016x}",
        prefix.join(" "),
        content.chars().count(),
        checksum(content)
    )
}

/// Logins that refresh concurrently, each with its own cookie jar.
const REFRESHERS: usize = 8;
/// Acknowledged rotations before the kill (the refreshers keep going).
const KILL_AFTER_ROTATIONS: usize = 200;

/// The value of the cookie `name` that `client`'s jar sends to `address`.
fn jar_cookie(jar: &reqwest::cookie::Jar, address: &str, path: &str, name: &str) -> String {
    let url = reqwest::Url::parse(&format!("{address}{path}")).expect("a URL");
    let cookies = jar.cookies(&url).expect("cookies");
    cookies
        .to_str()
        .expect("ASCII")
        .split("; ")
        .find_map(|pair| pair.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} cookie"))
        .to_owned()
}

/// `POST /api/auth/refresh` with the jar's refresh cookie and its CSRF value.
async fn refresh(
    client: &reqwest::Client,
    jar: &reqwest::cookie::Jar,
    address: &str,
) -> reqwest::Result<StatusCode> {
    let csrf = jar_cookie(jar, address, "/api/auth/refresh", "csrf_refresh_token");
    let response = client
        .post(format!("{address}/api/auth/refresh"))
        .header("X-CSRF-TOKEN", csrf)
        .send()
        .await?;
    Ok(response.status())
}

/// Refreshes until the server goes away; the jar keeps the newest cookies
/// acknowledged.
async fn refresher(
    client: reqwest::Client,
    jar: Arc<reqwest::cookie::Jar>,
    address: String,
    rotations: Arc<AtomicUsize>,
) {
    while let Ok(status) = refresh(&client, &jar, &address).await {
        assert_eq!(status, StatusCode::OK, "a refresh before the kill");
        rotations.fetch_add(1, Ordering::SeqCst);
    }
}

/// Kills memo while logins refresh, restarts it, and presents each login's
/// newest acknowledged refresh token. It must refresh: a rotation lost after
/// its answer would leave the family's current token an older one, and the
/// newest would be taken for a stolen token (401, the family revoked). If the
/// rotation in flight at the kill was committed, the newest acknowledged
/// token was retired a moment ago and gets that rotation's successor again
/// (the grace window, 10 s by default, outlasts the restart).
async fn kill_mid_refreshes_and_check(database_url: &str) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let log = dir.path().join("memo.log");
    let (mut server, address) = start(dir.path(), database_url, &log);
    let mut logins = vec![login(&address, true).await];
    for _ in 1..REFRESHERS {
        logins.push(login(&address, false).await);
    }
    let rotations = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = logins
        .iter()
        .map(|(client, jar)| {
            tokio::spawn(refresher(
                client.clone(),
                jar.clone(),
                address.clone(),
                rotations.clone(),
            ))
        })
        .collect();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while rotations.load(Ordering::SeqCst) < KILL_AFTER_ROTATIONS {
        assert!(
            tokio::time::Instant::now() < deadline,
            "too few refreshes acknowledged; server log:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.kill();
    for task in tasks {
        task.await.expect("a refresher");
    }
    drop(server);

    let (_server, new_address) = start(dir.path(), database_url, &log);
    for (n, (_, jar)) in logins.iter().enumerate() {
        // The jars hold cookies for the old port: carry them over by hand.
        let refresh_token = jar_cookie(jar, &address, "/api/auth/refresh", "refresh_token_cookie");
        let csrf = jar_cookie(jar, &address, "/api/auth/refresh", "csrf_refresh_token");
        let status = reqwest::Client::new()
            .post(format!("{new_address}/api/auth/refresh"))
            .header("Cookie", format!("refresh_token_cookie={refresh_token}"))
            .header("X-CSRF-TOKEN", csrf)
            .send()
            .await
            .expect("refresh after the restart")
            .status();
        assert_eq!(
            status,
            StatusCode::OK,
            "login {n}: its newest acknowledged refresh token was refused after the restart"
        );
    }
    let _ = writeln!(
        std::io::stderr(),
        "crash test: {} rotations acknowledged before the kill, {REFRESHERS} logins refreshed after",
        rotations.load(Ordering::SeqCst)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_keeps_every_acknowledged_rotation_across_a_kill_9() {
    tally::ran(tally::Backend::Sqlite);
    let dir = tempfile::tempdir().expect("a temporary folder");
    let file = dir.path().join("memo.db");
    kill_mid_refreshes_and_check(&format!("sqlite://{}", file.display())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_keeps_every_acknowledged_rotation_across_a_kill_9() {
    let Some(database) = TempDatabase::create().await else {
        return;
    };
    tally::ran(tally::Backend::Postgres);
    kill_mid_refreshes_and_check(database.url()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_keeps_every_acknowledged_write_across_a_kill_9() {
    tally::ran(tally::Backend::Sqlite);
    let dir = tempfile::tempdir().expect("a temporary folder");
    let file = dir.path().join("memo.db");
    kill_mid_stream_and_check(&format!("sqlite://{}", file.display()), Some(&file)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_keeps_every_acknowledged_write_across_a_kill_9() {
    let Some(database) = TempDatabase::create().await else {
        return;
    };
    tally::ran(tally::Backend::Postgres);
    kill_mid_stream_and_check(database.url(), None).await;
}
