//! `RedisStore` when Redis goes away: it fails closed and fast while Redis cannot be reached,
//! keeps refusing what it knew to be revoked, never lets its memory answer "not revoked" for a
//! subscription that went silent, and recovers by itself.
//!
//! The store reaches the local Redis (`REDIS_URL`, default `redis://127.0.0.1:6379`) through a
//! [`Link`] that the test cuts or silences; Redis itself is never stopped. Without Redis the
//! tests say so and pass, except under `CI=true`, where they fail.

#![cfg(feature = "redis")]

use std::{
    net::SocketAddr,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use jwt_extended::{DecodedToken, JsonObject, RedisStore, RevocationStore};
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::{
        TcpListener, TcpStream,
        tcp::{OwnedReadHalf, OwnedWriteHalf},
    },
    sync::watch,
};

/// How long a store may take to notice an outage or a recovery.
const LIMIT: Duration = Duration::from_secs(10);

/// What a call may take while Redis is unreachable (the redis crate's own retries took ~6 s).
const FAST: Duration = Duration::from_secs(1);

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs().cast_signed())
}

fn token(jti: &str) -> DecodedToken {
    let mut payload = JsonObject::new();
    payload.insert("jti".into(), jti.into());
    DecodedToken {
        header: JsonObject::new(),
        payload: payload.into(),
    }
}

/// The local Redis's address, or `None` (said) without one; under `CI=true` that fails.
async fn redis_address() -> Option<String> {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let address = url
        .trim_start_matches("redis://")
        .trim_end_matches('/')
        .to_owned();
    match TcpStream::connect(&address).await {
        Ok(_) => Some(address),
        Err(e) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("Redis is required under CI=true: {e}")
        }
        Err(e) => {
            eprintln!("skipped: no Redis at {address} ({e})");
            None
        }
    }
}

async fn remove_keys(address: &str, prefix: &str) {
    let Ok(client) = redis::Client::open(format!("redis://{address}")) else {
        return;
    };
    let Ok(mut conn) = client.get_multiplexed_async_connection().await else {
        return;
    };
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}:*"))
        .query_async(&mut conn)
        .await
        .unwrap_or_default();
    if !keys.is_empty() {
        let _: Result<(), _> = redis::cmd("DEL").arg(keys).query_async(&mut conn).await;
    }
}

/// What the [`Link`] lets through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Everything, both ways.
    Open,
    /// Nothing, but every connection stays open: a dead host or a dropped route.
    Silent,
    /// Connections closed and new ones refused: Redis stopped.
    Cut,
}

/// A TCP proxy to Redis that the test can cut or silence.
struct Link {
    address: SocketAddr,
    state: watch::Sender<State>,
    task: tokio::task::JoinHandle<()>,
}

impl Link {
    async fn to(target: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let address = listener.local_addr().expect("its address");
        let (state, watched) = watch::channel(State::Open);
        let task = tokio::spawn(accept(listener, target.to_owned(), watched));
        Self {
            address,
            state,
            task,
        }
    }

    fn url(&self) -> String {
        format!("redis://{}", self.address)
    }

    fn set(&self, state: State) {
        self.state.send_replace(state);
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.set(State::Cut);
        self.task.abort();
    }
}

/// Accepts while the link is not cut; listens again on the same port when it is restored.
async fn accept(listener: TcpListener, target: String, mut state: watch::Receiver<State>) {
    let address = listener.local_addr().expect("its address");
    let mut listener = Some(listener);
    loop {
        if *state.borrow_and_update() == State::Cut {
            listener = None;
            if state.changed().await.is_err() {
                return;
            }
            continue;
        }
        let current = match listener.take() {
            Some(current) => current,
            None => TcpListener::bind(address)
                .await
                .expect("the same port again"),
        };
        tokio::select! {
            accepted = current.accept() => {
                if let Ok((client, _)) = accepted {
                    tokio::spawn(pipe(client, target.clone(), state.clone()));
                }
            }
            changed = state.changed() => if changed.is_err() { return },
        }
        listener = Some(current);
    }
}

async fn pipe(client: TcpStream, target: String, state: watch::Receiver<State>) {
    let Ok(server) = TcpStream::connect(target).await else {
        return;
    };
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    tokio::join!(
        forward(client_read, server_write, state.clone()),
        forward(server_read, client_write, state),
    );
}

