//! Brute-force limits: failed logins per user name and per client IP,
//! registrations per client IP, the client IP behind a trusted proxy, and
//! counters shared through Redis. Each test fails when the limit is removed.

use memo::{
    Config,
    limits::{LOGIN_LIMITED_MSG, REGISTER_LIMITED_MSG, RateLimitConfig},
};
use reqwest::{Response, StatusCode};
use serde_json::Value;

use crate::helpers::{Backend, TestApp, TestUser, assert_error, json, spawn_app_with};

async fn app_with(limits: impl FnOnce(&mut RateLimitConfig)) -> TestApp {
    spawn_app_with(Backend::Sqlite, |config: &mut Config| {
        limits(&mut config.rate_limits);
    })
    .await
    .expect("a SQLite server")
}

fn wrong(user: &TestUser) -> TestUser {
    TestUser {
        user_name: user.user_name.clone(),
        password: "not-the-password".into(),
    }
}

/// A login as `user`, sent with an `X-Forwarded-For` header when given.
async fn login_from(app: &TestApp, user: &TestUser, forwarded_for: Option<&str>) -> Response {
    let mut request = app
        .bare_client()
        .post(app.url("/api/auth/login"))
        .json(&user.credentials());
    if let Some(forwarded_for) = forwarded_for {
        request = request.header("X-Forwarded-For", forwarded_for);
    }
    request.send().await.expect("the server answers")
}

