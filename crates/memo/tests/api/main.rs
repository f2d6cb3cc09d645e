//! The memo API, black box: each test starts the real server on a random
//! port with a database of its own and talks HTTP to it like a browser (a
//! `reqwest` client with a cookie store). Every scenario runs twice, on
//! SQLite (`sqlite::*`) and on PostgreSQL (`postgres::*`).
//!
//! PostgreSQL: `MEMO_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`) must allow CREATE DATABASE.
//! When it is unreachable the PostgreSQL tests say so and skip, except with
//! `CI=true`, where they fail. Logs: `TEST_LOG=1`.

mod helpers;

mod auth;
mod bad_input;
mod binary;
mod hardening;
mod limits;
mod memos;
mod original_client;
mod paging;
mod platform;
mod redis;
mod scale_out;
mod sessions;
