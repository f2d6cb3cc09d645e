//! `bench-refresh`: drives `POST /api/auth/refresh` when the server rotates refresh
//! tokens, which wrk cannot follow (its `response()` hook sees only the last
//! `Set-Cookie`, and the rotated `refresh_token_cookie` is not the last one).
//!
//! Each connection is a client with its own cookies: it logs in once, then
//! refreshes in a loop, always with the cookies the last answer set (all four, as
//! a browser sends them) and the newest `csrf_refresh_token` in `X-CSRF-TOKEN`, so
//! every request is a real rotation. Prints the same `BENCH_RESULT` line as
//! `bench/lua/request.lua`.
//!
//! It speaks HTTP/1.1 through hyper's client on one connection each, keeping the
//! cookies as name and value pairs (the bench's cookies do not expire during a
//! run), so that on the 2 cores it shares with the server it costs about what
//! wrk costs the other rows: through reqwest and its cookie store it took some
//! three times wrk's CPU per request, CPU the server measured beside it lacked.
//!
//! `bench-refresh --url http://127.0.0.1:PORT --user NAME --password PW
//!  [--connections 8] [--duration 5] [--requests N] [--warmup N] [--ready]`
//!
//! `--requests N` makes each connection send exactly N refreshes (no time limit),
//! after `--warmup N` uncounted ones. `--ready` prints `ready` once every
//! connection has logged in and warmed up, and starts only when a line arrives
//! on stdin: `bench/instructions.sh` turns callgrind on in between, so that it
//! counts the refreshes and nothing else.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use http_body_util::{BodyExt as _, Full};
use hyper::{
    Request,
    body::Bytes,
    client::conn::http1::{self, SendRequest},
    header::{CONTENT_LENGTH, CONTENT_TYPE, COOKIE, HOST, HeaderValue, SET_COOKIE},
};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

struct Args {
    url: String,
    user: String,
    password: String,
    connections: usize,
    duration: Duration,
    /// Refreshes per connection; 0: as many as `duration` allows.
    requests: usize,
    warmup: usize,
    ready: bool,
}

fn number<T: std::str::FromStr>(value: &str) -> Result<T, String>
where
    T::Err: std::fmt::Display,
{
    value.parse().map_err(|e| format!("{value:?}: {e}"))
}

