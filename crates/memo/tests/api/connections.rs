//! Connections that never finish their headers, or sit idle after an
//! answer, are closed by the header read and keep-alive timeouts; while
//! 1,100 of them are held by a memo started with a soft file limit of 1,024,
//! a normal request still gets its answer in under a second, and the memory
//! they held is given back.

use std::time::{Duration, Instant};

use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::TcpStream,
};

use crate::support::process::MemoProcess;

const HEADER_TIMEOUT: Duration = Duration::from_secs(3);
const KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(4);
const SLOW: usize = 550;
const IDLE: usize = 550;
/// Each slow connection sends this much of a header block and stops.
const PARTIAL_HEADER_BYTES: usize = 32 * 1024;
const HEALTH: &[u8] = b"GET /api/health HTTP/1.1\r\nHost: memo\r\n\r\n";

/// This test process holds 1,100 sockets itself.
fn raise_own_file_limit() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    limit.current = limit.maximum;
    let _ = setrlimit(Resource::Nofile, limit);
    let now = getrlimit(Resource::Nofile).current;
    assert!(
        now.is_none_or(|n| n > 2_500),
        "this test needs a hard open-file limit above 2,500 (have {now:?})"
    );
}

async fn slow(address: &str) -> TcpStream {
    let mut stream = TcpStream::connect(address).await.expect("connect");
    let head = format!(
        "GET /api/health HTTP/1.1\r\nHost: memo\r\nX-Padding: {}",
        "p".repeat(PARTIAL_HEADER_BYTES)
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    stream
}

async fn idle(address: &str) -> TcpStream {
    let mut stream = TcpStream::connect(address).await.expect("connect");
    stream.write_all(HEALTH).await.expect("write");
    let mut answer = [0u8; 4096];
    let read = stream.read(&mut answer).await.expect("an answer");
    assert!(
        answer[..read].starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&answer[..read])
    );
    stream
}

/// Waits until the server closes `stream` (EOF or reset); how long it took.
async fn closed_after(mut stream: TcpStream, limit: Duration) -> Duration {
    let start = Instant::now();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(limit, stream.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return start.elapsed(),
            Ok(Ok(_)) => {}
            Err(_) => panic!("still open after {limit:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_idle_connections_are_timed_out_and_cannot_starve_a_normal_request() {
    raise_own_file_limit();
    let dir = tempfile::tempdir().expect("a temporary folder");
    let server = MemoProcess::start(
        MemoProcess::command_with_file_limit(dir.path(), 1024)
            .env("JWT_SECRET_KEY", "connections-test-secret-0123456789abcdef")
            .env(
                "MEMO_HEADER_READ_TIMEOUT",
                HEADER_TIMEOUT.as_secs().to_string(),
            )
            .env(
                "MEMO_KEEP_ALIVE_TIMEOUT",
                KEEP_ALIVE_TIMEOUT.as_secs().to_string(),
            )
            .env("RUST_LOG", "error")
            .stderr(std::process::Stdio::null()),
    );
    let address = server.address.trim_start_matches("http://").to_owned();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("a client");
    for _ in 0..20 {
        let warm = client
            .get(server.url("/api/health"))
            .send()
            .await
            .expect("answer");
        assert_eq!(warm.status(), reqwest::StatusCode::OK);
    }
    let baseline = server.rss_kib();

    let started = Instant::now();
    let mut held = Vec::with_capacity(SLOW + IDLE);
    for _ in 0..SLOW {
        held.push(slow(&address).await);
    }
    for _ in 0..IDLE {
        held.push(idle(&address).await);
    }
    let holding = server.rss_kib();

    let asked = Instant::now();
    let normal = client
        .get(server.url("/api/health"))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .expect("a normal request is answered while 1,100 connections are held");
    let waited = asked.elapsed();
    assert_eq!(normal.status(), reqwest::StatusCode::OK);
    assert!(waited < Duration::from_secs(1), "answered in {waited:?}");
    assert!(
        started.elapsed() < HEADER_TIMEOUT,
        "the connections were still all held when the request was made"
    );

    let limit = KEEP_ALIVE_TIMEOUT + Duration::from_secs(10);
    let waits =
        futures_util::future::join_all(held.into_iter().map(|s| closed_after(s, limit))).await;
    let (slow_waits, idle_waits) = waits.split_at(SLOW);
    let shortest = |waits: &[Duration]| waits.iter().min().copied().unwrap_or_default();
    // Closed by the timeouts, not before: the slow ones about HEADER_TIMEOUT
    // after they connected, the idle ones KEEP_ALIVE_TIMEOUT after their answer.
    let opened = asked.duration_since(started);
    assert!(shortest(slow_waits) + opened >= HEADER_TIMEOUT - Duration::from_millis(500));
    assert!(shortest(idle_waits) + opened >= KEEP_ALIVE_TIMEOUT - Duration::from_secs(3));

    // The memory the partial headers held (~17 MiB) is given back.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut after = server.rss_kib();
    while after > baseline + 6 * 1024 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        after = server.rss_kib();
    }
    eprintln!("RSS: baseline {baseline} KiB, holding {holding} KiB, after {after} KiB");
    assert!(
        after <= baseline + 6 * 1024,
        "RSS {after} KiB after the connections closed; baseline {baseline} KiB (holding {holding} KiB)"
    );
    let again = client
        .get(server.url("/api/health"))
        .send()
        .await
        .expect("answer");
    assert_eq!(again.status(), reqwest::StatusCode::OK);
}

/// Reads one answer (headers and a `Content-Length` body) from `stream`:
/// its head, lowercased.
async fn read_answer(stream: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&got[..end]).to_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if got.len() >= end + 4 + length {
                return head;
            }
        }
        let read = tokio::time::timeout(Duration::from_secs(15), stream.read(&mut buf))
            .await
            .expect("an answer within 15 s")
            .expect("the connection is still open");
        assert!(read > 0, "closed after {} answer bytes", got.len());
        got.extend_from_slice(&buf[..read]);
    }
}

