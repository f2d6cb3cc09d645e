//! What every memo test binary shares, so that each thing is done one way:
//!
//! - [`process::MemoProcess`] starts the real `memo` binary on a free port
//!   with a clean environment and reads its one `memo listening on` line;
//! - [`postgres::TempDatabase`] is a PostgreSQL database of the test's own,
//!   dropped with it; [`redis::redis_url`] finds the test Redis;
//! - [`postgres::PrivatePostgres`] and [`redis::PrivateRedis`] are servers of
//!   the test's own, for tests that stop them; [`link::Link`] is a proxy a
//!   test can silence (the shared servers are never stopped);
//! - [`tally`] counts the tests that ran on each backend and prints the
//!   counts when the test binary exits, so a run that skipped a backend says
//!   so in its last lines.
//!
//! One set of environment names:
//! - `MEMO_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/test`):
//!   a server where the tests may CREATE DATABASE;
//! - `MEMO_TEST_REDIS_URL` (default `redis://127.0.0.1:6379`);
//! - `CI=true`: a missing PostgreSQL or Redis fails the tests that need it
//!   instead of skipping them (`.ci/run` sets it).
//!
//! Included by each test binary with `#[path = "../support/mod.rs"]`.

#![allow(dead_code, unreachable_pub)]

pub mod link;
pub mod postgres;
pub mod process;
pub mod redis;
pub mod tally;

use std::io::Write as _;

/// Whether missing services must fail the run (`CI=true`).
#[must_use]
pub fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// A user named `name` (no real password hash) in `db`; its id.
pub async fn add_user(db: &memo::db::Db, name: &str) -> i64 {
    let user = memo::db::NewUser {
        user_name: name,
        password_hash: "not-a-hash",
        department: None,
        manager_role_attached: false,
    };
    let inserted = db.insert_user(&user).await.expect("insert");
    inserted.expect("a new user").id
}

/// Writes a line to standard error past the test harness's capture (which
/// only captures `print!`/`eprint!`), so that it shows in every run.
pub fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}
