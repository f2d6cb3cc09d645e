//! How memo's PostgreSQL pool hands out connections: without a round trip
//! to check one that was in use a moment ago.
//!
//! sqlx's pool, by default, pings every idle connection before handing it
//! out (`test_before_acquire`), and pings it again when it is returned. A
//! request that runs one statement (a page of memos, a rotation) therefore
//! made three round trips to PostgreSQL: ping, statement, ping. The ping
//! on return stays (sqlx 0.8 always makes it, off the request's path); the
//! one before is made only for a connection idle for [`TRUSTED_IDLE`] or
//! more, as HikariCP does with its `aliveBypassWindowMs`. A connection
//! returned less than that ago has just answered that ping, and one that
//! broke since fails its statement, which answers 503 and is closed; the
//! outage watcher (`outage.rs`) makes the requests after it fail fast.

use std::time::Duration;

use sqlx::{Connection as _, postgres::PgPoolOptions};

/// A connection idle for less than this is handed out unchecked
/// (HikariCP's default bypass window).
const TRUSTED_IDLE: Duration = Duration::from_millis(500);

/// The pool's options, with `max_connections` and `acquire_timeout`.
pub(super) fn options(max_connections: u32, acquire_timeout: Duration) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(acquire_timeout)
        .test_before_acquire(false)
        .before_acquire(|connection, meta| {
            Box::pin(async move {
                if meta.idle_for >= TRUSTED_IDLE {
                    connection.ping().await?;
                }
                Ok(true)
            })
        })
}