/// A 401 is decided before the body is read; the connection must still
/// take the next request, even when the body arrives after the headers (a
/// slow link): hyper alone closed such a connection without saying so, and
/// the client's next request failed with a broken pipe.
#[tokio::test]
async fn a_post_refused_before_its_body_arrived_keeps_its_keep_alive_connection() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let server = quiet(dir.path());
    let address = server.address.trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(&address).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let body = br#"{"title":"late","content":"a body that comes after its headers"}"#;
    let head = format!(
        "POST /api/memos HTTP/1.1\r\nHost: memo\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    for round in 0..10 {
        stream.write_all(head.as_bytes()).await.expect("headers");
        // The scenario itself, not a wait for the server: the body is sent
        // after the server could have answered from the headers.
        tokio::time::sleep(Duration::from_millis(30)).await;
        stream.write_all(body).await.expect("body");
        let answer = read_answer(&mut stream).await;
        assert!(
            answer.starts_with("http/1.1 401"),
            "round {round}: {answer}"
        );
        assert!(
            !answer.contains("connection: close"),
            "round {round}: {answer}"
        );
    }

    // A body over the limit is refused from its Content-Length (413, before
    // the token is looked at) and not worth reading: the answer says the
    // connection closes, so the client does not reuse it.
    let (_stream, answer) = refused_by_its_length(&address).await;
    assert!(answer.starts_with("http/1.1 413"), "{answer}");
    assert!(answer.contains("connection: close"), "{answer}");
}

/// A client that sends all of a body over the limit before it reads the
/// answer (Python's `http.client` and `requests` do) gets the 413 and its
/// message. memo used to close the connection with the body's bytes unread,
/// so the kernel reset it, and such a client got a broken pipe instead in
/// about half of its tries; now the body is read out after the answer.
#[tokio::test]
async fn a_client_that_sends_all_of_a_body_over_the_limit_before_reading_gets_the_413() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let server = quiet(dir.path());
    let address = server.address.trim_start_matches("http://").to_owned();
    let body = format!(
        r#"{{"user_name":"big","password":"{}"}}"#,
        "p".repeat(520 * 1024)
    );
    let head = format!(
        "POST /api/auth/register HTTP/1.1\r\nHost: memo\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    for round in 0..20 {
        let mut stream = TcpStream::connect(&address).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        // As Python's http.client sends them: the head, then the body.
        for part in [&head, &body] {
            if let Err(err) = stream.write_all(part.as_bytes()).await {
                panic!("round {round}: sending the request: {err}");
            }
        }
        let mut answer = Vec::new();
        // memo shuts its side right after the answer: the end comes at once,
        // not after the 5 s a lingering connection waits for a byte.
        let read = tokio::time::timeout(Duration::from_secs(4), stream.read_to_end(&mut answer))
            .await
            .expect("the answer and the end of the connection within 4 s");
        if let Err(err) = read {
            panic!("round {round}: reading the answer: {err}");
        }
        let answer = String::from_utf8_lossy(&answer);
        assert!(
            answer.starts_with("HTTP/1.1 413"),
            "round {round}: {answer}"
        );
        assert!(
            answer.ends_with(r#"{"msg":"Request body is too large (the limit is 512 KiB)"}"#),
            "round {round}: {answer}"
        );
    }
}

