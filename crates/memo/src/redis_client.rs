//! memo's own Redis connections (the login limits' counters, users' changes,
//! the health check) fail fast, like jwt-extended's `RedisStore`: one
//! connection attempt and no retry loop, each step bounded by [`TIMEOUT`],
//! so that no request waits for Redis to come back (the redis crate's
//! default retries with backoff for about six seconds). The next command
//! reconnects.

use std::time::Duration;

use redis::{
    Client, RedisResult,
    aio::{ConnectionManager, ConnectionManagerConfig},
};

/// The longest a connection attempt or a command may take.
pub(crate) const TIMEOUT: Duration = Duration::from_millis(500);

/// A connection manager that fails fast while Redis is unreachable.
///
/// # Errors
/// The Redis error when the first connection fails.
pub(crate) async fn connect(client: &Client) -> RedisResult<ConnectionManager> {
    let config = ConnectionManagerConfig::new()
        .set_number_of_retries(0)
        .set_connection_timeout(Some(TIMEOUT))
        .set_response_timeout(Some(TIMEOUT));
    client.get_connection_manager_with_config(config).await
}

/// `operation`, failed past [`TIMEOUT`].
///
/// # Errors
/// The operation's error, or "timed out".
pub(crate) async fn within_timeout<T>(
    operation: impl Future<Output = RedisResult<T>>,
) -> Result<T, String> {
    tokio::time::timeout(TIMEOUT, operation)
        .await
        .map_err(|_| "timed out waiting for Redis".to_owned())?
        .map_err(|e| e.to_string())
}
