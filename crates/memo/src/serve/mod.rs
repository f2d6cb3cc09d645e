//! Serving connections with the limits of a server that faces the internet,
//! which `axum::serve` does not have (a half-sent header block or an idle
//! keep-alive connection used to stay open for good, until the file limit
//! stopped `accept`):
//!
//! - **header read timeout** (default 60 s, nginx's `client_header_timeout`):
//!   from a new connection, or a request's first byte, to its last header;
//! - **keep-alive timeout** (default 75 s, nginx's `keepalive_timeout`): how
//!   long a connection may sit idle between requests;
//! - **at most `max_connections` open connections**: one more is closed at
//!   once after `accept` (cheap, and it keeps the backlog moving) and logged;
//! - a **64 KiB cap on the read buffer**, so a header block cannot hold more
//!   (hyper's default is 400 KB per connection); larger headers get 431.
//!
//! - a request body its handler left unread is read to its end before the
//!   answer (see `serve/unread_body.rs`), so the keep-alive connection survives a
//!   401 on a POST; one that cannot be (over the limit, as with a 413, or
//!   too slow) is read out after the answer, before the connection closes,
//!   so the client gets the answer rather than a reset.
//!
//! A timed-out connection is simply closed: no request was in flight.
//! [`raise_file_limit`] lifts the soft `RLIMIT_NOFILE` to the hard limit at
//! start, so the connection bound, not the file limit, is what refuses.

use std::{
    convert::Infallible,
    future::Future,
    net::SocketAddr,
    pin::Pin,
    sync::{Arc, Mutex, PoisonError},
    task::{Context, Poll},
    time::Duration,
};

use axum::{body::Body, extract::ConnectInfo};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::{Semaphore, watch},
    time::Instant,
};
use tower::ServiceExt as _;

use crate::http::HttpApp;

mod unread_body;

/// Default of `MEMO_HEADER_READ_TIMEOUT`, in seconds (nginx's).
pub const DEFAULT_HEADER_READ_TIMEOUT_SECONDS: u64 = 60;
/// Default of `MEMO_KEEP_ALIVE_TIMEOUT`, in seconds (nginx's).
pub const DEFAULT_KEEP_ALIVE_TIMEOUT_SECONDS: u64 = 75;
/// Default of `MEMO_MAX_CONNECTIONS`.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;
/// File descriptors kept for everything but client connections (database
/// pools, Redis, log, the SPA files in debug builds).
pub const RESERVED_FILES: u64 = 128;
/// The largest read buffer of a connection, so the largest header block.
const MAX_READ_BUFFER: usize = 64 * 1024;

/// The connection limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// From a connection or a request's first byte to its last header.
    pub header_read_timeout: Duration,
    /// How long a connection may be idle between requests.
    pub keep_alive_timeout: Duration,
    /// Connections open at once.
    pub max_connections: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(DEFAULT_HEADER_READ_TIMEOUT_SECONDS),
            keep_alive_timeout: Duration::from_secs(DEFAULT_KEEP_ALIVE_TIMEOUT_SECONDS),
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

impl ConnectionLimits {
    /// These limits with `max_connections` lowered to what the open-file
    /// limit allows (it minus [`RESERVED_FILES`]), with a warning when it had
    /// to be lowered.
    #[must_use]
    pub fn within_file_limit(mut self) -> Self {
        let Some(files) = file_limit() else {
            return self;
        };
        let room = usize::try_from(files.saturating_sub(RESERVED_FILES)).unwrap_or(usize::MAX);
        if self.max_connections > room {
            tracing::warn!(
                max_connections = self.max_connections,
                file_limit = files,
                "the open-file limit allows only {room} connections; raise the hard limit (ulimit -Hn) to serve more"
            );
            self.max_connections = room.max(1);
        }
        self
    }
}