/// A connection read out after its answer (it waits up to 5 s for each
/// byte) does not hold up a server told to stop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_does_not_wait_for_a_connection_being_read_out() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let mut server = quiet(dir.path());
    let address = server.address.trim_start_matches("http://").to_owned();
    let (stream, answer) = refused_by_its_length(&address).await;
    assert!(answer.starts_with("http/1.1 413"), "{answer}");
    let asked = Instant::now();
    server.terminate();
    let status = tokio::task::spawn_blocking(move || server.wait())
        .await
        .expect("the wait");
    assert!(status.success(), "{status}");
    assert!(
        asked.elapsed() < Duration::from_secs(4),
        "stopped {:?} after SIGTERM, with a connection being read out",
        asked.elapsed()
    );
    drop(stream);
}

/// Sends the head of a `POST /api/memos` whose `Content-Length` (2,000,000)
/// is over the limit, and none of its body: the connection and the head of
/// memo's answer, lowercased.
async fn refused_by_its_length(address: &str) -> (TcpStream, String) {
    let mut stream = TcpStream::connect(address).await.expect("connect");
    stream
        .write_all(
            b"POST /api/memos HTTP/1.1\r\nHost: memo\r\nContent-Type: application/json\r\nContent-Length: 2000000\r\n\r\n",
        )
        .await
        .expect("headers");
    let answer = read_answer(&mut stream).await;
    (stream, answer)
}

/// memo with its default limits, logging errors only, to nowhere.
fn quiet(dir: &std::path::Path) -> MemoProcess {
    MemoProcess::start(
        MemoProcess::command(dir)
            .env("JWT_SECRET_KEY", "connections-test-secret-0123456789abcdef")
            .env("RUST_LOG", "error")
            .stderr(std::process::Stdio::null()),
    )
}

/// memo with a 2 s header timeout and an 8 s keep-alive timeout.
fn short_timeouts(dir: &std::path::Path) -> MemoProcess {
    MemoProcess::start(
        MemoProcess::command(dir)
            .env("JWT_SECRET_KEY", "connections-test-secret-0123456789abcdef")
            .env("MEMO_HEADER_READ_TIMEOUT", "2")
            .env("MEMO_KEEP_ALIVE_TIMEOUT", "8")
            .env("RUST_LOG", "error")
            .stderr(std::process::Stdio::null()),
    )
}

/// A keep-alive connection that starts its next request and stalls is held
/// to the header timeout from its first byte, not to the keep-alive timeout
/// it was under while idle (the connection's one timer is armed for the
/// shorter of the two and looks again when it fires).
#[tokio::test]
async fn a_request_started_on_an_idle_connection_gets_the_header_timeout() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let server = short_timeouts(dir.path());
    let address = server.address.trim_start_matches("http://").to_owned();
    let mut stream = idle(&address).await;
    // Idle past the header timeout (the connection's timer fires while it
    // is idle and is armed again), then half a header block.
    tokio::time::sleep(Duration::from_secs(3)).await;
    stream
        .write_all(b"GET /api/health HTTP/1.1\r\nHost: me")
        .await
        .expect("write");
    let waited = closed_after(stream, Duration::from_secs(10)).await;
    assert!(
        waited >= Duration::from_millis(1_500) && waited < Duration::from_millis(3_500),
        "closed {waited:?} after the request's first bytes (header timeout 2 s, keep-alive 8 s)"
    );
}

/// A connection in use is never closed by a timeout, however long it lives:
/// one request a second for longer than both timeouts, all on one socket.
#[tokio::test]
async fn a_connection_in_steady_use_outlives_both_timeouts() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let server = short_timeouts(dir.path());
    let address = server.address.trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(&address).await.expect("connect");
    let started = Instant::now();
    let mut answered = 0;
    while started.elapsed() < Duration::from_secs(10) {
        stream
            .write_all(HEALTH)
            .await
            .expect("the connection is open");
        let head = read_answer(&mut stream).await;
        assert!(head.starts_with("http/1.1 200"), "{head}");
        answered += 1;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    assert!(answered >= 9, "{answered} answers");
}
