//! Outages of the services memo needs, caused inside the test on servers of
//! its own (the shared PostgreSQL and Redis are never stopped): while one is
//! down every request fails closed at once with 503 `{"msg"}`, and once it
//! is back memo recovers by itself, with every acknowledged write and every
//! logout still standing.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::task::block_in_place;

use crate::{
    helpers::{Backend, TestApp, assert_error, json, spawn_app_on, spawn_app_with},
    support::{postgres::PrivatePostgres, redis::PrivateRedis},
};

/// What a request may take while a service is down (the pool's acquire
/// timeout made it 5 s on PostgreSQL; Redis's reconnect retries, 9.5 s).
const FAST: Duration = Duration::from_secs(1);

/// How long memo may take to notice an outage or a recovery.
const LIMIT: Duration = Duration::from_secs(10);

/// Polls `request` until it answers `status`, failing after [`LIMIT`].
async fn eventually<F>(status: StatusCode, mut request: impl FnMut() -> F)
where
    F: Future<Output = reqwest::Response>,
{
    let deadline = Instant::now() + LIMIT;
    loop {
        let answered = request().await.status();
        if answered == status {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "still {answered} after {LIMIT:?}, expected {status}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Sends `request` five times: each answer is 503 `{"msg"}`, within [`FAST`].
async fn fails_fast<F>(mut request: impl FnMut() -> F)
where
    F: Future<Output = reqwest::Response>,
{
    for attempt in 0..5 {
        let started = Instant::now();
        let response = request().await;
        let took = started.elapsed();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body = json(response).await;
        assert!(body["msg"].is_string(), "{body}");
        assert!(took < FAST, "attempt {attempt} took {took:?}");
    }
}

fn a_memo() -> Value {
    json!({"title": "a memo", "content": "written during an outage"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_outage_is_503_at_once_and_memo_recovers_by_itself() {
    let Some(postgres) = block_in_place(PrivatePostgres::start) else {
        return;
    };
    let app = spawn_app_on(&postgres.url(), |_| {}).await;
    app.signed_in_user().await;
    let mut acknowledged = vec![app.create_memo("before", "the outage").await["id"].clone()];

    block_in_place(|| postgres.stop());
    let memo = a_memo();
    fails_fast(|| app.call(Method::POST, "/api/memos", Some(&memo))).await;
    fails_fast(|| app.get("/api/memos")).await;

    block_in_place(|| postgres.start_again());
    eventually(StatusCode::OK, || app.get("/api/memos")).await;
    acknowledged.push(app.create_memo("after", "the outage").await["id"].clone());
    for id in acknowledged {
        let memo = app.get(&format!("/api/memos/{id}")).await;
        assert_eq!(memo.status(), StatusCode::OK, "memo {id}");
    }
}

/// Redis comes back empty (no persistence): the logout made before the
/// outage still holds, from the memory of the instance that knew it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_outage_is_503_at_once_and_logouts_made_before_it_still_hold() {
    let Some(mut redis) = PrivateRedis::start().await else {
        return;
    };
    let url = redis.url.clone();
    let app = spawn_app_with(Backend::Sqlite, |config| config.redis_url = Some(url))
        .await
        .expect("a server");
    app.signed_in_user().await;
    let logged_out = logged_out_token(&app).await;
    let client = app.bare_client();
    let status_of_logged_out = || {
        client
            .get(app.url("/api/auth/status"))
            .header("Cookie", format!("access_token_cookie={logged_out}"))
            .send()
    };

    redis.stop();
    eventually(StatusCode::SERVICE_UNAVAILABLE, || app.get("/api/memos")).await;
    fails_fast(|| app.get("/api/memos")).await;
    let memo = a_memo();
    fails_fast(|| app.call(Method::POST, "/api/memos", Some(&memo))).await;
    let during = status_of_logged_out().await.expect("an answer");
    assert_error(during, StatusCode::UNAUTHORIZED, "Token has been revoked").await;

    redis.restart().await;
    eventually(StatusCode::OK, || app.get("/api/memos")).await;
    app.create_memo("after", "the outage").await;
    let after = status_of_logged_out().await.expect("an answer");
    assert_error(after, StatusCode::UNAUTHORIZED, "Token has been revoked").await;
}

/// The access token of a second login on `app`'s server, logged out.
async fn logged_out_token(app: &TestApp) -> String {
    let other = app.other_browser();
    other.signed_in_user().await;
    let token = other
        .cookie_for("/", "access_token_cookie")
        .expect("an access cookie");
    let logout = other.call(Method::POST, "/api/auth/logout", None).await;
    assert_eq!(logout.status(), StatusCode::OK);
    token
}
