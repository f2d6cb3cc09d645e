//! PostgreSQL outages fail fast.
//!
//! sqlx's pool retries a refused connection until its acquire timeout (5 s)
//! runs out, so while PostgreSQL is down every request waited 5 s for its
//! 503. A watcher with a connection of its own pings PostgreSQL every
//! [`PROBE_INTERVAL`]; when the ping fails and a new connection cannot be
//! made either, PostgreSQL counts as down and the pool's connect options are
//! swapped for ones that fail at once: a Unix socket that does not exist,
//! an error sqlx does not retry. New requests, and those already in sqlx's
//! retry loop (it reads the options at every attempt), then get their 503
//! within milliseconds. As soon as the watcher connects again the real
//! options are back, and the pool reconnects on the next requests.
//!
//! A busy pool is not an outage: a request still waits up to the acquire
//! timeout for a connection that another request holds.

use std::{sync::Arc, time::Duration};

use sqlx::{Connection as _, PgConnection, PgPool, postgres::PgConnectOptions};
use tokio::task::JoinHandle;

/// How often the watcher pings PostgreSQL: at most this long after
/// PostgreSQL stops (and its connections are closed), requests fail fast.
const PROBE_INTERVAL: Duration = Duration::from_millis(200);

/// How long a ping or a connection attempt of the watcher may take before
/// PostgreSQL counts as unreachable.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// Where the pool connects while PostgreSQL is down: a socket in a folder
/// that does not exist, so that every attempt fails at once.
const NOWHERE: &str = "/nonexistent/memo-postgres-is-down";

/// The watcher task; dropping it stops the task.
#[derive(Debug)]
pub(super) struct OutageWatch {
    task: JoinHandle<()>,
}

impl OutageWatch {
    /// Starts watching the PostgreSQL that `pool` connects to.
    pub(super) fn start(pool: &PgPool) -> Self {
        let options = pool.connect_options();
        Self {
            task: tokio::spawn(watch(pool.clone(), options)),
        }
    }

    /// Stops the watcher (and leaves the pool's options as they are).
    pub(super) fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for OutageWatch {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn watch(pool: PgPool, options: Arc<PgConnectOptions>) {
    let mut connection = None;
    let mut down = false;
    let mut ticks = tokio::time::interval(PROBE_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let was_down = down;
        down = !probe(&mut connection, &options).await;
        if down == was_down {
            continue;
        }
        if down {
            tracing::warn!("PostgreSQL does not answer: requests fail fast (503) until it does");
            pool.set_connect_options(PgConnectOptions::new().socket(NOWHERE));
        } else {
            tracing::warn!("PostgreSQL answers again");
            pool.set_connect_options(PgConnectOptions::clone(&options));
        }
    }
}

/// Whether PostgreSQL answers: a ping on the watcher's connection, or else
/// a new connection (a connection can end while the server is fine).
async fn probe(connection: &mut Option<PgConnection>, options: &PgConnectOptions) -> bool {
    if let Some(open) = connection.as_mut()
        && matches!(
            tokio::time::timeout(PROBE_TIMEOUT, open.ping()).await,
            Ok(Ok(()))
        )
    {
        return true;
    }
    *connection = None;
    match tokio::time::timeout(PROBE_TIMEOUT, PgConnection::connect_with(options)).await {
        Ok(Ok(new)) => {
            *connection = Some(new);
            true
        }
        _ => false,
    }
}
