//! The test Redis at `MEMO_TEST_REDIS_URL`. Tests give their keys a prefix
//! of their own and never flush.

use std::{sync::OnceLock, time::Duration};

use super::{ci, say, tally};

/// Where Redis is unless `MEMO_TEST_REDIS_URL` says.
pub const DEFAULT_URL: &str = "redis://127.0.0.1:6379";

/// The Redis URL, or `None` (after saying so once) when nothing listens
/// there; under `CI=true` that panics instead.
pub async fn redis_url() -> Option<String> {
    let url = std::env::var("MEMO_TEST_REDIS_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned());
    let parsed = reqwest::Url::parse(&url).expect("a valid MEMO_TEST_REDIS_URL");
    let address = (
        parsed.host_str().unwrap_or("127.0.0.1").to_owned(),
        parsed.port().unwrap_or(6379),
    );
    let reachable = tokio::time::timeout(
        Duration::from_secs(3),
        tokio::net::TcpStream::connect(address),
    )
    .await;
    if matches!(reachable, Ok(Ok(_))) {
        tally::ran(tally::Backend::Redis);
        return Some(url);
    }
    assert!(
        !ci(),
        "Redis is unreachable at {url}, and CI=true requires the Redis tests to run"
    );
    tally::skipped(tally::Backend::Redis);
    static SAID: OnceLock<()> = OnceLock::new();
    SAID.get_or_init(|| {
        say(&format!(
            "SKIPPING the Redis tests: Redis is unreachable at {url}"
        ))
    });
    None
}

/// A key prefix no other test or run shares.
#[must_use]
pub fn unique_prefix() -> String {
    format!("memo-test-{}", uuid::Uuid::new_v4().simple())
}