fn args() -> Result<Args, String> {
    let mut args = Args {
        url: String::new(),
        user: String::new(),
        password: String::new(),
        connections: 8,
        duration: Duration::from_secs(5),
        requests: 0,
        warmup: 0,
        ready: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--url" => args.url = value()?,
            "--user" => args.user = value()?,
            "--password" => args.password = value()?,
            "--connections" => args.connections = number(&value()?)?,
            "--duration" => args.duration = Duration::from_secs(number(&value()?)?),
            "--requests" => args.requests = number(&value()?)?,
            "--warmup" => args.warmup = number(&value()?)?,
            "--ready" => args.ready = true,
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

/// Every connection and `main` meet at `ready` (logged in, warmed up), then at `go`. A
/// connection that failed to get ready still meets the others, so that none waits for it;
/// then none starts.
struct Start {
    ready: tokio::sync::Barrier,
    go: tokio::sync::Barrier,
    /// A connection could not log in or warm up.
    failed: AtomicBool,
    /// Not to start: a connection failed, or stdin closed before its line (`--ready`).
    cancelled: AtomicBool,
}

/// A client on one keep-alive connection, with the cookies its answers set.
struct Client {
    sender: SendRequest<Full<Bytes>>,
    host: HeaderValue,
    /// Name and value of each cookie, in the order they were first set.
    cookies: Vec<(String, String)>,
}

impl Client {
    async fn connect(url: &str) -> Result<Self, String> {
        let authority = url
            .strip_prefix("http://")
            .ok_or(format!("{url:?}: only http:// URLs"))?
            .trim_end_matches('/');
        let stream = TcpStream::connect(authority)
            .await
            .map_err(|e| format!("{authority}: {e}"))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(connection);
        Ok(Self {
            sender,
            host: HeaderValue::from_str(authority).map_err(|e| e.to_string())?,
            cookies: Vec::new(),
        })
    }

    fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Keeps each `Set-Cookie`'s name and value; an empty value deletes the cookie.
    fn keep_cookies(&mut self, headers: &hyper::HeaderMap) {
        for line in headers.get_all(SET_COOKIE) {
            let Some((name, value)) = line
                .to_str()
                .ok()
                .and_then(|line| line.split(';').next())
                .and_then(|pair| pair.trim().split_once('='))
            else {
                continue;
            };
            self.cookies.retain(|(n, _)| n != name);
            if !value.is_empty() {
                self.cookies.push((name.to_owned(), value.to_owned()));
            }
        }
    }

    /// POSTs `body` to `path` with the cookies and `csrf`: `Ok(true)` for a 2xx answer.
    async fn post(
        &mut self,
        path: &str,
        body: Bytes,
        csrf: Option<String>,
    ) -> Result<bool, String> {
        let mut request = Request::post(path)
            .header(HOST, self.host.clone())
            .header(CONTENT_LENGTH, body.len());
        if !body.is_empty() {
            request = request.header(CONTENT_TYPE, "application/json");
        }
        if !self.cookies.is_empty() {
            let mut header = String::new();
            for (name, value) in &self.cookies {
                if !header.is_empty() {
                    header.push_str("; ");
                }
                header.push_str(name);
                header.push('=');
                header.push_str(value);
            }
            request = request.header(COOKIE, header);
        }
        if let Some(csrf) = csrf {
            request = request.header("X-CSRF-TOKEN", csrf);
        }
        let request = request.body(Full::new(body)).map_err(|e| e.to_string())?;
        self.sender.ready().await.map_err(|e| e.to_string())?;
        let response = self
            .sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?;
        let ok = response.status().is_success();
        self.keep_cookies(response.headers());
        response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?;
        Ok(ok)
    }

    /// One refresh with the newest cookies.
    async fn refresh(&mut self) -> Result<bool, String> {
        let csrf = self.cookie("csrf_refresh_token").map(str::to_owned);
        self.post("/api/auth/refresh", Bytes::new(), csrf).await
    }
}

/// Logs in and warms up: the client the row's refreshes go through.
async fn logged_in(args: &Args) -> Result<Client, String> {
    let mut client = Client::connect(&args.url).await?;
    let body = serde_json::json!({"user_name": args.user, "password": args.password});
    if !client
        .post("/api/auth/login", Bytes::from(body.to_string()), None)
        .await?
    {
        return Err("login failed".into());
    }
    for _ in 0..args.warmup {
        if !client.refresh().await? {
            return Err("a warm-up refresh was refused".into());
        }
    }
    Ok(client)
}

async fn connection(args: Arc<Args>, start: Arc<Start>) -> Result<Tally, String> {
    let client = logged_in(&args).await;
    if client.is_err() {
        start.failed.store(true, Ordering::SeqCst);
    }
    start.ready.wait().await;
    start.go.wait().await;
    let mut client = client?;
    if start.cancelled.load(Ordering::SeqCst) {
        return Ok(Tally::default());
    }
    let deadline = Instant::now() + args.duration;
    let more = |sent: usize| match args.requests {
        0 => Instant::now() < deadline,
        requests => sent < requests,
    };
    let mut tally = Tally::default();
    let mut sent_so_far = 0;
    while more(sent_so_far) {
        sent_so_far += 1;
        let sent = Instant::now();
        match client.refresh().await {
            Ok(true) => tally
                .latencies
                .push(u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX)),
            Ok(false) => tally.non2xx += 1,
            // The connection is gone: the rest of its requests would fail the same way.
            Err(error) => {
                eprintln!("bench-refresh: a connection failed: {error}");
                tally.errors += 1;
                break;
            }
        }
    }
    Ok(tally)
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let args = Arc::new(args()?);
    let start = Arc::new(Start {
        ready: tokio::sync::Barrier::new(args.connections + 1),
        go: tokio::sync::Barrier::new(args.connections + 1),
        failed: AtomicBool::new(false),
        cancelled: AtomicBool::new(false),
    });
    let tasks: Vec<_> = (0..args.connections)
        .map(|_| tokio::spawn(connection(args.clone(), start.clone())))
        .collect();
    start.ready.wait().await;
    let mut go = !start.failed.load(Ordering::SeqCst);
    if go && args.ready {
        println!("ready");
        let mut line = String::new();
        let read = tokio::task::spawn_blocking(move || std::io::stdin().read_line(&mut line)).await;
        // End of input (the script that started it is gone) is no signal to start.
        go = matches!(read, Ok(Ok(n)) if n > 0);
    }
    start.cancelled.store(!go, Ordering::SeqCst);
    start.go.wait().await;
    let began = Instant::now();
    let mut all = Tally::default();
    for task in tasks {
        let tally = task.await.map_err(|e| e.to_string())??;
        all.latencies.extend(tally.latencies);
        all.non2xx += tally.non2xx;
        all.errors += tally.errors;
    }
    if !go {
        return Err("not started: a connection failed to get ready, or stdin closed".into());
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
