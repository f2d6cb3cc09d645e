//! `bench-refresh`: drives `POST /api/auth/refresh` when the server rotates refresh
//! tokens, which wrk cannot follow (its `response()` hook sees only the last
//! `Set-Cookie`, and the rotated `refresh_token_cookie` is not the last one).
//!
//! Each connection is a client with its own cookie jar: it logs in once, then
//! refreshes in a loop, always with the newest refresh cookie and its
//! `csrf_refresh_token` in `X-CSRF-TOKEN`, so every request is a real rotation.
//! Prints the same `BENCH_RESULT` line as `bench/lua/request.lua`.
//!
//! `bench-refresh --url http://127.0.0.1:PORT --user NAME --password PW
//!  [--connections 8] [--duration 5]`

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use reqwest::{Client, Url, cookie::CookieStore as _, cookie::Jar};

struct Args {
    url: String,
    user: String,
    password: String,
    connections: usize,
    duration: Duration,
}

fn args() -> Result<Args, String> {
    let mut args = Args {
        url: String::new(),
        user: String::new(),
        password: String::new(),
        connections: 8,
        duration: Duration::from_secs(5),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--url" => args.url = value()?,
            "--user" => args.user = value()?,
            "--password" => args.password = value()?,
            "--connections" => args.connections = value()?.parse().map_err(|e| format!("{e}"))?,
            "--duration" => {
                args.duration = Duration::from_secs(value()?.parse().map_err(|e| format!("{e}"))?);
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if args.url.is_empty() || args.user.is_empty() {
        return Err("--url and --user are required".into());
    }
    Ok(args)
}

/// One connection's results: latencies (µs) of 2xx answers, and the others.
#[derive(Default)]
struct Tally {
    latencies: Vec<u64>,
    non2xx: u64,
    errors: u64,
}

fn csrf(jar: &Jar, url: &Url) -> Option<String> {
    let header = jar.cookies(url)?;
    header
        .to_str()
        .ok()?
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == "csrf_refresh_token")
        .map(|(_, value)| value.to_owned())
}

async fn connection(args: Arc<Args>, start: Arc<tokio::sync::Barrier>) -> Result<Tally, String> {
    let jar = Arc::new(Jar::default());
    let client = Client::builder()
        .cookie_provider(jar.clone())
        .pool_max_idle_per_host(1)
        .build()
        .map_err(|e| e.to_string())?;
    let login = format!("{}/api/auth/login", args.url);
    let refresh: Url = format!("{}/api/auth/refresh", args.url)
        .parse()
        .map_err(|e| format!("{e}"))?;
    let body = serde_json::json!({"user_name": args.user, "password": args.password});
    let response = client
        .post(&login)
        .json(&body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !response.status().is_success() {
        return Err(format!("login failed: {}", response.status()));
    }
    start.wait().await;
    let deadline = Instant::now() + args.duration;
    let mut tally = Tally::default();
    while Instant::now() < deadline {
        let token = csrf(&jar, &refresh).unwrap_or_default();
        let sent = Instant::now();
        match client
            .post(refresh.clone())
            .header("X-CSRF-TOKEN", token)
            .send()
            .await
        {
            Ok(response) => {
                let ok = response.status().is_success();
                let _ = response.bytes().await;
                if ok {
                    tally
                        .latencies
                        .push(u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX));
                } else {
                    tally.non2xx += 1;
                }
            }
            Err(_) => tally.errors += 1,
        }
    }
    Ok(tally)
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let args = Arc::new(args()?);
    let start = Arc::new(tokio::sync::Barrier::new(args.connections + 1));
    let tasks: Vec<_> = (0..args.connections)
        .map(|_| tokio::spawn(connection(args.clone(), start.clone())))
        .collect();
    start.wait().await;
    let began = Instant::now();
    let mut all = Tally::default();
    for task in tasks {
        let tally = task.await.map_err(|e| e.to_string())??;
        all.latencies.extend(tally.latencies);
        all.non2xx += tally.non2xx;
        all.errors += tally.errors;
    }
    let elapsed = began.elapsed();
    all.latencies.sort_unstable();
    let pick = |p: f64| {
        let n = all.latencies.len();
        if n == 0 {
            return 0;
        }
        let i = ((p / 100.0) * n as f64).ceil() as usize;
        all.latencies[i.clamp(1, n) - 1]
    };
    let requests = all.latencies.len() as u64 + all.non2xx;
    println!(
        "BENCH_RESULT requests={requests} duration_us={} p50_us={} p90_us={} p99_us={} max_us={} non2xx={} socket_errors={}",
        elapsed.as_micros(),
        pick(50.0),
        pick(90.0),
        pick(99.0),
        all.latencies.last().copied().unwrap_or(0),
        all.non2xx,
        all.errors
    );
    Ok(())
}
