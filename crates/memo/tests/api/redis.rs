//! REDIS_URL: revocations shared by several instances through Redis.
//!
//! Redis: `MEMO_TEST_REDIS_URL` (default `redis://127.0.0.1:6379`). When it
//! is unreachable the test says so and skips, except with `CI=true`.

use memo::config::Secret;
use reqwest::{Method, StatusCode};

use crate::{
    helpers::{Backend, TestApp, assert_error, spawn_app_with},
    support::redis::ScratchPrefix,
};

/// The Redis URL, or `None` (after saying so) when nothing listens there.
pub async fn redis_url() -> Option<String> {
    crate::support::redis::redis_url().await
}

async fn with_redis(url: &str, prefix: &ScratchPrefix) -> TestApp {
    spawn_app_with(Backend::Sqlite, |config| {
        config.redis_url = Some(url.to_owned());
        config.redis_prefix = prefix.name().to_owned();
    })
    .await
    .expect("a SQLite server")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_on_one_instance_is_refused_by_another_through_redis() {
    let Some(url) = redis_url().await else { return };
    // A second instance on the same database and Redis, as several stateless
    // instances run: the users are shared, and the revocation travels through
    // Redis (the session store then is Redis, not the database).
    let prefix = ScratchPrefix::new(&url);
    let first = with_redis(&url, &prefix).await;
    let mut config = memo::Config::new(
        first.database_url.clone(),
        Secret::new(first.secret.clone()),
    );
    config.redis_url = Some(url.clone());
    config.redis_prefix = prefix.name().to_owned();
    config.rate_limits.enabled = false;
    let second = memo::App::build(config).await.expect("a second instance");
    let second_address = format!("http://127.0.0.1:{}", second.port());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(second.run_until(async {
        let _ = stopped.await;
    }));
    first.signed_in_user().await;
    let revoked = first
        .cookie_for("/", "access_token_cookie")
        .expect("an access cookie");
    let other_session = first.other_browser();
    other_session.signed_in_user().await;
    let still_valid = other_session
        .cookie_for("/", "access_token_cookie")
        .expect("an access cookie");

    assert_eq!(
        first
            .call(Method::POST, "/api/auth/logout", None)
            .await
            .status(),
        StatusCode::OK
    );

    let status_at_second = |token: String| {
        first
            .bare_client()
            .get(format!("{second_address}/api/auth/status"))
            .header("Cookie", format!("access_token_cookie={token}"))
            .send()
    };
    let valid = status_at_second(still_valid).await.expect("answer");
    let replayed = status_at_second(revoked).await.expect("answer");
    let _ = stop.send(());
    server.await.expect("joined").expect("a clean shutdown");
    assert_eq!(
        valid.status(),
        StatusCode::OK,
        "the second instance accepts the first one's tokens"
    );
    assert_error(replayed, StatusCode::UNAUTHORIZED, "Token has been revoked").await;
}

#[tokio::test]
async fn an_unreachable_redis_stops_start_up_with_a_clear_message() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let mut config = memo::Config::new(
        format!("sqlite://{}", dir.path().join("memo.db").display()),
        Secret::new(*b"0123456789abcdef0123456789abcdef"),
    );
    config.redis_url = Some("redis://127.0.0.1:1".into());

    let error = memo::App::build(config).await.expect_err("no Redis there");

    assert!(error.to_string().contains("REDIS_URL"), "{error}");
}
