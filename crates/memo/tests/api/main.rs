//! The memo API, black box: each test starts the real server on a random
//! port with a database of its own and talks HTTP to it like a browser (a
//! `reqwest` client with a cookie store). Every scenario runs twice, on
//! SQLite (`sqlite::*`) and on PostgreSQL (`postgres::*`).
//!
//! PostgreSQL and Redis come from `MEMO_TEST_POSTGRES_URL` and
//! `MEMO_TEST_REDIS_URL` (see `tests/support/mod.rs`). When one is
//! unreachable its tests say so and skip, except with `CI=true`, where they
//! fail; the last line of the run counts the tests of each backend. Logs:
//! `TEST_LOG=1`.

mod helpers;
#[path = "../support/mod.rs"]
mod support;

mod account;
mod auth;
mod bad_input;
mod binary;
mod connections;
mod faults;
mod hardening;
mod limits;
mod memos;
mod original_client;
mod paging;
mod platform;
mod redis;
mod scale_out;
mod sessions;
mod user_names;
