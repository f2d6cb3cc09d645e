//! REDIS_URL: revocations shared by several instances through Redis.
//!
//! Redis: `MEMO_TEST_REDIS_URL` (default `redis://127.0.0.1:6379`). When it
//! is unreachable the test says so and skips, except with `CI=true`.

use memo::config::{Secret, SigningKey};
use reqwest::{Method, StatusCode};

use crate::helpers::{Backend, TestApp, assert_error, spawn_app_with};

/// The Redis URL, or `None` (after saying so) when nothing listens there.
pub async fn redis_url() -> Option<String> {
    crate::support::redis::redis_url().await
}

async fn with_redis(url: &str, secret: Option<&[u8]>) -> TestApp {
    spawn_app_with(Backend::Sqlite, |config| {
        config.redis_url = Some(url.to_owned());
        if let Some(secret) = secret {
            config.jwt.key = SigningKey::Secret(Secret::new(secret));
        }
    })
    .await
    .expect("a SQLite server")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_on_one_instance_is_refused_by_another_through_redis() {
    let Some(url) = redis_url().await else { return };
    // Two instances with the same key and Redis, but separate databases:
    // only Redis can carry the revocation from one to the other.
    let first = with_redis(&url, None).await;
    let second = with_redis(&url, Some(&first.secret)).await;
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
        second
            .bare_client()
            .get(second.url("/api/auth/status"))
            .header("Cookie", format!("access_token_cookie={token}"))
            .send()
    };
    let valid = status_at_second(still_valid).await.expect("answer");
    assert_eq!(
        valid.status(),
        StatusCode::OK,
        "the second instance accepts the first one's tokens"
    );
    let replayed = status_at_second(revoked).await.expect("answer");
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