/// Asserts a 429 with the message and a `Retry-After` of 1..=`max` seconds.
async fn assert_limited(response: Response, msg: &str, max: u64) {
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let status = response.status();
    let body: Value = json(response).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "body: {body}");
    assert_eq!(body, serde_json::json!({ "msg": msg }));
    let retry_after = retry_after.expect("a Retry-After in seconds");
    assert!(
        (1..=max).contains(&retry_after),
        "Retry-After {retry_after} should be within 1..={max}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sixth_wrong_password_is_429_even_with_the_right_password() {
    let app = app_with(|_| {}).await; // the defaults: 5 per user
    let user = TestUser::generate();
    assert_eq!(app.register(&user).await.status(), StatusCode::CREATED);
    for _ in 0..5 {
        assert_error(
            app.login(&wrong(&user)).await,
            StatusCode::UNAUTHORIZED,
            "Wrong login id or password.",
        )
        .await;
    }
    assert_limited(app.login(&user).await, LOGIN_LIMITED_MSG, 15 * 60).await;
    assert_limited(app.login(&wrong(&user)).await, LOGIN_LIMITED_MSG, 15 * 60).await;
    // Another name from the same address is not locked out.
    let other = TestUser::generate();
    assert_eq!(app.register(&other).await.status(), StatusCode::CREATED);
    assert_eq!(app.login(&other).await.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_names_are_limited_like_known_ones() {
    let app = app_with(|_| {}).await;
    let ghost = TestUser::generate();
    for _ in 0..5 {
        assert_eq!(app.login(&ghost).await.status(), StatusCode::UNAUTHORIZED);
    }
    // The same answer as for a real name: no enumeration by the limiter.
    assert_limited(app.login(&ghost).await, LOGIN_LIMITED_MSG, 15 * 60).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_successful_login_resets_the_user_count() {
    let app = app_with(|_| {}).await;
    let user = TestUser::generate();
    assert_eq!(app.register(&user).await.status(), StatusCode::CREATED);
    for _ in 0..4 {
        assert_eq!(
            app.login(&wrong(&user)).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(app.login(&user).await.status(), StatusCode::OK);
    // Without the reset these would reach the limit at the second attempt.
    for attempt in 1..=5 {
        assert_eq!(
            app.login(&wrong(&user)).await.status(),
            StatusCode::UNAUTHORIZED,
            "wrong password {attempt} after a success"
        );
    }
    assert_limited(app.login(&user).await, LOGIN_LIMITED_MSG, 15 * 60).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_are_limited_per_client_ip() {
    let app = app_with(|limits| {
        limits.login_failures_per_user = 100;
        limits.login_failures_per_ip = 3;
    })
    .await;
    let user = TestUser::generate();
    assert_eq!(app.register(&user).await.status(), StatusCode::CREATED);
    for _ in 0..3 {
        // A different name each time: only the address is common.
        let status = app.login(&TestUser::generate()).await.status();
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    assert_limited(
        app.login(&TestUser::generate()).await,
        LOGIN_LIMITED_MSG,
        15 * 60,
    )
    .await;
    assert_limited(app.login(&user).await, LOGIN_LIMITED_MSG, 15 * 60).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registrations_are_limited_per_client_ip() {
    let app = app_with(|limits| limits.register_per_ip_per_minute = 3).await;
    for _ in 0..3 {
        let status = app.register(&TestUser::generate()).await.status();
        assert_eq!(status, StatusCode::CREATED);
    }
    assert_limited(
        app.register(&TestUser::generate()).await,
        REGISTER_LIMITED_MSG,
        60,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_register_limit_is_sixty_a_minute() {
    let app = app_with(|_| {}).await;
    // Malformed bodies are cheap to send and still count as attempts.
    let attempt = || async {
        app.bare_client()
            .post(app.url("/api/auth/register"))
            .json(&serde_json::json!({ "user_name": "", "password": "" }))
            .send()
            .await
            .expect("the server answers")
    };
    for _ in 0..60 {
        assert_eq!(attempt().await.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    assert_limited(attempt().await, REGISTER_LIMITED_MSG, 60).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_for_is_ignored_from_an_untrusted_peer() {
    let app = app_with(|limits| {
        limits.login_failures_per_user = 100;
        limits.login_failures_per_ip = 2;
    })
    .await;
    // An attacker rotating X-Forwarded-For values is still one address.
    for n in 1..=2 {
        let header = format!("203.0.113.{n}");
        let response = login_from(&app, &TestUser::generate(), Some(&header)).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let response = login_from(&app, &TestUser::generate(), Some("203.0.113.99")).await;
    assert_limited(response, LOGIN_LIMITED_MSG, 15 * 60).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_for_from_a_trusted_proxy_names_the_client() {
    let app = app_with(|limits| {
        limits.login_failures_per_user = 100;
        limits.login_failures_per_ip = 2;
        limits.trusted_proxies = vec!["127.0.0.1".parse().expect("an IP")];
    })
    .await;
    // The client wrote the left-most entry itself; the proxy appended the
    // real address, which is the one counted.
    for spoofed in ["1.1.1.1", "2.2.2.2"] {
        let header = format!("{spoofed}, 203.0.113.7");
        let response = login_from(&app, &TestUser::generate(), Some(&header)).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let response = login_from(&app, &TestUser::generate(), Some("3.3.3.3, 203.0.113.7")).await;
    assert_limited(response, LOGIN_LIMITED_MSG, 15 * 60).await;
    // Another client behind the same proxy is counted apart.
    let response = login_from(&app, &TestUser::generate(), Some("203.0.113.8")).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    // Without the header the proxy itself is the client, also apart.
    let response = login_from(&app, &TestUser::generate(), None).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_off_lets_every_attempt_through() {
    let app = app_with(|limits| *limits = RateLimitConfig::off()).await;
    let user = TestUser::generate();
    assert_eq!(app.register(&user).await.status(), StatusCode::CREATED);
    for _ in 0..8 {
        assert_eq!(
            app.login(&wrong(&user)).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(app.login(&user).await.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_guesses_cannot_pass_the_limit() {
    let app = app_with(|_| {}).await;
    let user = TestUser::generate();
    assert_eq!(app.register(&user).await.status(), StatusCode::CREATED);
    let guess = wrong(&user);
    let guesses = (0..20).map(|_| login_from(&app, &guess, None));
    let statuses: Vec<StatusCode> = futures_util::future::join_all(guesses)
        .await
        .into_iter()
        .map(|r| r.status())
        .collect();
    let checked = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    assert_eq!(checked, 5, "only 5 guesses may be checked: {statuses:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_lists_the_429s() {
    let app = app_with(|_| {}).await;
    let document = json(app.get("/api/openapi.json").await).await;
    for path in ["/api/auth/login", "/api/auth/register"] {
        let response = &document["paths"][path]["post"]["responses"]["429"];
        assert!(
            response["headers"]["Retry-After"].is_object(),
            "{path}: {response}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_on_one_instance_count_on_another_through_redis() {
    let Some(url) = crate::support::redis::redis_url().await else {
        return;
    };
    let scratch = crate::support::redis::ScratchPrefix::new(&url);
    let instance = || {
        let (url, prefix) = (url.clone(), scratch.name().to_owned());
        spawn_app_with(Backend::Sqlite, move |config: &mut Config| {
            config.redis_url = Some(url);
            config.rate_limits.redis_prefix = format!("{prefix}:limits");
            config.redis_prefix = prefix;
            config.rate_limits.login_failures_per_user = 3;
        })
    };
    let first = instance().await.expect("a server");
    let second = instance().await.expect("a server");
    // Separate databases: the name need not exist for its failures to count.
    let ghost = TestUser::generate();
    for _ in 0..3 {
        assert_eq!(first.login(&ghost).await.status(), StatusCode::UNAUTHORIZED);
    }
    assert_limited(second.login(&ghost).await, LOGIN_LIMITED_MSG, 15 * 60).await;
}
