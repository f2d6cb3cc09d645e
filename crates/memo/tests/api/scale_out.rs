//! Scale-out: two `memo serve` processes on two ports, one PostgreSQL
//! database and one Redis (with a key prefix of this run's own), behave as
//! one server behind a load balancer.
//!
//! Skipped without PostgreSQL or Redis, except with `CI=true`.

use std::time::{Duration, Instant};

use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

use crate::{
    helpers::{assert_error, payload},
    support::{postgres::TempDatabase, process::MemoProcess},
};

/// One instance: `memo serve` on the shared database and Redis.
struct Server {
    process: MemoProcess,
    address: String,
    _data_dir: tempfile::TempDir,
}

fn serve(database_url: &str, redis_url: &str, prefix: &str, secret: &str) -> Server {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let process = MemoProcess::start(
        MemoProcess::command(dir.path())
            .env("DATABASE_URL", database_url)
            .env("REDIS_URL", redis_url)
            .env("MEMO_REDIS_PREFIX", prefix)
            .env("JWT_SECRET_KEY", secret)
            .env("MEMO_RATE_LIMITS", "off")
            .stderr(std::process::Stdio::null()),
    );
    Server {
        address: process.address.clone(),
        process,
        _data_dir: dir,
    }
}

/// The value of `name` in a response's `Set-Cookie` lines.
fn set_cookie(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|line| line.strip_prefix(&format!("{name}=")))
        .and_then(|rest| rest.split(';').next())
        .unwrap_or_else(|| panic!("no {name} cookie"))
        .to_owned()
}

/// GET /api/auth/status with this access token.
async fn status(client: &Client, server: &Server, access: &str) -> reqwest::Response {
    client
        .get(format!("{}/api/auth/status", server.address))
        .header("Cookie", format!("access_token_cookie={access}"))
        .send()
        .await
        .expect("answer")
}

/// Polls until the status is `expected`, for at most 100 ms.
async fn within_100_ms(client: &Client, server: &Server, access: &str, expected: StatusCode) {
    let start = Instant::now();
    loop {
        let got = status(client, server, access).await.status();
        if got == expected {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_millis(100),
            "still {got} after 100 ms"
        );
        tokio::task::yield_now().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_database_and_redis_behave_as_one() {
    let Some(redis_url) = crate::redis::redis_url().await else {
        return;
    };
    let Some(database) = TempDatabase::create().await else {
        return;
    };
    let database_url = database.url().to_owned();
    let scratch = crate::support::redis::ScratchPrefix::new(&redis_url);
    let prefix = scratch.name().to_owned();
    let secret = uuid::Uuid::new_v4().simple().to_string().repeat(2);

    let a = serve(&database_url, &redis_url, &prefix, &secret);
    let b = serve(&database_url, &redis_url, &prefix, &secret);
    let client = Client::new();
    let credentials = json!({"user_name": "alice", "password": "alice password"});
    let registered = client
        .post(format!("{}/api/auth/register", a.address))
        .json(&credentials)
        .send()
        .await
        .expect("answer");
    assert_eq!(registered.status(), StatusCode::CREATED);

    // A login on A works on B.
    let login = client
        .post(format!("{}/api/auth/login", a.address))
        .json(&credentials)
        .send()
        .await
        .expect("answer");
    assert_eq!(login.status(), StatusCode::OK);
    let access = set_cookie(&login, "access_token_cookie");
    let refresh = set_cookie(&login, "refresh_token_cookie");
    let csrf = set_cookie(&login, "csrf_access_token");
    assert_eq!(status(&client, &b, &access).await.status(), StatusCode::OK);

    // A memo written through A is read through B.
    let created = client
        .post(format!("{}/api/memos", a.address))
        .header("Cookie", format!("access_token_cookie={access}"))
        .header("X-CSRF-TOKEN", &csrf)
        .json(&json!({"title": "shared", "content": "written through A"}))
        .send()
        .await
        .expect("answer");
    assert_eq!(created.status(), StatusCode::CREATED);
    let id = created.json::<Value>().await.expect("JSON")["id"].clone();
    let read = client
        .get(format!("{}/api/memos/{id}", b.address))
        .header("Cookie", format!("access_token_cookie={access}"))
        .send()
        .await
        .expect("answer");
    assert_eq!(read.status(), StatusCode::OK);
    assert_eq!(
        read.json::<Value>().await.expect("JSON")["content"],
        "written through A"
    );

    // A refresh on A, then a replay of the old refresh token on B: the
    // family is revoked, its newest access token with it.
    let refresh_on = |server: &Server, token: &str| {
        client
            .post(format!("{}/api/auth/refresh", server.address))
            .header("Cookie", format!("refresh_token_cookie={token}"))
            .header(
                "X-CSRF-TOKEN",
                payload(token)["csrf"].as_str().expect("csrf").to_owned(),
            )
            .send()
    };
    let rotated = refresh_on(&a, &refresh).await.expect("answer");
    assert_eq!(rotated.status(), StatusCode::OK);
    let new_access = set_cookie(&rotated, "access_token_cookie");
    let new_refresh = set_cookie(&rotated, "refresh_token_cookie");
    // A second rotation, so the first token is out of the grace window's reach.
    let rotated = refresh_on(&a, &new_refresh).await.expect("answer");
    assert_eq!(rotated.status(), StatusCode::OK);
    let newest_access = set_cookie(&rotated, "access_token_cookie");
    assert_eq!(
        status(&client, &b, &newest_access).await.status(),
        StatusCode::OK
    );
    let replay = refresh_on(&b, &refresh).await.expect("answer");
    assert_error(replay, StatusCode::UNAUTHORIZED, "Token has been revoked").await;
    for token in [&access, &new_access, &newest_access] {
        within_100_ms(&client, &a, token, StatusCode::UNAUTHORIZED).await;
        within_100_ms(&client, &b, token, StatusCode::UNAUTHORIZED).await;
    }

    // A new login; its logout on A is refused on B within 100 ms.
    let login = client
        .post(format!("{}/api/auth/login", b.address))
        .json(&credentials)
        .send()
        .await
        .expect("answer");
    let access = set_cookie(&login, "access_token_cookie");
    let csrf = set_cookie(&login, "csrf_access_token");
    assert_eq!(status(&client, &a, &access).await.status(), StatusCode::OK);
    let out = client
        .post(format!("{}/api/auth/logout", a.address))
        .header("Cookie", format!("access_token_cookie={access}"))
        .header("X-CSRF-TOKEN", &csrf)
        .send()
        .await
        .expect("answer");
    assert_eq!(out.status(), StatusCode::OK);
    within_100_ms(&client, &b, &access, StatusCode::UNAUTHORIZED).await;
    assert_error(
        status(&client, &b, &access).await,
        StatusCode::UNAUTHORIZED,
        "Token has been revoked",
    )
    .await;

    drop((a.process, b.process));
}