/// Raises the soft open-file limit to the hard one (a service often starts
/// with 1,024, fewer than the connections it is meant to hold). Returns the
/// soft limit now in force.
pub fn raise_file_limit() -> Option<u64> {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        limit.current = limit.maximum;
        if let Err(err) = setrlimit(Resource::Nofile, limit) {
            tracing::warn!(error = %err, "could not raise the open-file limit to the hard limit");
        }
    }
    file_limit()
}

/// The soft open-file limit, `None` when unlimited.
fn file_limit() -> Option<u64> {
    rustix::process::getrlimit(rustix::process::Resource::Nofile).current
}

/// Serves `router` on `listener` until `signal` completes, then stops
/// accepting, lets the requests in flight finish and closes the idle
/// connections.
///
/// # Errors
/// None so far: accept errors (e.g. out of file descriptors) are logged and
/// retried; kept as `io::Result` for the callers.
pub async fn serve(
    listener: TcpListener,
    router: HttpApp,
    limits: ConnectionLimits,
    signal: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let janitor = tokio::spawn(release_memory_after_bursts(
        permits.clone(),
        limits.max_connections,
    ));
    let (stop, stopping) = watch::channel(false);
    let mut last_refusal_logged: Option<Instant> = None;
    tokio::pin!(signal);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    accept_failed(&err).await;
                    continue;
                }
            },
            () = &mut signal => break,
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            drop(stream);
            if last_refusal_logged.is_none_or(|at| at.elapsed() >= Duration::from_secs(1)) {
                last_refusal_logged = Some(Instant::now());
                tracing::warn!(
                    max_connections = limits.max_connections,
                    "connection refused: too many open connections (MEMO_MAX_CONNECTIONS)"
                );
            }
            continue;
        };
        let (router, stopping) = (router.clone(), stopping.clone());
        tokio::spawn(async move {
            connection(stream, peer, router, limits, stopping).await;
            drop(permit);
        });
    }
    drop(listener);
    janitor.abort();
    drop(stopping);
    stop.send_replace(true);
    // Every connection holds a receiver: this returns once all have ended.
    stop.closed().await;
    Ok(())
}

/// Connections closed since the last look beyond which freed memory is
/// handed back to the system.
const RELEASE_AFTER_CLOSED: usize = 256;

/// After a burst of connections has closed (a flood of slow clients timed
/// out, say), hands the memory their buffers held back to the system:
/// jemalloc keeps freed pages for reuse and returns them only gradually
/// (and only while the process keeps allocating), so without this an idle
/// process would stay near its peak size for seconds to minutes. Released
/// once more when the burst's last connections have closed (the count held
/// still for a tick), so that those closed after the first release, fewer
/// than [`RELEASE_AFTER_CLOSED`], do not keep their memory either.
async fn release_memory_after_bursts(permits: Arc<Semaphore>, max: usize) {
    let mut every = tokio::time::interval(Duration::from_secs(2));
    let (mut peak, mut last, mut after_burst) = (0, 0, false);
    loop {
        every.tick().await;
        let open = max.saturating_sub(permits.available_permits());
        peak = peak.max(open);
        if peak - open >= RELEASE_AFTER_CLOSED {
            release_freed_memory();
            (peak, after_burst) = (open, true);
        } else if after_burst && open == last {
            release_freed_memory();
            after_burst = false;
        }
        last = open;
    }
}

