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

/// A key prefix no other test or run shares, on the Redis at `url`, whose keys are deleted
/// when it is dropped, so a test leaves nothing behind in the shared Redis (a login's keys
/// live 30 days).
#[derive(Debug)]
pub struct ScratchPrefix {
    url: String,
    name: String,
}

impl ScratchPrefix {
    /// A new prefix on the Redis at `url`.
    #[must_use]
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            name: format!("memo-test-{}", uuid::Uuid::new_v4().simple()),
        }
    }

    /// The prefix (`memo-test-<uuid>`), for `MEMO_REDIS_PREFIX` or a config.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Deletes every key under the prefix (a blocking client: `Drop` cannot wait on a future).
    fn delete_keys(&self) -> redis::RedisResult<()> {
        let mut connection = redis::Client::open(self.url.as_str())?.get_connection()?;
        let keys: Vec<String> =
            redis::Commands::scan_match(&mut connection, format!("{}:*", self.name))?
                .collect::<redis::RedisResult<_>>()?;
        for chunk in keys.chunks(500) {
            redis::cmd("DEL").arg(chunk).query::<()>(&mut connection)?;
        }
        Ok(())
    }
}

impl Drop for ScratchPrefix {
    fn drop(&mut self) {
        if let Err(error) = self.delete_keys() {
            eprintln!(
                "could not delete the test keys under {}: {error}",
                self.name
            );
        }
    }
}

/// A Redis server of the test's own (`redis-server` on a free port, no
/// persistence), for tests that stop it. Dropping it kills it.
#[derive(Debug)]
pub struct PrivateRedis {
    child: std::process::Child,
    port: u16,
    /// `redis://127.0.0.1:PORT`.
    pub url: String,
}

impl PrivateRedis {
    /// Starts one; `None` (skipped, said once) without `redis-server`,
    /// except under `CI=true`.
    pub async fn start() -> Option<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = match spawn(port) {
            Ok(child) => child,
            Err(err) => {
                assert!(
                    !ci(),
                    "redis-server cannot be started ({err}), and CI=true requires it"
                );
                say(&format!("SKIPPING a test that needs redis-server: {err}"));
                return None;
            }
        };
        let redis = Self {
            child,
            port,
            url: format!("redis://127.0.0.1:{port}"),
        };
        redis.wait_until_listening().await;
        Some(redis)
    }

    /// Stops it (SIGKILL), as an outage would.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts it again, empty, on the same port (after [`stop`](Self::stop)).
    pub async fn restart(&mut self) {
        self.stop();
        self.child = spawn(self.port).expect("redis-server starts again");
        self.wait_until_listening().await;
    }

    async fn wait_until_listening(&self) {
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("redis-server did not start listening on {}", self.port);
    }
}

fn spawn(port: u16) -> std::io::Result<std::process::Child> {
    std::process::Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.stop();
    }
}
