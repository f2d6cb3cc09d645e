//! Request bodies that a handler answered without reading.
//!
//! A 401 or 403 on `POST /api/memos` is decided from the headers alone, so
//! the JSON body is dropped unread. hyper then reads once more and, if the
//! rest of the body has not arrived yet, closes the connection after the
//! answer, without `Connection: close`: the client's next request on that
//! keep-alive connection fails (a broken pipe). So the body is handed back
//! here when dropped, read to its end (up to the body limit, within
//! [`DRAIN_TIMEOUT`]) before the answer goes out, as nginx discards a body
//! it does not need; when that cannot be done, the answer says
//! `Connection: close`, so the client knows not to reuse the connection.
//!
//! Such a connection (over the limit, a 413 from its `Content-Length`, or too
//! slow) is not closed the moment its answer is written: the client may
//! still be sending the body (Python's `http.client` and
//! `requests` send all of it before reading the answer), and a socket closed
//! with bytes unread makes the kernel send a reset, which the client sees as
//! a broken pipe instead of the 413. So the socket is read out first
//! ([`linger`]), as nginx's lingering close does.

use std::{
    pin::Pin,
    sync::{Arc, Mutex, PoisonError},
    task::{Context, Poll},
    time::Duration,
};

use axum::{
    body::{Body, Bytes},
    http::{HeaderValue, header},
    response::Response,
};
use http_body::{Body as _, Frame, SizeHint};
use hyper::body::Incoming;
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::TcpStream,
};

use crate::error::BODY_LIMIT_BYTES;

/// How long the rest of an unread body may take to arrive.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a connection closed on an unread body is read out at most
/// (nginx's `lingering_time`).
const LINGER_TIME: Duration = Duration::from_secs(30);

/// How long that reading waits for a byte before it gives up (nginx's
/// `lingering_timeout`).
const LINGER_IDLE: Duration = Duration::from_secs(5);

/// Where a request's body is, for [`Leftover::settle`].
enum State {
    /// With the handler (or read to its end).
    Elsewhere,
    /// Dropped before its end.
    Unread(Incoming),
}

/// The request side's view of a [`TrackedBody`].
pub struct Leftover(Arc<Mutex<State>>);

/// A request body that hands itself back to its [`Leftover`] when it is
/// dropped before its end.
pub struct TrackedBody {
    body: Option<Incoming>,
    ended: bool,
    leftover: Arc<Mutex<State>>,
}

/// The request body for the router, and its [`Leftover`] when there is a
/// body to track (a request without one, most GETs, costs nothing here).
pub fn track(body: Incoming) -> (Body, Option<Leftover>) {
    if body.is_end_stream() {
        return (Body::new(body), None);
    }
    let state = Arc::new(Mutex::new(State::Elsewhere));
    let tracked = TrackedBody {
        body: Some(body),
        ended: false,
        leftover: state.clone(),
    };
    (Body::new(tracked), Some(Leftover(state)))
}

impl http_body::Body for TrackedBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let Some(body) = self.body.as_mut() else {
            return Poll::Ready(None);
        };
        let polled = Pin::new(body).poll_frame(cx);
        if matches!(polled, Poll::Ready(None)) {
            self.ended = true;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.as_ref().is_none_or(Incoming::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.body
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), Incoming::size_hint)
    }
}

impl Drop for TrackedBody {
    fn drop(&mut self) {
        if let Some(body) = self.body.take()
            && !self.ended
            && !body.is_end_stream()
        {
            *self.leftover.lock().unwrap_or_else(PoisonError::into_inner) = State::Unread(body);
        }
    }
}

impl Leftover {
    /// Reads what the handler left of the body, so the connection can take
    /// the next request; or marks `response` `Connection: close` and says
    /// so (`true`): the body is still coming, for [`linger`] to read out.
    pub async fn settle(self, mut response: Response) -> (Response, bool) {
        let state = std::mem::replace(
            &mut *self.0.lock().unwrap_or_else(PoisonError::into_inner),
            State::Elsewhere,
        );
        let State::Unread(body) = state else {
            return (response, false);
        };
        let drained = tokio::time::timeout(DRAIN_TIMEOUT, drain(body)).await;
        let closes = !matches!(drained, Ok(true));
        if closes {
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        (response, closes)
    }
}

/// Reads and drops what the client still sends on a connection whose answer
/// closed it on an unread body, until the client closes its side, stops
/// sending for [`LINGER_IDLE`], or [`LINGER_TIME`] has passed; then the
/// socket closes without a reset that would destroy the answer.
pub async fn linger(mut socket: TcpStream) {
    // hyper has shut the writing side already (the answer is out, then a
    // FIN); again here costs nothing and makes sure of it.
    let _ = socket.shutdown().await;
    let mut sink = vec![0u8; 16 * 1024];
    let read_out = async {
        while let Ok(Ok(1..)) = tokio::time::timeout(LINGER_IDLE, socket.read(&mut sink)).await {}
    };
    let _ = tokio::time::timeout(LINGER_TIME, read_out).await;
}

/// Reads `body` to its end; false when it is larger than the body limit
/// (not worth reading: the connection closes instead) or fails.
async fn drain(mut body: Incoming) -> bool {
    if body
        .size_hint()
        .upper()
        .is_some_and(|upper| upper > BODY_LIMIT_BYTES as u64)
    {
        return false;
    }
    let mut read = 0usize;
    loop {
        match std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
            None => return true,
            Some(Ok(frame)) => {
                read += frame.data_ref().map_or(0, Bytes::len);
                if read > BODY_LIMIT_BYTES {
                    return false;
                }
            }
            Some(Err(_)) => return false,
        }
    }
}