/// jemalloc's `arena.<all>.purge`: returns the unused pages of every arena.
#[cfg(not(target_env = "msvc"))]
#[allow(unsafe_code)]
fn release_freed_memory() {
    // 4096 is jemalloc's MALLCTL_ARENAS_ALL.
    const PURGE_ALL_ARENAS: &std::ffi::CStr = c"arena.4096.purge";
    // SAFETY: this mallctl reads and writes nothing (null old and new
    // values, as its documentation requires), and any thread may call it.
    let _ = unsafe {
        tikv_jemalloc_sys::mallctl(
            PURGE_ALL_ARENAS.as_ptr(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
        )
    };
}

/// The system allocator on MSVC gives memory back by itself.
#[cfg(target_env = "msvc")]
fn release_freed_memory() {}

/// Out of file descriptors (or another accept error): the pending
/// connection stays in the backlog, so wait a little instead of spinning.
async fn accept_failed(err: &std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        err.kind(),
        ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::ConnectionRefused
    ) {
        return;
    }
    tracing::error!(error = %err, "accept failed");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// One connection: HTTP/1.1 through hyper, closed when a timeout of
/// [`Activity`] passes or, at shutdown, once its request is answered.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: HttpApp,
    limits: ConnectionLimits,
    mut stopping: watch::Receiver<bool>,
) {
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched {
        stream: Some(stream),
        activity: activity.clone(),
    });
    let service = hyper::service::service_fn({
        let activity = activity.clone();
        move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            let in_flight = InFlight::begin(&activity);
            let (parts, body) = request.into_parts();
            let (body, leftover) = unread_body::track(body);
            let leftover = leftover.map(|leftover| (leftover, activity.clone()));
            let request = hyper::Request::from_parts(parts, body);
            let response = router.clone().oneshot(request);
            async move {
                let mut response = response.await?;
                if let Some((leftover, activity)) = leftover {
                    let (settled, closes) = leftover.settle(response).await;
                    if closes {
                        activity.linger_at_close();
                    }
                    response = settled;
                }
                Ok::<_, Infallible>(response.map(|body| {
                    Body::new(Answered {
                        body,
                        _in_flight: in_flight,
                    })
                }))
            }
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.max_buf_size(MAX_READ_BUFFER);
    // In a block of its own, so that hyper's connection, and the socket
    // with it, is dropped before the socket is read out below.
    {
        let conn = builder.serve_connection(io, service);
        tokio::pin!(conn);
        // One timer per connection, re-armed only when it fires: never later
        // than the connection's deadline (see `next_check`), so a request costs
        // no timer or wake-up of its own.
        let timer = tokio::time::sleep(limits.header_read_timeout);
        tokio::pin!(timer);
        let mut shutting_down = false;
        loop {
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(err) = result {
                        tracing::debug!(error = %err, "connection ended with an error");
                    }
                    break;
                }
                () = timer.as_mut() => {
                    let now = Instant::now();
                    match activity.deadline(&limits) {
                        Some(deadline) if deadline <= now => {
                            tracing::debug!(%peer, "connection timed out");
                            return;
                        }
                        deadline => timer.as_mut().reset(next_check(now, deadline, &limits)),
                    }
                }
                _ = stopping.changed(), if !shutting_down => {
                    shutting_down = true;
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
    // Not while the server stops: that waits for every connection.
    if let Some(socket) = activity.lingering_socket()
        && !*stopping.borrow()
    {
        tokio::select! {
            () = unread_body::linger(socket) => {}
            _ = stopping.changed() => {}
        }
    }
}

/// When the timer, firing at `now`, looks again: at the deadline, but no
/// later than the shorter timeout from now. A deadline that appears later
/// (a request's first bytes on an idle connection: `since` + the header
/// timeout, `since` >= `now`) is then never before the timer, so nothing has
/// to re-arm it when the connection's phase changes.
fn next_check(now: Instant, deadline: Option<Instant>, limits: &ConnectionLimits) -> Instant {
    let soonest = now + limits.header_read_timeout.min(limits.keep_alive_timeout);
    deadline.map_or(soonest, |deadline| deadline.min(soonest))
}

/// Where a connection is in its life, for its timeouts.
#[derive(Debug)]
enum Phase {
    /// Waiting for a request's headers since `since`: a fresh connection or
    /// a request's first bytes (`idle == false`), or an idle keep-alive
    /// connection (`idle == true`).
    Waiting { since: Instant, idle: bool },
    /// This many requests are being answered (no timeout applies).
    Busy(usize),
}

/// The connection's phase, written by its reads and requests, read by its
/// timer when it fires.
#[derive(Debug)]
struct Activity {
    phase: Mutex<Phase>,
    linger: Mutex<Linger>,
}

/// Whether the socket is read out once hyper has closed the connection
/// (`unread_body::linger`), and the socket, handed back when hyper drops it.
#[derive(Debug)]
enum Linger {
    No,
    Wanted,
    Socket(TcpStream),
}

impl Activity {
    fn new() -> Self {
        Self {
            phase: Mutex::new(Phase::Waiting {
                since: Instant::now(),
                idle: false,
            }),
            linger: Mutex::new(Linger::No),
        }
    }

    /// An answer closes the connection while its request's body is still
    /// coming.
    fn linger_at_close(&self) {
        *self.linger.lock().unwrap_or_else(PoisonError::into_inner) = Linger::Wanted;
    }

    /// hyper is done with `socket`: kept if it is to be read out.
    fn hand_back(&self, socket: TcpStream) {
        let mut linger = self.linger.lock().unwrap_or_else(PoisonError::into_inner);
        if matches!(*linger, Linger::Wanted) {
            *linger = Linger::Socket(socket);
        }
    }

    /// The socket to read out, if an answer wanted it.
    fn lingering_socket(&self) -> Option<TcpStream> {
        let mut linger = self.linger.lock().unwrap_or_else(PoisonError::into_inner);
        match std::mem::replace(&mut *linger, Linger::No) {
            Linger::Socket(socket) => Some(socket),
            _ => None,
        }
    }

    fn update(&self, change: impl FnOnce(&mut Phase)) {
        change(&mut self.phase.lock().unwrap_or_else(PoisonError::into_inner));
    }

    /// Bytes arrived: an idle connection starts a request's headers.
    fn read(&self) {
        self.update(|phase| {
            if let Phase::Waiting { idle: true, .. } = phase {
                *phase = Phase::Waiting {
                    since: Instant::now(),
                    idle: false,
                };
            }
        });
    }

    fn deadline(&self, limits: &ConnectionLimits) -> Option<Instant> {
        match *self.phase.lock().unwrap_or_else(PoisonError::into_inner) {
            Phase::Waiting { since, idle: true } => Some(since + limits.keep_alive_timeout),
            Phase::Waiting { since, idle: false } => Some(since + limits.header_read_timeout),
            Phase::Busy(_) => None,
        }
    }
}

/// A request being answered; dropped with the response's body, once it is
/// written (or the connection is gone).
#[derive(Debug)]
struct InFlight(Arc<Activity>);

impl InFlight {
    fn begin(activity: &Arc<Activity>) -> Self {
        activity.update(|phase| {
            *phase = match *phase {
                Phase::Busy(n) => Phase::Busy(n + 1),
                Phase::Waiting { .. } => Phase::Busy(1),
            };
        });
        Self(activity.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.update(|phase| {
            *phase = match *phase {
                Phase::Busy(n) if n > 1 => Phase::Busy(n - 1),
                _ => Phase::Waiting {
                    since: Instant::now(),
                    idle: true,
                },
            };
        });
    }
}

/// A response body that ends its request's [`InFlight`] when dropped.
struct Answered {
    body: Body,
    _in_flight: InFlight,
}

impl http_body::Body for Answered {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// The socket, telling its [`Activity`] when bytes arrive, and handing
/// itself to it when dropped (for `unread_body::linger`).
struct Watched {
    /// Taken only by `drop`.
    stream: Option<TcpStream>,
    activity: Arc<Activity>,
}

impl Watched {
    fn socket(&mut self) -> std::io::Result<Pin<&mut TcpStream>> {
        self.stream
            .as_mut()
            .map(Pin::new)
            .ok_or_else(|| std::io::ErrorKind::NotConnected.into())
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        if let Some(socket) = self.stream.take() {
            self.activity.hand_back(socket);
        }
    }
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = self.socket()?.poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.read();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.socket()?.poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.socket()?.poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.socket()?.poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        self.socket()?.poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream
            .as_ref()
            .is_some_and(TcpStream::is_write_vectored)
    }
}