/// Copies bytes while the link is open, holds them while it is silent, and ends (closing the
/// connection once both directions have) when it is cut.
async fn forward(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    mut state: watch::Receiver<State>,
) {
    let mut buffer = vec![0; 16 * 1024];
    loop {
        let current = *state.borrow_and_update();
        match current {
            State::Cut => return,
            State::Silent => {
                if state.changed().await.is_err() {
                    return;
                }
                continue;
            }
            State::Open => {}
        }
        tokio::select! {
            read = from.read(&mut buffer) => match read {
                Ok(0) | Err(_) => return,
                Ok(n) => if to.write_all(&buffer[..n]).await.is_err() { return },
            },
            changed = state.changed() => if changed.is_err() { return },
        }
    }
}

/// Polls `check` until it holds, failing after [`LIMIT`].
async fn eventually<F: Future<Output = bool>>(what: &str, mut check: impl FnMut() -> F) {
    let deadline = Instant::now() + LIMIT;
    while !check().await {
        assert!(Instant::now() < deadline, "not within {LIMIT:?}: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_redis_fails_fast_and_what_was_revoked_stays_revoked() {
    let Some(redis) = redis_address().await else {
        return;
    };
    let link = Link::to(&redis).await;
    let prefix = format!("jwt-outage-{}", uuid::Uuid::new_v4().simple());
    let store = RedisStore::connect(&link.url(), &prefix)
        .await
        .expect("connected");
    store
        .revoke("before", Some(now() + 600))
        .await
        .expect("revoked");

    link.set(State::Cut);
    eventually("the store sees the subscription end", || async {
        !store.cache_is_live()
    })
    .await;
    for attempt in 0..5 {
        let started = Instant::now();
        let answer = store
            .is_revoked(&token(&format!("unknown-{attempt}")))
            .await;
        assert!(answer.is_err(), "fails closed, not {answer:?}");
        assert!(
            started.elapsed() < FAST,
            "attempt {attempt} took {:?}",
            started.elapsed()
        );
    }
    let started = Instant::now();
    assert!(store.revoke("during", Some(now() + 600)).await.is_err());
    assert!(
        started.elapsed() < FAST,
        "a revocation took {:?}",
        started.elapsed()
    );
    assert!(
        store
            .is_revoked(&token("before"))
            .await
            .expect("from memory"),
        "what was revoked before the outage stays revoked during it"
    );

    link.set(State::Open);
    eventually("the store answers from memory again", || async {
        store.cache_is_live()
    })
    .await;
    assert!(
        !store
            .is_revoked(&token("unknown"))
            .await
            .expect("an answer")
    );
    assert!(store.is_revoked(&token("before")).await.expect("an answer"));
    remove_keys(&redis, &prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_subscription_stops_vouching_for_the_memory() {
    let Some(redis) = redis_address().await else {
        return;
    };
    let link = Link::to(&redis).await;
    let prefix = format!("jwt-outage-{}", uuid::Uuid::new_v4().simple());
    let behind_link = RedisStore::connect(&link.url(), &prefix)
        .await
        .expect("connected through the link");
    let direct = RedisStore::connect(&format!("redis://{redis}"), &prefix)
        .await
        .expect("connected directly");
    let jti = token("revoked-while-silent");
    assert!(!behind_link.is_revoked(&jti).await.expect("an answer"));
    // Heartbeats come back while nothing else happens: the memory stays trusted.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(
        behind_link.cache_is_live(),
        "an idle subscription stays live"
    );

    link.set(State::Silent);
    direct
        .revoke("revoked-while-silent", Some(now() + 600))
        .await
        .expect("revoked on the other instance");
    eventually(
        "the silenced instance stops answering \"not revoked\"",
        || async { !matches!(behind_link.is_revoked(&jti).await, Ok(false)) },
    )
    .await;

    link.set(State::Open);
    eventually(
        "the instance learns the revocation once Redis answers",
        || async {
            behind_link.cache_is_live() && matches!(behind_link.is_revoked(&jti).await, Ok(true))
        },
    )
    .await;
    remove_keys(&redis, &prefix).await;
}
